package testnodes

import (
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

func TestAccumulations(t *testing.T) {
	t.Parallel()
	abc := Accumulation{[]any{"a", "b", "c"}}
	empty := Accumulation{}
	for _, tc := range []struct {
		class  *node.Class
		values map[string]any
		want   string
	}{
		{TestAccumulateNode, map[string]any{"to_add": "a"}, "{[a]}"},
		{TestAccumulateNode, map[string]any{"to_add": "d", "accumulation": abc}, "{[a b c d]}"},
		{TestAccumulateNode, map[string]any{"to_add": "x", "accumulation": map[string]any{"accum": []any{"w"}}}, "{[w x]}"},
		{TestAccumulationHeadNode, map[string]any{"accumulation": abc}, `{[b c]} | "a"`},
		{TestAccumulationHeadNode, map[string]any{"accumulation": empty}, "{[]} | <nil>"},
		{TestAccumulationTailNode, map[string]any{"accumulation": abc}, `{[a b]} | "c"`},
		{TestAccumulationTailNode, map[string]any{"accumulation": empty}, "<nil> | {[]}"},
		{TestAccumulationToListNode, map[string]any{"accumulation": abc}, `["a", "b", "c"]`},
		{TestListToAccumulationNode, map[string]any{"list": []any{int64(1), int64(2)}}, "{[1 2]}"},
		{TestAccumulationGetLengthNode, map[string]any{"accumulation": abc}, "3"},
		{TestAccumulationGetItemNode, map[string]any{"accumulation": abc, "index": int64(1)}, `"b"`},
		{TestAccumulationGetItemNode, map[string]any{"accumulation": abc, "index": int64(-1)}, `"c"`},
		{TestAccumulationSetItemNode, map[string]any{"accumulation": abc, "index": int64(-3), "value": "z"}, "{[z b c]}"},
	} {
		if got := outputs(mustCall(t, tc.class, tc.values)); got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.class.ID, tc.values, got, tc.want)
		}
	}
	if abc.Accum[0] != "a" {
		t.Errorf("an accumulation was changed: %v", abc)
	}
	for _, tc := range []struct {
		class    *node.Class
		values   map[string]any
		typ, msg string
	}{
		{TestAccumulationGetItemNode, map[string]any{"accumulation": abc, "index": int64(3)}, "IndexError", "list index out of range"},
		{TestAccumulationSetItemNode, map[string]any{"accumulation": abc, "index": int64(-4), "value": "z"}, "IndexError", "list assignment index out of range"},
		{TestAccumulationGetItemNode, map[string]any{"accumulation": abc, "index": 1.0}, "TypeError", "list indices must be integers or slices, not float"},
		{TestAccumulationHeadNode, map[string]any{"accumulation": nil}, "TypeError", "'NoneType' object is not subscriptable"},
		{TestAccumulationGetLengthNode, map[string]any{"accumulation": map[string]any{}}, "KeyError", "'accum'"},
	} {
		_, err := call(t, tc.class, tc.values)
		wantException(t, err, tc.typ, tc.msg)
	}
}

func TestIntMathOperationRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b any
		op   string
		want string
	}{
		{int64(7), int64(2), "add", "9"},
		{int64(7), int64(9), "subtract", "-2"},
		{int64(-7), int64(3), "multiply", "-21"},
		{int64(7), int64(2), "divide", "3"},
		{int64(-7), int64(2), "divide", "-4"}, // floor, not truncation
		{int64(7), int64(-2), "divide", "-4"},
		{int64(-7), int64(2), "modulo", "1"}, // the sign of the divisor
		{int64(7), int64(-2), "modulo", "-1"},
		{int64(2), int64(10), "power", "1024"},
		{int64(2), int64(-2), "power", "0.25"},
		{int64(-1), int64(1001), "power", "-1"},
		{int64(1), int64(1) << 62, "power", "1"},
		{int64(2), int64(63), "power", "9223372036854775808"}, // above int64: uint64, as seeds are
		{uint64(1 << 63), int64(1), "subtract", "9223372036854775807"},
		{int64(1), int64(0), "power", "1"},
	} {
		r := mustCall(t, TestIntMathOperation, map[string]any{"a": tc.a, "b": tc.b, "operation": tc.op})
		if got := outputs(r); got != tc.want {
			t.Errorf("%v %s %v: got %s, want %s", tc.a, tc.op, tc.b, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b     any
		op       string
		typ, msg string
	}{
		{int64(1), int64(0), "divide", "ZeroDivisionError", "integer division or modulo by zero"},
		{int64(1), int64(0), "modulo", "ZeroDivisionError", "integer division or modulo by zero"},
		{int64(0), int64(-1), "power", "ZeroDivisionError", "0.0 cannot be raised to a negative power"},
		{int64(2), int64(64), "power", "OverflowError", "int result 2 ** 64 does not fit in 64 bits"},
		{int64(-1) << 62, int64(4), "multiply", "OverflowError", "int result -18446744073709551616 does not fit in 64 bits"},
	} {
		_, err := call(t, TestIntMathOperation, map[string]any{"a": tc.a, "b": tc.b, "operation": tc.op})
		wantException(t, err, tc.typ, tc.msg)
	}
}

func TestMakeList(t *testing.T) {
	t.Parallel()
	r := mustCall(t, TestMakeListNode, map[string]any{"value1": 0.1, "value2": 0.2, "value3": 0.3, "value5": nil})
	if got, want := outputs(r), "[0.1, 0.2, 0.3, <nil>]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
