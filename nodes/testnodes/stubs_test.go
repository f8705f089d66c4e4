package testnodes

import (
	"testing"
)

func TestStubs(t *testing.T) {
	t.Parallel()
	size := map[string]any{"height": int64(4), "width": int64(5), "batch_size": int64(2)}
	with := func(k string, v any) map[string]any {
		m := map[string]any{k: v}
		for k, v := range size {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		class  string
		values map[string]any
		want   string
	}{
		{"StubImage", with("content", "WHITE"), "image[2 4 5 3]=1"},
		{"StubImage", with("content", "BLACK"), "image[2 4 5 3]=0"},
		{"StubConstantImage", with("value", 0.25), "image[2 4 5 3]=0.25"},
		{"StubMask", with("value", 0.5), "mask[2 4 5]=0.5"},
		{"StubInt", map[string]any{"value": int64(-7)}, "-7"},
		{"StubFloat", map[string]any{"value": 2.5}, "2.5"},
	} {
		class := byID(t, tc.class)
		if got := outputs(mustCall(t, class, tc.values)); got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.class, tc.values, got, tc.want)
		}
	}
}

func TestStubImageNoise(t *testing.T) {
	t.Parallel()
	r := mustCall(t, StubImage, map[string]any{"content": "NOISE", "height": int64(8), "width": int64(8), "batch_size": int64(1)})
	a, _ := asArray(r.Outputs[0])
	lo, _ := a.min()
	hi, _ := a.max()
	if lo < 0 || hi >= 1 || lo == hi {
		t.Errorf("noise in [%v, %v]", lo, hi)
	}
}

func TestStubSizeErrors(t *testing.T) {
	t.Parallel()
	_, err := call(t, StubImage, map[string]any{"content": "WHITE", "height": int64(1 << 20), "width": int64(1 << 20), "batch_size": int64(1)})
	wantException(t, err, "RuntimeError", "DefaultCPUAllocator: not enough memory: you tried to allocate 13194139533312 bytes.")
	_, err = call(t, StubMask, map[string]any{"value": 0.5, "height": int64(-1), "width": int64(2), "batch_size": int64(1)})
	wantException(t, err, "RuntimeError", "Trying to create tensor with negative dimension -1: [1, -1, 2]")
}
