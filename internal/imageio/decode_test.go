package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// pilRGB returns the 67×45 RGB image that the Pillow-written golden files
// were cut from.
func pilRGB(t *testing.T) image.Image {
	return stdPNG(t, readFile(t, "pil_rgb_l4.png"))
}

func crop(m image.Image, w, h int) image.Image {
	return m.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(0, 0, w, h))
}

// maxDiff returns the largest difference of a colour channel between a and
// b, compared as 8-bit straight colours over a's bounds.
func maxDiff(a, b image.Image) int {
	d := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca, cb := straight(a.At(x, y)), straight(b.At(x, y))
			for _, p := range [][2]uint16{{ca.R, cb.R}, {ca.G, cb.G}, {ca.B, cb.B}, {ca.A, cb.A}} {
				d = max(d, abs(int(p[0]>>8)-int(p[1]>>8)))
			}
		}
	}
	return d
}

func TestDecodeWebP(t *testing.T) {
	src := pilRGB(t)
	rgba := stdPNG(t, readFile(t, "pil_rgba_l1.png"))
	for _, tc := range []struct {
		file      string
		want      image.Image
		tolerance int
		alpha     bool
	}{
		{"lossy.webp", crop(src, 32, 24), 32, false},
		{"lossless.webp", crop(src, 32, 24), 0, true}, // VP8L: FFmpeg reports ARGB too
		{"alpha.webp", rgba, 32, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := decode(t, readFile(t, tc.file), Options{})
			if d.Format != "webp" || len(d.Frames) != 1 {
				t.Fatalf("%s, %d frames", d.Format, len(d.Frames))
			}
			if got := maxDiff(tc.want, d.Frames[0]); got > tc.tolerance {
				t.Errorf("differs by %d, tolerance %d", got, tc.tolerance)
			}
			if hasAlpha(d.Frames[0]) != tc.alpha {
				t.Errorf("alpha = %v", !tc.alpha)
			}
		})
	}
	// Lossy WebP keeps alpha losslessly (Pillow's alpha_quality is 100).
	d := decode(t, readFile(t, "alpha.webp"), Options{})
	_, mask := d.Tensors()
	for i, v := range mask.Pix {
		x, y := i%33, i/33
		if want := 1 - float32(rgba.(*image.NRGBA).NRGBAAt(x, y).A)/255; v != want {
			t.Fatalf("mask (%d,%d) = %v, want %v", x, y, v, want)
		}
	}
}

// Pillow wrote anim.webp (lossless, 3 frames with transparent holes) from
// the frames saved as anim.frameN.png.
func TestDecodeAnimatedWebP(t *testing.T) {
	data := readFile(t, "anim.webp")
	d := decode(t, data, Options{})
	if len(d.Frames) != 3 {
		t.Fatalf("%d frames", len(d.Frames))
	}
	for i, f := range d.Frames {
		want := stdPNG(t, readFile(t, fmt.Sprintf("anim.frame%d.png", i))).(*image.NRGBA)
		got, ok := f.(*image.NRGBA)
		if !ok {
			t.Fatalf("frame %d is %T", i, f)
		}
		for j := 0; j < len(want.Pix); j += 4 {
			w, g := want.Pix[j:j+4], got.Pix[j:j+4]
			// Lossless WebP may change the colour under alpha 0.
			if w[3] != g[3] || w[3] != 0 && !bytes.Equal(w, g) {
				t.Fatalf("frame %d pixel %d: %v, want %v", i, j/4, g, w)
			}
		}
	}
	if d := decode(t, data, Options{FirstFrame: true}); len(d.Frames) != 1 {
		t.Errorf("FirstFrame: %d frames", len(d.Frames))
	}
	if _, err := Decode(bytes.NewReader(data), Options{MaxTotalPixels: 2 * 12 * 10}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("frame budget: err = %v", err)
	}
}

func TestDecodeFormats(t *testing.T) {
	src := pilRGB(t)
	encode := func(enc func(*bytes.Buffer) error) []byte {
		var buf bytes.Buffer
		if err := enc(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 4, 3))
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, 4, 3))
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(i * 37)
	}
	for i := range rgba64.Pix {
		rgba64.Pix[i] = uint8(i * 53)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 3), color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{200, 100, 0, 255}})
	pal.Pix[5] = 1
	for _, tc := range []struct {
		name      string
		data      []byte
		format    string
		want      image.Image
		tolerance int
		mask      string // shape of LoadImage's mask
	}{
		{"png rgb", encode(func(b *bytes.Buffer) error { return png.Encode(b, src) }), "png", src, 0, "[1 64 64]"},
		{"png 16-bit grey", encode(func(b *bytes.Buffer) error { return png.Encode(b, gray16) }), "png", gray16, 0, "[1 64 64]"},
		{"png 16-bit rgba", encode(func(b *bytes.Buffer) error { return png.Encode(b, rgba64) }), "png", rgba64, 0, "[1 3 4]"},
		{"png palette", encode(func(b *bytes.Buffer) error { return png.Encode(b, pal) }), "png", pal, 0, "[1 3 4]"},
		{"jpeg", encode(func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 95}) }), "jpeg", src, 40, "[1 64 64]"},
		{"bmp", encode(func(b *bytes.Buffer) error { return bmp.Encode(b, src) }), "bmp", src, 0, "[1 64 64]"},
		{"tiff", encode(func(b *bytes.Buffer) error { return tiff.Encode(b, src, nil) }), "tiff", src, 0, "[1 64 64]"},
		{"tiff deflate", encode(func(b *bytes.Buffer) error {
			return tiff.Encode(b, src, &tiff.Options{Compression: tiff.Deflate, Predictor: true})
		}), "tiff", src, 0, "[1 64 64]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decode(t, tc.data, Options{})
			if d.Format != tc.format || len(d.Frames) != 1 {
				t.Fatalf("%s with %d frames", d.Format, len(d.Frames))
			}
			if got := maxDiff(tc.want, d.Frames[0]); got > tc.tolerance {
				t.Errorf("differs by %d", got)
			}
			img, mask := d.Tensors()
			if fmt.Sprint(mask.Shape()) != tc.mask {
				t.Errorf("mask shape %v, want %s", mask.Shape(), tc.mask)
			}
			// LoadImage's values are the source's 8- or 16-bit samples over
			// 255 or 65535.
			c := straight(d.Frames[0].At(1, 1))
			i := 3 * (1*img.W + 1)
			if tc.tolerance == 0 && (img.Pix[i] != unit16(uint32(c.R)) || img.Pix[i+2] != unit16(uint32(c.B))) {
				t.Errorf("pixel (1,1) = %v, want %v", img.Pix[i:i+3], c)
			}
		})
	}
}

// ihdrOnly returns the start of a PNG that declares w×h and ends there.
func ihdrOnly(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b := []byte(pngSignature)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, "IHDR"...)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
}

func TestDecodeLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		opt  Options
	}{
		{"20000² png", ihdrOnly(20000, 20000), Options{}},
		{"1×300M png", ihdrOnly(1, 300_000_000), Options{}},
		{"MaxPixels", encodePNG(t, photoLike(10, 10), 1, nil), Options{MaxPixels: 99}},
		{"MaxTotalPixels", encodePNG(t, photoLike(10, 10), 1, nil), Options{MaxTotalPixels: 99}},
	} {
		_, err := Decode(bytes.NewReader(tc.data), tc.opt)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "limit") {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if _, err := Decode(bytes.NewReader(encodePNG(t, photoLike(10, 10), 1, nil)), Options{MaxPixels: 100}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	png := encodePNG(t, photoLike(10, 10), 1, nil)
	for name, data := range map[string][]byte{
		"empty":          nil,
		"text":           []byte("hello"),
		"truncated png":  png[:len(png)/2],
		"header only":    ihdrOnly(10, 10),
		"riff not webp":  []byte("RIFF\x04\x00\x00\x00WAVE"),
		"webp truncated": readFile(t, "lossy.webp")[:40],
		"anim truncated": readFile(t, "anim.webp")[:100],
		"gif header":     []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"),
		"bad jpeg":       []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
	} {
		if _, err := Decode(bytes.NewReader(data), Options{}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, err := Decode(bytes.NewReader([]byte("hello")), Options{}); !errors.Is(err, ErrFormat) {
		t.Errorf("unknown format: err = %v", err)
	}
}
