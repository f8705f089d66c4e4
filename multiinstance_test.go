package gocomfy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy"
)

// postgresEnv names the variable that points the tests at a PostgreSQL
// server (scripts/pg-test-cluster.sh starts one).
const postgresEnv = "GOCOMFY_TEST_POSTGRES_URL"

// postgresSchema creates an empty schema, dropped when the test ends, and
// returns a postgres:// URL whose connections use it. Without a server the
// test skips, except under CI, where nothing may be skipped silently.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set (CI=true): run scripts/pg-test-cluster.sh", postgresEnv)
		}
		t.Skipf("%s is not set; scripts/pg-test-cluster.sh starts a server", postgresEnv)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "gocomfy_multi_" + hex.EncodeToString(b)
	admin := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	admin("CREATE SCHEMA " + name)
	t.Cleanup(func() { admin("DROP SCHEMA " + name + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// startInstances starts n servers on one PostgreSQL schema, each with its
// own folders.
func startInstances(t testing.TB, n int) []*testServer {
	t.Helper()
	db := postgresSchema(t)
	servers := make([]*testServer, n)
	for i := range servers {
		servers[i] = startServer(t, gocomfy.Config{DatabaseURL: db, EnableTestNodes: true})
	}
	return servers
}

// trivialPrompt is a prompt that runs at once; value makes each one
// different, so that no instance answers it from its cache.
func trivialPrompt(value int, clientID string) map[string]any {
	return map[string]any{"client_id": clientID, "prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": value, "seconds": 0}},
		"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
	}}
}

// submit queues body on ts and returns the prompt id.
func (ts *testServer) submit(body map[string]any) string {
	ts.t.Helper()
	status, resp := ts.do("POST", "/prompt", body)
	if status != http.StatusOK {
		ts.t.Fatalf("POST /prompt: %d %s", status, resp)
	}
	var acc struct {
		PromptID string `json:"prompt_id"`
	}
	if err := json.Unmarshal(resp, &acc); err != nil || acc.PromptID == "" {
		ts.t.Fatalf("POST /prompt: %v in %s", err, resp)
	}
	return acc.PromptID
}

// waitIdle waits until ts shows no pending or running prompt and want
// finished ones.
func (ts *testServer) waitIdle(want int) {
	ts.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var q struct {
			Running []json.RawMessage `json:"queue_running"`
			Pending []json.RawMessage `json:"queue_pending"`
		}
		ts.getJSON("/queue", &q)
		var h map[string]json.RawMessage
		ts.getJSON("/history", &h)
		if len(q.Running) == 0 && len(q.Pending) == 0 && len(h) == want {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("not idle: %d running, %d pending, %d finished (want %d)", len(q.Running), len(q.Pending), len(h), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestThreeInstances runs three instances on one database and submits
// prompts to them in turn: each prompt runs exactly once, on one of them,
// and every instance serves the same queue, history and jobs.
func TestThreeInstances(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 3)
	// One client id connected to every instance: each client sees every
	// run's messages, from the instance that runs it or through the
	// others' event bridge, once.
	const clientID = "multi"
	clients := make([]*wsClient, len(servers))
	for i, ts := range servers {
		clients[i] = ts.connect(clientID)
	}

	const n = 30
	ids := make(map[string]bool, n)
	for i := range n {
		ids[servers[i%len(servers)].submit(trivialPrompt(i, clientID))] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct prompt ids, want %d", len(ids), n)
	}
	servers[0].waitIdle(n)

	// Every run started once: each client counts its execution_start
	// messages, after the last prompt's end reached it.
	for i, c := range clients {
		starts := map[string]int{}
		seen := 0
		c.waitFor(func(m wsMessage) bool {
			if m.Type == "execution_start" {
				var d struct {
					PromptID string `json:"prompt_id"`
				}
				json.Unmarshal(m.Data, &d)
				starts[d.PromptID]++
			}
			if m.Type == "executing" && finishedAny(m) {
				seen++
			}
			return seen == n
		})
		for id := range ids {
			if starts[id] != 1 {
				t.Errorf("client on instance %d: prompt %s started %d times, want once", i, id, starts[id])
			}
		}
	}

	var history map[string]struct {
		Status struct {
			StatusStr string `json:"status_str"`
			Completed bool   `json:"completed"`
		} `json:"status"`
	}
	servers[0].getJSON("/history", &history)
	for id := range ids {
		if h, ok := history[id]; !ok || !h.Status.Completed || h.Status.StatusStr != "success" {
			t.Errorf("history of %s = %+v (present %v), want completed", id, h, ok)
		}
	}

	for _, path := range []string{"/queue", "/history", "/history?max_items=5", "/api/jobs", "/api/jobs?limit=7&offset=3"} {
		status, want := servers[0].do("GET", path, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, want)
		}
		for i, ts := range servers[1:] {
			if status, got := ts.do("GET", path, nil); status != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("GET %s on instance %d: %d %s\nwant (instance 0) %s", path, i+1, status, got, want)
			}
		}
	}
}

// TestIdleInstancePicksUp keeps one instance busy with a long prompt and
// queues more on it: the idle instance, woken by PostgreSQL's
// notifications (or its poll), runs them meanwhile.
func TestIdleInstancePicksUp(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 2)
	busy, idle := servers[0], servers[1]
	long := busy.submit(map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": 1, "seconds": 600}},
		"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
	}})
	for { // until one instance runs it
		var q struct {
			Running []json.RawMessage `json:"queue_running"`
		}
		busy.getJSON("/queue", &q)
		if len(q.Running) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Whichever instance runs the long prompt, the other runs these.
	for i := range 3 {
		busy.submit(trivialPrompt(i, ""))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var h map[string]json.RawMessage
		idle.getJSON("/history", &h)
		if len(h) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d prompts finished while one instance was busy, want 3", len(h))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Sent to one instance, the interrupt reaches the one that runs it.
	idle.do("POST", "/interrupt", map[string]any{"prompt_id": long})
	idle.waitIdle(4)
}

// finishedAny reports whether m is the end of a prompt: executing with
// node null.
func finishedAny(m wsMessage) bool {
	var d struct {
		Node *string `json:"node"`
	}
	json.Unmarshal(m.Data, &d)
	return m.Type == "executing" && d.Node == nil
}

// TestRemotePrompt runs two long prompts on two instances at once, for a
// client connected to the first only: it sees both start and end, the
// one run by the other instance through the event bridge; interrupts and
// cancels sent to the first instance stop both.
func TestRemotePrompt(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 2)
	a := servers[0]
	const clientID = "remote"
	c := a.connect(clientID)
	long := func(value int) map[string]any {
		return map[string]any{"client_id": clientID, "prompt": map[string]any{
			"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": value, "seconds": 600}},
			"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
		}}
	}
	first, second := a.submit(long(1)), a.submit(long(2))
	// Both running at once: one runs on each instance.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var q struct {
			Running []json.RawMessage `json:"queue_running"`
		}
		a.getJSON("/queue", &q)
		if len(q.Running) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d prompts running, want 2 (one per instance)", len(q.Running))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, id := range []string{first, second} {
		c.waitFor(func(m wsMessage) bool { return m.Type == "execution_start" && strings.Contains(string(m.Data), id) })
	}

	// The interrupt and the cancel are both sent to instance a; one of the
	// prompts runs on the other.
	if status, resp := a.do("POST", "/interrupt", map[string]any{"prompt_id": first}); status != http.StatusOK {
		t.Fatalf("POST /interrupt: %d %s", status, resp)
	}
	if status, resp := a.do("POST", "/api/jobs/"+second+"/cancel", nil); status != http.StatusOK {
		t.Fatalf("POST /api/jobs/%s/cancel: %d %s", second, status, resp)
	}
	for _, id := range []string{first, second} {
		c.waitFor(finished(id))
	}
	a.waitIdle(2)
	var history map[string]struct {
		Status struct {
			StatusStr string `json:"status_str"`
			Messages  [][]any
		} `json:"status"`
	}
	a.getJSON("/history", &history)
	for _, id := range []string{first, second} {
		h := history[id]
		interrupted := false
		for _, m := range h.Status.Messages {
			interrupted = interrupted || (len(m) > 0 && m[0] == "execution_interrupted")
		}
		if h.Status.StatusStr != "error" || !interrupted {
			t.Errorf("history of %s = %+v, want interrupted", id, h.Status)
		}
	}
}

// BenchmarkInstances measures the throughput of trivial prompts through
// one and three instances on one database, submitted to them in turn
// (prompts/s). It needs a PostgreSQL server, as TestThreeInstances.
func BenchmarkInstances(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers := startInstances(b, n)
			b.ResetTimer()
			for i := range b.N {
				servers[i%n].submit(trivialPrompt(i, "bench"))
			}
			servers[0].waitIdle(b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "prompts/s")
		})
	}
}
