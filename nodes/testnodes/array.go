package testnodes

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// array is a float32 tensor of any rank: the common view of IMAGE, MASK and
// plain tensors for the little torch arithmetic the pack does (products with
// broadcasting, mixes, averages, min and max).
type array struct {
	shape []int
	data  []float32
}

// maxElements bounds the tensors the stubs allocate (4 GiB of float32):
// torch fails with an allocator error on sizes it cannot hold, and Go would
// crash instead.
const maxElements = 1 << 30

// asArray views an IMAGE, MASK or tensor value as an array (no copy).
func asArray(v any) (array, bool) {
	switch v := v.(type) {
	case *tensor.Image:
		if v != nil {
			return array{[]int{v.B, v.H, v.W, v.C}, v.Pix}, true
		}
	case *tensor.Mask:
		if v != nil {
			return array{[]int{v.B, v.H, v.W}, v.Pix}, true
		}
	case *tensor.Tensor:
		if v != nil {
			return array{v.Shape, v.Data}, true
		}
	}
	return array{}, false
}

// value returns a as the socket value of its rank: an IMAGE for rank 4, a
// MASK for rank 3, else a plain tensor.
func (a array) value() any {
	switch s := a.shape; len(s) {
	case 4:
		return &tensor.Image{B: s[0], H: s[1], W: s[2], C: s[3], Pix: a.data}
	case 3:
		return &tensor.Mask{B: s[0], H: s[1], W: s[2], Pix: a.data}
	}
	return &tensor.Tensor{Shape: a.shape, Data: a.data}
}

// newArray allocates a zeroed array, failing as torch does on negative
// dimensions and on sizes beyond maxElements.
func newArray(shape ...int) (array, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return array{}, node.Raise("RuntimeError", "Trying to create tensor with negative dimension %d: %s", d, shapeString(shape))
		}
	}
	for _, d := range shape {
		if d != 0 && n > maxElements/d {
			return array{}, tooLarge(shape)
		}
		n *= d
	}
	if n > maxElements {
		return array{}, tooLarge(shape)
	}
	return array{slices.Clone(shape), make([]float32, n)}, nil
}

func tooLarge(shape []int) error {
	bytes := 4.0
	for _, d := range shape {
		bytes *= float64(d)
	}
	return node.Raise("RuntimeError", "DefaultCPUAllocator: not enough memory: you tried to allocate %.0f bytes.", bytes)
}

// filled returns torch.ones(shape) * v.
func filled(v float32, shape ...int) (array, error) {
	a, err := newArray(shape...)
	for i := range a.data {
		a.data[i] = v
	}
	return a, err
}

// shapeString prints a shape as torch does in messages: [1, 512, 512, 3].
func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// scale returns a * s computed as torch does for a float32 tensor and a
// Python scalar: in float32.
func (a array) scale(s float64) array {
	return a.apply(func(x float32) float32 { return x * float32(s) })
}

// apply returns f applied to every element of a.
func (a array) apply(f func(float32) float32) array {
	out := array{slices.Clone(a.shape), make([]float32, len(a.data))}
	for i, x := range a.data {
		out.data[i] = f(x)
	}
	return out
}

// min and max return torch's a.min() and a.max() (NaN if any element is NaN).
func (a array) min() (float32, error) { return a.reduce("min", math.Min) }
func (a array) max() (float32, error) { return a.reduce("max", math.Max) }

func (a array) reduce(name string, f func(x, y float64) float64) (float32, error) {
	if len(a.data) == 0 {
		return 0, node.Raise("RuntimeError", "%s(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.", name)
	}
	r := float64(a.data[0])
	for _, x := range a.data[1:] {
		r = f(r, float64(x))
	}
	return float32(r), nil
}

// broadcast returns f(a, b) elementwise, broadcasting the shapes as torch
// does, and fails with torch's message when they do not broadcast.
func broadcast(a, b array, f func(x, y float32) float32) (array, error) {
	n := max(len(a.shape), len(b.shape))
	shape := make([]int, n)
	for i := range n {
		da, db := dimAt(a.shape, i, n), dimAt(b.shape, i, n)
		switch {
		case da == db || db == 1:
			shape[i] = da
		case da == 1:
			shape[i] = db
		default:
			return array{}, node.Raise("RuntimeError",
				"The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension %d", da, db, i)
		}
	}
	out, err := newArray(shape...)
	if err != nil {
		return array{}, err
	}
	if slices.Equal(a.shape, b.shape) {
		for i := range out.data {
			out.data[i] = f(a.data[i], b.data[i])
		}
		return out, nil
	}
	sa, sb := broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)
	idx := make([]int, n)
	ia, ib := 0, 0
	for k := range out.data {
		out.data[k] = f(a.data[ia], b.data[ib])
		for d := n - 1; d >= 0; d-- { // next index, odometer style
			idx[d]++
			ia += sa[d]
			ib += sb[d]
			if idx[d] < shape[d] {
				break
			}
			ia -= sa[d] * shape[d]
			ib -= sb[d] * shape[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// dimAt returns dimension i of shape aligned to the right in n dimensions
// (1 for the dimensions it lacks).
func dimAt(shape []int, i, n int) int {
	if j := i - (n - len(shape)); j >= 0 {
		return shape[j]
	}
	return 1
}

// broadcastStrides returns the element strides of src seen in shape: 0 along
// the dimensions src repeats.
func broadcastStrides(src, shape []int) []int {
	n := len(shape)
	strides := make([]int, n)
	step := 1
	for i := n - 1; i >= 0; i-- {
		if d := dimAt(src, i, n); d != 1 {
			strides[i] = step
			step *= d
		}
	}
	return strides
}

// mul returns a * b for tensors and Python numbers in any combination, as
// the pack's nodes multiply whatever their IMAGE,FLOAT inputs hold.
func mul(a, b any) (any, error) {
	x, xArr := asArray(a)
	y, yArr := asArray(b)
	switch {
	case xArr && yArr:
		r, err := broadcast(x, y, func(p, q float32) float32 { return p * q })
		if err != nil {
			return nil, err
		}
		return r.value(), nil
	case xArr:
		if s, ok := pyNumber(b); ok {
			return x.scale(s).value(), nil
		}
	case yArr:
		if s, ok := pyNumber(a); ok {
			return y.scale(s).value(), nil
		}
	default:
		return arith("*", a, b)
	}
	return nil, node.Raise("TypeError", "unsupported operand type(s) for *: '%s' and '%s'", pyTypeName(a), pyTypeName(b))
}
