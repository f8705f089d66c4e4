package server

import (
	"encoding/json"
	"image"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// maxCanceledPending bounds the jobs remembered as cancelled while pending:
// the queue deletes such jobs from the store, so without this record their
// id would answer 404 right after a successful cancel.
const maxCanceledPending = 1024

// jobTracker follows the engine events of the running job for the v2 API:
// its progress snapshot and the outputs committed so far (the store only
// has them once the job finishes), the job being cancelled, and the jobs
// removed by a cancel while pending. It also wakes the requests that wait
// on a job (Server-Sent Events, synchronous runs).
//
// Only jobs with a client id are followed: without one the executor does
// not emit executing and executed, so v2 submissions always carry one.
type jobTracker struct {
	mu        sync.Mutex
	live      map[string]*liveJob
	canceling string                // id of the running job a cancel was asked for
	canceled  map[string]*store.Job // cancelled while pending, oldest first in order
	order     []string
	waiters   map[string]map[chan struct{}]struct{}
}

// liveJob is what the events of a running job have said so far.
type liveJob struct {
	done        map[string]bool // nodes finished or cached
	current     string          // node running
	step, steps int             // progress of the current node; steps 0: none
	outputs     pyjson.Object   // node id → UI output, in the order executed
	preview     previewFrame    // the newest preview image
}

// previewFrame is a preview image a node of a running job sent; n counts
// the job's previews (0: none yet), so that a stream sends each once. It
// is encoded only when sent, off the executor's goroutine.
type previewFrame struct {
	node string
	img  image.Image
	n    int
}

// liveSnapshot is a copy of a liveJob, safe to read without the lock.
type liveSnapshot struct {
	done        int
	current     string
	step, steps int
	outputs     pyjson.Object
	preview     previewFrame
}

func newJobTracker() *jobTracker {
	return &jobTracker{live: map[string]*liveJob{}, canceled: map[string]*store.Job{},
		waiters: map[string]map[chan struct{}]struct{}{}}
}

// eventData is the part of the engine events the tracker reads.
type eventData struct {
	PromptID string          `json:"prompt_id"`
	Node     *string         `json:"node"`
	Nodes    json.RawMessage `json:"nodes"`
	Value    float64         `json:"value"`
	Max      float64         `json:"max"`
	Output   json.RawMessage `json:"output"`
}

// event is the Sink watcher. A status broadcast (the queue changed) wakes
// every waiter, since queue positions may have moved.
func (t *jobTracker) event(e executor.Event) {
	switch e.Type {
	case "status":
		t.wakeAll()
		return
	case "preview": // its image is beside Data
		t.preview(e)
		return
	case "execution_start", "execution_cached", "executing", "progress", "progress_state", "executed",
		"execution_success", "execution_error", "execution_interrupted":
	default:
		return
	}
	raw, err := pyjson.Marshal(e.Data)
	if err != nil {
		return
	}
	var d eventData
	if json.Unmarshal(raw, &d) != nil || d.PromptID == "" {
		return
	}
	t.mu.Lock()
	t.apply(e.Type, d)
	t.mu.Unlock()
	t.wake(d.PromptID)
}

// preview records the newest preview image of a running job.
func (t *jobTracker) preview(e executor.Event) {
	id, _ := e.Data.Get("prompt_id")
	node, _ := e.Data.Get("node_id")
	pid, _ := id.(string)
	nid, _ := node.(string)
	t.mu.Lock()
	j := t.live[pid]
	if j != nil && e.Image != nil {
		j.preview = previewFrame{node: nid, img: e.Image, n: j.preview.n + 1}
	}
	t.mu.Unlock()
	if j != nil {
		t.wake(pid)
	}
}

// apply updates the live state of d.PromptID; t.mu is held.
func (t *jobTracker) apply(typ string, d eventData) {
	if typ == "execution_start" {
		// One job runs at a time: anything else tracked is stale.
		clear(t.live)
		t.live[d.PromptID] = &liveJob{done: map[string]bool{}}
		return
	}
	j := t.live[d.PromptID]
	if j == nil {
		return
	}
	switch typ {
	case "execution_cached":
		var ids []string
		json.Unmarshal(d.Nodes, &ids)
		for _, id := range ids {
			j.done[id] = true
		}
	case "executing":
		if d.Node == nil { // the queue's last word: the job is stored as finished
			delete(t.live, d.PromptID)
			if t.canceling == d.PromptID {
				t.canceling = ""
			}
			return
		}
		j.current, j.step, j.steps = *d.Node, 0, 0
	case "progress":
		j.step, j.steps = int(d.Value), int(d.Max)
	case "progress_state":
		var nodes map[string]struct {
			State string `json:"state"`
		}
		json.Unmarshal(d.Nodes, &nodes)
		for id, n := range nodes {
			if n.State == "finished" {
				j.done[id] = true
			}
		}
	case "executed":
		if d.Node != nil && len(d.Output) > 0 {
			j.outputs.Set(*d.Node, json.RawMessage(d.Output))
		}
	}
}

// snapshot returns the live state of job id, if it runs.
func (t *jobTracker) snapshot(id string) (liveSnapshot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j := t.live[id]
	if j == nil {
		return liveSnapshot{}, false
	}
	return liveSnapshot{done: len(j.done), current: j.current, step: j.step, steps: j.steps,
		outputs: append(pyjson.Object{}, j.outputs...), preview: j.preview}, true
}

// setCanceling records that a cancel was asked for the running job id.
func (t *jobTracker) setCanceling(id string) {
	t.mu.Lock()
	t.canceling = id
	t.mu.Unlock()
	t.wake(id)
}

func (t *jobTracker) isCanceling(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.canceling == id
}

// rememberCanceled records j, removed from the store by a cancel while it
// was pending, as cancelled at now.
func (t *jobTracker) rememberCanceled(j *store.Job, now time.Time) {
	c := *j
	c.Status, c.EndTime = store.Cancelled, now.UnixMilli()
	t.mu.Lock()
	if _, ok := t.canceled[c.ID]; !ok {
		t.order = append(t.order, c.ID)
	}
	t.canceled[c.ID] = &c
	for len(t.order) > maxCanceledPending {
		delete(t.canceled, t.order[0])
		t.order = t.order[1:]
	}
	t.mu.Unlock()
	t.wake(c.ID)
}

// canceledJob returns job id if it was cancelled while pending.
func (t *jobTracker) canceledJob(id string) (*store.Job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.canceled[id]
	return j, ok
}

// watch returns a channel that receives a signal (coalesced) whenever job
// id or the queue may have changed, and the function that stops it.
func (t *jobTracker) watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	t.mu.Lock()
	if t.waiters[id] == nil {
		t.waiters[id] = map[chan struct{}]struct{}{}
	}
	t.waiters[id][ch] = struct{}{}
	t.mu.Unlock()
	return ch, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.waiters[id], ch)
		if len(t.waiters[id]) == 0 {
			delete(t.waiters, id)
		}
	}
}

func (t *jobTracker) wake(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ch := range t.waiters[id] {
		signal(ch)
	}
}

func (t *jobTracker) wakeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, chans := range t.waiters {
		for ch := range chans {
			signal(ch)
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
