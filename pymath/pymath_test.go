package pymath

import (
	"math"
	"math/big"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

func TestInt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op   string
		x, y int64
		want any // int64 for an int result, float64 for a float
		exc  string
	}{
		{"+", 2, 3, int64(5), ""},
		{"//", -7, 2, int64(-4), ""},
		{"%", -7, 2, int64(1), ""},
		{"%", 7, -2, int64(-1), ""},
		{"/", 1, 3, 1.0 / 3, ""},
		{"**", 2, 10, int64(1024), ""},
		{"**", -8, -1, -0.125, ""},
		{"**", 1, 1 << 40, int64(1), ""},
		{"**", 2, 64, nil, "OverflowError"},
		{"**", 0, -1, nil, "ZeroDivisionError"},
		{"//", 1, 0, nil, "ZeroDivisionError"},
		{"/", 1, 0, nil, "ZeroDivisionError"},
	} {
		got, err := Int(tc.op, big.NewInt(tc.x), big.NewInt(tc.y))
		if n, ok := got.(*big.Int); ok {
			got = n.Int64()
		}
		if tc.exc != "" {
			if node.ExceptionType(err) != tc.exc {
				t.Errorf("%d %s %d: error %v, want %s", tc.x, tc.op, tc.y, err, tc.exc)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("%d %s %d = %v (%T), %v; want %v", tc.x, tc.op, tc.y, got, got, err, tc.want)
		}
	}
}

func TestFloat(t *testing.T) {
	t.Parallel()
	negZero := math.Copysign(0, -1)
	for _, tc := range []struct {
		op        string
		x, y      float64
		want      float64
		exc, text string
	}{
		{"//", 7.5, 2, 3, "", ""},
		{"//", -7.5, 2, -4, "", ""},
		{"//", negZero, 3, negZero, "", ""},
		{"%", -7.5, 2, 0.5, "", ""},
		{"%", 7.5, -2, -0.5, "", ""},
		{"%", 0, -2, negZero, "", ""},
		{"**", 2, 0.5, math.Sqrt2, "", ""},
		{"/", 1, 0, 0, "ZeroDivisionError", "float division by zero"},
		{"//", 1, 0, 0, "ZeroDivisionError", "float floor division by zero"},
		{"%", 1, 0, 0, "ZeroDivisionError", "float modulo"},
		{"**", 0, -1, 0, "ZeroDivisionError", "0.0 cannot be raised to a negative power"},
		{"**", -8, 0.5, 0, "ValueError", "complex result of -8.0 ** 0.5 is not supported"},
		{"**", 10, 400, 0, "OverflowError", "(34, 'Numerical result out of range')"},
	} {
		got, err := Float(tc.op, tc.x, tc.y)
		if tc.exc != "" {
			if node.ExceptionType(err) != tc.exc || err.Error() != tc.text {
				t.Errorf("%v %s %v: error %v, want %s: %s", tc.x, tc.op, tc.y, err, tc.exc, tc.text)
			}
		} else if err != nil || got != tc.want || math.Signbit(got) != math.Signbit(tc.want) {
			t.Errorf("%v %s %v = %v, %v; want %v", tc.x, tc.op, tc.y, got, err, tc.want)
		}
	}
}
