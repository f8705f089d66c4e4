package executor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// formatValue is ComfyUI's format_value for current_inputs: None, ints,
// floats, bools and strings as they are, anything else as Python's str()
// would print it (tensors as a short description).
func formatValue(v any) any {
	switch v := v.(type) {
	case nil, bool, string, int64, uint64, int:
		return v
	case float64:
		return pyjson.Float(v)
	case pyjson.Float:
		return v
	case json.Number:
		return formatValue(node.Literal(v))
	}
	return pyStr(v)
}

// pyStr returns what Python's str() prints for the Python value v stands
// for: strings bare, everything else as repr.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

// writeRepr writes Python's repr of the value a node input holds.
func writeRepr(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(v, 10))
	case float64:
		b.WriteString(pyjson.FormatFloat(v))
	case pyjson.Float:
		b.WriteString(pyjson.FormatFloat(float64(v)))
	case json.Number:
		writeRepr(b, node.Literal(v))
	case string:
		writeStringRepr(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeStringRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, v[k])
		}
		b.WriteByte('}')
	case pyjson.Object:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeStringRepr(b, f.Key)
			b.WriteString(": ")
			writeRepr(b, f.Value)
		}
		b.WriteByte('}')
	case node.Link:
		writeRepr(b, []any{v.From, v.Slot})
	case *tensor.Image:
		writeTensor(b, v.Shape())
	case *tensor.Mask:
		writeTensor(b, v.Shape())
	case *tensor.Tensor:
		writeTensor(b, v.Shape)
	case *tensor.Latent:
		o := pyjson.Object{{Key: "samples", Value: v.Samples}}
		if v.NoiseMask != nil {
			o = append(o, pyjson.Field{Key: "noise_mask", Value: v.NoiseMask})
		}
		writeRepr(b, o)
	case *node.Prompt:
		data, _ := v.MarshalJSON()
		writeJSONRepr(b, data)
	case json.RawMessage:
		writeJSONRepr(b, v)
	case node.DynPrompt:
		b.WriteString("<comfy_execution.graph.DynamicPrompt object>")
	case *node.Blocker:
		b.WriteString("<comfy_execution.graph_utils.ExecutionBlocker object>")
	case error:
		b.WriteString(v.Error())
	case fmt.Stringer:
		b.WriteString(v.String())
	default:
		fmt.Fprintf(b, "<%T object>", v)
	}
}

// writeTensor describes a tensor without its data (str(tensor) prints
// every value).
func writeTensor(b *strings.Builder, shape []int) {
	b.WriteString("tensor(shape=[")
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteString("], dtype=float32)")
}

// writeStringRepr writes a string literal as Python's repr does: single
// quotes unless the string holds one and no double quote.
func writeStringRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

// writeJSONRepr writes the Python repr of a JSON document (a dict keeps its
// key order); invalid JSON is written as it is.
func writeJSONRepr(b *strings.Builder, data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out strings.Builder
	if err := writeJSONValue(&out, dec); err != nil {
		b.Write(data)
		return
	}
	b.WriteString(out.String())
}

func writeJSONValue(b *strings.Builder, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		open, end := "[", json.Delim(']')
		if t == '{' {
			open, end = "{", '}'
		}
		b.WriteString(open)
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				writeStringRepr(b, key.(string))
				b.WriteString(": ")
			}
			if err := writeJSONValue(b, dec); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteString(string(end))
	default:
		writeRepr(b, t)
	}
	return nil
}

// invoke calls f, turning a panic into an error with its stack as a
// Python-shaped traceback (outermost frame first).
func invoke(f func() error) (traceback []string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v)
			traceback = stackTraceback()
		}
	}()
	return nil, f()
}

func panicError(v any) error {
	if err, ok := v.(error); ok {
		return err
	}
	return errors.New(fmt.Sprint(v))
}

// stackTraceback formats the panicking goroutine's stack as traceback
// lines, without the runtime's own frames.
func stackTraceback() []string {
	pcs := make([]uintptr, 64)
	pcs = pcs[:runtime.Callers(3, pcs)]
	frames := runtime.CallersFrames(pcs)
	var lines []string
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			lines = append(lines, fmt.Sprintf("  File \"%s\", line %d, in %s\n", f.File, f.Line, f.Function))
		}
		if !more {
			break
		}
	}
	slices.Reverse(lines)
	return lines
}

// errorTraceback is the traceback of an error a node returned: Go errors
// carry no stack, so it names the call that failed.
func errorTraceback(n *nodeState) []string {
	return []string{fmt.Sprintf("  File \"%s\", in %s (node %s)\n", n.class.Module, n.class.ID, n.id)}
}
