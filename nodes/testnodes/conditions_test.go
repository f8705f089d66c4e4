package testnodes

import (
	"math"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

func TestComparisons(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, tc := range []struct {
		class *node.Class
		a, b  any
		op    string
		want  bool
	}{
		{TestIntConditions, int64(2), int64(2), "==", true},
		{TestIntConditions, int64(1), int64(2), "!=", true},
		{TestIntConditions, int64(1), int64(2), "<", true},
		{TestIntConditions, int64(3), int64(2), ">", true},
		{TestIntConditions, int64(2), int64(2), "<=", true},
		{TestIntConditions, int64(1), int64(2), ">=", false},
		{TestIntConditions, uint64(1<<63 + 1), int64(math.MaxInt64), ">", true},
		{TestIntConditions, int64(2), 2.0, "==", true}, // Python compares int and float exactly
		{TestFloatConditions, 0.5, 0.25, ">", true},
		{TestFloatConditions, nan, nan, "==", false},
		{TestFloatConditions, nan, 1.0, "!=", true},
		{TestFloatConditions, nan, 1.0, "<=", false},
	} {
		r := mustCall(t, tc.class, map[string]any{"a": tc.a, "b": tc.b, "operation": tc.op})
		if r.Outputs[0] != tc.want {
			t.Errorf("%s %v %s %v: got %v", tc.class.ID, tc.a, tc.op, tc.b, r.Outputs[0])
		}
	}
	_, err := call(t, TestIntConditions, map[string]any{"a": "x", "b": int64(1), "operation": "<"})
	wantException(t, err, "TypeError", "'<' not supported between instances of 'str' and 'int'")
}

func TestStringConditionsRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b, op  string
		sensitive bool
		want      bool
	}{
		{"abc", "abc", "a == b", true, true},
		{"abc", "ABC", "a == b", true, false},
		{"abc", "ABC", "a == b", false, true},
		{"abc", "abd", "a != b", true, true},
		{"b", "abc", "a IN b", true, true},
		{"abc123", `[a-c]+\d`, "a MATCH REGEX(b)", true, true},
		{"xabc", "abc", "a MATCH REGEX(b)", true, false}, // re.match anchors at the start
		{"abcx", "abc", "a MATCH REGEX(b)", true, true},  // but not at the end
		{"abc", "x|a", "a MATCH REGEX(b)", true, true},
		{"abc", "(", "a MATCH REGEX(b)", true, false}, // a bad pattern is false
		{"ABC", "a", "a MATCH REGEX(b)", false, true},
		{"abc", "ab", "a BEGINSWITH b", true, true},
		{"abc", "bc", "a ENDSWITH b", true, true},
		{"abc", "BC", "a ENDSWITH b", true, false},
	} {
		r := mustCall(t, TestStringConditions, map[string]any{"a": tc.a, "b": tc.b, "operation": tc.op, "case_sensitive": tc.sensitive})
		if r.Outputs[0] != tc.want {
			t.Errorf("%q %s %q (case sensitive %v): got %v", tc.a, tc.op, tc.b, tc.sensitive, r.Outputs[0])
		}
	}
}

func TestToBool(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value any
		want  bool
	}{
		{nil, false},
		{int64(0), false},
		{int64(-1), true},
		{0.0, false},
		{math.NaN(), true},
		{"", false},
		{"false", true},
		{[]any{}, false},
		{Accumulation{}, true}, // a dict with a key
		{image(1, 2, 2, 0), false},
		{image(1, 2, 2, 0.5), true},
		{mask(2, 2, 2, 0), false},
		{&tensor.Latent{}, true},
	} {
		for _, invert := range []bool{false, true} {
			r := mustCall(t, TestToBoolNode, map[string]any{"value": tc.value, "invert": invert})
			if r.Outputs[0] != (tc.want != invert) {
				t.Errorf("%s invert %v: got %v", describe(tc.value), invert, r.Outputs[0])
			}
		}
	}
	_, err := call(t, TestToBoolNode, map[string]any{"value": tensor.NewImage(0, 2, 2, 3)})
	wantException(t, err, "RuntimeError", "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
}

func TestBoolOperation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b any
		op   string
		want bool
	}{
		{true, false, "a AND b", false},
		{true, true, "a AND b", true},
		{false, true, "a OR b", true},
		{true, true, "a XOR b", false},
		{true, false, "a XOR b", true},
		{false, true, "NOT a", true},
		{int64(2), true, "a AND b", true}, // truth, as Python's "and" tests it
	} {
		r := mustCall(t, TestBoolOperationNode, map[string]any{"a": tc.a, "b": tc.b, "op": tc.op})
		if r.Outputs[0] != tc.want {
			t.Errorf("%v %s %v: got %v", tc.a, tc.op, tc.b, r.Outputs[0])
		}
	}
}

func FuzzStringConditions(f *testing.F) {
	f.Add("abc", "a.c", "a MATCH REGEX(b)", false)
	f.Add("", "(", "a MATCH REGEX(b)", true)
	f.Add("Straße", "STRASSE", "a == b", false)
	f.Add("x", "x", "a IN b", true)
	f.Fuzz(func(t *testing.T, a, b, op string, sensitive bool) {
		r, err := call(t, TestStringConditions, map[string]any{"a": a, "b": b, "operation": op, "case_sensitive": sensitive})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Outputs[0].(bool); !ok {
			t.Fatalf("output %v", r.Outputs[0])
		}
	})
}
