package imagefile

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// The frontend uploads the snapshot to the temp folder's webcam subfolder
// and sends "webcam/<name>.png [temp]"; the node loads it as LoadImage would
// and gives only the image.
func TestWebcamCaptureLoadsSnapshot(t *testing.T) {
	folders, base := testFolders(t)
	src := rgbaImage()
	writePNG(t, filepath.Join(base, "temp"), "webcam/1.png", src)
	rt := &node.Runtime{Folders: folders}
	in := map[string]any{"image": "webcam/1.png [temp]", "width": int64(0), "height": int64(0), "capture_on_queue": true}
	res, err := run(t, webcamCapture, rt, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outputs) != 1 {
		t.Fatalf("%d outputs, want 1", len(res.Outputs))
	}
	want, _, err := load(t.Context(), node.NewCall(rt, "7", 0, nil), "webcam/1.png [temp]")
	if err != nil {
		t.Fatal(err)
	}
	img := res.Outputs[0].(*tensor.Image)
	if !slices.Equal(img.Shape(), want.Shape()) || !slices.Equal(img.Pix, want.Pix) {
		t.Errorf("image %v differs from LoadImage's %v", img.Shape(), want.Shape())
	}
	got, err := fingerprint(t, webcamCapture, rt, in)
	if err != nil {
		t.Fatal(err)
	}
	if lf, _ := fingerprint(t, loadImage, rt, in); got != lf {
		t.Errorf("fingerprint %v, LoadImage's %v", got, lf)
	}
	if err := validate(t, webcamCapture, rt, in); err != nil {
		t.Errorf("validate: %v", err)
	}
}

// A value that names no file, or names one outside the folders, fails as
// LoadImage's does: "Invalid image file" in validation, ValueError or
// FileNotFoundError when run.
func TestWebcamCaptureRefusesBadNames(t *testing.T) {
	folders, base := testFolders(t)
	writePNG(t, filepath.Dir(base), "x.png", rgbaImage())
	rt := &node.Runtime{Folders: folders}
	for _, name := range append(files.TraversalCorpus(), "missing.png [temp]") {
		in := map[string]any{"image": name}
		if err := validate(t, webcamCapture, rt, in); err == nil || !strings.HasPrefix(err.Error(), "Invalid image file: ") {
			t.Errorf("validate %q: %v", name, err)
		}
		_, err := run(t, webcamCapture, rt, in)
		if typ := node.ExceptionType(err); typ != "ValueError" && typ != "FileNotFoundError" {
			t.Errorf("run %q: %v (%s)", name, err, typ)
		}
	}
	if err := validate(t, webcamCapture, rt, map[string]any{"image": int64(3)}); errText(err) != "Invalid image file: 3" {
		t.Errorf("validate 3: %v", err)
	}
}
