package latentnode

import (
	"context"
	"fmt"
	"slices"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/latentnode/comfyutil"
	"github.com/gocomfy/gocomfy/tensor"
)

// rebatchModule is the python_module of nodes_rebatch.py's classes.
const rebatchModule = "comfy_extras.nodes_rebatch"

// RebatchLatents regroups a list of latents into batches of batch_size
// (the first value of its list). Consecutive latents of the same H×W are
// joined and cut into batches as soon as they hold more than batch_size; a
// latent of another size ends the current batch (keeping at most
// batch_size of it). Each output keeps its noise masks and batch indices: a
// latent without a mask contributes ones of 8 times its size [quirk], a
// batch whose mask has mean 1 gets none, and a latent without batch indices
// numbers its items after all the items before it.
var RebatchLatents = node.New(node.Info{ID: "RebatchLatents", DisplayName: "Rebatch Latents",
	Category: "model/latent/batch", Module: rebatchModule, Format: node.V3, InputIsList: true},
	func(s *node.Schema) node.RunFunc {
		latents := node.Socket(s, node.Latent, "latents")
		batchSize := s.Int("batch_size").Default(1).Min(1).Max(4096)
		out := node.Output(s, node.Latent, "LATENT").List()
		return func(ctx context.Context, c *node.Call) error {
			sizes := batchSize.List(c)
			if len(sizes) == 0 {
				return node.Raise("IndexError", "list index out of range")
			}
			n := int(sizes[0])
			var res []*tensor.Latent
			emit := func(b *batch, lo, hi int) error {
				l, err := b.latent(lo, hi)
				if err != nil {
					return err
				}
				res = append(res, l)
				return nil
			}
			var cur *batch // nil where ComfyUI's current batch is None
			processed := 0
			for _, l := range latents.List(c) {
				next, err := newBatch(l, processed)
				if err != nil {
					return err
				}
				processed += len(next.index)
				switch {
				case cur == nil:
					cur = next
				case hw(next.samples) != hw(cur.samples):
					if err := emit(cur, 0, n); err != nil {
						return err
					}
					cur = next
				default:
					if cur, err = cur.cat(next); err != nil {
						return err
					}
				}
				if b := len(cur.samples.items); b > n {
					if n == 0 {
						return node.Raise("ZeroDivisionError", "integer division or modulo by zero")
					}
					num := comfyutil.FloorDiv(b, n)
					for i := range num {
						if err := emit(cur, i*n, (i+1)*n); err != nil {
							return err
						}
					}
					cur = cur.rest(num * n)
				}
			}
			if cur != nil {
				if err := emit(cur, 0, n); err != nil {
					return err
				}
			}
			out.SetList(c, res)
			return nil
		}
	})

// batch is RebatchLatents' current batch: samples, noise masks and batch
// indices, each sliced and joined along the batch dimension on its own, as
// ComfyUI does (their lengths can differ).
type batch struct {
	samples, mask rows
	index         []int
	// noIndex: the indices ran out before the samples did, which is None in
	// ComfyUI and fails when used.
	noIndex bool
}

// newBatch is LatentRebatch.get_batch: the latent's samples, its noise mask
// (or ones) repeated to the batch size if shorter, and its batch indices
// (or offset, offset+1, ...).
func newBatch(l *tensor.Latent, offset int) (*batch, error) {
	if l == nil || l.Samples == nil {
		return nil, node.Raise("ValueError", "input latents: no latent samples")
	}
	shape := l.Samples.Shape
	if len(shape) < 4 {
		return nil, fmt.Errorf("input latents: latent samples of rank %d, want [B,C,H,W] or [B,C,T,H,W]", len(shape))
	}
	for _, t := range []*tensor.Tensor{l.Samples, l.NoiseMask} {
		if t != nil && len(t.Data) != prod(t.Shape) {
			return nil, fmt.Errorf("input latents: a tensor of shape %v has %d values", t.Shape, len(t.Data))
		}
	}
	b := &batch{samples: rowsOf(l.Samples)}
	if l.NoiseMask != nil {
		var err error
		if b.mask, err = maskRows(l.NoiseMask, shape[0]); err != nil {
			return nil, err
		}
	} else {
		// torch.ones((B, 1, shape[2]*8, shape[3]*8)): one frame, shared.
		item := []int{1, shape[2] * 8, shape[3] * 8}
		ones, err := comfyutil.Alloc(item...)
		if err != nil {
			return nil, err
		}
		for i := range ones.Data {
			ones.Data[i] = 1
		}
		b.mask = rows{item: item, items: make([][]float32, shape[0])}
		for i := range b.mask.items {
			b.mask.items[i] = ones.Data
		}
	}
	if l.BatchIndex != nil {
		b.index = slices.Clone(l.BatchIndex)
	} else {
		b.index = make([]int, shape[0])
		for i := range b.index {
			b.index[i] = offset + i
		}
	}
	return b, nil
}

// maskRows returns the items of a noise mask, repeated if it has fewer
// than n as mask.repeat((r, 1, 1, 1))[:n] does: a mask of fewer than four
// dimensions counts as one item then [quirk].
func maskRows(m *tensor.Tensor, n int) (rows, error) {
	k := len(m.Shape)
	if k < 2 {
		return rows{}, node.Raise("IndexError", "tuple index out of range")
	}
	if m.Shape[0] >= n {
		return rowsOf(m), nil
	}
	if k > 4 {
		return rows{}, fmt.Errorf("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
	}
	if m.Shape[0] == 0 {
		return rows{}, node.Raise("ZeroDivisionError", "integer division or modulo by zero")
	}
	r := (n-1)/m.Shape[0] + 1
	padded := append(make([]int, 4-k), m.Shape...)
	for i := range 4 - k {
		padded[i] = 1
	}
	src := rowsOf(&tensor.Tensor{Shape: padded, Data: m.Data})
	out := rows{item: src.item, items: make([][]float32, min(r*padded[0], n))}
	for i := range out.items {
		out.items[i] = src.items[i%padded[0]]
	}
	return out, nil
}

// hw returns the last two dimensions of samples.
func hw(samples rows) [2]int {
	d := len(samples.item)
	return [2]int{samples.item[d-2], samples.item[d-1]}
}

// cat is cat_batch: torch.cat of samples and of masks, list + of indices.
func (b *batch) cat(next *batch) (*batch, error) {
	samples, err := b.samples.cat(next.samples)
	if err != nil {
		return nil, err
	}
	mask, err := b.mask.cat(next.mask)
	if err != nil {
		return nil, err
	}
	if b.noIndex {
		return nil, node.Raise("TypeError", "unsupported operand type(s) for +: 'NoneType' and 'list'")
	}
	return &batch{samples: samples, mask: mask, index: append(slices.Clip(b.index), next.index...)}, nil
}

// rest is what get_slices leaves after the first k items: nil when the
// samples have nothing left (the batch is then dropped), and no indices
// when they have nothing left.
func (b *batch) rest(k int) *batch {
	if k >= len(b.samples.items) {
		return nil
	}
	r := &batch{samples: b.samples.slice(k, len(b.samples.items)), mask: b.mask.slice(k, len(b.mask.items))}
	if k < len(b.index) {
		r.index = b.index[k:]
	} else {
		r.noIndex = true
	}
	return r
}

// latent returns items [lo:hi] of the batch (clipped, as Python slices are)
// as an output latent.
func (b *batch) latent(lo, hi int) (*tensor.Latent, error) {
	if b.noIndex {
		return nil, node.Raise("TypeError", "'NoneType' object is not subscriptable")
	}
	mask := b.mask.slice(lo, hi)
	l := &tensor.Latent{Samples: b.samples.slice(lo, hi).tensor(), BatchIndex: []int{}}
	if mask.mean() != 1 {
		l.NoiseMask = mask.tensor()
	}
	ilo, ihi := comfyutil.PySlice(lo, hi, len(b.index))
	l.BatchIndex = append(l.BatchIndex, b.index[ilo:ihi]...)
	return l, nil
}

// rows is a tensor as the list of its items along dimension 0, which
// RebatchLatents slices and joins without copying values until an output
// is made. Items are never written.
type rows struct {
	item  []int // the shape of one item
	items [][]float32
}

func rowsOf(t *tensor.Tensor) rows {
	r := rows{item: t.Shape[1:], items: make([][]float32, t.Shape[0])}
	size := prod(r.item)
	for i := range r.items {
		r.items[i] = t.Data[i*size : (i+1)*size]
	}
	return r
}

// cat is torch.cat((r, o)) with torch's errors.
func (r rows) cat(o rows) (rows, error) {
	if len(r.item) != len(o.item) {
		return rows{}, fmt.Errorf("Tensors must have same number of dimensions: got %d and %d", len(r.item)+1, len(o.item)+1)
	}
	for d := range r.item {
		if r.item[d] != o.item[d] {
			return rows{}, fmt.Errorf("Sizes of tensors must match except in dimension 0. Expected size %d but got size %d for tensor number 1 in the list.",
				r.item[d], o.item[d])
		}
	}
	return rows{item: r.item, items: append(slices.Clip(r.items), o.items...)}, nil
}

// slice returns items [lo:hi], clipped (lo and hi are not negative).
func (r rows) slice(lo, hi int) rows {
	lo, hi = comfyutil.PySlice(lo, hi, len(r.items))
	return rows{item: r.item, items: r.items[lo:hi]}
}

// mean is the mean of all values, NaN when there are none. torch sums
// float32 masks in float32 (pairwise); the float64 sum here decides
// "mean == 1" the same way except for contrived masks (values above 1, or
// tens of millions of values just below it).
func (r rows) mean() float64 {
	var sum float64
	n := 0
	for _, it := range r.items {
		for _, v := range it {
			sum += float64(v)
		}
		n += len(it)
	}
	return sum / float64(n)
}

// tensor copies the items into one tensor.
func (r rows) tensor() *tensor.Tensor {
	t := tensor.New(append([]int{len(r.items)}, r.item...)...)
	off := 0
	for _, it := range r.items {
		off += copy(t.Data[off:], it)
	}
	return t
}
