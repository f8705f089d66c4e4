package imagefile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	libwebp "github.com/gen2brain/webp"

	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// The hidden inputs of testdata/gen.py's save cases (PROMPT, EXTRA).
const (
	goldenPrompt = `{"3":{"inputs":{"cfg":7.5,"text":"caf\u00e9 \u2603","model":["4",0]},"class_type":"KSampler"}}`
	goldenExtra  = `{"workflow": {"nodes": [], "version": 0.4}, "extra": "x"}`
	goldenSVG    = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"\n width=\"4\" height=\"4\">" +
		"<svg x=\"1\"><rect width=\"1\" height=\"1\"/></svg><text>\u00e9</text></svg>\n"
)

// pattern is gen.py's pattern(): a ramp per channel; frames 1 and 2 alike
// with a changed 3×3 rectangle at (2, 1); frames from 3 on changed all
// over; bytes/255 in float32, then times scale plus offset.
func pattern(b, h, w, c int, scale, offset float32) *tensor.Image {
	img := tensor.NewImage(b, h, w, c)
	i := 0
	for bb := range b {
		for y := range h {
			for x := range w {
				for ch := range c {
					bump := 0
					switch {
					case (bb == 1 || bb == 2) && x >= 2 && x < 5 && y >= 1 && y < 4:
						bump = 50
					case bb >= 3:
						bump = 40 * (bb - 2)
					}
					v := float32(uint8((7*x+3*y+85*ch+bump)%256)) / 255
					if scale != 1 || offset != 0 {
						v = float32(v*scale) + offset
					}
					img.Pix[i] = v
					i++
				}
			}
		}
	}
	return img
}

// goldenRuntime returns a runtime with gen.py's hidden inputs (or none).
func goldenRuntime(t *testing.T, folders node.Folders, meta bool) *node.Runtime {
	t.Helper()
	rt := &node.Runtime{Folders: folders}
	if meta {
		p, err := node.ParsePrompt([]byte(goldenPrompt))
		if err != nil {
			t.Fatal(err)
		}
		rt.Prompt, rt.ExtraPNGInfo = p, []byte(goldenExtra)
	}
	return rt
}

// saveCase is one case of gen.py's saves().
type saveCase struct {
	name   string
	class  *node.Class
	meta   bool
	values map[string]any
}

var saveCases = []saveCase{
	{"apng_rgb", saveAnimatedPNG, true, map[string]any{"images": pattern(4, 5, 6, 3, 1, 0), "fps": 8.0, "compress_level": int64(4)}},
	{"apng_rgba_single", saveAnimatedPNG, false, map[string]any{"images": pattern(1, 5, 6, 4, 1, 0), "fps": 6.0, "compress_level": int64(9)}},
	{"webp_lossless", saveAnimatedWEBP, true, map[string]any{"images": pattern(4, 5, 6, 3, 1, 0), "fps": 8.0,
		"lossless": true, "quality": int64(80), "method": "default"}},
	{"webp_rgba_single", saveAnimatedWEBP, false, map[string]any{"images": pattern(1, 5, 6, 4, 1, 0), "fps": 6.0,
		"lossless": true, "quality": int64(100), "method": "fastest"}},
	{"svg", saveSVG, true, map[string]any{"svg": &SVG{Data: [][]byte{[]byte(goldenSVG), []byte("<svg/>")}}}},
	{"svg_no_metadata", saveSVG, false, map[string]any{"svg": &SVG{Data: [][]byte{[]byte(goldenSVG)}}}},
	{"png8", saveImageAdvanced, true, advanced(pattern(1, 5, 6, 3, 1.5, -0.25), "png", "8-bit", "sRGB")},
	{"png16_rgba", saveImageAdvanced, true, advanced(pattern(2, 5, 6, 4, 1.5, -0.25), "png", "16-bit", "sRGB")},
	{"png16_rgb", saveImageAdvanced, false, advanced(pattern(1, 5, 6, 3, 1.5, -0.25), "png", "16-bit", "sRGB")},
	{"exr_sRGB", saveImageAdvanced, true, advanced(pattern(1, 5, 6, 3, 1.5, -0.25), "exr", "32-bit float", "sRGB")},
	{"exr_HDR", saveImageAdvanced, true, advanced(pattern(1, 5, 6, 3, 1.5, -0.25), "exr", "32-bit float", "HDR")},
	{"exr_linear", saveImageAdvanced, true, advanced(pattern(1, 5, 6, 3, 1.5, -0.25), "exr", "32-bit float", "linear")},
	{"exr_no_metadata", saveImageAdvanced, false, advanced(pattern(1, 3, 2, 3, 1, 0), "exr", "32-bit float", "linear")},
}

func advanced(images *tensor.Image, format, depth, space string) map[string]any {
	return map[string]any{"images": images, "format": format, "format.bit_depth": depth,
		"format.input_color_space": space}
}

// runSave runs a case into a fresh output folder and returns the UI and
// the folder.
func runSave(t *testing.T, sc saveCase) (ui any, dir string) {
	t.Helper()
	folders, base := testFolders(t)
	values := map[string]any{"filename_prefix": sc.name}
	for k, v := range sc.values {
		values[k] = v
	}
	res, err := run(t, sc.class, goldenRuntime(t, folders, sc.meta), values)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs[0] != sc.values["images"] && res.Outputs[0] != sc.values["svg"] {
		t.Errorf("output 0 is not the input passed through")
	}
	data, err := pyjson.Marshal(res.UI)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ui); err != nil {
		t.Fatal(err)
	}
	return ui, filepath.Join(base, "output")
}

// goldenFiles are the files ComfyUI wrote for a case, in UI order.
func goldenFiles(t *testing.T, name string, ui map[string]any) []string {
	t.Helper()
	images := ui["images"].([]any)
	var out []string
	for i, e := range images {
		ext := filepath.Ext(e.(map[string]any)["filename"].(string))
		f := name + ext
		if len(images) > 1 {
			f = name + "_" + string(rune('0'+i)) + ext
		}
		out = append(out, filepath.Join("testdata", "saved", f))
	}
	return out
}

// The UI payloads and the files match what ComfyUI's code wrote in
// testdata/saved (see gen.py), up to the differences each check states.
func TestSavesMatchComfyUI(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "saved", "ui.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wantUI map[string]any
	if err := json.Unmarshal(raw, &wantUI); err != nil {
		t.Fatal(err)
	}
	for _, sc := range saveCases {
		t.Run(sc.name, func(t *testing.T) {
			ui, dir := runSave(t, sc)
			want := wantUI[sc.name].(map[string]any)
			if !reflect.DeepEqual(ui, want) {
				t.Fatalf("ui = %v, want %v", ui, want)
			}
			for i, g := range goldenFiles(t, sc.name, want) {
				name := want["images"].([]any)[i].(map[string]any)["filename"].(string)
				got := readFile(t, filepath.Join(dir, name))
				compareSaved(t, sc.name, got, readFile(t, g))
			}
		})
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareSaved(t *testing.T, name string, got, want []byte) {
	switch {
	case name[:3] == "svg":
		if !bytes.Equal(got, want) {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	case name[:3] == "exr":
		compareEXR(t, got, want, name == "exr_linear" || name == "exr_no_metadata")
	case name[:4] == "apng":
		compareAPNG(t, got, want)
	case name[:4] == "webp":
		compareWebP(t, got, want)
	default:
		comparePNG(t, got, want)
	}
}

// comparePNG: same pixels and text chunks (FFmpeg's encoder, which ComfyUI
// uses, also writes pHYs and filters and deflates differently).
func comparePNG(t *testing.T, got, want []byte) {
	t.Helper()
	gi, err1 := png.Decode(bytes.NewReader(got))
	wi, err2 := png.Decode(bytes.NewReader(want))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if reflect.TypeOf(gi) != reflect.TypeOf(wi) || !reflect.DeepEqual(gi, wi) {
		t.Errorf("pixels differ: %T vs %T", gi, wi)
	}
	gt, _ := imageio.ReadPNGText(bytes.NewReader(got))
	wt, _ := imageio.ReadPNGText(bytes.NewReader(want))
	if !reflect.DeepEqual(gt, wt) {
		t.Errorf("text = %q, want %q", gt, wt)
	}
	// ComfyUI inserts its tEXt chunks right after IHDR.
	for i, c := range pngChunks(t, got)[1 : 1+len(wt)] {
		if c.typ != "tEXt" {
			t.Errorf("chunk %d is %s, want tEXt", i+1, c.typ)
		}
	}
}

// compareEXR: the header (attributes and offset table) is byte for byte
// FFmpeg's plus ComfyUI's, and the samples are equal (linear input) or
// within 2 float32 ulps (where torch's pow and exp round differently).
func compareEXR(t *testing.T, got, want []byte, exact bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d", len(got), len(want))
	}
	// Walk the attributes to the offset table, whose first entry is where
	// the scanlines start.
	p := 8
	for want[p] != 0 {
		p += bytes.IndexByte(want[p:], 0) + 1              // name
		p += bytes.IndexByte(want[p:], 0) + 1              // type
		p += 4 + int(binary.LittleEndian.Uint32(want[p:])) // size, value
	}
	start := binary.LittleEndian.Uint64(want[p+1:])
	if !bytes.Equal(got[:start], want[:start]) {
		t.Errorf("header differs:\n got %q\nwant %q", got[:start], want[:start])
	}
	for p := int(start); p < len(want); {
		n := int(binary.LittleEndian.Uint32(want[p+4:]))
		if !bytes.Equal(got[p:p+8], want[p:p+8]) {
			t.Errorf("scanline header at %d differs", p)
		}
		for i := p + 8; i < p+8+n; i += 4 {
			g, w := binary.LittleEndian.Uint32(got[i:]), binary.LittleEndian.Uint32(want[i:])
			d := int64(g) - int64(w)
			if exact && d != 0 || d < -2 || d > 2 {
				t.Errorf("sample at %d = %v, want %v", i, math.Float32frombits(g), math.Float32frombits(w))
			}
		}
		p += 8 + n
	}
}

// compareAPNG: same IHDR, same comf chunks, same frame rectangles, and the
// composed frames equal. Pillow 9.4 (the golden) writes each delay as
// ms/1000, drops a repeated frame's duration and writes one frame as an
// APNG; current Pillow, which this follows, reduces the fraction, adds the
// duration and writes a plain PNG.
func compareAPNG(t *testing.T, got, want []byte) {
	t.Helper()
	gc, wc := pngChunks(t, got), pngChunks(t, want)
	if !bytes.Equal(gc[0].data, wc[0].data) {
		t.Errorf("IHDR %x, want %x", gc[0].data, wc[0].data)
	}
	pick := func(cs []pngChunk, typ string) (out [][]byte) {
		for _, c := range cs {
			if c.typ == typ {
				out = append(out, c.data)
			}
		}
		return out
	}
	if !reflect.DeepEqual(pick(gc, "comf"), pick(wc, "comf")) {
		t.Errorf("comf chunks = %q, want %q", pick(gc, "comf"), pick(wc, "comf"))
	}
	gf, wf := pick(gc, "fcTL"), pick(wc, "fcTL")
	if len(wf) == 1 {
		if len(gf) != 0 || len(pick(gc, "acTL")) != 0 {
			t.Errorf("one frame written as APNG")
		}
	} else {
		delays := [][2]uint16{{1, 8}, {1, 4}, {1, 8}}
		if len(gf) != len(wf) {
			t.Fatalf("%d frames, want %d", len(gf), len(wf))
		}
		for i := range gf {
			if !bytes.Equal(gf[i][4:20], wf[i][4:20]) || !bytes.Equal(gf[i][24:], wf[i][24:]) {
				t.Errorf("fcTL %d = %x, want %x", i, gf[i], wf[i])
			}
			num, den := binary.BigEndian.Uint16(gf[i][20:]), binary.BigEndian.Uint16(gf[i][22:])
			if [2]uint16{num, den} != delays[i] {
				t.Errorf("frame %d delay %d/%d, want %v", i, num, den, delays[i])
			}
		}
	}
	gFrames, wFrames := apngFrames(t, gc), apngFrames(t, wc)
	if !reflect.DeepEqual(gFrames, wFrames) {
		t.Errorf("composed frames differ")
	}
}

// compareWebP: the same composed frames and delays (lossless) and the same
// EXIF payload, libwebp's animation encoder's frame rectangles aside.
func compareWebP(t *testing.T, got, want []byte) {
	t.Helper()
	g, err1 := libwebp.DecodeAll(bytes.NewReader(got))
	w, err2 := libwebp.DecodeAll(bytes.NewReader(want))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !reflect.DeepEqual(g.Delay, w.Delay) && len(w.Image) > 1 {
		t.Errorf("delays %v, want %v", g.Delay, w.Delay)
	}
	if len(g.Image) != len(w.Image) {
		t.Fatalf("%d frames, want %d", len(g.Image), len(w.Image))
	}
	for i := range g.Image {
		if !reflect.DeepEqual(g.Image[i], w.Image[i]) {
			t.Errorf("frame %d differs", i)
		}
	}
	if ge, we := riffChunk(got, "EXIF"), riffChunk(want, "EXIF"); !bytes.Equal(ge, we) {
		t.Errorf("EXIF %q, want %q", ge, we)
	}
}

type pngChunk struct {
	typ  string
	data []byte
}

// pngChunks splits a PNG file into chunks, checking each CRC.
func pngChunks(t *testing.T, b []byte) []pngChunk {
	t.Helper()
	var out []pngChunk
	for p := 8; p < len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		c := pngChunk{string(b[p+4 : p+8]), b[p+8 : p+8+n]}
		if crc32.ChecksumIEEE(b[p+4:p+8+n]) != binary.BigEndian.Uint32(b[p+8+n:]) {
			t.Fatalf("%s: bad CRC", c.typ)
		}
		out = append(out, c)
		p += 12 + n
	}
	return out
}

// apngFrames composes the frames of an APNG (dispose none, blend source)
// as RGBA canvases; a plain PNG is one frame.
func apngFrames(t *testing.T, chunks []pngChunk) []*image.NRGBA {
	t.Helper()
	ihdr := chunks[0].data
	canvas := image.NewNRGBA(image.Rect(0, 0, int(binary.BigEndian.Uint32(ihdr)), int(binary.BigEndian.Uint32(ihdr[4:]))))
	var frames []*image.NRGBA
	var rect image.Rectangle
	var data []byte
	flush := func() {
		if data == nil {
			return
		}
		hdr := append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(rect.Dx())), uint32(rect.Dy())), ihdr[8:]...)
		var f bytes.Buffer
		f.WriteString("\x89PNG\r\n\x1a\n")
		for _, c := range []pngChunk{{"IHDR", hdr}, {"IDAT", data}, {"IEND", nil}} {
			f.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.data))))
			f.WriteString(c.typ)
			f.Write(c.data)
			f.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(append([]byte(c.typ), c.data...))))
		}
		img, err := png.Decode(&f)
		if err != nil {
			t.Fatal(err)
		}
		draw.Draw(canvas, rect, img, image.Point{}, draw.Src)
		frames = append(frames, image.NewNRGBA(canvas.Rect))
		copy(frames[len(frames)-1].Pix, canvas.Pix)
		data = nil
	}
	rect = canvas.Rect
	for _, c := range chunks {
		switch c.typ {
		case "fcTL":
			flush()
			d := c.data
			x, y := int(binary.BigEndian.Uint32(d[12:])), int(binary.BigEndian.Uint32(d[16:]))
			rect = image.Rect(x, y, x+int(binary.BigEndian.Uint32(d[4:])), y+int(binary.BigEndian.Uint32(d[8:])))
		case "IDAT":
			data = append(data, c.data...)
		case "fdAT":
			data = append(data, c.data[4:]...)
		}
	}
	flush()
	return frames
}

// riffChunk returns the payload of the first chunk id of a WebP file.
func riffChunk(b []byte, id string) []byte {
	for p := 12; p+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[p+4:]))
		if string(b[p:p+4]) == id {
			return b[p+8 : p+8+n]
		}
		p += 8 + n + n%2
	}
	return nil
}

// Bad input fails as ComfyUI's code does, with the Python exception type
// and message; a single frame has no delay to overflow.
func TestSaveNodeErrors(t *testing.T) {
	twoFrames := pattern(2, 5, 6, 3, 1, 0)
	for _, tc := range []struct {
		name    string
		class   *node.Class
		values  map[string]any
		typ     string // "" for success
		message string
	}{
		// int(1000/0.013) = 76923 ms, a delay of 76923/1000 s.
		{"apng delay", saveAnimatedPNG, map[string]any{"images": twoFrames, "fps": 0.013, "compress_level": int64(4)},
			"ValueError", "cannot write duration"},
		{"apng one frame, long", saveAnimatedPNG, map[string]any{"images": pattern(1, 5, 6, 3, 1, 0), "fps": 0.013,
			"compress_level": int64(4)}, "", ""},
		// Pillow's fromarray takes two channels (grey and alpha), not one.
		{"apng one channel", saveAnimatedPNG, map[string]any{"images": pattern(2, 5, 6, 1, 1, 0), "fps": 6.0,
			"compress_level": int64(4)}, "TypeError", "Cannot handle this data type: (1, 1, 1), |u1"},
		{"webp five channels", saveAnimatedWEBP, map[string]any{"images": pattern(1, 5, 6, 5, 1, 0), "fps": 6.0,
			"lossless": true, "quality": int64(80), "method": "default"},
			"TypeError", "Cannot handle this data type: (1, 1, 5), |u1"},
		{"apng grey and alpha", saveAnimatedPNG, map[string]any{"images": pattern(2, 5, 6, 2, 1, 0), "fps": 6.0,
			"compress_level": int64(4)}, "", ""},
		{"webp empty batch", saveAnimatedWEBP, map[string]any{"images": tensor.NewImage(0, 5, 6, 3), "fps": 6.0,
			"lossless": true, "quality": int64(80), "method": "default"},
			"IndexError", "index 0 is out of bounds for dimension 0 with size 0"},
		{"advanced two channels", saveImageAdvanced, advanced(pattern(1, 5, 6, 2, 1, 0), "exr", "32-bit float", "linear"),
			"ValueError", "Unexpected numpy array shape `(5, 6, 2)`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			folders, _ := testFolders(t)
			values := map[string]any{"filename_prefix": "x"}
			for k, v := range tc.values {
				values[k] = v
			}
			_, err := run(t, tc.class, goldenRuntime(t, folders, true), values)
			checkException(t, err, tc.typ, tc.message)
		})
	}
}

// An SVG that is not UTF-8 fails with the UnicodeDecodeError Python's
// decode raises, bad bytes and reason as Python reports them.
func TestSaveSVGInvalidUTF8(t *testing.T) {
	for doc, message := range map[string]string{
		"ab\xff":               "byte 0xff in position 2: invalid start byte",
		"<svg>\x80":            "byte 0x80 in position 5: invalid start byte",
		"x\xe2\x82A":           "bytes in position 1-2: invalid continuation byte",
		"x\xe2A":               "byte 0xe2 in position 1: invalid continuation byte",
		"x\xe0\x80\x80":        "byte 0xe0 in position 1: invalid continuation byte",
		"\xed\xa0\x80":         "byte 0xed in position 0: invalid continuation byte",
		"ab\xf0\x9f\x98":       "bytes in position 2-4: unexpected end of data",
		"ab\xe2":               "byte 0xe2 in position 2: unexpected end of data",
		"\xf4\x90\x80\x80":     "byte 0xf4 in position 0: invalid continuation byte",
		"\xc0\xaf":             "byte 0xc0 in position 0: invalid start byte",
		"\xf0\x9f\x98\x80\xf5": "byte 0xf5 in position 4: invalid start byte",
	} {
		folders, _ := testFolders(t)
		_, err := run(t, saveSVG, goldenRuntime(t, folders, false),
			map[string]any{"svg": &SVG{Data: [][]byte{[]byte(doc)}}, "filename_prefix": "x"})
		checkException(t, err, "UnicodeDecodeError", "'utf-8' codec can't decode "+message)
	}
}

// checkException checks that err is a node.Exception of the given type and
// message, or nil when typ is "".
func checkException(t *testing.T, err error, typ, message string) {
	t.Helper()
	if typ == "" {
		if err != nil {
			t.Errorf("err = %v", err)
		}
		return
	}
	var e *node.Exception
	if !errors.As(err, &e) || e.Type != typ || e.Message != message {
		t.Errorf("err = %#v, want %s: %s", err, typ, message)
	}
}

// Two channels are grey and alpha, as Pillow's fromarray reads them.
func TestSaveGreyAlpha(t *testing.T) {
	folders, base := testFolders(t)
	images := pattern(1, 5, 6, 2, 1, 0)
	res, err := run(t, saveImage, goldenRuntime(t, folders, false), map[string]any{"images": images, "filename_prefix": "la"})
	if err != nil {
		t.Fatal(err)
	}
	name := field(uiImages(t, res)[0], "filename").(string)
	img, err := png.Decode(bytes.NewReader(readFile(t, filepath.Join(base, "output", name))))
	if err != nil {
		t.Fatal(err)
	}
	to8 := func(v float32) uint8 { return uint8(min(max(255*v, 0), 255)) }
	for y := range 5 {
		for x := range 6 {
			l, a := images.Pix[(y*6+x)*2], images.Pix[(y*6+x)*2+1]
			want := color.NRGBA{to8(l), to8(l), to8(l), to8(a)}
			if got := color.NRGBAModel.Convert(img.At(x, y)); got != want {
				t.Errorf("(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

// utf8Error handles any invalid input without panicking and names a
// position inside it.
func FuzzUTF8Error(f *testing.F) {
	for _, s := range []string{"ab\xff", "x\xe2\x82A", "ab\xf0\x9f\x98", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if utf8.Valid(b) {
			return
		}
		msg := utf8Error(b)
		var pos int
		if _, err := fmt.Sscanf(msg[strings.Index(msg, "position ")+len("position "):], "%d", &pos); err != nil || pos >= len(b) {
			t.Errorf("%q: %s", b, msg)
		}
	})
}
