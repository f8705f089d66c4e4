package testnodes

import (
	"context"
	"math/rand/v2"

	"github.com/gocomfy/gocomfy/node"
)

// The stub nodes of stubs.py: constant images, masks and numbers.

const stubCategory = "Testing/Stub Nodes"

// stubSize declares the height, width and batch_size widgets the image and
// mask stubs share.
func stubSize(s *node.Schema) (h, w, b *node.IntInput) {
	h = s.Int("height").Default(512).Min(1).Max(1 << 30).Step(1) // 1024 ** 3
	w = s.Int("width").Default(512).Min(1).Max(1 << 36).Step(1)  // 4096 ** 3
	b = s.Int("batch_size").Default(1).Min(1).Max(1 << 30).Step(1)
	return h, w, b
}

// StubImage outputs a white, black or uniform-noise image batch.
var StubImage = node.New(info("StubImage", "Stub Image", stubCategory), func(s *node.Schema) node.RunFunc {
	content := s.Combo("content", "WHITE", "BLACK", "NOISE")
	height, width, batch := stubSize(s)
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		img, err := newArray(int(batch.Get(c)), int(height.Get(c)), int(width.Get(c)), 3)
		if err != nil {
			return err
		}
		switch content.Get(c) {
		case "WHITE":
			for i := range img.data {
				img.data[i] = 1
			}
		case "NOISE":
			for i := range img.data {
				img.data[i] = rand.Float32()
			}
		case "BLACK":
		default:
			// Only reachable from an expansion (validation checks the
			// combo): stub_image returns None, and merging results fails.
			return node.Raise("TypeError", "object of type 'NoneType' has no len()")
		}
		c.SetOutput(out.Index(), img.value())
		return nil
	}
})

// StubConstantImage outputs an image batch with every channel set to value.
var StubConstantImage = node.New(info("StubConstantImage", "Stub Constant Image", stubCategory), func(s *node.Schema) node.RunFunc {
	value := s.Float("value").Default(0.5).Min(0).Max(1).Step(0.01)
	height, width, batch := stubSize(s)
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		img, err := filled(1, int(batch.Get(c)), int(height.Get(c)), int(width.Get(c)), 3)
		if err != nil {
			return err
		}
		c.SetOutput(out.Index(), img.scale(value.Get(c)).value())
		return nil
	}
})

// StubMask outputs a mask batch set to value.
var StubMask = node.New(info("StubMask", "Stub Mask", stubCategory), func(s *node.Schema) node.RunFunc {
	value := s.Float("value").Default(0.5).Min(0).Max(1).Step(0.01)
	height, width, batch := stubSize(s)
	out := node.Output(s, node.Mask, "MASK")
	return func(ctx context.Context, c *node.Call) error {
		m, err := filled(1, int(batch.Get(c)), int(height.Get(c)), int(width.Get(c)))
		if err != nil {
			return err
		}
		c.SetOutput(out.Index(), m.scale(value.Get(c)).value())
		return nil
	}
})

// StubInt outputs its value.
var StubInt = node.New(info("StubInt", "Stub Int", stubCategory), func(s *node.Schema) node.RunFunc {
	value := s.Int("value").Default(0).Min(-0xffffffff).Max(0xffffffff).Step(1)
	out := node.Output(s, node.Int, "INT")
	return func(ctx context.Context, c *node.Call) error {
		c.SetOutput(out.Index(), input(c, value.Def().Name))
		return nil
	}
})

// StubFloat outputs its value.
var StubFloat = node.New(info("StubFloat", "Stub Float", stubCategory), func(s *node.Schema) node.RunFunc {
	value := s.Float("value").Default(0).Min(-1.0e38).Max(1.0e38).Step(0.01)
	out := node.Output(s, node.Float, "FLOAT")
	return func(ctx context.Context, c *node.Call) error {
		c.SetOutput(out.Index(), input(c, value.Def().Name))
		return nil
	}
})
