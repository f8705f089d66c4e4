// Package textnode holds ComfyUI's text nodes (comfy_extras/nodes_string.py,
// category "text") with Python's string semantics: indices and lengths in
// code points, Python's case mappings and whitespace, str.format, repr()
// and json.dumps spellings. The regex nodes run Go's RE2 engine on
// translated Python syntax; pyre.go lists what differs from Python's re.
package textnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyfmt"
	"github.com/gocomfy/gocomfy/pyjson"
)

const module = "comfy_extras.nodes_string"

// Register adds the text classes to r in ComfyUI's order.
func Register(r *node.Registry) {
	r.MustAdd(
		StringFormat, StringConcatenate, StringSubstring, StringLength, CaseConverter, StringTrim,
		StringReplace, StringContains, StringCompare, RegexMatch, RegexExtract, RegexReplace,
		JsonExtractString, ConvertDictionaryToString, ConvertArrayToString,
	)
}

func info(id, display string, aliases ...string) node.Info {
	return node.Info{ID: id, DisplayName: display, Category: "text", Module: module, Format: node.V3, SearchAliases: aliases}
}

// text declares a multiline STRING input, the text nodes' usual widget.
func text(s *node.Schema, name string) *node.StringInput { return s.String(name).Multiline(true) }

// letters are the names of StringFormat's autogrow inputs.
var letters = strings.Split("abcdefghijklmnopqrstuvwxyz", "")

// StringFormat is Python's f_string.format(**values) over the autogrow
// inputs a…z (prompt inputs "values.a", "values.b", …).
var StringFormat = node.New(func() node.Info {
	i := info("StringFormat", "Format Text", "string", "format")
	i.Description = "Same as Python's string format method. Supports all of Python's format options and features."
	return i
}(), func(s *node.Schema) node.RunFunc {
	s.AnyOf("values", "COMFY_AUTOGROW_V3").Option("template", pyjson.Object{
		{Key: "input", Value: pyjson.Object{{Key: "required", Value: pyjson.Object{{Key: "value", Value: []any{"*", pyjson.Object{}}}}}}},
		{Key: "names", Value: letters},
		{Key: "min", Value: int64(0)},
	})
	f := s.String("f_string").Default("{a}").Multiline(true)
	out := node.Output(s, node.String, "STRING")
	return func(ctx context.Context, c *node.Call) error {
		values := map[string]any{}
		for _, name := range letters {
			if v, ok := c.Input("values." + name); ok {
				values[name] = v
			}
		}
		res, err := pyFormat(f.Get(c), values, 0)
		if err != nil {
			return err
		}
		out.Set(c, res)
		return nil
	}
})

// stringFunc declares a class with the given string inputs (multiline
// unless named "delimiter") and one output computed by f.
func stringFunc[T any](i node.Info, outType node.Type[T], outName string, names []string,
	extra func(s *node.Schema) func(c *node.Call) []any, f func(args []string, extra []any) T) *node.Class {
	return node.New(i, func(s *node.Schema) node.RunFunc {
		ins := make([]*node.StringInput, len(names))
		for k, n := range names {
			ins[k] = text(s, n)
		}
		var more func(c *node.Call) []any
		if extra != nil {
			more = extra(s)
		}
		out := node.Output(s, outType, outName)
		return func(ctx context.Context, c *node.Call) error {
			args := make([]string, len(ins))
			for k, in := range ins {
				args[k] = in.Get(c)
			}
			var ex []any
			if more != nil {
				ex = more(c)
			}
			out.Set(c, f(args, ex))
			return nil
		}
	})
}

// StringConcatenate is delimiter.join((string_a, string_b)).
var StringConcatenate = node.New(info("StringConcatenate", "Concatenate Text", "concatenate", "text concat", "join text",
	"merge text", "combine strings", "string concat", "append text", "combine text"),
	func(s *node.Schema) node.RunFunc {
		a, b := text(s, "string_a"), text(s, "string_b")
		delim := s.String("delimiter").Multiline(false).Default("")
		out := node.Output(s, node.String, "STRING")
		return func(ctx context.Context, c *node.Call) error {
			out.Set(c, a.Get(c)+delim.Get(c)+b.Get(c))
			return nil
		}
	})

// StringSubstring is string[start:end] (Python slicing on code points).
var StringSubstring = node.New(info("StringSubstring", "Substring", "substring", "extract text", "text portion"),
	func(s *node.Schema) node.RunFunc {
		str := text(s, "string")
		start, end := s.Int("start"), s.Int("end")
		out := node.Output(s, node.String, "STRING")
		return func(ctx context.Context, c *node.Call) error {
			out.Set(c, pySlice(str.Get(c), start.Get(c), end.Get(c)))
			return nil
		}
	})

// StringLength is len(string) in code points.
var StringLength = stringFunc(info("StringLength", "Text Length", "character count", "text size", "string length"),
	node.Int, "length", []string{"string"}, nil,
	func(a []string, _ []any) int64 { return int64(len([]rune(a[0]))) })

// caseModes are CaseConverter's modes.
var caseModes = map[string]func(string) string{
	"UPPERCASE": pyUpper, "lowercase": pyLower, "Capitalize": pyCapitalize, "Title Case": pyTitle,
}

// CaseConverter changes letter case as str.upper/lower/capitalize/title.
var CaseConverter = stringFunc(info("CaseConverter", "Convert Text Case", "case converter", "text case", "uppercase", "lowercase", "capitalize"),
	node.String, "STRING", []string{"string"}, comboArg("mode", "UPPERCASE", "lowercase", "Capitalize", "Title Case"),
	func(a []string, ex []any) string {
		if f, ok := caseModes[ex[0].(string)]; ok {
			return f(a[0])
		}
		return a[0]
	})

// comboArg declares one combo input read as the stringFunc extra argument.
func comboArg(name string, options ...string) func(s *node.Schema) func(c *node.Call) []any {
	return func(s *node.Schema) func(c *node.Call) []any {
		in := s.Combo(name, options...)
		return func(c *node.Call) []any { return []any{in.Get(c)} }
	}
}

// StringTrim strips whitespace (str.isspace) from both ends, the left or
// the right.
var StringTrim = stringFunc(info("StringTrim", "Trim Text", "trim", "clean whitespace", "remove whitespace", "remove spaces", "strip"),
	node.String, "STRING", []string{"string"}, comboArg("mode", "Both", "Left", "Right"),
	func(a []string, ex []any) string {
		switch ex[0] {
		case "Both":
			return strings.TrimFunc(a[0], pyIsSpace)
		case "Left":
			return strings.TrimLeftFunc(a[0], pyIsSpace)
		case "Right":
			return strings.TrimRightFunc(a[0], pyIsSpace)
		}
		return a[0]
	})

// StringReplace is str.replace(find, replace): every occurrence; an empty
// find inserts replace around every character.
var StringReplace = stringFunc(info("StringReplace", "Replace Text", "replace", "find and replace", "substitute", "swap text"),
	node.String, "STRING", []string{"string", "find", "replace"}, nil,
	func(a []string, _ []any) string { return strings.ReplaceAll(a[0], a[1], a[2]) })

// caseSensitive declares the case_sensitive toggle of StringContains and
// StringCompare, after any other extra inputs.
func caseSensitive(before ...func(s *node.Schema) func(c *node.Call) []any) func(s *node.Schema) func(c *node.Call) []any {
	return func(s *node.Schema) func(c *node.Call) []any {
		var first []func(c *node.Call) []any
		for _, b := range before {
			first = append(first, b(s))
		}
		cs := s.Bool("case_sensitive").Default(true).Advanced()
		return func(c *node.Call) []any {
			var args []any
			for _, f := range first {
				args = append(args, f(c)...)
			}
			return append(args, cs.Get(c))
		}
	}
}

// folded returns the strings, lowered (str.lower) unless sensitive.
func folded(sensitive bool, a ...string) []string {
	if sensitive {
		return a
	}
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = pyLower(s)
	}
	return out
}

// StringContains is `substring in string`, optionally on lowered text.
var StringContains = stringFunc(info("StringContains", "Contains Text", "contains", "text includes", "string includes"),
	node.Boolean, "contains", []string{"string", "substring"}, caseSensitive(),
	func(a []string, ex []any) bool {
		f := folded(ex[0].(bool), a...)
		return strings.Contains(f[0], f[1])
	})

// StringCompare is startswith, endswith or ==, optionally on lowered text.
var StringCompare = stringFunc(info("StringCompare", "Compare Text", "compare", "text match", "string equals", "starts with", "ends with"),
	node.Boolean, "BOOLEAN", []string{"string_a", "string_b"}, caseSensitive(comboArg("mode", "Starts With", "Ends With", "Equal")),
	func(a []string, ex []any) bool {
		f := folded(ex[1].(bool), a...)
		switch ex[0] {
		case "Equal":
			return f[0] == f[1]
		case "Starts With":
			return strings.HasPrefix(f[0], f[1])
		case "Ends With":
			return strings.HasSuffix(f[0], f[1])
		}
		return false
	})

// JsonExtractString is str(json.loads(json_string)[key]) for a top-level
// key of an object; "" for null, a missing key, a non-object or bad JSON.
var JsonExtractString = node.New(info("JsonExtractString", "Extract Text from JSON", "json", "extract json", "parse json", "json value", "read json"),
	func(s *node.Schema) node.RunFunc {
		js := text(s, "json_string")
		key := s.String("key").Multiline(false)
		out := node.Output(s, node.String, "STRING")
		return func(ctx context.Context, c *node.Call) error {
			out.Set(c, jsonExtract(js.Get(c), key.Get(c)))
			return nil
		}
	})

func jsonExtract(js, key string) string {
	v, err := decodeJSON(js)
	if err != nil {
		return ""
	}
	obj, ok := v.(pyjson.Object)
	if !ok {
		return ""
	}
	x, ok := obj.Get(key)
	if !ok || x == nil {
		return ""
	}
	return pyfmt.Str(x)
}

// decodeJSON is json.loads: objects keep their key order (a repeated key
// keeps its first place and last value), numbers stay json.Number.
// Python's NaN and Infinity literals are not accepted.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("extra data")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := pyjson.Object{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj.Set(k.(string), v)
			}
			_, err := dec.Token()
			return obj, err
		case '[':
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return nil, errors.New("unexpected delimiter")
	case json.Number:
		if !strings.ContainsAny(string(t), ".eE") {
			i, _ := new(big.Int).SetString(string(t), 10)
			return i, nil
		}
	}
	return tok, nil
}

// dumpNode declares ConvertDictionaryToString or ConvertArrayToString:
// json.dumps(value, ensure_ascii=False, indent=indent or None).
func dumpNode(i node.Info, typ, name string) *node.Class {
	return node.New(i, func(s *node.Schema) node.RunFunc {
		in := s.AnyOf(name, typ)
		indent := s.Int("indent").Default(2).Min(0).Max(8).Tooltip("Spaces per indent level. 0 produces compact single-line string.")
		out := node.Output(s, node.String, "STRING")
		return func(ctx context.Context, c *node.Call) error {
			n := int(indent.Get(c))
			if n == 0 {
				n = -1
			}
			v := in.Get(c)
			if raw, ok := v.(json.RawMessage); ok {
				var err error
				if v, err = decodeJSON(string(bytes.TrimSpace(raw))); err != nil {
					return err
				}
			}
			res, err := pyfmt.Dumps(v, n, false)
			if err != nil {
				return node.Raise("TypeError", "%s", err)
			}
			out.Set(c, res)
			return nil
		}
	})
}

// ConvertDictionaryToString writes a DICT as JSON text.
var ConvertDictionaryToString = dumpNode(info("ConvertDictionaryToString", "Convert Dictionary to String",
	"json", "dict to json", "stringify", "serialize", "dict to string"), "DICT", "dictionary")

// ConvertArrayToString writes an ARRAY as JSON text.
var ConvertArrayToString = dumpNode(info("ConvertArrayToString", "Convert Array to String",
	"json", "list to json", "stringify", "serialize", "list to string", "array to json"), "ARRAY", "array")
