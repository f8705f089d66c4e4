package node

import (
	"github.com/gocomfy/gocomfy/pyjson"
)

// v3OptionOrder is the key order of ComfyUI's V3 Input.as_dict() (merged over
// the input kinds: no kind has two keys whose relative order differs here).
var v3OptionOrder = []string{
	"display_name", "tooltip", "lazy", "rawLink", "advanced",
	"default", "socketless", "widgetType", "forceInput",
	"min", "max", "step", "round", "multiselect", "options", "control_after_generate", "display",
	"gradient_stops", "image_upload", "audio_upload", "video_upload", "file_upload", "image_folder",
	"remote", "multi_select", "label_on", "label_off", "multiline", "placeholder", "dynamicPrompts",
	"component",
}

// ObjectInfo returns the class's /object_info entry, with ComfyUI's keys in
// ComfyUI's order for the class's Format. Marshal it with pyjson.
func (c *Class) ObjectInfo() pyjson.Object {
	input, order := c.inputInfo()
	var types, names []any
	var isList []any
	var tooltips []any
	anyTooltip, anyMatch := false, false
	var matchTypes []any
	for _, o := range c.outputs {
		if o.MatchType != "" {
			matchTypes = append(matchTypes, o.MatchType)
			anyMatch = true
		} else {
			matchTypes = append(matchTypes, nil)
		}
		types = append(types, o.Type)
		isList = append(isList, o.IsList)
		name := o.Name
		if name == "" {
			name = o.Type
		}
		names = append(names, name)
		if o.Tooltip != "" {
			tooltips = append(tooltips, o.Tooltip)
			anyTooltip = true
		} else {
			tooltips = append(tooltips, nil)
		}
	}
	types, isList, names, tooltips = emptyList(types), emptyList(isList), emptyList(names), emptyList(tooltips)
	category := c.Category
	if category == "" {
		category = "sd"
	}
	if c.Format == V3 {
		var display, aliases, essentials, matches any
		if anyMatch {
			matches = matchTypes
		}
		if c.DisplayName != "" {
			display = c.DisplayName
		}
		if len(c.SearchAliases) > 0 {
			aliases = c.SearchAliases
		}
		if c.EssentialsCategory != "" {
			essentials = c.EssentialsCategory
		}
		return pyjson.Object{
			{Key: "input", Value: input}, {Key: "input_order", Value: order},
			{Key: "is_input_list", Value: c.InputIsList}, {Key: "output", Value: types},
			{Key: "output_is_list", Value: isList}, {Key: "output_name", Value: names},
			{Key: "output_tooltips", Value: tooltips}, {Key: "output_matchtypes", Value: matches},
			{Key: "name", Value: c.ID}, {Key: "display_name", Value: display},
			{Key: "description", Value: c.Description}, {Key: "python_module", Value: c.Module},
			{Key: "category", Value: category}, {Key: "output_node", Value: c.OutputNode},
			{Key: "deprecated", Value: c.Deprecated}, {Key: "experimental", Value: c.Experimental},
			{Key: "dev_only", Value: c.DevOnly}, {Key: "api_node", Value: false},
			{Key: "price_badge", Value: nil}, {Key: "search_aliases", Value: aliases},
			{Key: "essentials_category", Value: essentials},
			{Key: "has_intermediate_output", Value: c.HasIntermediateOutput},
		}
	}
	display := c.DisplayName
	if display == "" {
		display = c.ID
	}
	o := pyjson.Object{
		{Key: "input", Value: input}, {Key: "input_order", Value: order},
		{Key: "is_input_list", Value: c.InputIsList}, {Key: "output", Value: types},
		{Key: "output_is_list", Value: isList}, {Key: "output_name", Value: names},
		{Key: "name", Value: c.ID}, {Key: "display_name", Value: display},
		{Key: "description", Value: c.Description}, {Key: "python_module", Value: c.Module},
		{Key: "category", Value: category}, {Key: "output_node", Value: c.OutputNode},
		{Key: "has_intermediate_output", Value: c.HasIntermediateOutput},
	}
	if anyTooltip {
		o = append(o, pyjson.Field{Key: "output_tooltips", Value: tooltips})
	}
	for _, flag := range []struct {
		key string
		on  bool
	}{{"deprecated", c.Deprecated}, {"experimental", c.Experimental}, {"dev_only", c.DevOnly}} {
		if flag.on {
			o = append(o, pyjson.Field{Key: flag.key, Value: true})
		}
	}
	aliases := c.SearchAliases
	if aliases == nil {
		aliases = []string{}
	}
	o = append(o, pyjson.Field{Key: "search_aliases", Value: aliases})
	if c.EssentialsCategory != "" {
		o = append(o, pyjson.Field{Key: "essentials_category", Value: c.EssentialsCategory})
	}
	return o
}

func emptyList(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// inputInfo renders "input" and "input_order". V3 always has "required".
func (c *Class) inputInfo() (input, order pyjson.Object) {
	input, order = pyjson.Object{}, pyjson.Object{}
	if c.Format == V3 {
		input.Set("required", pyjson.Object{})
		order.Set("required", []string{})
	}
	for _, section := range []Section{Required, Optional, Hidden} {
		for _, d := range c.inputs {
			if d.Section != section {
				continue
			}
			key := section.String()
			sec, _ := input.Get(key)
			obj, _ := sec.(pyjson.Object)
			obj = append(obj, pyjson.Field{Key: d.Name, Value: c.inputEntry(d)})
			input.Set(key, obj)
			names, _ := order.Get(key)
			list, _ := names.([]string)
			order.Set(key, append(list, d.Name))
		}
	}
	return input, order
}

// InputTuple returns d's INPUT_TYPES entry as /object_info shows it:
// [type] or [type, options] (a V1 hidden input's bare type as [type]).
func (c *Class) InputTuple(d *InputDef) []any {
	if t, ok := c.inputEntry(d).([]any); ok {
		return t
	}
	return []any{d.Type}
}

func (c *Class) inputEntry(d *InputDef) any {
	if d.Section == Hidden {
		if c.Format == V3 || d.hiddenTuple {
			return []any{d.Type}
		}
		return d.Type
	}
	opts := d.opts
	var typ any = d.Type
	switch {
	case d.legacyCombo:
		typ = d.Choices()
	case d.IsCombo() && c.Format == V3:
		opts = append(pyjson.Object{{Key: "multiselect", Value: d.Multiselect}}, opts...)
		if d.choices != nil || d.choicesFunc != nil {
			opts.Set("options", d.Choices())
		}
	}
	if c.Format == V3 {
		if d.Type == "STRING" {
			if _, ok := opts.Get("multiline"); !ok {
				opts = append(opts, pyjson.Field{Key: "multiline", Value: false})
			}
		}
		return []any{typ, sortOptions(opts)}
	}
	if len(opts) == 0 && !d.keepOpts {
		return []any{typ}
	}
	return []any{typ, opts}
}

// sortOptions orders options as V3's as_dict does; unknown keys (extra_dict)
// go after "advanced", in the order they were set.
func sortOptions(opts pyjson.Object) pyjson.Object {
	out := make(pyjson.Object, 0, len(opts))
	add := func(k string) {
		if v, ok := opts.Get(k); ok {
			out = append(out, pyjson.Field{Key: k, Value: v})
		}
	}
	for _, k := range v3OptionOrder[:5] {
		add(k)
	}
	known := map[string]bool{}
	for _, k := range v3OptionOrder {
		known[k] = true
	}
	for _, f := range opts {
		if !known[f.Key] {
			out = append(out, f)
		}
	}
	for _, k := range v3OptionOrder[5:] {
		add(k)
	}
	return out
}
