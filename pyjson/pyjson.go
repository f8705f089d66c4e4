// Package pyjson writes JSON byte for byte as Python's json.dumps does with its
// default options, which is what ComfyUI sends on every route and WebSocket frame.
//
// Three things differ from encoding/json and are visible to clients that match
// bytes rather than parse them (SwarmUI matches `{"type": ` at the start of a
// WebSocket frame):
//
//   - separators are ", " and ": " (a space after every comma and colon);
//   - non-ASCII characters are escaped as \uXXXX (surrogate pairs above the BMP),
//     and <, > and & are not escaped;
//   - floats always carry a fraction or an exponent (1.0, 1e-05), see [Float].
//
// Values are marshalled with encoding/json first, so struct field order is the
// declaration order and [Object] keeps insertion order; the result is then
// re-spaced in one pass.
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marshal returns the Python json.dumps encoding of v.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	compact := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	return Respace(make([]byte, 0, len(compact)+len(compact)/8), compact), nil
}

// Respace appends to dst the compact JSON src with Python's separators and
// ASCII-only strings. src must be valid compact JSON (as encoding/json writes it).
func Respace(dst, src []byte) []byte {
	inString := false
	for i := 0; i < len(src); {
		c := src[i]
		if inString {
			switch {
			case c == '\\':
				dst = append(dst, c, src[i+1])
				i += 2
				continue
			case c == '"':
				inString = false
			case c >= utf8.RuneSelf:
				r, size := utf8.DecodeRune(src[i:])
				dst = appendUnicodeEscape(dst, r)
				i += size
				continue
			}
			dst = append(dst, c)
			i++
			continue
		}
		dst = append(dst, c)
		switch c {
		case '"':
			inString = true
		case ',', ':':
			dst = append(dst, ' ')
		}
		i++
	}
	return dst
}

func appendUnicodeEscape(dst []byte, r rune) []byte {
	if r > 0xFFFF {
		r -= 0x10000
		dst = appendU4(dst, 0xD800+(r>>10))
		return appendU4(dst, 0xDC00+(r&0x3FF))
	}
	return appendU4(dst, r)
}

func appendU4(dst []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}

// Float is a float64 that marshals as Python's repr does: 1.0, 0.01, 1e-05,
// 1e+16. NaN and infinities, which Python writes as bare NaN/Infinity tokens
// (invalid JSON), marshal as null.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	return AppendFloat(nil, float64(f)), nil
}

// AppendFloat appends Python's repr of f (null for NaN and infinities).
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return append(dst, FormatFloat(f)...)
}

// FormatFloat returns Python's repr of f: the shortest round-trip digits, in
// exponent form when the exponent is < -4 or >= 16, otherwise positional with
// at least one fractional digit. NaN and infinities give "nan", "inf", "-inf".
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	// Shortest digits and the decimal exponent, from Go's own formatter.
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-1.2345e+06"
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		// Python: mantissa without a trailing ".0", exponent with sign and at least two digits.
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		return mant + "e" + sign + es
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// Object is a JSON object that keeps its keys in insertion order, as Python
// dicts do. The zero value is an empty object.
type Object []Field

// Field is one key/value pair of an Object.
type Field struct {
	Key   string
	Value any
}

// Set appends key with value, or replaces the value if key is already present
// (keeping its position, as assigning to a Python dict does).
func (o *Object) Set(key string, value any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = value
			return
		}
	}
	*o = append(*o, Field{key, value})
}

// Get returns the value stored under key.
func (o Object) Get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// MarshalJSON implements json.Marshaler.
func (o Object) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshalNoHTML(f.Key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshalNoHTML(f.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// DecodeObject decodes a JSON object keeping its key order; values are left
// as json.RawMessage. A duplicate key keeps its first position and its last
// value, as Python's json.loads does.
func DecodeObject(data []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	o := Object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.Set(tok.(string), v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errTrailing
	}
	return o, nil
}

var (
	errNotObject = errors.New("pyjson: not a JSON object")
	errTrailing  = errors.New("pyjson: trailing data after JSON object")
)

// Delete removes key from o.
func (o *Object) Delete(key string) {
	for i := range *o {
		if (*o)[i].Key == key {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return
		}
	}
}
