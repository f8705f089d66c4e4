package executor

import (
	"context"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

// dynamicNode has V3 dynamic inputs: it outputs the sum of its autogrow
// values plus the "add" option's k.
var dynamicNode = node.New(node.Info{ID: "Dynamic", Module: "custom_nodes.testing", Format: node.V3},
	func(s *node.Schema) node.RunFunc {
		values := s.Autogrow("values", func(t *node.Schema) { t.Float("v") }, node.Names(1, "a", "b", "c"))
		var k *node.FloatInput
		mode := s.DynamicCombo("mode",
			node.Choice("add", func(t *node.Schema) { k = t.Float("k") }),
			node.Choice("none", nil))
		out := node.Output(s, node.Float, "FLOAT")
		return func(ctx context.Context, c *node.Call) error {
			sum := 0.0
			for _, v := range values.Values(c) {
				sum += v.(float64) // converted by the template's type
			}
			if key, _ := mode.Get(c); key == "add" {
				sum += k.Get(c)
			}
			out.Set(c, sum)
			return nil
		}
	})

// TestDynamicInputs: dotted literals reach the node converted by the
// finalized input's type; dotted names nothing declares are dropped.
func TestDynamicInputs(t *testing.T) {
	rn := newRunner(t, Config{})
	rn.pack.reg.MustAdd(dynamicNode)
	r := rn.run(`{
 "1": {"class_type": "StubFloat", "inputs": {"value": 2}},
 "2": {"class_type": "Dynamic", "inputs": {"values.a": 1, "values.c": ["1", 0], "values.zz": "x", "mode": "add", "mode.k": 0.5}},
 "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}}
}`)
	if !r.Success {
		t.Fatal(r.Error)
	}
	eq(t, "sum", uiValues(t, r, "3"), []any{3.5})
}
