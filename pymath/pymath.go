// Package pymath computes as Python's arithmetic operators do on ints and
// floats: floor division and modulo round toward negative infinity (the
// remainder takes the divisor's sign), int / int and negative powers give
// floats, and failures are the exceptions Python raises (node.Raise). Node
// packs that evaluate Python arithmetic share it, so that they agree with
// each other and with ComfyUI.
//
// Python ints are unbounded; here they are *big.Int, and a power that could
// not fit in 64 bits is refused before it is computed, since no INT socket
// carries one.
package pymath

import (
	"fmt"
	"math"
	"math/big"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Int returns x op y for Python ints, op being one of + - * / // % **. The
// result is a *big.Int, or a float64 for / and for ** with a negative
// exponent, as in Python.
func Int(op string, x, y *big.Int) (any, error) {
	switch op {
	case "+":
		return new(big.Int).Add(x, y), nil
	case "-":
		return new(big.Int).Sub(x, y), nil
	case "*":
		return new(big.Int).Mul(x, y), nil
	case "/":
		if y.Sign() == 0 {
			return nil, node.Raise("ZeroDivisionError", "division by zero")
		}
		// Python divides ints exactly and rounds once.
		f, _ := new(big.Rat).SetFrac(x, y).Float64()
		return f, nil
	case "//", "%":
		if y.Sign() == 0 {
			return nil, node.Raise("ZeroDivisionError", "integer division or modulo by zero")
		}
		// Python rounds the quotient down; big.Int's QuoRem truncates.
		q, m := new(big.Int).QuoRem(x, y, new(big.Int))
		if m.Sign() != 0 && (m.Sign() < 0) != (y.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
			m.Add(m, y)
		}
		if op == "//" {
			return q, nil
		}
		return m, nil
	case "**":
		return intPow(x, y)
	}
	return nil, fmt.Errorf("pymath: unknown operator %q", op)
}

// intPow is Python's int ** int: a float for negative exponents, otherwise
// an int (refused before computing when it cannot fit in 64 bits).
func intPow(x, y *big.Int) (any, error) {
	if y.Sign() < 0 {
		fx, _ := new(big.Float).SetInt(x).Float64()
		fy, _ := new(big.Float).SetInt(y).Float64()
		return Float("**", fx, fy)
	}
	if x.CmpAbs(big.NewInt(1)) > 0 && y.Cmp(big.NewInt(64)) >= 0 {
		// |x| >= 2 and y >= 64: the result is at least 2**64.
		return nil, node.Raise("OverflowError", "int result %s ** %s does not fit in 64 bits", x, y)
	}
	return new(big.Int).Exp(x, y, nil), nil
}

// Float returns x op y for Python floats, op being one of + - * / // % **,
// with Python's errors. A negative number to a fractional power, which
// Python makes a complex number, is a ValueError: no socket carries one.
func Float(op string, x, y float64) (float64, error) {
	switch op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/":
		if y == 0 {
			return 0, node.Raise("ZeroDivisionError", "float division by zero")
		}
		return x / y, nil
	case "//":
		if y == 0 {
			return 0, node.Raise("ZeroDivisionError", "float floor division by zero")
		}
		div, _ := floatDivMod(x, y)
		return div, nil
	case "%":
		if y == 0 {
			return 0, node.Raise("ZeroDivisionError", "float modulo")
		}
		_, mod := floatDivMod(x, y)
		return mod, nil
	case "**":
		return floatPow(x, y)
	}
	return 0, fmt.Errorf("pymath: unknown operator %q", op)
}

// floatDivMod is CPython's _float_div_mod: floor quotient and modulo.
func floatDivMod(x, y float64) (div, mod float64) {
	mod = math.Mod(x, y)
	div = (x - mod) / y
	if mod != 0 {
		if (y < 0) != (mod < 0) {
			mod += y
			div--
		}
	} else {
		mod = math.Copysign(0, y)
	}
	if div != 0 {
		floor := math.Floor(div)
		if div-floor > 0.5 {
			floor++
		}
		return floor, mod
	}
	return math.Copysign(0, x/y), mod
}

// floatPow is Python's float ** float, whose errors Go's math.Pow lacks.
func floatPow(x, y float64) (float64, error) {
	switch {
	case x == 0 && y < 0:
		return 0, node.Raise("ZeroDivisionError", "0.0 cannot be raised to a negative power")
	case x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0):
		return 0, node.Raise("ValueError", "complex result of %s ** %s is not supported", pyjson.FormatFloat(x), pyjson.FormatFloat(y))
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return 0, node.Raise("OverflowError", "(34, 'Numerical result out of range')")
	}
	return r, nil
}
