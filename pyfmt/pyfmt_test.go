package pyfmt

import (
	"math"
	"math/big"
	"testing"

	"github.com/gocomfy/gocomfy/pyjson"
)

// Each want is CPython 3.11's repr(), str() or json.dumps() of the value.
func TestPythonSpellings(t *testing.T) {
	t.Parallel()
	reprs := []struct {
		v    any
		want string
	}{
		{"it's", `"it's"`},
		{`a"b'c`, `'a"b\'c'`},
		{"tab\tnl\n\x00\x7f", `'tab\tnl\n\x00\x7f'`},
		{"é\u200b😀\u00a0", `'é\u200b😀\xa0'`},
		{[]any{1.0, 1e16, nil, true, pyjson.Object{{Key: "a", Value: math.NaN()}}}, "[1.0, 1e+16, None, True, {'a': nan}]"},
		{map[string]any{"b": int64(2), "a": big.NewInt(1)}, "{'a': 1, 'b': 2}"},
	}
	for _, tc := range reprs {
		if got := Repr(tc.v); got != tc.want {
			t.Errorf("repr(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
	if Str("x") != "x" || Str(false) != "False" {
		t.Error("str of a string or a bool")
	}
	dumps := []struct {
		v      any
		indent int
		ascii  bool
		want   string
	}{
		{[]any{"é😀\x7f\x01"}, -1, true, `["\u00e9\ud83d\ude00\u007f\u0001"]`},
		{[]any{"é\x7f"}, -1, false, "[\"é\x7f\"]"},
		{pyjson.Object{{Key: "a", Value: []any{}}}, 2, true, "{\n  \"a\": []\n}"},
		{pyjson.Object{{Key: "a", Value: []any{int64(1), pyjson.Object{{Key: "b", Value: pyjson.Object{}}}}}, {Key: "c", Value: []any{}}}, 2, true,
			"{\n  \"a\": [\n    1,\n    {\n      \"b\": {}\n    }\n  ],\n  \"c\": []\n}"},
		{[]any{math.Inf(-1), math.NaN(), int64(1), "x"}, -1, true, `[-Infinity, NaN, 1, "x"]`},
	}
	for _, tc := range dumps {
		if got, err := Dumps(tc.v, tc.indent, tc.ascii); err != nil || got != tc.want {
			t.Errorf("dumps(%#v) = %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
	if _, err := Dumps([]any{struct{}{}}, -1, true); err == nil {
		t.Error("dumps of an unknown type should fail")
	}
}
