package imagenode

import "math"

// randn fills out as torch.randn(out's shape, generator=torch.manual_seed(seed))
// does on the CPU: torch's MT19937 seeded with the low 32 bits of the seed,
// then Box–Muller. Tensors of 16 values or more take torch's normal_fill
// path (uniform floats, transformed in blocks of 16 with the last block
// redrawn when the size is not a multiple of 16); smaller ones draw one
// double normal at a time, caching the second value of each pair. torch
// computes the logarithms and sines in float32 with vectorized
// approximations, so values can differ from ComfyUI's in the last bits.
func randn(out []float32, seed uint64) {
	g := newMT19937(uint32(seed))
	if len(out) < 16 {
		var cached float64
		hasCached := false
		for i := range out {
			if hasCached {
				out[i] = float32(cached)
				hasCached = false
				continue
			}
			u1, u2 := g.double(), g.double()
			r := math.Sqrt(-2 * math.Log(1-u2))
			theta := 2 * math.Pi * u1
			cached, hasCached = r*math.Sin(theta), true
			out[i] = float32(r * math.Cos(theta))
		}
		return
	}
	for i := range out {
		out[i] = g.float()
	}
	for i := 0; i+16 <= len(out); i += 16 {
		boxMuller16(out[i : i+16])
	}
	if tail := len(out) % 16; tail != 0 {
		last := out[len(out)-16:]
		for i := range last {
			last[i] = g.float()
		}
		boxMuller16(last)
	}
}

// boxMuller16 is torch's normal_fill_16: eight pairs of uniforms (v[j],
// v[j+8]) become eight pairs of normals.
func boxMuller16(v []float32) {
	for j := range 8 {
		u1, u2 := 1-v[j], v[j+8]
		radius := float32(math.Sqrt(float64(-2 * float32(math.Log(float64(u1))))))
		theta := float32(2 * math.Pi * float64(u2))
		v[j] = radius * float32(math.Cos(float64(theta)))
		v[j+8] = radius * float32(math.Sin(float64(theta)))
	}
}

// mt19937 is torch's at::mt19937 (the standard 32-bit Mersenne Twister).
type mt19937 struct {
	state [624]uint32
	next  int
}

func newMT19937(seed uint32) *mt19937 {
	g := &mt19937{next: 624}
	g.state[0] = seed
	for i := 1; i < len(g.state); i++ {
		prev := g.state[i-1]
		g.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	return g
}

func (g *mt19937) uint32() uint32 {
	if g.next == len(g.state) {
		g.twist()
	}
	y := g.state[g.next]
	g.next++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	return y ^ (y >> 18)
}

func (g *mt19937) twist() {
	const n, m = 624, 397
	for i := range n {
		y := g.state[i]&0x80000000 | g.state[(i+1)%n]&0x7fffffff
		v := g.state[(i+m)%n] ^ y>>1
		if y&1 != 0 {
			v ^= 0x9908b0df
		}
		g.state[i] = v
	}
	g.next = 0
}

// float is torch's uniform_real_distribution<float>(0, 1): 24 random bits.
func (g *mt19937) float() float32 {
	return float32(g.uint32()&(1<<24-1)) / (1 << 24)
}

// double is uniform_real_distribution<double>(0, 1): 53 bits of two draws,
// the first one high.
func (g *mt19937) double() float64 {
	hi := uint64(g.uint32())
	lo := uint64(g.uint32())
	return float64((hi<<32|lo)&(1<<53-1)) / (1 << 53)
}
