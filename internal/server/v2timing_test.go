package server

import (
	"encoding/json"
	"github.com/gocomfy/gocomfy/internal/store"
	"testing"
	"time"
)

// timing is the "timing" object of the job views.
type timing struct {
	QueueMS     *int64 `json:"queue_ms"`
	ExecutionMS *int64 `json:"execution_ms"`
	Nodes       []struct {
		NodeID     string  `json:"node_id"`
		ClassType  *string `json:"class_type"`
		Start      int64   `json:"start"`
		End        *int64  `json:"end"`
		DurationMS *int64  `json:"duration_ms"`
		Cached     bool    `json:"cached"`
	} `json:"nodes"`
}

// waitFinished polls the v2 job until it is terminal and returns its body.
func waitFinished(t *testing.T, e *opsEnv, id string) []byte {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		w := e.do("GET", "/api/v2/jobs/"+id, "")
		var j struct{ Status string }
		json.Unmarshal(w.Body.Bytes(), &j)
		if j.Status == "succeeded" || j.Status == "failed" || j.Status == "canceled" {
			return w.Body.Bytes()
		}
	}
	t.Fatalf("job %s never finished", id)
	return nil
}

// TestNodeTiming: the per-node timing and the queue wait are stored with
// the job, shown by the v2 job and the legacy job details, and kept across
// a restart; a second run of the same prompt comes from the cache.
func TestNodeTiming(t *testing.T) {
	t.Parallel()
	onSharedStores(t, testNodeTiming)
}

func testNodeTiming(t *testing.T, st store.Store) {
	e := newOpsEnv(t, Config{Store: st})
	e.runQueue()
	first := jobID(t, e.do("POST", "/api/v2/jobs", v2Body(t, nil)))
	waitFinished(t, e, first)
	second := jobID(t, e.do("POST", "/api/v2/jobs", v2Body(t, nil)))
	waitFinished(t, e, second)

	restarted := newOpsEnv(t, Config{Store: st}) // reads what the first server stored
	for _, tc := range []struct {
		id     string
		cached bool
	}{{first, false}, {second, true}} {
		var v2 struct {
			Metrics map[string]*int64 `json:"metrics"`
			Timing  timing            `json:"timing"`
		}
		// The timing is stored right after the job: wait for it.
		for range 1000 {
			json.Unmarshal(restarted.do("GET", "/api/v2/jobs/"+tc.id, "").Body.Bytes(), &v2)
			if len(v2.Timing.Nodes) == 2 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		var legacy struct {
			ID     string `json:"id"`
			Timing timing `json:"timing"`
		}
		json.Unmarshal(restarted.do("GET", "/api/jobs/"+tc.id, "").Body.Bytes(), &legacy)
		for name, tm := range map[string]timing{"v2": v2.Timing, "legacy": legacy.Timing} {
			if tm.QueueMS == nil || *tm.QueueMS < 0 || tm.ExecutionMS == nil || len(tm.Nodes) != 2 {
				b, _ := json.Marshal(tm)
				t.Fatalf("%s %s: timing %s", tc.id, name, b)
			}
			for i, n := range tm.Nodes {
				wantID, wantClass := []string{"1", "2"}[i], []string{"StubImage", "TestOutputNodeWithSocketOutput"}[i]
				if n.NodeID != wantID || n.ClassType == nil || *n.ClassType != wantClass || n.Cached != tc.cached ||
					n.End == nil || n.DurationMS == nil || *n.DurationMS != *n.End-n.Start || n.Start <= 0 {
					t.Errorf("%s %s node %d: %+v", tc.id, name, i, n)
				}
			}
		}
		if v2.Metrics["queue_ms"] == nil || *v2.Metrics["queue_ms"] != *v2.Timing.QueueMS {
			t.Errorf("metrics %v, timing %+v", v2.Metrics, v2.Timing)
		}
	}
}
