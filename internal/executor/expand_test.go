package executor

import (
	"encoding/json"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// TestExpansion: the expander runs, its subgraph node runs under the
// expander's display id, and the expander's result link is replaced by the
// subgraph's value when it re-enters (without a second executing event).
func TestExpansion(t *testing.T) {
	const prompt = `{
 "1": {"class_type": "ExpandDouble", "inputs": {"value": 21}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "Show", "inputs": {"value": ["1", 1], "label": "v"}}
}`
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(prompt)
			eq(t, "ran", r.ran(), []string{"1", "1.0.0.1", "2", "3"})
			eq(t, "sum", uiValues(t, r, "2"), []any{int64(42)})
			eq(t, "value", uiValues(t, r, "3"), []any{int64(21)})
			for _, e := range r.events {
				if id, _ := e.Data.Get("node"); e.Type == "executing" && id == "1.0.0.1" {
					if d, _ := e.Data.Get("display_node"); d != "1" {
						t.Errorf("display_node = %v, want 1", d)
					}
				}
			}
			r = rn.run(prompt)
			if m.caches {
				eq(t, "second run", r.ran(), nil)
				eq(t, "cached", r.cached(), []string{"1", "2", "3"})
			} else {
				eq(t, "second run", r.ran(), []string{"1", "1.0.0.1", "2", "3"})
			}
		})
	}
}

// TestExpansionOutputNode: an output node of a subgraph is scheduled on its
// own (the expander does not wait for it); its history entry is under its
// ephemeral id, with its display id, parent and real id in meta.
func TestExpansionOutputNode(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{"5": {"class_type": "ExpandSave", "inputs": {"display_as": "9"}}}`, "5")
	eq(t, "ran", r.ran(), []string{"5", "5.0.0.img", "5.0.0.save"})
	eq(t, "outputs", outputIDs(r.Outputs), []string{"5.0.0.save"})
	meta, _ := r.Meta.Get("5.0.0.save")
	if got, want := mustJSON(t, meta), `{"node_id": "5.0.0.save", "display_node": "9", "parent_node": "5", "real_node_id": "5"}`; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	e, _ := r.find("executed")
	if d, _ := e.Data.Get("display_node"); d != "9" {
		t.Errorf("executed display_node = %v", d)
	}
}

// TestExpansionSubcaches: identical subgraph nodes of two expanders are two
// entries in the classic cache (a subcache per expander) but one in the
// flat LRU cache, where the second is a hit.
func TestExpansionSubcaches(t *testing.T) {
	const prompt = `{
 "1": {"class_type": "ExpandDouble", "inputs": {"value": 21, "tag": "a"}},
 "2": {"class_type": "ExpandDouble", "inputs": {"value": 21, "tag": "b"}},
 "3": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "4": {"class_type": "Show", "inputs": {"value": ["2", 0], "label": "b"}}
}`
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"classic", Config{Cache: Classic}, []string{"1", "2", "1.0.0.1", "3", "2.0.0.1", "4"}},
		{"lru", Config{Cache: LRU, LRUSize: 100}, []string{"1", "2", "1.0.0.1", "3", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rn := newRunner(t, tc.cfg)
			r := rn.run(prompt)
			eq(t, "ran", r.ran(), tc.want)
			eq(t, "shown", uiValues(t, r, "4"), []any{int64(42)})
		})
	}
}

// TestMixedExpansionReturns is test_mixed_expansion_returns on ints: over a
// list, some calls return plain results and others expand; the resolved
// results merge in call order.
func TestMixedExpansionReturns(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(`{
 "1": {"class_type": "MakeList", "inputs": {"value1": 1, "value2": 2, "value3": 3}},
 "2": {"class_type": "ExpandMixed", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}},
 "4": {"class_type": "Show", "inputs": {"value": ["2", 1], "label": "second"}}
}`)
			eq(t, "first", uiValues(t, r, "3"), []any{int64(1), int64(4), int64(6)})
			eq(t, "second", uiValues(t, r, "4"), []any{int64(-1), int64(-2), int64(-3)})
			eq(t, "ran", r.ran(), []string{"1", "2", "2.1.0.1", "2.2.0.1", "3", "4"})
		})
	}
}

// TestSplicedListResult: a result link to a list output is replaced by the
// list's items, which shifts the later values ([1, 2, 3, 9] for two
// outputs), as in ComfyUI.
func TestSplicedListResult(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "ExpandList", "inputs": {}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "Show", "inputs": {"value": ["1", 1], "label": "b"}}
}`)
	eq(t, "first", uiValues(t, r, "2"), []any{int64(1)})
	eq(t, "second", uiValues(t, r, "3"), []any{int64(2)})
}

// TestDynamicCycle is test_dynamic_cycle_error: a cycle that only exists in
// an expansion is reported at staging, blamed on the expander.
func TestDynamicCycle(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(`{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 4, "width": 4, "batch_size": 1}},
 "2": {"class_type": "StubImage", "inputs": {"content": "WHITE", "height": 4, "width": 4, "batch_size": 1}},
 "3": {"class_type": "ExpandCycle", "inputs": {"input1": ["1", 0], "input2": ["2", 0]}},
 "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}}
}`)
			if r.Success || r.Error == nil {
				t.Fatalf("success=%v error=%v", r.Success, r.Error)
			}
			got := mustJSON(t, pyjson.Object{r.Error[1], r.Error[2], r.Error[4], r.Error[5], r.Error[6], r.Error[7]})
			want := `{"node_id": "3", "node_type": "ExpandCycle", "exception_message": "Dependency cycle detected", "exception_type": "graph.DependencyCycleError", "traceback": [], "current_inputs": []}`
			if got != want {
				t.Errorf("error = %s\nwant %s", got, want)
			}
		})
	}
}

// TestRedefineEphemeral: redefining an ephemeral id overwrites it (ComfyUI
// dropped DuplicateNodeError) and changes the keys that read it.
func TestRedefineEphemeral(t *testing.T) {
	rn := newRunner(t, Config{})
	p := mustPrompt(t, `{"1": {"class_type": "Pass", "inputs": {}}}`)
	r := newRun(t.Context(), rn.ex, Job{PromptID: "x", Prompt: p}, nil)
	defer r.close()
	parent := r.dp.nodes["1"]
	intMathClass, _ := rn.pack.reg.Lookup("IntMath")
	passClass, _ := rn.pack.reg.Lookup("Pass")
	child := &node.PromptNode{ID: "1.0.0.1", ClassType: "IntMath", HasClassType: true,
		Inputs: []node.Input{{Name: "a", Value: int64(1)}, {Name: "b", Value: int64(2)}, {Name: "op", Value: "add"}}}
	user := &node.PromptNode{ID: "1.0.0.2", ClassType: "Pass", HasClassType: true,
		Inputs: []node.Input{{Name: "value", Value: []any{"1.0.0.1", json.Number("0")}}}}
	r.dp.addEphemeral(child, intMathClass, parent)
	u := r.dp.addEphemeral(user, passClass, parent)
	before := r.keys.key(u)
	child2 := *child
	child2.Inputs = []node.Input{{Name: "a", Value: int64(5)}, {Name: "b", Value: int64(2)}, {Name: "op", Value: "add"}}
	r.dp.addEphemeral(&child2, intMathClass, parent)
	if def, _ := r.dp.Node("1.0.0.1"); def != &child2 {
		t.Error("the redefinition did not replace the node")
	}
	if r.keys.key(u) == before {
		t.Error("a key that reads a redefined node did not change")
	}
	if len(r.dp.all) != 3 {
		t.Errorf("%d nodes, want 3", len(r.dp.all))
	}
}
