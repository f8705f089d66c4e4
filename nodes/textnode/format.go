package textnode

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyfmt"
)

// pyFormat is Python's f_string.format(**values): {name}, {name!r},
// {name:spec} (spec may hold nested {fields}), {name[key]}, with {{ and }}
// for braces. Positional fields ({} or {0}) find no arguments, as in
// ComfyUI's StringFormat, and attribute access is not supported. Errors
// carry Python's exception type and message.
func pyFormat(f string, values map[string]any, depth int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == '{' && strings.HasPrefix(f[i:], "{{"), c == '}' && strings.HasPrefix(f[i:], "}}"):
			b.WriteByte(c)
			i += 2
		case c == '}':
			return "", node.Raise("ValueError", "Single '}' encountered in format string")
		case c == '{':
			end, err := fieldEnd(f, i+1)
			if err != nil {
				return "", err
			}
			s, err := formatField(f[i+1:end], values, depth)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			i = end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// fieldEnd returns the index of the '}' closing the field that starts at
// i, counting nested braces.
func fieldEnd(f string, i int) (int, error) {
	level := 1
	for j := i; j < len(f); j++ {
		switch f[j] {
		case '{':
			level++
		case '}':
			if level--; level == 0 {
				return j, nil
			}
		}
	}
	return 0, node.Raise("ValueError", "expected '}' before end of string")
}

// formatField formats one replacement field (the text between braces).
func formatField(field string, values map[string]any, depth int) (string, error) {
	if depth > 1 {
		return "", node.Raise("ValueError", "Max string recursion exceeded")
	}
	name, spec, hasSpec := strings.Cut(field, ":")
	name, conv, hasConv := strings.Cut(name, "!")
	v, err := lookup(name, values)
	if err != nil {
		return "", err
	}
	if hasConv {
		switch conv {
		case "r":
			v = pyfmt.Repr(v)
		case "s":
			v = pyfmt.Str(v)
		case "a":
			v = asciiRepr(pyfmt.Repr(v))
		default:
			return "", node.Raise("ValueError", "Unknown conversion specifier %s", conv)
		}
	}
	if hasSpec && strings.Contains(spec, "{") {
		if spec, err = pyFormat(spec, values, depth+1); err != nil {
			return "", err
		}
	}
	return formatValue(v, spec)
}

// lookup resolves a field name: a keyword, then [key] items.
func lookup(name string, values map[string]any) (any, error) {
	arg, rest, _ := strings.Cut(name, "[")
	if strings.Contains(arg, ".") {
		return nil, node.Raise("AttributeError", "attribute access in format fields is not supported: %s", name)
	}
	if arg == "" || isDigits(arg) {
		idx, _ := strconv.Atoi(arg)
		return nil, node.Raise("IndexError", "Replacement index %d out of range for positional args tuple", idx)
	}
	v, ok := values[arg]
	if !ok {
		return nil, node.Raise("KeyError", "%s", pyfmt.QuoteString(arg))
	}
	for rest != "" {
		key, after, ok := strings.Cut(rest, "]")
		if !ok {
			return nil, node.Raise("ValueError", "Missing ']' in format string")
		}
		var err error
		if v, err = item(v, key); err != nil {
			return nil, err
		}
		rest = strings.TrimPrefix(after, "[")
	}
	return v, nil
}

// item is v[key] with format()'s rule: digits index a sequence, anything
// else is a string key.
func item(v any, key string) (any, error) {
	if list, ok := v.([]any); ok {
		i, err := strconv.Atoi(key)
		if err != nil || !isDigits(key) {
			return nil, node.Raise("TypeError", "list indices must be integers or slices, not str")
		}
		if i >= len(list) {
			return nil, node.Raise("IndexError", "list index out of range")
		}
		return list[i], nil
	}
	if d, ok := v.(map[string]any); ok {
		if x, ok := d[key]; ok {
			return x, nil
		}
		return nil, node.Raise("KeyError", "%s", pyfmt.QuoteString(key))
	}
	return nil, node.Raise("TypeError", "'%T' object is not subscriptable", v)
}

func asciiRepr(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r <= 0xff:
			b.WriteString(`\x` + strconv.FormatInt(int64(r)|0x100, 16)[1:])
		case r <= 0xffff:
			b.WriteString(`\u` + strconv.FormatInt(int64(r)|0x10000, 16)[1:])
		default:
			b.WriteString(`\U` + strconv.FormatInt(int64(r)|0x100000000, 16)[1:])
		}
	}
	return b.String()
}

// spec is a parsed format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type].
type spec struct {
	fill            rune
	align, sign     byte
	alt, zero, negZ bool
	width, prec     int // prec -1: none
	group, typ      byte
}

func parseSpec(s string) (spec, error) {
	p := spec{fill: ' ', prec: -1}
	bad := node.Raise("ValueError", "Invalid format specifier '%s'", s)
	if r, size := utf8.DecodeRuneInString(s); size > 0 && len(s) > size && strings.IndexByte("<>=^", s[size]) >= 0 {
		p.fill, p.align, s = r, s[size], s[size+1:]
	} else if s != "" && strings.IndexByte("<>=^", s[0]) >= 0 {
		p.align, s = s[0], s[1:]
	}
	if s != "" && strings.IndexByte("+- ", s[0]) >= 0 {
		p.sign, s = s[0], s[1:]
	}
	if strings.HasPrefix(s, "z") {
		p.negZ, s = true, s[1:]
	}
	if strings.HasPrefix(s, "#") {
		p.alt, s = true, s[1:]
	}
	if strings.HasPrefix(s, "0") {
		p.zero, s = true, s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	p.width, _ = strconv.Atoi(s[:n])
	s = s[n:]
	if s != "" && (s[0] == ',' || s[0] == '_') {
		p.group, s = s[0], s[1:]
	}
	if strings.HasPrefix(s, ".") {
		n = 1
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		if n == 1 {
			return p, node.Raise("ValueError", "Format specifier missing precision")
		}
		p.prec, _ = strconv.Atoi(s[1:n])
		s = s[n:]
	}
	if len(s) > 1 {
		return p, bad
	}
	if s != "" {
		p.typ = s[0]
	}
	if p.zero && p.align == 0 {
		p.fill, p.align = '0', '='
	}
	return p, nil
}

// formatValue is Python's format(v, spec) for str, int, float, bool and
// None; other values accept only an empty spec (str(v)).
func formatValue(v any, s string) (string, error) {
	p, err := parseSpec(s)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		if p.typ != 0 && p.typ != 's' || p.sign != 0 || p.alt || p.group != 0 || p.align == '=' {
			return "", node.Raise("ValueError", "Invalid format specifier '%s' for object of type 'str'", s)
		}
		if p.prec >= 0 && utf8.RuneCountInString(x) > p.prec {
			x = string([]rune(x)[:p.prec])
		}
		return pad(x, "", p, '<'), nil
	case bool:
		if s == "" {
			return pyfmt.Str(x), nil
		}
		return formatInt(big.NewInt(map[bool]int64{false: 0, true: 1}[x]), p, s)
	case int64:
		return formatInt(big.NewInt(x), p, s)
	case uint64:
		return formatInt(new(big.Int).SetUint64(x), p, s)
	case json.Number:
		if i, ok := new(big.Int).SetString(string(x), 10); ok {
			return formatInt(i, p, s)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return formatFloat(f, p, s)
	case float64:
		return formatFloat(x, p, s)
	}
	if s != "" {
		return "", node.Raise("TypeError", "unsupported format string passed to %T.__format__", v)
	}
	return pyfmt.Str(v), nil
}

func formatInt(i *big.Int, p spec, s string) (string, error) {
	if strings.IndexByte("eEfFgGn%", p.typ) >= 0 && p.typ != 'n' {
		f, _ := new(big.Float).SetInt(i).Float64()
		return formatFloat(f, p, s)
	}
	if p.prec >= 0 {
		return "", node.Raise("ValueError", "Precision not allowed in integer format specifier")
	}
	neg := i.Sign() < 0
	a := new(big.Int).Abs(i)
	var digits, prefix string
	switch p.typ {
	case 0, 'd', 'n':
		digits = a.String()
	case 'b', 'o', 'x', 'X':
		base := map[byte]int{'b': 2, 'o': 8, 'x': 16, 'X': 16}[p.typ]
		digits = a.Text(base)
		if p.typ == 'X' {
			digits = strings.ToUpper(digits)
		}
		if p.alt {
			prefix = "0" + string(p.typ)
		}
	case 'c':
		if neg || a.Cmp(big.NewInt(0x10ffff)) > 0 {
			return "", node.Raise("OverflowError", "%%c arg not in range(0x110000)")
		}
		return pad(string(rune(a.Int64())), "", p, '<'), nil
	default:
		return "", node.Raise("ValueError", "Unknown format code '%c' for object of type 'int'", p.typ)
	}
	every := 3
	if strings.IndexByte("boxX", p.typ) >= 0 && p.typ != 0 {
		every = 4
	}
	digits = group(digits, p.group, every)
	return pad(digits, signOf(neg, p)+prefix, p, '>'), nil
}

func formatFloat(f float64, p spec, s string) (string, error) {
	typ := p.typ
	if typ != 0 && strings.IndexByte("eEfFgGn%", typ) < 0 {
		return "", node.Raise("ValueError", "Unknown format code '%c' for object of type 'float'", typ)
	}
	neg := math.Signbit(f) && !math.IsNaN(f)
	a := math.Abs(f)
	prec := p.prec
	var body string
	switch {
	case math.IsInf(a, 0) || math.IsNaN(a):
		body = map[bool]string{true: "inf", false: "nan"}[math.IsInf(a, 0)]
		if strings.IndexByte("EFG", typ) >= 0 {
			body = strings.ToUpper(body)
		}
		if typ == '%' {
			body += "%"
		}
	case typ == 0 && prec < 0:
		body = pyfmt.Repr(a)
	case typ == 'e' || typ == 'E':
		body = strconv.FormatFloat(a, 'e', defaultPrec(prec), 64)
	case typ == 'f' || typ == 'F':
		body = strconv.FormatFloat(a, 'f', defaultPrec(prec), 64)
	case typ == '%':
		body = strconv.FormatFloat(a*100, 'f', defaultPrec(prec), 64) + "%"
	default: // g, G, n, or no type with a precision
		pp := max(defaultPrec(prec), 1)
		body = strconv.FormatFloat(a, 'g', pp, 64)
		if typ == 0 && !strings.ContainsAny(body, ".e") {
			body += ".0"
		}
		if p.alt && !strings.Contains(body, ".") {
			mant, exp, hasExp := strings.Cut(body, "e")
			body = mant + "."
			if hasExp {
				body += "e" + exp
			}
		}
	}
	if typ == 'E' || typ == 'G' {
		body = strings.ToUpper(body)
	}
	if p.negZ && neg && strings.Trim(body, "0.%eE+-") == "" {
		neg = false
	}
	intPart, frac := body, ""
	if k := strings.IndexAny(body, ".e%"); k >= 0 {
		intPart, frac = body[:k], body[k:]
	}
	return pad(group(intPart, p.group, 3)+frac, signOf(neg, p), p, '>'), nil
}

func defaultPrec(p int) int {
	if p < 0 {
		return 6
	}
	return p
}

func signOf(neg bool, p spec) string {
	switch {
	case neg:
		return "-"
	case p.sign == '+':
		return "+"
	case p.sign == ' ':
		return " "
	}
	return ""
}

// group inserts sep every n digits from the right.
func group(digits string, sep byte, n int) string {
	if sep == 0 || len(digits) <= n {
		return digits
	}
	var b strings.Builder
	for i, c := range []byte(digits) {
		if i > 0 && (len(digits)-i)%n == 0 {
			b.WriteByte(sep)
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pad aligns sign+body in the spec's width; '=' puts the fill between the
// sign (and prefix) and the digits.
func pad(body, sign string, p spec, def byte) string {
	n := p.width - utf8.RuneCountInString(sign+body)
	if n <= 0 {
		return sign + body
	}
	fill := strings.Repeat(string(p.fill), n)
	align := p.align
	if align == 0 {
		align = def
	}
	switch align {
	case '<':
		return sign + body + fill
	case '^':
		left := strings.Repeat(string(p.fill), n/2)
		return left + sign + body + strings.Repeat(string(p.fill), n-n/2)
	case '=':
		return sign + fill + body
	}
	return fill + sign + body
}
