// Package node is gocomfy's node SDK: how Go code declares the node types a
// workflow can use, in the shape ComfyUI's /object_info shows them.
//
// A class is a value built by New from an Info and a define function. The
// define function declares inputs and outputs on a Schema, in ComfyUI's
// widget order, and returns the RunFunc that executes the node; the typed
// handles it declared are in that function's scope:
//
//	var Invert = node.New(node.Info{ID: "ImageInvert", Category: "image", Module: "nodes"},
//		func(s *node.Schema) node.RunFunc {
//			in := node.Socket(s, node.Image, "image")
//			out := node.Output(s, node.Image, "IMAGE")
//			return func(ctx context.Context, c *node.Call) error {
//				src := in.Get(c)
//				dst := tensor.NewImage(src.B, src.H, src.W, src.C)
//				for i, v := range src.Pix {
//					dst.Pix[i] = 1 - v
//				}
//				out.Set(c, dst)
//				return nil
//			}
//		})
//
// Classes are registered explicitly in a Registry (no init side effects), which
// checks each declaration. The executor calls a class through Call, which
// carries the resolved inputs of one call and collects its outputs, UI data,
// blockers and expansions.
//
// # Values
//
// INT values are int64. ComfyUI's seed inputs reach 2^64-1; a value above
// math.MaxInt64 reaches a node as its two's-complement bit pattern (distinct
// and deterministic), and keeps its decimal text in the prompt and history.
// FLOAT values are float64, written back in Python's repr form (1.0, 1e-05).
//
// # Object info
//
// ObjectInfo renders ComfyUI's V1 or V3 shape (Info.Format): V1 writes the
// optional keys only when set and keeps option order; V3 writes every key,
// with nulls, in the fixed order of ComfyUI's as_dict.
package node
