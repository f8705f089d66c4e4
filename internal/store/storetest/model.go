package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/internal/store"
)

// model is a reference store: the job listing of ComfyUI's get_all_jobs
// (comfy_execution/jobs.py), kept in step with the store under test.
type model struct {
	jobs     map[string]*store.Job
	running  []string // claim order
	pending  []string // sorted on use
	finished []string // finish order
}

func (m *model) list() []*store.Job {
	pending := slices.Clone(m.pending)
	slices.SortFunc(pending, func(a, b string) int {
		return cmp.Or(cmp.Compare(m.jobs[a].Number, m.jobs[b].Number), cmp.Compare(a, b))
	})
	var out []*store.Job
	for _, part := range [][]string{m.running, pending, m.finished} {
		for _, id := range part {
			out = append(out, m.jobs[id])
		}
	}
	return out
}

func duration(j *store.Job) int64 {
	if j.StartTime != 0 && j.EndTime != 0 {
		return j.EndTime - j.StartTime
	}
	return 0
}

// query is get_all_jobs: filter, stable sort (reversed for desc, equal keys
// keeping list order, as Python's sorted(reverse=True) does), slice.
func (m *model) query(q store.JobQuery) ([]string, int) {
	key := func(j *store.Job) int64 { return j.CreateTime }
	if q.SortBy == store.SortExecutionDuration {
		key = duration
	}
	var list []*store.Job
	for _, j := range m.list() {
		if (len(q.Statuses) == 0 || slices.Contains(q.Statuses, j.Status)) &&
			(q.WorkflowID == "" || j.WorkflowID == q.WorkflowID) &&
			(q.UserID == nil || j.UserID == *q.UserID) {
			list = append(list, j)
		}
	}
	slices.SortStableFunc(list, func(a, b *store.Job) int {
		if q.Ascending {
			return cmp.Compare(key(a), key(b))
		}
		return cmp.Compare(key(b), key(a))
	})
	total := len(list)
	list = list[min(q.Offset, len(list)):]
	if q.Limit > 0 {
		list = list[:min(q.Limit, len(list))]
	}
	return ids(list), total
}

// scenario drives s and the model through the same random history: many
// ties in create time, number and duration, several users and workflows,
// claims and finishes interleaved so that finish order differs from claim
// order, and some jobs left running and pending.
func scenario(t *testing.T, s store.Store) *model {
	m := &model{jobs: map[string]*store.Job{}}
	r := rand.New(rand.NewPCG(1, 2))
	const n, claims, finishes = 60, 42, 36
	for _, i := range r.Perm(n) {
		j := newJob(fmt.Sprintf("j%02d", i), float64(r.IntN(6)-1))
		j.CreateTime = 1000 + 10*int64(r.IntN(8))
		j.UserID = []string{"", "alice", "bob"}[r.IntN(3)]
		j.WorkflowID = []string{"", "wf-a", "wf-b"}[r.IntN(3)]
		enqueue(t, s, j)
		m.jobs[j.ID] = j
		m.pending = append(m.pending, j.ID)
	}
	for claimed, done := 0, 0; done < finishes; {
		if claimed < claims && (len(m.running) == 0 || r.IntN(2) == 0) {
			want := m.list()[len(m.running)] // the first pending job
			start := 5000 + 10*int64(r.IntN(5))
			got, err := s.Claim(t.Context(), "w", start)
			if err != nil || got.ID != want.ID {
				t.Fatalf("Claim = %v, %v; want %q", got, err, want.ID)
			}
			want.Status, want.StartTime = store.InProgress, start
			m.pending = slices.DeleteFunc(m.pending, func(id string) bool { return id == want.ID })
			m.running = append(m.running, want.ID)
			claimed++
			continue
		}
		id := m.running[r.IntN(len(m.running))]
		j := m.jobs[id]
		res := result([]store.Status{store.Completed, store.Failed, store.Cancelled}[r.IntN(3)], j.StartTime+10*int64(r.IntN(4)))
		if err := s.Finish(t.Context(), "w", id, res); err != nil {
			t.Fatal(err)
		}
		j.Status, j.EndTime = res.Status, res.EndTime
		m.running = slices.DeleteFunc(m.running, func(r string) bool { return r == id })
		m.finished = append(m.finished, id)
		done++
	}
	return m
}

// check compares the store with the model: Queue, History, and Jobs for
// every combination of filters and sort, whole and in pages.
func (m *model) check(t *testing.T, s store.Store) {
	t.Helper()
	running, pending := queue(t, s)
	wantIDs(t, "Queue running", running, m.running...)
	wantIDs(t, "Queue pending", pending, ids(m.list()[len(m.running):len(m.running)+len(m.pending)])...)
	wantIDs(t, "History", history(t, s, all), m.finished...)
	wantQueueLen(t, s, len(m.pending), len(m.running))

	statusSets := [][]store.Status{
		nil,
		{store.Pending},
		{store.InProgress},
		{store.Completed},
		{store.Cancelled, store.Failed, store.Completed},
		{store.Pending, store.InProgress},
		{store.Failed, store.Pending},
		{store.Cancelled, store.InProgress, store.Completed, store.Completed},
	}
	for _, statuses := range statusSets {
		for _, user := range []*string{nil, ptr(""), ptr("alice")} {
			for _, workflow := range []string{"", "wf-a"} {
				for _, sortBy := range []store.SortBy{store.SortCreatedAt, store.SortExecutionDuration} {
					for _, asc := range []bool{false, true} {
						q := store.JobQuery{Statuses: statuses, UserID: user, WorkflowID: workflow, SortBy: sortBy, Ascending: asc}
						m.checkJobs(t, s, q)
					}
				}
			}
		}
	}
	m.checkJobs(t, s, store.JobQuery{}) // the default sort: created_at desc
}

// checkJobs compares one listing, then its pages of 7.
func (m *model) checkJobs(t *testing.T, s store.Store, q store.JobQuery) {
	t.Helper()
	want, wantTotal := m.query(q)
	name := fmt.Sprintf("Jobs(statuses=%v user=%v workflow=%q sort=%q asc=%v)", q.Statuses, deref(q.UserID), q.WorkflowID, q.SortBy, q.Ascending)
	list, total := jobs(t, s, q)
	wantIDs(t, name, list, want...)
	if total != wantTotal {
		t.Errorf("%s total = %d, want %d", name, total, wantTotal)
	}
	for q.Limit, q.Offset = 7, 0; q.Offset <= wantTotal; q.Offset += q.Limit {
		wantPage, _ := m.query(q)
		page, total := jobs(t, s, q)
		wantIDs(t, fmt.Sprintf("%s[%d:+%d]", name, q.Offset, q.Limit), page, wantPage...)
		if total != wantTotal {
			t.Errorf("%s[%d:+%d] total = %d, want %d", name, q.Offset, q.Limit, total, wantTotal)
		}
	}
}

func deref(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func testJobsModel(t *testing.T, s store.Store) {
	m := scenario(t, s)
	m.check(t, s)
	if t.Failed() {
		return
	}

	// Deletions keep the listing and its totals right.
	ctx := t.Context()
	delHistory := []string{m.finished[0], m.finished[5], m.finished[len(m.finished)-1]}
	if err := s.DeleteHistory(ctx, delHistory); err != nil {
		t.Fatal(err)
	}
	m.finished = slices.DeleteFunc(m.finished, func(id string) bool { return slices.Contains(delHistory, id) })
	delPending := []string{m.pending[0], m.pending[3]}
	if _, err := s.DeletePending(ctx, delPending); err != nil {
		t.Fatal(err)
	}
	m.pending = slices.DeleteFunc(m.pending, func(id string) bool { return slices.Contains(delPending, id) })
	if n, err := s.TrimHistory(ctx, 25); err != nil || n != len(m.finished)-25 {
		t.Fatalf("TrimHistory(25) = %d, %v; want %d", n, err, len(m.finished)-25)
	}
	m.finished = m.finished[len(m.finished)-25:]
	m.check(t, s)
}
