package gocomfy_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
)

// TestDatabaseRestart restarts the PostgreSQL server (pg_ctl restart, on a
// cluster of the test's own) under two instances, while each runs a prompt,
// one more waits and a client keeps submitting: the instances reconnect,
// every prompt POST /prompt accepted runs to success once (the two that
// ran across the restart finish their run, started before it, rather than
// run again), and a prompt queued after the restart runs as usual.
func TestDatabaseRestart(t *testing.T) {
	t.Parallel()
	cluster := pgtest.NewCluster(t)
	db := cluster.Schema()
	a := startServer(t, gocomfy.Config{DatabaseURL: db, EnableTestNodes: true})
	b := startServer(t, gocomfy.Config{DatabaseURL: db, EnableTestNodes: true})

	var across []string
	for _, seconds := range []float64{3, 3.01, 3.02} {
		across = append(across, a.submit(map[string]any{"prompt": sleepPrompt(seconds)}))
	}
	a.waitRunning(2) // one on each instance, the third pending

	// A client submits trivial prompts to both instances, one after the
	// other, through the restart; some are refused while the database is
	// down, the others must not be lost.
	var (
		mu       sync.Mutex
		accepted []string
		refused  = map[string]int{} // error → count
	)
	stop := make(chan struct{})
	var client sync.WaitGroup
	client.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			acc, err := post([]*testServer{a, b}[i%2].url, trivialPrompt(100+i, ""))
			mu.Lock()
			if err != nil {
				refused[err.Error()]++
			} else {
				accepted = append(accepted, acc.PromptID)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	time.Sleep(200 * time.Millisecond)
	restarted := time.Now().UnixMilli()
	cluster.Restart()
	time.Sleep(2 * time.Second)
	close(stop)
	client.Wait()
	after := b.submit(trivialPrompt(-1, ""))
	t.Logf("%d prompts accepted; refused while the database restarted: %v", len(accepted), refused)

	// A refused prompt may have been queued all the same (the answer was
	// lost, not the commit): the history may hold more than want.
	want := append(append(across, accepted...), after)
	for deadline := time.Now().Add(60 * time.Second); ; {
		var q struct {
			Running []json.RawMessage `json:"queue_running"`
			Pending []json.RawMessage `json:"queue_pending"`
		}
		a.getJSON("/queue", &q)
		var history map[string]json.RawMessage
		a.getJSON("/history", &history)
		if len(q.Running)+len(q.Pending) == 0 && len(history) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not idle: %d running, %d pending, %d finished (want %d)", len(q.Running), len(q.Pending), len(history), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, ts := range []*testServer{a, b} {
		var history map[string]struct {
			Status struct {
				StatusStr string `json:"status_str"`
			} `json:"status"`
		}
		ts.getJSON("/history", &history)
		for _, id := range want {
			if h, ok := history[id]; !ok || h.Status.StatusStr != "success" {
				t.Errorf("history of %s on %s = %+v (present %v), want success", id, ts.url, h, ok)
			}
		}
	}
	// The prompts that ran across the restart were not taken back: their
	// run started before it.
	for _, id := range across[:2] {
		var job struct {
			Status             string `json:"status"`
			ExecutionStartTime int64  `json:"execution_start_time"`
		}
		if status, body := a.do("GET", "/api/jobs/"+id, nil); status != http.StatusOK || json.Unmarshal(body, &job) != nil {
			t.Fatalf("GET /api/jobs/%s: %d %s", id, status, body)
		}
		if job.Status != "completed" || job.ExecutionStartTime == 0 || job.ExecutionStartTime > restarted {
			t.Errorf("job %s: %+v; want completed, started before the restart (%d)", id, job, restarted)
		}
	}
}

// buildBinary builds the gocomfy command into a folder of the test's own
// and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gocomfy")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gocomfy").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs the gocomfy binary bin with args on a free port, with
// base as its base directory, until the test ends (or it is killed) and
// waits until it serves.
func startBinary(t *testing.T, bin, base string, args ...string) (*exec.Cmd, *testServer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, append(args, "--base-directory", base, "--port", fmt.Sprint(port))...)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ts := &testServer{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), base: base}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := testClient.Get(ts.url + "/prompt"); err == nil {
			resp.Body.Close()
			return cmd, ts
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKilledInstance kills (SIGKILL) an instance sharing PostgreSQL while
// it runs a prompt: the other instance goes on serving, and once the dead
// one's lease expires (a minute) it runs the prompt again, or, with
// --fail-lost-prompts, records it as failed. Either way the prompt is in
// the history once, never lost and never run twice at once.
func TestKilledInstance(t *testing.T) {
	t.Parallel()
	pgtest.ServerURL(t)
	bin := buildBinary(t)
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("FailLostPrompts=%v", fail), func(t *testing.T) {
			t.Parallel()
			db := pgtest.Schema(t)
			victim, a := startBinary(t, bin, t.TempDir(), "--enable-test-nodes", "--db", db)
			lost := a.submit(map[string]any{"prompt": sleepPrompt(1)})
			a.waitRunning(1)
			b := startServer(t, gocomfy.Config{DatabaseURL: db, EnableTestNodes: true, FailLostPrompts: fail})
			victim.Process.Signal(syscall.SIGKILL)
			victim.Wait()
			killed := time.Now().UnixMilli()

			// b runs new prompts meanwhile; the lost one is still
			// running for it, leased to the dead instance.
			other := b.submit(trivialPrompt(1, ""))
			for deadline := time.Now().Add(30 * time.Second); b.status(other) != "completed"; {
				if time.Now().After(deadline) {
					t.Fatalf("a prompt queued after the kill is %q", b.status(other))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if s := b.status(lost); s != "in_progress" {
				t.Fatalf("the dead instance's prompt is %q before its lease expired, want in_progress", s)
			}

			want := "completed"
			if fail {
				want = "failed"
			}
			for deadline := time.Now().Add(3 * time.Minute); b.status(lost) != want; {
				if time.Now().After(deadline) {
					t.Fatalf("the dead instance's prompt is %q, want %s", b.status(lost), want)
				}
				time.Sleep(100 * time.Millisecond)
			}
			var job struct {
				ExecutionStartTime int64 `json:"execution_start_time"`
				ExecutionError     struct {
					Message string `json:"exception_message"`
				} `json:"execution_error"`
			}
			b.getJSON("/api/jobs/"+lost, &job)
			if fail && !strings.Contains(job.ExecutionError.Message, "lease expired") {
				t.Errorf("the failed prompt's error is %q, want it to say its lease expired", job.ExecutionError.Message)
			}
			if !fail && job.ExecutionStartTime < killed {
				t.Errorf("the prompt completed in a run started at %d, before the kill (%d)", job.ExecutionStartTime, killed)
			}
			b.waitIdle(2)
		})
	}
}

// status returns the status of job id in /api/jobs/{id}.
func (ts *testServer) status(id string) string {
	ts.t.Helper()
	var job struct {
		Status string `json:"status"`
	}
	ts.getJSON("/api/jobs/"+id, &job)
	return job.Status
}
