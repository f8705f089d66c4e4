package comfyutil

import (
	"fmt"
	"slices"

	"github.com/gocomfy/gocomfy/internal/resample"
	"github.com/gocomfy/gocomfy/tensor"
)

// Upscale methods accepted by Upscale (the latent nodes' upscale_method).
const (
	NearestExact = string(resample.NearestExact)
	Bilinear     = string(resample.Bilinear)
	Bicubic      = string(resample.Bicubic)
	Area         = string(resample.Area)
	Bislerp      = string(resample.Bislerp)
)

// Upscale is comfy.utils.common_upscale: it resizes the last two dimensions
// (H, W) of t to height×width. t is [B,H,W] (masks), [N,C,H,W] or
// [N,C,T,H,W] (video latents, resized frame by frame, as common_upscale
// folds T into the batch). crop "center" first cuts equal amounts from two
// opposite sides so that the aspect ratio matches the target; any other
// value resizes the whole plane. Bislerp mixes channels, so it needs a
// channel dimension (rank 4 or 5).
func Upscale(t *tensor.Tensor, width, height int, method, crop string) (*tensor.Tensor, error) {
	r := len(t.Shape)
	if r < 3 || r > 5 {
		return nil, fmt.Errorf("upscale: tensor of rank %d, want 3 to 5", r)
	}
	outShape := append(slices.Clone(t.Shape[:r-2]), height, width)
	if _, err := Alloc(outShape...); err != nil {
		return nil, err
	}
	H, W := t.Shape[r-2], t.Shape[r-1]
	planes := len(t.Data) / max(H*W, 1)
	s := resample.Shape{N: planes, C: 1, H: H, W: W, Layout: resample.NCHW}
	src := t.Data
	if method == Bislerp {
		if r == 3 {
			return nil, fmt.Errorf("upscale: bislerp needs a channel dimension, got rank %d", r)
		}
		// Frames become images of C channels: [N,C,T,H,W] → [N·T,C,H,W].
		s.N, s.C = planes/t.Shape[1], t.Shape[1]
		src = swapCT(src, t.Shape, false)
	}
	data, err := resample.Scale(src, s, width, height, resample.Method(method), crop == "center")
	if err != nil {
		return nil, err
	}
	if method == Bislerp {
		data = swapCT(data, outShape, true)
	}
	return &tensor.Tensor{Shape: outShape, Data: data}, nil
}

// swapCT reorders a 5-D [N,C,T,H,W] tensor's data as [N,T,C,H,W] (or back,
// with inverse); data of other ranks is returned as is.
func swapCT(data []float32, shape []int, inverse bool) []float32 {
	if len(shape) != 5 || shape[2] == 1 {
		return data
	}
	N, C, T, plane := shape[0], shape[1], shape[2], shape[3]*shape[4]
	out := make([]float32, len(data))
	for n := range N {
		for c := range C {
			for t := range T {
				ct, tc := ((n*C+c)*T+t)*plane, ((n*T+t)*C+c)*plane
				if inverse {
					ct, tc = tc, ct
				}
				copy(out[tc:tc+plane], data[ct:ct+plane])
			}
		}
	}
	return out
}
