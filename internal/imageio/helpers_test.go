package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// photoLike returns a deterministic w×h image that compresses like a photo:
// smooth gradients and blobs plus a little noise.
func photoLike(w, h int) *RGB {
	m := NewRGB(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			base := [3]float64{
				120 + 90*math.Sin(3*fx+2*fy),
				110 + 80*math.Cos(5*fy-fx)*math.Sin(2*fx),
				100 + 70*math.Sin(7*fx*fy+1),
			}
			for c := range 3 {
				v := base[c] + rng.NormFloat64()*2
				m.Pix[m.PixOffset(x, y)+c] = uint8(max(0, min(255, v)))
			}
		}
	}
	return m
}

// withAlpha returns m as NRGBA with a varying alpha.
func withAlpha(m *RGB) *image.NRGBA {
	b := m.Bounds()
	n := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			i, j := m.PixOffset(x, y), n.PixOffset(x, y)
			copy(n.Pix[j:j+3], m.Pix[i:i+3])
			n.Pix[j+3] = uint8(x*7 + y*3)
		}
	}
	return n
}

// encodePNG runs EncodePNG and fails the test on error.
func encodePNG(t testing.TB, img image.Image, level int, text []TextChunk) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img, level, text); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stdPNG decodes b with image/png and fails the test on error.
func stdPNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readFile reads a file under testdata.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode runs Decode on b and fails the test on error.
func decode(t testing.TB, b []byte, opt Options) *Decoded {
	t.Helper()
	d, err := Decode(bytes.NewReader(b), opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sameNRGBA reports the first pixel where two images differ as straight
// 8-bit RGBA (converted as this package converts), or "" when they are
// equal (bounds are compared by size).
func sameNRGBA(a, b image.Image) string {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Size() != bb.Size() {
		return fmt.Sprintf("size %v != %v", ab.Size(), bb.Size())
	}
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			ca := to8bit(straight(a.At(ab.Min.X+x, ab.Min.Y+y)))
			cb := to8bit(straight(b.At(bb.Min.X+x, bb.Min.Y+y)))
			if ca != cb {
				return fmt.Sprintf("pixel (%d,%d): %v != %v", x, y, ca, cb)
			}
		}
	}
	return ""
}

func to8bit(c color.NRGBA64) color.NRGBA {
	return color.NRGBA{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), uint8(c.A >> 8)}
}
