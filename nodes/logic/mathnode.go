package logic

import (
	"context"
	"math"
	"math/big"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyfmt"
	"github.com/gocomfy/gocomfy/pymath"
)

// valueNames are the autogrow entries of ComfyMathExpression: a to z.
var valueNames = strings.Split("abcdefghijklmnopqrstuvwxyz", "")

// ComfyMathExpression evaluates a math expression (the Python subset that
// simpleeval allows, with the functions of mathFunctions) over the values
// a…z and the list "values", and outputs the result as FLOAT, INT and
// BOOL.
var ComfyMathExpression = node.New(
	v3("nodes_math", "ComfyMathExpression", "Math Expression", "utilities",
		"expression", "formula", "calculate", "calculator", "eval", "math"),
	func(s *node.Schema) node.RunFunc {
		expression := s.String("expression").Default("a + b").Multiline(true)
		values := s.Autogrow("values", func(t *node.Schema) { t.AnyOf("value", "FLOAT,INT,BOOLEAN") },
			node.Names(1, valueNames...))
		outFloat := node.Output(s, node.Float, "FLOAT")
		outInt := node.Output(s, node.Int, "INT")
		outBool := node.Output(s, node.Boolean, "BOOL")
		return func(ctx context.Context, c *node.Call) error {
			src := expression.Get(c)
			if strings.TrimSpace(src) == "" {
				return node.Raise("ValueError", "Expression cannot be empty.")
			}
			env := &mathEnv{names: map[string]any{}}
			var list []any
			named := values.Named(c)
			for _, name := range valueNames { // the order of ComfyUI's values dict
				if v, ok := named[name]; ok {
					v = node.Literal(v)
					env.names[name] = v
					list = append(list, v)
				}
			}
			env.names["values"] = list
			f, i, b, err := evalMath(src, env)
			if err != nil {
				return err
			}
			outFloat.Set(c, f)
			outInt.Set(c, i)
			outBool.Set(c, b)
			return nil
		}
	})

// evalMath parses and evaluates src, and converts the result as the node
// does: it must be a finite number.
func evalMath(src string, env *mathEnv) (float64, int64, bool, error) {
	e, err := parseExpression(src)
	if err != nil {
		return 0, 0, false, err
	}
	v, err := e(env)
	if err != nil {
		return 0, 0, false, err
	}
	f, ok := asFloat(v)
	if !ok {
		return 0, 0, false, node.Raise("ValueError", "Math Expression '%s' must evaluate to a numeric result, got %s: %s",
			src, typeName(v), pyfmt.Repr(v))
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, 0, false, node.Raise("ValueError", "Math Expression '%s' produced a non-finite result: %s", src, pyfmt.Repr(v))
	}
	n, ok := asInt(v)
	if !ok {
		if n, err = floatToInt(f); err != nil {
			return 0, 0, false, err
		}
	}
	return f, n, truth(v), nil
}

// mathFunction is a function an expression may call.
type mathFunction func(args []any) (any, error)

// mathFunctions are ComfyUI's MATH_FUNCTIONS.
var mathFunctions map[string]mathFunction

func init() {
	mathFunctions = map[string]mathFunction{
		"sum":   variadicSum,
		"min":   extreme("min", -1),
		"max":   extreme("max", 1),
		"abs":   fixed("abs", 1, func(a []any) (any, error) { return unaryAbs(a[0]) }),
		"round": pyRound,
		"pow": fixed("pow", 2, func(a []any) (any, error) {
			if y, ok := asFloat(a[1]); ok && math.Abs(y) > maxPowCallOp {
				return nil, node.Raise("ValueError", "Exponent %s exceeds maximum allowed (%d)", pyfmt.Repr(a[1]), maxPowCallOp)
			}
			x, xInt := asInt(a[0])
			y, yInt := asInt(a[1])
			if xInt && yInt {
				return int64Result(pymath.Int("**", big.NewInt(x), big.NewInt(y)))
			}
			f, okX := asFloat(a[0])
			g, okY := asFloat(a[1])
			if !okX || !okY {
				return nil, unsupported("** or pow()", a[0], a[1])
			}
			return pymath.Float("**", f, g)
		}),
		"sqrt":  realFunc("sqrt", math.Sqrt, func(x float64) bool { return x >= 0 }),
		"ceil":  rounding("ceil", math.Ceil),
		"floor": rounding("floor", math.Floor),
		"log": func(a []any) (any, error) {
			if len(a) != 1 && len(a) != 2 {
				return nil, node.Raise("TypeError", "log expected 1 or 2 arguments, got %d", len(a))
			}
			logs := make([]float64, len(a))
			for i, v := range a {
				l, err := realFunc("log", math.Log, positive)([]any{v})
				if err != nil {
					return nil, err
				}
				logs[i] = l.(float64)
			}
			if len(a) == 1 {
				return logs[0], nil
			}
			if logs[1] == 0 {
				return nil, node.Raise("ZeroDivisionError", "float division by zero")
			}
			return logs[0] / logs[1], nil
		},
		"log2":  realFunc("log2", math.Log2, positive),
		"log10": realFunc("log10", math.Log10, positive),
		"sin":   realFunc("sin", math.Sin, finite),
		"cos":   realFunc("cos", math.Cos, finite),
		"tan":   realFunc("tan", math.Tan, finite),
		"int": func(a []any) (any, error) {
			if len(a) == 0 {
				return int64(0), nil
			}
			return rounding("int", math.Trunc)(a)
		},
		"float": func(a []any) (any, error) {
			if len(a) == 0 {
				return 0.0, nil
			}
			return realFunc("float", func(x float64) float64 { return x }, func(float64) bool { return true })(a)
		},
	}
}

func positive(x float64) bool { return x > 0 || math.IsNaN(x) }
func finite(x float64) bool   { return !math.IsInf(x, 0) }

// fixed checks a function's argument count.
func fixed(name string, n int, fn mathFunction) mathFunction {
	return func(a []any) (any, error) {
		if len(a) != n {
			return nil, node.Raise("TypeError", "%s() takes exactly %d arguments (%d given)", name, n, len(a))
		}
		return fn(a)
	}
}

// realFunc is a math module function of one float; ok tells its domain.
func realFunc(name string, fn func(float64) float64, ok func(float64) bool) mathFunction {
	return fixed(name, 1, func(a []any) (any, error) {
		x, isNum := asFloat(a[0])
		if !isNum {
			return nil, node.Raise("TypeError", "must be real number, not %s", typeName(a[0]))
		}
		if !ok(x) {
			return nil, node.Raise("ValueError", "math domain error")
		}
		return fn(x), nil
	})
}

// rounding is math.ceil, math.floor or int(): an int of an int, an int of
// a float rounded by fn.
func rounding(name string, fn func(float64) float64) mathFunction {
	return fixed(name, 1, func(a []any) (any, error) {
		if n, ok := asInt(a[0]); ok {
			return n, nil
		}
		f, ok := a[0].(float64)
		if !ok {
			return nil, node.Raise("TypeError", "%s() argument must be a number, not '%s'", name, typeName(a[0]))
		}
		return floatToInt(fn(f))
	})
}

func unaryAbs(v any) (any, error) {
	if n, ok := asInt(v); ok {
		if n < 0 {
			return unaryOp("-", n)
		}
		return n, nil
	}
	f, ok := v.(float64)
	if !ok {
		return nil, node.Raise("TypeError", "bad operand type for abs(): '%s'", typeName(v))
	}
	return math.Abs(f), nil
}

// pyRound is round(x[, ndigits]): half to even.
func pyRound(a []any) (any, error) {
	if len(a) != 1 && len(a) != 2 {
		return nil, node.Raise("TypeError", "round expected 1 or 2 arguments, got %d", len(a))
	}
	n, isInt := asInt(a[0])
	f, isFloat := a[0].(float64)
	if !isInt && !isFloat {
		return nil, node.Raise("TypeError", "type %s doesn't define __round__ method", typeName(a[0]))
	}
	if len(a) == 1 || a[1] == nil {
		if isInt {
			return n, nil
		}
		return floatToInt(math.RoundToEven(f))
	}
	digits, ok := asInt(a[1])
	if !ok {
		return nil, node.Raise("TypeError", "'%s' object cannot be interpreted as an integer", typeName(a[1]))
	}
	switch {
	case isInt && digits >= 0:
		return n, nil
	case digits < 0:
		return nil, node.Raise("FeatureNotAvailable", "round() to negative digits is not supported")
	}
	return roundDigits(f, digits), nil
}

// variadicSum is sum(iterable) or sum(a, b, ...), starting from int 0.
func variadicSum(a []any) (any, error) {
	items := a
	if len(a) == 1 {
		if list, ok := a[0].([]any); ok {
			items = list
		}
	}
	var total any = int64(0)
	for _, v := range items {
		var err error
		if total, err = arith("+", total, v); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// extreme is min (sign -1) or max (sign 1) of a list or of the arguments:
// the first item that no later one beats, as Python.
func extreme(name string, sign int) mathFunction {
	return func(a []any) (any, error) {
		items := a
		if len(a) == 1 {
			list, ok := a[0].([]any)
			if !ok {
				return nil, node.Raise("TypeError", "'%s' object is not iterable", typeName(a[0]))
			}
			items = list
		}
		if len(items) == 0 {
			return nil, node.Raise("ValueError", "%s() arg is an empty sequence", name)
		}
		best := items[0]
		for _, v := range items[1:] {
			c, ok := order(v, best)
			if !ok {
				return nil, node.Raise("TypeError", "'<' not supported between instances of '%s' and '%s'", typeName(v), typeName(best))
			}
			if c == sign {
				best = v
			}
		}
		return best, nil
	}
}
