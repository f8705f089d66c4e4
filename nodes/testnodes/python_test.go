package testnodes

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

func TestArith(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op   string
		a, b any
		want any
	}{
		{"+", true, int64(1), int64(2)}, // bool is an int
		{"*", int64(3), 0.5, 1.5},
		{"//", 7.5, 2.0, 3.0},
		{"//", -7.5, 2.0, -4.0},
		{"%", -7.5, 2.0, 0.5},
		{"%", 7.5, -2.0, -0.5},
		{"%", 0.0, -2.0, math.Copysign(0, -1)},
		{"**", 2.0, 0.5, math.Sqrt2},
		{"**", int64(-8), int64(-1), -0.125},
		{"-", uint64(math.MaxUint64), int64(1), uint64(math.MaxUint64 - 1)},
	} {
		got, err := arith(tc.op, tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%v %s %v: got %v (%T), %v; want %v", tc.a, tc.op, tc.b, got, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		op       string
		a, b     any
		typ, msg string
	}{
		{"//", 1.0, 0.0, "ZeroDivisionError", "float floor division by zero"},
		{"%", 1.0, 0.0, "ZeroDivisionError", "float modulo"},
		{"**", -8.0, 0.5, "ValueError", "complex result of -8.0 ** 0.5 is not supported"},
		{"**", 10.0, 400.0, "OverflowError", "(34, 'Numerical result out of range')"},
		{"*", "a", int64(2), "TypeError", "unsupported operand type(s) for *: 'str' and 'int'"},
	} {
		_, err := arith(tc.op, tc.a, tc.b)
		wantException(t, err, tc.typ, tc.msg)
	}
}

func TestPyBoolTensors(t *testing.T) {
	t.Parallel()
	if b, err := pyBool(image(1, 1, 1, 0).Frame(0)); err != nil || !b {
		t.Errorf("a non-empty Go slice: %v, %v", b, err) // not a tensor: truthy object
	}
	one := mask(1, 1, 1, 2)
	if b, err := pyBool(one); err != nil || !b {
		t.Errorf("one-element tensor: %v, %v", b, err)
	}
	_, err := pyBool(mask(1, 2, 1, 0))
	wantException(t, err, "RuntimeError", "Boolean value of Tensor with more than one value is ambiguous")
}

func TestSmartTypeFits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		received, expected string
		want               bool
	}{
		{"FLOAT", "IMAGE,FLOAT", true},
		{"IMAGE,FLOAT", "FLOAT,IMAGE", true},
		{"INT", "IMAGE,FLOAT", false},
		{"INT,FLOAT", "IMAGE,FLOAT", false}, // a subset, not an intersection
		{"*", "INT", true},
		{"INT", "*", true},
		{"ACCUMULATION", "ACCUMULATION", true},
		{"FLOAT", "IMAGE, FLOAT", false}, // no trimming, as in the pack
	} {
		if got := smartTypeFits(tc.received, tc.expected); got != tc.want {
			t.Errorf("%q into %q: got %v", tc.received, tc.expected, got)
		}
	}
}

func TestArrayBroadcast(t *testing.T) {
	t.Parallel()
	a := array{[]int{2, 1, 3}, []float32{1, 2, 3, 4, 5, 6}}
	b := array{[]int{2, 1}, []float32{10, 20}}
	r, err := broadcast(a, b, func(x, y float32) float32 { return x + y })
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26}
	if shapeString(r.shape) != "[2, 2, 3]" || !slices.Equal(r.data, want) {
		t.Errorf("got %v %v, want [2, 2, 3] %v", r.shape, r.data, want)
	}
	_, err = broadcast(a, array{[]int{2}, []float32{1, 2}}, func(x, y float32) float32 { return x })
	wantException(t, err, "RuntimeError", "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 2")
	if got := repeatLast(array{[]int{2, 1}, []float32{1, 2}}, 3); !slices.Equal(got.data, []float32{1, 1, 1, 2, 2, 2}) {
		t.Errorf("repeatLast: %v", got.data)
	}
}

// FuzzIntMath checks that any operands give a value or a Python exception,
// never a panic or a hang (huge powers are refused before computing).
func FuzzIntMath(f *testing.F) {
	for _, op := range []string{"add", "subtract", "multiply", "divide", "modulo", "power"} {
		f.Add(int64(7), int64(-2), op)
	}
	f.Add(int64(math.MinInt64), int64(-1), "divide")
	f.Add(int64(3), int64(math.MaxInt64), "power")
	f.Fuzz(func(t *testing.T, a, b int64, op string) {
		r, err := call(t, TestIntMathOperation, map[string]any{"a": a, "b": b, "operation": op})
		if err != nil {
			var e *node.Exception
			if !errors.As(err, &e) {
				t.Fatalf("not a Python exception: %v", err)
			}
			return
		}
		switch r.Outputs[0].(type) {
		case int64, uint64, float64:
		default:
			t.Fatalf("output %T", r.Outputs[0])
		}
	})
}
