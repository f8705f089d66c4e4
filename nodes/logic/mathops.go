package logic

import (
	"math"
	"math/big"
	"strconv"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pymath"
)

// Python's operators and ComfyMathExpression's functions on the values an
// expr produces. Python ints are unbounded; here they are int64 and an
// overflow is an error.

// mathEnv holds the names an expression can read.
type mathEnv struct {
	names map[string]any
}

// simpleeval's limits (safe_power, safe_lshift/rshift) and the node's own
// cap on pow().
const (
	maxPower     = 4000000
	maxShift     = 10000
	maxPowCallOp = 4000
)

// truth is Python's bool(v).
func truth(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case float64:
		return v != 0
	case []any:
		return len(v) > 0
	}
	return false
}

// asInt returns v as an int if it is one (bools are ints in Python).
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case int64:
		return v, true
	}
	return 0, false
}

// asFloat returns a number as a float.
func asFloat(v any) (float64, bool) {
	if n, ok := asInt(v); ok {
		return float64(n), true
	}
	f, ok := v.(float64)
	return f, ok
}

func overflow() error {
	return node.Raise("OverflowError", "integer result too large for this evaluator")
}

func unsupported(op string, a, b any) error {
	return node.Raise("TypeError", "unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

// arith applies a binary operator.
func arith(op string, a, b any) (any, error) {
	x, xInt := asInt(a)
	y, yInt := asInt(b)
	switch op {
	case "&", "|", "^":
		if !xInt || !yInt {
			return nil, unsupported(op, a, b)
		}
		r := map[string]int64{"&": x & y, "|": x | y, "^": x ^ y}[op]
		if _, ok := a.(bool); ok {
			if _, ok := b.(bool); ok {
				return r != 0, nil
			}
		}
		return r, nil
	case "<<", ">>":
		if !xInt || !yInt {
			return nil, unsupported(op, a, b)
		}
		if y > maxShift {
			return nil, node.Raise("NumberTooHigh", "Sorry! I don't want to evaluate %d %s %d", x, op, y)
		}
		if y < 0 {
			return nil, node.Raise("ValueError", "negative shift count")
		}
		if op == ">>" {
			return x >> min(y, 63), nil
		}
		r := new(big.Int).Lsh(big.NewInt(x), uint(y))
		if !r.IsInt64() {
			return nil, overflow()
		}
		return r.Int64(), nil
	}
	if xInt && yInt {
		return intArith(op, x, y)
	}
	f, okA := asFloat(a)
	g, okB := asFloat(b)
	if !okA || !okB {
		return nil, unsupported(op, a, b)
	}
	return floatArith(op, f, g)
}

func intArith(op string, x, y int64) (any, error) {
	if op == "**" && (abs64(x) > maxPower || abs64(y) > maxPower) {
		return nil, node.Raise("NumberTooHigh", "Sorry! I don't want to evaluate %d ** %d", x, y)
	}
	return int64Result(pymath.Int(op, big.NewInt(x), big.NewInt(y)))
}

func abs64(x int64) float64 { return math.Abs(float64(x)) }

// int64Result narrows an int result of pymath to this evaluator's int64.
func int64Result(r any, err error) (any, error) {
	if n, ok := r.(*big.Int); ok {
		if !n.IsInt64() {
			return nil, overflow()
		}
		return n.Int64(), nil
	}
	return r, err
}

func floatArith(op string, x, y float64) (any, error) {
	if op == "**" && (math.Abs(x) > maxPower || math.Abs(y) > maxPower) {
		return nil, node.Raise("NumberTooHigh", "Sorry! I don't want to evaluate %v ** %v", x, y)
	}
	return pymath.Float(op, x, y)
}

func unaryOp(op string, v any) (any, error) {
	if n, ok := asInt(v); ok {
		switch op {
		case "-":
			if n == math.MinInt64 {
				return nil, overflow()
			}
			return -n, nil
		case "+":
			return n, nil
		}
		return ^n, nil
	}
	f, ok := v.(float64)
	if !ok || op == "~" {
		return nil, node.Raise("TypeError", "bad operand type for unary %s: '%s'", op, typeName(v))
	}
	if op == "-" {
		return -f, nil
	}
	return f, nil
}

// compare applies a comparison operator. Numbers compare by exact value;
// lists by their elements; None only equals None.
func compare(op string, a, b any) (bool, error) {
	switch op {
	case "in", "not in":
		list, ok := b.([]any)
		if !ok {
			return false, node.Raise("TypeError", "argument of type '%s' is not iterable", typeName(b))
		}
		found := false
		for _, x := range list {
			if equal(a, x) {
				found = true
				break
			}
		}
		return found == (op == "in"), nil
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
	}
	c, ok := order(a, b)
	if !ok {
		return false, node.Raise("TypeError", "'%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))
	}
	switch op {
	case "<":
		return c == -1, nil
	case "<=":
		return c == -1 || c == 0, nil
	case ">":
		return c == 1, nil
	}
	return c == 1 || c == 0, nil // ">="
}

func equal(a, b any) bool {
	if la, ok := a.([]any); ok {
		lb, ok := b.([]any)
		if !ok || len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !equal(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	c, ok := order(a, b)
	return ok && c == 0
}

// order compares two numbers exactly: -1, 0 or 1, or 2 when one is NaN
// (every comparison with NaN is false).
func order(a, b any) (int, bool) {
	x, okA := asNumber(a)
	y, okB := asNumber(b)
	if !okA || !okB {
		return 0, false
	}
	if x == nil || y == nil {
		return 2, true
	}
	return x.Cmp(y), true
}

// asNumber returns a number's exact value (nil for NaN).
func asNumber(v any) (*big.Float, bool) {
	if n, ok := asInt(v); ok {
		return new(big.Float).SetInt64(n), true
	}
	f, ok := v.(float64)
	if !ok {
		return nil, false
	}
	if math.IsNaN(f) {
		return nil, true
	}
	return new(big.Float).SetFloat64(f), true
}

// floatToInt is Python's int(x) of a number (and the int ceil/floor/round
// return): out of int64's range is an error.
func floatToInt(f float64) (int64, error) {
	switch {
	case math.IsNaN(f):
		return 0, node.Raise("ValueError", "cannot convert float NaN to integer")
	case math.IsInf(f, 0):
		return 0, node.Raise("OverflowError", "cannot convert float infinity to integer")
	case f >= -math.MinInt64 || f < math.MinInt64:
		return 0, overflow()
	}
	return int64(f), nil
}

// roundDigits is Python's round(x, n) of a float for n >= 0: the decimal
// nearest to x's exact value, ties to even (as strconv formats).
func roundDigits(x float64, n int64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || n > 323 {
		return x
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', int(n), 64), 64)
	return r
}
