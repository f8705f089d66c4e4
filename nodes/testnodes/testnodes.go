// Package testnodes re-creates ComfyUI's execution test pack
// (tests/execution/testing_nodes/testing-pack): the stub, lazy, validation,
// flow-control, list, condition, async and progress nodes that ComfyUI's
// test_execution.py and test_async_nodes.py drive. Class names, inputs,
// options, outputs, categories, display names and behaviour are the pack's;
// the server registers them only with --enable-test-nodes.
//
// Values cross sockets as the SDK carries them: IMAGE as *tensor.Image, MASK
// as *tensor.Mask, INT as int64, FLOAT as float64, and the pack's ACCUMULATION
// as [Accumulation]. Where the pack leans on Python (truthiness, floor
// division, exception names and messages), the nodes mimic it; the few places
// where Go cannot are commented where they happen.
package testnodes

import (
	"context"

	"github.com/gocomfy/gocomfy/node"
)

// Module is python_module for every class of the pack: ComfyUI reports a
// custom node package as "custom_nodes.<folder name>".
const Module = "custom_nodes.testing-pack"

// Register adds every class of the pack to r, in the order of the pack's
// NODE_CLASS_MAPPINGS (specific tests, flow control, utilities, conditions,
// stubs, async, API).
func Register(r *node.Registry) {
	r.MustAdd(classes()...)
}

func classes() []*node.Class {
	return []*node.Class{
		// specific_tests.py
		TestLazyMixImages, TestVariadicAverage, TestCustomIsChanged, TestIsChangedWithConstants,
		TestCustomValidation1, TestCustomValidation2, TestCustomValidation3, TestCustomValidation4,
		TestCustomValidation5, TestDynamicDependencyCycle, TestMixedExpansionReturns,
		TestSamplingInExpansion, TestSleep, TestParallelSleep, TestOutputNodeWithSocketOutput,
		// flow_control.py
		TestWhileLoopOpen, TestWhileLoopClose, TestExecutionBlocker,
		// util.py
		TestAccumulateNode, TestAccumulationHeadNode, TestAccumulationTailNode, TestAccumulationToListNode,
		TestListToAccumulationNode, TestAccumulationGetLengthNode, TestAccumulationGetItemNode,
		TestAccumulationSetItemNode, TestForLoopOpen, TestForLoopClose, TestIntMathOperation, TestMakeListNode,
		// conditions.py
		TestIntConditions, TestFloatConditions, TestStringConditions, TestToBoolNode, TestBoolOperationNode,
		// stubs.py
		StubImage, StubConstantImage, StubMask, StubInt, StubFloat,
		// async_test_nodes.py
		TestAsyncValidation, TestAsyncError, TestAsyncValidationError, TestAsyncTimeout, TestSyncError,
		TestAsyncLazyCheck, TestDynamicAsyncGeneration, TestAsyncResourceUser, TestAsyncBatchProcessing,
		TestAsyncConcurrentLimit,
		// api_test_nodes.py
		TestAsyncProgressUpdate, TestSyncProgressUpdate,
	}
}

// info returns the Info of a pack class.
func info(id, displayName, category string) node.Info {
	return node.Info{ID: id, DisplayName: displayName, Category: category, Module: Module}
}

// outputNode marks a class OUTPUT_NODE.
func outputNode(i node.Info) node.Info {
	i.OutputNode = true
	return i
}

// async marks a class whose FUNCTION is an async def.
func async(i node.Info) node.Info {
	i.Async = true
	return i
}

// input returns the value of an input as the executor passed it (nil when
// absent, like a Python argument defaulting to None). The pack's nodes pass
// values through untouched, whatever their declared type, so most read
// inputs this way rather than through typed handles.
func input(c *node.Call, name string) any {
	v, _ := c.Input(name)
	return v
}

// computed is the run of a node whose one output, out, is what f returns.
func computed(out int, f func(c *node.Call) (any, error)) node.RunFunc {
	return func(ctx context.Context, c *node.Call) error {
		r, err := f(c)
		if err != nil {
			return err
		}
		c.SetOutput(out, r)
		return nil
	}
}

// truth returns the Python truth of an input: BOOLEAN inputs normally carry
// bools, but a "*" output can link anything into them, and the pack tests
// them with "if".
func truth(c *node.Call, name string) (bool, error) {
	return pyBool(input(c, name))
}
