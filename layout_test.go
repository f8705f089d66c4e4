package gocomfy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the dependency direction: the engine, the queue and
// the stores know nothing of HTTP, and node packs know nothing of the server.
func TestLayering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pkgs      []string
		forbidden []string
	}{
		{[]string{"./node/...", "./tensor", "./pyjson", "./internal/graph", "./internal/executor",
			"./internal/queue", "./internal/store/...", "./internal/files", "./internal/userdata"},
			[]string{"net/http", "github.com/gocomfy/gocomfy/internal/server"}},
		{[]string{"./nodes/..."}, []string{"github.com/gocomfy/gocomfy/internal/server", "github.com/gocomfy/gocomfy/internal/queue"}},
	}
	for _, c := range cases {
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, c.pkgs...)
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range c.forbidden {
				if dep == bad {
					t.Errorf("%v depends on %s", c.pkgs, bad)
				}
			}
		}
	}
}
