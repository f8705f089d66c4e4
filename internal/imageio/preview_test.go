package imageio

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"golang.org/x/image/webp"
)

func TestParsePreview(t *testing.T) {
	for _, tc := range []struct {
		preview, channel string
		want             Preview
	}{
		{"webp;90", "", Preview{"webp", 90, false}},
		{"jpeg;90", "", Preview{"jpeg", 90, true}},
		{"jpeg", "", Preview{"jpeg", 90, true}},
		{"jpeg;50", "rgba", Preview{"webp", 50, false}}, // "a" in channel forces webp
		{"jpeg;50", "a", Preview{"webp", 50, false}},
		{"webp;75", "rgb", Preview{"webp", 75, true}},
		{"png;80", "", Preview{"webp", 80, false}},
		{"", "", Preview{"webp", 90, false}},
		{"webp;", "", Preview{"webp", 90, false}},
		{"webp;x;70", "", Preview{"webp", 70, false}},
		{"webp;-5", "", Preview{"webp", 90, false}},
		{"webp;0", "", Preview{"webp", 0, false}},
		{"jpeg;250", "", Preview{"jpeg", 100, true}},
		{"jpeg;99999999999999999999", "", Preview{"jpeg", 100, true}},
		{"70", "", Preview{"webp", 70, false}},
	} {
		if got := ParsePreview(tc.preview, tc.channel); got != tc.want {
			t.Errorf("ParsePreview(%q, %q) = %+v, want %+v", tc.preview, tc.channel, got, tc.want)
		}
	}
}

func TestEncodePreview(t *testing.T) {
	photo := photoLike(64, 48)
	rgba := withAlpha(photo)
	for _, tc := range []struct {
		name      string
		img       image.Image
		p         Preview
		wantType  string
		wantAlpha bool
	}{
		{"jpeg", photo, Preview{"jpeg", 90, true}, "image/jpeg", false},
		{"jpeg drops alpha", rgba, Preview{"jpeg", 90, true}, "image/jpeg", false},
		{"webp rgb", photo, Preview{"webp", 90, false}, "image/webp", false},
		{"webp keeps alpha", rgba, Preview{"webp", 90, false}, "image/webp", true},
		{"webp channel=rgb", rgba, Preview{"webp", 90, true}, "image/webp", false},
		{"webp quality 0", photo, Preview{"webp", 0, false}, "image/webp", false},
		{"sub-image", rgba.SubImage(image.Rect(3, 2, 40, 30)), Preview{"webp", 90, false}, "image/webp", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			typ, err := EncodePreview(&buf, tc.img, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.wantType {
				t.Fatalf("type %s, want %s", typ, tc.wantType)
			}
			var got image.Image
			if typ == "image/jpeg" {
				got, err = jpeg.Decode(&buf)
			} else {
				got, err = webp.Decode(&buf)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bounds().Size() != tc.img.Bounds().Size() {
				t.Fatalf("size %v", got.Bounds().Size())
			}
			if hasAlpha(got) != tc.wantAlpha {
				t.Errorf("alpha = %v, want %v", hasAlpha(got), tc.wantAlpha)
			}
			// Colours survive, also where alpha is low: convert("RGB") drops
			// alpha without compositing.
			want := opaqueRGBA(tc.img)
			if d := maxDiff(want, opaqueRGBA(got)); tc.p.Quality >= 90 && d > 40 {
				t.Errorf("colours differ by %d", d)
			}
		})
	}
}

func TestChannel(t *testing.T) {
	photo := photoLike(5, 4)
	rgba := withAlpha(photo)
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.NRGBA{1, 2, 3, 0}, color.NRGBA{4, 5, 6, 255}})

	got, ok := Channel(rgba, "rgb")
	if _, isRGB := got.(*RGB); !ok || !isRGB || sameNRGBA(got, photo) != "" {
		t.Errorf("rgb of RGBA: %T %v %s", got, ok, sameNRGBA(got, photo))
	}
	got, _ = Channel(pal, "rgb")
	if c := got.At(0, 0); c != (color.RGBA{1, 2, 3, 255}) {
		t.Errorf("rgb of a transparent palette entry: %v", c)
	}

	got, ok = Channel(rgba, "a")
	if !ok {
		t.Fatal("a: not handled")
	}
	for y := range 4 {
		for x := range 5 {
			if c, want := got.At(x, y), (color.NRGBA{0, 0, 0, rgba.NRGBAAt(x, y).A}); c != want {
				t.Fatalf("a at (%d,%d): %v, want %v", x, y, c, want)
			}
		}
	}
	// Pillow takes alpha only from RGBA images: 255 for RGB and palette ones.
	for _, img := range []image.Image{photo, pal} {
		got, _ = Channel(img, "a")
		if c := got.At(0, 0); c != (color.NRGBA{0, 0, 0, 255}) {
			t.Errorf("a of %T: %v", img, c)
		}
	}
	for _, ch := range []string{"", "rgba", "r", "A"} {
		if _, ok := Channel(rgba, ch); ok {
			t.Errorf("channel %q handled", ch)
		}
	}
}
