package pilquant

import (
	"cmp"
	"slices"
)

// maxHashEntries is Quant.c's MAX_HASH_ENTRIES: the most distinct colours
// median cut works on. Above it, Pillow drops the low bit of each channel
// (its "scale") until the colours fit.
const maxHashEntries = 65536

// bin is one distinct colour after scaling, with the pixels it stands for.
type bin struct {
	c     [3]uint8  // the scaled colour
	count uint32    // its pixels
	sum   [3]uint64 // the sums of their unscaled channel values
}

// MedianCut returns the palette of Image.quantize(colors) for an RGB image
// (Pillow's default method for RGB, MEDIANCUT, with kmeans=0) and how many
// entries it found: at most colors, fewer when the image has fewer distinct
// colours. An empty image gets the palette Pillow gives it, the grey ramp.
func MedianCut(rgb []uint8, colors int) (*Palette, int, error) {
	if colors < 1 || colors > 256 {
		return nil, 0, ErrColors
	}
	pal := new(Palette)
	if len(rgb) < 3 {
		for i := range pal {
			pal[i] = [3]uint8{uint8(i), uint8(i), uint8(i)}
		}
		return pal, len(pal), nil
	}
	leaves := medianCut(histogram(rgb), uint32(len(rgb)/3), colors)
	for i, leaf := range leaves {
		var sum [3]uint64
		var count uint32
		for _, b := range leaf.bins {
			for ch := range sum {
				sum[ch] += b.sum[ch]
			}
			count += b.count
		}
		for ch := range sum {
			// Quant.c sums in uint32 (wrapping) and rounds half up in
			// double: (int)(.5 + (double)sum / (double)count).
			pal[i][ch] = uint8(int(0.5 + float64(uint32(sum[ch]))/float64(count)))
		}
	}
	return pal, len(leaves), nil
}

// histogram returns the distinct colours of rgb at the smallest scale that
// leaves at most maxHashEntries of them. create_pixel_hash gets there by
// rehashing whenever its table outgrows the limit, which ends at the same
// scale. Its PIXEL_HASH is injective on 8-bit colours, so colours that its
// table treats as equal are exactly the equal scaled ones.
func histogram(rgb []uint8) []bin {
	px := make([]uint32, len(rgb)/3)
	for i := range px {
		px[i] = uint32(rgb[3*i])<<16 | uint32(rgb[3*i+1])<<8 | uint32(rgb[3*i+2])
	}
	slices.Sort(px)
	var colours []bin
	for i := 0; i < len(px); {
		j := i + 1
		for j < len(px) && px[j] == px[i] {
			j++
		}
		b := bin{c: [3]uint8{uint8(px[i] >> 16), uint8(px[i] >> 8), uint8(px[i])}, count: uint32(j - i)}
		for ch := range b.sum {
			b.sum[ch] = uint64(b.c[ch]) * uint64(b.count)
		}
		colours = append(colours, b)
		i = j
	}
	bins := colours
	for scale := uint(1); len(bins) > maxHashEntries; scale++ {
		bins = rescale(colours, scale)
	}
	return bins
}

// rescale merges the colours that agree once scale low bits are dropped.
func rescale(colours []bin, scale uint) []bin {
	key := func(b bin) uint32 {
		return uint32(b.c[0]>>scale)<<16 | uint32(b.c[1]>>scale)<<8 | uint32(b.c[2]>>scale)
	}
	sorted := slices.Clone(colours)
	slices.SortFunc(sorted, func(a, b bin) int { return cmp.Compare(key(a), key(b)) })
	var out []bin
	for i, b := range sorted {
		if i > 0 && key(b) == key(sorted[i-1]) {
			last := &out[len(out)-1]
			last.count += b.count
			for ch := range last.sum {
				last.sum[ch] += b.sum[ch]
			}
			continue
		}
		b.c = [3]uint8{b.c[0] >> scale, b.c[1] >> scale, b.c[2] >> scale}
		out = append(out, b)
	}
	return out
}

// box is a node of the median cut tree: a set of bins.
type box struct {
	bins       []bin
	pixelCount uint32
	volume     int // of the bins' bounding box; -1 until computed
	l, r       *box
}

func newBox(bins []bin) *box {
	b := &box{bins: bins, volume: -1}
	for _, x := range bins {
		b.pixelCount += x.count
	}
	return b
}

// bounds returns the smallest and largest scaled value on each axis.
func (b *box) bounds() (lo, hi [3]int) {
	lo = [3]int{255, 255, 255}
	for _, x := range b.bins {
		for ch, v := range x.c {
			lo[ch], hi[ch] = min(lo[ch], int(v)), max(hi[ch], int(v))
		}
	}
	return lo, hi
}

func (b *box) computeVolume() int {
	if b.volume < 0 {
		b.volume = 0
		if len(b.bins) > 0 {
			lo, hi := b.bounds()
			b.volume = (hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1)
		}
	}
	return b.volume
}

// split cuts b in two along the axis of widest luminance-weighted extent, as
// Quant.c's split and splitlists do: the left child takes the values from
// the largest down to the one where the running pixel count passes half
// (with all bins of that value), the right child the rest; if that leaves
// the right child empty it takes the bins of the smallest value.
func (b *box) split() {
	lo, hi := b.bounds()
	f := [3]int{(hi[0] - lo[0]) * 77, (hi[1] - lo[1]) * 150, (hi[2] - lo[2]) * 29}
	axis := 0
	for i := 1; i < 3; i++ {
		if f[axis] < f[i] {
			axis = i
		}
	}
	bins := b.bins
	slices.SortFunc(bins, func(x, y bin) int { return cmp.Compare(y.c[axis], x.c[axis]) })
	var left uint32
	i := 0
	for i < len(bins) {
		left += bins[i].count
		i++
		if left*2 > b.pixelCount {
			break
		}
	}
	if i < len(bins) {
		for v := bins[i-1].c[axis]; i < len(bins) && bins[i].c[axis] == v; {
			i++
		}
	}
	if i == len(bins) {
		for v := bins[i-1].c[axis]; i > 0 && bins[i-1].c[axis] == v; {
			i--
		}
	}
	b.l, b.r = newBox(bins[:i]), newBox(bins[i:])
}

// medianCut splits the box of all bins until there are colors boxes or no
// box can be split, always splitting the box of most pixels (ties broken by
// QuantHeap.c's heap order), and returns the non-empty leaves in tree order.
func medianCut(bins []bin, pixels uint32, colors int) []*box {
	root := newBox(bins)
	root.pixelCount = pixels
	h := heap{}
	h.add(root)
	for n := colors - 1; n > 0; n-- {
		var b *box
		for {
			var ok bool
			if b, ok = h.remove(); !ok {
				return leaves(root, nil)
			}
			if b.computeVolume() != 1 {
				break
			}
		}
		b.split()
		h.add(b.l)
		h.add(b.r)
	}
	return leaves(root, nil)
}

func leaves(b *box, out []*box) []*box {
	if b.l != nil && b.r != nil {
		return leaves(b.r, leaves(b.l, out))
	}
	if len(b.bins) > 0 {
		out = append(out, b)
	}
	return out
}

// heap is QuantHeap.c's binary max-heap of boxes by pixel count (1-based,
// compared as C ints), whose order decides which of two boxes of equal
// counts is split first.
type heap struct{ items []*box }

func heapCmp(a, b *box) int32 { return int32(a.pixelCount) - int32(b.pixelCount) }

func (h *heap) add(v *box) {
	if len(h.items) == 0 {
		h.items = append(h.items, nil) // slot 0 is unused
	}
	h.items = append(h.items, v)
	k := len(h.items) - 1
	for k != 1 {
		if heapCmp(v, h.items[k/2]) <= 0 {
			break
		}
		h.items[k] = h.items[k/2]
		k >>= 1
	}
	h.items[k] = v
}

func (h *heap) remove() (*box, bool) {
	count := len(h.items) - 1
	if count <= 0 {
		return nil, false
	}
	top := h.items[1]
	v := h.items[count]
	count--
	h.items = h.items[:count+1]
	k := 1
	for k*2 <= count {
		l := k * 2
		if l < count && heapCmp(h.items[l], h.items[l+1]) < 0 {
			l++
		}
		if heapCmp(v, h.items[l]) > 0 {
			break
		}
		h.items[k] = h.items[l]
		k = l
	}
	if count > 0 {
		h.items[k] = v
	}
	return top, true
}
