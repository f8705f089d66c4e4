package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/storetest"
)

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "gocomfy.db"))
	})
}

func TestOpenRejectsMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:"} {
		if db, err := Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}

// TestReopen checks durability: what was committed is there after the
// database is closed and opened again, and the migrations don't run twice.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "dir with ?#% chars", "gocomfy.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db := open(t, path)
	for i, id := range []string{"done", "running", "pending"} { // in run order
		if err := db.Enqueue(ctx, &store.Job{ID: id, Number: float64(i) + .5, NumberIsFloat: true, Prompt: []byte(`{"a": 1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // "done", then "running"
		if _, err := db.Claim(ctx, "w", 7); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Finish(ctx, "w", "done", store.Result{Status: store.Completed, EndTime: 9, StatusStr: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path)
	defer db.Close()
	for id, want := range map[string]store.Status{"done": store.Completed, "running": store.InProgress, "pending": store.Pending} {
		j, err := db.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%q) after reopening: %v", id, err)
		}
		if j.Status != want || string(j.Prompt) != `{"a": 1}` || j.Number != float64(int(j.Number))+.5 || !j.NumberIsFloat {
			t.Errorf("Get(%q) after reopening = %+v", id, j)
		}
	}
	if p, r, err := db.QueueLen(ctx); p != 1 || r != 1 || err != nil {
		t.Errorf("QueueLen after reopening = %d, %d, %v; want 1, 1", p, r, err)
	}
	// Numbering continues behind the pending prompt (2.5).
	if n, err := db.NextNumber(ctx); n != 3 || err != nil {
		t.Errorf("NextNumber after reopening = %v, %v; want 3", n, err)
	}
	var version int
	if err := db.r.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(mustMigrations(t)) {
		t.Errorf("schema_version = %d, %v; want %d", version, err, len(mustMigrations(t)))
	}
}

// TestKilledProcessLosesNothing runs a child process that enqueues and
// finishes jobs and then dies by SIGKILL, without closing anything: every
// call that returned must be in the database (WAL, synchronous=NORMAL).
func TestKilledProcessLosesNothing(t *testing.T) {
	const n = 20
	if path := os.Getenv("GOCOMFY_SQLITE_KILLED"); path != "" {
		db := open(t, path)
		for i := range n {
			if err := db.Enqueue(t.Context(), &store.Job{ID: fmt.Sprint("job-", i), Number: float64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Claim(t.Context(), "w", 1); err != nil {
			t.Fatal(err)
		}
		if err := db.Finish(t.Context(), "w", "job-0", store.Result{Status: store.Completed, EndTime: 2}); err != nil {
			t.Fatal(err)
		}
		self, _ := os.FindProcess(os.Getpid())
		self.Kill()
		select {} // wait for the signal
	}
	path := filepath.Join(t.TempDir(), "gocomfy.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessLosesNothing$")
	cmd.Env = append(os.Environ(), "GOCOMFY_SQLITE_KILLED="+path)
	out, err := cmd.CombinedOutput()
	if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	db := open(t, path)
	defer db.Close()
	if p, r, err := db.QueueLen(t.Context()); p != n-1 || r != 0 || err != nil {
		t.Errorf("QueueLen = %d, %d, %v; want %d, 0", p, r, err, n-1)
	}
	if j, err := db.Get(t.Context(), "job-0"); err != nil || j.Status != store.Completed {
		t.Errorf("Get(job-0) = %+v, %v; want completed", j, err)
	}
}

func mustMigrations(t testing.TB) []string {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gocomfy.db")
	db := open(t, path)
	if _, err := db.w.db.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatal("Open of a database from a newer program: no error")
	}
}

// plan returns the EXPLAIN QUERY PLAN lines of query.
func plan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.w.db.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// planCase is a query and what its EXPLAIN QUERY PLAN must and must not say.
type planCase struct {
	name       string
	query      string
	args       []any
	want, deny []string
}

const (
	fullScan = "SCAN jobs" // a walk over the whole jobs table (also "SCAN j" below)
	fullSort = "USE TEMP B-TREE FOR ORDER BY"
	anySort  = "TEMP B-TREE" // also a sort of ties ("LAST 3 TERMS OF ORDER BY")
)

// TestQueryPlans pins the plans that keep the queue and /api/jobs fast with a
// million finished jobs (the planner has no statistics, as in production):
// no full scan of jobs and no sort of a whole status.
func TestQueryPlans(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "gocomfy.db"))
	defer db.Close()
	cases := []planCase{
		{name: "claim", query: claimSQL, args: []any{"w", 1, store.Lease},
			want: []string{"SCAN queue", "USING INDEX sqlite_autoindex_jobs_1 (id=?)"},
			deny: []string{fullScan, anySort}},
		{name: "queue pending", query: queuePendingSQL,
			want: []string{"SCAN q\n", "SEARCH j USING INDEX sqlite_autoindex_jobs_1 (id=?)"},
			deny: []string{"SCAN j\n", anySort}},
		{name: "delete pending", query: deletePendingSQL, args: []any{"x"},
			want: []string{"USING INDEX sqlite_autoindex_jobs_1 (id=?)"}},
		{name: "delete history", query: deleteHistorySQL, args: []any{`["x"]`},
			want: []string{"USING INDEX sqlite_autoindex_jobs_1 (id=?)"}, deny: []string{fullScan}},
	}

	// The default /api/jobs page and the frontend's history tab: each
	// finished arm walks its index in order. Only the running and pending
	// arms, which are small, sort their ties. Sorted by creation, finished
	// arms read nothing but the index, so that a deep offset skips index
	// entries (SQLite reads a generated column such as duration from the
	// table, though).
	user := "alice"
	finishedOnly := []store.Status{store.Completed, store.Failed, store.Cancelled}
	const (
		noTieSort = 1 << iota // no sort step at all
		covering              // only covering index reads
	)
	for _, c := range []struct {
		name  string
		q     store.JobQuery
		flags int
	}{
		{"jobs default", store.JobQuery{Limit: 50}, 0},
		{"jobs finished", store.JobQuery{Limit: 50, Statuses: finishedOnly}, noTieSort | covering},
		{"jobs user finished", store.JobQuery{Limit: 50, Statuses: finishedOnly, UserID: &user}, noTieSort | covering},
		{"jobs duration", store.JobQuery{Limit: 50, Statuses: finishedOnly, SortBy: store.SortExecutionDuration}, noTieSort},
		{"jobs user duration", store.JobQuery{Limit: 50, UserID: &user, SortBy: store.SortExecutionDuration}, 0},
		{"jobs ascending", store.JobQuery{Limit: 50, Ascending: true}, 0},
		{"jobs completed ascending", store.JobQuery{Limit: 50, Ascending: true, Statuses: []store.Status{store.Completed}}, covering},
		{"jobs workflow", store.JobQuery{Limit: 50, WorkflowID: "wf", UserID: &user}, 0},
	} {
		l, err := newListing(c.q)
		if err != nil {
			t.Fatal(err)
		}
		want, deny := []string{"INDEX jobs_"}, []string{fullScan, fullSort}
		if c.flags&noTieSort != 0 {
			deny = append(deny, anySort)
		}
		if c.flags&covering != 0 {
			deny = append(deny, "USING INDEX")
		}
		cases = append(cases,
			planCase{name: c.name, query: l.page, args: l.pageArgs, want: want, deny: deny},
			planCase{name: c.name + " total", query: l.total, args: l.totalArgs, deny: []string{fullScan}})
	}

	// History walks jobs in seq order and stops at the window.
	for _, q := range []store.HistoryQuery{{MaxItems: 10, Offset: -1}, {MaxItems: 10, Offset: 20}, {MaxItems: 10, Offset: -1, UserID: &user}} {
		query, args, _ := historyQuery(q)
		cases = append(cases, planCase{name: fmt.Sprintf("history %+v", q), query: query, args: args, deny: []string{anySort}})
	}

	for _, c := range cases {
		p := plan(t, db, c.query, c.args...) + "\n"
		for _, w := range c.want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: plan lacks %q:\n%s", c.name, w, p)
			}
		}
		for _, d := range c.deny {
			if strings.Contains(p, d) {
				t.Errorf("%s: plan has %q:\n%s", c.name, d, p)
			}
		}
	}
}

// benchPrompt is a prompt of typical size (a few nodes, ~1 KB).
var benchPrompt = []byte(`{"3": {"inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}, "class_type": "KSampler", "_meta": {"title": "KSampler"}}, "4": {"inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, "class_type": "CheckpointLoaderSimple", "_meta": {"title": "Load Checkpoint"}}, "5": {"inputs": {"width": 512, "height": 512, "batch_size": 1}, "class_type": "EmptyLatentImage", "_meta": {"title": "Empty Latent Image"}}, "6": {"inputs": {"text": "beautiful scenery nature glass bottle landscape, purple galaxy bottle,", "clip": ["4", 1]}, "class_type": "CLIPTextEncode", "_meta": {"title": "CLIP Text Encode (Prompt)"}}, "7": {"inputs": {"text": "text, watermark", "clip": ["4", 1]}, "class_type": "CLIPTextEncode", "_meta": {"title": "CLIP Text Encode (Prompt)"}}, "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode", "_meta": {"title": "VAE Decode"}}, "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage", "_meta": {"title": "Save Image"}}}`)

func benchJob(id string, number float64) *store.Job {
	return &store.Job{
		ID: id, Number: number, CreateTime: 1751500000000, ClientID: "c",
		Prompt: benchPrompt, ExtraData: []byte(`{"client_id": "c", "create_time": 1751500000000}`),
		OutputsToExecute: []string{"9"},
	}
}

// pendingDB returns a database with n pending jobs.
func pendingDB(b *testing.B, n int) *DB {
	db := open(b, filepath.Join(b.TempDir(), "bench.db"))
	b.Cleanup(func() { db.Close() })
	fillPending(b, db, "fill", n)
	return db
}

func fillPending(b testing.TB, db *DB, prefix string, n int) {
	for i := range n {
		if err := db.Enqueue(b.Context(), benchJob(fmt.Sprintf("%s-%06d", prefix, i), float64(i%1000))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnqueue shows that an enqueue (one commit) costs the same
// whatever the length of the queue.
func BenchmarkEnqueue(b *testing.B) {
	for _, pending := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			db := pendingDB(b, pending)
			i := 0
			for b.Loop() {
				if err := db.Enqueue(b.Context(), benchJob(fmt.Sprintf("new-%08d", i), float64(i%1000))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkClaim claims from a queue of 10,000 (refilled, untimed, when empty).
func BenchmarkClaim(b *testing.B) {
	const n = 10_000
	db := pendingDB(b, n)
	refills := 0
	for b.Loop() {
		_, err := db.Claim(b.Context(), "w", 1)
		if errors.Is(err, store.ErrNoJob) {
			b.StopTimer()
			refills++
			fillPending(b, db, fmt.Sprint("refill", refills), n)
			b.StartTimer()
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueue reads the whole queue (GET /queue) with 10,000 pending.
func BenchmarkQueue(b *testing.B) {
	db := pendingDB(b, 10_000)
	for b.Loop() {
		if _, pending, err := db.Queue(b.Context()); err != nil || len(pending) != 10_000 {
			b.Fatal(len(pending), err)
		}
	}
}

// BenchmarkJobs1M lists pages of /api/jobs over a million finished jobs and
// reports the median and 99th percentile of one call beside ns/op.
func BenchmarkJobs1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds (once) a million-job database")
	}
	db := open(b, millionJobs(b))
	defer db.Close()
	user := "user-1"
	finishedOnly := []store.Status{store.Completed, store.Failed, store.Cancelled}
	for _, c := range []struct {
		name string
		q    store.JobQuery
	}{
		{"default", store.JobQuery{Limit: 50}},
		{"user-finished", store.JobQuery{Limit: 50, UserID: &user, Statuses: finishedOnly}},
		{"cancelled", store.JobQuery{Limit: 50, Statuses: []store.Status{store.Cancelled}}},
		{"duration", store.JobQuery{Limit: 50, SortBy: store.SortExecutionDuration}},
		{"ascending", store.JobQuery{Limit: 50, Ascending: true}},
		{"offset=100000", store.JobQuery{Limit: 50, Offset: 100_000}},
		{"workflow", store.JobQuery{Limit: 50, WorkflowID: "wf-7"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				list, total, err := db.Jobs(b.Context(), c.q)
				times = append(times, time.Since(start))
				if err != nil || len(list) != 50 || total < 50 {
					b.Fatal(len(list), total, err)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
		})
	}
	b.Run("get", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := db.Get(b.Context(), fixtureID(i*7919%fixtureJobs)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

const (
	fixtureJobs    = 1_000_000
	fixtureVersion = 1 // bump when millionJobs changes
)

func fixtureID(i int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", i) }

// millionJobs returns the path of a database holding a million finished
// jobs. It is built once and cached in the temporary directory under a name
// that changes with the migrations and the fixture; older copies (~2.5 GB
// each) are removed.
func millionJobs(b *testing.B) string {
	h := sha256.New()
	for _, m := range mustMigrations(b) {
		h.Write([]byte(m))
	}
	prefix := filepath.Join(os.TempDir(), "gocomfy-bench-jobs1m-")
	path := fmt.Sprintf("%s%x-f%d.db", prefix, h.Sum(nil)[:6], fixtureVersion)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	old, _ := filepath.Glob(prefix + "*") // with their -wal, -shm and .tmp files
	for _, f := range old {
		os.Remove(f)
	}
	b.Logf("building %s (once)", path)
	tmp := path + ".tmp"
	db := open(b, tmp)
	if err := db.insertFinished(b.Context(), fixtureJobs); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// insertFinished adds n finished jobs in one transaction, generated inside
// SQLite: four users, 2% failed, 1% cancelled, one job in ten from one of a
// hundred workflows, ~1 KB of payload each.
func (db *DB) insertFinished(ctx context.Context, n int) error {
	if _, err := db.w.db.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		return err
	}
	err := db.write(ctx, func(t txn) error {
		if _, err := t.exec(`
			WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?)
			INSERT INTO jobs (id, number, number_is_float, status, user_id, workflow_id, client_id, worker,
				create_time, start_time, end_time, outputs_count, status_str)
			SELECT printf('%08d-0000-4000-8000-000000000000', i), i, 0,
				CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'completed' END,
				'user-' || (i % 4), CASE WHEN i % 10 = 0 THEN 'wf-' || (i / 10 % 100) ELSE '' END, 'c', 'w',
				1751500000000 + i * 1000, 1751500000000 + i * 1000 + 100,
				1751500000000 + i * 1000 + 100 + (i * 7919) % 60000, 1,
				CASE WHEN i % 50 = 0 OR i % 97 = 0 THEN 'error' ELSE 'success' END
			FROM c`, n); err != nil {
			return err
		}
		_, err := t.exec(`INSERT INTO job_payloads (id, prompt, extra_data, outputs_to_execute,
				outputs, meta, messages, preview_output)
			SELECT id, ?, '{"client_id": "c", "create_time": ' || create_time || '}', '["9"]',
				'{"9": {"images": [{"filename": "ComfyUI_' || seq || '_.png", "subfolder": "", "type": "output"}]}}',
				'{"9": {"node_id": "9", "display_node": "9", "parent_node": null, "real_node_id": "9"}}',
				'[["execution_start", {"prompt_id": "' || id || '", "timestamp": ' || start_time || '}], ["execution_success", {"prompt_id": "' || id || '", "timestamp": ' || end_time || '}]]',
				'{"filename": "ComfyUI_' || seq || '_.png", "subfolder": "", "type": "output", "nodeId": "9", "mediaType": "images"}'
			FROM jobs`, benchPrompt)
		return err
	})
	if err != nil {
		return err
	}
	_, err = db.w.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}
