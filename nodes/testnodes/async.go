package testnodes

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/node"
)

// The nodes of async_test_nodes.py: async functions, validators and lazy
// checks, errors from each, and shared resources.

const asyncCategory = "experimental/async"

// asyncCheckDelay is the 50 ms the pack's async validators and lazy checks
// sleep to stand for a remote call.
const asyncCheckDelay = 50 * time.Millisecond

// thresholdClass declares TestAsyncValidation and TestAsyncValidationError:
// two FLOAT inputs, an async validator that fails with message when the
// first exceeds the second, and an image of intensity(first, second).
func thresholdClass(i node.Info, limit, message string, intensity func(v, limit float64) (float64, error)) *node.Class {
	return node.New(i, func(s *node.Schema) node.RunFunc {
		value := s.Float("value").Default(5)
		limitIn := s.Float(limit).Default(10)
		out := node.Output(s, node.Image, "IMAGE")
		s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
			if err := sleep(ctx, asyncCheckDelay); err != nil {
				return err
			}
			v, l := input(c, "value"), input(c, limit)
			over, err := compare(">", v, l)
			if err != nil || !over {
				return err
			}
			return fmt.Errorf(message, pyStr(v), pyStr(l))
		}, node.ValidateOptions{Inputs: []string{"value", limit}})
		return func(ctx context.Context, c *node.Call) error {
			k, err := intensity(value.Get(c), limitIn.Get(c))
			if err != nil {
				return err
			}
			img, err := onesTimes(k)
			if err != nil {
				return err
			}
			c.SetOutput(out.Index(), img)
			return nil
		}
	})
}

// TestAsyncValidation has an async validator that rejects value > threshold;
// it outputs an image of value / 10.
var TestAsyncValidation = thresholdClass(info("TestAsyncValidation", "Test Async Validation", asyncCategory),
	"threshold", "Value %s exceeds threshold %s",
	func(v, _ float64) (float64, error) { return v / 10, nil })

// TestAsyncValidationError has an async validator that rejects
// value > max_value; it outputs an image of value / max_value.
var TestAsyncValidationError = thresholdClass(info("TestAsyncValidationError", "Test Async Validation Error", asyncCategory),
	"max_value", "Async validation failed: %s > %s",
	func(v, limit float64) (float64, error) {
		if limit == 0 {
			return 0, node.Raise("ZeroDivisionError", "float division by zero")
		}
		return v / limit, nil
	})

// TestAsyncError fails after error_after seconds.
var TestAsyncError = node.New(async(info("TestAsyncError", "Test Async Error", asyncCategory)), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").EmptyOptions()
	after := s.Float("error_after").Default(0.1).Min(0).Max(10)
	s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		if err := sleep(ctx, seconds(after.Get(c))); err != nil {
			return err
		}
		return node.Raise("RuntimeError", "Intentional async execution error for testing")
	}
})

// TestAsyncTimeout runs an operation of operation_time seconds under a
// timeout of timeout seconds, failing when the timeout comes first.
var TestAsyncTimeout = node.New(async(info("TestAsyncTimeout", "Test Async Timeout", asyncCategory)), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").EmptyOptions()
	timeout := s.Float("timeout").Default(1).Min(0.1).Max(10)
	operation := s.Float("operation_time").Default(2).Min(0.1).Max(10)
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		limit, work := timeout.Get(c), operation.Get(c)
		if work <= limit {
			if err := sleep(ctx, seconds(work)); err != nil {
				return err
			}
			out.Set(c, input(c, "value"))
			return nil
		}
		if err := sleep(ctx, seconds(limit)); err != nil {
			return err
		}
		return node.Raise("RuntimeError", "Operation timed out after %s seconds", pyStr(limit))
	}
})

// TestSyncError fails at once, synchronously.
var TestSyncError = node.New(info("TestSyncError", "Test Sync Error", asyncCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").EmptyOptions()
	s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		return node.Raise("RuntimeError", "Intentional sync execution error for testing")
	}
})

// TestAsyncLazyCheck asks, through an async lazy check, for input1 when
// condition holds and for input2 when it does not; it outputs a white image.
var TestAsyncLazyCheck = node.New(info("TestAsyncLazyCheck", "Test Async Lazy Check", asyncCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("input1", "*").Lazy()
	s.AnyOf("input2", "*").Lazy()
	s.Bool("condition").Default(true)
	out := node.Output(s, node.Image, "IMAGE")
	s.CheckLazy(func(ctx context.Context, c *node.Call) ([]string, error) {
		if err := sleep(ctx, asyncCheckDelay); err != nil {
			return nil, err
		}
		cond, err := truth(c, "condition")
		if err != nil {
			return nil, err
		}
		var needed []string
		if cond && input(c, "input1") == nil {
			needed = append(needed, "input1")
		}
		if !cond && input(c, "input2") == nil {
			needed = append(needed, "input2")
		}
		return needed, nil
	})
	return func(ctx context.Context, c *node.Call) error {
		img, err := onesTimes()
		if err != nil {
			return err
		}
		c.SetOutput(out.Index(), img)
		return nil
	}
})

// TestDynamicAsyncGeneration expands into num_async_nodes TestSleep
// (alternating image1 and image2) averaged by a TestVariadicAverage, or the
// single TestSleep when there is one.
var TestDynamicAsyncGeneration = node.New(info("TestDynamicAsyncGeneration", "Test Dynamic Async Generation", asyncCategory), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "image1")
	node.Socket(s, node.Image, "image2")
	count := s.Int("num_async_nodes").Default(3).Min(1).Max(10)
	s.Float("sleep_duration").Default(0.2).Min(0.1).Max(1)
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		n := count.Get(c)
		if n < 1 {
			return node.Raise("IndexError", "list index out of range")
		}
		g := c.NewGraph()
		var sleeps []*node.GraphNode
		for i := range n {
			image := input(c, "image1")
			if i%2 == 1 {
				image = input(c, "image2")
			}
			sleeps = append(sleeps, g.Node("TestSleep", "").Set("value", image).Set("seconds", input(c, "sleep_duration")))
		}
		final := sleeps[0]
		if n > 1 {
			final = average(g, sleeps)
		}
		out.SetLink(c, final.Out(0))
		c.Expand(g)
		return nil
	}
})

// resources are the resource ids TestAsyncResourceUser nodes hold, shared by
// all of them as the Python class attribute is.
var resources = struct {
	sync.Mutex
	busy map[string]bool
}{busy: map[string]bool{}}

// TestAsyncResourceUser holds resource_id for duration seconds, failing if
// another node holds it.
var TestAsyncResourceUser = node.New(async(info("TestAsyncResourceUser", "Test Async Resource User", asyncCategory)), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").EmptyOptions()
	id := s.String("resource_id").Default("resource_0")
	duration := s.Float("duration").Default(0.1).Min(0).Max(1)
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		rid := id.Get(c)
		resources.Lock()
		if resources.busy[rid] {
			resources.Unlock()
			return node.Raise("RuntimeError", "Resource %s is already in use!", rid)
		}
		resources.busy[rid] = true
		resources.Unlock()
		defer func() {
			resources.Lock()
			resources.busy[rid] = false
			resources.Unlock()
		}()
		if err := sleep(ctx, seconds(duration.Get(c))); err != nil {
			return err
		}
		out.Set(c, input(c, "value"))
		return nil
	}
})

// TestAsyncBatchProcessing inverts a batch one image at a time, sleeping
// process_time_per_item before each and reporting progress.
var TestAsyncBatchProcessing = node.New(async(info("TestAsyncBatchProcessing", "Test Async Batch Processing", asyncCategory)), func(s *node.Schema) node.RunFunc {
	node.Socket(s, node.Image, "images")
	perItem := s.Float("process_time_per_item").Default(0.1).Min(0.01).Max(1)
	s.Hidden("unique_id", node.HiddenUniqueID)
	out := node.Output(s, node.Image, "IMAGE")
	return func(ctx context.Context, c *node.Call) error {
		images := input(c, "images")
		a, ok := asArray(images)
		if !ok || len(a.shape) == 0 {
			return node.Raise("AttributeError", "'%s' object has no attribute 'shape'", pyTypeName(images))
		}
		batch := a.shape[0]
		if batch == 0 {
			return node.Raise("RuntimeError", "torch.cat(): expected a non-empty list of Tensors")
		}
		bar := newProgressBar(c, float64(batch))
		frame := len(a.data) / batch
		inverted := array{append([]int(nil), a.shape...), make([]float32, len(a.data))}
		for i := range batch {
			if err := sleep(ctx, seconds(perItem.Get(c))); err != nil {
				return err
			}
			for k := i * frame; k < (i+1)*frame; k++ {
				inverted.data[k] = 1 - a.data[k]
			}
			bar.update(1)
		}
		c.SetOutput(out.Index(), inverted.value())
		return nil
	}
})

// concurrencyLimit lets two TestAsyncConcurrentLimit nodes run at a time,
// all of them sharing it as the Python class's semaphore.
var concurrencyLimit = make(chan struct{}, 2)

// TestAsyncConcurrentLimit waits duration seconds while holding one of two
// shared slots, and outputs its value.
var TestAsyncConcurrentLimit = node.New(async(info("TestAsyncConcurrentLimit", "Test Async Concurrent Limit", asyncCategory)), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*").EmptyOptions()
	duration := s.Float("duration").Default(0.5).Min(0.1).Max(2)
	s.Int("node_id").Default(0)
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		select {
		case concurrencyLimit <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-concurrencyLimit }()
		if err := sleep(ctx, seconds(duration.Get(c))); err != nil {
			return err
		}
		out.Set(c, input(c, "value"))
		return nil
	}
})
