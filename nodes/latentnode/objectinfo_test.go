package latentnode_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode"
	"github.com/gocomfy/gocomfy/pyjson"
)

// The golden files are ComfyUI v0.27.0's /object_info entries, as
// json.dumps writes them, rendered from ComfyUI's own class definitions.
func TestObjectInfoMatchesComfyUI(t *testing.T) {
	t.Parallel()
	r := node.NewRegistry()
	latentnode.Register(r)
	seen := map[string]bool{}
	for c := range r.All() {
		seen[c.ID+".json"] = true
		t.Run(c.ID, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "object_info", c.ID+".json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := pyjson.Marshal(c.ObjectInfo())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "object_info", "*.json"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s: no registered class", f)
		}
	}
}
