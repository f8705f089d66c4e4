package web

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestIndexReferencesEmbeddedAssets checks that the committed build is
// whole: index.html exists and every asset it loads is embedded.
func TestIndexReferencesEmbeddedAssets(t *testing.T) {
	fsys := FS()
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		t.Fatalf("index.html: %v (build the page: cd web && npm ci && npm run build)", err)
	}
	refs := regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	var scripts, styles int
	for _, m := range refs {
		if _, err := fs.Stat(fsys, m[1]); err != nil {
			t.Errorf("index.html loads %s, which is not embedded: %v", m[1], err)
		}
		switch {
		case strings.HasSuffix(m[1], ".js"):
			scripts++
		case strings.HasSuffix(m[1], ".css"):
			styles++
		}
	}
	if scripts == 0 || styles == 0 {
		t.Errorf("index.html loads %d scripts and %d stylesheets; want at least one of each", scripts, styles)
	}
}

// TestAssetsAreHashed checks that every file under assets/ has a content
// hash in its name, which is what makes them safe to cache for good
// (Page.Immutable).
func TestAssetsAreHashed(t *testing.T) {
	page := FS().(Page)
	err := fs.WalkDir(page, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !page.Immutable(p) {
			t.Errorf("%s has no content hash in its name", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"assets/index-B36GcHVN.js":     true,
		"assets/index-B3_6-cHV.css":    true,
		"index.html":                   false,
		"assets/index.js":              false,
		"assets/index-B36GcHV.js":      false,
		"assets/sub/index-B36GcHVN.js": false,
		"favicon-B36GcHVN.png":         false,
	} {
		if got := page.Immutable(name); got != want {
			t.Errorf("Immutable(%q) = %v; want %v", name, got, want)
		}
	}
}

// TestTemplatesAreWhole checks the embedded templates: the index lists
// each template once, with its UI-format workflow and its thumbnail, and
// the folder holds nothing else.
func TestTemplatesAreWhole(t *testing.T) {
	fsys := Templates()
	b, err := fs.ReadFile(fsys, "index.json")
	if err != nil {
		t.Fatal(err)
	}
	var index []struct {
		ModuleName string `json:"moduleName"`
		Templates  []struct {
			Name         string `json:"name"`
			Title        string `json:"title"`
			MediaType    string `json:"mediaType"`
			MediaSubtype string `json:"mediaSubtype"`
		} `json:"templates"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	want := map[string]bool{"index.json": true, "index_logo.json": true}
	for _, c := range index {
		if c.ModuleName == "" || len(c.Templates) == 0 {
			t.Errorf("category %+v: want a moduleName and templates", c)
		}
		for _, tmpl := range c.Templates {
			if tmpl.Name == "" || tmpl.Title == "" || tmpl.MediaType != "image" || tmpl.MediaSubtype != "png" {
				t.Errorf("template %+v: want a name, a title and a PNG thumbnail", tmpl)
			}
			workflow, thumb := tmpl.Name+".json", tmpl.Name+"-1.png"
			if want[workflow] {
				t.Errorf("%s is listed twice", tmpl.Name)
			}
			want[workflow], want[thumb] = true, true
			var w struct {
				Nodes []struct {
					Type string `json:"type"`
				} `json:"nodes"`
			}
			if b, err := fs.ReadFile(fsys, workflow); err != nil || json.Unmarshal(b, &w) != nil || len(w.Nodes) == 0 {
				t.Errorf("%s: %v; want a UI-format workflow with nodes", workflow, err)
			}
			if b, err := fs.ReadFile(fsys, thumb); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("%s: %v; want a PNG", thumb, err)
			}
		}
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("%s is not in index.json", e.Name())
		}
	}
}
