package pilquant

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// testdata/pillow.json holds Pillow 9.4's own results (testdata/gen.py):
// the Go port must give the same palettes and indices, byte for byte.
func TestMatchesPillow(t *testing.T) {
	data, err := os.ReadFile("testdata/pillow.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Kind                   string
		W, H, Colors           int
		RGB, Palette, None, FS string
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	bytes := func(t *testing.T, s string) []uint8 {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, c := range cases {
		rgb := bytes(t, c.RGB)
		pal, _, err := MedianCut(rgb, c.Colors)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := flat(pal); !slices.Equal(got, bytes(t, c.Palette)) {
			t.Errorf("case %d (%s, %d colours): palette\n%v\nwant\n%v", i, c.Kind, c.Colors, got, bytes(t, c.Palette))
			continue
		}
		for _, m := range []struct {
			dither bool
			want   string
		}{{false, c.None}, {true, c.FS}} {
			if got := NewMapper(pal).Map(rgb, c.W, c.H, m.dither); !slices.Equal(got, bytes(t, m.want)) {
				t.Errorf("case %d (%s, dither %v): indices %v, want %v", i, c.Kind, m.dither, got, bytes(t, m.want))
			}
		}
	}
}

func flat(p *Palette) []uint8 {
	var out []uint8
	for _, e := range p {
		out = append(out, e[:]...)
	}
	return out
}

// Small cases worked out from Quant.c by hand.
func TestMedianCut(t *testing.T) {
	a, b := []uint8{10, 20, 30}, []uint8{200, 20, 30}
	cases := []struct {
		name   string
		rgb    []uint8
		colors int
		want   [][3]uint8
	}{
		// Red has the widest weighted extent; the running count reaches
		// half only at the last colour, so the smallest value goes right
		// and the larger one becomes entry 0.
		{"two colours", slices.Concat(a, b), 2, [][3]uint8{{200, 20, 30}, {10, 20, 30}}},
		// The mean rounds half up: (0+1)/2 → 1.
		{"one colour, rounded half up", []uint8{0, 0, 0, 1, 1, 1}, 1, [][3]uint8{{1, 1, 1}}},
		// Boxes of one colour are not split: two entries only.
		{"fewer colours than asked", slices.Concat(a, a, b), 256, [][3]uint8{{200, 20, 30}, {10, 20, 30}}},
		// One entry: the mean over pixels, (3·10+200)/4 = 57.5 → 58.
		{"weighted mean", slices.Concat(a, a, a, b), 1, [][3]uint8{{58, 20, 30}}},
	}
	for _, c := range cases {
		pal, n, err := MedianCut(c.rgb, c.colors)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(c.want) || !slices.Equal(pal[:n], c.want) {
			t.Errorf("%s: %v, want %v", c.name, pal[:n], c.want)
		}
		for i := n; i < 256; i++ {
			if pal[i] != [3]uint8{} {
				t.Errorf("%s: entry %d is %v, want black", c.name, i, pal[i])
			}
		}
	}
	if pal, n, err := MedianCut(nil, 4); err != nil || n != 256 || pal[200] != [3]uint8{200, 200, 200} {
		t.Errorf("empty image: %v %d %v, want the grey ramp", pal[200], n, err)
	}
	for _, colors := range []int{0, 257, -1} {
		if _, _, err := MedianCut(a, colors); !errors.Is(err, ErrColors) {
			t.Errorf("%d colors: %v, want ErrColors", colors, err)
		}
	}
}

// Above 65536 distinct colours, the low bit of every channel goes, as
// often as needed.
func TestHistogramScale(t *testing.T) {
	var rgb []uint8
	for r := range 256 {
		for g := range 256 {
			for b := range 2 {
				rgb = append(rgb, uint8(r), uint8(g), uint8(b))
			}
		}
	}
	bins := histogram(rgb)
	if len(bins) != 128*128 {
		t.Fatalf("%d bins, want %d (scale 1)", len(bins), 128*128)
	}
	for _, b := range bins {
		r, g := uint64(b.c[0]), uint64(b.c[1])
		// Each bin holds 2×2×2 colours; its sums are of unscaled values.
		if b.count != 8 || b.c[2] != 0 || b.sum[0] != 4*(2*r+2*r+1) || b.sum[1] != 4*(2*g+2*g+1) || b.sum[2] != 4 {
			t.Fatalf("bin %+v", b)
		}
	}
}

// The cache gives the palette entry nearest to the corner of the colour's
// 4×4×4 cell, the lowest index winning ties.
func TestMapperNearestCorner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		var pal Palette
		for i := range 40 + rng.IntN(200) {
			pal[i] = [3]uint8{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))}
		}
		m := NewMapper(&pal)
		for range 3000 {
			r, g, b := rng.IntN(256), rng.IntN(256), rng.IntN(256)
			best, bestDist := 0, 1<<30
			for i, e := range pal {
				dr, dg, db := r&^3-int(e[0]), g&^3-int(e[1]), b&^3-int(e[2])
				if d := dr*dr + dg*dg + db*db; d < bestDist {
					best, bestDist = i, d
				}
			}
			if got := m.Index(r, g, b); int(got) != best {
				t.Fatalf("(%d, %d, %d): entry %d, want %d", r, g, b, got, best)
			}
		}
	}
}

// Images are user data: any bytes and sizes give a palette and indices.
func FuzzQuantize(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(3), uint8(2), true)
	f.Add([]byte{255, 255, 255, 0, 0, 0}, uint8(2), uint8(1), false)
	f.Add([]byte{}, uint8(1), uint8(0), true)
	f.Fuzz(func(t *testing.T, rgb []byte, w, colors uint8, dither bool) {
		// Keep each run short: the fuzzer counts a slow input as a failure.
		rgb = rgb[:min(len(rgb), 3*256)/3*3]
		width := max(1, int(w))
		h := len(rgb) / 3 / width
		rgb = rgb[:3*width*h]
		pal, n, err := MedianCut(rgb, int(colors))
		if colors == 0 {
			if err == nil {
				t.Fatal("0 colors: no error")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if n < 1 || (len(rgb) > 0 && n > int(colors)) {
			t.Fatalf("%d entries for %d colours", n, colors)
		}
		if got := NewMapper(pal).Map(rgb, width, h, dither); len(got) != width*h {
			t.Fatalf("%d indices for %d×%d", len(got), width, h)
		}
	})
}
