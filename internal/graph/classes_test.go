package graph_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gocomfy/gocomfy/node"
)

// The test classes mirror ComfyUI's test pack (tests/execution/testing_nodes)
// where a conformance case comes from it, with the same names.

func noop(context.Context, *node.Call) error { return nil }

func class(info node.Info, define func(s *node.Schema)) *node.Class {
	if info.Module == "" {
		info.Module = "custom_nodes.testing"
	}
	return node.New(info, func(s *node.Schema) node.RunFunc {
		define(s)
		return noop
	})
}

// validatorCalls counts the calls of Counted's validator.
var validatorCalls atomic.Int64

func testRegistry() *node.Registry {
	r := node.NewRegistry()
	r.MustAdd(
		class(node.Info{ID: "StubImage"}, func(s *node.Schema) {
			s.Combo("content", "WHITE", "BLACK", "NOISE")
			s.Int("height").Default(512).Min(1).Max(8192)
			s.Int("width").Default(512).Min(1).Max(8192)
			s.Int("batch_size").Default(1).Min(1).Max(1024)
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "StubInt"}, func(s *node.Schema) {
			s.Int("value").Default(0).Min(-0xffffffffffff).Max(0xffffffffffff)
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "StubFloat"}, func(s *node.Schema) {
			s.Float("value").Default(0)
			node.Output(s, node.Float, "FLOAT")
		}),
		class(node.Info{ID: "StubString"}, func(s *node.Schema) {
			s.String("value")
			node.Output(s, node.String, "STRING")
		}),
		class(node.Info{ID: "StubMask"}, func(s *node.Schema) {
			s.Float("value").Default(0.5).Min(0).Max(1)
			node.Output(s, node.Mask, "MASK")
		}),
		class(node.Info{ID: "StubAny"}, func(s *node.Schema) {
			s.OutputOf("*", "*")
		}),
		class(node.Info{ID: "StubV3", Format: node.V3}, func(s *node.Schema) {
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "Dynamic", Format: node.V3}, func(s *node.Schema) {
			s.Autogrow("values", func(t *node.Schema) { t.Int("v").Max(10) }, node.Names(1, "a", "b"))
			s.DynamicCombo("mode",
				node.Choice("scale", func(t *node.Schema) { t.Float("factor").Min(0).Max(4) }),
				node.Choice("none", nil))
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "ChainLink"}, func(s *node.Schema) {
			s.Int("value")
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "Pair"}, func(s *node.Schema) {
			s.Int("a").Optional()
			s.Int("b").Optional()
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "SaveImage", OutputNode: true}, func(s *node.Schema) {
			node.Socket(s, node.Image, "images")
			s.String("filename_prefix").Default("ComfyUI").Optional() // required in ComfyUI; optional keeps the cases short
			s.Hidden("prompt", node.HiddenPrompt)
			s.Hidden("extra_pnginfo", node.HiddenExtraPNGInfo)
		}),
		class(node.Info{ID: "TestLazyMixImages"}, func(s *node.Schema) {
			node.Socket(s, node.Image, "image1").Lazy()
			node.Socket(s, node.Image, "image2").Lazy()
			node.Socket(s, node.Mask, "mask")
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "TestOutputNodeWithSocketOutput", OutputNode: true}, func(s *node.Schema) {
			node.Socket(s, node.Image, "image")
			s.Float("value").Default(0.5).Min(0).Max(10)
			node.Output(s, node.Image, "IMAGE")
		}),
		// Widgets has one optional input per kind of literal check.
		class(node.Info{ID: "Widgets", OutputNode: true}, func(s *node.Schema) {
			s.Int("int").Default(5).Min(0).Max(10).Optional()
			s.Int("seed").Default(0).Min(0).MaxUint64(0xffffffffffffffff).Optional()
			s.Float("float").Default(0).Min(-1).Max(1).Optional()
			s.String("string").Optional()
			s.Bool("bool").Optional()
			s.Combo("combo", "a", "b").Optional()
			s.Combo("quote", "it's", `"q"`).Optional()
			s.Combo("multi", "a", "b").Multiselect().Optional()
			s.Combo("big", letters(25)...).Optional()
			s.Combo("empty").TypeCombo().Optional()
			s.AnyOf("any", "*").Optional()
			s.AnyOf("union", "INT,FLOAT").Optional()
			node.Socket(s, node.Image, "image").Optional()
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "WidgetsV3", Format: node.V3, OutputNode: true}, func(s *node.Schema) {
			s.Combo("combo", "a", "b").Optional()
			s.Int("int").Default(5).Min(0).Max(10).Optional()
		}),
		class(node.Info{ID: "TestCustomValidation1"}, func(s *node.Schema) {
			s.AnyOf("input1", "IMAGE,FLOAT")
			s.AnyOf("input2", "IMAGE,FLOAT")
			s.ValidateInputs(floatsOnly, node.ValidateOptions{Inputs: []string{"input1", "input2"}})
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "TestCustomValidation2"}, func(s *node.Schema) {
			s.AnyOf("input1", "IMAGE,FLOAT")
			s.AnyOf("input2", "IMAGE,FLOAT")
			s.ValidateInputs(func(_ context.Context, c *node.Call) error {
				for _, name := range []string{"input1", "input2"} {
					if t, ok := c.InputType(name); ok && t != "IMAGE" && t != "FLOAT" {
						return fmt.Errorf("Invalid type of %s: %s", name, t)
					}
				}
				return nil
			}, node.ValidateOptions{Inputs: []string{"input1", "input2"}, InputTypes: true})
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "TestCustomValidation5"}, func(s *node.Schema) {
			s.AnyOf("input1", "IMAGE,FLOAT")
			s.Float("input2").Min(0).Max(1)
			s.ValidateInputs(func(_ context.Context, c *node.Call) error {
				if v, _ := c.Input("input2"); v == 7.0 {
					return errors.New("7s are not allowed. I've never liked 7s.")
				}
				return nil
			}, node.ValidateOptions{AllInputs: true})
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "CycleValidationLink", OutputNode: true}, func(s *node.Schema) {
			s.Int("value")
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "Panics"}, func(s *node.Schema) {
			s.Int("value")
			s.ValidateInputs(func(context.Context, *node.Call) error {
				panic(node.Raise("ValueError", "broken validator"))
			}, node.ValidateOptions{Inputs: []string{"value"}})
			node.Output(s, node.Int, "INT")
		}),
		class(node.Info{ID: "PanicsOutput", OutputNode: true}, func(s *node.Schema) {
			s.Int("value")
			s.ValidateInputs(func(context.Context, *node.Call) error {
				var m map[string]int
				m["x"] = 1 // a Go runtime error
				return nil
			}, node.ValidateOptions{})
		}),
		class(node.Info{ID: "DynamicPanics"}, func(s *node.Schema) {
			s.Combo("pick").Dynamic(func() []string { panic("cannot list the files") })
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "Counted"}, func(s *node.Schema) {
			s.Int("value")
			s.ValidateInputs(func(context.Context, *node.Call) error {
				validatorCalls.Add(1)
				return nil
			}, node.ValidateOptions{Inputs: []string{"value"}})
			node.Output(s, node.Image, "IMAGE")
		}),
		class(node.Info{ID: "SkipMin", OutputNode: true}, func(s *node.Schema) {
			s.Int("value").Min(0)
			s.ValidateInputs(func(context.Context, *node.Call) error { return nil },
				node.ValidateOptions{Inputs: []string{"value"}})
		}),
		class(node.Info{ID: "Silent"}, func(s *node.Schema) {
			s.Int("value")
			s.ValidateInputs(func(context.Context, *node.Call) error {
				return errors.New("") // ComfyUI's False: no reason shown
			}, node.ValidateOptions{Inputs: []string{"value", "unique_id"}})
			s.Hidden("unique_id", node.HiddenUniqueID)
			node.Output(s, node.Image, "IMAGE")
		}),
	)
	return r
}

// floatsOnly is TestCustomValidation1's VALIDATE_INPUTS: literal values
// must be floats (linked ones are absent).
func floatsOnly(_ context.Context, c *node.Call) error {
	for _, name := range []string{"input1", "input2"} {
		if v, ok := c.Input(name); ok {
			if _, isFloat := v.(float64); !isFloat {
				return fmt.Errorf("Invalid type of %s: %T", name, v)
			}
		}
	}
	return nil
}

func letters(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("opt%02d", i)
	}
	return out
}
