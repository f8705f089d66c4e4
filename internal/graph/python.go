package graph

import (
	"cmp"
	"encoding/json"
	"fmt"
	"github.com/gocomfy/gocomfy/pyfmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/pyjson"
)

// This file reproduces the Python value semantics that ComfyUI's validation
// leaks into its answers: int(), float(), str(), bool(), repr(), == and the
// texts of the exceptions they raise. Values are decoded JSON as
// node.ParsePrompt leaves them (nil, bool, string, json.Number, []any,
// map[string]any), plus the Go numbers node code may put in a prompt.

// pyErr is a Python exception: its type name as ComfyUI's full_type_name
// prints builtins ("KeyError") and its str().
type pyErr struct{ typ, msg string }

// maxIntDigits is CPython's default limit on decimal int conversions
// (sys.get_int_max_str_digits()); it also bounds the cost of big numbers.
const maxIntDigits = 4300

// pyNum is a Python int (arbitrary size) or float.
type pyNum struct {
	isFloat bool
	f       float64
	i       int64
	big     *big.Int // the int when it does not fit int64
}

func (n pyNum) String() string {
	switch {
	case n.isFloat:
		return pyjson.FormatFloat(n.f)
	case n.big != nil:
		return n.big.String()
	}
	return strconv.FormatInt(n.i, 10)
}

func (n pyNum) bigInt() *big.Int {
	if n.big != nil {
		return n.big
	}
	return big.NewInt(n.i)
}

func (n pyNum) bigFloat() *big.Float {
	if n.isFloat {
		return new(big.Float).SetFloat64(n.f)
	}
	return new(big.Float).SetInt(n.bigInt())
}

// compare compares a and b exactly, as Python compares ints and floats; ok
// is false when a NaN makes every comparison false.
func (n pyNum) compare(o pyNum) (c int, ok bool) {
	if (n.isFloat && math.IsNaN(n.f)) || (o.isFloat && math.IsNaN(o.f)) {
		return 0, false
	}
	switch {
	case n.isFloat && o.isFloat:
		return cmp.Compare(n.f, o.f), true
	case !n.isFloat && !o.isFloat && n.big == nil && o.big == nil:
		return cmp.Compare(n.i, o.i), true
	case !n.isFloat && !o.isFloat:
		return n.bigInt().Cmp(o.bigInt()), true
	}
	return n.bigFloat().Cmp(o.bigFloat()), true
}

func intNum(b *big.Int) pyNum {
	if b.IsInt64() {
		return pyNum{i: b.Int64()}
	}
	return pyNum{big: b}
}

// isIntText reports whether a JSON number is an int to Python's json module.
func isIntText(s string) bool { return !strings.ContainsAny(s, ".eE") }

// parseIntDigits parses an optionally signed run of ASCII digits.
func parseIntDigits(s string) (pyNum, *pyErr) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return pyNum{i: i}, nil
	}
	digits := len(strings.TrimLeft(s, "+-"))
	if digits > maxIntDigits {
		return pyNum{}, &pyErr{"ValueError", fmt.Sprintf("Exceeds the limit (%d digits) for integer string conversion: "+
			"value has %d digits; use sys.set_int_max_str_digits() to increase the limit", maxIntDigits, digits)}
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok { // not JSON's number syntax: only Go code can build such a json.Number
		return pyNum{}, &pyErr{"ValueError", "invalid literal for int() with base 10: " + pyRepr(s)}
	}
	return intNum(b), nil
}

// numOf returns the number a value is to Python (bool is an int there).
func numOf(v any) (pyNum, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return pyNum{i: 1}, true
		}
		return pyNum{}, true
	case json.Number:
		s := string(v)
		if isIntText(s) {
			n, err := parseIntDigits(s)
			return n, err == nil
		}
		f, err := strconv.ParseFloat(s, 64)
		return pyNum{isFloat: true, f: f}, err == nil || math.IsInf(f, 0)
	case int:
		return pyNum{i: int64(v)}, true
	case int64:
		return pyNum{i: v}, true
	case uint64:
		return intNum(new(big.Int).SetUint64(v)), true
	case float64:
		return pyNum{isFloat: true, f: v}, true
	case pyjson.Float:
		return pyNum{isFloat: true, f: float64(v)}, true
	}
	return pyNum{}, false
}

// pyTypeName is type(v).__name__.
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case json.Number:
		if isIntText(string(v)) {
			return "int"
		}
		return "float"
	case int, int64, uint64:
		return "int"
	case float64, pyjson.Float:
		return "float"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// pyInt is Python's int(v).
func pyInt(v any) (pyNum, *pyErr) {
	switch x := v.(type) {
	case string:
		return intFromString(x)
	case json.Number:
		if isIntText(string(x)) {
			return parseIntDigits(string(x))
		}
	}
	n, ok := numOf(v)
	if !ok {
		return pyNum{}, &pyErr{"TypeError",
			"int() argument must be a string, a bytes-like object or a real number, not '" + pyTypeName(v) + "'"}
	}
	if !n.isFloat {
		return n, nil
	}
	switch {
	case math.IsNaN(n.f):
		return pyNum{}, &pyErr{"ValueError", "cannot convert float NaN to integer"}
	case math.IsInf(n.f, 0):
		return pyNum{}, &pyErr{"OverflowError", "cannot convert float infinity to integer"}
	}
	b, _ := new(big.Float).SetFloat64(math.Trunc(n.f)).Int(nil)
	return intNum(b), nil
}

// pyFloat is Python's float(v).
func pyFloat(v any) (float64, *pyErr) {
	switch x := v.(type) {
	case string:
		if f, ok := floatFromString(x); ok {
			return f, nil
		}
		return 0, &pyErr{"ValueError", "could not convert string to float: " + pyRepr(x)}
	case json.Number:
		// Python's json module made an int or a float of the text already;
		// float() of an int rounds to nearest, as ParseFloat does.
		f, _ := strconv.ParseFloat(string(x), 64)
		if isIntText(string(x)) {
			switch {
			case math.IsInf(f, 0):
				return 0, &pyErr{"OverflowError", "int too large to convert to float"}
			case f == 0:
				return 0, nil // -0 is the int 0: no negative zero
			}
		}
		return f, nil
	}
	n, ok := numOf(v)
	if !ok {
		return 0, &pyErr{"TypeError", "float() argument must be a string or a real number, not '" + pyTypeName(v) + "'"}
	}
	if n.isFloat {
		return n.f, nil
	}
	f, _ := n.bigFloat().Float64()
	return f, nil
}

// pyTruth is Python's bool(v).
func pyTruth(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	n, ok := numOf(v)
	if !ok {
		return true // an int too long to parse is not zero
	}
	if n.isFloat {
		return n.f != 0
	}
	return n.big != nil || n.i != 0
}

// asciiNumber is the first step of CPython's int() and float() on a str:
// non-ASCII whitespace becomes a space and non-ASCII decimal digits become
// ASCII ones; any other non-ASCII character makes the text invalid.
func asciiNumber(s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s, true
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 127:
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case unicode.Is(unicode.Nd, r):
			b.WriteByte(byte('0' + digitValue(r)))
		default:
			return "", false
		}
	}
	return b.String(), true
}

// digitValue returns the value of a Unicode decimal digit: Nd digits come
// in contiguous runs of ten, 0 to 9.
func digitValue(r rune) int {
	n := 0
	for unicode.Is(unicode.Nd, r-1) {
		r--
		n++
	}
	return n % 10
}

const asciiSpace = " \t\n\v\f\r"

// stripUnderscores removes the underscores Python allows between digits,
// and reports false for any other underscore.
func stripUnderscores(s string) (string, bool) {
	if !strings.Contains(s, "_") {
		return s, true
	}
	isDigit := func(i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' {
			if !isDigit(i-1) || !isDigit(i+1) {
				return "", false
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}

// intFromString is int(s) for a str, base 10.
func intFromString(s string) (pyNum, *pyErr) {
	t, ok := asciiNumber(s)
	t = strings.Trim(t, asciiSpace)
	body := strings.TrimPrefix(strings.TrimPrefix(t, "+"), "-")
	if len(body) < len(t)-1 {
		ok = false
	}
	digits, ok2 := stripUnderscores(body)
	if !ok || !ok2 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		repr := []rune(pyRepr(s))
		if len(repr) > 200 { // CPython formats the text with %.200R
			repr = repr[:200]
		}
		return pyNum{}, &pyErr{"ValueError", "invalid literal for int() with base 10: " + string(repr)}
	}
	return parseIntDigits(t[:len(t)-len(body)] + digits)
}

// floatFromString is float(s) for a str.
func floatFromString(s string) (float64, bool) {
	t, ok := asciiNumber(s)
	if !ok {
		return 0, false
	}
	t, ok = stripUnderscores(strings.Trim(t, asciiSpace))
	if !ok {
		return 0, false
	}
	body := t
	neg := false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg, body = body[0] == '-', body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	if !isDecimal(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(t, 64)
	return f, err == nil || math.IsInf(f, 0)
}

// isDecimal checks Python's unsigned float syntax: digits with an optional
// point (at least one digit), then an optional exponent.
func isDecimal(s string) bool {
	digits := func(i int) int {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	i := digits(0)
	n := i
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		n += j - i - 1
		i = j
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// pyStr is Python's str(v).
func pyStr(v any) string { return pyfmt.Str(v) }

// pyRepr is Python's repr(v). Dicts print in sorted key order: the decoded
// prompt does not keep the order of nested objects.
func pyRepr(v any) string { return pyfmt.Repr(v) }

// pyEqual is Python's ==, as `in` uses it on a list (1 == 1.0 == True).
func pyEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && a == s
	case []any:
		l, ok := b.([]any)
		return ok && slices.EqualFunc(a, l, pyEqual)
	case map[string]any:
		m, ok := b.(map[string]any)
		if !ok || len(m) != len(a) {
			return false
		}
		for k, v := range a {
			w, ok := m[k]
			if !ok || !pyEqual(v, w) {
				return false
			}
		}
		return true
	}
	x, ok1 := numOf(a)
	y, ok2 := numOf(b)
	if !ok1 || !ok2 {
		return false
	}
	c, ok := x.compare(y)
	return ok && c == 0
}
