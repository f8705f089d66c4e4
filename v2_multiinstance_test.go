package gocomfy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
	"github.com/gocomfy/gocomfy/node"
)

// gates hold the runs of gateNode: gate number (int64) → channel closed
// to let it finish.
var gates sync.Map

// gateNode reports progress 1/2 and sends a preview of a 64×64 image,
// then waits until its gate is closed (or the prompt interrupted) and
// outputs its value: a test sees a job mid-run without timing.
var gateNode = node.New(node.Info{ID: "TestGate", DisplayName: "Test Gate",
	Category: "_for_testing", Module: "gocomfy_test"}, func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*")
	gate := s.Int("gate")
	out := s.OutputOf("*", "*")
	return func(ctx context.Context, c *node.Call) error {
		c.Progress(1, 2)
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for i := range img.Pix {
			img.Pix[i] = byte(i * 5)
		}
		c.Preview(img)
		if ch, ok := gates.Load(gate.Get(c)); ok {
			select {
			case <-ch.(chan struct{}):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		v, _ := c.Input("value")
		out.Set(c, v)
		return nil
	}
})

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	Type string
	Data json.RawMessage
}

// sseStream reads an event stream, checking each event's data against
// the spec.
type sseStream struct {
	t  *testing.T
	sc *bufio.Scanner
}

// openEvents opens the event stream at url, which ends after a minute: a
// missing event fails the test rather than hangs it.
func openEvents(t *testing.T, url string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	return &sseStream{t: t, sc: sc}
}

// next returns the next event; ok is false at the end of the stream.
func (s *sseStream) next() (e sseEvent, ok bool) {
	for s.sc.Scan() {
		line := s.sc.Text()
		if typ, ok := strings.CutPrefix(line, "event: "); ok {
			e.Type = typ
		} else if data, ok := strings.CutPrefix(line, "data: "); ok {
			e.Data = json.RawMessage(data)
		} else if line == "" && e.Type != "" {
			if schema := sseEvents[e.Type]; schema != nil {
				checkBody(s.t, "event "+e.Type, e.Data, schema)
			} else {
				s.t.Errorf("event %q is not in x-sse-events", e.Type)
			}
			return e, true
		}
	}
	return e, false
}

// until reads events until done returns true for one, and returns them
// all; the stream ending first fails the test.
func (s *sseStream) until(what string, done func(sseEvent) bool) []sseEvent {
	s.t.Helper()
	var seen []sseEvent
	for {
		e, ok := s.next()
		if !ok {
			s.t.Fatalf("the event stream ended before %s: %d events %s, %v", what, len(seen), seen, s.sc.Err())
		}
		seen = append(seen, e)
		if done(e) {
			return seen
		}
	}
}

// v2Progress is the part of the spec's Progress the tests read.
type v2Progress struct {
	NodesDone   int     `json:"nodes_done"`
	CurrentNode *string `json:"current_node"`
	Step        *int    `json:"step"`
	Steps       *int    `json:"steps"`
}

// TestV2RemoteEvents streams, from instance a (busy with a long prompt,
// so that instance b runs the job), a v2 job: the status, progress, preview and
// output events cross through the event bridge, and GET on a shows the
// job's progress snapshot while it runs.
func TestV2RemoteEvents(t *testing.T) {
	t.Parallel()
	db := pgtest.Schema(t)
	a := startPreviewInstance(t, db)
	a.submit(longPrompt(1, "")) // a alone: a runs it
	a.waitRunning(1)
	b := startPreviewInstance(t, db)

	const gateID int64 = 1
	gate := make(chan struct{})
	gates.Store(gateID, gate)
	t.Cleanup(func() { gates.Delete(gateID) })
	job := postJob(t, a, "/api/v2/jobs", map[string]any{"workflow": map[string]any{
		"1": map[string]any{"class_type": "StubImage", "inputs": map[string]any{
			"content": "BLACK", "height": 8, "width": 8, "batch_size": 1}},
		"2": map[string]any{"class_type": "TestGate", "inputs": map[string]any{"value": []any{"1", 0}, "gate": gateID}},
		"3": map[string]any{"class_type": "SaveImage", "inputs": map[string]any{
			"images": []any{"2", 0}, "filename_prefix": "remote"}},
	}})
	stream := openEvents(t, a.url+"/api/v2/jobs/"+job.ID+"/events")

	// Held at the gate on b: a sees it running, its progress and its
	// preview, from b's events only.
	var progress v2Progress
	var preview struct {
		NodeID      string `json:"node_id"`
		ContentType string `json:"content_type"`
		Data        string `json:"data_base64"`
	}
	sawRunning := false
	stream.until("the gated node's progress and preview", func(e sseEvent) bool {
		switch e.Type {
		case "status":
			var s struct{ Status string }
			json.Unmarshal(e.Data, &s)
			sawRunning = sawRunning || s.Status == "running"
		case "progress":
			progress = v2Progress{}
			json.Unmarshal(e.Data, &progress)
		case "preview":
			json.Unmarshal(e.Data, &preview)
		}
		return sawRunning && progress.Step != nil && preview.Data != ""
	})
	if progress.CurrentNode == nil || *progress.CurrentNode != "2" || *progress.Step != 1 || *progress.Steps != 2 {
		t.Errorf("progress %+v, want node 2 at step 1 of 2", progress)
	}
	jpg, err := base64.StdEncoding.DecodeString(preview.Data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg)); err != nil || cfg.Width != 64 ||
		preview.NodeID != "2" || preview.ContentType != "image/jpeg" {
		t.Errorf("preview of node %q, %s: %+v, %v; want node 2's 64-pixel JPEG", preview.NodeID, preview.ContentType, cfg, err)
	}
	status, body := a.do("GET", "/api/v2/jobs/"+job.ID, nil)
	var polled struct {
		Status   string     `json:"status"`
		Progress v2Progress `json:"progress"`
	}
	if json.Unmarshal(body, &polled); status != http.StatusOK || polled.Status != "running" || polled.Progress.Step == nil {
		t.Errorf("GET on a mid-run: %d %s", status, body)
	}

	close(gate)
	var outputs []map[string]any
	rest := stream.until("the terminal status", func(e sseEvent) bool {
		if e.Type == "output" {
			var o map[string]any
			json.Unmarshal(e.Data, &o)
			outputs = append(outputs, o)
		}
		return e.Type == "status" && strings.Contains(string(e.Data), `"succeeded"`)
	})
	if len(outputs) != 1 || outputs[0]["node_id"] != "3" || outputs[0]["type"] != "image" {
		t.Errorf("output events %v, want SaveImage's image", outputs)
	}
	if e, ok := stream.next(); ok {
		t.Errorf("event %s %s after the terminal status (events %v)", e.Type, e.Data, rest)
	}
	// Sent to b, the global interrupt stops a's prompt.
	b.do("POST", "/interrupt", nil)
	a.waitIdle(2)
}
