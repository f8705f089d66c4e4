package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
	"github.com/gocomfy/gocomfy/internal/store/storetest"
)

// serverURL returns the test server's URL (pgtest.ServerURL).
func serverURL(t testing.TB) string { t.Helper(); return pgtest.ServerURL(t) }

// freshSchema returns a connection string to an empty schema of the
// test's own (pgtest.Schema).
func freshSchema(t testing.TB) string { t.Helper(); return pgtest.Schema(t) }

func open(t testing.TB, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	serverURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshSchema(t)) })
}

// TestInstances runs several instances, each with its own pool, on one
// schema: they start together (the migrations run once), then claim jobs
// concurrently, and every job runs exactly once.
func TestInstances(t *testing.T) {
	const instances, claimersEach, n = 3, 2, 150
	url := freshSchema(t)
	dbs := make([]*DB, instances)
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open instance %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	ctx := t.Context()
	for i := range n {
		// Instances take turns at enqueueing: they share one queue.
		j := &store.Job{ID: fmt.Sprintf("job-%03d", i), Number: float64(i % 7)}
		if err := dbs[i%instances].Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
	}

	claimed := make(chan *store.Job, n)
	for i, db := range dbs {
		for c := range claimersEach {
			worker := fmt.Sprintf("instance-%d/%d", i, c)
			wg.Go(func() {
				for {
					j, err := db.Claim(ctx, worker, 1)
					if errors.Is(err, store.ErrNoJob) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					claimed <- j
					res := store.Result{Status: store.Completed, EndTime: 2, StatusStr: "success"}
					if err := db.Finish(ctx, worker, j.ID, res); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(claimed)
	seen := map[string]string{}
	for j := range claimed {
		if w, ok := seen[j.ID]; ok {
			t.Errorf("job %q claimed by %s and %s", j.ID, w, j.Worker)
		}
		seen[j.ID] = j.Worker
	}
	if len(seen) != n {
		t.Errorf("%d jobs claimed, want %d", len(seen), n)
	}
	for _, db := range dbs {
		if p, r, err := db.QueueLen(ctx); p != 0 || r != 0 || err != nil {
			t.Errorf("QueueLen = %d, %d, %v; want 0, 0", p, r, err)
		}
		h, err := db.History(ctx, store.HistoryQuery{MaxItems: -1, Offset: -1})
		if err != nil || len(h) != n {
			t.Fatalf("History = %d jobs, %v; want %d", len(h), err, n)
		}
		for _, j := range h {
			if j.Worker != seen[j.ID] {
				t.Errorf("job %q: Worker = %q, claimed by %q", j.ID, j.Worker, seen[j.ID])
			}
		}
	}
}

// TestMigrations checks that reopening runs no migration again and that a
// schema written by a newer program is refused.
func TestMigrations(t *testing.T) {
	ctx := t.Context()
	url := freshSchema(t)
	db := open(t, url)
	if err := db.Enqueue(ctx, &store.Job{ID: "kept", Number: 1}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, url)
	defer db.Close()
	if _, err := db.Get(ctx, "kept"); err != nil {
		t.Errorf("Get after reopening: %v", err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var version int
	if err := db.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(ms) {
		t.Errorf("schema_version = %d, %v; want %d", version, err, len(ms))
	}
	if _, err := db.pool.Exec(ctx, `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	if newer, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer") {
		if newer != nil {
			newer.Close()
		}
		t.Errorf("Open of a newer schema: %v, want an error", err)
	}
}

// TestNumbersAfterUpgrade runs migration 6 on a schema that holds pending
// prompts numbered by the instances themselves, as before it: the shared
// counter continues after the highest of them, so new prompts queue
// behind them, and numbers too large to count on from are passed over.
func TestNumbersAfterUpgrade(t *testing.T) {
	ctx := t.Context()
	db := open(t, freshSchema(t))
	defer db.Close()
	for i, n := range []float64{41.5, -7, 1e300, math.Inf(1)} {
		if err := db.Enqueue(ctx, &store.Job{ID: fmt.Sprint(i), Number: n}); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	// Undo migration 6, then run it on the jobs now queued.
	if _, err := db.pool.Exec(ctx, `DROP SEQUENCE queue_numbers; ALTER TABLE events DROP COLUMN expires;
		CREATE INDEX events_created ON events (created)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, ms[5]); err != nil {
		t.Fatal(err)
	}
	if n, err := db.NextNumber(ctx); n != 42 || err != nil {
		t.Errorf("NextNumber after the upgrade = %v, %v; want 42", n, err)
	}
}

// TestPlans checks that the default /api/jobs page, the queue and the
// history are read from their indexes, not by sorting the table.
func TestPlans(t *testing.T) {
	url := freshSchema(t)
	db := open(t, url)
	defer db.Close()
	pgtest.FillJobs(t, url, 20000)
	listing := func(q store.JobQuery) *listing {
		l, err := newListing(q)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	created := listing(store.JobQuery{Limit: 50})
	duration := listing(store.JobQuery{Limit: 50, SortBy: store.SortExecutionDuration, Ascending: true})
	for _, c := range []struct {
		query string
		args  []any
		index string
	}{
		{created.page, created.pageArgs, "jobs_created"},
		{duration.page, duration.pageArgs, "jobs_duration"},
		{claimSQL, []any{"w", 1, store.Lease}, "jobs_pending"},
		{selectJobs + ` WHERE status IN ` + finished + ` ORDER BY seq DESC LIMIT 50`, nil, "jobs_history"},
	} {
		rows, err := db.pool.Query(t.Context(), "EXPLAIN "+c.query, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if plan := strings.Join(lines, "\n"); !strings.Contains(plan, c.index) {
			t.Errorf("plan of %s does not use %s:\n%s", c.query, c.index, plan)
		}
	}
}

// BenchmarkJobsPage measures the first /api/jobs page (limit 50, the
// default sort) and a status-filtered one, with 1,000,000 finished jobs.
func BenchmarkJobsPage(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-job fixture")
	}
	url := freshSchema(b)
	db := open(b, url)
	defer db.Close()
	pgtest.FillJobs(b, url, 1_000_000)
	for _, c := range []struct {
		name string
		q    store.JobQuery
	}{
		{"default", store.JobQuery{Limit: 50}},
		{"completed", store.JobQuery{Limit: 50, Statuses: []store.Status{store.Completed}}},
		{"user", store.JobQuery{Limit: 50, UserID: ptr("alice")}},
		{"duration", store.JobQuery{Limit: 50, SortBy: store.SortExecutionDuration}},
		{"offset10000", store.JobQuery{Limit: 50, Offset: 10000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var lat []float64
			for b.Loop() {
				start := time.Now()
				list, total, err := db.Jobs(b.Context(), c.q)
				lat = append(lat, float64(time.Since(start).Microseconds())/1e3)
				if err != nil || len(list) != 50 || total == 0 {
					b.Fatalf("Jobs = %d jobs, total %d, %v", len(list), total, err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(lat[len(lat)/2], "p50-ms")
			b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
		})
	}
}

// BenchmarkEnqueueClaim measures the queue's round trip, enqueue, claim
// and finish, from four goroutines sharing one pool or spread over three
// pools (instances).
func BenchmarkEnqueueClaim(b *testing.B) {
	for _, instances := range []int{1, 3} {
		b.Run(fmt.Sprintf("instances=%d", instances), func(b *testing.B) {
			url := freshSchema(b)
			dbs := make([]*DB, instances)
			for i := range dbs {
				dbs[i] = open(b, url)
				defer dbs[i].Close()
			}
			var ids atomic.Int64
			b.SetParallelism(max(1, 4/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				n := ids.Add(1)
				db := dbs[int(n)%instances]
				for pb.Next() {
					id := fmt.Sprint("job-", ids.Add(1))
					if err := db.Enqueue(b.Context(), &store.Job{ID: id}); err != nil {
						b.Fatal(err)
					}
					// Another goroutine may have taken this job; then
					// this one claims another, or nothing.
					j, err := db.Claim(b.Context(), "w", 1)
					if errors.Is(err, store.ErrNoJob) {
						continue
					}
					if err != nil {
						b.Fatal(err)
					}
					if err := db.Finish(b.Context(), "w", j.ID, store.Result{Status: store.Completed, StatusStr: "success"}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

func ptr[T any](v T) *T { return &v }
