package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gocomfy/gocomfy/internal/graph"
	"github.com/gocomfy/gocomfy/node"
)

// Bodies quoted from the spec (comfyui-execution.md §2.6,
// comfyui-http-ws.md §4.2), independent of the golden files.
func TestSpecBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, prompt, want string
	}{
		{"exec_2.6_example", `{"9": {"class_type": "SaveImage", "inputs": {}}}`,
			`{"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", ` +
				`"details": "Required input is missing: images", "extra_info": {}}, ` +
				`"node_errors": {"9": {"errors": [{"type": "required_input_missing", "message": "Required input is missing", ` +
				`"details": "images", "extra_info": {"input_name": "images"}}], "dependent_outputs": ["9"], "class_type": "SaveImage"}}}`},
		{"http_4.2_missing_node_type", `{"12": {"class_type": "FooLoader", "inputs": {}, "_meta": {"title": "Load Foo"}}}`,
			`{"error": {"type": "missing_node_type", "message": "Node 'Load Foo' not found. The custom node may not be installed.", ` +
				`"details": "Node ID '#12'", "extra_info": {"node_id": "12", "class_type": "FooLoader", "node_title": "Load Foo"}}, "node_errors": {}}`},
		{"http_4.2_prompt_no_outputs", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}}`,
			`{"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "", "extra_info": {}}, "node_errors": {}}`},
	} {
		r, _ := validate(t, tc.prompt, nil)
		got := marshal(t, map[string]any{"error": r.Error, "node_errors": r.NodeErrors})
		if got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}

	// The real capture of comfyui-http-ws.md §4.2 (ComfyUI's error order
	// comes from a Python set; each error must match).
	r, _ := validate(t, `{"1": {"class_type": "StubImage", "inputs": {"content": "PURPLE", "height": 512, "width": 512}},
		"3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil)
	ne, ok := r.NodeErrors.Get("1")
	if !ok || len(ne.Errors) != 2 {
		t.Fatalf("node_errors = %s", marshal(t, r.NodeErrors))
	}
	for _, want := range []string{
		`{"type": "required_input_missing", "message": "Required input is missing", "details": "batch_size", "extra_info": {"input_name": "batch_size"}}`,
		`{"type": "value_not_in_list", "message": "Value not in list", "details": "content: 'PURPLE' not in ['WHITE', 'BLACK', 'NOISE']", "extra_info": {"input_name": "content", "input_config": [["WHITE", "BLACK", "NOISE"], {}], "received_value": "PURPLE"}}`,
	} {
		if got0, got1 := marshal(t, ne.Errors[0]), marshal(t, ne.Errors[1]); got0 != want && got1 != want {
			t.Errorf("missing error %s", want)
		}
	}
	if r.Error.Details != "" || strings.Join(ne.DependentOutputs, ",") != "3" {
		t.Errorf("details %q, dependent_outputs %v", r.Error.Details, ne.DependentOutputs)
	}
}

// chain returns a prompt of n ChainLink nodes, each linked to the previous
// one, under a single output listed first; the first node's literal is bad
// when bad is set, so that its error must travel the whole chain.
func chain(n int, bad bool) *node.Prompt {
	p := node.NewPrompt()
	link := func(id int) []any { return []any{strconv.Itoa(id), json.Number("0")} }
	p.Set(&node.PromptNode{ID: "out", ClassType: "Widgets", HasClassType: true,
		Inputs: []node.Input{{Name: "int", Value: link(n - 1)}}})
	var first any = json.Number("1")
	if bad {
		first = "x"
	}
	p.Set(&node.PromptNode{ID: "0", ClassType: "ChainLink", HasClassType: true,
		Inputs: []node.Input{{Name: "value", Value: first}}})
	for i := 1; i < n; i++ {
		p.Set(&node.PromptNode{ID: strconv.Itoa(i), ClassType: "ChainLink", HasClassType: true,
			Inputs: []node.Input{{Name: "value", Value: link(i - 1)}}})
	}
	return p
}

// A 2,000-node chain (ComfyUI's test_validate_inputs_deep_acyclic_chain)
// and a 100,000-node one validate without deep recursion; an error at the
// far end is reported on that node only.
func TestDeepChains(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2000, 100_000} {
		r := graph.Validate(context.Background(), registry, chain(n, false), nil)
		if r.Error != nil || len(r.NodeErrors) != 0 || strings.Join(r.Outputs, ",") != "out" {
			t.Errorf("chain of %d: %+v", n, r)
		}
		r = graph.Validate(context.Background(), registry, chain(n, true), nil)
		if r.Error == nil || len(r.NodeErrors) != 1 || r.NodeErrors[0].NodeID != "0" ||
			r.NodeErrors[0].Errors[0].Type != "invalid_input_type" {
			t.Errorf("bad chain of %d: error %+v, node_errors %s", n, r.Error, marshal(t, r.NodeErrors))
		}
	}
}

// A cycle closed at the end of a 10,000-node chain: every node of the
// cycle is flagged with the same path.
func TestLongCycle(t *testing.T) {
	t.Parallel()
	const n = 10_000
	p := chain(n, false)
	zero, _ := p.Node("0")
	zero.Inputs[0].Value = []any{strconv.Itoa(n - 1), json.Number("0")}
	r := graph.Validate(context.Background(), registry, p, nil)
	if r.Error == nil || r.Error.Type != "prompt_outputs_failed_validation" || len(r.NodeErrors) != n {
		t.Fatalf("error %+v, %d node errors", r.Error, len(r.NodeErrors))
	}
	e := r.NodeErrors[0].Errors[0]
	if e.Type != "dependency_cycle" || !strings.HasPrefix(e.Details, "9999 (ChainLink) -> 9998 (ChainLink) -> ") ||
		!strings.HasSuffix(e.Details, "-> 0 (ChainLink) -> 9999 (ChainLink)") {
		t.Errorf("cycle error %s ... %s", e.Type, e.Details[:80])
	}
	if nodes, _ := e.ExtraInfo.Get("cycle_nodes"); len(nodes.([]string)) != n {
		t.Errorf("cycle_nodes has %d ids", len(nodes.([]string)))
	}
}

// ComfyUI's test_validate_inputs_reports_dependency_cycles, checked
// field by field.
func TestCycleDetailsString(t *testing.T) {
	t.Parallel()
	r, _ := validate(t, `{"0": {"class_type": "CycleValidationLink", "inputs": {"value": ["1", 0]}},
		"1": {"class_type": "CycleValidationLink", "inputs": {"value": ["0", 0]}}}`, []string{"0"})
	if r.Error == nil || len(r.NodeErrors) != 2 {
		t.Fatalf("error %+v, node_errors %s", r.Error, marshal(t, r.NodeErrors))
	}
	for i, ne := range r.NodeErrors {
		e := ne.Errors[0]
		nodes, _ := e.ExtraInfo.Get("cycle_nodes")
		if ne.NodeID != strconv.Itoa(i) || e.Type != "dependency_cycle" ||
			e.Details != "0 (CycleValidationLink) -> 1 (CycleValidationLink) -> 0 (CycleValidationLink)" ||
			strings.Join(nodes.([]string), ",") != "0,1" {
			t.Errorf("node %s: %s", ne.NodeID, marshal(t, e))
		}
	}
}

// The memo is shared across outputs: a node feeding two outputs is
// validated (and its validator called) once.
func TestMemoSharedAcrossOutputs(t *testing.T) {
	before := validatorCalls.Load()
	r, _ := validate(t, `{"1": {"class_type": "Counted", "inputs": {"value": 1}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
		"3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil)
	if r.Error != nil || strings.Join(r.Outputs, ",") != "2,3" {
		t.Fatalf("%+v", r)
	}
	if calls := validatorCalls.Load() - before; calls != 1 {
		t.Errorf("validator called %d times, want 1", calls)
	}
}

// A custom validator sees converted literals (int64, float64, string,
// bool), one-element lists for an InputIsList class, and no linked values.
func TestValidatorInputs(t *testing.T) {
	t.Parallel()
	var seen map[string]any
	reg := node.NewRegistry()
	reg.MustAdd(
		class(node.Info{ID: "Recorder", InputIsList: true, OutputNode: true}, func(s *node.Schema) {
			s.Int("int")
			s.Float("float")
			s.String("string")
			s.Bool("bool")
			node.Socket(s, node.Image, "image")
			s.ValidateInputs(func(_ context.Context, c *node.Call) error {
				seen = map[string]any{}
				for _, name := range c.InputNames() {
					seen[name], _ = c.Input(name)
				}
				return nil
			}, node.ValidateOptions{AllInputs: true})
		}),
		class(node.Info{ID: "Source"}, func(s *node.Schema) { node.Output(s, node.Image, "IMAGE") }),
	)
	p, err := node.ParsePrompt([]byte(`{"0": {"class_type": "Source", "inputs": {}},
		"1": {"class_type": "Recorder", "inputs": {"int": "18446744073709551615", "float": 2, "string": 5,
			"bool": 1, "image": ["0", 0], "undeclared": 3}}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := graph.Validate(context.Background(), reg, p, nil)
	if r.Error != nil {
		t.Fatalf("%+v", r.Error)
	}
	want := "map[bool:[true] float:[2] int:[18446744073709551615] string:[5]]"
	if got := fmt.Sprint(seen); got != want {
		t.Errorf("validator saw %s, want %s", got, want)
	}
	for name, typ := range map[string]string{"int": "uint64", "float": "float64", "string": "string", "bool": "bool"} {
		if got := fmt.Sprintf("%T", seen[name].([]any)[0]); got != typ {
			t.Errorf("%s is a %s, want %s", name, got, typ)
		}
	}
}

// Validate keeps no state between calls: concurrent calls on a shared
// registry are safe (run with -race).
func TestConcurrentValidate(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, tc := range goldenCases[:20] {
				p, err := node.ParsePrompt([]byte(tc.prompt))
				if err != nil {
					t.Error(err)
					return
				}
				graph.Validate(context.Background(), registry, p, tc.targets)
			}
		})
	}
	wg.Wait()
}
