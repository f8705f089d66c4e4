package gocomfy_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy"
)

// TestOwnTemplatesRun checks gocomfy's own workflow templates, served at
// /templates/ by default: the index lists each template of
// web/templates/sources.json with its workflow and thumbnail, and each
// template's API prompt runs to success on the built-in nodes.
func TestOwnTemplatesRun(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("web", "templates", "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sources struct {
		Templates []struct {
			Name   string         `json:"name"`
			Prompt map[string]any `json:"prompt"`
		} `json:"templates"`
	}
	if err := json.Unmarshal(b, &sources); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, gocomfy.Config{})

	var index []struct {
		Templates []struct {
			Name         string `json:"name"`
			MediaSubtype string `json:"mediaSubtype"`
		} `json:"templates"`
	}
	ts.getJSON("/templates/index.json", &index)
	var listed, want []string
	for _, c := range index {
		for _, tmpl := range c.Templates {
			listed = append(listed, tmpl.Name)
			for _, f := range []string{tmpl.Name + ".json", tmpl.Name + "-1." + tmpl.MediaSubtype} {
				if status, body := ts.do("GET", "/templates/"+f, nil); status != http.StatusOK || len(body) == 0 {
					t.Errorf("/templates/%s: %d, %d bytes", f, status, len(body))
				}
			}
		}
	}
	for _, s := range sources.Templates {
		want = append(want, s.Name)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("index.json lists %v; sources.json has %v (cd web && npm run templates)", listed, want)
	}

	ws := ts.connect("templates")
	for _, s := range sources.Templates {
		r := ts.run(ws, "templates", map[string]any{"prompt": s.Prompt})
		if r.errData != nil {
			t.Errorf("%s failed:\n%s", s.Name, r)
		}
	}
}

// TestFrontendAndTemplatesRoots checks --front-end-root and
// --templates-root: their files are served at / and /templates/, a
// symlink out of them is not followed, and a folder that does not exist
// stops the start, as it does ComfyUI's.
func TestFrontendAndTemplatesRoots(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	front, tmpl := filepath.Join(dir, "front"), filepath.Join(dir, "templates")
	for name, data := range map[string]string{
		"front/index.html":       "<html>official</html>",
		"front/assets/app.js":    "console.log(1)",
		"front/templates/a.jpg":  "\xff\xd8\xff",
		"templates/index.json":   `[]`,
		"templates/flow.json":    `{"nodes": []}`,
		"outside/secret.json":    `{"secret": true}`,
		"templates/sub/deep.txt": "deep",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	for _, link := range []string{filepath.Join(tmpl, "secret.json"), filepath.Join(front, "secret.json")} {
		if err := os.Symlink(filepath.Join(dir, "outside", "secret.json"), link); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServer(t, gocomfy.Config{FrontEndRoot: front, TemplatesRoot: tmpl})
	for path, want := range map[string]string{
		"/":                     "<html>official</html>",
		"/assets/app.js":        "console.log(1)",
		"/templates/index.json": `[]`,
		"/templates/flow.json":  `{"nodes": []}`,
		"/templates/a.jpg":      "\xff\xd8\xff", // the frontend's own
	} {
		if status, body := ts.do("GET", path, nil); status != http.StatusOK || string(body) != want {
			t.Errorf("GET %s: %d %q; want %q", path, status, body, want)
		}
	}
	for _, path := range []string{"/templates/secret.json", "/secret.json", "/templates/gocomfy_invert.json"} {
		if status, body := ts.do("GET", path, nil); status != http.StatusNotFound {
			t.Errorf("GET %s: %d %q; want 404", path, status, body)
		}
	}

	for _, cfg := range []gocomfy.Config{{FrontEndRoot: filepath.Join(dir, "missing")}, {TemplatesRoot: filepath.Join(dir, "missing")}} {
		cfg.BaseDir, cfg.Logger = t.TempDir(), slog.New(slog.DiscardHandler)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := gocomfy.New(cfg).Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "missing") {
			t.Errorf("%+v: Serve returned %v; want an error naming the folder", cfg, err)
		}
		ln.Close()
	}
}
