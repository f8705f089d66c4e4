package executor

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

// distinct gives every node a literal input with its id, so that no two
// nodes share a cache key (identical nodes are one computation to the
// cache, which would serve the second from the first).
func distinct(p *node.Prompt) {
	for _, id := range p.IDs() {
		n, _ := p.Node(id)
		n.SetInput("tag", id)
	}
}

// TestExecutionOrderOracle runs random multi-branch prompts and compares
// the order of executing events with the order ComfyUI v0.27.0's own
// ExecutionList stages them in (testdata/order_cases.json, produced by
// testdata/order_oracle.py from comfy_execution/graph.py).
func TestExecutionOrderOracle(t *testing.T) {
	data, err := os.ReadFile("testdata/order_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Prompt  json.RawMessage
		Outputs []string
		Order   []string
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []CacheMode{Classic, None} {
		rn := newRunner(t, Config{Cache: mode})
		for i, c := range cases {
			rn.ex.Reset()
			p := mustPrompt(t, string(c.Prompt))
			distinct(p)
			r := rn.runJob(Job{Prompt: p, ClientID: "client", Outputs: c.Outputs})
			if !r.Success {
				t.Fatalf("case %d failed: %v", i, r.Error)
			}
			eq(t, fmt.Sprintf("%s order of case %d", mode, i), r.ran(), c.Order)
		}
	}
}

// TestExecutionOrderWorkedExample: §3.13's pick — "1" first because it
// blocks an output.
func TestExecutionOrderWorkedExample(t *testing.T) {
	rn := newRunner(t, Config{})
	eq(t, "order", rn.run(workedExample).ran(), []string{"1", "2"})
}

// TestExecutionOrderPickRules exercises each rule of ux_friendly_pick_node
// on hand-checked prompts.
func TestExecutionOrderPickRules(t *testing.T) {
	for _, tc := range []struct {
		name, prompt string
		outputs      []string
		want         []string
	}{{
		// add_node("9") pends 9, then its sources from the last input back
		// (the DFS pops what it pushed last): 3, 2, 1. All three block the
		// output; rule 2 takes the first ready, 3.
		name: "fan-in",
		prompt: `{"1": {"class_type": "Op", "inputs": {}}, "2": {"class_type": "Op", "inputs": {}},
		          "3": {"class_type": "Op", "inputs": {}},
		          "9": {"class_type": "Out", "inputs": {"a": ["1", 0], "b": ["2", 0], "c": ["3", 0]}}}`,
		outputs: []string{"9"},
		want:    []string{"3", "2", "1", "9"},
	}, {
		// Pending order 9, 6, 4, 2, 7, 5; ready 2 and 5. Neither blocks an
		// output; 5 blocks 7, which does (rule 3), so 5 goes before 2, and
		// then 7 (rule 2) before 2.
		name: "two-step",
		prompt: `{"9": {"class_type": "Out", "inputs": {"a": ["7", 0], "b": ["6", 0]}},
		          "7": {"class_type": "Op", "inputs": {"a": ["5", 0]}}, "5": {"class_type": "Op", "inputs": {}},
		          "6": {"class_type": "Op", "inputs": {"a": ["4", 0]}}, "4": {"class_type": "Op", "inputs": {"a": ["2", 0]}},
		          "2": {"class_type": "Op", "inputs": {}}}`,
		outputs: []string{"9"},
		want:    []string{"5", "7", "2", "4", "6", "9"},
	}, {
		// An output ready among others goes first (rule 1): 8 needs only 1.
		name: "output-first",
		prompt: `{"1": {"class_type": "Op", "inputs": {}}, "2": {"class_type": "Op", "inputs": {"a": ["1", 0]}},
		          "8": {"class_type": "Out", "inputs": {"a": ["1", 0]}},
		          "9": {"class_type": "Out", "inputs": {"a": ["2", 0]}}}`,
		outputs: []string{"9", "8"},
		want:    []string{"1", "8", "2", "9"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rn := newRunner(t, Config{})
			p := mustPrompt(t, tc.prompt)
			distinct(p)
			eq(t, "order", rn.runJob(Job{Prompt: p, ClientID: "client", Outputs: tc.outputs}).ran(), tc.want)
		})
	}
}
