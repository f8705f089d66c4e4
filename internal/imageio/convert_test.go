package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"testing"

	"github.com/gocomfy/gocomfy/tensor"
)

func TestTo8Truncates(t *testing.T) {
	for _, tc := range []struct {
		x    float32
		want uint8
	}{
		{0, 0}, {0.5, 127}, {0.25, 63}, {0.1, 25}, {0.3, 76}, {0.999, 254}, {1, 255},
		{1.5, 255}, {-0.1, 0}, {float32(math.NaN()), 0}, {float32(math.Inf(1)), 255},
		{float32(math.Inf(-1)), 0}, {1.0 / 255, 1}, {254.99 / 255, 254},
	} {
		if got := to8(tc.x); got != tc.want {
			t.Errorf("to8(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
}

func TestUnit8(t *testing.T) {
	for v := range 256 {
		if unit8[v] != float32(v)/255 || inv8[v] != 1-float32(v)/255 {
			t.Fatalf("value %d: %v %v", v, unit8[v], inv8[v])
		}
		// Saving what was loaded gives the same byte back.
		if to8(unit8[v]) != uint8(v) {
			t.Fatalf("to8(unit8[%d]) = %d", v, to8(unit8[v]))
		}
	}
}

func TestFromTensor(t *testing.T) {
	for _, tc := range []struct {
		c    int
		want string
	}{{1, "*image.Gray"}, {3, "*imageio.RGB"}, {4, "*image.NRGBA"}, {2, "<nil>"}} {
		ti := tensor.NewImage(2, 3, 5, tc.c)
		for i := range ti.Pix {
			ti.Pix[i] = float32(i%7) / 6
		}
		img := FromTensor(ti, 1)
		if got := fmt.Sprintf("%T", img); got != tc.want {
			t.Fatalf("C=%d: %s, want %s", tc.c, got, tc.want)
		}
		if img == nil {
			continue
		}
		pix, _, _ := raster(img)
		if img, ok := img.(*RGB); ok {
			pix = img.Pix
		}
		for i, v := range ti.Frame(1) {
			if pix[i] != to8(v) {
				t.Fatalf("C=%d: byte %d = %d, want %d", tc.c, i, pix[i], to8(v))
			}
		}
	}
}

// Every fast path of toFloat must agree with the generic conversion through
// 16-bit straight alpha.
func TestToFloatFastPathsMatchGeneric(t *testing.T) {
	for _, tc := range testImages() {
		b := tc.img.Bounds()
		n := b.Dx() * b.Dy()
		rgb, a := make([]float32, 3*n), make([]float32, n)
		toFloat(tc.img, rgb, a)
		rgb2, a2 := make([]float32, 3*n), make([]float32, n)
		toFloatGeneric(tc.img, rgb2, a2)
		for i := range rgb {
			if rgb[i] != rgb2[i] {
				t.Fatalf("%s: rgb[%d] = %v, generic %v", tc.name, i, rgb[i], rgb2[i])
			}
		}
		for i := range a {
			if a[i] != a2[i] {
				t.Fatalf("%s: alpha[%d] = %v, generic %v", tc.name, i, a[i], a2[i])
			}
		}
	}
}

// Orientation converts a JPEG's YCbCr with image/draw; the values must be
// the ones toFloat reads from the YCbCr directly.
func TestYCbCrDrawMatchesYCbCrToRGB(t *testing.T) {
	m := image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = uint8(i * 7)
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = uint8(i*13), uint8(i*29)
	}
	dst := image.NewRGBA(m.Rect)
	draw.Draw(dst, dst.Rect, m, image.Point{}, draw.Src)
	for y := range 64 {
		for x := range 64 {
			r, g, b := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
			if c := dst.RGBAAt(x, y); c != (color.RGBA{r, g, b, 255}) {
				t.Fatalf("(%d,%d): draw %v, YCbCrToRGB %v", x, y, c, [3]uint8{r, g, b})
			}
		}
	}
}

func TestTensors(t *testing.T) {
	rgba := withAlpha(photoLike(6, 4))
	opaque := opaqueRGBA(photoLike(6, 4))
	gray16 := image.NewGray16(image.Rect(0, 0, 6, 4))
	gray16.Pix[0], gray16.Pix[1] = 0x12, 0x34
	for _, tc := range []struct {
		name      string
		frames    []image.Image
		wantImage string
		wantMask  string
		check     func(t *testing.T, img *tensor.Image, mask *tensor.Mask)
	}{
		{"alpha", []image.Image{rgba}, "[1 4 6 3]", "[1 4 6]", func(t *testing.T, img *tensor.Image, mask *tensor.Mask) {
			c := rgba.NRGBAAt(2, 1)
			i := 1*6 + 2
			if img.Pix[3*i] != float32(c.R)/255 || mask.Pix[i] != 1-float32(c.A)/255 {
				t.Errorf("pixel: %v mask %v, want %v", img.Pix[3*i:3*i+3], mask.Pix[i], c)
			}
		}},
		{"opaque gets a 64×64 mask", []image.Image{opaque, opaque}, "[2 4 6 3]", "[2 64 64]", nil},
		{"other sizes skipped", []image.Image{opaque, photoLike(3, 3), opaque}, "[2 4 6 3]", "[2 64 64]", nil},
		{"16-bit", []image.Image{gray16}, "[1 4 6 3]", "[1 64 64]", func(t *testing.T, img *tensor.Image, _ *tensor.Mask) {
			if want := float32(0x1234) / 65535; img.Pix[0] != want || img.Pix[2] != want {
				t.Errorf("got %v, want %v", img.Pix[:3], want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, mask := (&Decoded{Frames: tc.frames}).Tensors()
			if fmt.Sprint(img.Shape()) != tc.wantImage || fmt.Sprint(mask.Shape()) != tc.wantMask {
				t.Fatalf("shapes %v %v, want %s %s", img.Shape(), mask.Shape(), tc.wantImage, tc.wantMask)
			}
			if tc.check != nil {
				tc.check(t, img, mask)
			}
		})
	}
	if img, mask := (&Decoded{}).Tensors(); img != nil || mask != nil {
		t.Error("no frames: want nil, nil")
	}
}

// SaveImage then LoadImage: the loaded values are the saved bytes over 255.
func TestSaveLoadRoundTrip(t *testing.T) {
	for _, c := range []int{3, 4} {
		ti := tensor.NewImage(1, 9, 13, c)
		for i := range ti.Pix {
			ti.Pix[i] = float32(i%101)/100 - 0.005
		}
		var buf bytes.Buffer
		if err := EncodePNG(&buf, FromTensor(ti, 0), LevelSave, nil); err != nil {
			t.Fatal(err)
		}
		img, mask := decode(t, buf.Bytes(), Options{}).Tensors()
		for i := range 9 * 13 {
			for ch := range 3 {
				if want := float32(to8(ti.Pix[i*c+ch])) / 255; img.Pix[3*i+ch] != want {
					t.Fatalf("C=%d pixel %d: %v, want %v", c, i, img.Pix[3*i+ch], want)
				}
			}
			if c == 4 {
				if want := 1 - float32(to8(ti.Pix[i*c+3]))/255; mask.Pix[i] != want {
					t.Fatalf("mask %d: %v, want %v", i, mask.Pix[i], want)
				}
			}
		}
		if c == 3 && fmt.Sprint(mask.Shape()) != "[1 64 64]" {
			t.Errorf("RGB mask shape %v", mask.Shape())
		}
	}
}
