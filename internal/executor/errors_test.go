package executor

import (
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/pyjson"
)

const failingPrompt = `{
 "1": {"class_type": "StubInt", "inputs": {"value": 3}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "Failing", "inputs": {"value": ["1", 0], "number": 7}},
 "4": {"class_type": "Show", "inputs": {"value": ["3", 0], "label": "b"}}
}`

// TestNodeError is test_error: the failing node's report, under each cache
// mode; current_outputs is every node id the cache knows (none under None).
func TestNodeError(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(failingPrompt)
			if r.Success || r.Interrupted {
				t.Fatalf("success=%v interrupted=%v", r.Success, r.Interrupted)
			}
			want := `{"prompt_id": "p1", "node_id": "3", "node_type": "Failing", "executed": ["1", "2"], "exception_message": "node failed on purpose\n", "exception_type": "ValueError", "traceback": ["  File \"custom_nodes.testing\", in Failing (node 3)\n"], "current_inputs": {"value": [3], "number": [7]}, "current_outputs": ["1", "2", "3", "4"], "timestamp": 1002}`
			if !m.caches {
				want = strings.Replace(want, `["1", "2", "3", "4"]`, "[]", 1)
			}
			if got := mustJSON(t, r.Error); got != want {
				t.Errorf("error = %s\nwant    %s", got, want)
			}
			last := r.Messages[len(r.Messages)-1]
			if last.Type != "execution_error" {
				t.Errorf("last message %s", last.Type)
			}
			eq(t, "outputs kept", outputIDs(r.Outputs), []string{"2"})
			// What completed before the error is reused.
			if m.caches {
				r = rn.run(failingPrompt)
				eq(t, "cached", r.cached(), []string{"1", "2"})
				eq(t, "ran", r.ran(), []string{"3"})
			}
		})
	}
}

// TestPanic: a node's panic is a RuntimeError with the Go stack as its
// traceback; the executor goes on with the next prompt.
func TestPanic(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "Panicking", "inputs": {"value": "x"}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}
}`)
	typ, _ := r.Error.Get("exception_type")
	msg, _ := r.Error.Get("exception_message")
	if typ != "RuntimeError" || msg != "assignment to entry in nil map\n" {
		t.Errorf("error = %v: %q", typ, msg)
	}
	tb, _ := r.Error.Get("traceback")
	lines := tb.([]string)
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "nodes_test.go") || !strings.HasPrefix(lines[0], "  File \"") {
		t.Errorf("traceback = %q", lines)
	}
	r = rn.run(workedExample)
	if !r.Success {
		t.Error("the next prompt failed")
	}
}

// TestInvalidLazyRequest: a lazy check asking for an input the node does
// not have is ComfyUI's NodeInputError.
func TestInvalidLazyRequest(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{"1": {"class_type": "InvalidLazy", "inputs": {}}}`, "1")
	typ, _ := r.Error.Get("exception_type")
	msg, _ := r.Error.Get("exception_message")
	if typ != "comfy_execution.graph.NodeInputError" ||
		msg != "Node 1 says it needs input nothing, but there is no input to that node at all\n" {
		t.Errorf("error = %v: %q", typ, msg)
	}
}

// TestFormatValue: current_inputs' format_value.
func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{int64(3), "3"},
		{1.0, "1.0"},
		{"s", `"s"`},
		{true, "true"},
		{[]any{"a", int64(1), 2.5, nil, true}, `"['a', 1, 2.5, None, True]"`},
		{map[string]any{"b": "it's", "a": []any{}}, `"{'a': [], 'b': \"it's\"}"`},
		{pyjson.Object{{Key: "z", Value: "x"}, {Key: "a", Value: "y"}}, `"{'z': 'x', 'a': 'y'}"`},
		{imageOf(0, 1, 2, 3), `"tensor(shape=[1, 2, 3, 3], dtype=float32)"`},
		{mustPrompt(t, `{"1": {"class_type": "X", "inputs": {"a": 1}}}`), `"{'1': {'inputs': {'a': 1}, 'class_type': 'X'}}"`},
	} {
		if got := mustJSON(t, formatValue(tc.in)); got != tc.want {
			t.Errorf("formatValue(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
