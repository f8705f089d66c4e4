package node_test

import (
	"bytes"
	"os"
	"path/filepath"

	"context"
	"encoding/json"
	"github.com/gocomfy/gocomfy/pyjson"
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

// resizeImageMask declares ComfyUI's ResizeImageMaskNode: a MatchType
// input and a DynamicCombo whose options hold widgets and a socket.
var resizeImageMask = node.New(node.Info{ID: "ResizeImageMaskNode", DisplayName: "Resize Image/Mask",
	Description: "Resize an image or mask using various scaling methods.", Category: "image/transform",
	Module: "comfy_extras.nodes_post_processing", Format: node.V3,
	SearchAliases: []string{"resize", "resize image", "resize mask", "scale", "scale image", "scale mask",
		"image resize", "change size", "dimensions", "shrink", "enlarge"}},
	func(s *node.Schema) node.RunFunc {
		size := func(t *node.Schema, name, tip string, def, min int64) {
			t.Int(name).Default(def).Min(min).Max(16384).Step(1).Tooltip(tip)
		}
		crop := func(t *node.Schema) {
			t.Combo("crop", "disabled", "center").Default("center").
				Tooltip("How to handle aspect ratio mismatch: 'disabled' stretches to fit, 'center' crops to maintain aspect ratio.")
		}
		s.MatchType("input", "input_type", "IMAGE", "MASK")
		s.DynamicCombo("resize_type",
			node.Choice("scale dimensions", func(t *node.Schema) {
				size(t, "width", "Target width in pixels. Set to 0 to auto-calculate from height while preserving aspect ratio.", 512, 0)
				size(t, "height", "Target height in pixels. Set to 0 to auto-calculate from width while preserving aspect ratio.", 512, 0)
				crop(t)
			}),
			node.Choice("scale by multiplier", func(t *node.Schema) {
				t.Float("multiplier").Default(1).Min(0.01).Max(8).Step(0.01).Tooltip("Scale factor (e.g., 2.0 doubles size, 0.5 halves size).")
			}),
			node.Choice("scale longer dimension", func(t *node.Schema) {
				size(t, "longer_size", "The longer edge will be resized to this value. Aspect ratio is preserved.", 512, 0)
			}),
			node.Choice("scale shorter dimension", func(t *node.Schema) {
				size(t, "shorter_size", "The shorter edge will be resized to this value. Aspect ratio is preserved.", 512, 0)
			}),
			node.Choice("scale width", func(t *node.Schema) {
				size(t, "width", "Target width in pixels. Height auto-adjusts to preserve aspect ratio.", 512, 0)
			}),
			node.Choice("scale height", func(t *node.Schema) {
				size(t, "height", "Target height in pixels. Width auto-adjusts to preserve aspect ratio.", 512, 0)
			}),
			node.Choice("scale total pixels", func(t *node.Schema) {
				t.Float("megapixels").Default(1).Min(0.01).Max(16).Step(0.01).
					Tooltip("Target total megapixels (e.g., 1.0 ≈ 1024×1024). Aspect ratio is preserved.")
			}),
			node.Choice("match size", func(t *node.Schema) {
				t.AnyOf("match", "IMAGE,MASK").Tooltip("Resize input to match the dimensions of this reference image or mask.")
				crop(t)
			}),
			node.Choice("scale to multiple", func(t *node.Schema) {
				size(t, "multiple", "Resize so width and height are divisible by this number. Useful for latent alignment (e.g., 8 or 64).", 8, 1)
			}),
		).Tooltip("Select how to resize: by exact dimensions, scale factor, matching another image, etc.")
		s.Combo("scale_method", "nearest-exact", "bilinear", "area", "bicubic", "lanczos").Default("area").
			Tooltip("Interpolation algorithm. 'area' is best for downscaling, 'lanczos' for upscaling, 'nearest-exact' for pixel art.")
		s.OutputOf("COMFY_MATCHTYPE_V3", "resized").MatchType("input_type")
		return func(context.Context, *node.Call) error { return nil }
	})

// TestDynamicObjectInfo: MatchType and DynamicCombo render as ComfyUI's
// ResizeImageMaskNode (testdata, written by ComfyUI v0.27.0's
// GET_NODE_INFO_V1 with nodes/imagenode/testdata/gen.py's setup).
func TestDynamicObjectInfo(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "ResizeImageMaskNode.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pyjson.Marshal(resizeImageMask.ObjectInfo())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
