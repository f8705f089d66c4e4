package imageio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
)

// ErrAPNGDuration is returned by EncodeAPNG for a frame duration whose
// delay fraction does not fit APNG's 16-bit numerator (Pillow's
// ValueError "cannot write duration").
var ErrAPNGDuration = errors.New("cannot write duration")

// EncodeAPNG writes frames as an animated PNG the way Pillow's
// save(save_all=True, duration=durationMS, compress_level=level) does for
// frames of one size and mode, with private chunks (ComfyUI's "comf"
// metadata: key, NUL, value, each Latin-1) after the image data:
//
//   - a frame equal to the one before is dropped and its duration added to
//     that frame's;
//   - every frame after the first stores only the bounding box of the
//     pixels that changed (dispose none, blend source);
//   - each delay is duration/1000 in lowest terms (so 125 ms is 1/8), and a
//     numerator above 65535 fails with ErrAPNGDuration;
//   - when one frame remains the file is a plain PNG (no acTL, and no delay,
//     so any duration), as Pillow 10.1 and later write it.
//
// Pixel data is filtered and deflated as EncodePNG does (see there); frames
// must all have the type that EncodePNG would write for the first.
func EncodeAPNG(w io.Writer, frames []image.Image, durationMS, level int, private []TextChunk) error {
	if len(frames) == 0 {
		return errors.New("imageio: apng without frames")
	}
	level, err := checkPNG(frames[0], level)
	if err != nil {
		return err
	}
	after := make([][]byte, len(private))
	for i, t := range private {
		key, ok1 := toLatin1(t.Key)
		value, ok2 := toLatin1(t.Value)
		if !ok1 || !ok2 {
			return fmt.Errorf("imageio: png chunk %q is not Latin-1", t.Key)
		}
		after[i] = append(append(key, 0), value...)
	}
	kept, err := apngFrames(frames, durationMS)
	if err != nil {
		return err
	}
	first := kept[0].pix

	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(pngSignature)
	writeChunk(bw, "IHDR", first.ihdr())
	if len(kept) > 1 {
		writeChunk(bw, "acTL", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(len(kept))), 0))
	}
	var seq uint32
	for i, f := range kept {
		strips, err := deflateStrips(f.pix.sub(f.box.Min.X, f.box.Min.Y, f.box.Dx(), f.box.Dy()), level)
		if err != nil {
			return err
		}
		if len(kept) > 1 {
			writeChunk(bw, "fcTL", f.fcTL(seq))
			seq++
		}
		for _, s := range strips {
			if i == 0 {
				writeChunk(bw, "IDAT", s...)
				continue
			}
			writeChunk(bw, "fdAT", append([][]byte{binary.BigEndian.AppendUint32(nil, seq)}, s...)...)
			seq++
		}
	}
	for _, data := range after {
		writeChunk(bw, "comf", data)
	}
	writeChunk(bw, "IEND")
	return bw.Flush()
}

// apngFrame is one frame to write: its pixels, the box that changed since
// the previous frame (the whole frame for the first) and its duration.
type apngFrame struct {
	pix      pngPixels
	box      image.Rectangle
	duration int
}

// fcTL returns the frame control data of f with sequence number seq.
func (f apngFrame) fcTL(seq uint32) []byte {
	num, den := delayFraction(f.duration)
	b := binary.BigEndian.AppendUint32(nil, seq)
	for _, v := range []int{f.box.Dx(), f.box.Dy(), f.box.Min.X, f.box.Min.Y} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(num))
	b = binary.BigEndian.AppendUint16(b, uint16(den))
	return append(b, 0, 0) // dispose none, blend source
}

// apngFrames converts the frames, merges repeats and finds what changed.
func apngFrames(frames []image.Image, durationMS int) ([]apngFrame, error) {
	var out []apngFrame
	for i, img := range frames {
		p := pngRaster(img)
		if i == 0 {
			out = append(out, apngFrame{p, image.Rect(0, 0, p.width, p.height), durationMS})
			continue
		}
		prev := &out[len(out)-1]
		if p.width != prev.pix.width || p.height != prev.pix.height || p.ct != prev.pix.ct || p.depth != prev.pix.depth {
			return nil, fmt.Errorf("imageio: apng frame %d differs in size or mode from the first", i)
		}
		box := changed(prev.pix, p)
		if box.Empty() {
			prev.duration += durationMS
			continue
		}
		out = append(out, apngFrame{p, box, durationMS})
	}
	// One frame left is written as a plain PNG, without a delay to check.
	for _, f := range out {
		if num, _ := delayFraction(f.duration); len(out) > 1 && (num < 0 || num > 0xffff) {
			return nil, fmt.Errorf("imageio: %w (%d ms)", ErrAPNGDuration, f.duration)
		}
	}
	return out, nil
}

// changed returns the bounding box of the pixels that differ between a and
// b, which have the same layout; empty when none do.
func changed(a, b pngPixels) image.Rectangle {
	box := image.Rectangle{}
	n := a.width * a.bpp
	for y := range a.height {
		ra, rb := a.pix[y*a.stride:y*a.stride+n], b.pix[y*b.stride:y*b.stride+n]
		if bytes.Equal(ra, rb) {
			continue
		}
		x0 := 0
		for ra[x0] == rb[x0] {
			x0++
		}
		x1 := n - 1
		for ra[x1] == rb[x1] {
			x1--
		}
		box = box.Union(image.Rect(x0/a.bpp, y, x1/a.bpp+1, y+1))
	}
	return box
}

// delayFraction returns ms/1000 in lowest terms: Pillow's
// Fraction(ms / 1000).limit_denominator(65535), which for a whole number
// of milliseconds is the exact fraction.
func delayFraction(ms int) (num, den int) {
	if ms == 0 {
		return 0, 1
	}
	a, b := ms, 1000
	for b != 0 {
		a, b = b, a%b
	}
	return ms / a, 1000 / a
}
