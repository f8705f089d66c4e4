package executor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAsyncOverlap: async nodes are started and left running while the
// scheduler goes on, so three of them overlap. Each AsyncMeet call returns
// only once all three have started; run one at a time they would wait for
// the context's end instead.
func TestAsyncOverlap(t *testing.T) {
	rn := newRunner(t, Config{})
	rn.pack.meetAll = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b strings.Builder
	b.WriteString("{")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, `"%d": {"class_type": "AsyncMeet", "inputs": {"count": 3, "tag": %d}},`, i, i)
		fmt.Fprintf(&b, `"%d": {"class_type": "Show", "inputs": {"value": ["%d", 0]}}`, i+10, i)
		if i < 3 {
			b.WriteString(",")
		}
	}
	b.WriteString("}")
	r := rn.runCtx(ctx, Job{Prompt: mustPrompt(t, b.String()), ClientID: "client"})
	if !r.Success {
		t.Fatalf("the async calls did not overlap: %v", r.Messages[len(r.Messages)-1])
	}
	eq(t, "shown", uiValues(t, r, "12"), []any{"2"})
}

// TestAsyncSleeps: three 300 ms sleeps take about 300 ms, not 900 (logged,
// not asserted: timing is not tested), and their progress reports from
// their own goroutines arrive.
func TestAsyncSleeps(t *testing.T) {
	rn := newRunner(t, Config{})
	start := time.Now()
	r := rn.run(`{
 "1": {"class_type": "AsyncSleep", "inputs": {"value": "a", "seconds": 0.3}},
 "2": {"class_type": "AsyncSleep", "inputs": {"value": "b", "seconds": 0.3}},
 "3": {"class_type": "AsyncSleep", "inputs": {"value": "c", "seconds": 0.3}},
 "4": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "5": {"class_type": "Show", "inputs": {"value": ["2", 0], "label": "b"}},
 "6": {"class_type": "Show", "inputs": {"value": ["3", 0], "label": "c"}}
}`)
	t.Logf("three 300 ms async sleeps took %v", time.Since(start))
	if !r.Success {
		t.Fatal(r.Error)
	}
	eq(t, "shown", uiValues(t, r, "6"), []any{"c"})
	progress := 0
	for _, e := range r.events {
		if e.Type == "progress" {
			progress++
		}
	}
	if progress != 6 {
		t.Errorf("%d progress events, want 6", progress)
	}
	// Cached on a second run: nothing runs.
	r = rn.run(`{
 "1": {"class_type": "AsyncSleep", "inputs": {"value": "a", "seconds": 0.3}},
 "4": {"class_type": "Show", "inputs": {"value": ["1", 0]}}
}`)
	eq(t, "second run", r.ran(), nil)
}

// TestAsyncError: a failing async call is reported when its node is
// collected, with the node's id and no inputs (ComfyUI has none then).
func TestAsyncError(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "AsyncSleep", "inputs": {"value": "fail", "seconds": 0}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}
}`)
	if r.Success {
		t.Fatal("succeeded")
	}
	got := mustJSON(t, r.Error[1:8])
	want := `{"node_id": "1", "node_type": "AsyncSleep", "executed": [], "exception_message": "async failure\n", "exception_type": "ValueError", "traceback": ["  File \"custom_nodes.testing\", in AsyncSleep (node 1)\n"], "current_inputs": {}}`
	if got != want {
		t.Errorf("error = %s\nwant  %s", got, want)
	}
}

// TestSyncErrorWhileAsyncRuns: a sync node fails while an async one still
// sleeps; the prompt stops at once and the sleeper is cancelled.
func TestSyncErrorWhileAsyncRuns(t *testing.T) {
	rn := newRunner(t, Config{})
	r := rn.run(`{
 "1": {"class_type": "AsyncSleep", "inputs": {"value": "a", "seconds": 60}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "Failing", "inputs": {"value": "x"}},
 "4": {"class_type": "Show", "inputs": {"value": ["3", 0], "label": "b"}}
}`)
	if id, _ := r.Error.Get("node_id"); r.Success || id != "3" {
		t.Fatalf("success=%v node_id=%v", r.Success, id)
	}
}

// TestInterruptWhileAsyncRuns: an interrupt while only async calls run is
// blamed on the first of them.
func TestInterruptWhileAsyncRuns(t *testing.T) {
	rn := newRunner(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	sink := SinkFunc(func(e Event) {
		rec.Event(e)
		if e.Type == "progress" {
			cancel()
		}
	})
	o := rn.ex.Execute(ctx, Job{PromptID: "p", Prompt: mustPrompt(t, `{
 "1": {"class_type": "AsyncSleep", "inputs": {"value": "a", "seconds": 60}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}
}`), Outputs: []string{"2"}}, sink)
	if !o.Interrupted || o.Success {
		t.Fatalf("interrupted=%v success=%v", o.Interrupted, o.Success)
	}
	last := o.Messages[len(o.Messages)-1]
	if id, _ := last.Data.Get("node_id"); last.Type != "execution_interrupted" || id != "1" {
		t.Errorf("last message %s %v", last.Type, last.Data)
	}
	var sent []Event
	for _, e := range rec.all() {
		if e.Type == "execution_interrupted" {
			sent = append(sent, e)
		}
	}
	if len(sent) != 1 || !sent[0].All {
		t.Errorf("execution_interrupted sent as %+v, want once to all sockets (no client id)", sent)
	}
}
