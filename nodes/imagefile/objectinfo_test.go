package imagefile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// inputFiles is the input folder testdata/gen.py lists (its INPUT_FILES);
// names ending in "/" are folders.
var inputFiles = []string{"b.png", "A.JPG", "c.txt", "d.webp", "e.gif", ".hidden.png", ".png", "f.svg", "g.jpeg",
	"noext", "h.tar", "Z.bmp", "x.PnG", "y.avif", "w.mp4", "k.tiff", "\u00e9t\u00e9.png",
	"dir.png/", "sub/", "sub/in-sub.png"}

// The golden files are ComfyUI v0.27.0's /object_info entries, rendered
// from nodes.py's own classes with LoadImage listing a folder of
// inputFiles (testdata/gen.py), so they pin the file list too.
func TestObjectInfoMatchesComfyUI(t *testing.T) {
	folders, base := testFolders(t)
	for _, name := range inputFiles {
		p := filepath.Join(base, "input", filepath.FromSlash(name))
		var err error
		if strings.HasSuffix(name, "/") {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	SetFolders(folders)
	t.Cleanup(func() { serverFolders.Store(nil) })

	r := node.NewRegistry()
	Register(r)
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
			if !bytes.Equal(append(got, '\n'), want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
	golden, _ := filepath.Glob(filepath.Join("testdata", "object_info", "*.json"))
	for _, f := range golden {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s: no registered class", f)
		}
	}
}

// Without SetFolders the list is empty and the validator cannot check.
func TestWithoutFolders(t *testing.T) {
	if got := loadImage.Inputs()[0].Choices(); len(got) != 0 {
		t.Errorf("choices = %v", got)
	}
	if err := validate(t, loadImage, &node.Runtime{}, map[string]any{"image": "x.png"}); err != nil {
		t.Errorf("validate: %v", err)
	}
}

// A validation pass without folders in its runtime uses SetFolders'.
func TestValidatorUsesServerFolders(t *testing.T) {
	folders, base := testFolders(t)
	writePNG(t, filepath.Join(base, "input"), "x.png", rgbaImage())
	SetFolders(folders)
	t.Cleanup(func() { serverFolders.Store(nil) })
	if err := validate(t, loadImage, &node.Runtime{}, map[string]any{"image": "x.png"}); err != nil {
		t.Errorf("x.png: %v", err)
	}
	if err := validate(t, loadImage, &node.Runtime{}, map[string]any{"image": "y.png"}); errText(err) != "Invalid image file: y.png" {
		t.Errorf("y.png: %v", err)
	}
}
