package gocomfy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy"
)

// stubPrompt is StubImage → TestOutputNodeWithSocketOutput (an output node).
func stubPrompt(content string) map[string]any {
	return map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "StubImage", "inputs": map[string]any{
			"content": content, "height": 8, "width": 8, "batch_size": 1}},
		"2": map[string]any{"class_type": "TestOutputNodeWithSocketOutput", "inputs": map[string]any{
			"image": []any{"1", 0}, "value": 0.5}},
	}}
}

// TestMessageOrder checks the WebSocket frames of one prompt against the
// captured ComfyUI trace (spec http §3.6), and the cached re-run.
func TestMessageOrder(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true, Cache: gocomfy.CacheClassic})
	ws := ts.connect("tracer1")
	first := ws.waitFor(func(m wsMessage) bool { return m.Type == "status" })
	if want := `{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "tracer1"}}`; string(first[0].raw) != want {
		t.Errorf("first frame\n got %s\nwant %s", first[0].raw, want)
	}

	r := ts.run(ws, "tracer1", stubPrompt("BLACK"))
	var types []string
	for _, m := range r.msgs {
		types = append(types, m.Type)
	}
	want := "execution_start execution_cached progress_state executing progress_state progress_state executing progress_state execution_success executing"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("run 1 messages\n got %s\nwant %s\n%s", got, want, r)
	}
	if !r.didRun("1") || !r.didRun("2") {
		t.Errorf("ran %v", r.ran)
	}

	r2 := ts.run(ws, "tracer1", stubPrompt("BLACK"))
	if r2.didRun("1") || r2.didRun("2") || !r2.wasCached("1") || !r2.wasCached("2") {
		t.Errorf("re-run: ran %v cached %v", r2.ran, r2.cached)
	}
}

// TestHistoryExistsBeforeDone checks that the history entry is stored
// before executing(null), the signal most clients treat as "done".
func TestHistoryExistsBeforeDone(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	ws := ts.connect("c1")
	r := ts.run(ws, "c1", stubPrompt("WHITE"))
	var h map[string]json.RawMessage
	ts.getJSON("/history/"+r.promptID, &h)
	if _, ok := h[r.promptID]; !ok {
		t.Fatalf("no history entry right after executing(null)")
	}
	var jobs struct {
		Jobs []struct {
			ID, Status string
		} `json:"jobs"`
	}
	ts.getJSON("/api/jobs?limit=10", &jobs)
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].Status != "completed" {
		t.Errorf("jobs = %+v", jobs.Jobs)
	}
}

// TestLateListenerGetsFinalState: SDKs that connect their socket only after
// POST /prompt returns still receive the prompt's messages.
func TestLateListenerGetsFinalState(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	body := stubPrompt("BLACK")
	body["client_id"] = "late"
	status, resp := ts.do("POST", "/prompt", body)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, resp)
	}
	var acc struct {
		PromptID string `json:"prompt_id"`
	}
	json.Unmarshal(resp, &acc)
	for i := 0; ; i++ { // wait until the prompt is done, before connecting
		var h map[string]json.RawMessage
		ts.getJSON("/history/"+acc.PromptID, &h)
		if len(h) == 1 {
			break
		}
	}
	ws := ts.connect("late")
	ws.waitFor(finished(acc.PromptID))
}

func TestPromptErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no prompt", `{}`, 400, `{"error": {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided", "extra_info": {}}, "node_errors": {}}`},
		{"bad prompt id", `{"prompt": {}, "prompt_id": "NOT-A-UUID"}`, 400, `{"error": {"type": "invalid_prompt_id", "message": "prompt_id must be a valid UUID", "details": "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one", "extra_info": {}}, "node_errors": {}}`},
		{"no outputs", `{"prompt": {}}`, 400, `{"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "", "extra_info": {}}, "node_errors": {}}`},
		{"missing class", `{"prompt": {"12": {"class_type": "FooLoader", "inputs": {}, "_meta": {"title": "Load Foo"}}}}`, 400, `{"error": {"type": "missing_node_type", "message": "Node 'Load Foo' not found. The custom node may not be installed.", "details": "Node ID '#12'", "extra_info": {"node_id": "12", "class_type": "FooLoader", "node_title": "Load Foo"}}, "node_errors": {}}`},
		{"malformed json", `{"prompt": `, 400, ``},
		{"prompt not an object", `{"prompt": [1, 2]}`, 400, ``},
	}
	for _, c := range cases {
		status, body := ts.do("POST", "/prompt", c.body)
		if status != c.status || (c.want != "" && string(body) != c.want) {
			t.Errorf("%s: %d %s\nwant %d %s", c.name, status, body, c.status, c.want)
		}
		if c.want == "" && !json.Valid(body) {
			t.Errorf("%s: body is not JSON: %s", c.name, body)
		}
	}
}

func TestRoutesUnderAPIPrefix(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	for _, p := range []string{"/prompt", "/api/prompt", "/queue", "/api/queue", "/history", "/api/history",
		"/api/jobs", "/api/api/jobs", "/jobs", "/object_info/StubImage", "/api/object_info/StubImage",
		"/system_stats", "/api/system_stats", "/features", "/api/features", "/embeddings", "/extensions",
		"/api/workflow_templates"} {
		if status, body := ts.do("GET", p, nil); status != 200 || !json.Valid(body) {
			t.Errorf("GET %s: %d %s", p, status, body)
		}
	}
	if status, _ := ts.do("GET", "/api/jobs/00000000-0000-0000-0000-000000000000", nil); status != 404 {
		t.Errorf("unknown job: %d", status)
	}
	if status, _ := ts.do("DELETE", "/prompt", nil); status != 405 {
		t.Errorf("DELETE /prompt: %d", status)
	}
	// Dot segments are refused, never redirected with their body to
	// another route (net/http's ServeMux would answer 307).
	for _, p := range []string{"/userdata/a.json/move/..", "/history/../queue", "/api/./prompt", "/view//x"} {
		if status, _ := ts.do("POST", p, "{}"); status != 400 {
			t.Errorf("POST %s: %d, want 400", p, status)
		}
	}
}

func TestCancelJobsInvalidIDs(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{})
	status, body := ts.do("POST", "/api/jobs/cancel", `{"job_ids": ["abc", 123, {"a": 1}, 1.5, true, null]}`)
	want := `{"error": "job_ids contains invalid id(s)", "invalid_ids": ["abc", "123", "{'a': 1}", "1.5", "True", "None"]}`
	if status != 400 || string(body) != want {
		t.Errorf("%d %s\nwant 400 %s", status, body, want)
	}
	if status, body := ts.do("POST", "/api/jobs/cancel", `{"job_ids": []}`); status != 200 || string(body) != `{"cancelled": false}` {
		t.Errorf("empty list: %d %s", status, body)
	}
}
