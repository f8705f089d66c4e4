package imageio

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// addTestdata adds every image file under testdata as a seed.
func addTestdata(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, err := filepath.Glob(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

func FuzzDecode(f *testing.F) {
	addTestdata(f, "*.png", "*.webp", "gif/*.gif")
	f.Add(withAPP1(quadrantJPEG(f), exifBlock(binary.LittleEndian, 6)))
	opt := Options{MaxPixels: 1 << 20, MaxTotalPixels: 1 << 22}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(bytes.NewReader(data), opt)
		if err != nil {
			return
		}
		if len(d.Frames) == 0 {
			t.Fatal("no frames and no error")
		}
		img, mask := d.Tensors()
		if img.C != 3 || img.B != mask.B || img.B > len(d.Frames) {
			t.Fatalf("shapes %v %v for %d frames", img.Shape(), mask.Shape(), len(d.Frames))
		}
		first := d.Frames[0]
		if first.Bounds().Empty() {
			return
		}
		var buf bytes.Buffer
		if err := EncodePNG(&buf, first, LevelPreview, nil); err != nil {
			t.Fatal(err)
		}
		back, err := png.Decode(&buf)
		if err != nil || back.Bounds().Size() != first.Bounds().Size() {
			t.Fatalf("re-encoded frame: %v", err)
		}
	})
}

func FuzzReadPNGText(f *testing.F) {
	addTestdata(f, "*.png")
	f.Fuzz(func(t *testing.T, data []byte) {
		chunks, _ := ReadPNGText(bytes.NewReader(data))
		for _, c := range chunks {
			if !utf8.ValidString(c.Key) || !utf8.ValidString(c.Value) {
				t.Fatalf("invalid UTF-8 in %q", c)
			}
		}
	})
}
