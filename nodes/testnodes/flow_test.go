package testnodes

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

// layered is a DynPrompt: expansions over the original prompt.
type layered []*node.Prompt

func (l layered) Node(id string) (*node.PromptNode, bool) {
	for _, p := range l {
		if n, ok := p.Node(id); ok {
			return n, true
		}
	}
	return nil, false
}

func parsePrompt(t *testing.T, s string) *node.Prompt {
	t.Helper()
	p, err := node.ParsePrompt([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func link(id string, slot int) []any { return []any{id, json.Number(strconv.Itoa(slot))} }

func TestWhileLoopOpenRun(t *testing.T) {
	t.Parallel()
	r := mustCall(t, TestWhileLoopOpen, map[string]any{"condition": true, "initial_value0": int64(3), "initial_value2": "x"})
	if got, want := outputs(r), `"stub" | 3 | <nil> | "x" | <nil> | <nil>`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestWhileLoopCloseDone(t *testing.T) {
	t.Parallel()
	rt := &node.Runtime{DynPrompt: layered{}}
	r, err := callWith(t, rt, TestWhileLoopClose, map[string]any{"flow_control": link("2", 0), "condition": false, "initial_value1": int64(4)})
	if err != nil || r.Expansion != nil {
		t.Fatalf("err %v, expansion %v", err, r.Expansion)
	}
	if got, want := outputs(r), "<nil> | 4 | <nil> | <nil> | <nil>"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	_, err = call(t, TestWhileLoopClose, map[string]any{"flow_control": link("2", 0), "condition": false})
	wantException(t, err, "AssertionError", "")
}

func TestWhileLoopCloseExpands(t *testing.T) {
	t.Parallel()
	p := parsePrompt(t, `{
		"1": {"class_type": "StubInt", "inputs": {"value": 0}},
		"2": {"class_type": "TestWhileLoopOpen", "inputs": {"condition": true, "initial_value0": ["1", 0]}},
		"3": {"class_type": "TestIntMathOperation", "inputs": {"a": ["2", 1], "b": 1, "operation": "add"}},
		"4": {"class_type": "TestIntConditions", "inputs": {"a": ["3", 0], "b": 5, "operation": "<"}},
		"5": {"class_type": "TestWhileLoopClose", "inputs": {"flow_control": ["2", 0], "condition": ["4", 0], "initial_value0": ["3", 0]}}
	}`)
	c := node.NewCall(&node.Runtime{DynPrompt: p}, "5", 0, map[string]any{
		"flow_control": link("2", 0), "condition": true, "initial_value0": int64(1),
	})
	if err := TestWhileLoopClose.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	r := c.Result()
	want := lines(
		"5.0.0.Recurse TestWhileLoopClose (on 5) flow_control=@5.0.0.2:0 condition=@5.0.0.4:0 initial_value0=@5.0.0.3:0",
		`5.0.0.3 TestIntMathOperation (on 3) a=@5.0.0.2:1 b=1 operation="add"`,
		`5.0.0.4 TestIntConditions (on 4) a=@5.0.0.3:0 b=5 operation="<"`,
		"5.0.0.2 TestWhileLoopOpen (on 2) condition=true initial_value0=1")
	if got := graph(r.Expansion); got != want {
		t.Errorf("graph:\n%s\nwant\n%s", got, want)
	}
	if got, want := outputs(r), "@5.0.0.Recurse:0 | @5.0.0.Recurse:1 | @5.0.0.Recurse:2 | @5.0.0.Recurse:3 | @5.0.0.Recurse:4"; got != want {
		t.Errorf("outputs %s, want %s", got, want)
	}
}

// TestForLoop follows test_for_loop's graph through the for loop's two
// expansions: TestForLoopClose's, then the while loop's first iteration.
func TestForLoop(t *testing.T) {
	t.Parallel()
	p := parsePrompt(t, `{
		"1": {"class_type": "StubImage", "inputs": {"content": "WHITE", "height": 2, "width": 2, "batch_size": 1}},
		"2": {"class_type": "TestCustomIsChanged", "inputs": {"image": ["1", 0], "should_change": true}},
		"3": {"class_type": "TestForLoopOpen", "inputs": {"remaining": 2, "initial_value1": ["2", 0]}},
		"4": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}},
		"5": {"class_type": "TestVariadicAverage", "inputs": {"input1": ["4", 0], "input2": ["3", 2]}},
		"6": {"class_type": "TestForLoopClose", "inputs": {"flow_control": ["3", 0], "initial_value1": ["5", 0]}},
		"7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0]}}
	}`)
	white := image(1, 2, 2, 1)

	open := node.NewCall(&node.Runtime{DynPrompt: p}, "3", 0, map[string]any{"remaining": int64(2), "initial_value1": white})
	if err := TestForLoopOpen.Run(context.Background(), open); err != nil {
		t.Fatal(err)
	}
	if got, want := outputs(open.Result()), `"stub" | 2 | image[1 2 2 3]=1 | <nil> | <nil> | <nil>`; got != want {
		t.Errorf("open outputs %s, want %s", got, want)
	}
	if got, want := graph(open.Result().Expansion), "3.0.0.1 TestWhileLoopOpen condition=2 initial_value0=2 initial_value1=image[1 2 2 3]=1\n"; got != want {
		t.Errorf("open graph %s, want %s", got, want)
	}

	closeCall := node.NewCall(&node.Runtime{DynPrompt: p}, "6", 0, map[string]any{
		"flow_control": link("3", 0), "initial_value1": link("5", 0),
	})
	if err := TestForLoopClose.Run(context.Background(), closeCall); err != nil {
		t.Fatal(err)
	}
	closeResult := closeCall.Result()
	want := lines(
		`6.0.0.1 TestIntMathOperation operation="subtract" a=@3:1 b=1`,
		"6.0.0.2 TestToBoolNode value=@6.0.0.1:0",
		"6.0.0.3 TestWhileLoopClose flow_control=@3:0 condition=@6.0.0.2:0 initial_value0=@6.0.0.1:0 initial_value1=@5:0")
	if got := graph(closeResult.Expansion); got != want {
		t.Errorf("close graph:\n%s\nwant\n%s", got, want)
	}
	if got, want := outputs(closeResult), "@6.0.0.3:1 | @6.0.0.3:2 | @6.0.0.3:3 | @6.0.0.3:4"; got != want {
		t.Errorf("close outputs %s, want %s", got, want)
	}

	dp := layered{closeResult.Expansion, p}
	loop := node.NewCall(&node.Runtime{DynPrompt: dp}, "6.0.0.3", 0, map[string]any{
		"flow_control": link("3", 0), "condition": true, "initial_value0": int64(1), "initial_value1": white,
	})
	if err := TestWhileLoopClose.Run(context.Background(), loop); err != nil {
		t.Fatal(err)
	}
	const pre = "6.0.0.3.0.0."
	want = lines(
		pre+"Recurse TestWhileLoopClose (on 6.0.0.3) flow_control=@"+pre+"3:0 condition=@"+pre+"6.0.0.2:0 initial_value0=@"+pre+"6.0.0.1:0 initial_value1=@"+pre+"5:0",
		pre+`6.0.0.1 TestIntMathOperation (on 6.0.0.1) operation="subtract" a=@`+pre+"3:1 b=1",
		pre+"6.0.0.2 TestToBoolNode (on 6.0.0.2) value=@"+pre+"6.0.0.1:0",
		pre+"5 TestVariadicAverage (on 5) input1=@4:0 input2=@"+pre+"3:2",
		pre+"3 TestForLoopOpen (on 3) remaining=2 initial_value1=image[1 2 2 3]=1 initial_value0=1")
	if got := graph(loop.Result().Expansion); got != want {
		t.Errorf("loop graph:\n%s\nwant\n%s", got, want)
	}

	// The clone of the open node, run with the count left.
	again := node.NewCall(nil, pre+"3", 0, map[string]any{"remaining": int64(2), "initial_value0": int64(1), "initial_value1": white})
	if err := TestForLoopOpen.Run(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if got, want := outputs(again.Result()), `"stub" | 1 | image[1 2 2 3]=1 | <nil> | <nil> | <nil>`; got != want {
		t.Errorf("cloned open outputs %s, want %s", got, want)
	}
}

func TestExecutionBlockerRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		values map[string]any
		want   any
	}{
		{map[string]any{"input": "x", "block": false, "verbose": true}, "x"},
		{map[string]any{"input": "x", "block": true, "verbose": true}, node.Blocker{Message: "Blocked Execution"}},
		{map[string]any{"input": "x", "block": true, "verbose": false}, node.Blocker{}},
	} {
		r := mustCall(t, TestExecutionBlocker, tc.values)
		got := r.Outputs[0]
		if b, ok := got.(*node.Blocker); ok {
			got = *b
		}
		if len(r.Outputs) != 1 || got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.values, r.Outputs, tc.want)
		}
	}
}
