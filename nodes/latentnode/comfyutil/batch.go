package comfyutil

import (
	"fmt"
	"slices"

	"github.com/gocomfy/gocomfy/tensor"
)

// RepeatToBatch is comfy.utils.repeat_to_batch_size: the first n items of
// t's batch (dimension 0) if it has more, the batch tiled and cut to n if it
// has fewer, or t itself.
func RepeatToBatch(t *tensor.Tensor, n int) *tensor.Tensor {
	b := t.Shape[0]
	if b == n {
		return t
	}
	item := len(t.Data) / max(b, 1)
	shape := slices.Clone(t.Shape)
	shape[0] = n
	out := &tensor.Tensor{Shape: shape, Data: make([]float32, n*item)}
	if b == 0 {
		return out
	}
	for i := range n {
		copy(out.Data[i*item:(i+1)*item], t.Data[(i%b)*item:])
	}
	return out
}

// MaxElements caps tensors whose size comes from node inputs: Go cannot
// recover from a failed allocation, so Alloc refuses a tensor above it
// (8 GiB of float32) where ComfyUI would raise torch's out-of-memory error.
const MaxElements = 1 << 31

// Alloc returns a zeroed tensor of the given shape, or an error for a
// negative dimension or a tensor of more than MaxElements elements.
func Alloc(shape ...int) (*tensor.Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("Trying to create tensor with negative dimension %d: %v", d, shape)
		}
		if d > 0 && n > MaxElements/d {
			return nil, fmt.Errorf("tensor of shape %v is too large (more than %d elements)", shape, MaxElements)
		}
		n *= d
	}
	return tensor.New(shape...), nil
}

// PySlice returns the bounds [lo, hi) that Python's seq[start:stop] takes
// from a sequence of length n: negative indices count from the end, and
// both ends are clamped to the sequence. ComfyUI's tensor slicing follows
// these rules, including where they wrap around [quirk].
func PySlice(start, stop, n int) (lo, hi int) {
	norm := func(i int) int {
		if i < 0 {
			return max(i+n, 0)
		}
		return min(i, n)
	}
	lo, hi = norm(start), norm(stop)
	return lo, max(hi, lo)
}

// FloorDiv is Python's a // b on ints (rounding towards negative infinity).
func FloorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
