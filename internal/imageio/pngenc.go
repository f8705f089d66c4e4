package imageio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/klauspost/compress/flate"
)

// PNG compression levels as Pillow's compress_level: SaveImage uses 4,
// PreviewImage 1, and Pillow's default (for /view's channel=rgb|a) is 6.
const (
	LevelSave    = 4
	LevelPreview = 1
	LevelDefault = 6
)

// PNG colour types written by EncodePNG.
const (
	ctGray = 0
	ctRGB  = 2
	ctRGBA = 6
)

// Strips are deflated in parallel. A strip of less than minStrip filtered
// bytes is not worth a goroutine; maxStrip keeps each IDAT chunk well
// below PNG's 2³¹−1 limit.
const (
	minStrip = 256 << 10
	maxStrip = 1 << 30
)

// EncodePNG writes img as a PNG with the given text chunks before the
// image data, as Pillow does: tEXt when key and value are Latin-1,
// otherwise iTXt (uncompressed). A key that is not Latin-1, or that contains
// NUL, is an error (Pillow raises for the former).
//
// *RGB is written as 8-bit RGB, *image.NRGBA as RGBA and *image.Gray as
// grey; *RGB48 as 16-bit RGB and *image.NRGBA64 as 16-bit RGBA; other
// images as 8-bit RGB when opaque, else as RGBA.
//
// level is Pillow's compress_level, 0–9 (−1 means 6). Rows are filtered as
// Pillow does (for each row the filter among none, up, sub and Paeth with
// the least sum of absolute byte values); the rows are then split into
// strips deflated in parallel with klauspost/compress, each strip ending
// with a sync flush so that their concatenation is one zlib stream. Level 0
// stores; any other level deflates each strip both with klauspost's encoder
// of that level and Huffman-only, and keeps the shorter. The output is not
// byte-identical to Pillow's, but its chunks other than IDAT are, and so are
// the filtered rows inside IDAT.
func EncodePNG(w io.Writer, img image.Image, level int, text []TextChunk) error {
	level, err := checkPNG(img, level)
	if err != nil {
		return err
	}
	r := pngRaster(img)
	texts, err := textChunks(text)
	if err != nil {
		return err
	}
	strips, err := deflateStrips(r, level)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(pngSignature)
	writeChunk(bw, "IHDR", r.ihdr())
	for _, c := range texts {
		writeChunk(bw, c.typ, c.data)
	}
	for _, s := range strips {
		writeChunk(bw, "IDAT", s...)
	}
	writeChunk(bw, "IEND")
	return bw.Flush()
}

// checkPNG checks that img has a size PNG can hold and returns the
// compression level with −1 replaced by 6.
func checkPNG(img image.Image, level int) (int, error) {
	if level == -1 {
		level = LevelDefault
	}
	if level < 0 || level > 9 {
		return 0, fmt.Errorf("imageio: png compression level %d out of range", level)
	}
	width, height := img.Bounds().Dx(), img.Bounds().Dy()
	if width <= 0 || height <= 0 || width > 1<<31-1 || height > 1<<31-1 {
		return 0, fmt.Errorf("imageio: cannot write a %dx%d png", width, height)
	}
	return level, nil
}

// textChunks encodes text entries as Pillow's PngInfo.add_text does.
func textChunks(text []TextChunk) ([]chunk, error) {
	out := make([]chunk, len(text))
	for i, t := range text {
		c, err := textChunk(t)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// chunk is a PNG chunk's type and data.
type chunk struct {
	typ  string
	data []byte
}

// textChunk encodes a text entry as Pillow's PngInfo.add_text does.
func textChunk(t TextChunk) (chunk, error) {
	key, ok := toLatin1(t.Key)
	if !ok || bytes.IndexByte(key, 0) >= 0 {
		return chunk{}, fmt.Errorf("imageio: png text key %q is not Latin-1 without NUL", t.Key)
	}
	if v, ok := toLatin1(t.Value); ok {
		return chunk{"tEXt", slices.Concat(key, []byte{0}, v)}, nil
	}
	// key, NUL, compression flag 0, method 0, empty language, NUL, empty
	// translated key, NUL, UTF-8 text.
	return chunk{"iTXt", slices.Concat(key, []byte{0, 0, 0, 0, 0}, []byte(t.Value))}, nil
}

// writeChunk writes one chunk whose data is the concatenation of parts.
// Errors stick in the bufio.Writer and surface at its Flush.
func writeChunk(w *bufio.Writer, typ string, parts ...[]byte) {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(n))
	copy(hdr[4:], typ)
	w.Write(hdr[:])
	crc := crc32.ChecksumIEEE(hdr[4:])
	for _, p := range parts {
		w.Write(p)
		crc = crc32.Update(crc, crc32.IEEETable, p)
	}
	binary.BigEndian.PutUint32(hdr[:4], crc)
	w.Write(hdr[:4])
}

// pngPixels is an image's samples laid out as PNG stores them.
type pngPixels struct {
	pix           []uint8 // from the first pixel
	stride        int
	bpp           int // bytes per pixel
	width, height int
	depth, ct     uint8 // PNG bit depth and colour type
}

// sub returns the w×h part of r whose top-left pixel is (x, y).
func (r pngPixels) sub(x, y, w, h int) pngPixels {
	r.pix = r.pix[y*r.stride+x*r.bpp:]
	r.width, r.height = w, h
	return r
}

// ihdr returns the IHDR data of r: size, bit depth and colour type
// (compression, filter and interlace methods are 0).
func (r pngPixels) ihdr() []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(r.width))
	b = binary.BigEndian.AppendUint32(b, uint32(r.height))
	return append(b, r.depth, r.ct, 0, 0, 0)
}

// pngRaster returns the pngPixels of img to write.
func pngRaster(img image.Image) pngPixels {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	r := pngPixels{width: w, height: h, depth: 8}
	switch m := img.(type) {
	case *RGB:
		r.pix, r.stride, r.bpp, r.ct = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 3, ctRGB
	case *image.NRGBA:
		r.pix, r.stride, r.bpp, r.ct = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4, ctRGBA
	case *image.Gray:
		r.pix, r.stride, r.bpp, r.ct = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1, ctGray
	case *RGB48:
		r.pix, r.stride, r.bpp, r.ct, r.depth = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 6, ctRGB, 16
	case *image.NRGBA64:
		r.pix, r.stride, r.bpp, r.ct, r.depth = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 8, ctRGBA, 16
	default:
		if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
			return pngRaster(toRGB(img))
		}
		return pngRaster(toNRGBA(img))
	}
	return r
}

// zlibHeader returns the two-byte zlib header for a deflate level, with
// FLEVEL set as zlib sets it.
func zlibHeader(level int) []byte {
	var flevel uint16
	switch {
	case level < 2:
		flevel = 0
	case level < 6:
		flevel = 1
	case level == 6:
		flevel = 2
	default:
		flevel = 3
	}
	h := uint16(0x78)<<8 | flevel<<6
	if r := h % 31; r != 0 {
		h += 31 - r
	}
	return []byte{byte(h >> 8), byte(h)}
}

// flatePools holds idle klauspost writers (about 1 MB each) for the levels
// flate.HuffmanOnly (−2) to 9, at index level+2.
var flatePools [12]sync.Pool

// deflateStrips filters and compresses the rows of r in parallel strips and
// returns the data of each IDAT chunk: the first starts with the zlib header,
// the last ends with the Adler-32 of all filtered bytes.
func deflateStrips(r pngPixels, level int) ([][][]byte, error) {
	height := r.height
	rowLen := 1 + r.width*r.bpp
	total := int64(rowLen) * int64(height)
	n := int(min(total/minStrip, int64(runtime.GOMAXPROCS(0))))
	n = max(n, 1, int((total+maxStrip-1)/maxStrip))
	n = min(n, height)

	type result struct {
		data  []byte
		adler uint32
		size  int64
		err   error
	}
	res := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		y0, y1 := height*i/n, height*(i+1)/n
		wg.Go(func() {
			filtered := filterRows(r.pix, r.stride, r.bpp, r.width, y0, y1)
			s := &res[i]
			s.adler, s.size = adler32.Checksum(filtered), int64(len(filtered))
			s.data, s.err = deflateStrip(filtered, level, i == n-1)
		})
	}
	wg.Wait()

	out := make([][][]byte, n)
	adler := uint32(1)
	for i, s := range res {
		if s.err != nil {
			return nil, s.err
		}
		adler = adler32Combine(adler, s.adler, s.size)
		out[i] = [][]byte{s.data}
	}
	out[0] = append([][]byte{zlibHeader(level)}, out[0]...)
	out[n-1] = append(out[n-1], binary.BigEndian.AppendUint32(nil, adler))
	return out, nil
}

// filterRows returns rows y0..y1-1 filtered, each led by its filter type.
func filterRows(pix []uint8, stride, bpp, width, y0, y1 int) []byte {
	n := width * bpp
	f := newFilter(n, bpp)
	out := make([]byte, 0, (y1-y0)*(n+1))
	for y := y0; y < y1; y++ {
		var prev []uint8
		if y > 0 {
			prev = pix[(y-1)*stride:]
		}
		out = append(out, f.row(pix[y*stride:y*stride+n], prev)...)
	}
	return out
}

// deflateStrip compresses one strip of filtered rows, ending it with a sync
// flush unless it is the last, which ends the deflate stream.
//
// Level 0 stores. Otherwise the strip is compressed both with klauspost's
// LZ77 encoder of the same level and Huffman-only, and the shorter wins: on
// photographs, whose filtered bytes have few repeats, klauspost's short
// matches cost more than literals and Huffman-only is 5–15% smaller than
// any of its levels (and smaller than zlib's level 4 used by Pillow), while
// flat images need LZ77. Huffman-only adds about a third to the time.
func deflateStrip(filtered []byte, level int, last bool) ([]byte, error) {
	if level == 0 {
		return compress(filtered, flate.NoCompression, last)
	}
	lz, err := compress(filtered, level, last)
	if err != nil {
		return nil, err
	}
	huff, err := compress(filtered, flate.HuffmanOnly, last)
	if err != nil || len(lz) <= len(huff) {
		return lz, err
	}
	return huff, nil
}

// compress deflates data at a klauspost/compress level with a pooled writer.
func compress(data []byte, level int, last bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data)/2 + 64)
	pool := &flatePools[level-flate.HuffmanOnly]
	fw, _ := pool.Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriter(&buf, level); err != nil {
			return nil, err
		}
	} else {
		fw.Reset(&buf)
	}
	defer pool.Put(fw)
	if _, err := fw.Write(data); err != nil {
		return nil, err
	}
	var err error
	if last {
		err = fw.Close()
	} else {
		err = fw.Flush()
	}
	return buf.Bytes(), err
}

// adler32Combine returns the Adler-32 of the concatenation of two byte
// sequences from their checksums a, b and the length of the second (zlib's
// adler32_combine).
func adler32Combine(a, b uint32, lenB int64) uint32 {
	const mod = 65521
	rem := uint32(lenB % mod)
	s1 := a & 0xffff
	s2 := uint32(uint64(rem) * uint64(s1) % mod)
	s1 += (b & 0xffff) + mod - 1
	s2 += (a >> 16) + (b >> 16) + mod - rem
	if s1 >= mod {
		s1 -= mod
	}
	if s1 >= mod {
		s1 -= mod
	}
	if s2 >= 2*mod {
		s2 -= 2 * mod
	}
	if s2 >= mod {
		s2 -= mod
	}
	return s2<<16 | s1
}

// filter holds one row's candidate filterings.
type filter struct {
	bpp                  int
	none, sub, up, paeth []uint8 // each 1+n bytes: filter type, then data
}

func newFilter(n, bpp int) *filter {
	b := make([]uint8, 4*(n+1))
	f := &filter{bpp: bpp, none: b[:n+1], sub: b[n+1 : 2*(n+1)], up: b[2*(n+1) : 3*(n+1)], paeth: b[3*(n+1):]}
	f.none[0], f.sub[0], f.up[0], f.paeth[0] = 0, 1, 2, 4
	return f
}

// cost is Pillow's (and libpng's) measure of a filtered byte: its distance
// from zero as a signed value (v < 128 ? v : 256 - v).
func cost(v uint8) int { return abs(int(int8(v))) }

// row returns the filtered row (type byte first) that Pillow would choose:
// candidates are tried in the order none, up, sub, Paeth, and one replaces
// the best so far only when its cost is strictly lower, so a candidate is
// abandoned as soon as its running cost reaches the best. prev is nil for
// the first row, where up equals none and Paeth equals sub.
func (f *filter) row(cur, prev []uint8) []uint8 {
	n, bpp := len(cur), f.bpp
	copy(f.none[1:], cur)
	best, bestSum := f.none, 0
	for _, v := range cur {
		bestSum += cost(v)
	}
	if prev != nil && bestSum > 0 {
		prev = prev[:n]
		d, s := f.up[1:n+1], 0
		for i := 0; i < n && s < bestSum; i++ {
			d[i] = cur[i] - prev[i]
			s += cost(d[i])
		}
		if s < bestSum {
			best, bestSum = f.up, s
		}
	}
	if bestSum > 0 {
		d, s := f.sub[1:n+1], 0
		for i := range bpp {
			d[i] = cur[i]
			s += cost(d[i])
		}
		for i := bpp; i < n && s < bestSum; i++ {
			d[i] = cur[i] - cur[i-bpp]
			s += cost(d[i])
		}
		if s < bestSum {
			best, bestSum = f.sub, s
		}
	}
	if prev != nil && bestSum > 0 {
		d, s := f.paeth[1:n+1], 0
		for i := range bpp {
			d[i] = cur[i] - prev[i] // the predictor of (0, b, 0) is b
			s += cost(d[i])
		}
		// The Paeth predictor of left a, up b and upper-left c, inlined by
		// hand and computed with masks rather than branches: on photographs
		// its choice is close to random, so branches mispredict.
		const shift = strconv.IntSize - 1
		for i := bpp; i < n && s < bestSum; i++ {
			a, b, c := int(cur[i-bpp]), int(prev[i]), int(prev[i-bpp])
			da, db := b-c, a-c
			pa, pb, pc := abs(da), abs(db), abs(da+db)
			useB := ^((pc - pb) >> shift)                // all ones when pb <= pc
			p := c ^ (b^c)&useB                          // pb <= pc ? b : c
			useA := ^((pc ^ (pb^pc)&useB - pa) >> shift) // all ones when pa <= min(pb, pc)
			d[i] = cur[i] - uint8(p^(a^p)&useA)
			s += cost(d[i])
		}
		if s < bestSum {
			best = f.paeth
		}
	}
	return best
}

func abs(x int) int {
	m := x >> (strconv.IntSize - 1)
	return (x ^ m) - m
}
