package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// exifBlock returns a TIFF-structured EXIF block whose IFD0 holds only the
// Orientation tag, in the given byte order.
func exifBlock(bo binary.AppendByteOrder, o uint16) []byte {
	b := []byte("II*\x00")
	if bo == binary.BigEndian {
		b = []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8) // IFD0 offset
	b = bo.AppendUint16(b, 2) // two entries: an unrelated one, then Orientation
	b = bo.AppendUint16(b, 0x010f)
	b = bo.AppendUint16(b, 2) // ASCII
	b = bo.AppendUint32(b, 4)
	b = append(b, "Go\x00\x00"...)
	b = bo.AppendUint16(b, tagOrientation)
	b = bo.AppendUint16(b, typeShort)
	b = bo.AppendUint32(b, 1)
	b = bo.AppendUint16(b, o)
	b = bo.AppendUint16(b, 0)
	return bo.AppendUint32(b, 0) // no next IFD
}

// withAPP1 inserts an APP1 Exif segment after a JPEG's SOI marker.
func withAPP1(jpg, exif []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), exif...)
	app1 := binary.BigEndian.AppendUint16([]byte{0xff, 0xe1}, uint16(len(seg)+2))
	return append(append(append([]byte{}, jpg[:2]...), append(app1, seg...)...), jpg[2:]...)
}

// The expected images are what Pillow 9.4's ImageOps.exif_transpose returns
// for a 3×2 grey image with values 0, 40, …, 200 and each orientation.
var pillowTransposed = map[uint16][][]uint8{
	1: {{0, 40, 80}, {120, 160, 200}},
	2: {{80, 40, 0}, {200, 160, 120}},
	3: {{200, 160, 120}, {80, 40, 0}},
	4: {{120, 160, 200}, {0, 40, 80}},
	5: {{0, 120}, {40, 160}, {80, 200}},
	6: {{120, 0}, {160, 40}, {200, 80}},
	7: {{200, 80}, {160, 40}, {120, 0}},
	8: {{80, 200}, {40, 160}, {0, 120}},
}

func TestOrientationPNG(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range src.Pix {
		src.Pix[i] = uint8(40 * i)
	}
	for o, want := range pillowTransposed {
		for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(fmt.Sprint(o, bo), func(t *testing.T) {
				b := encodePNG(t, src, 4, nil)
				b = append(append(append([]byte{}, b[:33]...), appendChunk(nil, "eXIf", exifBlock(bo, o))...), b[33:]...)
				got := decode(t, b, Options{}).Frames[0].(*image.Gray)
				var rows [][]uint8
				for y := range got.Rect.Dy() {
					rows = append(rows, got.Pix[y*got.Stride:y*got.Stride+got.Rect.Dx()])
				}
				if fmt.Sprint(rows) != fmt.Sprint(want) {
					t.Errorf("got %v, want %v", rows, want)
				}
				kept := decode(t, b, Options{NoOrientation: true}).Frames[0]
				if diff := sameNRGBA(kept, src); diff != "" {
					t.Errorf("NoOrientation: %s", diff)
				}
			})
		}
	}
}

// A JPEG of four flat quadrants (red, green / blue, white), each 32×16 so
// that chroma subsampling does not blur them into each other.
func quadrantJPEG(t testing.TB) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 64, 32))
	quad := []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}}
	for y := range 32 {
		for x := range 64 {
			m.Set(x, y, quad[y/16*2+x/32])
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOrientationJPEG(t *testing.T) {
	jpg := quadrantJPEG(t)
	// Where the red (top-left) quadrant's centre lands, as a fraction of the
	// output size, following the 3×2 table above: the value 0 marks it.
	for o, grid := range pillowTransposed {
		img := decode(t, withAPP1(jpg, exifBlock(binary.BigEndian, o)), Options{}).Frames[0]
		b := img.Bounds()
		if o >= 5 && (b.Dx() != 32 || b.Dy() != 64) || o < 5 && (b.Dx() != 64 || b.Dy() != 32) {
			t.Fatalf("orientation %d: size %v", o, b.Size())
		}
		for y, row := range grid {
			for x, v := range row {
				if v != 0 && v != 200 {
					continue
				}
				// Centre of the cell (x, y) of a len(row)×len(grid) grid; the
				// 3-wide axis holds the 2-wide quadrant axis, so use its ends.
				cx := b.Dx() * (2*x + 1) / (2 * len(row))
				cy := b.Dy() * (2*y + 1) / (2 * len(grid))
				r, g, bl, _ := img.At(cx, cy).RGBA()
				want := map[uint8][3]bool{0: {true, false, false}, 200: {true, true, true}}[v]
				if got := [3]bool{r > 0x8000, g > 0x8000, bl > 0x8000}; got != want {
					t.Errorf("orientation %d: cell (%d,%d) colour %v, want %v", o, x, y, got, want)
				}
			}
		}
	}
}

func TestOrientationParse(t *testing.T) {
	for name, tc := range map[string]struct {
		exif []byte
		want int
	}{
		"le":              {exifBlock(binary.LittleEndian, 6), 6},
		"be":              {exifBlock(binary.BigEndian, 8), 8},
		"Exif prefix":     {append([]byte("Exif\x00\x00"), exifBlock(binary.BigEndian, 3)...), 3},
		"out of range":    {exifBlock(binary.BigEndian, 9), 0},
		"zero":            {exifBlock(binary.BigEndian, 0), 0},
		"empty":           {nil, 0},
		"bad order":       {[]byte("XX*\x00\x08\x00\x00\x00\x00\x00"), 0},
		"offset past end": {[]byte("II*\x00\xff\x00\x00\x00"), 0},
		"truncated IFD":   {exifBlock(binary.LittleEndian, 6)[:20], 0},
	} {
		if got := orientation(tc.exif); got != tc.want {
			t.Errorf("%s: %d, want %d", name, got, tc.want)
		}
	}
}

func TestOrientTypes(t *testing.T) {
	// orient keeps plain raster types and converts the others (as plain
	// does); each result must hold the same pixels, rotated.
	for _, tc := range testImages() {
		if b := tc.img.Bounds(); b.Dx()*b.Dy() > 10000 {
			continue // the large ones add nothing here
		}
		got, src := orient(tc.img, 6), plain(tc.img)
		b := tc.img.Bounds()
		if got.Bounds().Dx() != b.Dy() || got.Bounds().Dy() != b.Dx() {
			t.Fatalf("%s: size %v", tc.name, got.Bounds())
		}
		for y := range b.Dy() {
			for x := range b.Dx() {
				want := color.NRGBAModel.Convert(src.At(src.Bounds().Min.X+x, src.Bounds().Min.Y+y))
				if c := color.NRGBAModel.Convert(got.At(b.Dy()-1-y, x)); c != want {
					t.Fatalf("%s: pixel (%d,%d) %v, want %v", tc.name, x, y, c, want)
				}
			}
		}
		if hasAlpha(got) != hasAlpha(tc.img) {
			t.Errorf("%s: alpha lost or gained", tc.name)
		}
	}
}
