package testnodes

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
)

// The nodes of util.py: accumulations (the pack's list value), conversions
// between them and engine lists, integer arithmetic, and the for loop built
// on the while loop.

const (
	listsCategory = "Testing/Lists"
	logicCategory = "Testing/Logic"
)

// Accumulation is the pack's ACCUMULATION value, the Python dict
// {"accum": [...]}. Nodes never change one; they make a new one.
type Accumulation struct{ Accum []any }

// accumOf returns accumulation["accum"]. A literal dict with an "accum" list
// works too, as it does in Python.
func accumOf(v any) ([]any, error) {
	switch v := v.(type) {
	case Accumulation:
		return v.Accum, nil
	case map[string]any:
		list, ok := v["accum"]
		if !ok {
			return nil, node.Raise("KeyError", "'accum'")
		}
		if l, ok := list.([]any); ok {
			return l, nil
		}
		return nil, node.Raise("TypeError", "accum is a %s, not a list", pyTypeName(list))
	}
	return nil, node.Raise("TypeError", "'%s' object is not subscriptable", pyTypeName(v))
}

// accumulationClass declares a VariantSupport class whose first input is the
// ACCUMULATION "accumulation"; declare adds the rest, and run gets the list.
func accumulationClass(i node.Info, declare func(s *node.Schema), run func(c *node.Call, accum []any) error) *node.Class {
	return variant(i, func(s *node.Schema) node.RunFunc {
		s.AnyOf("accumulation", "ACCUMULATION")
		declare(s)
		return func(ctx context.Context, c *node.Call) error {
			accum, err := accumOf(input(c, "accumulation"))
			if err != nil {
				return err
			}
			return run(c, accum)
		}
	})
}

// TestAccumulateNode appends to_add to accumulation (or starts one).
var TestAccumulateNode = variant(info("TestAccumulateNode", "Accumulate", listsCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("to_add", "*")
	s.AnyOf("accumulation", "ACCUMULATION").Optional()
	s.OutputOf("ACCUMULATION", "ACCUMULATION")
	return func(ctx context.Context, c *node.Call) error {
		var accum []any
		if prev := input(c, "accumulation"); prev != nil {
			var err error
			if accum, err = accumOf(prev); err != nil {
				return err
			}
		}
		next := append(append([]any(nil), accum...), input(c, "to_add"))
		c.SetOutput(0, Accumulation{next})
		return nil
	}
})

// TestAccumulationHeadNode splits off the first value: (rest, first), or
// (accumulation, None) when it is empty.
var TestAccumulationHeadNode = accumulationClass(info("TestAccumulationHeadNode", "Accumulation Head", listsCategory),
	func(s *node.Schema) {
		s.OutputOf("ACCUMULATION", "ACCUMULATION")
		s.OutputOf("*", "*")
	},
	func(c *node.Call, accum []any) error {
		if len(accum) == 0 {
			c.SetOutput(0, input(c, "accumulation"))
			c.SetOutput(1, nil)
			return nil
		}
		c.SetOutput(0, Accumulation{accum[1:]})
		c.SetOutput(1, accum[0])
		return nil
	})

// TestAccumulationTailNode splits off the last value: (rest, last). When the
// accumulation is empty it returns (None, accumulation), the other way round
// from the head node, as the pack does; and unlike the other accumulation
// nodes it has no VariantSupport.
var TestAccumulationTailNode = node.New(info("TestAccumulationTailNode", "Accumulation Tail", listsCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("accumulation", "ACCUMULATION")
	s.OutputOf("ACCUMULATION", "ACCUMULATION")
	s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		accum, err := accumOf(input(c, "accumulation"))
		if err != nil {
			return err
		}
		if len(accum) == 0 {
			c.SetOutput(0, nil)
			c.SetOutput(1, input(c, "accumulation"))
			return nil
		}
		c.SetOutput(0, Accumulation{accum[:len(accum)-1]})
		c.SetOutput(1, accum[len(accum)-1])
		return nil
	}
})

// TestAccumulationToListNode turns an accumulation into an engine list
// (OUTPUT_IS_LIST): downstream nodes run once per value.
var TestAccumulationToListNode = accumulationClass(info("TestAccumulationToListNode", "Accumulation to List", listsCategory),
	func(s *node.Schema) { s.OutputOf("*", "*").List() },
	func(c *node.Call, accum []any) error {
		c.SetOutput(0, append([]any{}, accum...))
		return nil
	})

// TestListToAccumulationNode collects an engine list (INPUT_IS_LIST) into an
// accumulation.
var TestListToAccumulationNode = variant(inputIsList(info("TestListToAccumulationNode", "List to Accumulation", listsCategory)), func(s *node.Schema) node.RunFunc {
	list := s.AnyOf("list", "*")
	s.OutputOf("ACCUMULATION", "ACCUMULATION")
	return func(ctx context.Context, c *node.Call) error {
		c.SetOutput(0, Accumulation{list.List(c)})
		return nil
	}
})

func inputIsList(i node.Info) node.Info {
	i.InputIsList = true
	return i
}

// TestAccumulationGetLengthNode outputs the number of values.
var TestAccumulationGetLengthNode = accumulationClass(info("TestAccumulationGetLengthNode", "Accumulation Get Length", listsCategory),
	func(s *node.Schema) { s.OutputOf("INT", "INT") },
	func(c *node.Call, accum []any) error {
		c.SetOutput(0, int64(len(accum)))
		return nil
	})

// TestAccumulationGetItemNode outputs the value at index (Python indexing:
// negative counts from the end).
var TestAccumulationGetItemNode = accumulationClass(info("TestAccumulationGetItemNode", "Accumulation Get Item", listsCategory),
	func(s *node.Schema) {
		s.Int("index").Default(0).Step(1)
		s.OutputOf("*", "*")
	},
	func(c *node.Call, accum []any) error {
		i, err := indexInput(c, len(accum), "list index out of range")
		if err != nil {
			return err
		}
		c.SetOutput(0, accum[i])
		return nil
	})

// TestAccumulationSetItemNode outputs a copy with the value at index
// replaced.
var TestAccumulationSetItemNode = accumulationClass(info("TestAccumulationSetItemNode", "Accumulation Set Item", listsCategory),
	func(s *node.Schema) {
		s.Int("index").Default(0).Step(1)
		s.AnyOf("value", "*")
		s.OutputOf("ACCUMULATION", "ACCUMULATION")
	},
	func(c *node.Call, accum []any) error {
		i, err := indexInput(c, len(accum), "list assignment index out of range")
		if err != nil {
			return err
		}
		next := append([]any(nil), accum...)
		next[i] = input(c, "value")
		c.SetOutput(0, Accumulation{next})
		return nil
	})

// indexInput reads the "index" input as a Python index into a list of n
// values (negative counts from the end). Out of range is an IndexError
// saying outOfRange, which differs between reading and assigning.
func indexInput(c *node.Call, n int, outOfRange string) (int, error) {
	v := input(c, "index")
	i, ok := pyInt(v)
	if !ok {
		return 0, node.Raise("TypeError", "list indices must be integers or slices, not %s", pyTypeName(v))
	}
	if !i.IsInt64() {
		return 0, node.Raise("IndexError", "cannot fit 'int' into an index-sized integer")
	}
	j := i.Int64()
	if j < 0 {
		j += int64(n)
	}
	if j < 0 || j >= int64(n) {
		return 0, node.Raise("IndexError", "%s", outOfRange)
	}
	return int(j), nil
}

// wideInt declares an INT widget over ±0xffffffffffffffff, as the pack's
// integer math and condition nodes have.
func wideInt(s *node.Schema, name string) {
	in := s.Int(name).Default(0).Option("min", json.Number("-18446744073709551615"))
	in.Def().Min = "-18446744073709551615"
	in.MaxUint64(0xffffffffffffffff).Step(1)
}

// TestIntMathOperation computes a <operation> b with Python's integer
// semantics: floor division, a modulo with the sign of the divisor, and a
// float for negative powers.
var TestIntMathOperation = node.New(info("TestIntMathOperation", "Int Math Operation", logicCategory), func(s *node.Schema) node.RunFunc {
	wideInt(s, "a")
	wideInt(s, "b")
	op := s.Combo("operation", "add", "subtract", "multiply", "divide", "modulo", "power")
	out := node.Output(s, node.Int, "INT")
	operators := map[string]string{"add": "+", "subtract": "-", "multiply": "*", "divide": "//", "modulo": "%", "power": "**"}
	return computed(out.Index(), func(c *node.Call) (any, error) {
		operator, ok := operators[op.Get(c)]
		if !ok {
			return nil, node.Raise("TypeError", "object of type 'NoneType' has no len()")
		}
		return arith(operator, input(c, "a"), input(c, "b"))
	})
})

// TestForLoopOpen starts a for loop of remaining iterations. It outputs the
// flow-control stub, remaining and its initial values; a clone made by the
// loop gets the count left in the hidden initial_value0. Its expansion (a
// TestWhileLoopOpen) feeds nothing and never runs; the pack builds it anyway.
var TestForLoopOpen = variant(info("TestForLoopOpen", "For Loop Open", flowCategory), func(s *node.Schema) node.RunFunc {
	s.Int("remaining").Default(1).Min(0).Max(100000).Step(1)
	for i := 1; i < flowSockets; i++ {
		s.AnyOf(initialValue(i), "*").Optional()
	}
	s.Hidden(initialValue(0), "*").Tuple()
	s.OutputOf("FLOW_CONTROL", "flow_control")
	s.OutputOf("INT", "remaining")
	for i := 1; i < flowSockets; i++ {
		s.OutputOf("*", fmt.Sprintf("value%d", i))
	}
	return func(ctx context.Context, c *node.Call) error {
		remaining, ok := c.Input(initialValue(0))
		if !ok {
			remaining = input(c, "remaining")
		}
		g := c.NewGraph()
		open := g.Node("TestWhileLoopOpen", "").Set("condition", remaining).Set(initialValue(0), remaining)
		c.SetOutput(0, "stub")
		c.SetOutput(1, remaining)
		for i := 1; i < flowSockets; i++ {
			v := input(c, initialValue(i))
			open.Set(initialValue(i), v)
			c.SetOutput(1+i, v)
		}
		c.Expand(g)
		return nil
	}
})

// TestForLoopClose ends a for loop: it expands into remaining - 1 →
// TestToBoolNode → TestWhileLoopClose, with the loop values passed as links
// (rawLink) so that the while loop's body is the for loop's.
var TestForLoopClose = variant(info("TestForLoopClose", "For Loop Close", flowCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("flow_control", "FLOW_CONTROL").RawLink()
	for i := 1; i < flowSockets; i++ {
		s.AnyOf(initialValue(i), "*").Optional().RawLink()
	}
	for i := 1; i < flowSockets; i++ {
		s.OutputOf("*", fmt.Sprintf("value%d", i))
	}
	return func(ctx context.Context, c *node.Call) error {
		flow := input(c, "flow_control")
		open, ok, _ := node.AsLink(flow)
		if !ok {
			return node.Raise("TypeError", "flow_control is not a link to a loop open node")
		}
		g := c.NewGraph()
		sub := g.Node("TestIntMathOperation", "").Set("operation", "subtract").Set("a", node.Link{From: open.From, Slot: 1}).Set("b", int64(1))
		cond := g.Node("TestToBoolNode", "").Set("value", sub.Out(0))
		closeNode := g.Node("TestWhileLoopClose", "").
			Set("flow_control", flow).
			Set("condition", cond.Out(0)).
			Set(initialValue(0), sub.Out(0))
		for i := 1; i < flowSockets; i++ {
			closeNode.Set(initialValue(i), input(c, initialValue(i)))
			c.SetOutput(i-1, closeNode.Out(i))
		}
		c.Expand(g)
		return nil
	}
})

// listSockets is the pack's NUM_LIST_SOCKETS.
const listSockets = 10

// TestMakeListNode outputs its values as an engine list (OUTPUT_IS_LIST).
// The pack declares value1 both required and optional, with value2..value9
// optional too; the SDK refuses duplicate names, so value1 is declared once,
// as required, which validates and runs the same. (Its loop also looks for a
// value0 that is never declared.)
var TestMakeListNode = variant(info("TestMakeListNode", "Make List", listsCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value1", "*")
	for i := 2; i < listSockets; i++ {
		s.AnyOf(fmt.Sprintf("value%d", i), "*").Optional()
	}
	s.OutputOf("*", "*").List()
	return func(ctx context.Context, c *node.Call) error {
		list := []any{}
		for i := range listSockets {
			if v, ok := c.Input(fmt.Sprintf("value%d", i)); ok {
				list = append(list, v)
			}
		}
		c.SetOutput(0, list)
		return nil
	}
})
