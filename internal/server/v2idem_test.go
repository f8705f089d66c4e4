package server

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/postgres"
	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
	"github.com/gocomfy/gocomfy/internal/store/sqlite"
)

// sharedStore opens a SQLite store for several servers: the instances of
// a cluster, or one server and its restart.
func sharedStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// onSharedStores runs test, in parallel, on each store the v2 tests that
// keep state in the store run on: SQLite, and PostgreSQL
// (GOCOMFY_TEST_POSTGRES_URL; skipped without it, except under CI=true).
func onSharedStores(t *testing.T, test func(t *testing.T, st store.Store)) {
	stores := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", sharedStore},
		{"postgres", func(t *testing.T) store.Store {
			st, err := postgres.Open(context.Background(), pgtest.Schema(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			test(t, sc.open(t))
		})
	}
}

// v2Body is a POST /api/v2/jobs body of the stub prompt.
func v2Body(t *testing.T, extra map[string]any) string {
	t.Helper()
	var prompt struct {
		Prompt json.RawMessage `json:"prompt"`
	}
	json.Unmarshal([]byte(stubPrompt("")), &prompt)
	body := map[string]any{"workflow": prompt.Prompt}
	for k, v := range extra {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestV2IdempotencyAcrossInstances: two servers over one store (a restart,
// or two instances) share the keys.
func TestV2IdempotencyAcrossInstances(t *testing.T) {
	t.Parallel()
	onSharedStores(t, testIdempotencyAcrossInstances)
}

func testIdempotencyAcrossInstances(t *testing.T, st store.Store) {
	a, b := newOpsEnv(t, Config{Store: st}), newOpsEnv(t, Config{Store: st})
	body := v2Body(t, nil)
	other := v2Body(t, map[string]any{"extra_data": map[string]any{}})
	post := func(e *opsEnv, key, body string) *http.Response {
		w := e.do("POST", "/api/v2/jobs", body, "Idempotency-Key", key)
		return w.Result()
	}
	first := post(a, "k1", body)
	var j struct{ ID string }
	json.NewDecoder(first.Body).Decode(&j)
	if first.StatusCode != 201 || first.Header.Get("Idempotency-Replayed") != "" || j.ID == "" {
		t.Fatalf("first: %d %v", first.StatusCode, first.Header)
	}
	var replay struct{ ID string }
	r := post(b, "k1", body)
	json.NewDecoder(r.Body).Decode(&replay)
	if r.StatusCode != 201 || r.Header.Get("Idempotency-Replayed") != "true" || replay.ID != j.ID {
		t.Errorf("replay on the other instance: %d %v %s, want job %s", r.StatusCode, r.Header, replay.ID, j.ID)
	}
	if r := post(b, "k1", other); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("reuse: %d", r.StatusCode)
	}
	if _, pending, _ := st.Queue(t.Context()); len(pending) != 1 {
		t.Errorf("%d jobs queued, want 1", len(pending))
	}

	// Another instance is handling k2 right now (reserved a moment ago):
	// 409 with Retry-After, on any instance.
	now := time.Now().UnixMilli()
	if live, err := st.ReserveIdempotencyKey(t.Context(), store.IdempotencyKey{Key: "k2", Body: bodyDigest([]byte(body)),
		JobID: "job-in-flight", Created: now}, ""); err != nil || live != nil {
		t.Fatal(live, err)
	}
	r = post(a, "k2", body)
	if r.StatusCode != http.StatusConflict || r.Header.Get("Retry-After") == "" {
		t.Errorf("in flight: %d %v", r.StatusCode, r.Header)
	}

	// An instance stopped after reserving k3 and queueing its job: the
	// retry replays that job.
	old := time.Now().Add(-time.Hour).UnixMilli()
	st.ReserveIdempotencyKey(t.Context(), store.IdempotencyKey{Key: "k3", Body: bodyDigest([]byte(body)), JobID: j.ID, Created: old}, "")
	var k3 struct{ ID string }
	r = post(b, "k3", body)
	json.NewDecoder(r.Body).Decode(&k3)
	if r.StatusCode != 201 || r.Header.Get("Idempotency-Replayed") != "true" || k3.ID != j.ID {
		t.Errorf("crashed after submit: %d %v %s", r.StatusCode, r.Header, k3.ID)
	}

	// An instance stopped after reserving k4, before queueing: once the
	// reservation is stale, the retry creates the job.
	st.ReserveIdempotencyKey(t.Context(), store.IdempotencyKey{Key: "k4", Body: bodyDigest([]byte(body)), JobID: "never-queued", Created: old}, "")
	var k4 struct{ ID string }
	r = post(b, "k4", body)
	json.NewDecoder(r.Body).Decode(&k4)
	if r.StatusCode != 201 || r.Header.Get("Idempotency-Replayed") != "" || k4.ID == "" || k4.ID == "never-queued" {
		t.Errorf("crashed before submit: %d %v %s", r.StatusCode, r.Header, k4.ID)
	}

	// A refused request releases its key: the fixed retry is handled anew.
	if w := a.do("POST", "/api/v2/jobs", `{"workflow": {"1": {"class_type": "Nope", "inputs": {}}}}`, "Idempotency-Key", "k5"); w.Code != 422 {
		t.Fatalf("invalid: %d %s", w.Code, w.Body)
	}
	if r := post(b, "k5", body); r.StatusCode != 201 || r.Header.Get("Idempotency-Replayed") != "" {
		t.Errorf("after a refusal: %d %v", r.StatusCode, r.Header)
	}
}
