// Package comfyutil holds the tensor helpers of ComfyUI's comfy/utils.py
// that the latent and mask node packs share, on gocomfy's tensor types:
// common_upscale (through internal/resample, which follows torch's
// interpolate and ComfyUI's bislerp), repeat_to_batch_size, Python's slice
// and floor-division rules, and a loop that spreads big tensor work over
// every core.
package comfyutil

import "github.com/gocomfy/gocomfy/internal/resample"

// Parallel calls f on contiguous sub-ranges that together cover [0, n), on
// up to GOMAXPROCS goroutines when n items of cost element operations each
// are worth splitting; otherwise it calls f(0, n) on the caller's goroutine.
// f must only write to the parts of its output that belong to its range.
func Parallel(n, cost int, f func(lo, hi int)) { resample.Parallel(n, cost, f) }
