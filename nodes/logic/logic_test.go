package logic_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/logic"
	"github.com/gocomfy/gocomfy/tensor"
)

func run(class *node.Class, in map[string]any) (node.Result, error) {
	c := node.NewCall(nil, "1", 0, in)
	err := class.Run(context.Background(), c)
	return c.Result(), err
}

func outputs(t *testing.T, class *node.Class, in map[string]any) []any {
	t.Helper()
	r, err := run(class, in)
	if err != nil {
		t.Fatalf("%s %v: %v", class.ID, in, err)
	}
	return r.Outputs
}

// Python's truthiness: `not x` for each value.
func TestNot(t *testing.T) {
	t.Parallel()
	img := func(pix ...float32) *tensor.Image { return &tensor.Image{B: 1, H: 1, W: len(pix), C: 1, Pix: pix} }
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{nil, true}, {"", true}, {"a", false}, {int64(0), true}, {int64(-1), false}, {0.0, true}, {0.5, false},
		{false, true}, {json.Number("0"), true}, {[]any{}, true}, {[]any{nil}, false},
		{img(0), true}, {img(2), false}, {&tensor.Latent{Samples: tensor.New(1, 4, 1, 1)}, false},
	} {
		got := outputs(t, logic.ComfyNotNode, map[string]any{"value": tc.v})
		if got[0] != tc.want {
			t.Errorf("not %#v = %v", tc.v, got[0])
		}
	}
	// bool() of a tensor with several elements raises.
	if _, err := run(logic.ComfyNotNode, map[string]any{"value": img(1, 2)}); node.ExceptionType(err) != "RuntimeError" {
		t.Errorf("ambiguous tensor: %v", err)
	}
}

// all() and any() over value0, value1, …, stopping at the deciding value.
func TestAndOr(t *testing.T) {
	t.Parallel()
	ambiguous := &tensor.Mask{B: 1, H: 1, W: 2, Pix: []float32{1, 1}}
	cases := []struct {
		class *node.Class
		in    map[string]any
		want  bool
	}{
		{logic.ComfyAndNode, map[string]any{"values.value0": true, "values.value1": int64(3)}, true},
		{logic.ComfyAndNode, map[string]any{"values.value0": true, "values.value1": ""}, false},
		{logic.ComfyAndNode, map[string]any{"values.value0": int64(0), "values.value1": ambiguous}, false},
		{logic.ComfyAndNode, map[string]any{}, true},
		{logic.ComfyOrNode, map[string]any{"values.value0": nil, "values.value3": "x"}, true},
		{logic.ComfyOrNode, map[string]any{"values.value0": 1.0, "values.value1": ambiguous}, true},
		{logic.ComfyOrNode, map[string]any{}, false},
	}
	for _, tc := range cases {
		if got := outputs(t, tc.class, tc.in); got[0] != tc.want {
			t.Errorf("%s %v = %v", tc.class.ID, tc.in, got[0])
		}
	}
}

func TestSwitch(t *testing.T) {
	t.Parallel()
	lazy := logic.ComfySwitchNode.CheckLazy()
	for _, tc := range []struct {
		in   map[string]any
		want []string
	}{
		{map[string]any{"switch": true}, []string{"on_true"}},
		{map[string]any{"switch": false, "on_true": int64(1)}, []string{"on_false"}},
		{map[string]any{"switch": false, "on_false": int64(0)}, nil},
	} {
		got, err := lazy(context.Background(), node.NewCall(nil, "1", 0, tc.in))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("check_lazy_status %v = %v, %v", tc.in, got, err)
		}
	}
	if got := outputs(t, logic.ComfySwitchNode, map[string]any{"switch": true, "on_true": "yes", "on_false": "no"}); got[0] != "yes" {
		t.Errorf("switch true: %v", got)
	}
	if got := outputs(t, logic.ComfySwitchNode, map[string]any{"switch": false, "on_false": "no"}); got[0] != "no" {
		t.Errorf("switch false: %v", got)
	}
}

func TestCustomCombo(t *testing.T) {
	t.Parallel()
	got := outputs(t, logic.CustomCombo, map[string]any{"choice": "b", "index": json.Number("2")})
	if got[0] != "b" || got[1] != int64(2) {
		t.Errorf("got %v", got)
	}
	if got := outputs(t, logic.CustomCombo, map[string]any{"choice": "a"}); got[1] != int64(0) {
		t.Errorf("default index: %v", got)
	}
	validate, opt := logic.CustomCombo.Validator()
	if validate == nil || !opt.AllInputs || validate(context.Background(), node.NewCall(nil, "1", 0, map[string]any{"choice": "anything"})) != nil {
		t.Error("validation should accept any choice")
	}
}

// float(s) and int(s), else int(float(s)), as CPython 3.11 gives them.
func TestNumberConvert(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v any
		f float64
		i int64
	}{
		{true, 1, 1}, {int64(7), 7, 7}, {2.9, 2.9, 2}, {-2.9, -2.9, -2},
		{" 1_000 ", 1000, 1000}, {"1e3", 1000, 1000}, {"-3.7", -3.7, -3}, {"+5", 5, 5},
	} {
		got := outputs(t, logic.ComfyNumberConvert, map[string]any{"value": tc.v})
		if got[0] != tc.f || got[1] != tc.i {
			t.Errorf("%#v → %v", tc.v, got)
		}
	}
	for _, bad := range []any{"", "  ", "abc", "inf", "nan", "0x10", "1__0", "_1", math.Inf(1), []any{}} {
		if _, err := run(logic.ComfyNumberConvert, map[string]any{"value": bad}); err == nil {
			t.Errorf("%#v: no error", bad)
		}
	}
}

func TestUtilities(t *testing.T) {
	t.Parallel()
	if got := outputs(t, logic.SeedNode, map[string]any{"seed": int64(42)}); got[0] != int64(42) {
		t.Errorf("seed: %v", got)
	}
	// round(16·s/8)·8 and round(9·s/8)·8 with s = sqrt(1024²/144): 1368×768;
	// 2:3 at 2 MP in multiples of 64: 1152×1792.
	for _, tc := range []struct {
		aspect string
		mp     float64
		mult   int64
		w, h   int64
	}{{"16:9 (Widescreen)", 1, 8, 1368, 768}, {"2:3 (Portrait Photo)", 2, 64, 1152, 1792}, {"1:1 (Square)", 1, 8, 1024, 1024}} {
		got := outputs(t, logic.ResolutionSelector, map[string]any{"aspect_ratio": tc.aspect, "megapixels": tc.mp, "multiple": tc.mult})
		if got[0] != tc.w || got[1] != tc.h {
			t.Errorf("%s: %v", tc.aspect, got)
		}
	}
	// "#ff8000" is 0xff8000 = 16744448.
	if got := outputs(t, logic.ColorToRGBInt, map[string]any{"color": "#ff8000"}); got[0] != int64(16744448) || got[1] != "#ff8000" {
		t.Errorf("color: %v", got)
	}
	for _, bad := range []string{"ff8000", "#gg0000", "#fff"} {
		if _, err := run(logic.ColorToRGBInt, map[string]any{"color": bad}); node.ExceptionType(err) != "ValueError" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	r, err := run(logic.CreateList, map[string]any{"inputs.input0": []any{int64(1), int64(2)}, "inputs.input1": []any{int64(3)}})
	if err != nil || !slices.Equal(r.Outputs[0].([]any), []any{int64(1), int64(2), int64(3)}) {
		t.Errorf("CreateList: %v, %v", r.Outputs, err)
	}
}

// PreviewAny: str for strings and numbers (Python spelling),
// json.dumps(indent=4) for the rest, "None" for None.
func TestPreviewAny(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"abc", "abc"}, {int64(5), "5"}, {1.0, "1.0"}, {1e16, "1e+16"}, {true, "True"}, {nil, "None"},
		{[]any{int64(1), "a", map[string]any{"k": nil}}, "[\n    1,\n    \"a\",\n    {\n        \"k\": null\n    }\n]"},
		{"é", "é"},
	} {
		r, err := run(logic.PreviewAny, map[string]any{"source": tc.v})
		if err != nil || r.Outputs[0] != tc.want {
			t.Errorf("%#v: %q, %v", tc.v, r.Outputs, err)
			continue
		}
		if ui, _ := r.UI.Get("text"); !slices.Equal(ui.([]any), []any{tc.want}) {
			t.Errorf("%#v: ui %v", tc.v, ui)
		}
	}
}

func FuzzNumberConvert(f *testing.F) {
	for _, s := range []string{"1_000", " -3.5e2 ", "inf", "0x1p3", "+-1", "9223372036854775808", "1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := run(logic.ComfyNumberConvert, map[string]any{"value": s})
		if err == nil {
			if f := r.Outputs[0].(float64); math.IsInf(f, 0) || math.IsNaN(f) {
				t.Errorf("%q gave non-finite %v", s, f)
			}
		}
	})
}
