package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"reflect"
	"testing"

	libwebp "github.com/gen2brain/webp"
	xwebp "golang.org/x/image/webp"

	"github.com/gocomfy/gocomfy/tensor"
)

// animFrames returns n frames of w×h: photo-like, each after the first with
// a 5×4 block at (3+i, 2) changed, and frame dup a copy of frame dup−1.
func animFrames(n, w, h, dup int, alpha bool) []image.Image {
	base := photoLike(w, h)
	out := make([]image.Image, n)
	for i := range n {
		m := NewRGB(base.Rect)
		copy(m.Pix, base.Pix)
		k := i
		if i == dup {
			k = i - 1
		}
		for y := 2; y < 6 && k > 0; y++ {
			for x := 3 + k; x < 8+k && x < w; x++ {
				m.Pix[m.PixOffset(x, y)] += uint8(40 * k)
			}
		}
		out[i] = m
		if alpha {
			out[i] = withAlpha(m)
		}
	}
	return out
}

func TestEncodeAPNG(t *testing.T) {
	frames := animFrames(4, 16, 8, 2, false)
	var buf bytes.Buffer
	private := []TextChunk{{"prompt", `{"a": 1}`}, {"workflow", "{}"}}
	if err := EncodeAPNG(&buf, frames, 125, LevelSave, private); err != nil {
		t.Fatal(err)
	}
	var types []string
	var fctl [][]byte
	var seqs []uint32
	for _, c := range chunksOf(t, buf.Bytes()) {
		types = append(types, c.typ)
		switch c.typ {
		case "acTL":
			if got := binary.BigEndian.Uint32(c.data); got != 3 {
				t.Errorf("acTL frames = %d, want 3 (the repeat merged)", got)
			}
		case "fcTL":
			fctl = append(fctl, c.data)
			seqs = append(seqs, binary.BigEndian.Uint32(c.data))
		case "fdAT":
			seqs = append(seqs, binary.BigEndian.Uint32(c.data))
		}
	}
	want := []string{"IHDR", "acTL", "fcTL", "IDAT", "fcTL", "fdAT", "fcTL", "fdAT", "comf", "comf", "IEND"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("chunks = %v, want %v", types, want)
	}
	for i, s := range seqs {
		if s != uint32(i) {
			t.Errorf("sequence numbers = %v", seqs)
			break
		}
	}
	// x, y, w, h and delay of each frame: the first whole, then the box
	// that changed since the last frame kept (frame 3's block at x 6–10
	// against frame 1's at x 4–8), as Pillow compares with the previous
	// frame it writes; the merged frame lasts 250 ms = 1/4 s.
	wantCtl := [][6]uint32{{0, 0, 16, 8, 1, 8}, {4, 2, 5, 4, 1, 4}, {4, 2, 7, 4, 1, 8}}
	for i, d := range fctl {
		be := binary.BigEndian
		got := [6]uint32{be.Uint32(d[12:]), be.Uint32(d[16:]), be.Uint32(d[4:]), be.Uint32(d[8:]),
			uint32(be.Uint16(d[20:])), uint32(be.Uint16(d[22:]))}
		if got != wantCtl[i] || d[24] != 0 || d[25] != 0 {
			t.Errorf("fcTL %d = %v (ops %d %d), want %v", i, got, d[24], d[25], wantCtl[i])
		}
	}
	// The default image is the first frame.
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !sameRGB(img, frames[0].(*RGB)) {
		t.Error("default image is not frame 0")
	}
}

func sameRGB(img image.Image, m *RGB) bool {
	for y := range m.Rect.Dy() {
		for x := range m.Rect.Dx() {
			r, g, b, _ := img.At(x, y).RGBA()
			i := m.PixOffset(x, y)
			if [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)} != [3]uint8(m.Pix[i:i+3]) {
				return false
			}
		}
	}
	return true
}

// One frame left (here two equal ones) makes a plain PNG, private chunks
// after the image data.
func TestEncodeAPNGOneFrame(t *testing.T) {
	f := animFrames(1, 5, 3, -1, true)[0]
	var buf bytes.Buffer
	if err := EncodeAPNG(&buf, []image.Image{f, f}, 100, LevelPreview, []TextChunk{{"k", "v"}}); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range chunksOf(t, buf.Bytes()) {
		types = append(types, c.typ)
	}
	if want := []string{"IHDR", "IDAT", "comf", "IEND"}; !reflect.DeepEqual(types, want) {
		t.Errorf("chunks = %v, want %v", types, want)
	}
	img, err := png.Decode(&buf)
	if err != nil || !reflect.DeepEqual(img, f) {
		t.Errorf("decoded %T, %v", img, err)
	}
}

func TestEncodeAPNGErrors(t *testing.T) {
	rgb, rgba := animFrames(1, 4, 4, -1, false)[0], animFrames(1, 4, 4, -1, true)[0]
	two := animFrames(2, 16, 8, -1, false)
	for _, tc := range []struct {
		name     string
		frames   []image.Image
		duration int
		private  []TextChunk
		is       error
	}{
		{"no frames", nil, 100, nil, nil},
		{"modes differ", []image.Image{rgb, rgba}, 100, nil, nil},
		{"sizes differ", []image.Image{rgb, NewRGB(image.Rect(0, 0, 3, 4))}, 100, nil, nil},
		{"numerator above 65535", two, 65537, nil, ErrAPNGDuration},
		// Three merged frames of 40001 ms last 120003/1000 s; two would
		// be 40001/500 s, which fits.
		{"merged duration too long", []image.Image{two[0], two[0], two[0], two[1]}, 40001, nil, ErrAPNGDuration},
		{"not Latin-1", []image.Image{rgb}, 100, []TextChunk{{"k", "\u2603"}}, nil},
	} {
		err := EncodeAPNG(io.Discard, tc.frames, tc.duration, LevelSave, tc.private)
		if err == nil || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if err := EncodeAPNG(io.Discard, []image.Image{two[0], two[0], two[1]}, 40001, LevelSave, nil); err != nil {
		t.Errorf("two merged frames of 40001 ms: %v", err)
	}
	// One frame is a plain PNG: no delay, so no limit.
	if err := EncodeAPNG(io.Discard, []image.Image{rgb, rgb, rgb}, 65537, LevelSave, nil); err != nil {
		t.Errorf("one frame of 196611 ms: %v", err)
	}
	// 65536 ms is 8192/125 s.
	if err := EncodeAPNG(io.Discard, []image.Image{rgb, rgba.(*image.NRGBA).SubImage(rgb.Bounds())}, 65536, LevelSave, nil); err == nil {
		t.Error("mixed modes accepted")
	}
	if num, den := delayFraction(65536); num != 8192 || den != 125 {
		t.Errorf("delayFraction(65536) = %d/%d", num, den)
	}
}

func TestEncodeAnimatedWebP(t *testing.T) {
	for _, alpha := range []bool{false, true} {
		frames := animFrames(4, 24, 10, 2, alpha)
		exif := PillowEXIF([]EXIFTag{{0x0110, "prompt:{}"}})
		var buf bytes.Buffer
		err := EncodeAnimatedWebP(&buf, frames, WebPOptions{Lossless: true, Quality: 80, Method: 4, Duration: 125, EXIF: exif})
		if errors.Is(err, ErrWebPUnavailable) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		info, ok := parseVP8X(buf.Bytes())
		if !ok || !info.animated || info.frames != 3 || info.alpha != alpha || !bytes.Equal(info.exif, exif) {
			t.Errorf("alpha %v: header %+v", alpha, info)
		}
		all, err := libwebp.DecodeAll(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(all.Delay, []int{125, 250, 125}) {
			t.Errorf("delays %v", all.Delay)
		}
		// libwebp's animation decoder (Decode's) works in premultiplied
		// alpha, which rounds semi-transparent colours, so each frame,
		// stored whole, is decoded on its own instead.
		for i, k := range []int{0, 1, 3} {
			got := anmfFrame(t, buf.Bytes(), i)
			want := toNRGBA(frames[k])
			if alpha {
				// Without Pillow's exact option libwebp may change the
				// colour of fully transparent pixels.
				for p := 0; p < len(want.Pix); p += 4 {
					if want.Pix[p+3] == 0 {
						copy(want.Pix[p:p+3], got.Pix[p:p+3])
					}
				}
			}
			if !reflect.DeepEqual(got.Pix, want.Pix) {
				t.Errorf("alpha %v: frame %d differs", alpha, i)
			}
		}
	}
}

// anmfFrame decodes the image data of ANMF frame i of an animated WebP as a
// still WebP.
func anmfFrame(t *testing.T, data []byte, i int) *image.NRGBA {
	t.Helper()
	info, _ := parseVP8X(data)
	var frame []byte
	n := 0
	riffChunks(data, func(id string, p []byte) bool {
		if id == "ANMF" {
			if n == i {
				frame = p[16:]
			}
			n++
		}
		return true
	})
	var w webpWriter
	w.vp8x(image.Pt(info.width, info.height), info.alpha, false, false)
	w.buf.Write(frame)
	var file bytes.Buffer
	if err := w.flush(&file); err != nil {
		t.Fatal(err)
	}
	img, err := xwebp.Decode(&file)
	if err != nil {
		t.Fatalf("frame %d: %v", i, err)
	}
	return toNRGBA(img)
}

// Lossy frames decode to the right size; one frame is a still WebP whose
// EXIF loses Pillow's "Exif\0\0" prefix.
func TestEncodeWebPLossyAndStill(t *testing.T) {
	frames := animFrames(2, 20, 12, -1, false)
	var buf bytes.Buffer
	err := EncodeAnimatedWebP(&buf, frames, WebPOptions{Quality: 0, Method: 0, Duration: 40})
	if errors.Is(err, ErrWebPUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(bytes.NewReader(buf.Bytes()), Options{})
	if err != nil || len(d.Frames) != 2 || d.Frames[1].Bounds() != frames[0].Bounds() {
		t.Fatalf("decoded %v, %v", d, err)
	}
	buf.Reset()
	exif := PillowEXIF(nil)
	if err := EncodeAnimatedWebP(&buf, frames[:1], WebPOptions{Lossless: true, Quality: 100, EXIF: exif}); err != nil {
		t.Fatal(err)
	}
	info, ok := parseVP8X(buf.Bytes())
	if !ok || info.animated || !bytes.Equal(info.exif, exif[6:]) {
		t.Errorf("still header %+v", info)
	}
	if err := EncodeAnimatedWebP(io.Discard, frames, WebPOptions{Duration: 1 << 24}); !errors.Is(err, ErrWebPDuration) {
		t.Errorf("long duration: %v", err)
	}
}

func TestPillowEXIF(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags []EXIFTag
		want string
	}{
		{"empty", nil, "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00"},
		{"short values inline, sorted, last wins, non-ASCII replaced", []EXIFTag{{0x0110, "x"}, {0x010f, "\u00e9"}, {0x0110, "abc"}},
			"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x02" +
				"\x01\x0f\x00\x02\x00\x00\x00\x02?\x00\x00\x00" +
				"\x01\x10\x00\x02\x00\x00\x00\x04abc\x00" + "\x00\x00\x00\x00"},
		{"long values after the IFD, padded to even", []EXIFTag{{0x0110, "abcde"}, {0x010e, "abcdef"}},
			"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x02" +
				"\x01\x0e\x00\x02\x00\x00\x00\x07\x00\x00\x00\x26" +
				"\x01\x10\x00\x02\x00\x00\x00\x06\x00\x00\x00\x2e" + "\x00\x00\x00\x00" +
				"abcdef\x00\x00" + "abcde\x00"},
	} {
		if got := PillowEXIF(tc.tags); string(got) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestEncodePNG16(t *testing.T) {
	ti := tensor.NewImage(1, 3, 4, 4)
	for i := range ti.Pix {
		ti.Pix[i] = float32(i)/float32(len(ti.Pix)-1)*1.2 - 0.1
	}
	ti.Pix[5] = float32(math.NaN())
	ti3 := tensor.NewImage(1, 3, 4, 3)
	copy(ti3.Pix, ti.Pix)
	for _, tc := range []struct {
		img  image.Image
		want image.Image // what image/png decodes
	}{
		{FromTensor16(ti, 0), image.NewNRGBA64(image.Rect(0, 0, 4, 3))},
		{FromTensor16(ti3, 0), image.NewRGBA64(image.Rect(0, 0, 4, 3))},
	} {
		data := encodePNG(t, tc.img, LevelSave, nil)
		got, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(tc.want) {
			t.Fatalf("decoded %T, want %T", got, tc.want)
		}
		src := ti
		if _, ok := tc.img.(*RGB48); ok {
			src = ti3
		}
		for y := range 3 {
			for x := range 4 {
				r, g, b, a := got.At(x, y).RGBA()
				if n, ok := got.(*image.NRGBA64); ok {
					c := n.NRGBA64At(x, y)
					r, g, b, a = uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
				}
				px := src.Pix[(y*4+x)*src.C:]
				for ch, v := range []uint32{r, g, b, a}[:src.C] {
					if want := uint32(to16(px[ch])); v != want {
						t.Errorf("%T (%d,%d) ch %d = %d, want %d", tc.img, x, y, ch, v, want)
					}
				}
			}
		}
	}
	if FromTensor16(tensor.NewImage(1, 1, 1, 1), 0) != nil {
		t.Error("one channel converted")
	}
}

func TestTo16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{{0, 0}, {1, 65535}, {-1, 0}, {2, 65535}, {0.5, 32767}, {float32(math.NaN()), 0}, {1 / 65535.0, 1}} {
		if got := to16(tc.in); got != tc.want {
			t.Errorf("to16(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestEncodeEXR(t *testing.T) {
	r := []float32{1, 2, 3, 4, 5, 6}
	g := []float32{-1, 0.5, 7, 8, 9, 10}
	var buf bytes.Buffer
	err := EncodeEXR(&buf, 3, 2, []EXRChannel{{"R", r}, {"G", g}}, []EXRAttribute{{"prompt", "string", []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("\x76\x2f\x31\x01\x02\x00\x00\x00channels\x00chlist\x00\x25\x00\x00\x00G\x00")) {
		t.Errorf("header starts %q", b[:40])
	}
	i := bytes.Index(b, []byte("prompt\x00string\x00\x02\x00\x00\x00{}\x00"))
	if i < 0 {
		t.Fatal("no prompt attribute before the header's end")
	}
	table := i + len("prompt\x00string\x00\x02\x00\x00\x00{}\x00")
	for y := range 2 {
		off := binary.LittleEndian.Uint64(b[table+8*y:])
		line := b[off:]
		if binary.LittleEndian.Uint32(line) != uint32(y) || binary.LittleEndian.Uint32(line[4:]) != 24 {
			t.Fatalf("scanline %d header %x", y, line[:8])
		}
		for x := range 3 {
			gv := math.Float32frombits(binary.LittleEndian.Uint32(line[8+4*x:]))
			rv := math.Float32frombits(binary.LittleEndian.Uint32(line[8+12+4*x:]))
			if gv != g[y*3+x] || rv != r[y*3+x] {
				t.Errorf("(%d,%d) = G %v R %v", x, y, gv, rv)
			}
		}
	}
	for _, bad := range [][]EXRChannel{nil, {{"R", r[:5]}}} {
		if EncodeEXR(io.Discard, 3, 2, bad, nil) == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if EncodeEXR(io.Discard, 0, 2, []EXRChannel{{"R", nil}}, nil) == nil {
		t.Error("0 width accepted")
	}
}

// The transfer functions follow their formulas, including the branch
// points and out-of-range input.
func TestLinearTransfers(t *testing.T) {
	srgb := func(v float64) float64 {
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((math.Max(v, 0)+0.055)/1.055, 2.4)
	}
	hlg := func(v float64) float64 {
		if v <= 0.5 {
			return v * v / 3
		}
		return (math.Exp((math.Max(v, hlgC)-hlgC)/hlgA) + hlgB) / 12
	}
	for _, v := range []float32{-0.5, 0, 0.04045, 0.0405, 0.2, 0.5, 0.50001, 0.56, 0.9, 1, 1.7} {
		for name, f := range map[string][2]func(float64) float64{"sRGB": {srgb}, "HLG": {hlg}} {
			got := SRGBToLinear(v)
			if name == "HLG" {
				got = HLGToLinear(v)
			}
			want := f[0](float64(v))
			if math.Abs(float64(got)-want) > 4e-7*math.Max(1, math.Abs(want)) {
				t.Errorf("%s(%v) = %v, want %v", name, v, got, want)
			}
		}
	}
}
