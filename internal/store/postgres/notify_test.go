package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
)

// TestWait checks that a job queued by one instance, or taken back after
// its lease ran out, wakes another instance's Wait.
func TestWait(t *testing.T) {
	ctx := t.Context()
	url := freshSchema(t)
	a, b := open(t, url), open(t, url)
	defer b.Close()
	woken := make(chan error, 1)
	wait := func() { go func() { woken <- a.Wait(ctx) }() }
	// until calls change until Wait returns: the first Wait may start
	// listening after the first changes.
	until := func(what string, change func(i int)) {
		t.Helper()
		for i := 0; ; i++ {
			change(i)
			select {
			case err := <-woken:
				if err != nil {
					t.Fatalf("Wait after %s: %v", what, err)
				}
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	wait()
	until("Enqueue", func(i int) {
		if err := b.Enqueue(ctx, &store.Job{ID: fmt.Sprint("job-", i)}); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := b.ClearPending(ctx); err != nil {
		t.Fatal(err)
	}

	wait()
	until("RequeueExpired", func(i int) {
		if err := b.Enqueue(ctx, &store.Job{ID: fmt.Sprint("lease-", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Claim(ctx, "dead", 0); err != nil {
			t.Fatal(err)
		}
		// The Enqueue woke a already, or its notification waits in the
		// connection: drain it, so that only the expiry can wake a now.
		select {
		case err := <-woken:
			if err != nil {
				t.Fatal(err)
			}
			wait()
		case <-time.After(50 * time.Millisecond):
		}
		if ids, err := b.RequeueExpired(ctx, 2*store.Lease, nil); err != nil || len(ids) != 1 {
			t.Fatalf("RequeueExpired = %q, %v", ids, err)
		}
		if _, err := b.ClearPending(ctx); err != nil {
			t.Fatal(err)
		}
	})

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(ctx); err == nil {
		t.Error("Wait after Close: no error")
	}
}
