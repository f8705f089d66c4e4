package pilquant

// Mapper maps colours to palette entries as Pillow's palette cache does
// (Palette.c, after the IJG JPEG library): a colour maps to the entry
// nearest to the corner of its 4×4×4 cache cell, (r&^3, g&^3, b&^3), the
// lowest index winning ties. Cells are filled eight by eight on each axis,
// on first use.
type Mapper struct {
	pal   *Palette
	cache []int16 // 64×64×64 cells; empty ones hold 0x100
}

const emptySlot = 0x100

// NewMapper returns a Mapper for p with an empty cache.
func NewMapper(p *Palette) *Mapper {
	m := &Mapper{pal: p, cache: make([]int16, 64*64*64)}
	for i := range m.cache {
		m.cache[i] = emptySlot
	}
	return m
}

// Index returns the palette entry of the colour (r, g, b), each in [0, 255].
func (m *Mapper) Index(r, g, b int) uint8 {
	slot := &m.cache[r>>2+(g>>2)*64+(b>>2)*64*64]
	if *slot == emptySlot {
		m.update(r, g, b)
	}
	return uint8(*slot)
}

// update is ImagingPaletteCacheUpdate: it fills the 8×8×8 cells of the
// 32×32×32 colour box around (r, g, b). Only entries whose smallest distance
// to the box is at most the smallest largest distance can be nearest; the
// distances to the cell corners are then stepped incrementally.
func (m *Mapper) update(r, g, b int) {
	const box, step = 8, 4
	r0, g0, b0 := r&0xe0, g&0xe0, b&0xe0
	r1, g1, b1 := r0+0x1f, g0+0x1f, b0+0x1f
	rc, gc, bc := (r0+r1)/2, (g0+g1)/2, (b0+b1)/2
	var dmin [256]uint32
	dmax := ^uint32(0)
	for i, e := range m.pal {
		tmin := axisMin(int(e[0]), r0, r1) + axisMin(int(e[1]), g0, g1) + axisMin(int(e[2]), b0, b1)
		tmax := axisMax(int(e[0]), r0, r1, rc) + axisMax(int(e[1]), g0, g1, gc) + axisMax(int(e[2]), b0, b1, bc)
		dmin[i] = tmin
		dmax = min(dmax, tmax)
	}
	var d [box * box * box]uint32
	var c [box * box * box]uint8
	for i := range d {
		d[i] = ^uint32(0)
	}
	for i, e := range m.pal {
		if dmin[i] > dmax {
			continue
		}
		ri, gi, bi := r0-int(e[0]), g0-int(e[1]), b0-int(e[2])
		rd := ri*ri + gi*gi + bi*bi
		ri, gi, bi = ri*2*step+step*step, gi*2*step+step*step, bi*2*step+step*step
		rx := ri
		j := 0
		for range box {
			gd, gx := rd, gi
			for range box {
				bd, bx := gd, bi
				for range box {
					if uint32(bd) < d[j] {
						d[j], c[j] = uint32(bd), uint8(i)
					}
					bd += bx
					bx += 2 * step * step
					j++
				}
				gd += gx
				gx += 2 * step * step
			}
			rd += rx
			rx += 2 * step * step
		}
	}
	j := 0
	for r := r0; r < r1; r += step {
		for g := g0; g < g1; g += step {
			for b := b0; b < b1; b += step {
				m.cache[r>>2+(g>>2)*64+(b>>2)*64*64] = int16(c[j])
				j++
			}
		}
	}
}

// axisMin is the smallest squared distance from v to [lo, hi].
func axisMin(v, lo, hi int) uint32 {
	switch {
	case v < lo:
		return uint32((v - lo) * (v - lo))
	case v > hi:
		return uint32((v - hi) * (v - hi))
	}
	return 0
}

// axisMax is the largest squared distance from v to [lo, hi] (mid is
// their midpoint, rounded down).
func axisMax(v, lo, hi, mid int) uint32 {
	if v <= mid {
		return uint32((v - hi) * (v - hi))
	}
	return uint32((v - lo) * (v - lo))
}

// Map returns the palette index of each pixel of the w×h image rgb, as
// Image.quantize(palette=...) computes it (Convert.c's topalette): the
// cached nearest entry, or with dither, Floyd-Steinberg error diffusion
// in Pillow's integer arithmetic.
func (m *Mapper) Map(rgb []uint8, w, h int, dither bool) []uint8 {
	out := make([]uint8, w*h)
	if !dither {
		for i := range out {
			out[i] = m.Index(int(rgb[3*i]), int(rgb[3*i+1]), int(rgb[3*i+2]))
		}
		return out
	}
	// errs holds, per column, the error sums of the row below (the
	// "errors" array, one slot more than the width).
	errs := make([]int, 3*(w+1))
	for y := range h {
		in, row := rgb[3*y*w:], out[y*w:]
		// Per channel: the error carried to the right (cur), and the
		// pending sums for the columns below-left (e0) and below (e1).
		var cur, e0, e1, e2 [3]int
		for x := range w {
			var v [3]int
			for ch := range v {
				// C's integer division truncates toward zero, as Go's.
				v[ch] = clip8(int(in[3*x+ch]) + (cur[ch]+errs[3*(x+1)+ch])/16)
			}
			idx := m.Index(v[0], v[1], v[2])
			row[x] = idx
			for ch := range v {
				err := v[ch] - int(m.pal[idx][ch])
				// Pillow's propagation: 3/16 below-left, 5/16 below,
				// 1/16 below-right, 7/16 right (as sums kept in cur).
				e2[ch] = err
				d2 := err + err
				err += d2
				errs[3*x+ch] = err + e0[ch]
				err += d2
				e0[ch] = err + e1[ch]
				e1[ch] = e2[ch]
				err += d2
				cur[ch] = err
			}
		}
		// [quirk] The row's last sums are written from the blue channel
		// into all three slots.
		errs[3*w], errs[3*w+1], errs[3*w+2] = e0[2], e1[2], e2[2]
	}
	return out
}

// clip8 is libImaging's CLIP8.
func clip8(v int) int {
	return max(0, min(v, 255))
}
