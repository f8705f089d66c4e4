package latentnode

import (
	"fmt"
	"math"
	"slices"

	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// broadcastShape is numpy's (and torch's) broadcasting of two shapes.
func broadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := dimFromEnd(a, n-1-i), dimFromEnd(b, n-1-i)
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension %d", da, db, i)
		}
	}
	return out, nil
}

// dimFromEnd returns dimension len(shape)-1-k counted from the end, or 1
// beyond the front (broadcasting's implicit leading ones).
func dimFromEnd(shape []int, k int) int {
	if k >= len(shape) {
		return 1
	}
	return shape[len(shape)-1-k]
}

// stridesFor returns the element strides of shape laid out in out's rank,
// with 0 for broadcast dimensions.
func stridesFor(shape, out []int) []int {
	st := make([]int, len(out))
	s := 1
	for k := range out {
		if d := dimFromEnd(shape, k); d != 1 {
			st[len(out)-1-k] = s
			s *= d
		}
	}
	return st
}

// zipWith applies f elementwise to a and b broadcast against each other.
func zipWith(a, b *tensor.Tensor, f func(x, y float32) float32) (*tensor.Tensor, error) {
	shape, err := broadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	out := tensor.New(shape...)
	if slices.Equal(a.Shape, b.Shape) {
		comfyutil.Parallel(len(out.Data), 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out.Data[i] = f(a.Data[i], b.Data[i])
			}
		})
		return out, nil
	}
	sa, sb := stridesFor(a.Shape, shape), stridesFor(b.Shape, shape)
	last := shape[len(shape)-1]
	rows := len(out.Data) / max(last, 1)
	la, lb := sa[len(sa)-1], sb[len(sb)-1]
	comfyutil.Parallel(rows, last, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			oa, ob, rem := 0, 0, r
			for d := len(shape) - 2; d >= 0; d-- {
				i := rem % shape[d]
				rem /= shape[d]
				oa += i * sa[d]
				ob += i * sb[d]
			}
			dst := out.Data[r*last : (r+1)*last]
			for x := range dst {
				dst[x] = f(a.Data[oa+x*la], b.Data[ob+x*lb])
			}
		}
	})
	return out, nil
}

// mapData applies f to every element of t.
func mapData(t *tensor.Tensor, f func(x float32) float32) *tensor.Tensor {
	out := tensor.New(t.Shape...)
	comfyutil.Parallel(len(out.Data), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.Data[i] = f(t.Data[i])
		}
	})
	return out
}

// narrow is torch.narrow: elements [start, start+length) of dimension dim.
func narrow(t *tensor.Tensor, dim, start, length int) *tensor.Tensor {
	outer := prod(t.Shape[:dim])
	inner := prod(t.Shape[dim+1:])
	n := t.Shape[dim]
	shape := slices.Clone(t.Shape)
	shape[dim] = length
	out := tensor.New(shape...)
	for o := range outer {
		copy(out.Data[o*length*inner:(o+1)*length*inner], t.Data[(o*n+start)*inner:(o*n+start+length)*inner])
	}
	return out
}

// cat is torch.cat along dim: every other dimension must match.
func cat(dim int, ts ...*tensor.Tensor) (*tensor.Tensor, error) {
	first := ts[0]
	shape := slices.Clone(first.Shape)
	shape[dim] = 0
	for _, t := range ts {
		if len(t.Shape) != len(first.Shape) {
			return nil, fmt.Errorf("Tensors must have same number of dimensions: got %d and %d", len(first.Shape), len(t.Shape))
		}
		for d := range t.Shape {
			if d != dim && t.Shape[d] != first.Shape[d] {
				return nil, fmt.Errorf("Sizes of tensors must match except in dimension %d. Expected size %d but got size %d for tensor number 1 in the list.", dim, first.Shape[d], t.Shape[d])
			}
		}
		shape[dim] += t.Shape[dim]
	}
	out := tensor.New(shape...)
	outer, inner := prod(shape[:dim]), prod(shape[dim+1:])
	pos := 0
	for o := range outer {
		for _, t := range ts {
			n := t.Shape[dim] * inner
			copy(out.Data[pos:pos+n], t.Data[o*n:(o+1)*n])
			pos += n
		}
	}
	return out, nil
}

func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// rot90 is torch.rot90(t, k, dims=[3, 2]) as LatentRotate calls it: k
// quarter turns from dimension 3 towards dimension 2 (clockwise for
// [N,C,H,W]).
func rot90(t *tensor.Tensor, k int) *tensor.Tensor {
	outer, A, B, inner := prod(t.Shape[:2]), t.Shape[2], t.Shape[3], prod(t.Shape[4:])
	shape := slices.Clone(t.Shape)
	if k%2 == 1 {
		shape[2], shape[3] = B, A
	}
	out := tensor.New(shape...)
	oa, ob := shape[2], shape[3]
	comfyutil.Parallel(outer, A*B*inner, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			src, dst := t.Data[o*A*B*inner:], out.Data[o*A*B*inner:]
			for i := range oa {
				for j := range ob {
					var a, b int // the source position of output (i, j)
					switch k {
					case 1:
						a, b = A-1-j, i
					case 2:
						a, b = A-1-i, B-1-j
					case 3:
						a, b = j, B-1-i
					default:
						a, b = i, j
					}
					copy(dst[(i*ob+j)*inner:(i*ob+j+1)*inner], src[(a*B+b)*inner:(a*B+b+1)*inner])
				}
			}
		}
	})
	return out
}

// flip is torch.flip(t, dims=[dim]).
func flip(t *tensor.Tensor, dim int) *tensor.Tensor {
	outer, n, inner := prod(t.Shape[:dim]), t.Shape[dim], prod(t.Shape[dim+1:])
	out := tensor.New(t.Shape...)
	for o := range outer {
		for i := range n {
			copy(out.Data[(o*n+i)*inner:(o*n+i+1)*inner], t.Data[(o*n+n-1-i)*inner:(o*n+n-i)*inner])
		}
	}
	return out
}

// tile is torch's t.repeat(amount, 1, 1, …): the whole batch amount times.
func tile(t *tensor.Tensor, amount int) *tensor.Tensor {
	shape := slices.Clone(t.Shape)
	shape[0] *= amount
	out := &tensor.Tensor{Shape: shape, Data: make([]float32, 0, len(t.Data)*amount)}
	for range amount {
		out.Data = append(out.Data, t.Data...)
	}
	return out
}

// nanToNum is torch.nan_to_num for float32: NaN → 0, ±Inf → the largest
// finite float32 of that sign.
func nanToNum(x float32) float32 {
	switch {
	case x != x:
		return 0
	case x > math.MaxFloat32:
		return math.MaxFloat32
	case x < -math.MaxFloat32:
		return -math.MaxFloat32
	}
	return x
}

// channelNorm is torch.linalg.vector_norm(t, dim=1) reshaped to broadcast
// as ComfyUI's LatentInterpolate uses it: the [N, rest…] result is read as
// [1, N, rest…] against [N, C, rest…] (right-aligned), which normalizes
// each pixel by its own norm only when the batch is 1 [quirk].
func channelNorm(t *tensor.Tensor) *tensor.Tensor {
	N, C := t.Shape[0], t.Shape[1]
	rest := prod(t.Shape[2:])
	out := &tensor.Tensor{Shape: append([]int{1, N}, t.Shape[2:]...), Data: make([]float32, N*rest)}
	for n := range N {
		for i := range rest {
			var s float32
			for c := range C {
				v := t.Data[(n*C+c)*rest+i]
				s += v * v
			}
			out.Data[n*rest+i] = float32(math.Sqrt(float64(s)))
		}
	}
	return out
}
