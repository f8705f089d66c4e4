package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"testing"
)

// The golden frames were decoded from the GIFs by PyAV (FFmpeg 5.1), as
// LoadImage reads GIFs, and saved as RGBA PNGs.
func TestGIFCompositeMatchesFFmpeg(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames int
	}{
		{"dispose", 4},     // opaque first frame: background fill, disposal 2 and 3
		{"transparent", 3}, // transparent first frame: transparent white, bg index = transparent index
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decode(t, readFile(t, "gif/"+tc.name+".gif"), Options{})
			if d.Format != "gif" || len(d.Frames) != tc.frames {
				t.Fatalf("got %s with %d frames, want gif with %d", d.Format, len(d.Frames), tc.frames)
			}
			for i, f := range d.Frames {
				want := stdPNG(t, readFile(t, fmt.Sprintf("gif/%s.ffmpeg%d.png", tc.name, i)))
				if diff := sameNRGBA(f, want); diff != "" {
					t.Errorf("frame %d: %s", i, diff)
				}
			}
		})
	}
}

func TestGIFTensors(t *testing.T) {
	d := decode(t, readFile(t, "gif/transparent.gif"), Options{})
	img, mask := d.Tensors()
	if got := img.Shape(); fmt.Sprint(got) != "[3 4 5 3]" {
		t.Fatalf("image shape %v", got)
	}
	if got := mask.Shape(); fmt.Sprint(got) != "[3 4 5]" {
		t.Fatalf("mask shape %v", got)
	}
	// Pixel (3,0) of the first frame is transparent white: RGB 1, mask 1.
	i := 3
	if px := img.Frame(0)[3*i : 3*i+3]; px[0] != 1 || px[1] != 1 || px[2] != 1 || mask.Frame(0)[i] != 1 {
		t.Errorf("transparent pixel: rgb %v mask %v", px, mask.Frame(0)[i])
	}
	if mask.Frame(0)[0] != 0 {
		t.Errorf("opaque pixel mask %v", mask.Frame(0)[0])
	}
}

func TestGIFFirstFrameAndTruncation(t *testing.T) {
	data := readFile(t, "gif/dispose.gif")
	all := decode(t, data, Options{})
	first := decode(t, data, Options{FirstFrame: true})
	if len(first.Frames) != 1 || sameNRGBA(first.Frames[0], all.Frames[0]) != "" {
		t.Fatalf("first frame differs")
	}
	// Without its trailer the file still yields every complete frame, and a
	// frame cut short is dropped.
	noTrailer := decode(t, data[:len(data)-1], Options{})
	if len(noTrailer.Frames) != 4 {
		t.Errorf("without trailer: %d frames", len(noTrailer.Frames))
	}
	cut := decode(t, data[:len(data)-6], Options{})
	if len(cut.Frames) != 3 {
		t.Errorf("truncated last frame: %d frames", len(cut.Frames))
	}
	if _, err := Decode(bytes.NewReader(data[:40]), Options{}); err == nil {
		t.Error("no complete frame: want an error")
	}
}

func TestGIFFrameLimit(t *testing.T) {
	g := &gif.GIF{Config: image.Config{Width: 100, Height: 100, ColorModel: color.Palette{color.Black, color.White}}}
	for range 10 {
		g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, 100, 100), color.Palette{color.Black, color.White}))
		g.Delay = append(g.Delay, 1)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	_, err := Decode(bytes.NewReader(buf.Bytes()), Options{MaxTotalPixels: 9 * 100 * 100})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("10 frames above a 9-frame budget: err = %v", err)
	}
	d := decode(t, buf.Bytes(), Options{MaxTotalPixels: 10 * 100 * 100})
	if len(d.Frames) != 10 {
		t.Fatalf("%d frames", len(d.Frames))
	}
	d = decode(t, buf.Bytes(), Options{MaxTotalPixels: 100 * 100, FirstFrame: true})
	if len(d.Frames) != 1 {
		t.Fatalf("first frame only: %d frames", len(d.Frames))
	}
}
