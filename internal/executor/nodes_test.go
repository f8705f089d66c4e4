package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// The test classes: small stand-ins for ComfyUI's testing pack, built per
// registry so that counters (saved file numbers, fingerprint calls) start
// afresh in every test.

type testPack struct {
	reg *node.Registry
	// saved numbers SaveImage's files, like ComfyUI's counter.
	saved atomic.Int64
	// fingerprints counts Fingerprinted's hook calls per node id.
	mu           sync.Mutex
	fingerprints map[string]int
	// gate, if set, is waited on by Gate nodes (interrupt tests).
	gate chan struct{}
	// met counts AsyncMeet calls that started; meet is closed when all
	// expected ones did.
	met     atomic.Int64
	meetAll chan struct{}
}

func info(id string) node.Info { return node.Info{ID: id, Module: "custom_nodes.testing"} }

func newPack(t testing.TB) *testPack {
	p := &testPack{reg: node.NewRegistry(), fingerprints: map[string]int{}}
	p.reg.MustAdd(
		stubImage, stubMask, stubInt, stubFloat, p.saveImage("SaveImage", "output"),
		p.saveImage("PreviewImage", "temp"), lazyMix, makeList, listLen, intMath, expandDouble,
		expandSave, expandCycle, expandMixed, blocker, asyncSleep, failing, panicking, p.fingerprinted(),
		customIsChanged, pass, variadic, rawLinkNode, intermediate, notIdempotent, uniqueIDNode,
		p.gateNode(), progressNode, outputWithSocket, invalidLazy, opNode, outNode,
		show, emptyList, p.asyncMeet(), expandList,
	)
	return p
}

func imageOf(v float32, b, h, w int) *tensor.Image {
	img := tensor.NewImage(b, h, w, 3)
	img.Fill(v, v, v)
	return img
}

func imageValue(img *tensor.Image) float32 {
	if img == nil || len(img.Pix) == 0 {
		return -1
	}
	return img.Pix[0]
}

var stubImage = node.New(info("StubImage"), func(s *node.Schema) node.RunFunc {
	content := s.Combo("content", "WHITE", "BLACK", "NOISE")
	height := s.Int("height").Default(512)
	width := s.Int("width").Default(512)
	batch := s.Int("batch_size").Default(1)
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		v := float32(0)
		switch content.Get(c) {
		case "WHITE":
			v = 1
		case "NOISE":
			v = 0.5
		}
		out.Set(c, imageOf(v, int(batch.Get(c)), int(height.Get(c)), int(width.Get(c))))
		return nil
	}
})

var stubMask = node.New(info("StubMask"), func(s *node.Schema) node.RunFunc {
	value := s.Float("value")
	height := s.Int("height").Default(8)
	width := s.Int("width").Default(8)
	batch := s.Int("batch_size").Default(1)
	out := node.Output(s, node.Mask, "MASK")
	return func(ctx context.Context, c *node.Call) error {
		m := tensor.NewMask(int(batch.Get(c)), int(height.Get(c)), int(width.Get(c)))
		for i := range m.Pix {
			m.Pix[i] = float32(value.Get(c))
		}
		out.Set(c, m)
		return nil
	}
})

var stubInt = node.New(info("StubInt"), func(s *node.Schema) node.RunFunc {
	value := s.Int("value")
	out := node.Output(s, node.Int, "INT")
	return func(ctx context.Context, c *node.Call) error { out.Set(c, value.Get(c)); return nil }
})

var stubFloat = node.New(info("StubFloat"), func(s *node.Schema) node.RunFunc {
	value := s.Float("value")
	out := node.Output(s, node.Float, "FLOAT")
	return func(ctx context.Context, c *node.Call) error { out.Set(c, value.Get(c)); return nil }
})

// saveImage makes SaveImage/PreviewImage: one UI entry per image of the
// batch, numbered by the pack's counter; no files.
func (p *testPack) saveImage(id, typ string) *node.Class {
	i := info(id)
	i.OutputNode = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images")
		prefix := s.String("filename_prefix").Default("ComfyUI")
		return func(ctx context.Context, c *node.Call) error {
			img := images.Get(c)
			for range img.B {
				n := p.saved.Add(1)
				c.UI("images", pyjson.Object{
					{Key: "filename", Value: fmt.Sprintf("%s_%05d_.png", prefix.Get(c), n)},
					{Key: "subfolder", Value: ""},
					{Key: "type", Value: typ},
				})
			}
			return nil
		}
	})
}

// lazyMix is TestLazyMixImages on constant images: it needs image1 unless
// the mask is all 1, image2 unless it is all 0.
var lazyMix = node.New(info("LazyMix"), func(s *node.Schema) node.RunFunc {
	image1 := node.Socket(s, node.Image, "image1").Lazy()
	image2 := node.Socket(s, node.Image, "image2").Lazy()
	mask := node.Socket(s, node.Mask, "mask")
	out := node.Output(s, node.Image, "IMAGE")
	s.CheckLazy(func(ctx context.Context, c *node.Call) ([]string, error) {
		m := mask.Get(c)
		lo, hi := float32(1), float32(0)
		for _, v := range m.Pix {
			lo, hi = min(lo, v), max(hi, v)
		}
		var need []string
		if lo != 1 && !image1.Present(c) {
			need = append(need, "image1")
		}
		if hi != 0 && !image2.Present(c) {
			need = append(need, "image2")
		}
		return need, nil
	})
	return func(ctx context.Context, c *node.Call) error {
		m := mask.Get(c).Pix[0]
		switch {
		case m == 0:
			out.Set(c, image1.Get(c))
		case m == 1:
			out.Set(c, image2.Get(c))
		default:
			a, b := image1.Get(c), image2.Get(c)
			if len(a.Pix) != len(b.Pix) {
				return node.Raise("RuntimeError", "The size of tensor a (%d) must match the size of tensor b (%d)", a.W, b.W)
			}
			out.Set(c, imageOf(imageValue(a)*(1-m)+imageValue(b)*m, a.B, a.H, a.W))
		}
		return nil
	}
})

// makeList is TestMakeListNode: its inputs as one list output.
var makeList = func() *node.Class {
	return node.New(info("MakeList"), func(s *node.Schema) node.RunFunc {
		var ins []*node.SocketInput[any]
		ins = append(ins, s.AnyOf("value1", "*"))
		for i := 2; i <= 5; i++ {
			ins = append(ins, s.AnyOf(fmt.Sprintf("value%d", i), "*").Optional())
		}
		out := s.OutputOf("*", "*").List()
		return func(ctx context.Context, c *node.Call) error {
			var list []any
			for _, in := range ins {
				if in.Present(c) {
					list = append(list, in.Get(c))
				}
			}
			out.SetList(c, list)
			return nil
		}
	})
}()

// listLen is INPUT_IS_LIST: it outputs the length of its list and the
// list's items as a list output, doubled.
var listLen = func() *node.Class {
	i := info("ListLen")
	i.InputIsList = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		values := s.AnyOf("values", "*")
		n := node.Output(s, node.Int, "INT")
		twice := s.OutputOf("*", "LIST").List()
		return func(ctx context.Context, c *node.Call) error {
			list := values.List(c)
			n.Set(c, int64(len(list)))
			twice.SetList(c, append(slices.Clone(list), list...))
			return nil
		}
	})
}()

var intMath = node.New(info("IntMath"), func(s *node.Schema) node.RunFunc {
	a := s.Int("a")
	b := s.Int("b")
	op := s.Combo("op", "add", "multiply")
	out := node.Output(s, node.Int, "INT")
	return func(ctx context.Context, c *node.Call) error {
		if op.Get(c) == "multiply" {
			out.Set(c, a.Get(c)*b.Get(c))
		} else {
			out.Set(c, a.Get(c)+b.Get(c))
		}
		return nil
	}
})

// expandDouble expands into IntMath(value, value, add) and returns its
// output (a link), plus the value itself as a literal.
var expandDouble = node.New(info("ExpandDouble"), func(s *node.Schema) node.RunFunc {
	value := s.Int("value")
	sum := node.Output(s, node.Int, "SUM")
	orig := node.Output(s, node.Int, "VALUE")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		m := g.Node("IntMath", "").Set("a", value.Get(c)).Set("b", value.Get(c)).Set("op", "add")
		sum.SetLink(c, m.Out(0))
		orig.Set(c, value.Get(c))
		c.Expand(g)
		return nil
	}
})

// expandSave, an output node, expands into a StubImage and a SaveImage
// shown as display_as (an output node of the subgraph, which the expander
// does not wait for).
var expandSave = node.New(node.Info{ID: "ExpandSave", Module: "custom_nodes.testing", OutputNode: true}, func(s *node.Schema) node.RunFunc {
	display := s.String("display_as")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		img := g.Node("StubImage", "img").Set("content", "WHITE").Set("height", int64(4)).Set("width", int64(4)).Set("batch_size", int64(1))
		save := g.Node("SaveImage", "save").Set("images", img.Out(0)).Set("filename_prefix", "sub")
		if d := display.Get(c); d != "" {
			save.SetOverrideDisplayID(d)
		}
		c.Expand(g)
		return nil
	}
})

// expandCycle is TestDynamicDependencyCycle: two LazyMix that need each
// other, found only at run time.
var expandCycle = node.New(info("ExpandCycle"), func(s *node.Schema) node.RunFunc {
	in1 := node.Socket(s, node.Image, "input1")
	in2 := node.Socket(s, node.Image, "input2")
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		mask := g.Node("StubMask", "mask").Set("value", 0.5).Set("height", int64(4)).Set("width", int64(4)).Set("batch_size", int64(1))
		mix1 := g.Node("LazyMix", "mix1").Set("image1", in1.Get(c)).Set("mask", mask.Out(0))
		mix2 := g.Node("LazyMix", "mix2").Set("image1", mix1.Out(0)).Set("image2", in2.Get(c)).Set("mask", mask.Out(0))
		mix1.Set("image2", mix2.Out(0))
		out.SetLink(c, mix2.Out(0))
		c.Expand(g)
		return nil
	}
})

// expandMixed is TestMixedExpansionReturns on INTs: ≤ 1 a plain result,
// otherwise an expansion doubling the value; the second output is always a
// literal.
var expandMixed = node.New(info("ExpandMixed"), func(s *node.Schema) node.RunFunc {
	value := s.Int("value")
	first := node.Output(s, node.Int, "FIRST")
	second := node.Output(s, node.Int, "SECOND")
	return func(ctx context.Context, c *node.Call) error {
		v := value.Get(c)
		second.Set(c, -v)
		if v <= 1 {
			first.Set(c, v)
			return nil
		}
		g := c.NewGraph()
		m := g.Node("IntMath", "").Set("a", v).Set("b", int64(2)).Set("op", "multiply")
		first.SetLink(c, m.Out(0))
		c.Expand(g)
		return nil
	}
})

// expandList expands into MakeList(1, 2, 3) and returns (that list's link,
// 9): the link is spliced in as three values.
var expandList = node.New(info("ExpandList"), func(s *node.Schema) node.RunFunc {
	first := s.OutputOf("*", "A")
	second := s.OutputOf("*", "B")
	return func(ctx context.Context, c *node.Call) error {
		g := c.NewGraph()
		l := g.Node("MakeList", "list").Set("value1", int64(1)).Set("value2", int64(2)).Set("value3", int64(3))
		first.SetLink(c, l.Out(0))
		second.Set(c, int64(9))
		c.Expand(g)
		return nil
	}
})

// blocker is TestExecutionBlocker.
var blocker = node.New(info("Blocker"), func(s *node.Schema) node.RunFunc {
	in := s.AnyOf("input", "*")
	block := s.Bool("block")
	verbose := s.Bool("verbose")
	out := s.OutputOf("*", "OUTPUT")
	return func(ctx context.Context, c *node.Call) error {
		switch {
		case block.Get(c) && verbose.Get(c):
			c.Block("Blocked Execution")
		case block.Get(c):
			c.Block("")
		default:
			out.Set(c, in.Get(c))
		}
		return nil
	}
})

// asyncSleep is TestSleep: async, sleeps, reports progress, passes value.
var asyncSleep = func() *node.Class {
	i := info("AsyncSleep")
	i.Async = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		value := s.AnyOf("value", "*")
		secs := s.Float("seconds")
		s.Hidden("unique_id", node.HiddenUniqueID)
		out := s.OutputOf("*", "*")
		return func(ctx context.Context, c *node.Call) error {
			c.Progress(0, 1)
			t := time.NewTimer(time.Duration(secs.Get(c) * float64(time.Second)))
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
			if v, ok := value.Get(c).(string); ok && v == "fail" {
				return node.Raise("ValueError", "async failure")
			}
			c.Progress(1, 1)
			out.Set(c, value.Get(c))
			return nil
		}
	})
}()

var failing = node.New(info("Failing"), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*")
	s.Int("number").Optional()
	return func(ctx context.Context, c *node.Call) error {
		return node.Raise("ValueError", "node failed on purpose")
	}
})

var panicking = node.New(info("Panicking"), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*")
	return func(ctx context.Context, c *node.Call) error {
		var m map[string]int
		//lint:ignore SA5000 the node panics on purpose
		m["boom"]++
		return nil
	}
})

// fingerprinted passes value on; its fingerprint is seed (literal), and the
// pack counts the hook's calls per node.
func (p *testPack) fingerprinted() *node.Class {
	return node.New(info("Fingerprinted"), func(s *node.Schema) node.RunFunc {
		value := s.AnyOf("value", "*").Optional()
		seed := s.String("seed")
		out := s.OutputOf("*", "*")
		s.Fingerprint(func(ctx context.Context, c *node.Call) (any, error) {
			p.mu.Lock()
			p.fingerprints[c.UniqueID()]++
			p.mu.Unlock()
			if _, linked := c.Input("value"); linked {
				return nil, errors.New("a link reached the fingerprint")
			}
			switch seed.Get(c) {
			case "nan":
				return math.NaN(), nil
			case "error":
				return nil, errors.New("fingerprint failed")
			}
			return seed.Get(c), nil
		})
		return func(ctx context.Context, c *node.Call) error { out.Set(c, value.Get(c)); return nil }
	})
}

func (p *testPack) fingerprintCalls(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fingerprints[id]
}

// customIsChanged is TestCustomIsChanged: NaN when should_change.
var customIsChanged = node.New(info("CustomIsChanged"), func(s *node.Schema) node.RunFunc {
	image := node.Socket(s, node.Image, "image")
	change := s.Bool("should_change").Optional()
	out := node.Output(s, node.Image, "IMAGE")
	s.Fingerprint(func(ctx context.Context, c *node.Call) (any, error) {
		if change.Get(c) {
			return math.NaN(), nil
		}
		return false, nil
	})
	return func(ctx context.Context, c *node.Call) error { out.Set(c, image.Get(c)); return nil }
})

// pass passes its optional value on (the benchmark's no-op).
var pass = node.New(info("Pass"), func(s *node.Schema) node.RunFunc {
	value := s.AnyOf("value", "*").Optional()
	s.Int("n").Optional()
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error { out.Set(c, value.Get(c)); return nil }
})

// variadic is TestVariadicAverage: input1 declared, the others undeclared
// links; it outputs the average value.
var variadic = node.New(info("Variadic"), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "input1")
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		names := c.InputNames()
		slices.Sort(names)
		var sum float32
		var first *tensor.Image
		for _, name := range names {
			v, _ := c.Input(name)
			img := v.(*tensor.Image)
			if first == nil {
				first = img
			}
			sum += imageValue(img)
		}
		out.Set(c, imageOf(sum/float32(len(names)), first.B, first.H, first.W))
		return nil
	}
})

// rawLinkNode outputs the link its rawLink input holds, as "id:slot".
var rawLinkNode = node.New(info("RawLink"), func(s *node.Schema) node.RunFunc {
	link := s.AnyOf("link", "*").RawLink()
	out := node.Output(s, node.String, "STRING")
	return func(ctx context.Context, c *node.Call) error {
		l, ok := link.Get(c).(node.Link)
		if !ok {
			return fmt.Errorf("not a link: %#v", link.Get(c))
		}
		out.Set(c, fmt.Sprintf("%s:%d", l.From, l.Slot))
		return nil
	}
})

// intermediate has HAS_INTERMEDIATE_OUTPUT: UI and an output, not a target.
var intermediate = func() *node.Class {
	i := info("Intermediate")
	i.HasIntermediateOutput = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			c.UI("text", "crop")
			out.Set(c, image.Get(c))
			return nil
		}
	})
}()

var notIdempotent = func() *node.Class {
	i := info("NotIdempotent")
	i.NotIdempotent = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		value := s.Int("value")
		out := node.Output(s, node.Int, "INT")
		return func(ctx context.Context, c *node.Call) error { out.Set(c, value.Get(c)); return nil }
	})
}()

var uniqueIDNode = node.New(info("UniqueID"), func(s *node.Schema) node.RunFunc {
	value := s.Int("value")
	s.Hidden("unique_id", node.HiddenUniqueID)
	out := node.Output(s, node.String, "STRING")
	return func(ctx context.Context, c *node.Call) error {
		id, _ := c.Input("unique_id")
		out.Set(c, fmt.Sprintf("%v/%d", id, value.Get(c)))
		return nil
	}
})

// gateNode waits for the pack's gate (or an interrupt), then passes on.
func (p *testPack) gateNode() *node.Class {
	return node.New(info("Gate"), func(s *node.Schema) node.RunFunc {
		value := s.AnyOf("value", "*").Optional()
		out := s.OutputOf("*", "*")
		return func(ctx context.Context, c *node.Call) error {
			select {
			case <-p.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			out.Set(c, value.Get(c))
			return nil
		}
	})
}

// progressNode reports progress steps (ints, then a fraction).
var progressNode = node.New(info("Progress"), func(s *node.Schema) node.RunFunc {
	steps := s.Int("steps")
	out := node.Output(s, node.Int, "INT")
	return func(ctx context.Context, c *node.Call) error {
		n := steps.Get(c)
		for i := int64(1); i <= n; i++ {
			c.Progress(float64(i), float64(n))
		}
		c.Progress(0.5, 1)
		out.Set(c, n)
		return nil
	}
})

// outputWithSocket is TestOutputNodeWithSocketOutput.
var outputWithSocket = func() *node.Class {
	i := info("OutputWithSocket")
	i.OutputNode = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		image := node.Socket(s, node.Image, "image")
		out := node.Output(s, node.Image, "IMAGE")
		return func(ctx context.Context, c *node.Call) error {
			c.UI("text", "out")
			out.Set(c, image.Get(c))
			return nil
		}
	})
}()

// invalidLazy asks for an input it does not have.
var invalidLazy = node.New(info("InvalidLazy"), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").Lazy().Optional()
	s.CheckLazy(func(ctx context.Context, c *node.Call) ([]string, error) { return []string{"nothing"}, nil })
	return func(ctx context.Context, c *node.Call) error { return nil }
})

// opNode and outNode are the oracle's classes: no declared inputs (links
// are undeclared inputs), one output; outNode is an output node.
var opNode = node.New(info("Op"), func(s *node.Schema) node.RunFunc {
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error { out.Set(c, c.UniqueID()); return nil }
})

var outNode = func() *node.Class {
	i := info("Out")
	i.OutputNode = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		out := s.OutputOf("*", "*")
		return func(ctx context.Context, c *node.Call) error { out.Set(c, c.UniqueID()); return nil }
	})
}()

// show is an output node that puts its value in its UI ("value"); images
// show as their first pixel value.
var show = func() *node.Class {
	i := info("Show")
	i.OutputNode = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		value := s.AnyOf("value", "*")
		s.String("label").Optional()
		return func(ctx context.Context, c *node.Call) error {
			v := value.Get(c)
			if img, ok := v.(*tensor.Image); ok {
				v = float64(imageValue(img))
			}
			c.UI("value", v)
			return nil
		}
	})
}()

var emptyList = node.New(info("EmptyList"), func(s *node.Schema) node.RunFunc {
	out := s.OutputOf("*", "*").List()
	return func(ctx context.Context, c *node.Call) error { out.SetList(c, nil); return nil }
})

// asyncMeet is an async node that returns only once count calls of it have
// started: it deadlocks (until its context ends) unless they overlap.
func (p *testPack) asyncMeet() *node.Class {
	i := info("AsyncMeet")
	i.Async = true
	return node.New(i, func(s *node.Schema) node.RunFunc {
		count := s.Int("count")
		s.Int("tag")
		out := s.OutputOf("*", "*")
		return func(ctx context.Context, c *node.Call) error {
			if p.met.Add(1) == count.Get(c) {
				close(p.meetAll)
			}
			select {
			case <-p.meetAll:
			case <-ctx.Done():
				return ctx.Err()
			}
			out.Set(c, c.UniqueID())
			return nil
		}
	})
}

// uiValues returns the "value" UI list of node id.
func uiValues(t testing.TB, r result, id string) []any {
	t.Helper()
	ui, ok := r.Outputs.Get(id)
	if !ok {
		t.Fatalf("no UI for node %s in %v", id, outputIDs(r.Outputs))
	}
	v, _ := ui.(pyjson.Object).Get("value")
	return v.([]any)
}

// Harness.

// recorder is a Sink that keeps events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// fixedClock returns timestamps 1000, 1001, … so goldens are stable.
func fixedClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return time.UnixMilli(1000 + n.Add(1) - 1) }
}

func mustPrompt(t testing.TB, js string) *node.Prompt {
	t.Helper()
	p, err := node.ParsePrompt([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// result is one run's outcome and events.
type result struct {
	Outcome
	events []Event
}

// ran returns the ids of executing events, in order.
func (r result) ran() []string {
	var ids []string
	for _, e := range r.events {
		if e.Type == "executing" {
			id, _ := e.Data.Get("node")
			ids = append(ids, id.(string))
		}
	}
	return ids
}

// cached returns the nodes of execution_cached.
func (r result) cached() []string {
	for _, e := range r.Messages {
		if e.Type == "execution_cached" {
			v, _ := e.Data.Get("nodes")
			return v.([]string)
		}
	}
	return nil
}

func (r result) types() []string {
	var types []string
	for _, e := range r.events {
		types = append(types, e.Type)
	}
	return types
}

func (r result) find(typ string) (Event, bool) {
	for _, e := range r.events {
		if e.Type == typ {
			return e, true
		}
	}
	return Event{}, false
}

// runner runs prompts on one executor.
type runner struct {
	t    testing.TB
	pack *testPack
	ex   *Executor
	n    int
}

func newRunner(t testing.TB, cfg Config) *runner {
	p := newPack(t)
	if cfg.Now == nil {
		cfg.Now = fixedClock()
	}
	return &runner{t: t, pack: p, ex: New(p.reg, cfg)}
}

// run executes a prompt with client id "client"; outputs default to every
// output node in prompt order.
func (rn *runner) run(js string, outputs ...string) result {
	return rn.runJob(Job{Prompt: mustPrompt(rn.t, js), ClientID: "client", Outputs: outputs})
}

func (rn *runner) runJob(job Job) result {
	return rn.runCtx(context.Background(), job)
}

func (rn *runner) runCtx(ctx context.Context, job Job) result {
	rn.t.Helper()
	rn.n++
	if job.PromptID == "" {
		job.PromptID = fmt.Sprintf("p%d", rn.n)
	}
	if job.Outputs == nil {
		for _, id := range job.Prompt.IDs() {
			def, _ := job.Prompt.Node(id)
			if c, ok := rn.pack.reg.Lookup(def.ClassType); ok && c.OutputNode {
				job.Outputs = append(job.Outputs, id)
			}
		}
	}
	rec := &recorder{}
	o := rn.ex.Execute(ctx, job, rec)
	return result{o, rec.all()}
}

func outputIDs(o pyjson.Object) []string {
	var ids []string
	for _, f := range o {
		ids = append(ids, f.Key)
	}
	return ids
}

func eq[T comparable](t testing.TB, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func joinTypes(r result) string { return strings.Join(r.types(), " ") }
