package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"image"
	"image/color"
	"io"
	"runtime"
	"testing"
)

type rawChunk struct {
	typ  string
	data []byte
}

// chunksOf splits a PNG file into its chunks (no CRC check).
func chunksOf(t *testing.T, b []byte) []rawChunk {
	t.Helper()
	if string(b[:8]) != pngSignature {
		t.Fatal("no png signature")
	}
	var out []rawChunk
	for p := 8; p < len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		out = append(out, rawChunk{string(b[p+4 : p+8]), b[p+8 : p+8+n]})
		p += 12 + n
	}
	return out
}

// inflatedIDAT returns the decompressed image data: the filtered rows.
func inflatedIDAT(t *testing.T, chunks []rawChunk) []byte {
	t.Helper()
	var z []byte
	for _, c := range chunks {
		if c.typ == "IDAT" {
			z = append(z, c.data...)
		}
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The golden files were written by Pillow 9.4 as SaveImage writes (RGB at
// compress_level 4 with prompt/workflow text), as PreviewImage writes (level
// 1) and with Pillow's defaults. Re-encoding their pixels must give the same
// chunks, byte for byte, except IDAT, whose inflated bytes (the filter
// choices and filtered rows) must be the same too.
func TestEncodePNGMatchesPillow(t *testing.T) {
	for _, tc := range []struct {
		file  string
		level int
		conv  func(image.Image) image.Image
	}{
		{"pil_rgb_l4.png", LevelSave, func(m image.Image) image.Image { return toRGB(m) }},
		{"pil_rgba_l1.png", LevelPreview, func(m image.Image) image.Image { return m }},
		{"pil_gray_l6.png", LevelDefault, func(m image.Image) image.Image { return m }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden := readFile(t, tc.file)
			text, err := ReadPNGText(bytes.NewReader(golden))
			if err != nil {
				t.Fatal(err)
			}
			img := tc.conv(stdPNG(t, golden))
			got := chunksOf(t, encodePNG(t, img, tc.level, text))
			want := chunksOf(t, golden)
			var gotMeta, wantMeta []rawChunk
			for _, c := range got {
				if c.typ != "IDAT" {
					gotMeta = append(gotMeta, c)
				}
			}
			for _, c := range want {
				if c.typ != "IDAT" {
					wantMeta = append(wantMeta, c)
				}
			}
			if fmt.Sprintf("%q", gotMeta) != fmt.Sprintf("%q", wantMeta) {
				t.Errorf("chunks differ:\n got %q\nwant %q", gotMeta, wantMeta)
			}
			if !bytes.Equal(inflatedIDAT(t, got), inflatedIDAT(t, want)) {
				t.Error("filtered rows differ from Pillow's")
			}
		})
	}
}

type testImage struct {
	name string
	img  image.Image
	ct   uint8 // the PNG colour type EncodePNG writes
}

// testImages returns images of every type EncodePNG handles, in awkward
// sizes, some as sub-images with a non-zero origin.
func testImages() []testImage {
	photo := photoLike(67, 45)
	gray := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 17)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 9, 2), color.Palette{color.NRGBA{1, 2, 3, 255}, color.NRGBA{9, 8, 7, 128}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 2)
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, 7, 5), image.YCbCrSubsampleRatio420)
	ycca := image.NewNYCbCrA(image.Rect(0, 0, 7, 5), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i], ycca.Y[i], ycca.A[i] = uint8(i*37), uint8(i*41), uint8(i*59)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i], ycca.Cb[i], ycca.Cr[i] = uint8(i*71), uint8(200-i*13), uint8(i*29), uint8(i*83)
	}
	premul := image.NewRGBA(image.Rect(0, 0, 4, 4))
	premul.Set(1, 2, color.NRGBA{200, 100, 50, 100})
	return []testImage{
		{"rgb-1x1", photoLike(1, 1), ctRGB},
		{"rgb-odd", photo, ctRGB},
		{"rgb-1xN", photoLike(1, 37), ctRGB},
		{"rgb-Nx1", photoLike(37, 1), ctRGB},
		{"rgb-sub", photo.subImage(image.Rect(3, 4, 40, 30)), ctRGB},
		{"rgb-flat-large", NewRGB(image.Rect(0, 0, 700, 500)), ctRGB},
		{"rgb-photo-large", photoLike(600, 300), ctRGB}, // two strips
		{"nrgba", withAlpha(photo), ctRGBA},
		{"nrgba-sub", withAlpha(photo).SubImage(image.Rect(5, 1, 20, 44)), ctRGBA},
		{"gray", gray, ctGray},
		{"rgba-opaque", opaqueRGBA(photo), ctRGB},
		{"rgba-premultiplied", premul, ctRGBA},
		{"paletted-translucent", pal, ctRGBA},
		{"ycbcr", ycc, ctRGB},
		{"nycbcra", ycca, ctRGBA},
		{"gray16", image.NewGray16(image.Rect(0, 0, 3, 3)), ctRGB},
	}
}

// subImage is image.RGBA's SubImage for *RGB, for tests.
func (p *RGB) subImage(r image.Rectangle) *RGB {
	r = r.Intersect(p.Rect)
	return &RGB{Pix: p.Pix[p.PixOffset(r.Min.X, r.Min.Y):], Stride: p.Stride, Rect: r}
}

func TestEncodePNGRoundTrip(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // several strips on any machine
	for _, tc := range testImages() {
		for _, level := range []int{0, LevelSave} { // stored, and compressed both ways
			t.Run(fmt.Sprintf("%s/%d", tc.name, level), func(t *testing.T) {
				b := encodePNG(t, tc.img, level, nil)
				if diff := sameNRGBA(stdPNG(t, b), tc.img); diff != "" {
					t.Fatal(diff)
				}
				if b[25] != tc.ct {
					t.Errorf("colour type %d, want %d", b[25], tc.ct)
				}
			})
		}
	}
}

func TestEncodePNGStrips(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	img := photoLike(640, 480) // 900 KiB of filtered rows: 3 strips
	chunks := chunksOf(t, encodePNG(t, img, LevelSave, nil))
	var idat int
	for _, c := range chunks {
		if c.typ == "IDAT" {
			idat++
		}
	}
	if idat != 3 {
		t.Errorf("%d IDAT chunks, want one per strip (3)", idat)
	}
}

func TestEncodePNGText(t *testing.T) {
	text := []TextChunk{
		{"prompt", `{"1": {"inputs": {}}}`},
		{"café", "naïve"},
		{"workflow", "雪"},
		{"", "empty key"},
	}
	b := encodePNG(t, photoLike(2, 2), LevelSave, text)
	var types []string
	for _, c := range chunksOf(t, b) {
		types = append(types, c.typ)
	}
	if got := fmt.Sprint(types); got != "[IHDR tEXt tEXt iTXt tEXt IDAT IEND]" {
		t.Errorf("chunks %s", got)
	}
	got, err := ReadPNGText(bytes.NewReader(b))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(text) {
		t.Errorf("ReadPNGText = %q, %v; want %q", got, err, text)
	}
	for _, key := range []string{"雪", "a\x00b"} {
		if err := EncodePNG(io.Discard, photoLike(2, 2), 4, []TextChunk{{key, "v"}}); err == nil {
			t.Errorf("key %q: want an error", key)
		}
	}
}

func TestEncodePNGErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		img   image.Image
		level int
	}{
		"empty":    {image.NewNRGBA(image.Rect(0, 0, 0, 5)), 4},
		"level 10": {photoLike(1, 1), 10},
		"level -2": {photoLike(1, 1), -2},
	} {
		if err := EncodePNG(io.Discard, tc.img, tc.level, nil); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestAdler32Combine(t *testing.T) {
	data := photoLike(50, 50).Pix
	for _, cut := range []int{0, 1, 100, 5551, 5552, 5553, len(data)} {
		a, b := data[:cut], data[cut:]
		got := adler32Combine(adler32.Checksum(a), adler32.Checksum(b), int64(len(b)))
		if want := adler32.Checksum(data); got != want {
			t.Errorf("cut %d: %08x, want %08x", cut, got, want)
		}
	}
}
