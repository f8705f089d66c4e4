package node_test

import (
	"context"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

func noop(ctx context.Context, c *node.Call) error { return nil }

// The expected entries are ComfyUI v0.27.0's, from the spec (§6.2, §6.3),
// written as Python's json.dumps writes them.
func TestObjectInfoMatchesComfyUI(t *testing.T) {
	t.Parallel()
	emptyImage := node.New(node.Info{ID: "EmptyImage", DisplayName: "Empty Image", Category: "image", Module: "nodes"},
		func(s *node.Schema) node.RunFunc {
			s.Int("width").Default(512).Min(1).Max(16384).Step(1)
			s.Int("height").Default(512).Min(1).Max(16384).Step(1)
			s.Int("batch_size").Default(1).Min(1).Max(4096)
			s.Int("color").Default(0).Min(0).Max(0xFFFFFF).Step(1).Display("color")
			node.Output(s, node.Image, "IMAGE")
			return noop
		})
	solidMask := node.New(node.Info{ID: "SolidMask", DisplayName: "Create Solid Mask", Category: "image/mask",
		Module: "comfy_extras.nodes_mask", Format: node.V3},
		func(s *node.Schema) node.RunFunc {
			s.Float("value").Step(0.01).Default(1).Min(0).Max(1) // order of calls must not matter in V3
			s.Int("width").Default(512).Min(1).Max(16384).Step(1)
			s.Int("height").Default(512).Min(1).Max(16384).Step(1)
			node.Output(s, node.Mask, "MASK")
			return noop
		})
	saveImage := node.New(node.Info{ID: "SaveImage", DisplayName: "Save Image", Category: "image", Module: "nodes", OutputNode: true},
		func(s *node.Schema) node.RunFunc {
			node.Socket(s, node.Image, "images").Tooltip("The images to save.")
			s.String("filename_prefix").Default("ComfyUI").Tooltip("The prefix for the file to save.")
			s.Hidden("prompt", node.HiddenPrompt)
			s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
			return noop
		})
	scale := node.New(node.Info{ID: "ImageScale", DisplayName: "Upscale Image", Category: "image/upscaling", Module: "nodes"},
		func(s *node.Schema) node.RunFunc {
			node.Socket(s, node.Image, "image")
			s.Combo("crop", "disabled", "center")
			node.Output(s, node.Image, "IMAGE")
			return noop
		})
	stitch := node.New(node.Info{ID: "X", Module: "comfy_extras.nodes_images", Format: node.V3},
		func(s *node.Schema) node.RunFunc {
			node.Socket(s, node.Image, "image1")
			s.Combo("direction", "right", "down").Default("right")
			s.String("text")
			s.Hidden("unique_id", node.HiddenUniqueID)
			return noop
		})
	cases := []struct {
		class *node.Class
		want  string
	}{
		{emptyImage, `{"input": {"required": {"width": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "height": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}], "color": ["INT", {"default": 0, "min": 0, "max": 16777215, "step": 1, "display": "color"}]}}, "input_order": {"required": ["width", "height", "batch_size", "color"]}, "is_input_list": false, "output": ["IMAGE"], "output_is_list": [false], "output_name": ["IMAGE"], "name": "EmptyImage", "display_name": "Empty Image", "description": "", "python_module": "nodes", "category": "image", "output_node": false, "has_intermediate_output": false, "search_aliases": []}`},
		{solidMask, `{"input": {"required": {"value": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}], "width": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "height": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}]}}, "input_order": {"required": ["value", "width", "height"]}, "is_input_list": false, "output": ["MASK"], "output_is_list": [false], "output_name": ["MASK"], "output_tooltips": [null], "output_matchtypes": null, "name": "SolidMask", "display_name": "Create Solid Mask", "description": "", "python_module": "comfy_extras.nodes_mask", "category": "image/mask", "output_node": false, "deprecated": false, "experimental": false, "dev_only": false, "api_node": false, "price_badge": null, "search_aliases": null, "essentials_category": null, "has_intermediate_output": false}`},
		{saveImage, `{"input": {"required": {"images": ["IMAGE", {"tooltip": "The images to save."}], "filename_prefix": ["STRING", {"default": "ComfyUI", "tooltip": "The prefix for the file to save."}]}, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}, "input_order": {"required": ["images", "filename_prefix"], "hidden": ["prompt", "extra_pnginfo"]}, "is_input_list": false, "output": [], "output_is_list": [], "output_name": [], "name": "SaveImage", "display_name": "Save Image", "description": "", "python_module": "nodes", "category": "image", "output_node": true, "has_intermediate_output": false, "search_aliases": []}`},
		{scale, `{"input": {"required": {"image": ["IMAGE"], "crop": [["disabled", "center"]]}}, "input_order": {"required": ["image", "crop"]}, "is_input_list": false, "output": ["IMAGE"], "output_is_list": [false], "output_name": ["IMAGE"], "name": "ImageScale", "display_name": "Upscale Image", "description": "", "python_module": "nodes", "category": "image/upscaling", "output_node": false, "has_intermediate_output": false, "search_aliases": []}`},
		{stitch, `{"input": {"required": {"image1": ["IMAGE", {}], "direction": ["COMBO", {"default": "right", "multiselect": false, "options": ["right", "down"]}], "text": ["STRING", {"multiline": false}]}, "hidden": {"unique_id": ["UNIQUE_ID"]}}, "input_order": {"required": ["image1", "direction", "text"], "hidden": ["unique_id"]}, "is_input_list": false, "output": [], "output_is_list": [], "output_name": [], "output_tooltips": [], "output_matchtypes": null, "name": "X", "display_name": null, "description": "", "python_module": "comfy_extras.nodes_images", "category": "sd", "output_node": false, "deprecated": false, "experimental": false, "dev_only": false, "api_node": false, "price_badge": null, "search_aliases": null, "essentials_category": null, "has_intermediate_output": false}`},
	}
	for _, c := range cases {
		t.Run(c.class.ID, func(t *testing.T) {
			r := node.NewRegistry()
			if err := r.Add(c.class); err != nil {
				t.Fatal(err)
			}
			got, err := pyjson.Marshal(c.class.ObjectInfo())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestRegistryRejectsBadDeclarations(t *testing.T) {
	t.Parallel()
	mk := func(id, module string, define func(s *node.Schema)) *node.Class {
		return node.New(node.Info{ID: id, Module: module}, func(s *node.Schema) node.RunFunc { define(s); return noop })
	}
	cases := []struct {
		name  string
		class *node.Class
	}{
		{"no id", mk("", "nodes", func(s *node.Schema) {})},
		{"no module", mk("A", "", func(s *node.Schema) {})},
		{"duplicate input", mk("A", "nodes", func(s *node.Schema) { s.Int("x"); s.Float("x") })},
		{"default below min", mk("A", "nodes", func(s *node.Schema) { s.Int("x").Min(1).Default(0) })},
		{"default above max", mk("A", "nodes", func(s *node.Schema) { s.Float("x").Max(1).Default(2) })},
		{"default not an option", mk("A", "nodes", func(s *node.Schema) { s.Combo("x", "a", "b").Default("c") })},
	}
	for _, c := range cases {
		if err := node.NewRegistry().Add(c.class); err == nil {
			t.Errorf("%s: Add accepted it", c.name)
		}
	}
	r := node.NewRegistry()
	ok := mk("A", "nodes", func(s *node.Schema) {})
	r.MustAdd(ok)
	if err := r.Add(mk("A", "nodes", func(s *node.Schema) {})); err == nil {
		t.Error("duplicate class accepted")
	}
}
