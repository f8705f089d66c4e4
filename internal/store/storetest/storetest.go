// Package storetest is the conformance suite of store.Store. Every
// implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// The cases pin ComfyUI's queue, history and /api/jobs semantics (see the
// store package documentation), so that the implementations agree with
// ComfyUI and with each other.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/internal/store"
)

// Run runs the suite. open must return a new, empty store each time it is
// called; the suite closes it when the subtest ends. Subtests run in
// parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"ClaimOrder", testClaimOrder},
		{"ClaimEmpty", testClaimEmpty},
		{"ClaimSetsWorkerAndStart", testClaimSetsWorkerAndStart},
		{"FinishHistoryOrder", testFinishHistoryOrder},
		{"FinishRejects", testFinishRejects},
		{"GetEveryState", testGetEveryState},
		{"QueueRunningOrder", testQueueRunningOrder},
		{"QueueLen", testQueueLen},
		{"DeletePending", testDeletePending},
		{"ClearPending", testClearPending},
		{"RequeueRunning", testRequeueRunning},
		{"RequeueRunningOtherWorker", testRequeueRunningOtherWorker},
		{"Leases", testLeases},
		{"FinishOtherWorker", testFinishOtherWorker},
		{"HistoryWindows", testHistoryWindows},
		{"HistoryUser", testHistoryUser},
		{"DeleteHistory", testDeleteHistory},
		{"ClearHistory", testClearHistory},
		{"TrimHistory", testTrimHistory},
		{"JobsTies", testJobsTies},
		{"JobsDuration", testJobsDuration},
		{"JobsModel", testJobsModel},
		{"JobsInvalid", testJobsInvalid},
		{"Resubmit", testResubmit},
		{"EnqueueInvalid", testEnqueueInvalid},
		{"ConcurrentClaim", testConcurrentClaim},
		{"RoundTrip", testRoundTrip},
		{"NilJSON", testNilJSON},
		{"Numbers", testNumbers},
		{"NextNumber", testNextNumber},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"IdempotencyKeyRace", testIdempotencyKeyRace},
		{"JobAttachments", testJobAttachments},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.run(t, s)
		})
	}
}

// newJob returns a pending job with small payloads.
func newJob(id string, number float64) *store.Job {
	return &store.Job{
		ID: id, Number: number, Status: store.Pending, CreateTime: 1000,
		Prompt:           json.RawMessage(`{"1": {"class_type": "Stub", "inputs": {}}}`),
		ExtraData:        json.RawMessage(`{"client_id": "c"}`),
		OutputsToExecute: []string{"1"},
		ClientID:         "c",
	}
}

// result returns a Result with status and ComfyUI's status_str for it.
func result(status store.Status, end int64) store.Result {
	str := "success"
	if status != store.Completed {
		str = "error"
	}
	return store.Result{
		Status: status, EndTime: end, StatusStr: str,
		Outputs:      json.RawMessage(`{"1": {"images": [{"filename": "a.png", "subfolder": "", "type": "output"}]}}`),
		Messages:     json.RawMessage(`[["execution_start", {"prompt_id": "x", "timestamp": 1}]]`),
		OutputsCount: 1,
	}
}

func enqueue(t *testing.T, s store.Store, jobs ...*store.Job) {
	t.Helper()
	for _, j := range jobs {
		if err := s.Enqueue(t.Context(), j); err != nil {
			t.Fatalf("Enqueue(%q): %v", j.ID, err)
		}
	}
}

// claim claims the next job and checks that it is want.
func claim(t *testing.T, s store.Store, want string) *store.Job {
	t.Helper()
	j, err := s.Claim(t.Context(), "w", 2000)
	if err != nil {
		t.Fatalf("Claim: %v (want %q)", err, want)
	}
	if j.ID != want {
		t.Fatalf("Claim = %q, want %q", j.ID, want)
	}
	return j
}

func finish(t *testing.T, s store.Store, id string, status store.Status) {
	t.Helper()
	if err := s.Finish(t.Context(), "w", id, result(status, 3000)); err != nil {
		t.Fatalf("Finish(%q): %v", id, err)
	}
}

// run enqueues, claims and finishes each id in turn with status, so the
// history gets them in that order.
func run(t *testing.T, s store.Store, status store.Status, ids ...string) {
	t.Helper()
	for _, id := range ids {
		enqueue(t, s, newJob(id, -1e9)) // runs before anything already queued
		claim(t, s, id)
		finish(t, s, id, status)
	}
}

func ids(jobs []*store.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func wantIDs(t *testing.T, what string, got []*store.Job, want ...string) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Errorf("%s = %q, want %q", what, g, want)
	}
}

func get(t *testing.T, s store.Store, id string) *store.Job {
	t.Helper()
	j, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return j
}

func wantStatus(t *testing.T, s store.Store, id string, want store.Status) {
	t.Helper()
	if got := get(t, s, id).Status; got != want {
		t.Errorf("Get(%q).Status = %q, want %q", id, got, want)
	}
}

func queue(t *testing.T, s store.Store) (running, pending []*store.Job) {
	t.Helper()
	running, pending, err := s.Queue(t.Context())
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	return running, pending
}

func wantQueueLen(t *testing.T, s store.Store, pending, running int) {
	t.Helper()
	p, r, err := s.QueueLen(t.Context())
	if err != nil {
		t.Fatalf("QueueLen: %v", err)
	}
	if p != pending || r != running {
		t.Errorf("QueueLen = %d pending, %d running; want %d, %d", p, r, pending, running)
	}
}

func history(t *testing.T, s store.Store, q store.HistoryQuery) []*store.Job {
	t.Helper()
	h, err := s.History(t.Context(), q)
	if err != nil {
		t.Fatalf("History(%+v): %v", q, err)
	}
	return h
}

// all is the HistoryQuery of the whole history.
var all = store.HistoryQuery{MaxItems: -1, Offset: -1}

func jobs(t *testing.T, s store.Store, q store.JobQuery) ([]*store.Job, int) {
	t.Helper()
	list, total, err := s.Jobs(t.Context(), q)
	if err != nil {
		t.Fatalf("Jobs(%+v): %v", q, err)
	}
	return list, total
}

func ptr[T any](v T) *T { return &v }

func testClaimOrder(t *testing.T, s store.Store) {
	// ComfyUI's heap: smallest number first, ties by prompt_id in code point
	// order ("Zed" < "apple"), negative numbers (front=true) first.
	enqueue(t, s,
		newJob("p3", 3), newJob("p1b", 1), newJob("p1a", 1), newJob("apple", 2), newJob("Zed", 2),
		newJob("front", -1), newJob("frac", 1.5), newJob("first", math.Inf(-1)), newJob("last", math.Inf(1)))
	want := []string{"first", "front", "p1a", "p1b", "frac", "Zed", "apple", "p3", "last"}
	_, pending := queue(t, s)
	wantIDs(t, "Queue pending", pending, want...)
	for _, id := range want {
		claim(t, s, id)
	}
	if _, err := s.Claim(t.Context(), "w", 1); !errors.Is(err, store.ErrNoJob) {
		t.Errorf("Claim on an empty queue: %v, want ErrNoJob", err)
	}
}

func testClaimEmpty(t *testing.T, s store.Store) {
	if j, err := s.Claim(t.Context(), "w", 1); !errors.Is(err, store.ErrNoJob) || j != nil {
		t.Errorf("Claim on a new store = %v, %v; want nil, ErrNoJob", j, err)
	}
	run(t, s, store.Completed, "done")
	enqueue(t, s, newJob("running", 0))
	claim(t, s, "running")
	if _, err := s.Claim(t.Context(), "w", 1); !errors.Is(err, store.ErrNoJob) {
		t.Errorf("Claim with only running and finished jobs: %v, want ErrNoJob", err)
	}
}

func testClaimSetsWorkerAndStart(t *testing.T, s store.Store) {
	want := newJob("a", 0)
	enqueue(t, s, want)
	got, err := s.Claim(t.Context(), "worker-1", 1751500000123)
	if err != nil {
		t.Fatal(err)
	}
	want.Status, want.Worker, want.StartTime = store.InProgress, "worker-1", 1751500000123
	checkJob(t, "Claim", got, want)
	checkJob(t, "Get", get(t, s, "a"), want)
	running, _ := queue(t, s)
	if len(running) != 1 {
		t.Fatalf("Queue running = %q, want [a]", ids(running))
	}
	checkJob(t, "Queue running", running[0], want)
}

func testFinishHistoryOrder(t *testing.T, s store.Store) {
	enqueue(t, s, newJob("a", 0), newJob("b", 1), newJob("c", 2))
	claim(t, s, "a")
	claim(t, s, "b")
	claim(t, s, "c")
	// History is in finish order, whatever the claim order was.
	finish(t, s, "b", store.Completed)
	finish(t, s, "c", store.Failed)
	finish(t, s, "a", store.Cancelled)
	h := history(t, s, all)
	wantIDs(t, "History", h, "b", "c", "a")
	for i, st := range []store.Status{store.Completed, store.Failed, store.Cancelled} {
		if h[i].Status != st {
			t.Errorf("History[%d].Status = %q, want %q", i, h[i].Status, st)
		}
	}
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running)
	wantIDs(t, "Queue pending", pending)
	wantQueueLen(t, s, 0, 0)
}

func testFinishRejects(t *testing.T, s store.Store) {
	ctx := t.Context()
	run(t, s, store.Completed, "done")
	enqueue(t, s, newJob("run", 0), newJob("wait", 1))
	claim(t, s, "run")
	for _, id := range []string{"done", "wait", "unknown"} {
		if err := s.Finish(ctx, "w", id, result(store.Completed, 1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Finish(%q) of a job not in progress: %v, want ErrNotFound", id, err)
		}
	}
	for _, st := range []store.Status{store.Pending, store.InProgress, "", "bogus"} {
		if err := s.Finish(ctx, "w", "run", result(st, 1)); err == nil {
			t.Errorf("Finish with status %q: no error", st)
		}
	}
	wantStatus(t, s, "run", store.InProgress)
	wantStatus(t, s, "wait", store.Pending)
	wantIDs(t, "History", history(t, s, all), "done")
}

func testGetEveryState(t *testing.T, s store.Store) {
	run(t, s, store.Completed, "completed")
	run(t, s, store.Failed, "failed")
	run(t, s, store.Cancelled, "cancelled")
	enqueue(t, s, newJob("running", 0), newJob("pending", 1))
	claim(t, s, "running")
	for _, st := range []store.Status{store.Completed, store.Failed, store.Cancelled, store.Pending} {
		wantStatus(t, s, string(st), st)
	}
	wantStatus(t, s, "running", store.InProgress)
	if j, err := s.Get(t.Context(), "unknown"); !errors.Is(err, store.ErrNotFound) || j != nil {
		t.Errorf("Get(unknown) = %v, %v; want nil, ErrNotFound", j, err)
	}
}

func testQueueRunningOrder(t *testing.T, s store.Store) {
	enqueue(t, s, newJob("a", 0), newJob("b", 1), newJob("c", 2), newJob("d", 3))
	claim(t, s, "a")
	claim(t, s, "b")
	enqueue(t, s, newJob("front", -1)) // claimed after b, so listed after it
	claim(t, s, "front")
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running, "a", "b", "front")
	wantIDs(t, "Queue pending", pending, "c", "d")
	finish(t, s, "b", store.Completed)
	running, _ = queue(t, s)
	wantIDs(t, "Queue running after finishing b", running, "a", "front")
}

func testQueueLen(t *testing.T, s store.Store) {
	wantQueueLen(t, s, 0, 0)
	enqueue(t, s, newJob("a", 0), newJob("b", 1), newJob("c", 2))
	wantQueueLen(t, s, 3, 0)
	claim(t, s, "a")
	wantQueueLen(t, s, 2, 1)
	finish(t, s, "a", store.Completed)
	wantQueueLen(t, s, 2, 0)
	if _, err := s.DeletePending(t.Context(), []string{"b"}); err != nil {
		t.Fatal(err)
	}
	wantQueueLen(t, s, 1, 0)
}

func testDeletePending(t *testing.T, s store.Store) {
	run(t, s, store.Completed, "done")
	enqueue(t, s, newJob("a", 0), newJob("b", 1), newJob("c", 2), newJob("d", 3))
	claim(t, s, "a")
	removed, err := s.DeletePending(t.Context(), []string{"a", "c", "unknown", "done", "c", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"c", "b"}) {
		t.Errorf("DeletePending removed %q, want [c b]", removed)
	}
	wantStatus(t, s, "a", store.InProgress)
	wantStatus(t, s, "done", store.Completed)
	for _, id := range []string{"b", "c"} {
		if _, err := s.Get(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) after DeletePending: %v, want ErrNotFound", id, err)
		}
	}
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running, "a")
	wantIDs(t, "Queue pending", pending, "d")
	wantQueueLen(t, s, 1, 1)
	if removed, err := s.DeletePending(t.Context(), nil); err != nil || len(removed) != 0 {
		t.Errorf("DeletePending(nil) = %q, %v; want none", removed, err)
	}
}

func testClearPending(t *testing.T, s store.Store) {
	run(t, s, store.Failed, "done")
	enqueue(t, s, newJob("a", 0), newJob("b", 1), newJob("c", 2))
	claim(t, s, "a")
	n, err := s.ClearPending(t.Context())
	if err != nil || n != 2 {
		t.Errorf("ClearPending = %d, %v; want 2", n, err)
	}
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running, "a")
	wantIDs(t, "Queue pending", pending)
	wantIDs(t, "History", history(t, s, all), "done")
	wantQueueLen(t, s, 0, 1)
	if n, err := s.ClearPending(t.Context()); err != nil || n != 0 {
		t.Errorf("ClearPending of an empty queue = %d, %v; want 0", n, err)
	}
}

func testRequeueRunning(t *testing.T, s store.Store) {
	ctx := t.Context()
	run(t, s, store.Completed, "done")
	enqueue(t, s, newJob("r2", 0), newJob("r1", 1), newJob("p", 2))
	claim(t, s, "r2")
	claim(t, s, "r1")
	stopped := store.Result{
		Status: store.Failed, EndTime: 9000, StatusStr: "error",
		Messages: json.RawMessage(`[["execution_error", {"exception_message": "server stopped"}]]`),
	}
	if _, err := s.RequeueRunning(ctx, "w", store.Result{Status: store.InProgress}); err == nil {
		t.Error("RequeueRunning with a non-final status: no error")
	}
	n, err := s.RequeueRunning(ctx, "w", stopped)
	if err != nil || n != 2 {
		t.Fatalf("RequeueRunning = %d, %v; want 2", n, err)
	}
	h := history(t, s, all)
	wantIDs(t, "History", h, "done", "r2", "r1") // in claim order
	for _, j := range h[1:] {
		if j.Status != store.Failed || j.EndTime != 9000 || j.StatusStr != "error" ||
			!bytes.Equal(j.Messages, stopped.Messages) {
			t.Errorf("requeued %q = %+v, want finished with %+v", j.ID, j, stopped)
		}
	}
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running)
	wantIDs(t, "Queue pending", pending, "p")
	wantQueueLen(t, s, 1, 0)
	if n, err := s.RequeueRunning(ctx, "w", stopped); err != nil || n != 0 {
		t.Errorf("second RequeueRunning = %d, %v; want 0", n, err)
	}
}

// testRequeueRunning's store is shared: a restarting worker finishes its
// own running jobs only, not those other workers run.
func testRequeueRunningOtherWorker(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, newJob("mine", 0), newJob("theirs", 1))
	for _, w := range []string{"me", "them"} {
		if _, err := s.Claim(ctx, w, 1); err != nil {
			t.Fatal(err)
		}
	}
	stopped := result(store.Failed, 9000)
	if n, err := s.RequeueRunning(ctx, "me", stopped); err != nil || n != 1 {
		t.Fatalf("RequeueRunning(me) = %d, %v; want 1", n, err)
	}
	wantStatus(t, s, "mine", store.Failed)
	wantStatus(t, s, "theirs", store.InProgress)
	if err := s.Finish(ctx, "them", "theirs", result(store.Completed, 9001)); err != nil {
		t.Errorf("Finish by the other worker: %v", err)
	}
}

func testFinishOtherWorker(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, newJob("a", 0))
	claim(t, s, "a") // by "w"
	if err := s.Finish(ctx, "x", "a", result(store.Completed, 1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish by a worker that did not claim the job: %v, want ErrNotFound", err)
	}
	wantStatus(t, s, "a", store.InProgress)
	finish(t, s, "a", store.Completed)
}

// testLeases follows a job whose worker dies: its lease runs out, another
// worker takes it back into the queue and runs it, the dead worker's late
// Finish is refused, and a second expiry fails the job.
func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	enqueue(t, s, newJob("job", 0), newJob("later", 1))
	if _, err := s.Claim(ctx, "a", 1000); err != nil { // leased until 1000+Lease
		t.Fatal(err)
	}
	expire := func(now int64, r *store.Result, want ...string) {
		t.Helper()
		ids, err := s.RequeueExpired(ctx, now, r)
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("RequeueExpired(%d) = %q, %v; want %q", now, ids, err, want)
		}
	}
	heartbeat := func(worker string, until int64, want int) {
		t.Helper()
		if n, err := s.Heartbeat(ctx, worker, until); n != want || err != nil {
			t.Fatalf("Heartbeat(%s, %d) = %d, %v; want %d", worker, until, n, err, want)
		}
	}
	expire(1000+store.Lease, nil) // not yet
	heartbeat("a", 5000+store.Lease, 1)
	heartbeat("a", 2000+store.Lease, 1) // a lease never shrinks
	heartbeat("b", 5000+store.Lease, 0)
	expire(4000+store.Lease, nil) // extended

	// a dies: its job goes back to the queue, ahead of "later".
	expire(6000+store.Lease, nil, "job")
	if j := get(t, s, "job"); j.Status != store.Pending || j.Worker != "" || j.StartTime != 0 {
		t.Fatalf("requeued job = %+v; want pending, no worker", j)
	}
	_, pending := queue(t, s)
	wantIDs(t, "Queue pending", pending, "job", "later")
	wantQueueLen(t, s, 2, 0)
	heartbeat("a", 9000+store.Lease, 0) // the job is no longer a's
	if err := s.Finish(ctx, "a", "job", result(store.Completed, 7000)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish by the dead worker: %v, want ErrNotFound", err)
	}
	if j, err := s.Claim(ctx, "b", 8000); err != nil || j.ID != "job" || j.Worker != "b" {
		t.Fatalf("Claim = %+v, %v; want the requeued job, by b", j, err)
	}
	if err := s.Finish(ctx, "a", "job", result(store.Completed, 8500)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish by the dead worker of the job b runs: %v, want ErrNotFound", err)
	}

	// b dies too; this time the job is failed.
	if _, err := s.RequeueExpired(ctx, 0, &store.Result{Status: store.Pending}); err == nil {
		t.Error("RequeueExpired with a non-final result: no error")
	}
	failed := result(store.Failed, 9000)
	expire(8001+store.Lease, &failed, "job")
	h := history(t, s, all)
	if len(h) != 1 || h[0].ID != "job" || h[0].Status != store.Failed || h[0].Worker != "b" || h[0].EndTime != 9000 {
		t.Errorf("History = %+v; want job failed on b", h)
	}
	wantQueueLen(t, s, 1, 0)
	expire(1e15, nil) // nothing runs
}

func testHistoryWindows(t *testing.T, s store.Store) {
	// Claimed in one order, finished in another: the history is h0..h4.
	enqueue(t, s, newJob("h3", 0), newJob("h1", 1), newJob("h4", 2), newJob("h0", 3), newJob("h2", 4))
	for _, id := range []string{"h3", "h1", "h4", "h0", "h2"} {
		claim(t, s, id)
	}
	for _, id := range []string{"h0", "h1", "h2", "h3", "h4"} {
		finish(t, s, id, store.Completed)
	}
	enqueue(t, s, newJob("running", 0), newJob("pending", 1))
	claim(t, s, "running")

	h := []string{"h0", "h1", "h2", "h3", "h4"}
	// ComfyUI's get_history(max_items, offset); "no max_items" is -1 here.
	cases := []struct {
		max, offset int
		want        []string
	}{
		{-1, -1, h},    // no parameters: everything
		{-1, 0, h},     // offset=0 equals no offset
		{-1, 2, h[2:]}, // offset=N, no max: len-N items
		{-1, 5, nil},   // offset = len: empty
		{-1, 7, nil},   // offset > len: empty
		{-1, -5, h},    // a negative offset without max counts as 0
		{2, -1, h[3:]}, // negative offset with max: the newest max
		{5, -1, h},     // ... all of them
		{9, -1, h},     // ... max beyond len
		{0, -1, nil},   // ... none
		{2, 0, h[:2]},  // windows
		{2, 2, h[2:4]}, //
		{2, 4, h[4:]},  //
		{2, 5, nil},    //
		{0, 0, nil},    // at most 0
		{3, 1, []string{"h1", "h2", "h3"}},
	}
	for _, c := range cases {
		q := store.HistoryQuery{MaxItems: c.max, Offset: c.offset}
		wantIDs(t, fmt.Sprintf("History(max_items=%d, offset=%d)", c.max, c.offset), history(t, s, q), c.want...)
	}
	// Windows are disjoint and cover the history.
	var pages []*store.Job
	for off := 0; off < 6; off += 2 {
		pages = append(pages, history(t, s, store.HistoryQuery{MaxItems: 2, Offset: off})...)
	}
	wantIDs(t, "History pages", pages, h...)
}

func testHistoryUser(t *testing.T, s store.Store) {
	for i, u := range []string{"alice", "", "bob", "alice", "", "alice"} {
		j := newJob(fmt.Sprintf("j%d", i), -1e9)
		j.UserID = u
		enqueue(t, s, j)
		claim(t, s, j.ID)
		finish(t, s, j.ID, store.Completed)
	}
	wantIDs(t, "History(alice)", history(t, s, store.HistoryQuery{MaxItems: -1, Offset: -1, UserID: ptr("alice")}), "j0", "j3", "j5")
	wantIDs(t, "History(default user)", history(t, s, store.HistoryQuery{MaxItems: -1, Offset: -1, UserID: ptr("")}), "j1", "j4")
	wantIDs(t, "History(alice, newest 2)", history(t, s, store.HistoryQuery{MaxItems: 2, Offset: -1, UserID: ptr("alice")}), "j3", "j5")
	wantIDs(t, "History(alice, offset 1)", history(t, s, store.HistoryQuery{MaxItems: 1, Offset: 1, UserID: ptr("alice")}), "j3")
	wantIDs(t, "History(nobody)", history(t, s, store.HistoryQuery{MaxItems: -1, Offset: -1, UserID: ptr("nobody")}))
	wantIDs(t, "History(all)", history(t, s, all), "j0", "j1", "j2", "j3", "j4", "j5")
}

func testDeleteHistory(t *testing.T, s store.Store) {
	run(t, s, store.Completed, "a", "b", "c")
	enqueue(t, s, newJob("r", 0), newJob("p", 1))
	claim(t, s, "r")
	if err := s.DeleteHistory(t.Context(), []string{"b", "r", "p", "unknown"}); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "History", history(t, s, all), "a", "c")
	if _, err := s.Get(t.Context(), "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	wantStatus(t, s, "r", store.InProgress)
	wantStatus(t, s, "p", store.Pending)
	if _, total := jobs(t, s, store.JobQuery{}); total != 4 {
		t.Errorf("Jobs total = %d, want 4", total)
	}
	if err := s.DeleteHistory(t.Context(), nil); err != nil {
		t.Errorf("DeleteHistory(nil): %v", err)
	}
}

func testClearHistory(t *testing.T, s store.Store) {
	run(t, s, store.Completed, "a", "b")
	run(t, s, store.Failed, "c")
	enqueue(t, s, newJob("r", 0), newJob("p", 1))
	claim(t, s, "r")
	if err := s.ClearHistory(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "History", history(t, s, all))
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running, "r")
	wantIDs(t, "Queue pending", pending, "p")
	list, total := jobs(t, s, store.JobQuery{})
	wantIDs(t, "Jobs", list, "r", "p")
	if total != 2 {
		t.Errorf("Jobs total = %d, want 2", total)
	}
	// The history goes on after a clear.
	run(t, s, store.Completed, "d")
	wantIDs(t, "History", history(t, s, all), "d")
}

func testTrimHistory(t *testing.T, s store.Store) {
	run(t, s, store.Completed, "h0", "h1", "h2", "h3", "h4")
	enqueue(t, s, newJob("r", 0), newJob("p", 1))
	claim(t, s, "r")
	trim := func(keep, want int) {
		t.Helper()
		if n, err := s.TrimHistory(t.Context(), keep); err != nil || n != want {
			t.Errorf("TrimHistory(%d) = %d, %v; want %d", keep, n, err, want)
		}
	}
	trim(10, 0)
	trim(5, 0)
	trim(3, 2)
	wantIDs(t, "History", history(t, s, all), "h2", "h3", "h4")
	trim(3, 0)
	trim(0, 3)
	wantIDs(t, "History", history(t, s, all))
	wantStatus(t, s, "r", store.InProgress)
	wantStatus(t, s, "p", store.Pending)
	if _, total := jobs(t, s, store.JobQuery{}); total != 2 {
		t.Errorf("Jobs total = %d, want 2", total)
	}
}

// testJobsTies pins the listing order of equal keys: running, then pending
// in run order, then finished oldest first, in both sort orders.
func testJobsTies(t *testing.T, s store.Store) {
	at := func(id string, number float64, create int64) *store.Job {
		j := newJob(id, number)
		j.CreateTime = create
		return j
	}
	for _, f := range []struct {
		id     string
		create int64
	}{{"f1", 100}, {"f2", 100}, {"new", 200}, {"old", 50}} { // in finish order
		enqueue(t, s, at(f.id, -1e9, f.create))
		claim(t, s, f.id)
		finish(t, s, f.id, store.Completed)
	}
	enqueue(t, s, at("r", 0, 100), at("p2", 2, 100), at("p1", 1, 100), at("p0", 1, 100))
	claim(t, s, "r")
	// p0 and p1 tie on number: p0 runs first (prompt_id order).

	list, total := jobs(t, s, store.JobQuery{})
	wantIDs(t, "Jobs(created_at desc)", list, "new", "r", "p0", "p1", "p2", "f1", "f2", "old")
	if total != 8 {
		t.Errorf("total = %d, want 8", total)
	}
	list, _ = jobs(t, s, store.JobQuery{Ascending: true})
	wantIDs(t, "Jobs(created_at asc)", list, "old", "r", "p0", "p1", "p2", "f1", "f2", "new")
	list, _ = jobs(t, s, store.JobQuery{SortBy: store.SortCreatedAt, Statuses: []store.Status{store.Completed, store.Pending}})
	wantIDs(t, "Jobs(pending, completed)", list, "new", "p0", "p1", "p2", "f1", "f2", "old")
}

// testJobsDuration checks the execution_duration key: end-start when both
// are set, else 0 (so queued jobs tie with instant ones).
func testJobsDuration(t *testing.T, s store.Store) {
	ctx := t.Context()
	durations := []struct {
		id         string
		start, end int64
	}{{"d30", 1000, 1030}, {"d0", 1000, 1000}, {"d10", 1000, 1010}, {"noend", 1000, 0}, {"d30b", 2000, 2030}}
	for _, d := range durations {
		enqueue(t, s, newJob(d.id, -1e9))
		if _, err := s.Claim(ctx, "w", d.start); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, "w", d.id, result(store.Completed, d.end)); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(t, s, newJob("r", 0), newJob("p", 1))
	claim(t, s, "r")
	list, _ := jobs(t, s, store.JobQuery{SortBy: store.SortExecutionDuration})
	wantIDs(t, "Jobs(duration desc)", list, "d30", "d30b", "d10", "r", "p", "d0", "noend")
	list, _ = jobs(t, s, store.JobQuery{SortBy: store.SortExecutionDuration, Ascending: true})
	wantIDs(t, "Jobs(duration asc)", list, "r", "p", "d0", "noend", "d10", "d30", "d30b")
}

func testJobsInvalid(t *testing.T, s store.Store) {
	enqueue(t, s, newJob("a", 0))
	for _, q := range []store.JobQuery{
		{Statuses: []store.Status{"bogus"}},
		{Statuses: []store.Status{store.Pending, ""}},
		{SortBy: "name"},
	} {
		if _, _, err := s.Jobs(t.Context(), q); err == nil {
			t.Errorf("Jobs(%+v): no error", q)
		}
	}
	// Offset past the end: no jobs, the same total.
	list, total := jobs(t, s, store.JobQuery{Offset: 5, Limit: 10})
	if len(list) != 0 || total != 1 {
		t.Errorf("Jobs(offset past the end) = %q, %d; want none, 1", ids(list), total)
	}
}

func testResubmit(t *testing.T, s store.Store) {
	ctx := t.Context()
	// A finished id comes back as a new pending job and leaves the history.
	run(t, s, store.Completed, "x")
	again := newJob("x", 7)
	again.Prompt = json.RawMessage(`{"2": {}}`)
	enqueue(t, s, again)
	checkJob(t, "resubmitted finished job", get(t, s, "x"), again)
	wantIDs(t, "History", history(t, s, all))

	// A pending id is replaced, with its new number.
	enqueue(t, s, newJob("y", 5), newJob("z", 0))
	enqueue(t, s, newJob("y", -1))
	_, pending := queue(t, s)
	wantIDs(t, "Queue pending", pending, "y", "z", "x")

	// A running id is replaced too: the old run can no longer finish.
	claim(t, s, "y")
	enqueue(t, s, newJob("y", 1))
	wantStatus(t, s, "y", store.Pending)
	if err := s.Finish(ctx, "w", "y", result(store.Completed, 1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish of a replaced run: %v, want ErrNotFound", err)
	}
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running)
	wantIDs(t, "Queue pending", pending, "z", "y", "x")
	wantQueueLen(t, s, 3, 0)
	if _, total := jobs(t, s, store.JobQuery{}); total != 3 {
		t.Errorf("Jobs total = %d, want 3", total)
	}
}

func testEnqueueInvalid(t *testing.T, s store.Store) {
	bad := []*store.Job{
		{ID: "", Number: 0},
		{ID: "nan", Number: math.NaN()},
		{ID: "done", Number: 0, Status: store.Completed},
	}
	for _, j := range bad {
		if err := s.Enqueue(t.Context(), j); err == nil {
			t.Errorf("Enqueue(%+v): no error", j)
		}
	}
	wantQueueLen(t, s, 0, 0)
}

func testConcurrentClaim(t *testing.T, s store.Store) {
	const producers, perProducer, claimers = 2, 40, 4
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	enqueued := make(chan error, producers)
	for p := range producers {
		go func() {
			for i := range perProducer {
				if err := s.Enqueue(ctx, newJob(fmt.Sprintf("p%d-%02d", p, i), float64(i))); err != nil {
					enqueued <- err
					return
				}
			}
			enqueued <- nil
		}()
	}
	type claimed struct {
		ids []string
		err error
	}
	done := make(chan struct{})
	results := make(chan claimed, claimers)
	for range claimers {
		go func() {
			var c claimed
			for {
				// ErrNoJob ends the loop only if every job was enqueued
				// before this Claim began.
				var last bool
				select {
				case <-done:
					last = true
				default:
				}
				j, err := s.Claim(ctx, "w", 1)
				if err == nil {
					c.ids = append(c.ids, j.ID)
					continue
				}
				if !errors.Is(err, store.ErrNoJob) {
					c.err = err
				} else if !last {
					continue
				}
				results <- c
				return
			}
		}()
	}
	for range producers {
		if err := <-enqueued; err != nil {
			t.Error(err)
		}
	}
	close(done)
	seen := map[string]bool{}
	for range claimers {
		c := <-results
		if c.err != nil {
			t.Error(c.err)
		}
		for _, id := range c.ids {
			if seen[id] {
				t.Errorf("job %q claimed twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != producers*perProducer {
		t.Errorf("claimed %d jobs, want %d", len(seen), producers*perProducer)
	}
	wantQueueLen(t, s, 0, producers*perProducer)
}

// checkJob compares every field, JSON byte for byte.
func checkJob(t *testing.T, what string, got, want *store.Job) {
	t.Helper()
	status := want.Status
	if status == "" {
		status = store.Pending
	}
	type field struct {
		name      string
		got, want any
	}
	for _, f := range []field{
		{"ID", got.ID, want.ID},
		{"Number bits", math.Float64bits(got.Number), math.Float64bits(want.Number)},
		{"NumberIsFloat", got.NumberIsFloat, want.NumberIsFloat},
		{"ClientID", got.ClientID, want.ClientID},
		{"WorkflowID", got.WorkflowID, want.WorkflowID},
		{"UserID", got.UserID, want.UserID},
		{"Status", got.Status, status},
		{"CreateTime", got.CreateTime, want.CreateTime},
		{"StartTime", got.StartTime, want.StartTime},
		{"EndTime", got.EndTime, want.EndTime},
		{"StatusStr", got.StatusStr, want.StatusStr},
		{"OutputsCount", got.OutputsCount, want.OutputsCount},
		{"Worker", got.Worker, want.Worker},
		{"WebhookURL", got.WebhookURL, want.WebhookURL},
		{"OutputsToExecute", fmt.Sprintf("%#v", got.OutputsToExecute), fmt.Sprintf("%#v", want.OutputsToExecute)},
	} {
		if f.got != f.want {
			t.Errorf("%s: %s = %v, want %v", what, f.name, f.got, f.want)
		}
	}
	raws := []struct {
		name      string
		got, want json.RawMessage
	}{
		{"Prompt", got.Prompt, want.Prompt},
		{"ExtraData", got.ExtraData, want.ExtraData},
		{"Sensitive", got.Sensitive, want.Sensitive},
		{"Outputs", got.Outputs, want.Outputs},
		{"Meta", got.Meta, want.Meta},
		{"Messages", got.Messages, want.Messages},
		{"ExecutionError", got.ExecutionError, want.ExecutionError},
		{"PreviewOutput", got.PreviewOutput, want.PreviewOutput},
		{"NodeTiming", got.NodeTiming, want.NodeTiming},
	}
	for _, r := range raws {
		if !bytes.Equal(r.got, r.want) || (r.got == nil) != (r.want == nil) {
			t.Errorf("%s: %s = %q (nil %v), want %q (nil %v)", what, r.name, r.got, r.got == nil, r.want, r.want == nil)
		}
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := &store.Job{
		ID: "5b1c5d8e-0000-4000-8000-000000000001", Number: 3, NumberIsFloat: true,
		// Key order, spacing, escapes and number spellings are kept as sent.
		Prompt:           json.RawMessage(`{"9": {"inputs": {"z": 1.50, "a": "é\u00e9\n", "big": 12345678901234567890}, "class_type": "SaveImage"},  "1":{}}`),
		ExtraData:        json.RawMessage(`{"client_id": "abc", "extra_pnginfo": {"workflow": {"id": "wf-1"}}, "create_time": 1751500000000}`),
		Sensitive:        json.RawMessage(`{"api_key_comfy_org": "secret"}`),
		OutputsToExecute: []string{"9", "12", "3"},
		ClientID:         "abc", WorkflowID: "wf-1", UserID: "alice",
		CreateTime: 1751500000000,
	}
	enqueue(t, s, want)
	checkJob(t, "Get pending", get(t, s, want.ID), want)
	_, pending := queue(t, s)
	checkJob(t, "Queue pending", pending[0], want)

	if _, err := s.Claim(ctx, "node-a", 1751500000123); err != nil {
		t.Fatal(err)
	}
	r := store.Result{
		Status: store.Failed, EndTime: 1751500004567, StatusStr: "error",
		Outputs:        json.RawMessage(`{"9": {"images": [{"filename": "ComfyUI_00042_.png", "subfolder": "", "type": "output"}]}}`),
		Meta:           json.RawMessage(`{"9": {"node_id": "9", "display_node": "9", "parent_node": null, "real_node_id": "9"}}`),
		Messages:       json.RawMessage(`[["execution_start", {"prompt_id": "P", "timestamp": 1751500000123}], ["execution_error", {}]]`),
		ExecutionError: json.RawMessage(`{"prompt_id": "P", "node_id": "9", "exception_message": "boom\t\"quoted\""}`),
		OutputsCount:   1,
		PreviewOutput:  json.RawMessage(`{"filename": "ComfyUI_00042_.png", "subfolder": "", "type": "output", "nodeId": "9", "mediaType": "images"}`),
	}
	if err := s.Finish(ctx, "node-a", want.ID, r); err != nil {
		t.Fatal(err)
	}
	want.Status, want.Worker, want.StartTime, want.EndTime = store.Failed, "node-a", 1751500000123, r.EndTime
	want.Outputs, want.Meta, want.StatusStr, want.Messages = r.Outputs, r.Meta, r.StatusStr, r.Messages
	want.ExecutionError, want.OutputsCount, want.PreviewOutput = r.ExecutionError, r.OutputsCount, r.PreviewOutput
	checkJob(t, "Get finished", get(t, s, want.ID), want)
	checkJob(t, "History", history(t, s, all)[0], want)
	list, _ := jobs(t, s, store.JobQuery{Limit: 1})
	checkJob(t, "Jobs", list[0], want)
}

func testNilJSON(t *testing.T, s store.Store) {
	want := &store.Job{ID: "bare", Number: 1}
	enqueue(t, s, want)
	checkJob(t, "Get pending", get(t, s, "bare"), want)
	claim(t, s, "bare")
	if err := s.Finish(t.Context(), "w", "bare", store.Result{Status: store.Completed, StatusStr: "success", EndTime: 5}); err != nil {
		t.Fatal(err)
	}
	want.Status, want.Worker, want.StartTime, want.EndTime, want.StatusStr = store.Completed, "w", 2000, 5, "success"
	checkJob(t, "Get finished", get(t, s, "bare"), want)
}

func testNumbers(t *testing.T, s store.Store) {
	numbers := []struct {
		n       float64
		isFloat bool
	}{
		{0, false}, {5, false}, {5, true}, {-3, false}, {0.1, true}, {-2.5e-300, true},
		{1e300, true}, {math.MaxFloat64, true}, {math.SmallestNonzeroFloat64, true},
		{math.Inf(1), true}, {math.Inf(-1), true}, {1 << 53, false}, {math.Copysign(0, -1), true},
	}
	for i, c := range numbers {
		want := newJob(fmt.Sprintf("n%02d", i), c.n)
		want.NumberIsFloat = c.isFloat
		enqueue(t, s, want)
		checkJob(t, fmt.Sprint("number ", c.n), get(t, s, want.ID), want)
	}
}

// testNextNumber checks the prompt counter: a new store counts from 0, and
// concurrent callers (instances, for a shared store) never get the same
// number, each seeing its own numbers increase.
func testNextNumber(t *testing.T, s store.Store) {
	for want := range 3 {
		if n, err := s.NextNumber(t.Context()); err != nil || n != float64(want) {
			t.Fatalf("NextNumber = %v, %v; want %v", n, err, want)
		}
	}
	const callers, calls = 8, 25
	got := make([][]float64, callers)
	errs := make(chan error, callers)
	for i := range got {
		go func() {
			for range calls {
				n, err := s.NextNumber(t.Context())
				if err != nil {
					errs <- err
					return
				}
				got[i] = append(got[i], n)
			}
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[float64]bool{}
	for i, ns := range got {
		if !slices.IsSorted(ns) {
			t.Errorf("caller %d got %v, not increasing", i, ns)
		}
		for _, n := range ns {
			if seen[n] || n < 3 || n != math.Trunc(n) {
				t.Errorf("NextNumber gave %v twice, or not a new integer", n)
			}
			seen[n] = true
		}
	}
}
