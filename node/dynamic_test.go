package node_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

var dynamicClass = node.New(node.Info{ID: "D", Module: "m", Format: node.V3}, func(s *node.Schema) node.RunFunc {
	s.Int("plain")
	s.Autogrow("vals", func(t *node.Schema) { t.Int("v") }, node.Prefix("v", 2, 3))
	s.DynamicCombo("mode",
		node.Choice("one", func(t *node.Schema) {
			t.Float("x")
			t.Autogrow("more", func(t *node.Schema) { t.String("s").Optional() }, node.Names(1, "p", "q"))
		}),
		node.Choice("two", nil))
	return func(context.Context, *node.Call) error { return nil }
})

// TestFinalize checks get_finalized_class_inputs' flat sets: autogrow
// entries always, a dynamic combo's option inputs (then the combo) only
// when its value selects an option.
func TestFinalize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs map[string]any
		want   []string
	}{
		{"no_combo_value", nil, []string{"plain:required", "vals.v0:required", "vals.v1:required", "vals.v2:optional"}},
		{"unknown_key", map[string]any{"mode": "zzz"}, []string{"plain:required", "vals.v0:required", "vals.v1:required", "vals.v2:optional"}},
		{"option_two", map[string]any{"mode": "two"}, []string{"plain:required", "vals.v0:required", "vals.v1:required", "vals.v2:optional", "mode:required"}},
		{"option_one", map[string]any{"mode": "one"}, []string{"plain:required", "vals.v0:required", "vals.v1:required", "vals.v2:optional",
			"mode.x:required", "mode.more.p:optional", "mode.more.q:optional", "mode:required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pn := &node.PromptNode{}
			for k, v := range tc.inputs {
				pn.Inputs = append(pn.Inputs, node.Input{Name: k, Value: v})
			}
			var got []string
			for _, d := range dynamicClass.Finalize(pn) {
				got = append(got, d.Name+":"+d.Section.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDynamicValues reads nested values through the handles.
func TestDynamicValues(t *testing.T) {
	var vals *node.AutogrowInput
	var mode *node.DynamicComboInput
	var x *node.FloatInput
	node.New(node.Info{ID: "E", Module: "m", Format: node.V3}, func(s *node.Schema) node.RunFunc {
		vals = s.Autogrow("vals", func(t *node.Schema) { t.Int("v") }, node.Names(0, "b", "a"))
		mode = s.DynamicCombo("mode", node.Choice("one", func(t *node.Schema) { x = t.Float("x") }))
		return nil
	})
	c := node.NewCall(&node.Runtime{}, "1", 0, map[string]any{
		"vals.a": int64(1), "vals.b": int64(2), "mode": "one", "mode.x": json.Number("1.5"),
	})
	if got := vals.Values(c); !reflect.DeepEqual(got, []any{int64(2), int64(1)}) {
		t.Errorf("Values = %v", got)
	}
	if got := vals.Named(c); !reflect.DeepEqual(got, map[string]any{"a": int64(1), "b": int64(2)}) {
		t.Errorf("Named = %v", got)
	}
	key, values := mode.Get(c)
	if key != "one" || !reflect.DeepEqual(values, map[string]any{"x": json.Number("1.5")}) {
		t.Errorf("Get = %q, %v", key, values)
	}
	if x.Get(c) != 1.5 {
		t.Errorf("x = %v", x.Get(c))
	}
}

// MatchType and DynamicCombo rendering is checked against ComfyUI's own
// entry by nodes/imagenode's ResizeImageMaskNode golden.
