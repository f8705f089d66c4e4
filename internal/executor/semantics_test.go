package executor

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/pyjson"
)

// cacheModes are the modes ComfyUI's test-suite runs under.
var cacheModes = []struct {
	name string
	cfg  Config
	// caches: results survive to the next prompt.
	caches bool
}{
	{"classic", Config{Cache: Classic}, true},
	{"lru", Config{Cache: LRU, LRUSize: 100}, true},
	{"none", Config{Cache: None}, false},
}

func lazyPrompt(image1, image2 string, mask string) string {
	return fmt.Sprintf(`{
 "1": {"class_type": "StubImage", "inputs": {"content": %q, "height": 4, "width": 4, "batch_size": 1}},
 "2": {"class_type": "StubImage", "inputs": {"content": %q, "height": 4, "width": 4, "batch_size": 1}},
 "3": {"class_type": "StubMask", "inputs": {"value": %s, "height": 4, "width": 4, "batch_size": 1}},
 "4": {"class_type": "LazyMix", "inputs": {"image1": ["1", 0], "image2": ["2", 0], "mask": ["3", 0]}},
 "5": {"class_type": "Show", "inputs": {"value": ["4", 0]}}
}`, image1, image2, mask)
}

// TestLazyInput is test_lazy_input: the mask is 0, so only image1 is
// evaluated; the mix node is staged, returns PENDING after its lazy check,
// and is executed from scratch (executing sent again) once image1 is done.
func TestLazyInput(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(lazyPrompt("BLACK", "WHITE", "0.0"))
			eq(t, "ran", r.ran(), []string{"3", "4", "1", "4", "5"})
			eq(t, "shown", uiValues(t, r, "5"), []any{0.0})
		})
	}
}

// TestFullAndPartialCache are test_full_cache and test_partial_cache.
func TestFullAndPartialCache(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(lazyPrompt("BLACK", "NOISE", "0.5"))
			// The lazy check asks for image1 then image2 (ComfyUI's order is
			// that of a Python set, so arbitrary); both pend after 4, and 1
			// goes first (it blocks 4, which blocks the output).
			eq(t, "first run", r.ran(), []string{"3", "4", "1", "2", "4", "5"})
			eq(t, "shown", uiValues(t, r, "5"), []any{0.25})

			r = rn.run(lazyPrompt("BLACK", "NOISE", "0.5"))
			if m.caches {
				eq(t, "full cache ran", r.ran(), nil)
				eq(t, "cached", r.cached(), []string{"1", "2", "3", "4", "5"})
				eq(t, "re-sent UI", uiValues(t, r, "5"), []any{0.25})
			} else {
				eq(t, "no cache ran", r.ran(), []string{"3", "4", "1", "2", "4", "5"})
				eq(t, "cached", r.cached(), []string{})
			}

			r = rn.run(lazyPrompt("BLACK", "NOISE", "0.4"))
			if m.caches {
				// The images are cached: linking them adds no block, so the
				// mix node is ready again at once and runs from scratch
				// (executing twice), reading them from the edge cache.
				eq(t, "partial cache ran", r.ran(), []string{"3", "4", "4", "5"})
				eq(t, "cached", r.cached(), []string{"1", "2"})
			} else {
				eq(t, "no cache ran", r.ran(), []string{"3", "4", "1", "2", "4", "5"})
			}
		})
	}
}

// TestListMapping: a node fed a list runs once per item, shorter lists
// repeating their last item; list outputs concatenate; INPUT_IS_LIST nodes
// get whole lists.
func TestListMapping(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "MakeList", "inputs": {"value1": 1, "value2": 2, "value3": 3}},
 "2": {"class_type": "MakeList", "inputs": {"value1": 10, "value2": 20}},
 "3": {"class_type": "IntMath", "inputs": {"a": ["1", 0], "b": ["2", 0], "op": "add"}},
 "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}},
 "5": {"class_type": "ListLen", "inputs": {"values": ["3", 0]}},
 "6": {"class_type": "Show", "inputs": {"value": ["5", 0]}},
 "7": {"class_type": "Show", "inputs": {"value": ["5", 1]}},
 "8": {"class_type": "MakeList", "inputs": {"value1": ["1", 0], "value2": 9}},
 "9": {"class_type": "Show", "inputs": {"value": ["8", 0]}}
}`)
	if !r.Success {
		t.Fatal(r.Error)
	}
	eq(t, "mapped (last item repeats)", uiValues(t, r, "4"), []any{int64(11), int64(22), int64(23)})
	eq(t, "INPUT_IS_LIST length", uiValues(t, r, "6"), []any{int64(3)})
	eq(t, "INPUT_IS_LIST list output", uiValues(t, r, "7"), []any{int64(11), int64(22), int64(23), int64(11), int64(22), int64(23)})
	eq(t, "OUTPUT_IS_LIST concatenation", uiValues(t, r, "9"), []any{int64(1), int64(9), int64(2), int64(9), int64(3), int64(9)})
}

// TestEmptyListAlongsideItems: Python's [][-1] raises IndexError.
func TestEmptyListAlongsideItems(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "EmptyList", "inputs": {}},
 "2": {"class_type": "MakeList", "inputs": {"value1": 1, "value2": 2}},
 "3": {"class_type": "IntMath", "inputs": {"a": ["1", 0], "b": ["2", 0], "op": "add"}},
 "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}},
 "5": {"class_type": "Show", "inputs": {"value": ["1", 0]}}
}`, "5", "4")
	// Only empty lists: one call with no arguments at all.
	eq(t, "all empty", uiValues(t, r, "5"), []any{nil})
	typ, _ := r.Error.Get("exception_type")
	msg, _ := r.Error.Get("exception_message")
	if typ != "IndexError" || msg != "list index out of range\n" {
		t.Errorf("error = %v: %v", typ, msg)
	}
}

// TestUndeclaredInputs is test_undeclared_inputs: linked inputs the class
// does not declare are passed and scheduled; undeclared literals are not
// passed (Variadic would fail on a non-image).
func TestUndeclaredInputs(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}},
 "2": {"class_type": "StubImage", "inputs": {"content": "WHITE", "height": 2, "width": 2, "batch_size": 1}},
 "3": {"class_type": "Variadic", "inputs": {"input1": ["1", 0], "input2": ["2", 0], "input3": ["1", 0], "input4": ["1", 0], "tag": "x"}},
 "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}}
}`)
	if !r.Success {
		t.Fatal(r.Error)
	}
	eq(t, "average", uiValues(t, r, "4"), []any{0.25})
	if !contains(r.ran(), "2") {
		t.Error("the undeclared input's source did not run")
	}
}

// TestRawLink: a rawLink input receives the link, and its source is still
// scheduled first.
func TestRawLink(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "StubInt", "inputs": {"value": 5}},
 "2": {"class_type": "RawLink", "inputs": {"link": ["1", 0]}},
 "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}}
}`)
	eq(t, "link", uiValues(t, r, "3"), []any{"1:0"})
	eq(t, "ran", r.ran(), []string{"1", "2", "3"})
}

// TestHiddenUniqueID: a declared hidden input is passed.
func TestHiddenUniqueID(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "7": {"class_type": "UniqueID", "inputs": {"value": 1}},
 "8": {"class_type": "Show", "inputs": {"value": ["7", 0]}}
}`)
	eq(t, "value", uiValues(t, r, "8"), []any{"7/1"})
}

// TestBlockerPerListItem is test_execution_block_list_output: the blocked
// item is skipped downstream; each node that receives the blocker with its
// message reports it, as an execution_error the history does not record,
// and passes it on silently; the prompt still succeeds.
func TestBlockerPerListItem(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			r := rn.run(`{
 "1": {"class_type": "MakeList", "inputs": {"value1": 1, "value2": 2, "value3": 3}},
 "2": {"class_type": "MakeList", "inputs": {"value1": false, "value2": true, "value3": false}},
 "3": {"class_type": "Blocker", "inputs": {"input": ["1", 0], "block": ["2", 0], "verbose": true}},
 "4": {"class_type": "MakeList", "inputs": {"value1": ["3", 0]}},
 "5": {"class_type": "Show", "inputs": {"value": ["4", 0]}},
 "6": {"class_type": "Show", "inputs": {"value": ["3", 0], "label": "direct"}}
}`, "5", "6")
			if !r.Success {
				t.Fatalf("failed: %v", r.Error)
			}
			eq(t, "shown", uiValues(t, r, "5"), []any{int64(1), int64(3)})
			eq(t, "shown directly", uiValues(t, r, "6"), []any{int64(1), int64(3)})
			var reports []string
			for _, e := range r.events {
				if e.Type == "execution_error" {
					id, _ := e.Data.Get("node_id")
					msg, _ := e.Data.Get("exception_message")
					typ, _ := e.Data.Get("exception_type")
					reports = append(reports, fmt.Sprintf("%v %v %v", id, typ, msg))
					if _, ok := e.Data.Get("timestamp"); ok {
						t.Error("the blocker's execution_error has a timestamp")
					}
				}
			}
			// Both consumers of the message-carrying blocker report it (6,
			// an output, runs first).
			eq(t, "reports", reports, []string{
				"6 ExecutionBlocked Execution Blocked: Blocked Execution",
				"4 ExecutionBlocked Execution Blocked: Blocked Execution",
			})
			for _, msg := range r.Messages {
				if msg.Type == "execution_error" {
					t.Error("the blocker's report is in the history")
				}
			}
		})
	}
}

// TestSilentBlocker: an output node whose every input is blocked produces
// nothing, silently.
func TestSilentBlocker(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "StubInt", "inputs": {"value": 1}},
 "2": {"class_type": "Blocker", "inputs": {"input": ["1", 0], "block": true, "verbose": false}},
 "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}}
}`)
	if !r.Success || len(r.Outputs) != 0 {
		t.Errorf("success=%v outputs=%v", r.Success, r.Outputs)
	}
	if _, ok := r.find("execution_error"); ok {
		t.Error("a silent blocker was reported")
	}
	eq(t, "ran", r.ran(), []string{"1", "2", "3"})
}

// TestPartialExecution is test_partial_execution_*: only the requested
// outputs and what they need run; an output node upstream of a target runs
// as a dependency.
func TestPartialExecution(t *testing.T) {
	rn := newRunner(t, Config{})
	const prompt = `{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}},
 "2": {"class_type": "OutputWithSocket", "inputs": {"image": ["1", 0]}},
 "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}},
 "4": {"class_type": "StubImage", "inputs": {"content": "WHITE", "height": 2, "width": 2, "batch_size": 1}},
 "5": {"class_type": "Show", "inputs": {"value": ["4", 0]}}
}`
	r := rn.run(prompt, "3")
	eq(t, "ran", r.ran(), []string{"1", "2", "3"})
	eq(t, "outputs", outputIDs(r.Outputs), []string{"2", "3"})
}

// TestIntermediateOutput: a HAS_INTERMEDIATE_OUTPUT node that did not run
// (cached) gets its UI re-sent at the end of a successful prompt.
func TestIntermediateOutput(t *testing.T) {
	rn := newRunner(t, Config{})
	const prompt = `{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}},
 "2": {"class_type": "Intermediate", "inputs": {"image": ["1", 0]}},
 "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}}
}`
	r := rn.run(prompt)
	eq(t, "first outputs", outputIDs(r.Outputs), []string{"2", "3"})
	r = rn.run(prompt)
	eq(t, "ran", r.ran(), nil)
	eq(t, "second outputs", outputIDs(r.Outputs), []string{"3", "2"})
	var executed []string
	for _, e := range r.events {
		if e.Type == "executed" {
			id, _ := e.Data.Get("node")
			executed = append(executed, id.(string))
		}
	}
	eq(t, "executed events", executed, []string{"3", "2"})
}

// TestProgressEvents: a node's progress reports go out as progress_state
// then progress; integral values print as ints.
func TestProgressEvents(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "Progress", "inputs": {"steps": 2}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}
}`)
	var got []string
	for _, e := range r.events {
		switch e.Type {
		case "progress":
			got = append(got, "progress "+mustJSON(t, e.Data))
		case "progress_state":
			nodes, _ := e.Data.Get("nodes")
			o := nodes.(ProgressNodes).Object()
			if v, ok := o.Get("1"); ok {
				st, _ := v.(pyjson.Object).Get("state")
				val, _ := v.(pyjson.Object).Get("value")
				got = append(got, fmt.Sprintf("state %v %v", st, mustJSON(t, val)))
			}
		}
	}
	want := []string{
		"state running 0.0",
		"state running 1",
		`progress {"value": 1, "max": 2, "prompt_id": "p1", "node": "1"}`,
		"state running 2",
		`progress {"value": 2, "max": 2, "prompt_id": "p1", "node": "1"}`,
		"state running 0.5",
		`progress {"value": 0.5, "max": 1, "prompt_id": "p1", "node": "1"}`,
		"state finished 1",
	}
	for len(got) > len(want) && slices.Equal(got[len(want):], slices.Repeat([]string{"state finished 1"}, len(got)-len(want))) {
		got = got[:len(want)] // node 2's progress_state events repeat node 1's final state
	}
	eq(t, "progress", got, want)
}

// TestProgressNodesJSON: the fast marshaller writes what the ordered
// object would.
func TestProgressNodesJSON(t *testing.T) {
	p := newProgressRegistry("pid")
	a := p.fresh("a\"1", "a\"1", "a\"1", nil)
	p.start(a)
	b := p.fresh("x.0.0.1", "x", "x", "x")
	p.update(b, int64(3), pyjson.Float(4.5))
	s := p.snapshot()
	got, err := pyjson.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pyjson.Marshal(s.Object())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
