package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"slices"
	"sync"

	libwebp "github.com/gen2brain/webp"
)

// WebPOptions are the options of Pillow's WebP save that SaveAnimatedWEBP
// passes.
type WebPOptions struct {
	Lossless bool
	Quality  int    // 0–100; for lossless files the compression effort
	Method   int    // 0 (fastest) – 6 (slowest)
	Duration int    // milliseconds per frame
	EXIF     []byte // the EXIF chunk's payload (see PillowEXIF)
}

// ErrWebPDuration is returned by EncodeAnimatedWebP for a frame duration
// that does not fit the ANMF chunk's 24 bits.
var ErrWebPDuration = errors.New("imageio: webp frame duration out of range")

// EncodeAnimatedWebP writes frames as Pillow's
// save(save_all=True, duration=…, exif=…, lossless=…, quality=…, method=…)
// does: one frame is a still WebP (Pillow's single-image path, which drops
// an "Exif\0\0" prefix from the EXIF data); more frames are an animation
// that loops forever on a transparent black background, and a frame equal
// to the one before is dropped and its duration added to that frame's, as
// libwebp's animation encoder does. The EXIF chunk is written whenever
// o.EXIF is not empty.
//
// Each frame is encoded whole by libwebp (gen2brain/webp, see
// EncodePreview), several at once, and stored as a full-canvas ANMF frame
// that replaces the canvas. libwebp's animation encoder instead stores
// the changed rectangle of each frame, blended or not, and inserts key
// frames; its files are smaller for mostly static animations, and a lossy
// frame's pixels may differ, but a lossless animation decodes to the same
// pixels. Quality 0 is encoded as 1 (the binding reads 0 as "default");
// colours under fully transparent pixels may change, as without Pillow's
// exact option.
func EncodeAnimatedWebP(w io.Writer, frames []image.Image, o WebPOptions) error {
	if len(frames) == 0 {
		return errors.New("imageio: webp without frames")
	}
	size := frames[0].Bounds().Size()
	if size.X <= 0 || size.Y <= 0 || size.X > 1<<14 || size.Y > 1<<14 {
		return fmt.Errorf("imageio: cannot write a %dx%d webp", size.X, size.Y)
	}
	if len(frames) == 1 {
		data, alpha, err := webpFrame(frames[0], o)
		if err != nil {
			return err
		}
		var out webpWriter
		out.vp8x(size, alpha, false, len(o.EXIF) > 0)
		out.buf.Write(data)
		out.chunk("EXIF", bytes.TrimPrefix(o.EXIF, []byte("Exif\x00\x00")))
		return out.flush(w)
	}

	kept, durations := []image.Image{frames[0]}, []int{o.Duration}
	for i, f := range frames[1:] {
		if f.Bounds().Size() != size {
			return fmt.Errorf("imageio: webp frame %d differs in size from the first", i+1)
		}
		if samePixels(frames[i], f) {
			durations[len(durations)-1] += o.Duration
			continue
		}
		kept, durations = append(kept, f), append(durations, o.Duration)
	}
	for _, d := range durations {
		if d < 0 || d >= 1<<24 {
			return fmt.Errorf("%w: %d ms", ErrWebPDuration, d)
		}
	}
	encoded, alpha, err := webpFrames(kept, o)
	if err != nil {
		return err
	}
	var out webpWriter
	out.vp8x(size, alpha, true, len(o.EXIF) > 0)
	out.chunk("ANIM", make([]byte, 6)) // background 0 (transparent black), loop forever
	for i, data := range encoded {
		hdr := make([]byte, 16)
		// offset (0, 0); width−1 and height−1 in 24 bits each; duration in
		// 24 bits; flags: no blending, no disposal.
		putUint24(hdr[6:], size.X-1)
		putUint24(hdr[9:], size.Y-1)
		putUint24(hdr[12:], durations[i])
		hdr[15] = 0x02
		out.chunk("ANMF", append(hdr, data...))
	}
	out.chunk("EXIF", o.EXIF)
	return out.flush(w)
}

// webpFrames encodes frames in parallel; alpha reports whether any has
// alpha.
func webpFrames(frames []image.Image, o WebPOptions) (data [][]byte, alpha bool, err error) {
	data = make([][]byte, len(frames))
	alphas := make([]bool, len(frames))
	errs := make([]error, len(frames))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, f := range frames {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			data[i], alphas[i], errs[i] = webpFrame(f, o)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, false, err
	}
	return data, slices.Contains(alphas, true), nil
}

// webpFrame encodes one image with libwebp and returns its image chunks
// (ALPH and VP8, or VP8L) with their headers, and whether it has alpha.
func webpFrame(img image.Image, o WebPOptions) (data []byte, alpha bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, alpha, err = nil, false, libwebpPanic(r)
		}
	}()
	var file bytes.Buffer
	opt := libwebp.Options{Quality: min(max(o.Quality, 1), 100), Lossless: o.Lossless, Method: min(max(o.Method, 0), 6)}
	if err := libwebp.Encode(&file, webpInput(img), opt); err != nil {
		return nil, false, err
	}
	var out webpWriter
	riffChunks(file.Bytes(), func(id string, p []byte) bool {
		switch id {
		case "ALPH":
			alpha = true
		case "VP8L":
			// The alpha_is_used bit follows the signature byte and the
			// two 14-bit sizes.
			alpha = alpha || len(p) >= 5 && p[4]&0x10 != 0
		case "VP8 ":
		default:
			return true
		}
		out.chunk(id, p)
		return true
	})
	if out.buf.Len() == 0 {
		return nil, false, errors.New("imageio: libwebp wrote no image data")
	}
	return out.buf.Bytes(), alpha, nil
}

// samePixels reports whether two images of one size have the same pixels.
func samePixels(a, b image.Image) bool {
	pa, pb := pngRaster(a), pngRaster(b)
	return pa.ct == pb.ct && pa.depth == pb.depth && changed(pa, pb).Empty()
}

// webpWriter assembles a RIFF WebP file.
type webpWriter struct{ buf bytes.Buffer }

// chunk appends a chunk, padded to an even length; nothing when the
// payload is empty and the chunk is EXIF.
func (w *webpWriter) chunk(id string, payload []byte) {
	if id == "EXIF" && len(payload) == 0 {
		return
	}
	w.buf.WriteString(id)
	w.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(payload))))
	w.buf.Write(payload)
	if len(payload)%2 == 1 {
		w.buf.WriteByte(0)
	}
}

// vp8x appends the extended header for a canvas of the given size.
func (w *webpWriter) vp8x(size image.Point, alpha, animated, exif bool) {
	p := make([]byte, 10)
	if alpha {
		p[0] |= vp8xAlpha
	}
	if animated {
		p[0] |= vp8xAnimation
	}
	if exif {
		p[0] |= vp8xEXIF
	}
	putUint24(p[4:], size.X-1)
	putUint24(p[7:], size.Y-1)
	w.chunk("VP8X", p)
}

// flush writes the RIFF header and the chunks to dst.
func (w *webpWriter) flush(dst io.Writer) error {
	hdr := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+w.buf.Len()))...)
	if _, err := dst.Write(append(hdr, "WEBP"...)); err != nil {
		return err
	}
	_, err := w.buf.WriteTo(dst)
	return err
}

func putUint24(b []byte, v int) {
	b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16)
}

// EXIFTag is one ASCII entry of an EXIF IFD0.
type EXIFTag struct {
	Tag   uint16
	Value string
}

// PillowEXIF returns what Pillow's Image.Exif.tobytes() gives for an Exif
// holding the given ASCII tags: "Exif\0\0", a big-endian TIFF header, IFD0
// with the entries sorted by tag (type ASCII, count including the NUL) and
// no next IFD, then the values longer than four bytes, each padded to an
// even length. Characters outside ASCII become '?', as Pillow encodes them.
// A later entry for a tag replaces an earlier one, as in Pillow's dict.
func PillowEXIF(tags []EXIFTag) []byte {
	byTag := map[uint16][]byte{}
	var order []uint16
	for _, t := range tags {
		if _, ok := byTag[t.Tag]; !ok {
			order = append(order, t.Tag)
		}
		v := make([]byte, 0, len(t.Value)+1)
		for _, r := range t.Value {
			if r >= 0x80 {
				r = '?'
			}
			v = append(v, byte(r))
		}
		byTag[t.Tag] = append(v, 0)
	}
	slices.Sort(order)
	ifd := binary.BigEndian.AppendUint16(nil, uint16(len(order)))
	var data []byte
	offset := 8 + 2 + 12*len(order) + 4
	for _, tag := range order {
		v := byTag[tag]
		ifd = binary.BigEndian.AppendUint16(ifd, tag)
		ifd = binary.BigEndian.AppendUint16(ifd, 2)
		ifd = binary.BigEndian.AppendUint32(ifd, uint32(len(v)))
		if len(v) <= 4 {
			ifd = append(ifd, make([]byte, 4)...)
			copy(ifd[len(ifd)-4:], v)
			continue
		}
		ifd = binary.BigEndian.AppendUint32(ifd, uint32(offset+len(data)))
		data = append(data, v...)
		if len(v)%2 == 1 {
			data = append(data, 0)
		}
	}
	ifd = append(ifd, 0, 0, 0, 0)
	return slices.Concat([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"), ifd, data)
}
