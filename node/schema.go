package node

import (
	"encoding/json"
	"strconv"

	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// A Type is a socket type: its name on the wire and the Go type of its values.
type Type[T any] struct{ Name string }

// The socket types of ComfyUI's core that need no model.
var (
	Image   = Type[*tensor.Image]{"IMAGE"} // float32 [B,H,W,C] in 0..1
	Mask    = Type[*tensor.Mask]{"MASK"}   // float32 [B,H,W]
	Latent  = Type[*tensor.Latent]{"LATENT"}
	Int     = Type[int64]{"INT"}
	Float   = Type[float64]{"FLOAT"}
	String  = Type[string]{"STRING"}
	Boolean = Type[bool]{"BOOLEAN"}
	Any     = Type[any]{"*"}
)

// Schema declares a class's inputs, outputs and hooks, in ComfyUI's widget
// order (the order of the calls).
type Schema struct{ class *Class }

func (s *Schema) add(name, typ string) *InputDef {
	d := &InputDef{Name: name, Type: typ}
	s.class.inputs = append(s.class.inputs, d)
	return d
}

// Fingerprint sets the IS_CHANGED hook.
func (s *Schema) Fingerprint(f FingerprintFunc) { s.class.fingerprint = f }

// ValidateInputs sets the VALIDATE_INPUTS hook; opt says which inputs it takes.
func (s *Schema) ValidateInputs(f ValidateFunc, opt ValidateOptions) {
	s.class.validate, s.class.validateOpt = f, opt
}

// CheckLazy sets the check_lazy_status hook.
func (s *Schema) CheckLazy(f CheckLazyFunc) { s.class.checkLazy = f }

// Hidden declares a hidden input of the given kind under name (ComfyUI's
// names: "prompt", "extra_pnginfo", "unique_id", "dynprompt"). Hidden values
// are read with Call.Prompt, Call.ExtraPNGInfo, Call.UniqueID and
// Call.DynPrompt whether declared or not; declaring them matters for
// /object_info and, for UNIQUE_ID, for the cache key.
func (s *Schema) Hidden(name string, kind HiddenKind) *HiddenInput {
	d := s.add(name, string(kind))
	d.Section, d.Hidden = Hidden, kind
	return &HiddenInput{d}
}

// HiddenInput is a declared hidden input.
type HiddenInput struct{ d *InputDef }

// Tuple renders the declaration as a one-element list, as a V1 class that
// writes ("KIND",) instead of "KIND" shows in /object_info.
func (h *HiddenInput) Tuple() { h.d.hiddenTuple = true }

// In reads one input's value inside a RunFunc.
type In[T any] struct{ def *InputDef }

// Def returns the input's declaration.
func (in In[T]) Def() *InputDef { return in.def }

// Get returns the input's value for this call; the zero value when the input
// is absent (an optional input not given, or a lazy one not evaluated).
func (in In[T]) Get(c *Call) T {
	v, _ := convert[T](c.values[in.def.Name])
	return v
}

// Present reports whether the input has a value in this call.
func (in In[T]) Present(c *Call) bool {
	v, ok := c.values[in.def.Name]
	return ok && v != nil
}

// List returns the whole list of values of an input of an InputIsList class.
func (in In[T]) List(c *Call) []T {
	raw, _ := c.values[in.def.Name].([]any)
	out := make([]T, len(raw))
	for i, v := range raw {
		out[i], _ = convert[T](v)
	}
	return out
}

// convert turns a value delivered by the executor into T, converting between
// the numeric kinds as Python would when a value crosses an "INT,FLOAT" or
// "*" socket.
func convert[T any](v any) (T, bool) {
	if t, ok := v.(T); ok {
		return t, true
	}
	var zero T
	var out any
	switch any(zero).(type) {
	case int64:
		switch v := v.(type) {
		case float64:
			out = int64(v)
		case uint64:
			out = int64(v) // the upper half of the seed range keeps its bits
		case bool:
			out = map[bool]int64{false: 0, true: 1}[v]
		case json.Number:
			out, _ = Literal(v).(int64)
		}
	case float64:
		switch v := v.(type) {
		case pyjson.Float: // NaN and infinities written back by validation
			out = float64(v)
		case int64:
			out = float64(v)
		case uint64:
			out = float64(v)
		case bool:
			out = map[bool]float64{false: 0, true: 1}[v]
		case json.Number:
			out, _ = strconv.ParseFloat(string(v), 64)
		}
	}
	t, ok := out.(T)
	return t, ok
}

// common holds the options every input kind has; S is the builder type, so
// that chained calls keep their type.
type common[S any] struct {
	d    *InputDef
	self S
}

// Optional moves the input to the "optional" section.
func (c common[S]) Optional() S { c.d.Section = Optional; return c.self }

// Tooltip sets the tooltip shown by the frontend.
func (c common[S]) Tooltip(t string) S { c.d.set("tooltip", t); return c.self }

// Lazy makes the input lazy: it is evaluated only when CheckLazy asks for it.
func (c common[S]) Lazy() S { c.d.Lazy = true; c.d.set("lazy", true); return c.self }

// RawLink makes the input receive the link ([node, slot]) instead of the value.
func (c common[S]) RawLink() S { c.d.RawLink = true; c.d.set("rawLink", true); return c.self }

// ForceInput renders a widget input as a socket.
func (c common[S]) ForceInput() S { c.d.set("forceInput", true); return c.self }

// Advanced hides the widget under the frontend's "advanced" section.
func (c common[S]) Advanced() S { c.d.set("advanced", true); return c.self }

// DisplayName sets the input's label.
func (c common[S]) DisplayName(n string) S { c.d.set("display_name", n); return c.self }

// EmptyOptions renders the options object even when it is empty, as a V1
// declaration ("*", {}) shows in /object_info.
func (c common[S]) EmptyOptions() S { c.d.keepOpts = true; return c.self }

// Option sets any other option key as the frontend knows it (image_upload,
// image_folder, remote, ...). Options render in the order they are set (V1)
// or in ComfyUI's fixed order (V3).
func (c common[S]) Option(key string, v any) S { c.d.set(key, v); return c.self }

// IntInput is an INT widget.
type IntInput struct {
	common[*IntInput]
	In[int64]
}

// Int declares an INT input.
func (s *Schema) Int(name string) *IntInput {
	i := &IntInput{In: In[int64]{s.add(name, "INT")}}
	i.common = common[*IntInput]{i.def, i}
	return i
}

// Default sets the widget's default value.
func (i *IntInput) Default(v int64) *IntInput { i.def.set("default", v); return i }

// Min sets the smallest accepted value.
func (i *IntInput) Min(v int64) *IntInput {
	i.def.Min = json.Number(strconv.FormatInt(v, 10))
	i.def.set("min", v)
	return i
}

// Max sets the largest accepted value.
func (i *IntInput) Max(v int64) *IntInput {
	i.def.Max = json.Number(strconv.FormatInt(v, 10))
	i.def.set("max", v)
	return i
}

// MaxUint64 sets a largest value beyond int64, as seed inputs do
// (0xffffffffffffffff). Such values reach the node as their int64 bit pattern.
func (i *IntInput) MaxUint64(v uint64) *IntInput {
	i.def.Max = json.Number(strconv.FormatUint(v, 10))
	i.def.set("max", v)
	return i
}

// Step sets the widget's increment.
func (i *IntInput) Step(v int64) *IntInput { i.def.set("step", v); return i }

// Display sets the display mode: "number", "slider" or "color".
func (i *IntInput) Display(mode string) *IntInput { i.def.set("display", mode); return i }

// ControlAfterGenerate adds the frontend's fixed/increment/randomize control.
func (i *IntInput) ControlAfterGenerate() *IntInput {
	i.def.set("control_after_generate", true)
	return i
}

// FloatInput is a FLOAT widget.
type FloatInput struct {
	common[*FloatInput]
	In[float64]
}

// Float declares a FLOAT input.
func (s *Schema) Float(name string) *FloatInput {
	f := &FloatInput{In: In[float64]{s.add(name, "FLOAT")}}
	f.common = common[*FloatInput]{f.def, f}
	return f
}

// Default sets the widget's default value.
func (f *FloatInput) Default(v float64) *FloatInput { f.def.set("default", pyjson.Float(v)); return f }

// Min sets the smallest accepted value.
func (f *FloatInput) Min(v float64) *FloatInput {
	f.def.Min = json.Number(pyjson.FormatFloat(v))
	f.def.set("min", pyjson.Float(v))
	return f
}

// Max sets the largest accepted value.
func (f *FloatInput) Max(v float64) *FloatInput {
	f.def.Max = json.Number(pyjson.FormatFloat(v))
	f.def.set("max", pyjson.Float(v))
	return f
}

// Step sets the widget's increment.
func (f *FloatInput) Step(v float64) *FloatInput { f.def.set("step", pyjson.Float(v)); return f }

// Round sets the precision the frontend rounds to (false: no rounding).
func (f *FloatInput) Round(v any) *FloatInput {
	if x, ok := v.(float64); ok {
		v = pyjson.Float(x)
	}
	f.def.set("round", v)
	return f
}

// Display sets the display mode: "number", "slider" or "gradientslider".
func (f *FloatInput) Display(mode string) *FloatInput { f.def.set("display", mode); return f }

// StringInput is a STRING widget.
type StringInput struct {
	common[*StringInput]
	In[string]
}

// String declares a STRING input.
func (s *Schema) String(name string) *StringInput {
	t := &StringInput{In: In[string]{s.add(name, "STRING")}}
	t.common = common[*StringInput]{t.def, t}
	return t
}

// Default sets the widget's default value.
func (t *StringInput) Default(v string) *StringInput { t.def.set("default", v); return t }

// Multiline makes the widget a text area.
func (t *StringInput) Multiline(v bool) *StringInput { t.def.set("multiline", v); return t }

// Placeholder sets the empty widget's hint.
func (t *StringInput) Placeholder(v string) *StringInput { t.def.set("placeholder", v); return t }

// DynamicPrompts turns the frontend's {a|b} dynamic prompt syntax on or off.
func (t *StringInput) DynamicPrompts(v bool) *StringInput {
	t.def.set("dynamicPrompts", v)
	return t
}

// BoolInput is a BOOLEAN widget.
type BoolInput struct {
	common[*BoolInput]
	In[bool]
}

// Bool declares a BOOLEAN input.
func (s *Schema) Bool(name string) *BoolInput {
	b := &BoolInput{In: In[bool]{s.add(name, "BOOLEAN")}}
	b.common = common[*BoolInput]{b.def, b}
	return b
}

// Default sets the widget's default value.
func (b *BoolInput) Default(v bool) *BoolInput { b.def.set("default", v); return b }

// LabelOn sets the label shown when the value is true.
func (b *BoolInput) LabelOn(v string) *BoolInput { b.def.set("label_on", v); return b }

// LabelOff sets the label shown when the value is false.
func (b *BoolInput) LabelOff(v string) *BoolInput { b.def.set("label_off", v); return b }

// ComboInput is a COMBO widget: one value out of a list.
type ComboInput struct {
	common[*ComboInput]
	In[string]
}

// Combo declares a combo with a fixed option list. In V1 classes the list is
// the type (ComfyUI's legacy [["a", "b"]]); in V3 classes the type is
// "COMBO" and the list is the "options" option.
func (s *Schema) Combo(name string, options ...string) *ComboInput {
	d := s.add(name, "COMBO")
	d.legacyCombo = s.class.Format == V1
	d.choices = make([]any, len(options))
	for i, o := range options {
		d.choices[i] = o
	}
	c := &ComboInput{In: In[string]{d}}
	c.common = common[*ComboInput]{d, c}
	return c
}

// Dynamic makes the option list the result of f, evaluated for every
// /object_info and every validation (LoadImage's list of input files).
func (c *ComboInput) Dynamic(f func() []string) *ComboInput { c.def.choicesFunc = f; return c }

// TypeCombo declares the combo as a "COMBO" type with no option list even in
// a V1 class (LoadImageOutput: the frontend fetches the options remotely).
func (c *ComboInput) TypeCombo() *ComboInput { c.def.legacyCombo = false; return c }

// Default sets the widget's default value.
func (c *ComboInput) Default(v string) *ComboInput { c.def.set("default", v); return c }

// Upload adds the frontend's upload button: kind is "image_upload",
// "audio_upload", "video_upload" or "file_upload".
func (c *ComboInput) Upload(kind string) *ComboInput { c.def.set(kind, true); return c }

// Multiselect lets the value be a list of options, each checked.
func (c *ComboInput) Multiselect() *ComboInput {
	c.def.Multiselect = true
	c.def.set("multiselect", true)
	return c
}

// SocketInput is an input that takes a linked value of type T.
type SocketInput[T any] struct {
	common[*SocketInput[T]]
	In[T]
}

// Socket declares an input of socket type t.
func Socket[T any](s *Schema, t Type[T], name string) *SocketInput[T] {
	in := &SocketInput[T]{In: In[T]{s.add(name, t.Name)}}
	in.common = common[*SocketInput[T]]{in.def, in}
	return in
}

// AnyOf declares an input whose type is the given type string, such as
// "IMAGE,FLOAT" or "*"; its values are untyped.
func (s *Schema) AnyOf(name, typ string) *SocketInput[any] {
	return Socket(s, Type[any]{typ}, name)
}

// Out sets one output's value inside a RunFunc.
type Out[T any] struct {
	class *Class
	index int
}

// Output declares an output socket of type t named name (RETURN_NAMES).
func Output[T any](s *Schema, t Type[T], name string) *Out[T] {
	s.class.outputs = append(s.class.outputs, OutputDef{Type: t.Name, Name: name})
	return &Out[T]{s.class, len(s.class.outputs) - 1}
}

// OutputOf declares an untyped output of the given type string.
func (s *Schema) OutputOf(typ, name string) *Out[any] {
	return Output(s, Type[any]{typ}, name)
}

// List marks the output as a list (OUTPUT_IS_LIST): SetList gives it
// several values and downstream nodes run once per value.
func (o *Out[T]) List() *Out[T] { o.class.outputs[o.index].IsList = true; return o }

// Tooltip sets the output's tooltip.
func (o *Out[T]) Tooltip(t string) *Out[T] { o.class.outputs[o.index].Tooltip = t; return o }

// MatchType declares the output as a V3 MatchType output of the given
// template: its type follows the inputs of that template in the frontend.
func (o *Out[T]) MatchType(templateID string) *Out[T] {
	o.class.outputs[o.index].MatchType = templateID
	return o
}

// Index returns the output's slot number.
func (o *Out[T]) Index() int { return o.index }

// Set sets the output's value for this call.
func (o *Out[T]) Set(c *Call, v T) { c.SetOutput(o.index, v) }

// SetList sets the values of a list output for this call.
func (o *Out[T]) SetList(c *Call, vs []T) {
	list := make([]any, len(vs))
	for i, v := range vs {
		list[i] = v
	}
	c.SetOutput(o.index, list)
}

// SetLink makes the output the value of a node of this call's expansion.
func (o *Out[T]) SetLink(c *Call, l Link) { c.SetOutput(o.index, l) }
