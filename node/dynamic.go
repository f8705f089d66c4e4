package node

import (
	"fmt"
	"strings"

	"github.com/gocomfy/gocomfy/pyjson"
)

// V3 dynamic inputs (comfy_api's Autogrow, DynamicCombo and MatchType).
// In a prompt their nested inputs have dotted names ("values.a",
// "resize_type.multiplier"); Class.Finalize turns the declaration into the
// flat input set of one prompt node, as ComfyUI's get_finalized_class_inputs
// does, and validation and the executor work on that set.

// The io_type strings of the dynamic input kinds.
const (
	AutogrowType     = "COMFY_AUTOGROW_V3"
	DynamicComboType = "COMFY_DYNAMICCOMBO_V3"
	MatchTypeType    = "COMFY_MATCHTYPE_V3"
)

// dynamic is what a dynamic InputDef adds: an autogrow's expanded inputs or
// a dynamic combo's options.
type dynamic struct {
	// template is an autogrow's repeated input; names its entries, of
	// which the first min are required when the template is.
	template *InputDef
	names    []string
	min      int
	// expanded are the autogrow's inputs, one per name, dotted.
	expanded []*InputDef
	options  []ComboOption
}

// Autogrow entry names: a prefix numbered 0..max-1, or a fixed list.
type AutogrowNames struct {
	prefix   string
	names    []string
	min, max int
}

// Prefix names an autogrow's entries prefix0 … prefix{max-1}
// (Autogrow.TemplatePrefix); the first min are required.
func Prefix(prefix string, min, max int) AutogrowNames {
	return AutogrowNames{prefix: prefix, min: min, max: max}
}

// Names names an autogrow's entries by a fixed list
// (Autogrow.TemplateNames); the first min are required.
func Names(min int, names ...string) AutogrowNames {
	return AutogrowNames{names: names, min: min}
}

// list returns the entry names.
func (n AutogrowNames) list() []string {
	if n.prefix == "" {
		return n.names
	}
	out := make([]string, n.max)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", n.prefix, i)
	}
	return out
}

// template renders the "template" option of the autogrow.
func (n AutogrowNames) template(input pyjson.Object) pyjson.Object {
	t := pyjson.Object{{Key: "input", Value: input}}
	if n.prefix != "" {
		return append(t, pyjson.Field{Key: "prefix", Value: n.prefix},
			pyjson.Field{Key: "min", Value: int64(n.min)}, pyjson.Field{Key: "max", Value: int64(n.max)})
	}
	names := make([]any, len(n.names))
	for i, s := range n.names {
		names[i] = s
	}
	return append(t, pyjson.Field{Key: "names", Value: names}, pyjson.Field{Key: "min", Value: int64(n.min)})
}

// AutogrowInput is a V3 Autogrow input: a template input repeated under
// several names, which the frontend adds as the user links them.
type AutogrowInput struct {
	common[*AutogrowInput]
	def *InputDef
}

// Autogrow declares an autogrow input. template declares the repeated input
// on t (exactly one input, not itself dynamic); a widget template becomes a
// socket (forceInput), as in ComfyUI.
func (s *Schema) Autogrow(name string, template func(t *Schema), names AutogrowNames) *AutogrowInput {
	inputs := s.sub(template)
	if len(inputs) != 1 || inputs[0].dyn != nil {
		panic("node: an autogrow template must declare one non-dynamic input")
	}
	tmpl := inputs[0]
	switch tmpl.Type {
	case "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO":
		tmpl.set("forceInput", true)
	}
	d := s.add(name, AutogrowType)
	d.dyn = &dynamic{template: tmpl, names: names.list(), min: names.min}
	d.set("template", names.template(s.class.section([]*InputDef{tmpl})))
	a := &AutogrowInput{def: d}
	a.common = common[*AutogrowInput]{d, a}
	return a
}

// Values returns the values of the entries the call has, in name order
// (ComfyUI's values dict in insertion order).
func (a *AutogrowInput) Values(c *Call) []any {
	var vs []any
	for _, d := range a.def.dyn.expanded {
		if v, ok := c.values[d.Name]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// Named returns the values of the entries the call has by entry name
// ("a", "image0").
func (a *AutogrowInput) Named(c *Call) map[string]any {
	out := map[string]any{}
	for i, d := range a.def.dyn.expanded {
		if v, ok := c.values[d.Name]; ok {
			out[a.def.dyn.names[i]] = v
		}
	}
	return out
}

// ComboOption is one choice of a dynamic combo and the inputs it shows.
type ComboOption struct {
	Key    string
	inputs func(t *Schema)
	defs   []*InputDef
}

// Choice declares a dynamic combo option: key and the inputs that inputs
// declares on t (none when nil).
func Choice(key string, inputs func(t *Schema)) ComboOption {
	return ComboOption{Key: key, inputs: inputs}
}

// DynamicComboInput is a V3 DynamicCombo: a combo whose selected option
// adds its own inputs, named "<combo>.<input>" in the prompt. Their typed
// handles (declared in the Choice functions) read them directly.
type DynamicComboInput struct {
	common[*DynamicComboInput]
	def *InputDef
}

// DynamicCombo declares a dynamic combo with the given options.
func (s *Schema) DynamicCombo(name string, options ...ComboOption) *DynamicComboInput {
	d := s.add(name, DynamicComboType)
	rendered := make([]any, len(options))
	for i := range options {
		o := &options[i]
		o.defs = s.sub(o.inputs)
		for _, sub := range o.defs {
			sub.rename(name + "." + sub.Name)
		}
		rendered[i] = pyjson.Object{{Key: "key", Value: o.Key}, {Key: "inputs", Value: s.class.section(o.defs)}}
	}
	d.dyn = &dynamic{options: options}
	d.set("options", rendered)
	dc := &DynamicComboInput{def: d}
	dc.common = common[*DynamicComboInput]{d, dc}
	return dc
}

// Get returns the selected key and the values of the selected option's
// inputs that the call has, by their names within the option.
func (dc *DynamicComboInput) Get(c *Call) (key string, values map[string]any) {
	key, _ = c.values[dc.def.Name].(string)
	values = map[string]any{}
	for _, o := range dc.def.dyn.options {
		if o.Key != key {
			continue
		}
		for _, d := range o.defs {
			if v, ok := c.values[d.Name]; ok {
				values[strings.TrimPrefix(d.Name, dc.def.Name+".")] = v
			}
		}
	}
	return key, values
}

// MatchType declares a V3 MatchType input: its type follows the other
// inputs and outputs of template templateID, among allowed (any type when
// none is given).
func (s *Schema) MatchType(name, templateID string, allowed ...string) *SocketInput[any] {
	types := "*"
	if len(allowed) > 0 {
		types = strings.Join(allowed, ",")
	}
	return s.AnyOf(name, MatchTypeType).Option("template",
		pyjson.Object{{Key: "template_id", Value: templateID}, {Key: "allowed_types", Value: types}})
}

// sub runs declare on a scratch schema of the same format and returns the
// inputs it declared, which belong to a dynamic input and not to the class.
func (s *Schema) sub(declare func(t *Schema)) []*InputDef {
	scratch := &Class{Info: s.class.Info}
	if declare != nil {
		declare(&Schema{class: scratch})
	}
	return scratch.inputs
}

// section renders nested inputs as create_input_dict_v1 does:
// {"required": {...}, "optional": {...}}, "required" always present.
func (c *Class) section(defs []*InputDef) pyjson.Object {
	out := pyjson.Object{{Key: "required", Value: pyjson.Object{}}}
	for _, d := range defs {
		key := d.Section.String()
		sec, _ := out.Get(key)
		obj, _ := sec.(pyjson.Object)
		out.Set(key, append(obj, pyjson.Field{Key: d.local(), Value: c.inputEntry(d)}))
	}
	return out
}

// rename gives a nested input (and its own nested inputs) its dotted prompt
// name, keeping its declared name for rendering.
func (d *InputDef) rename(full string) {
	if d.id == "" {
		d.id = d.Name
	}
	old := d.Name
	d.Name = full
	if d.dyn == nil {
		return
	}
	for _, o := range d.dyn.options {
		for _, sub := range o.defs {
			sub.rename(full + strings.TrimPrefix(sub.Name, old))
		}
	}
}

// local is the input's name within its declaration.
func (d *InputDef) local() string {
	if d.id != "" {
		return d.id
	}
	return d.Name
}

// expand builds an autogrow's dotted inputs once the class is declared (a
// dynamic combo may rename the autogrow after its creation).
func (d *InputDef) expand() {
	if d.dyn == nil {
		return
	}
	if t := d.dyn.template; t != nil {
		d.dyn.expanded = make([]*InputDef, len(d.dyn.names))
		for i, name := range d.dyn.names {
			e := *t
			e.id, e.Name = "", d.Name+"."+name
			if i >= d.dyn.min || t.Section != Required {
				e.Section = Optional
			}
			d.dyn.expanded[i] = &e
		}
	}
	for _, o := range d.dyn.options {
		for _, sub := range o.defs {
			sub.expand()
		}
	}
}

// Dynamic reports whether the class declares dynamic inputs, whose flat
// input set depends on the prompt node (see Finalize).
func (c *Class) Dynamic() bool { return c.dynamic }

// Finalize returns the inputs of one prompt node of the class, as
// ComfyUI's get_finalized_class_inputs makes them: an autogrow becomes all
// its entries, a dynamic combo whose value selects an option becomes that
// option's inputs then itself (a value matching no option adds nothing),
// every other input stays. Names are the dotted prompt names; hidden inputs
// are kept at their place. Without dynamic inputs it is Inputs().
func (c *Class) Finalize(pn *PromptNode) []*InputDef {
	if !c.dynamic {
		return c.inputs
	}
	live := map[string]any{}
	if pn != nil {
		for _, in := range pn.Inputs {
			if _, seen := live[in.Name]; !seen {
				live[in.Name] = in.Value
			}
		}
	}
	return finalize(nil, c.inputs, live)
}

func finalize(out, defs []*InputDef, live map[string]any) []*InputDef {
	for _, d := range defs {
		switch {
		case d.dyn == nil:
			out = append(out, d)
		case d.dyn.template != nil:
			out = append(out, d.dyn.expanded...)
		default:
			key, ok := live[d.Name].(string)
			if !ok {
				continue
			}
			for _, o := range d.dyn.options {
				if o.Key == key {
					out = append(finalize(out, o.defs, live), d)
					break
				}
			}
		}
	}
	return out
}

// FindInput returns the input named name among defs (a Finalize result).
func FindInput(defs []*InputDef, name string) (*InputDef, bool) {
	for _, d := range defs {
		if d.Name == name {
			return d, true
		}
	}
	return nil, false
}

// LastSegment is the last dotted segment of an input name: the name ComfyUI
// reports for a missing input of a class with dynamic inputs.
func LastSegment(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}
