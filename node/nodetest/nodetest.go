// Package nodetest helps node authors test their classes against ComfyUI.
package nodetest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// ObjectInfo checks that every class of r renders, byte for byte, the
// /object_info entry in dir/<class ID>.json (as Python's json.dumps writes
// it; a trailing newline is ignored), and that every file in dir belongs to
// a class of r. The files are typically ComfyUI's own entries.
func ObjectInfo(t *testing.T, r *node.Registry, dir string) {
	t.Helper()
	seen := map[string]bool{}
	for c := range r.All() {
		seen[c.ID+".json"] = true
		t.Run(c.ID, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, c.ID+".json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := pyjson.Marshal(c.ObjectInfo())
			if err != nil {
				t.Fatal(err)
			}
			if want = bytes.TrimSuffix(want, []byte("\n")); !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s: no registered class", f)
		}
	}
}
