package pyjson

import (
	"math"
	"testing"
)

func TestFormatFloat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   float64
		want string
	}{
		{1, "1.0"}, {0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {0.01, "0.01"}, {1e-05, "1e-05"},
		{0.0001, "0.0001"}, {104857600, "104857600.0"}, {1e16, "1e+16"}, {1.5e300, "1.5e+300"},
		{-2.5, "-2.5"}, {123456789012345.6, "123456789012345.6"}, {0.30000000000000004, "0.30000000000000004"},
		{math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	}
	for _, c := range cases {
		if got := FormatFloat(c.in); got != c.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	type msg struct {
		Type string `json:"type"`
		Data Object `json:"data"`
	}
	v := msg{"executed", Object{{"node", "9"}, {"value", Float(2)}, {"text", "héllo <b>&😀"}, {"list", []int{1, 2}}}}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type": "executed", "data": {"node": "9", "value": 2.0, "text": "h\u00e9llo <b>&\ud83d\ude00", "list": [1, 2]}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRespaceKeepsStringContents(t *testing.T) {
	t.Parallel()
	got := string(Respace(nil, []byte(`{"a":"x,y:\"z\\","b":[]}`)))
	want := `{"a": "x,y:\"z\\", "b": []}`
	if got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestDecodeObjectKeepsOrder(t *testing.T) {
	t.Parallel()
	o, err := DecodeObject([]byte(`{"b": 1, "a": {"x": [1, 2]}, "b": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Marshal(o)
	if want := `{"b": 3, "a": {"x": [1, 2]}}`; string(got) != want {
		t.Errorf("got %s want %s", got, want)
	}
	for _, bad := range []string{`[]`, `1`, `{"a":}`, `{} {}`, ``} {
		if _, err := DecodeObject([]byte(bad)); err == nil {
			t.Errorf("DecodeObject(%q) accepted", bad)
		}
	}
}
