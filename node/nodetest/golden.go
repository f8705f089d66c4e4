package nodetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

// GoldenCase is one case of a golden file: inputs, and what ComfyUI's own
// node code returned for them or the error it raised. Values stay raw JSON:
// each pack's generator writes its tensors in its own way.
type GoldenCase struct {
	Name    string
	Tol     float64 // how far outputs may be from the golden ones
	Inputs  map[string]json.RawMessage
	Outputs []json.RawMessage
	UI      json.RawMessage
	Error   string // the exception ComfyUI raised, if any
}

// Goldens runs check, as subtest "<class ID>/<case name>", on every case of
// every golden file dir/<class ID>.json ({"cases": [...]}) with its class
// in r. A file that names no class of r, or a dir without files, fails t.
func Goldens(t *testing.T, r *node.Registry, dir string, check func(t *testing.T, class *node.Class, c GoldenCase)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s: %v", dir, err)
	}
	for _, file := range files {
		id := strings.TrimSuffix(filepath.Base(file), ".json")
		class, ok := r.Lookup(id)
		if !ok {
			t.Errorf("%s: no class", id)
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g struct{ Cases []GoldenCase }
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, c := range g.Cases {
			t.Run(id+"/"+c.Name, func(t *testing.T) { check(t, class, c) })
		}
	}
}
