package testnodes

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// The nodes of specific_tests.py: lazy inputs, undeclared inputs,
// IS_CHANGED, custom validation, expansions and sleeping.

const (
	nodesCategory        = "Testing/Nodes"
	experimentalCategory = "experimental"
)

// TestLazyMixImages mixes image1 and image2 by mask, asking only for the
// images the mask needs: none of image2 when the mask is all 0, none of
// image1 when it is all 1.
var TestLazyMixImages = node.New(info("TestLazyMixImages", "Lazy Mix Images", nodesCategory), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "image1").Lazy()
	node.Socket(s, node.Image, "image2").Lazy()
	node.Socket(s, node.Mask, "mask")
	out := node.Output(s, node.Image, "IMAGE")
	s.CheckLazy(func(ctx context.Context, c *node.Call) ([]string, error) {
		lo, hi, err := maskRange(input(c, "mask"))
		if err != nil {
			return nil, err
		}
		var needed []string
		if input(c, "image1") == nil && (lo != 1 || hi != 1) {
			needed = append(needed, "image1")
		}
		if input(c, "image2") == nil && (lo != 0 || hi != 0) {
			needed = append(needed, "image2")
		}
		return needed, nil
	})
	return func(ctx context.Context, c *node.Call) error {
		image1, image2, mask := input(c, "image1"), input(c, "image2"), input(c, "mask")
		lo, hi, err := maskRange(mask)
		switch {
		case err != nil:
			return err
		case lo == 0 && hi == 0:
			c.SetOutput(out.Index(), image1)
		case lo == 1 && hi == 1:
			c.SetOutput(out.Index(), image2)
		default:
			mixed, err := mixImages(image1, image2, mask)
			if err != nil {
				return err
			}
			c.SetOutput(out.Index(), mixed)
		}
		return nil
	}
})

// maskRange returns mask.min() and mask.max().
func maskRange(mask any) (lo, hi float32, err error) {
	m, ok := asArray(mask)
	if !ok {
		return 0, 0, node.Raise("AttributeError", "'%s' object has no attribute 'min'", pyTypeName(mask))
	}
	if lo, err = m.min(); err != nil {
		return 0, 0, err
	}
	hi, err = m.max()
	return lo, hi, err
}

// mixImages is TestLazyMixImages.mix past its shortcuts: the mask gets a
// channel dimension, repeated to image1's channels, and
// image1 * (1 - mask) + image2 * mask is computed with torch's broadcasting.
func mixImages(image1, image2, mask any) (any, error) {
	m, _ := asArray(mask)
	switch len(m.shape) {
	case 2:
		m.shape = append([]int{1}, m.shape...)
		m.shape = append(m.shape, 1)
	case 3:
		m.shape = append(append([]int(nil), m.shape...), 1)
	}
	a, ok := asArray(image1)
	if !ok {
		return nil, node.Raise("AttributeError", "'%s' object has no attribute 'shape'", pyTypeName(image1))
	}
	if len(m.shape) < 4 || len(a.shape) < 4 {
		return nil, node.Raise("IndexError", "tuple index out of range")
	}
	if m.shape[3] < a.shape[3] {
		m = repeatLast(m, a.shape[3])
	}
	b, ok := asArray(image2)
	if !ok {
		return nil, node.Raise("TypeError", "unsupported operand type(s) for *: '%s' and 'Tensor'", pyTypeName(image2))
	}
	times := func(x, y float32) float32 { return x * y }
	left, err := broadcast(a, m.apply(func(x float32) float32 { return 1 - x }), times)
	if err != nil {
		return nil, err
	}
	right, err := broadcast(b, m, times)
	if err != nil {
		return nil, err
	}
	sum, err := broadcast(left, right, func(x, y float32) float32 { return x + y })
	if err != nil {
		return nil, err
	}
	return sum.value(), nil
}

// repeatLast is a.repeat(1, ..., 1, n): the last dimension repeated n times.
func repeatLast(a array, n int) array {
	last := a.shape[len(a.shape)-1]
	shape := append([]int(nil), a.shape...)
	shape[len(shape)-1] = last * n
	out := array{shape, make([]float32, len(a.data)*n)}
	if last == 0 {
		return out
	}
	for p := range len(a.data) / last {
		src := a.data[p*last : (p+1)*last]
		for r := range n {
			copy(out.data[(p*n+r)*last:], src)
		}
	}
	return out
}

// TestVariadicAverage averages input1 with input2, input3, ...: inputs it
// does not declare, which the executor passes because they are linked.
var TestVariadicAverage = node.New(info("TestVariadicAverage", "Variadic Average", nodesCategory), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "input1")
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		inputs := []any{input(c, "input1")}
		for {
			v, ok := c.Input(fmt.Sprintf("input%d", len(inputs)+1))
			if !ok {
				break
			}
			inputs = append(inputs, v)
		}
		mean, err := stackMean(inputs)
		if err != nil {
			return err
		}
		c.SetOutput(out.Index(), mean.value())
		return nil
	}
})

// stackMean is torch.stack(values).mean(dim=0).
func stackMean(values []any) (array, error) {
	arrays := make([]array, len(values))
	for i, v := range values {
		a, ok := asArray(v)
		if !ok {
			return array{}, node.Raise("TypeError", "expected Tensor as element %d in argument 0, but got %s", i, pyTypeName(v))
		}
		if i > 0 && !slices.Equal(a.shape, arrays[0].shape) {
			return array{}, node.Raise("RuntimeError", "stack expects each tensor to be equal size, but got %s at entry 0 and %s at entry %d",
				shapeString(arrays[0].shape), shapeString(a.shape), i)
		}
		arrays[i] = a
	}
	out := array{append([]int(nil), arrays[0].shape...), make([]float32, len(arrays[0].data))}
	for k := range out.data {
		var sum float64
		for _, a := range arrays {
			sum += float64(a.data[k])
		}
		out.data[k] = float32(sum / float64(len(arrays)))
	}
	return out, nil
}

// TestCustomIsChanged passes its image through; its fingerprint is NaN
// (always run again) when should_change is set, else False.
var TestCustomIsChanged = node.New(info("TestCustomIsChanged", "Custom IsChanged", nodesCategory), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "image")
	s.AnyOf("should_change", "BOOL").Optional().Option("default", false) // "BOOL", as the pack writes it
	out := node.Output(s, node.Image, "IMAGE")
	s.Fingerprint(func(ctx context.Context, c *node.Call) (any, error) {
		change, err := pyBool(input(c, "should_change"))
		if err != nil || !change {
			return false, err
		}
		return math.NaN(), nil
	})
	return func(ctx context.Context, c *node.Call) error {
		c.SetOutput(out.Index(), input(c, "image"))
		return nil
	}
})

// TestIsChangedWithConstants outputs image * value. Its fingerprint is value
// when the image is absent, which it always is while fingerprinting (links
// are not resolved then), else the image's mean times value.
var TestIsChangedWithConstants = node.New(info("TestIsChangedWithConstants", "IsChanged With Constants", nodesCategory), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "image")
	s.Float("value").Default(1).Min(0).Max(10)
	out := node.Output(s, node.Image, "IMAGE")
	s.Fingerprint(func(ctx context.Context, c *node.Call) (any, error) {
		image, value := input(c, "image"), input(c, "value")
		if image == nil {
			return value, nil
		}
		a, ok := asArray(image)
		if !ok {
			return nil, node.Raise("AttributeError", "'%s' object has no attribute 'mean'", pyTypeName(image))
		}
		sum := 0.0
		for _, x := range a.data {
			sum += float64(x)
		}
		return arith("*", float64(float32(sum/float64(len(a.data)))), value)
	})
	return computed(out.Index(), func(c *node.Call) (any, error) {
		return mul(input(c, "image"), input(c, "value"))
	})
})

// onesTimes returns torch.ones([1, 512, 512, 3]) multiplied by each factor
// in turn.
func onesTimes(factors ...any) (any, error) {
	ones, err := filled(1, 1, 512, 512, 3)
	if err != nil {
		return nil, err
	}
	var r any = ones.value()
	for _, f := range factors {
		if r, err = mul(r, f); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// multiplyInputs is the function of TestCustomValidation1 to 3: a 512×512
// image of input1 * input2 when both are floats, else input1 * input2
// (tensors and numbers in any combination).
func multiplyInputs(out *node.Out[*tensor.Image]) node.RunFunc {
	return computed(out.Index(), func(c *node.Call) (any, error) {
		a, b := input(c, "input1"), input(c, "input2")
		_, aFloat := a.(float64)
		_, bFloat := b.(float64)
		if aFloat && bFloat {
			return onesTimes(a, b)
		}
		return mul(a, b)
	})
}

// checkTensorOrFloat is the literal check of TestCustomValidation1 and 2:
// input1 and input2, when given as literals, must be tensors or floats (so
// an int literal such as 5 fails where 5.0 passes).
func checkTensorOrFloat(c *node.Call) error {
	for _, name := range []string{"input1", "input2"} {
		v := input(c, name)
		if _, isArray := asArray(v); v == nil || isArray {
			continue
		}
		if _, isFloat := v.(float64); !isFloat {
			return fmt.Errorf("Invalid type of %s: %s", name, pyClass(v))
		}
	}
	return nil
}

var inputs12 = []string{"input1", "input2"}

// TestCustomValidation1 multiplies two IMAGE,FLOAT inputs; its validator
// (input1=None, input2=None) rejects literals that are not floats.
var TestCustomValidation1 = node.New(info("TestCustomValidation1", "Custom Validation 1", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("input1", "IMAGE,FLOAT")
	s.AnyOf("input2", "IMAGE,FLOAT")
	out := node.Output(s, node.Image, "IMAGE")
	s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
		return checkTensorOrFloat(c)
	}, node.ValidateOptions{Inputs: inputs12})
	return multiplyInputs(out)
})

// TestCustomValidation2 is TestCustomValidation1 whose validator also takes
// input_types (which turns the executor's link type check off) and accepts
// only IMAGE or FLOAT links.
var TestCustomValidation2 = node.New(info("TestCustomValidation2", "Custom Validation 2", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("input1", "IMAGE,FLOAT")
	s.AnyOf("input2", "IMAGE,FLOAT")
	out := node.Output(s, node.Image, "IMAGE")
	s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
		if err := checkTensorOrFloat(c); err != nil {
			return err
		}
		for _, name := range inputs12 {
			if t, ok := c.InputType(name); ok && t != "IMAGE" && t != "FLOAT" {
				return fmt.Errorf("Invalid type of %s: %s", name, t)
			}
		}
		return nil
	}, node.ValidateOptions{Inputs: inputs12, InputTypes: true})
	return multiplyInputs(out)
})

// TestCustomValidation3 is TestCustomValidation1 under the pack's
// VariantSupport: no validator of its own, the generated one that checks
// link types as sets.
var TestCustomValidation3 = variant(info("TestCustomValidation3", "Custom Validation 3", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("input1", "IMAGE,FLOAT")
	s.AnyOf("input2", "IMAGE,FLOAT")
	out := node.Output(s, node.Image, "IMAGE")
	return multiplyInputs(out)
})

// TestCustomValidation4 outputs a 512×512 image of input1 * input2; its
// validator (input1, input2) requires floats, which FLOAT literals always
// are and links (None while validating) skip.
var TestCustomValidation4 = node.New(info("TestCustomValidation4", "Custom Validation 4", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.Float("input1")
	s.Float("input2")
	out := node.Output(s, node.Image, "IMAGE")
	s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
		for _, name := range inputs12 {
			v := input(c, name)
			if _, isFloat := v.(float64); v != nil && !isFloat {
				return fmt.Errorf("Invalid type of %s: %s", name, pyClass(v))
			}
		}
		return nil
	}, node.ValidateOptions{Inputs: inputs12})
	return computed(out.Index(), func(c *node.Call) (any, error) {
		return onesTimes(input(c, "input1"), input(c, "input2"))
	})
})

// TestCustomValidation5 outputs a 512×512 image of input1 * input2. Its
// validator takes **kwargs, so the executor skips the min/max checks, and it
// rejects input2 == 7.0.
var TestCustomValidation5 = node.New(info("TestCustomValidation5", "Custom Validation 5", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.Float("input1").Min(0).Max(1)
	s.Float("input2").Min(0).Max(1)
	out := node.Output(s, node.Image, "IMAGE")
	s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
		v, ok := c.Input("input2")
		if !ok {
			return node.Raise("KeyError", "'input2'")
		}
		if seven, _ := compare("==", v, 7.0); seven {
			return errors.New("7s are not allowed. I've never liked 7s.")
		}
		return nil
	}, node.ValidateOptions{AllInputs: true})
	return computed(out.Index(), func(c *node.Call) (any, error) {
		value, err := arith("*", input(c, "input1"), input(c, "input2"))
		if err != nil {
			return nil, err
		}
		return onesTimes(value)
	})
})

// stubMask adds a 512×512 StubMask of the given value to g.
func stubMask(g *node.GraphBuilder, value float64) *node.GraphNode {
	return g.Node("StubMask", "").Set("value", value).
		Set("height", int64(512)).Set("width", int64(512)).Set("batch_size", int64(1))
}

// stubImage adds a 512×512 StubImage of the given content to g.
func stubImage(g *node.GraphBuilder, content string) *node.GraphNode {
	return g.Node("StubImage", "").Set("content", content).
		Set("height", int64(512)).Set("width", int64(512)).Set("batch_size", int64(1))
}

// TestDynamicDependencyCycle expands into two TestLazyMixImages that feed
// each other: a cycle that exists only at run time.
var TestDynamicDependencyCycle = node.New(info("TestDynamicDependencyCycle", "Dynamic Dependency Cycle", nodesCategory), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "input1")
	node.Socket(s, node.Image, "input2")
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		mask := stubMask(g, 0.5)
		mix1 := g.Node("TestLazyMixImages", "").Set("image1", input(c, "input1")).Set("mask", mask.Out(0))
		mix2 := g.Node("TestLazyMixImages", "").Set("image1", mix1.Out(0)).Set("image2", input(c, "input2")).Set("mask", mask.Out(0))
		mix1.Set("image2", mix2.Out(0)) // the cycle
		out.SetLink(c, mix2.Out(0))
		c.Expand(g)
		return nil
	}
})

// TestMixedExpansionReturns returns its two images in each of the ways a
// node can: a plain result for input1 <= 0.1 (an image of 0.1), a "result"
// dict for <= 0.2 (in Go the same thing: an image of 0.2), and otherwise an
// expansion mixing black and white by a 0.3 mask. The second output is
// always a white image.
var TestMixedExpansionReturns = node.New(info("TestMixedExpansionReturns", "Mixed Expansion Returns", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.Float("input1")
	first := node.Output(s, node.Image, "IMAGE")
	second := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		white, err := filled(1, 1, 512, 512, 3)
		if err != nil {
			return err
		}
		v := input(c, "input1")
		for _, level := range []float64{0.1, 0.2} {
			below, err := compare("<=", v, level)
			if err != nil {
				return err
			}
			if below {
				c.SetOutput(first.Index(), white.scale(level).value())
				c.SetOutput(second.Index(), white.value())
				return nil
			}
		}
		g := c.NewGraph()
		mask := stubMask(g, 0.3)
		black := stubImage(g, "BLACK")
		whiteNode := stubImage(g, "WHITE")
		mix := g.Node("TestLazyMixImages", "").Set("image1", black.Out(0)).Set("image2", whiteNode.Out(0)).Set("mask", mask.Out(0))
		first.SetLink(c, mix.Out(0))
		c.SetOutput(second.Index(), white.value())
		c.Expand(g)
		return nil
	}
})

// TestSamplingInExpansion expands into a text-to-image graph (two
// CLIPTextEncode, EmptyLatentImage, KSampler, VAEDecode) on the given model,
// CLIP and VAE.
var TestSamplingInExpansion = node.New(info("TestSamplingInExpansion", "Sampling In Expansion", nodesCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("model", "MODEL")
	s.AnyOf("clip", "CLIP")
	s.AnyOf("vae", "VAE")
	s.Int("seed").Default(0).Min(0).MaxUint64(0xffffffffffffffff)
	s.Int("steps").Default(20).Min(1).Max(100)
	s.Float("cfg").Default(7).Min(0).Max(30)
	s.String("prompt").Multiline(true).Default("a beautiful landscape with mountains and trees")
	s.String("negative_prompt").Multiline(true).Default("blurry, bad quality, worst quality")
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		clip := input(c, "clip")
		positive := g.Node("CLIPTextEncode", "").Set("text", input(c, "prompt")).Set("clip", clip)
		negative := g.Node("CLIPTextEncode", "").Set("text", input(c, "negative_prompt")).Set("clip", clip)
		latent := g.Node("EmptyLatentImage", "").Set("width", int64(512)).Set("height", int64(512)).Set("batch_size", int64(1))
		sampler := g.Node("KSampler", "").
			Set("model", input(c, "model")).
			Set("positive", positive.Out(0)).
			Set("negative", negative.Out(0)).
			Set("latent_image", latent.Out(0)).
			Set("seed", input(c, "seed")).
			Set("steps", input(c, "steps")).
			Set("cfg", input(c, "cfg")).
			Set("sampler_name", "euler_ancestral").
			Set("scheduler", "normal")
		decode := g.Node("VAEDecode", "").Set("samples", sampler.Out(0)).Set("vae", input(c, "vae"))
		out.SetLink(c, decode.Out(0))
		c.Expand(g)
		return nil
	}
})

// TestSleep waits the given seconds (an async node: others run meanwhile),
// reporting progress, and outputs its value.
var TestSleep = node.New(async(info("TestSleep", "Test Sleep", experimentalCategory)), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").EmptyOptions()
	secs := s.Float("seconds").Default(1).Min(0).Max(9999).Step(0.01).Tooltip("The amount of seconds to sleep.")
	s.Hidden("unique_id", node.HiddenUniqueID)
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		total := secs.Get(c)
		bar := newProgressBar(c, total)
		if err := sleepReporting(ctx, total, bar.updateAbsolute); err != nil {
			return err
		}
		out.Set(c, input(c, "value"))
		return nil
	}
})

// TestParallelSleep expands into three TestSleep, one per image, averaged by
// a TestVariadicAverage: the sleeps overlap.
var TestParallelSleep = node.New(outputNode(info("TestParallelSleep", "Test Parallel Sleep", experimentalCategory)), func(s *node.Schema) node.RunFunc {
	for i := 1; i <= 3; i++ {
		node.Socket(s, node.Image, fmt.Sprintf("image%d", i))
	}
	for i := 1; i <= 3; i++ {
		s.Float(fmt.Sprintf("sleep%d", i)).Default(0.5).Min(0).Max(10).Step(0.01)
	}
	s.Hidden("unique_id", node.HiddenUniqueID)
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		var sleeps []*node.GraphNode
		for i := 1; i <= 3; i++ {
			sleeps = append(sleeps, g.Node("TestSleep", "").
				Set("value", input(c, fmt.Sprintf("image%d", i))).
				Set("seconds", input(c, fmt.Sprintf("sleep%d", i))))
		}
		out.SetLink(c, average(g, sleeps).Out(0))
		c.Expand(g)
		return nil
	}
})

// average adds a TestVariadicAverage of the first outputs of nodes to g.
func average(g *node.GraphBuilder, nodes []*node.GraphNode) *node.GraphNode {
	avg := g.Node("TestVariadicAverage", "")
	for i, n := range nodes {
		avg.Set(fmt.Sprintf("input%d", i+1), n.Out(0))
	}
	return avg
}

// TestOutputNodeWithSocketOutput is an output node that also has an output
// socket: image * value.
var TestOutputNodeWithSocketOutput = node.New(outputNode(info("TestOutputNodeWithSocketOutput", "Test Output Node With Socket Output", experimentalCategory)), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "image")
	s.Float("value").Default(1).Min(0).Max(10)
	out := node.Output(s, node.Image, "IMAGE")
	return computed(out.Index(), func(c *node.Call) (any, error) {
		return mul(input(c, "image"), input(c, "value"))
	})
})
