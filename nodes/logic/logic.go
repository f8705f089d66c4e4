// Package logic holds ComfyUI's utility and logic nodes that need no model:
// the switch, custom combo and boolean nodes of comfy_extras/nodes_logic.py,
// ComfyMathExpression (a safe evaluator in place of simpleeval),
// ComfyNumberConvert, SeedNode, ResolutionSelector, PreviewAny,
// ColorToRGBInt and CreateList, each from its own comfy_extras module.
//
// Truthiness, number parsing and value printing follow Python, since the
// nodes are defined by what their Python code does with Python values.
package logic

import (
	"context"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyfmt"
	"github.com/gocomfy/gocomfy/tensor"
)

// Register adds the classes to r, grouped by module in ComfyUI's order.
func Register(r *node.Registry) {
	r.MustAdd(
		ComfySwitchNode, CustomCombo, ComfyNotNode, ComfyAndNode, ComfyOrNode, ComfyMathExpression,
		ComfyNumberConvert, PreviewAny, SeedNode, ResolutionSelector, CreateList, ColorToRGBInt,
	)
}

// v3 returns the Info of a V3 class of comfy_extras.<module>.
func v3(module, id, display, category string, aliases ...string) node.Info {
	return node.Info{ID: id, DisplayName: display, Category: category, Module: "comfy_extras." + module,
		Format: node.V3, SearchAliases: aliases}
}

// ComfySwitchNode outputs on_true or on_false; only the chosen lazy input
// is evaluated.
var ComfySwitchNode = node.New(func() node.Info {
	i := v3("nodes_logic", "ComfySwitchNode", "If/Else Switch", "utilities/logic", "if", "then", "switch", "conditional", "branch")
	i.Experimental = true
	return i
}(), func(s *node.Schema) node.RunFunc {
	sw := s.Bool("switch")
	onFalse := s.MatchType("on_false", "switch").Lazy()
	onTrue := s.MatchType("on_true", "switch").Lazy()
	out := s.OutputOf(node.MatchTypeType, "output").MatchType("switch")
	s.CheckLazy(func(ctx context.Context, c *node.Call) ([]string, error) {
		switch {
		case sw.Get(c) && onTrue.Get(c) == nil:
			return []string{"on_true"}, nil
		case !sw.Get(c) && onFalse.Get(c) == nil:
			return []string{"on_false"}, nil
		}
		return nil, nil
	})
	return func(ctx context.Context, c *node.Call) error {
		if sw.Get(c) {
			out.Set(c, onTrue.Get(c))
		} else {
			out.Set(c, onFalse.Get(c))
		}
		return nil
	}
})

// CustomCombo outputs a choice among options the user typed in the
// frontend, and its index (an extra frontend widget, "index"). Validation
// of its inputs is switched off, as in ComfyUI.
var CustomCombo = node.New(func() node.Info {
	i := v3("nodes_logic", "CustomCombo", "Custom Combo", "utilities")
	i.Experimental = true
	return i
}(), func(s *node.Schema) node.RunFunc {
	choice := s.Combo("choice")
	s.ValidateInputs(func(ctx context.Context, c *node.Call) error { return nil }, node.ValidateOptions{AllInputs: true})
	outChoice := node.Output(s, node.String, "STRING")
	outIndex := node.Output(s, node.Int, "INDEX")
	return func(ctx context.Context, c *node.Call) error {
		outChoice.Set(c, choice.Get(c))
		index, err := toInt(c, "index")
		if err != nil {
			return err
		}
		outIndex.Set(c, index)
		return nil
	}
})

// toInt reads an undeclared input as an int (0 when absent).
func toInt(c *node.Call, name string) (int64, error) {
	v, ok := c.Input(name)
	if !ok || v == nil {
		return 0, nil
	}
	switch v := node.Literal(v).(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case float64:
		return int64(v), nil
	}
	return 0, node.Raise("TypeError", "%s must be an int, got %s", name, pyfmt.Repr(v))
}

// truthy is Python's bool(v). A tensor is true when it has one element that
// is non-zero; with several elements Python raises.
func truthy(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		return v != "", nil
	case *tensor.Latent:
		return true, nil // a dict with "samples"
	case *tensor.Image:
		return tensorTruth(v.Pix)
	case *tensor.Mask:
		return tensorTruth(v.Pix)
	case *tensor.Tensor:
		return tensorTruth(v.Data)
	case *big.Int:
		return v.Sign() != 0, nil
	}
	if f, ok := number(v); ok {
		return f != 0, nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map {
		return rv.Len() > 0, nil
	}
	return true, nil
}

func tensorTruth(data []float32) (bool, error) {
	if len(data) != 1 {
		return false, node.Raise("RuntimeError", "Boolean value of Tensor with more than one value is ambiguous")
	}
	return data[0] != 0, nil
}

// number returns the value of a Go number (json.Number too) as float64.
func number(v any) (float64, bool) {
	switch v := node.Literal(v).(type) {
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// ComfyNotNode is Python's `not value`.
var ComfyNotNode = node.New(func() node.Info {
	i := v3("nodes_logic", "ComfyNotNode", "Not", "utilities/logic", "invert", "toggle", "negate", "flip boolean")
	i.Description = "Logical NOT operation. Returns true if the value is falsy. Uses Python's rules for truthiness."
	return i
}(), func(s *node.Schema) node.RunFunc {
	value := s.AnyOf("value", "*")
	out := node.Output(s, node.Boolean, "BOOLEAN")
	return func(ctx context.Context, c *node.Call) error {
		t, err := truthy(value.Get(c))
		if err != nil {
			return err
		}
		out.Set(c, !t)
		return nil
	}
})

// boolFold declares ComfyAndNode or ComfyOrNode: Python's all() or any()
// over the autogrow values value0…value9, stopping at the first value that
// decides (later values are not even tested, as in Python).
func boolFold(id, display, description string, decisive bool, aliases ...string) *node.Class {
	i := v3("nodes_logic", id, display, "utilities/logic", aliases...)
	i.Description = description
	return node.New(i, func(s *node.Schema) node.RunFunc {
		values := s.Autogrow("values", func(t *node.Schema) { t.AnyOf("value", "*") }, node.Prefix("value", 1, 10))
		out := node.Output(s, node.Boolean, "BOOLEAN")
		return func(ctx context.Context, c *node.Call) error {
			for _, v := range values.Values(c) {
				t, err := truthy(v)
				if err != nil {
					return err
				}
				if t == decisive {
					out.Set(c, decisive)
					return nil
				}
			}
			out.Set(c, !decisive)
			return nil
		}
	})
}

// ComfyAndNode is all(values).
var ComfyAndNode = boolFold("ComfyAndNode", "And",
	"Logical AND operation. Returns true if all of the values are truthy. Uses Python's rules for truthiness.",
	false, "all", "every")

// ComfyOrNode is any(values).
var ComfyOrNode = boolFold("ComfyOrNode", "Or",
	"Logical OR operation. Returns true if any of the values are truthy. Uses Python's rules for truthiness.",
	true, "any", "some")

// ComfyNumberConvert converts an INT, FLOAT, STRING or BOOLEAN to a float
// and an int: strings are trimmed and parsed as Python's float() and int()
// do (int() first, else the float truncated). Empty strings and non-finite
// values are errors.
var ComfyNumberConvert = node.New(v3("nodes_number_convert", "ComfyNumberConvert", "Convert Number", "utilities",
	"int to float", "float to int", "number convert", "int2float", "float2int", "cast", "parse number",
	"string to number", "bool to int"),
	func(s *node.Schema) node.RunFunc {
		value := s.AnyOf("value", "INT,FLOAT,STRING,BOOLEAN").DisplayName("value")
		outF := node.Output(s, node.Float, "FLOAT")
		outI := node.Output(s, node.Int, "INT")
		return func(ctx context.Context, c *node.Call) error {
			f, i, err := convertNumber(value.Get(c))
			if err != nil {
				return err
			}
			outF.Set(c, f)
			outI.Set(c, i)
			return nil
		}
	})

func convertNumber(v any) (float64, int64, error) {
	switch v := node.Literal(v).(type) {
	case bool:
		if v {
			return 1, 1, nil
		}
		return 0, 0, nil
	case int64:
		return float64(v), v, nil
	case uint64:
		return float64(v), int64(v), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, 0, node.Raise("ValueError", "Cannot convert non-finite value to number: %s", pyfmt.Repr(v))
		}
		i, err := truncate(v)
		return v, i, err
	case string:
		text := strings.TrimFunc(v, isPySpace)
		if text == "" {
			return 0, 0, node.Raise("ValueError", "Cannot convert empty string to number.")
		}
		f, ok := pyFloat(text)
		if !ok {
			return 0, 0, node.Raise("ValueError", "Cannot convert string to number: %s", pyfmt.QuoteString(v))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, 0, node.Raise("ValueError", "Cannot convert non-finite value to number: %s", pyfmt.Repr(f))
		}
		if i, ok := pyInt(text); ok {
			return f, i, nil
		}
		i, err := truncate(f)
		return f, i, err
	default:
		return 0, 0, node.Raise("TypeError", "Unsupported input type: %T", v)
	}
}

// truncate is int(f) for a finite float that fits an INT.
func truncate(f float64) (int64, error) {
	t := math.Trunc(f)
	if t < -(1<<63) || t >= 1<<63 {
		return 0, node.Raise("OverflowError", "int too large to convert: %s", pyfmt.Repr(f))
	}
	return int64(t), nil
}

// isPySpace is str.isspace() for one character.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyFloat is Python's float() of a trimmed string: decimal literals with
// optional sign, exponent and digit-separating underscores, and inf,
// infinity and nan in any case. Go's hexadecimal floats are refused.
func pyFloat(s string) (float64, bool) {
	body := strings.TrimLeft(s, "+-")
	if strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X") || strings.HasPrefix(body, "_") ||
		strings.HasSuffix(body, "_") || strings.Contains(s, "_.") || strings.Contains(s, "._") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// pyInt is Python's int() of a trimmed string in base 10, for values that
// fit an INT.
func pyInt(s string) (int64, bool) {
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || body[0] == '_' || body[len(body)-1] == '_' || strings.Contains(body, "__") {
		return 0, false
	}
	for _, r := range body {
		if (r < '0' || r > '9') && r != '_' {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	return i, err == nil
}

// SeedNode outputs its seed widget.
var SeedNode = node.New(v3("nodes_seed", "SeedNode", "Seed", "utilities", "seed", "random"),
	func(s *node.Schema) node.RunFunc {
		seed := s.Int("seed").Min(0).Max(math.MaxInt64).Option("control_after_generate", "fixed")
		out := node.Output(s, node.Int, "seed")
		return func(ctx context.Context, c *node.Call) error {
			out.Set(c, seed.Get(c))
			return nil
		}
	})

// aspectRatios are ResolutionSelector's options and their ratios.
var aspectRatios = []struct {
	name string
	w, h float64
}{
	{"1:1 (Square)", 1, 1}, {"2:3 (Portrait Photo)", 2, 3}, {"3:2 (Photo)", 3, 2},
	{"3:4 (Portrait Standard)", 3, 4}, {"4:3 (Standard)", 4, 3}, {"9:16 (Portrait Widescreen)", 9, 16},
	{"16:9 (Widescreen)", 16, 9}, {"21:9 (Ultrawide)", 21, 9},
}

// ResolutionSelector computes a width and height of the aspect ratio with
// about megapixels·1024² pixels, each rounded to a multiple.
var ResolutionSelector = node.New(func() node.Info {
	i := v3("nodes_resolution", "ResolutionSelector", "Resolution Selector", "utilities")
	i.Description = "Calculate width and height from aspect ratio and megapixel target. Useful for setting up Empty Latent Image dimensions."
	return i
}(), func(s *node.Schema) node.RunFunc {
	names := make([]string, len(aspectRatios))
	for i, a := range aspectRatios {
		names[i] = a.name
	}
	aspect := s.Combo("aspect_ratio", names...).Default(names[0]).Tooltip("The aspect ratio for the output dimensions.")
	mp := s.Float("megapixels").Default(1).Min(0.1).Max(16).Step(0.1).Tooltip("Target total megapixels. 1.0 MP ≈ 1024x1024 for square.")
	multiple := s.Int("multiple").Default(8).Min(8).Max(128).Step(4).
		Tooltip("Nearest multiple of the result to set the selected resolution to.").Advanced()
	outW := node.Output(s, node.Int, "width").Tooltip("Calculated width in pixels multiplied by the selected multiple.")
	outH := node.Output(s, node.Int, "height").Tooltip("Calculated height in pixels multiplied by the selected multiple.")
	return func(ctx context.Context, c *node.Call) error {
		for _, a := range aspectRatios {
			if a.name != aspect.Get(c) {
				continue
			}
			m := multiple.Get(c)
			if m == 0 {
				return node.Raise("ZeroDivisionError", "float division by zero")
			}
			scale := math.Sqrt(mp.Get(c) * 1024 * 1024 / (a.w * a.h))
			outW.Set(c, int64(math.RoundToEven(a.w*scale/float64(m)))*m)
			outH.Set(c, int64(math.RoundToEven(a.h*scale/float64(m)))*m)
			return nil
		}
		return node.Raise("KeyError", "%s", pyfmt.QuoteString(aspect.Get(c)))
	}
})

// PreviewAny shows any value as text (UI "text") and outputs that text: a
// string as is, a number or bool as str(), anything else as
// json.dumps(indent=4), falling back to str().
var PreviewAny = node.New(node.Info{
	ID: "PreviewAny", DisplayName: "Preview as Text", Category: "utilities", Module: "comfy_extras.nodes_preview_any",
	OutputNode: true, SearchAliases: []string{"show output", "inspect", "debug", "print value", "show text"},
}, func(s *node.Schema) node.RunFunc {
	source := s.AnyOf("source", "*").EmptyOptions()
	out := node.Output(s, node.String, "STRING")
	return func(ctx context.Context, c *node.Call) error {
		text := previewText(source.Get(c))
		c.UI("text", text)
		out.Set(c, text)
		return nil
	}
})

func previewText(v any) string {
	v = node.Literal(v)
	switch v.(type) {
	case string:
		return v.(string)
	case nil:
		return "None"
	case bool, int64, uint64, float64:
		return pyfmt.Str(v)
	}
	if s, err := pyfmt.Dumps(v, 4, true); err == nil {
		return s
	}
	return pyfmt.Str(v)
}

// ColorToRGBInt turns a "#RRGGBB" colour into its 0xRRGGBB integer and
// passes the text through.
var ColorToRGBInt = node.New(func() node.Info {
	i := v3("nodes_color", "ColorToRGBInt", "Color Picker", "utilities")
	i.Description = "Return a color RGB integer value and hexadecimal representation."
	return i
}(), func(s *node.Schema) node.RunFunc {
	color := s.AnyOf("color", "COLOR").Option("default", "#ffffff").Option("socketless", true)
	outInt := node.Output(s, node.Int, "rgb_int")
	outHex := node.Output(s, node.Type[any]{Name: "COLOR"}, "hex")
	return func(ctx context.Context, c *node.Call) error {
		text, _ := color.Get(c).(string)
		n, err := strconv.ParseUint(strings.TrimPrefix(text, "#"), 16, 32)
		if len(text) != 7 || text[0] != '#' || err != nil {
			return node.Raise("ValueError", "Color must be in format #RRGGBB")
		}
		outInt.Set(c, int64(n))
		outHex.Set(c, text)
		return nil
	}
})

// CreateList concatenates the lists of its autogrow inputs input0…input9
// into one list output (the class takes whole lists: INPUT_IS_LIST).
var CreateList = node.New(func() node.Info {
	i := v3("nodes_toolkit", "CreateList", "Create List", "utilities", "Image Iterator", "Text Iterator", "Iterator")
	i.InputIsList = true
	return i
}(), func(s *node.Schema) node.RunFunc {
	inputs := s.Autogrow("inputs", func(t *node.Schema) { t.MatchType("input", "type") }, node.Prefix("input", 1, 10))
	out := s.OutputOf(node.MatchTypeType, "list").List().MatchType("type")
	return func(ctx context.Context, c *node.Call) error {
		var all []any
		for _, v := range inputs.Values(c) {
			list, ok := v.([]any)
			if !ok {
				list = []any{v}
			}
			all = append(all, list...)
		}
		out.SetList(c, all)
		return nil
	}
})
