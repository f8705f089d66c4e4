package web

import (
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
// hash in its name, which is what makes them safe to cache.
func TestAssetsAreHashed(t *testing.T) {
	hashed := regexp.MustCompile(`^assets/[^/]+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$`)
	err := fs.WalkDir(FS(), "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !hashed.MatchString(p) {
			t.Errorf("%s has no content hash in its name", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
