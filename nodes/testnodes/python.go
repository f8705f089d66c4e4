package testnodes

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/pymath"
	"github.com/gocomfy/gocomfy/tensor"
)

// The pack is Python: its nodes test values for truth, compare and combine
// numbers of mixed kinds, and fail with Python exceptions. The helpers here
// give Go values the Python meaning of the value they stand for.

// pyTypeName returns the name of the Python type v stands for, as Python
// prints it in messages ("int", "NoneType", "Tensor").
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int, int64, uint64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any, Accumulation, *tensor.Latent:
		return "dict"
	case *tensor.Image, *tensor.Mask, *tensor.Tensor:
		return "Tensor"
	case json.Number:
		return pyTypeName(node.Literal(v))
	}
	return fmt.Sprintf("%T", v)
}

// pyClass returns str(type(v)), such as "<class 'int'>".
func pyClass(v any) string {
	name := pyTypeName(v)
	if name == "Tensor" {
		name = "torch.Tensor"
	}
	return "<class '" + name + "'>"
}

// pyBool returns bool(v). Like Python, it fails for tensors of more than one
// element.
func pyBool(v any) (bool, error) {
	if a, ok := asArray(v); ok {
		switch len(a.data) {
		case 0:
			return false, node.Raise("RuntimeError", "Boolean value of Tensor with no values is ambiguous")
		case 1:
			return a.data[0] != 0, nil
		}
		return false, node.Raise("RuntimeError", "Boolean value of Tensor with more than one value is ambiguous")
	}
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case int:
		return v != 0, nil
	case int64:
		return v != 0, nil
	case uint64:
		return v != 0, nil
	case float64:
		return v != 0, nil // NaN is true, as in Python
	case string:
		return v != "", nil
	case []any:
		return len(v) > 0, nil
	case map[string]any:
		return len(v) > 0, nil
	case json.Number:
		return pyBool(node.Literal(v))
	}
	return true, nil // objects without __bool__ or __len__ are true
}

// pyInt returns v as a Python int, if it is one (bool is an int in Python).
func pyInt(v any) (*big.Int, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return big.NewInt(1), true
		}
		return big.NewInt(0), true
	case int:
		return big.NewInt(int64(v)), true
	case int64:
		return big.NewInt(v), true
	case uint64:
		return new(big.Int).SetUint64(v), true
	case json.Number:
		return pyInt(node.Literal(v))
	}
	return nil, false
}

// pyNumber returns v as a float64 if it is a Python int or float.
func pyNumber(v any) (float64, bool) {
	if f, ok := v.(float64); ok {
		return f, true
	}
	if i, ok := pyInt(v); ok {
		f, _ := new(big.Float).SetInt(i).Float64()
		return f, true
	}
	return 0, false
}

// intValue returns x as the Go value of an INT: int64, or uint64 above
// int64 (the upper half of ComfyUI's seed range). Python ints are unbounded;
// an INT socket here is not, so larger results are an OverflowError.
func intValue(x *big.Int) (any, error) {
	switch {
	case x.IsInt64():
		return x.Int64(), nil
	case x.IsUint64():
		return x.Uint64(), nil
	}
	return nil, node.Raise("OverflowError", "int result %s does not fit in 64 bits", x.String())
}

// arith returns a <op> b for Python numbers, op being one of + - * // % **.
// Two ints give an int, as in Python; a float on either side gives a float.
func arith(op string, a, b any) (any, error) {
	x, xInt := pyInt(a)
	y, yInt := pyInt(b)
	if xInt && yInt {
		r, err := pymath.Int(op, x, y)
		if n, ok := r.(*big.Int); ok {
			return intValue(n)
		}
		return r, err
	}
	fx, xNum := pyNumber(a)
	fy, yNum := pyNumber(b)
	if xNum && yNum {
		return pymath.Float(op, fx, fy)
	}
	return nil, node.Raise("TypeError", "unsupported operand type(s) for %s: '%s' and '%s'", op, pyTypeName(a), pyTypeName(b))
}

// compare returns a <op> b for op one of == != < > <= >=, comparing numbers
// exactly across int and float as Python does (NaN is unordered). Other
// values are only equal to equal strings, bools or None; ordering them is a
// TypeError.
func compare(op string, a, b any) (bool, error) {
	x, xNaN, xNum := exactNumber(a)
	y, yNaN, yNum := exactNumber(b)
	if !xNum || !yNum {
		switch op {
		case "==":
			return pyEqual(a, b), nil
		case "!=":
			return !pyEqual(a, b), nil
		}
		return false, node.Raise("TypeError", "'%s' not supported between instances of '%s' and '%s'", op, pyTypeName(a), pyTypeName(b))
	}
	if xNaN || yNaN {
		return op == "!=", nil
	}
	c := x.Cmp(y)
	switch op {
	case "==":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparison %q", op)
}

// exactNumber returns a Python number as an exact big.Float.
func exactNumber(v any) (f *big.Float, isNaN, ok bool) {
	if x, ok := v.(float64); ok {
		if math.IsNaN(x) {
			return nil, true, true
		}
		return new(big.Float).SetFloat64(x), false, true
	}
	if i, ok := pyInt(v); ok {
		return new(big.Float).SetInt(i), false, true
	}
	return nil, false, false
}

func pyEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && a == s
	}
	return false
}

// sleep waits for d, or until ctx is done (an interrupt).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// seconds converts a FLOAT number of seconds to a Duration.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// pyStr returns str(v) for the scalars messages print.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case float64:
		return pyjson.FormatFloat(v)
	case string:
		return v
	}
	return fmt.Sprint(v)
}
