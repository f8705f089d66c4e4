package gocomfy_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
)

// v2Job is the part of the Comfy API v2 Job object the tests read.
type v2Job struct {
	ID            string           `json:"id"`
	Status        string           `json:"status"`
	CreatedAt     string           `json:"created_at"`
	ExpiresAt     string           `json:"expires_at"`
	QueuePosition *int             `json:"queue_position"`
	Outputs       []map[string]any `json:"outputs"`
	Error         any              `json:"error"`
	Metrics       map[string]*int  `json:"metrics"`
	URLs          map[string]string
}

func decodeJob(t *testing.T, status int, body []byte) v2Job {
	t.Helper()
	var j v2Job
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("%d %s: %v", status, body, err)
	}
	// Required by the spec's Job schema.
	for _, k := range []string{"id", "status", "created_at", "started_at", "completed_at", "expires_at",
		"queue_position", "progress", "outputs", "error", "urls"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("job lacks %q: %s", k, body)
		}
	}
	json.Unmarshal(body, &j)
	json.Unmarshal(raw["urls"], &j.URLs)
	return j
}

func v2Post(ts *testServer, path string, body any) (int, []byte) {
	return ts.do("POST", path, body)
}

// postJob POSTs body to path and decodes the Job answered.
func postJob(t *testing.T, ts *testServer, path string, body any) v2Job {
	t.Helper()
	status, data := v2Post(ts, path, body)
	return decodeJob(t, status, data)
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" {
		t.Errorf("not an ErrorEnvelope: %s", body)
	}
	return e.Error.Code
}

func TestV2CreateGetAndSyncRun(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	status, body := v2Post(ts, "/api/v2/jobs", map[string]any{"workflow": sleepPrompt(0)})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	j := decodeJob(t, status, body)
	if j.URLs["self"] != "/api/v2/jobs/"+j.ID || j.URLs["events"] == "" || j.URLs["cancel"] == "" {
		t.Errorf("urls %v", j.URLs)
	}
	// Synchronous run: finished in the response.
	status, body = v2Post(ts, "/api/v2/jobs?wait=60", map[string]any{"workflow": savePrompt(0)})
	if status != http.StatusCreated {
		t.Fatalf("sync run: %d %s", status, body)
	}
	sj := decodeJob(t, status, body)
	if sj.Status != "succeeded" || len(sj.Outputs) == 0 || sj.Metrics["execution_ms"] == nil {
		t.Errorf("sync run: %s", body)
	}
	for _, o := range sj.Outputs {
		if o["type"] != "image" || o["content_type"] != "image/png" {
			t.Errorf("output %v", o)
		}
	}
	status, body = ts.do("GET", "/api/v2/jobs/"+j.ID, nil)
	if g := decodeJob(t, status, body); status != 200 || g.ID != j.ID || g.Status != "succeeded" {
		t.Errorf("get: %d %s", status, body)
	}
	status, body = ts.do("GET", "/api/v2/jobs/nope", nil)
	if status != http.StatusNotFound || errorCode(t, body) != "not_found" {
		t.Errorf("unknown job: %d %s", status, body)
	}
	status, body = ts.do("GET", "/api/v2/health", nil)
	if status != 200 || !strings.Contains(string(body), "healthy") {
		t.Errorf("health: %d %s", status, body)
	}
}

func TestV2Errors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true, MaxPending: 1})
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"ui format", map[string]any{"workflow": map[string]any{"nodes": []any{}, "links": []any{}}}, 422, "workflow_format_ui"},
		{"no workflow", map[string]any{}, 422, "invalid_workflow"},
		{"unknown class", map[string]any{"workflow": map[string]any{"1": map[string]any{"class_type": "Nope", "inputs": map[string]any{}}}}, 422, "invalid_workflow"},
		{"not json", "{", 400, "invalid_request"},
		{"webhook", map[string]any{"workflow": sleepPrompt(0), "webhook_url": "http://x"}, 422, "invalid_request"},
	}
	for _, tt := range tests {
		status, body := v2Post(ts, "/api/v2/jobs", tt.body)
		if status != tt.status || errorCode(t, body) != tt.code {
			t.Errorf("%s: %d %s", tt.name, status, body)
		}
	}
	// Queue full: one running, one pending, the next refused.
	running := postJob(t, ts, "/api/v2/jobs", map[string]any{"workflow": sleepPrompt(30)})
	waitV2(t, ts, running.ID, "running")
	pending := postJob(t, ts, "/api/v2/jobs", map[string]any{"workflow": sleepPrompt(0)})
	if pending.Status != "queued" || pending.QueuePosition == nil || *pending.QueuePosition != 0 {
		t.Errorf("pending: %+v", pending)
	}
	req, _ := http.NewRequest("POST", ts.url+"/api/v2/jobs", strings.NewReader(mustJSON(t, map[string]any{"workflow": sleepPrompt(0)})))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("queue full: %d %v", resp.StatusCode, resp.Header)
	}
	// Cancel: pending then running, each twice (idempotent).
	for range 2 {
		if c := postJob(t, ts, "/api/v2/jobs/"+pending.ID+"/cancel", nil); c.Status != "canceled" {
			t.Errorf("cancel pending: %+v", c)
		}
	}
	c := postJob(t, ts, "/api/v2/jobs/"+running.ID+"/cancel", nil)
	if c.Status != "canceling" && c.Status != "canceled" {
		t.Errorf("cancel running: %+v", c)
	}
	waitV2(t, ts, running.ID, "canceled")
	if c := postJob(t, ts, "/api/v2/jobs/"+running.ID+"/cancel", nil); c.Status != "canceled" {
		t.Errorf("cancel again: %+v", c)
	}
}

func TestV2SyncTimeoutAndEvents(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	req, _ := http.NewRequest("POST", ts.url+"/api/v2/jobs", strings.NewReader(mustJSON(t, map[string]any{"workflow": sleepPrompt(0.5)})))
	req.Header.Set("Prefer", "wait=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var j v2Job
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("wait=0: %d", resp.StatusCode)
	}
	// A wait too short for a half-second job falls back to 202 and the URL.
	status, body := v2Post(ts, "/api/v2/jobs?wait=0.01", map[string]any{"workflow": savePrompt(0.5)})
	k := decodeJob(t, status, body)
	if status != http.StatusAccepted || k.Status == "succeeded" {
		t.Errorf("short wait: %d %s", status, body)
	}

	resp, err = http.Get(ts.url + "/api/v2/jobs/" + k.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	var events, statuses []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && events[len(events)-1] == "status" {
			var s struct{ Status string }
			json.Unmarshal([]byte(data), &s)
			statuses = append(statuses, s.Status)
		}
	}
	if len(statuses) == 0 || statuses[len(statuses)-1] != "succeeded" || events[len(events)-1] != "status" {
		t.Fatalf("events %v statuses %v", events, statuses)
	}
	if events[0] != "status" && events[0] != "progress" {
		t.Errorf("first event %q", events[0])
	}
	sawOutput := false
	for _, e := range events {
		sawOutput = sawOutput || e == "output"
	}
	if !sawOutput {
		t.Errorf("no output event: %v", events)
	}
}

// savePrompt is sleepPrompt with a SaveImage of the slept image.
func savePrompt(seconds float64) map[string]any {
	p := sleepPrompt(seconds)
	p["4"] = map[string]any{"class_type": "SaveImage", "inputs": map[string]any{
		"images": []any{"2", 0}, "filename_prefix": "v2"}}
	return p
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitV2 polls job id until it has status want.
func waitV2(t *testing.T, ts *testServer, id, want string) {
	t.Helper()
	for range 3000 {
		status, body := ts.do("GET", "/api/v2/jobs/"+id, nil)
		if j := decodeJob(t, status, body); j.Status == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s never %s", id, want)
}

func TestV2IdempotencyKey(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	post := func(body any) (*http.Response, v2Job) {
		req, _ := http.NewRequest("POST", ts.url+"/api/v2/jobs", strings.NewReader(mustJSON(t, body)))
		req.Header.Set("Idempotency-Key", "key-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var j v2Job
		json.NewDecoder(resp.Body).Decode(&j)
		return resp, j
	}
	body := map[string]any{"workflow": sleepPrompt(0)}
	r1, j1 := post(body)
	r2, j2 := post(body)
	if r1.StatusCode != 201 || r2.StatusCode != 201 || j1.ID == "" || j2.ID != j1.ID {
		t.Errorf("replay: %d %s, %d %s", r1.StatusCode, j1.ID, r2.StatusCode, j2.ID)
	}
	if r1.Header.Get("Idempotency-Replayed") != "" || r2.Header.Get("Idempotency-Replayed") != "true" {
		t.Errorf("Idempotency-Replayed: %q %q", r1.Header.Get("Idempotency-Replayed"), r2.Header.Get("Idempotency-Replayed"))
	}
	if r3, _ := post(map[string]any{"workflow": sleepPrompt(0.1)}); r3.StatusCode != 422 {
		t.Errorf("reuse: %d", r3.StatusCode)
	}
}
