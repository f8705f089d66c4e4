package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gocomfy/gocomfy/internal/store"
)

// reserve calls ReserveIdempotencyKey and fails the test on an error.
func reserve(t *testing.T, s store.Store, k store.IdempotencyKey, abandoned string) *store.IdempotencyKey {
	t.Helper()
	live, err := s.ReserveIdempotencyKey(t.Context(), k, abandoned)
	if err != nil {
		t.Fatalf("ReserveIdempotencyKey(%+v, %q): %v", k, abandoned, err)
	}
	return live
}

func testIdempotencyKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	const day = store.IdempotencyTTL
	key := func(user, body, job string, created int64) store.IdempotencyKey {
		return store.IdempotencyKey{UserID: user, Key: "k", Body: body, JobID: job, Created: created}
	}
	steps := []struct {
		name      string
		before    func() error // run first, if not nil
		k         store.IdempotencyKey
		abandoned string
		want      *store.IdempotencyKey // nil: k is recorded
	}{
		{name: "first", k: key("u", "b1", "j1", 1000)},
		{name: "in flight", k: key("u", "b2", "j2", 2000), want: &store.IdempotencyKey{Body: "b1", JobID: "j1", Created: 1000}},
		{name: "other user", k: key("v", "b1", "jv", 2000)},
		{name: "abandoned, wrong job", k: key("u", "b1", "j3", 3000), abandoned: "jx",
			want: &store.IdempotencyKey{Body: "b1", JobID: "j1", Created: 1000}},
		{name: "abandoned", k: key("u", "b1", "j3", 3000), abandoned: "j1"},
		{name: "finish other job", before: func() error { return s.FinishIdempotencyKey(ctx, "u", "k", "j1") },
			k: key("u", "b1", "j4", 4000), want: &store.IdempotencyKey{Body: "b1", JobID: "j3", Created: 3000}},
		{name: "done", before: func() error { return s.FinishIdempotencyKey(ctx, "u", "k", "j3") },
			k: key("u", "b1", "j4", 4000), want: &store.IdempotencyKey{Body: "b1", JobID: "j3", Done: true, Created: 3000}},
		{name: "done is never abandoned", k: key("u", "b1", "j4", 4000), abandoned: "j3",
			want: &store.IdempotencyKey{Body: "b1", JobID: "j3", Done: true, Created: 3000}},
		{name: "release of a done key", before: func() error { return s.ReleaseIdempotencyKey(ctx, "u", "k", "j3") },
			k: key("u", "b1", "j4", 3000+day-1), want: &store.IdempotencyKey{Body: "b1", JobID: "j3", Done: true, Created: 3000}},
		{name: "expired", k: key("u", "b5", "j5", 3000+day)},
		{name: "release other job", before: func() error { return s.ReleaseIdempotencyKey(ctx, "u", "k", "j1") },
			k: key("u", "b6", "j6", 3000+day), want: &store.IdempotencyKey{Body: "b5", JobID: "j5", Created: 3000 + day}},
		{name: "released", before: func() error { return s.ReleaseIdempotencyKey(ctx, "u", "k", "j5") },
			k: key("u", "b6", "j6", 3000+day)},
	}
	for _, st := range steps {
		if st.before != nil {
			if err := st.before(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		got := reserve(t, s, st.k, st.abandoned)
		if st.want != nil {
			st.want.UserID, st.want.Key = st.k.UserID, st.k.Key
		}
		if (got == nil) != (st.want == nil) || (got != nil && *got != *st.want) {
			t.Errorf("%s: got %+v, want %+v", st.name, got, st.want)
		}
	}
}

// testIdempotencyKeyRace: of concurrent reservations of one key, exactly
// one records it and the others see that one.
func testIdempotencyKeyRace(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	lives := make([]*store.IdempotencyKey, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			k := store.IdempotencyKey{UserID: "u", Key: "race", Body: "b", JobID: fmt.Sprint("j", i), Created: 1000}
			lives[i], errs[i] = s.ReserveIdempotencyKey(t.Context(), k, "")
		})
	}
	wg.Wait()
	winner := ""
	for i, live := range lives {
		if errs[i] != nil {
			t.Fatalf("reservation %d: %v", i, errs[i])
		}
		if live == nil {
			if winner != "" {
				t.Fatalf("two reservations won: %s and j%d", winner, i)
			}
			winner = fmt.Sprint("j", i)
		}
	}
	for i, live := range lives {
		if live != nil && live.JobID != winner {
			t.Errorf("reservation %d sees %+v, want job %s", i, live, winner)
		}
	}
	if winner == "" {
		t.Error("no reservation won")
	}
}

// testJobAttachments: the webhook URL and node timing of a job are read
// back by every read, kept by Finish, and cleared by a resubmission.
func testJobAttachments(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, err := range []error{
		s.SetWebhookURL(ctx, "nope", "https://x.example/"),
		s.SetNodeTiming(ctx, "nope", json.RawMessage(`{}`)),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown job: %v, want ErrNotFound", err)
		}
	}
	want := newJob("a", 1)
	enqueue(t, s, want)
	want.WebhookURL = "https://hooks.example/x?token=é"
	if err := s.SetWebhookURL(ctx, "a", want.WebhookURL); err != nil {
		t.Fatal(err)
	}
	checkJob(t, "pending", get(t, s, "a"), want)
	claimed := claim(t, s, "a")
	want.Status, want.Worker, want.StartTime = store.InProgress, "w", claimed.StartTime
	checkJob(t, "Claim", claimed, want)
	want.NodeTiming = json.RawMessage(`{"1": {"start_ms": 5, "end_ms": 9, "cached": false}}`)
	if err := s.SetNodeTiming(ctx, "a", want.NodeTiming); err != nil {
		t.Fatal(err)
	}
	finish(t, s, "a", store.Completed)
	r := result(store.Completed, 3000)
	want.Status, want.EndTime, want.Outputs, want.Messages = store.Completed, 3000, r.Outputs, r.Messages
	want.StatusStr, want.OutputsCount = r.StatusStr, r.OutputsCount
	checkJob(t, "finished", get(t, s, "a"), want)
	checkJob(t, "History", history(t, s, all)[0], want)
	list, _ := jobs(t, s, store.JobQuery{})
	checkJob(t, "Jobs", list[0], want)

	// A timing may be replaced, or cleared with nil.
	if err := s.SetNodeTiming(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	want.NodeTiming = nil
	checkJob(t, "timing cleared", get(t, s, "a"), want)

	if err := s.SetNodeTiming(ctx, "a", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	fresh := newJob("a", 2)
	enqueue(t, s, fresh)
	checkJob(t, "resubmitted", get(t, s, "a"), fresh)
}
