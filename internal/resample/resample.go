// Package resample resizes batches of float32 images the way ComfyUI's
// comfy.utils.common_upscale does, so that ImageScale, LatentUpscale and the
// other resizing nodes give ComfyUI's pixels.
//
// Methods "nearest-exact", "bilinear", "bicubic" and "area" follow
// torch.nn.functional.interpolate (align_corners=False, no antialiasing) in
// float32, with torch ≥ 2.1's index arithmetic; "lanczos" follows Pillow's
// Image.resize(LANCZOS) on an 8-bit copy, integer for integer; "bislerp" is
// ComfyUI's slerp-based bilinear for latents.
//
// Data is a dense float32 batch in either layout ComfyUI uses: NHWC (IMAGE,
// channels interleaved) or NCHW (LATENT, one plane per channel). A video
// latent [N,C,T,H,W] is, for the methods that treat channels independently
// (all but lanczos and bislerp), the NCHW batch of N images of C·T planes;
// common_upscale itself regroups it as N·T images of C channels.
package resample

import (
	"fmt"
	"math"
)

// Method is an upscale method as ComfyUI's combos spell it.
type Method string

// The methods of common_upscale.
const (
	NearestExact Method = "nearest-exact"
	Bilinear     Method = "bilinear"
	Area         Method = "area"
	Bicubic      Method = "bicubic"
	Lanczos      Method = "lanczos"
	Bislerp      Method = "bislerp"
)

// Layout is the memory order of a batch.
type Layout int

// Layouts.
const (
	NHWC Layout = iota // IMAGE: [N,H,W,C], the channels of a pixel adjacent
	NCHW               // LATENT: [N,C,H,W], each channel a plane
)

// Shape describes a dense batch of N images of C channels, H rows and W
// columns.
type Shape struct {
	N, C, H, W int
	Layout     Layout
}

// Len returns the number of elements of a batch of this shape.
func (s Shape) Len() int { return s.N * s.C * s.H * s.W }

// Scale returns src resized to width×height, with the same N, C and layout.
// With centerCrop, the largest centered window of src with the target aspect
// ratio is resized instead (common_upscale's crop="center").
func Scale(src []float32, s Shape, width, height int, m Method, centerCrop bool) ([]float32, error) {
	if s.N < 0 || s.C <= 0 || s.H < 0 || s.W < 0 || len(src) != s.Len() {
		return nil, fmt.Errorf("resample: %d values do not make a batch of shape %+v", len(src), s)
	}
	v := viewOf(src, s)
	if centerCrop {
		x, y := CenterCrop(s.W, s.H, width, height)
		v = v.crop(x, y)
	}
	if width <= 0 || height <= 0 || v.h <= 0 || v.w <= 0 {
		if m == Lanczos {
			return nil, fmt.Errorf("height and width must be > 0")
		}
		return nil, fmt.Errorf("Input and output sizes should be greater than 0, but got input (H: %d, W: %d) output (H: %d, W: %d)",
			v.h, v.w, height, width)
	}
	out := s
	out.H, out.W = height, width
	dst := viewOf(make([]float32, out.Len()), out)
	switch m {
	case NearestExact:
		nearest(dst, v)
	case Bilinear:
		separable(dst, v, bilinearTaps)
	case Bicubic:
		separable(dst, v, bicubicTaps)
	case Area:
		area(dst, v)
	case Lanczos:
		if err := lanczos(dst, v); err != nil {
			return nil, err
		}
	case Bislerp:
		bislerp(dst, v)
	default:
		return nil, fmt.Errorf("resample: unknown method %q", m)
	}
	return dst.pix, nil
}

// CenterCrop returns how many columns (x) or rows (y) common_upscale's
// "center" crop removes from each side of a w×h image so that what remains
// has about the aspect ratio of width×height. At most one of them is non-zero.
func CenterCrop(w, h, width, height int) (x, y int) {
	oldAspect := float64(w) / float64(h)
	newAspect := float64(width) / float64(height)
	switch {
	case oldAspect > newAspect:
		x = int(math.RoundToEven((float64(w) - float64(w)*(newAspect/oldAspect)) / 2))
	case oldAspect < newAspect:
		y = int(math.RoundToEven((float64(h) - float64(h)*(oldAspect/newAspect)) / 2))
	}
	return x, y
}

// view is a batch of n frames of h×w pixels of c interleaved channels,
// possibly a window of a larger buffer. An NCHW batch is seen as N·C frames of
// one channel, which is exact for the methods that treat channels
// independently; lanczos and bislerp regroup the channels of each image.
type view struct {
	pix        []float32
	n, h, w, c int
	frame, row int // strides between frames and rows; pixels are c apart
	off        int // index of pixel (0, 0) of frame 0
	// group and chStride say how channels regroup into images: image i has
	// frames i·group … i·group+group-1 and channel j of a pixel is chStride
	// after channel 0.
	group, chStride int
}

func viewOf(pix []float32, s Shape) view {
	if s.Layout == NCHW {
		return view{pix: pix, n: s.N * s.C, h: s.H, w: s.W, c: 1, frame: s.H * s.W, row: s.W, group: s.C, chStride: s.H * s.W}
	}
	return view{pix: pix, n: s.N, h: s.H, w: s.W, c: s.C, frame: s.H * s.W * s.C, row: s.W * s.C, group: 1, chStride: 1}
}

// crop removes x columns and y rows from each side.
func (v view) crop(x, y int) view {
	v.off += y*v.row + x*v.c
	v.h -= 2 * y
	v.w -= 2 * x
	return v
}

// rowAt returns the w·c values of row y of frame f.
func (v view) rowAt(f, y int) []float32 {
	i := v.off + f*v.frame + y*v.row
	return v.pix[i : i+v.w*v.c]
}

// dense returns a new zeroed view of n frames of h×w pixels of c channels.
func dense(n, h, w, c int) view {
	return view{pix: make([]float32, n*h*w*c), n: n, h: h, w: w, c: c, frame: h * w * c, row: w * c, group: 1, chStride: 1}
}
