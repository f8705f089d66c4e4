// Package pyfmt writes Go values as Python writes the values they stand
// for: str(), repr() and json.dumps(). Nodes that print values (string
// nodes, PreviewAny, error messages that quote values) use it so that
// clients see Python's spelling: True, None, 1.0, {'a': 1}.
//
// The value model is the one values have when they cross sockets: nil
// (None), bool, int64, uint64, *big.Int, float64, json.Number (an int or a
// float by its text), string, []any (list), pyjson.Object or
// map[string]any (dict; map keys are sorted, since Go maps have no order).
package pyfmt

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/pyjson"
)

// Str is Python's str(v).
func Str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return Repr(v)
}

// Repr is Python's repr(v). Values outside the model are written with Go's
// %v (ComfyUI would print a tensor or another object here).
func Repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString(QuoteString(v))
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, x)
		}
		b.WriteByte(']')
	case pyjson.Object, map[string]any:
		b.WriteByte('{')
		for i, f := range fields(v) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteString(f.Key))
			b.WriteString(": ")
			writeRepr(b, f.Value)
		}
		b.WriteByte('}')
	default:
		s, ok := scalar(v)
		if !ok {
			s = fmt.Sprint(v)
		}
		b.WriteString(s)
	}
}

// scalar writes None, bools and numbers as Python's repr does.
func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "None", true
	case bool:
		if v {
			return "True", true
		}
		return "False", true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case *big.Int:
		return v.String(), true
	case float64:
		return pyjson.FormatFloat(v), true
	case pyjson.Float:
		return pyjson.FormatFloat(float64(v)), true
	case json.Number:
		if isFloatText(string(v)) {
			f, _ := strconv.ParseFloat(string(v), 64)
			return pyjson.FormatFloat(f), true
		}
		i, ok := new(big.Int).SetString(string(v), 10)
		if !ok {
			return string(v), true
		}
		return i.String(), true
	}
	return "", false
}

func isFloatText(s string) bool { return strings.ContainsAny(s, ".eE") }

// fields returns a dict's items in Python's iteration order.
func fields(v any) pyjson.Object {
	switch v := v.(type) {
	case pyjson.Object:
		return v
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		o := make(pyjson.Object, len(keys))
		for i, k := range keys {
			o[i] = pyjson.Field{Key: k, Value: v[k]}
		}
		return o
	}
	return nil
}

// QuoteString is Python's repr of a str: single quotes unless the text has
// a single quote and no double quote; backslash escapes for the quote,
// backslash, \t \n \r, and for characters that are not printable.
func QuoteString(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	b := []byte{q}
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < ' ' || r == 0x7f:
			b = fmt.Appendf(b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b = utf8.AppendRune(b, r)
		case r <= 0xff:
			b = fmt.Appendf(b, `\x%02x`, r)
		case r <= 0xffff:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = fmt.Appendf(b, `\U%08x`, r)
		}
	}
	return string(append(b, q))
}

// Dumps is Python's json.dumps(v, ensure_ascii=ascii, indent=indent) with
// indent < 0 for None: ", " and ": " separators on one line, or one item
// per line indented by indent spaces. NaN and infinities are written as
// Python writes them (NaN, Infinity, -Infinity). A value outside the model
// is Python's TypeError.
func Dumps(v any, indent int, ascii bool) (string, error) {
	d := dumper{indent: indent, ascii: ascii}
	if err := d.value(v, 0); err != nil {
		return "", err
	}
	return d.b.String(), nil
}

type dumper struct {
	b      strings.Builder
	indent int
	ascii  bool
}

func (d *dumper) newline(depth int) {
	if d.indent >= 0 {
		d.b.WriteByte('\n')
		d.b.WriteString(strings.Repeat(" ", d.indent*depth))
	}
}

func (d *dumper) sep() {
	if d.indent >= 0 {
		d.b.WriteByte(',')
	} else {
		d.b.WriteString(", ")
	}
}

func (d *dumper) value(v any, depth int) error {
	switch v := v.(type) {
	case string:
		d.str(v)
	case float64:
		switch {
		case math.IsNaN(v):
			d.b.WriteString("NaN")
		case math.IsInf(v, 1):
			d.b.WriteString("Infinity")
		case math.IsInf(v, -1):
			d.b.WriteString("-Infinity")
		default:
			d.b.WriteString(pyjson.FormatFloat(v))
		}
	case []any:
		return d.items('[', ']', len(v), depth, func(i int) error { return d.value(v[i], depth+1) })
	case pyjson.Object, map[string]any:
		fs := fields(v)
		return d.items('{', '}', len(fs), depth, func(i int) error {
			d.str(fs[i].Key)
			d.b.WriteString(": ")
			return d.value(fs[i].Value, depth+1)
		})
	default:
		s, ok := scalar(v)
		if !ok {
			return &TypeError{fmt.Sprintf("Object of type %T is not JSON serializable", v)}
		}
		if _, isNum := v.(json.Number); isNum && isFloatText(string(v.(json.Number))) {
			f, _ := strconv.ParseFloat(string(v.(json.Number)), 64)
			return d.value(f, depth)
		}
		switch s {
		case "True":
			s = "true"
		case "False":
			s = "false"
		case "None":
			s = "null"
		}
		d.b.WriteString(s)
	}
	return nil
}

// items writes a list or dict of n items between open and close, item(i)
// writing each one; json.dumps writes an empty one as [] or {} even when
// indenting.
func (d *dumper) items(open, close byte, n, depth int, item func(i int) error) error {
	d.b.WriteByte(open)
	if n == 0 {
		d.b.WriteByte(close)
		return nil
	}
	for i := range n {
		if i > 0 {
			d.sep()
		}
		d.newline(depth + 1)
		if err := item(i); err != nil {
			return err
		}
	}
	d.newline(depth)
	d.b.WriteByte(close)
	return nil
}

// str writes a JSON string as json.dumps does.
func (d *dumper) str(s string) {
	d.b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			d.b.WriteString(`\"`)
		case '\\':
			d.b.WriteString(`\\`)
		case '\n':
			d.b.WriteString(`\n`)
		case '\r':
			d.b.WriteString(`\r`)
		case '\t':
			d.b.WriteString(`\t`)
		case '\b':
			d.b.WriteString(`\b`)
		case '\f':
			d.b.WriteString(`\f`)
		default:
			switch {
			case r < ' ':
				fmt.Fprintf(&d.b, `\u%04x`, r)
			case r > 0x7e && d.ascii:
				if r > 0xffff {
					r -= 0x10000
					fmt.Fprintf(&d.b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(&d.b, `\u%04x`, r)
				}
			default:
				d.b.WriteRune(r)
			}
		}
	}
	d.b.WriteByte('"')
}

// TypeError is a value json.dumps cannot write; its Python type is
// TypeError.
type TypeError struct{ Msg string }

func (e *TypeError) Error() string { return e.Msg }
