package imageio

import (
	"bytes"
	"image/png"
	"io"
	"testing"
)

// The benchmark image: 1024×1024 RGB, photo-like (smooth shapes, σ=2 noise).
func benchImage(b *testing.B) *RGB {
	b.Helper()
	return photoLike(1024, 1024)
}

// BenchmarkEncodePNG compares EncodePNG at SaveImage's and PreviewImage's
// levels with image/png's default and fastest levels; KiB is the file size.
func BenchmarkEncodePNG(b *testing.B) {
	img := benchImage(b)
	rgba := opaqueRGBA(img) // image/png writes an opaque *image.RGBA as RGB
	for _, bc := range []struct {
		name string
		enc  func(io.Writer) error
	}{
		{"imageio-level4", func(w io.Writer) error { return EncodePNG(w, img, LevelSave, nil) }},
		{"imageio-level1", func(w io.Writer) error { return EncodePNG(w, img, LevelPreview, nil) }},
		{"stdlib-default", func(w io.Writer) error { return png.Encode(w, rgba) }},
		{"stdlib-bestspeed", func(w io.Writer) error {
			return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, rgba)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := bc.enc(&buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/1024, "KiB")
		})
	}
}

// BenchmarkDecodePNG decodes the level-4 file, alone and through to
// LoadImage's tensors.
func BenchmarkDecodePNG(b *testing.B) {
	data := encodePNG(b, benchImage(b), LevelSave, nil)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(bytes.NewReader(data), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode+tensors", func(b *testing.B) {
		for b.Loop() {
			d, err := Decode(bytes.NewReader(data), Options{})
			if err != nil {
				b.Fatal(err)
			}
			d.Tensors()
		}
	})
}

// BenchmarkPreview encodes /view's previews at quality 90; KiB is the size.
// The WebP codec is started before timing.
func BenchmarkPreview(b *testing.B) {
	img := benchImage(b)
	for _, format := range []string{"webp", "jpeg"} {
		b.Run(format, func(b *testing.B) {
			p := ParsePreview(format+";90", "")
			var buf bytes.Buffer
			if _, err := EncodePreview(&buf, img, p); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				buf.Reset()
				if _, err := EncodePreview(&buf, img, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/1024, "KiB")
		})
	}
}
