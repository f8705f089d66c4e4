package postgres

import (
	"errors"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/internal/store"
)

// TestLeases follows a job whose instance dies: its lease runs out, another
// instance takes it back into the queue and runs it, and a second expiry
// fails it.
func TestLeases(t *testing.T) {
	ctx := t.Context()
	url := freshSchema(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	for _, id := range []string{"job", "later"} {
		if err := a.Enqueue(ctx, &store.Job{ID: id, Number: float64(len(id))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Claim(ctx, "a", 1000); err != nil { // leased until 1000+Lease
		t.Fatal(err)
	}
	expire := func(db *DB, now int64, r *store.Result, want ...string) {
		t.Helper()
		ids, err := db.RequeueExpired(ctx, now, r)
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("RequeueExpired(%d) = %q, %v; want %q", now, ids, err, want)
		}
	}
	expire(b, 1000+Lease, nil) // not yet
	if n, err := a.Heartbeat(ctx, "a", 5000+Lease); n != 1 || err != nil {
		t.Fatalf("Heartbeat = %d, %v; want 1", n, err)
	}
	expire(b, 4000+Lease, nil) // extended

	// a dies: its job goes back to the queue, ahead of "later".
	expire(b, 6000+Lease, nil, "job")
	if j, err := b.Get(ctx, "job"); err != nil || j.Status != store.Pending || j.Worker != "" || j.StartTime != 0 {
		t.Fatalf("requeued job = %+v, %v; want pending, no worker", j, err)
	}
	if n, err := a.Heartbeat(ctx, "a", 9000+Lease); n != 0 || err != nil {
		t.Errorf("Heartbeat of a worker whose job was taken back = %d, %v; want 0", n, err)
	}
	done := store.Result{Status: store.Completed, EndTime: 7000, StatusStr: "success"}
	if err := a.Finish(ctx, "job", done); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Finish by the dead worker: %v, want ErrNotFound", err)
	}
	if j, err := b.Claim(ctx, "b", 8000); err != nil || j.ID != "job" {
		t.Fatalf("Claim = %v, %v; want the requeued job", j, err)
	}

	// b dies too; this time the job is failed.
	failed := store.Result{Status: store.Failed, EndTime: 9000, StatusStr: "error"}
	if _, err := a.RequeueExpired(ctx, 0, &store.Result{Status: store.Pending}); err == nil {
		t.Error("RequeueExpired with a non-final result: no error")
	}
	expire(a, 8001+Lease, &failed, "job")
	h, err := a.History(ctx, store.HistoryQuery{MaxItems: -1, Offset: -1})
	if err != nil || len(h) != 1 || h[0].ID != "job" || h[0].Status != store.Failed || h[0].Worker != "b" {
		t.Errorf("History = %+v, %v; want job failed on b", h, err)
	}
	if p, r, err := a.QueueLen(ctx); p != 1 || r != 0 || err != nil {
		t.Errorf("QueueLen = %d, %d, %v; want 1, 0", p, r, err)
	}
}
