package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
)

// gifScan is the block structure of a GIF, read without decoding pixels so
// that the frame count can be checked against the limits first.
type gifScan struct {
	w, h     int
	frames   int // complete image blocks
	firstEnd int // offset just past the first image block
	end      int // offset just past the last complete block
}

// scanGIF walks the blocks of a GIF file. It stops at the trailer, at an
// unknown block or at the first truncated block.
func scanGIF(b []byte) gifScan {
	var s gifScan
	if len(b) < 13 {
		return s
	}
	s.w, s.h = int(binary.LittleEndian.Uint16(b[6:])), int(binary.LittleEndian.Uint16(b[8:]))
	p := 13
	if b[10]&0x80 != 0 {
		p += 3 << (b[10]&7 + 1)
	}
	for p < len(b) {
		s.end = p
		switch b[p] {
		case 0x21: // extension: label, then data sub-blocks
			p = skipSubBlocks(b, p+2)
		case 0x2c: // image descriptor, local colour table, LZW width, data sub-blocks
			if p+10 > len(b) {
				return s
			}
			q := p + 10
			if fl := b[p+9]; fl&0x80 != 0 {
				q += 3 << (fl&7 + 1)
			}
			p = skipSubBlocks(b, q+1)
			if p >= 0 {
				s.frames++
				if s.frames == 1 {
					s.firstEnd = p
				}
			}
		default: // the trailer, or garbage
			return s
		}
		if p < 0 {
			return s
		}
	}
	s.end = p
	return s
}

// skipSubBlocks returns the offset after the sub-block chain starting at p,
// or -1 if it is truncated.
func skipSubBlocks(b []byte, p int) int {
	for p < len(b) {
		n := int(b[p])
		p++
		if n == 0 {
			return p
		}
		p += n
	}
	return -1
}

// decodeGIF returns every frame of a GIF composited onto the logical screen
// as FFmpeg's GIF decoder does (LoadImage reads GIFs with PyAV):
//
//   - The canvas starts as the opaque background colour when the first
//     frame has no transparent index and there is a global palette, else as
//     transparent white.
//   - Transparent pixels of a frame leave the canvas as it was.
//   - Disposal 2 clears the frame's rectangle to transparent white when the
//     background index is the frame's transparent index, else to the
//     background colour; disposal 3 restores what the rectangle held before.
//
// A file without a trailer, or with garbage after its last complete frame,
// yields the frames before that point.
func decodeGIF(data []byte, lim decodeLimit) ([]image.Image, error) {
	s := scanGIF(data)
	end := s.end
	if lim.firstFrame {
		s.frames, end = min(s.frames, 1), s.firstEnd
	}
	if s.frames == 0 {
		return nil, errors.New("imageio: gif without a complete frame")
	}
	if err := lim.check("gif", s.frames, s.w, s.h); err != nil {
		return nil, err
	}
	g, err := gif.DecodeAll(bytes.NewReader(append(data[:end:end], 0x3b)))
	if err != nil {
		return nil, err
	}
	return compositeGIF(g), nil
}

// transparentWhite is FFmpeg's GIF_TRANSPARENT_COLOR.
var transparentWhite = color.NRGBA{0xff, 0xff, 0xff, 0}

// compositeGIF renders the frames of g; see decodeGIF.
func compositeGIF(g *gif.GIF) []image.Image {
	screen := image.Rect(0, 0, g.Config.Width, g.Config.Height)
	global, _ := g.Config.ColorModel.(color.Palette)
	// FFmpeg's palette buffer has 256 entries, zero (transparent black) past
	// the file's colours.
	var bg color.NRGBA
	if int(g.BackgroundIndex) < len(global) {
		bg = opaque(global[g.BackgroundIndex])
	}
	canvas := image.NewNRGBA(screen)
	if len(g.Image) > 0 && transparentIndex(g.Image[0].Palette) < 0 && len(global) > 0 {
		fill(canvas, screen, bg)
	} else {
		fill(canvas, screen, transparentWhite)
	}
	var (
		prevDisposal byte
		prevRect     image.Rectangle
		clearTo      color.NRGBA
		saved        *image.NRGBA
	)
	out := make([]image.Image, len(g.Image))
	for i, fr := range g.Image {
		switch prevDisposal {
		case gif.DisposalBackground:
			fill(canvas, prevRect, clearTo)
		case gif.DisposalPrevious:
			copyRect(canvas, saved, prevRect)
		}
		rect := fr.Rect.Intersect(screen)
		ti := transparentIndex(fr.Palette)
		prevDisposal, prevRect = 0, rect
		if i < len(g.Disposal) {
			prevDisposal = g.Disposal[i]
		}
		switch prevDisposal {
		case gif.DisposalBackground:
			clearTo = bg
			if int(g.BackgroundIndex) == ti {
				clearTo = transparentWhite
			}
		case gif.DisposalPrevious:
			if saved == nil {
				saved = image.NewNRGBA(screen)
			}
			copyRect(saved, canvas, rect)
		}
		var pal [256]color.NRGBA
		for j, c := range fr.Palette {
			pal[j] = opaque(c)
		}
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			src := fr.Pix[fr.PixOffset(rect.Min.X, y):]
			dst := canvas.Pix[canvas.PixOffset(rect.Min.X, y):]
			for x := range rect.Dx() {
				if idx := src[x]; int(idx) != ti {
					c, d := pal[idx], dst[4*x:4*x+4:4*x+4]
					d[0], d[1], d[2], d[3] = c.R, c.G, c.B, c.A
				}
			}
		}
		out[i] = cloneNRGBA(canvas)
	}
	return out
}

// transparentIndex returns the index Go's GIF decoder made transparent in
// a frame's palette, or -1.
func transparentIndex(p color.Palette) int {
	ti := -1
	for i, c := range p {
		if _, _, _, a := c.RGBA(); a == 0 {
			ti = i
		}
	}
	return ti
}

// opaque returns c's colour with full alpha, as a GIF palette entry is.
func opaque(c color.Color) color.NRGBA {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = 0xff
	return n
}

func fill(m *image.NRGBA, r image.Rectangle, c color.NRGBA) {
	r = r.Intersect(m.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := m.Pix[m.PixOffset(r.Min.X, y):m.PixOffset(r.Max.X, y)]
		for x := 0; x < len(row); x += 4 {
			row[x], row[x+1], row[x+2], row[x+3] = c.R, c.G, c.B, c.A
		}
	}
}

func copyRect(dst, src *image.NRGBA, r image.Rectangle) {
	r = r.Intersect(dst.Rect).Intersect(src.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)], src.Pix[src.PixOffset(r.Min.X, y):])
	}
}

func cloneNRGBA(m *image.NRGBA) *image.NRGBA {
	c := *m
	c.Pix = bytes.Clone(m.Pix)
	return &c
}
