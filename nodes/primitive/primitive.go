// Package primitive holds ComfyUI's primitive nodes
// (comfy_extras/nodes_primitive.py): widgets whose value is their output.
package primitive

import (
	"context"
	"math"

	"github.com/gocomfy/gocomfy/node"
)

const module = "comfy_extras.nodes_primitive"

// Register adds the primitive classes to r in ComfyUI's order.
func Register(r *node.Registry) {
	r.MustAdd(PrimitiveString, PrimitiveStringMultiline, PrimitiveInt, PrimitiveFloat, PrimitiveBoolean)
}

func info(id, display string) node.Info {
	return node.Info{ID: id, DisplayName: display, Category: "utilities/primitive", Module: module, Format: node.V3}
}

// passThrough returns the RunFunc that outputs the value of in.
func passThrough[T any](in node.In[T], out *node.Out[T]) node.RunFunc {
	return func(ctx context.Context, c *node.Call) error {
		out.Set(c, in.Get(c))
		return nil
	}
}

// PrimitiveString (deprecated) is a one-line text widget.
var PrimitiveString = node.New(func() node.Info {
	i := info("PrimitiveString", "Text String (DEPRECATED)")
	i.Deprecated = true
	i.SearchAliases = []string{"text", "string", "text box", "prompt"}
	return i
}(), func(s *node.Schema) node.RunFunc {
	return passThrough(s.String("value").In, node.Output(s, node.String, "STRING"))
})

// PrimitiveStringMultiline is a text area.
var PrimitiveStringMultiline = node.New(func() node.Info {
	i := info("PrimitiveStringMultiline", "Input Text")
	i.EssentialsCategory = "Basics"
	i.SearchAliases = []string{"text", "string", "text multiline", "string multiline", "text box", "prompt"}
	return i
}(), func(s *node.Schema) node.RunFunc {
	return passThrough(s.String("value").Multiline(true).In, node.Output(s, node.String, "STRING"))
})

// PrimitiveInt is an integer widget bounded by ±sys.maxsize, with the
// frontend's value control fixed by default.
var PrimitiveInt = node.New(info("PrimitiveInt", "Int"), func(s *node.Schema) node.RunFunc {
	in := s.Int("value").Min(-math.MaxInt64).Max(math.MaxInt64).Option("control_after_generate", "fixed")
	return passThrough(in.In, node.Output(s, node.Int, "INT"))
})

// PrimitiveFloat is a float widget bounded by ±sys.maxsize.
var PrimitiveFloat = node.New(info("PrimitiveFloat", "Float"), func(s *node.Schema) node.RunFunc {
	// ComfyUI's bounds are the int ±sys.maxsize, written as ints: Min and
	// Max set the bounds validation uses, Option the values shown.
	in := s.Float("value").Min(-math.MaxInt64).Max(math.MaxInt64).Step(0.1).
		Option("min", int64(-math.MaxInt64)).Option("max", int64(math.MaxInt64))
	return passThrough(in.In, node.Output(s, node.Float, "FLOAT"))
})

// PrimitiveBoolean is a toggle.
var PrimitiveBoolean = node.New(info("PrimitiveBoolean", "Boolean"), func(s *node.Schema) node.RunFunc {
	return passThrough(s.Bool("value").In, node.Output(s, node.Boolean, "BOOLEAN"))
})
