package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/postgres"
	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
	"github.com/gocomfy/gocomfy/internal/store/sqlite"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/builtin"
	"github.com/gocomfy/gocomfy/nodes/testnodes"
)

// instance is a queue of its own on a shared store, as one gocomfy
// instance has.
type instance struct {
	q    *queue.Queue
	stop func()
}

// startInstance runs a queue for cfg.Worker on st, with short lease and
// poll periods, until the test ends. cfg also sets the clock (Now: time.Now
// when nil), the Interrupter and FailLostPrompts.
func startInstance(t *testing.T, st store.Store, cfg queue.Config) *instance {
	t.Helper()
	reg := node.NewRegistry()
	builtin.Register(reg)
	testnodes.Register(reg)
	logger := slog.New(slog.DiscardHandler)
	cfg.Store, cfg.Registry, cfg.Logger = st, reg, logger
	cfg.Executor = executor.New(reg, executor.Config{Logger: logger})
	cfg.Sink = executor.SinkFunc(func(executor.Event) {})
	cfg.LeaseInterval, cfg.PollInterval = 5*time.Millisecond, 5*time.Millisecond
	q, err := queue.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { q.Run(ctx) })
	inst := &instance{q: q, stop: sync.OnceFunc(func() { cancel(); wg.Wait() })}
	t.Cleanup(inst.stop)
	return inst
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stores opens a new store of each kind, closed when the test ends.
var stores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gocomfy.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", func(t *testing.T) store.Store {
		st, err := postgres.Open(t.Context(), pgtest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// TestLeaseTakenBack follows a prompt whose instance stops renewing its
// lease in time (here: the other instance's clock is two leases ahead), as
// when it is killed: the other instance takes it back and runs it, or,
// with FailLostPrompts, records it as failed. The first one stops its run
// as soon as its heartbeat finds the prompt gone, so the prompt never runs
// twice at once, and it is finished once, by the instance that took it.
func TestLeaseTakenBack(t *testing.T) {
	for _, s := range stores {
		for _, fail := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/FailLostPrompts=%v", s.name, fail), func(t *testing.T) {
				t.Parallel()
				testLeaseTakenBack(t, s.open(t), fail)
			})
		}
	}
}

func testLeaseTakenBack(t *testing.T, st store.Store, fail bool) {
	a := startInstance(t, st, queue.Config{Worker: "a"})
	acc, err := a.q.Submit(t.Context(), queue.Submission{Prompt: json.RawMessage(`{
		"1": {"class_type": "TestSleep", "inputs": {"value": 1, "seconds": 600}},
		"2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := acc.PromptID
	eventually(t, "a runs the prompt", func() bool { running, _, _ := a.q.Running(); return running == id })

	b := startInstance(t, st, queue.Config{Worker: "b", FailLostPrompts: fail,
		Now: func() time.Time { return time.Now().Add(2 * store.Lease * time.Millisecond) }})
	eventually(t, "a stops its run", func() bool { _, _, running := a.q.Running(); return !running })
	history := func() []*store.Job {
		h, err := st.History(t.Context(), store.HistoryQuery{MaxItems: -1, Offset: -1})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if fail {
		h := history()
		if len(h) != 1 || h[0].ID != id || h[0].Status != store.Failed ||
			!strings.Contains(string(h[0].ExecutionError), "lease expired") {
			t.Fatalf("History = %+v; want the prompt once, failed as lost", h)
		}
		if running, _, _ := b.q.Running(); running != "" {
			t.Errorf("b runs %q; want nothing", running)
		}
		return
	}
	eventually(t, "b runs the prompt", func() bool { running, _, _ := b.q.Running(); return running == id })
	if j, err := st.Get(t.Context(), id); err != nil || j.Status != store.InProgress || j.Worker != "b" {
		t.Fatalf("job = %+v, %v; want in progress on b", j, err)
	}
	if !b.q.Interrupt(id) {
		t.Fatal("Interrupt on b: not running")
	}
	eventually(t, "b finishes the prompt", func() bool { _, _, running := b.q.Running(); return !running })
	if h := history(); len(h) != 1 || h[0].ID != id || h[0].Worker != "b" || h[0].Status != store.Cancelled {
		t.Fatalf("History = %+v; want the prompt once, cancelled on b", h)
	}
}

// TestIdleQueuePolls checks that an idle queue runs a prompt another
// instance queued, with no notification: its poll finds it.
func TestIdleQueuePolls(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gocomfy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	startInstance(t, st, queue.Config{Worker: "idle"})
	// The other instance only queues: its worker never runs.
	other := startInstance(t, st, queue.Config{Worker: "other"})
	other.stop()
	acc, err := other.q.Submit(t.Context(), queue.Submission{Prompt: json.RawMessage(`{
		"1": {"class_type": "PrimitiveInt", "inputs": {"value": 1}},
		"2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the idle instance runs the prompt", func() bool {
		j, err := st.Get(t.Context(), acc.PromptID)
		return err == nil && j.Status == store.Completed && j.Worker == "idle"
	})
}

// interruptBus is an in-memory store.Interrupter shared by the instances
// of a test.
type interruptBus struct {
	mu  sync.Mutex
	fns []func(string)
}

func (b *interruptBus) PublishInterrupt(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fn := range b.fns {
		fn(id)
	}
	return nil
}

func (b *interruptBus) ListenInterrupts(ctx context.Context, fn func(string)) error {
	b.mu.Lock()
	b.fns = append(b.fns, fn)
	b.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (b *interruptBus) listeners() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.fns)
}

// TestRemoteInterrupt stops prompts running on instance a through
// instance b: Interrupt (of the prompt, or global) and Cancel on b reach
// a through the Interrupter.
func TestRemoteInterrupt(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gocomfy.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bus := &interruptBus{}
	a := startInstance(t, st, queue.Config{Worker: "a", Interrupter: bus})
	b := startInstance(t, st, queue.Config{Worker: "b", Interrupter: bus})
	eventually(t, "both listen", func() bool { return bus.listeners() == 2 })
	b.stop() // b only forwards: a runs every prompt

	for _, stop := range []struct {
		name string
		fn   func(id string) bool
	}{
		{"Interrupt", b.q.Interrupt},
		{"global Interrupt", func(string) bool { return b.q.Interrupt("") }},
		{"Cancel", func(id string) bool { ok, err := b.q.Cancel(t.Context(), id); return ok && err == nil }},
	} {
		acc, err := a.q.Submit(t.Context(), queue.Submission{Prompt: json.RawMessage(`{
			"1": {"class_type": "TestSleep", "inputs": {"value": 1, "seconds": 600}},
			"2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}`)})
		if err != nil {
			t.Fatal(err)
		}
		id := acc.PromptID
		eventually(t, "a runs the prompt", func() bool { running, _, _ := a.q.Running(); return running == id })
		if b.q.Interrupt("unknown") {
			t.Errorf("%s: b interrupted a prompt that is not running", stop.name)
		}
		if !stop.fn(id) {
			t.Fatalf("%s on b: false, want the prompt on a stopped", stop.name)
		}
		eventually(t, "a stops the prompt", func() bool {
			j, err := st.Get(t.Context(), id)
			return err == nil && j.Status == store.Cancelled && j.Worker == "a"
		})
	}
}
