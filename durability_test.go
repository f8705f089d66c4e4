package gocomfy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKillNineLosesNothing runs the real binary, queues a long prompt and
// three short ones, kills the server with SIGKILL while the first runs, and
// restarts it on the same folders: the pending prompts run in their order
// and the interrupted one is in the history as failed, with a message.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	base := t.TempDir()
	start := func() (*exec.Cmd, *testServer) {
		return startBinary(t, bin, base, "--enable-test-nodes")
	}
	queue := func(ts *testServer, seconds float64) string {
		body := map[string]any{"prompt": map[string]any{
			"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": 1, "seconds": seconds}},
			"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
		}}
		status, resp := ts.do("POST", "/prompt", body)
		if status != http.StatusOK {
			t.Fatalf("POST /prompt: %d %s", status, resp)
		}
		var acc struct {
			PromptID string `json:"prompt_id"`
		}
		json.Unmarshal(resp, &acc)
		return acc.PromptID
	}

	cmd, ts := start()
	long := queue(ts, 60)
	short := []string{queue(ts, 0.01), queue(ts, 0.02), queue(ts, 0.03)}
	ts.waitRunning(1) // the long prompt
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	_, ts = start()
	var jobs struct {
		Jobs []struct {
			ID             string `json:"id"`
			Status         string `json:"status"`
			ExecutionError struct {
				Message string `json:"exception_message"`
			} `json:"execution_error"`
		} `json:"jobs"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts.getJSON("/api/jobs?sort_order=asc&limit=10", &jobs)
		done := 0
		for _, j := range jobs.Jobs {
			if j.Status == "completed" {
				done++
			}
		}
		if done == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(jobs.Jobs) != 4 {
		t.Fatalf("after the restart there are %d jobs, want 4: %+v", len(jobs.Jobs), jobs.Jobs)
	}
	byID := map[string]string{}
	for _, j := range jobs.Jobs {
		byID[j.ID] = j.Status
		if j.ID == long && j.ExecutionError.Message == "" {
			t.Errorf("the interrupted prompt has no error message")
		}
	}
	if byID[long] != "failed" {
		t.Errorf("the prompt running at the kill is %q, want failed", byID[long])
	}
	for _, id := range short {
		if byID[id] != "completed" {
			t.Errorf("pending prompt %s is %q after the restart, want completed", id, byID[id])
		}
	}
	// They ran in their queue order: /history lists prompts as they finished.
	status, body := ts.do("GET", "/history", nil)
	if status != http.StatusOK {
		t.Fatal(status)
	}
	var order []string
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.Token()
	for dec.More() {
		key, _ := dec.Token()
		order = append(order, key.(string))
		var entry json.RawMessage
		dec.Decode(&entry)
	}
	want := append([]string{long}, short...)
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("history order %v, want %v", order, want)
	}
}
