package executor

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gocomfy/gocomfy/pyjson"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// transcript renders runs as golden text: every event with its routing and
// its data as Python's json.dumps writes it, then the outcome.
func transcript(t *testing.T, runs ...result) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, r := range runs {
		fmt.Fprintf(&b, "# run %d\n", i+1)
		for _, e := range r.events {
			to := "sid=" + e.SID
			if e.All {
				to = "all"
			}
			fmt.Fprintf(&b, "%s %s %s\n", to, e.Type, mustJSON(t, e.Data))
		}
		fmt.Fprintf(&b, "success=%v interrupted=%v\n", r.Success, r.Interrupted)
		fmt.Fprintf(&b, "outputs %s\n", mustJSON(t, r.Outputs))
		fmt.Fprintf(&b, "meta %s\n", mustJSON(t, r.Meta))
		for _, m := range r.Messages {
			fmt.Fprintf(&b, "message %s %s\n", m.Type, mustJSON(t, m.Data))
		}
	}
	return b.Bytes()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := pyjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// workedExample is spec §3.13's prompt: a stub image saved.
const workedExample = `{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 64, "width": 64, "batch_size": 1}},
 "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "ComfyUI"}}
}`

// TestWorkedExample checks the full event sequence of spec §3.13 under the
// three cache modes of ComfyUI's test-suite: the second run is served from
// the cache (no executing events, the cached UI re-sent) except under None,
// where it runs again and saves a second file.
func TestWorkedExample(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"classic", Config{Cache: Classic}},
		{"lru", Config{Cache: LRU, LRUSize: 100}},
		{"none", Config{Cache: None}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rn := newRunner(t, tc.cfg)
			r1 := rn.run(workedExample)
			r2 := rn.run(workedExample)
			golden(t, "worked_example_"+tc.name+".golden", transcript(t, r1, r2))
		})
	}
}

// TestEventsWithoutClient: with no client id only progress, progress_state
// and the broadcast events go out (to everyone), but the history still gets
// every message and, for a cached output, its UI.
func TestEventsWithoutClient(t *testing.T) {
	rn := newRunner(t, Config{Cache: Classic})
	job := func() Job { return Job{Prompt: mustPrompt(t, workedExample)} }
	r1 := rn.runJob(job())
	r2 := rn.runJob(job())
	golden(t, "worked_example_no_client.golden", transcript(t, r1, r2))
}

// TestPartialRerunTranscript: a changed mask re-runs the mix, whose lazy
// inputs come from the cache.
func TestPartialRerunTranscript(t *testing.T) {
	rn := newRunner(t, Config{Cache: Classic})
	r1 := rn.run(lazyPrompt("BLACK", "WHITE", "0.5"))
	r2 := rn.run(lazyPrompt("BLACK", "WHITE", "0.25"))
	golden(t, "partial_rerun.golden", transcript(t, r1, r2))
}

// TestErrorTranscript: an error mid-run, and a later run that reuses what
// completed before the error.
func TestErrorTranscript(t *testing.T) {
	rn := newRunner(t, Config{Cache: Classic})
	const prompt = `{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}},
 "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}},
 "3": {"class_type": "Failing", "inputs": {"value": ["1", 0], "number": 7}},
 "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "b"}}
}`
	r1 := rn.run(prompt)
	golden(t, "error.golden", transcript(t, r1))
}

// TestInterruptTranscript: an interrupt while a node runs.
func TestInterruptTranscript(t *testing.T) {
	rn := newRunner(t, Config{Cache: Classic})
	const prompt = `{
 "1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}},
 "2": {"class_type": "Gate", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "a"}}
}`
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	sink := SinkFunc(func(e Event) {
		rec.Event(e)
		if e.Type == "executing" {
			if id, _ := e.Data.Get("node"); id == "2" {
				cancel()
			}
		}
	})
	o := rn.ex.Execute(ctx, Job{PromptID: "p1", Prompt: mustPrompt(t, prompt), ClientID: "client", Outputs: []string{"3"}}, sink)
	golden(t, "interrupt.golden", transcript(t, result{o, rec.all()}))
}
