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

// jobTracker follows the engine events of the running jobs for the v2 API,
// those of this instance and, through the event bridge, those of the
// instances sharing its database: their progress snapshots and the
// outputs committed so far (the store only has them once a job finishes),
// the jobs being cancelled, and the jobs removed by a cancel while
// pending. It also wakes the requests that wait on a job (Server-Sent
// Events, synchronous runs).
//
// Only jobs with a client id are followed: without one the executor does
// not emit executing and executed, so v2 submissions always carry one.
type jobTracker struct {
	mu        sync.Mutex
	live      map[string]*liveJob
	canceling map[string]bool       // running jobs a cancel was asked for
	canceled  map[string]*store.Job // cancelled while pending, oldest first in order
	order     []string
	waiters   map[string]map[chan struct{}]struct{}
}

// liveJob is what the events of a running job have said so far.
type liveJob struct {
	origin      string          // the instance that runs it ("": this one)
	done        map[string]bool // nodes finished or cached
	current     string          // node running
	step, steps int             // progress of the current node; steps 0: none
	outputs     pyjson.Object   // node id → UI output, in the order executed
	preview     previewFrame    // the newest preview image
}

// previewFrame is a preview image a node of a running job sent; n counts
// the job's previews (0: none yet), so that a stream sends each once. It
// is encoded only when sent, off the executor's goroutine; one from
// another instance is an *event.JPEG, sent as it came.
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
	return &jobTracker{live: map[string]*liveJob{}, canceling: map[string]bool{}, canceled: map[string]*store.Job{},
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

// event is the Sink's shared watcher: e comes from instance origin (""
// for this one). A status broadcast (the queue changed) wakes every
// waiter, since queue positions may have moved.
func (t *jobTracker) event(origin string, e executor.Event) {
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
	t.apply(origin, e.Type, d)
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

// apply updates the live state of d.PromptID, run by instance origin;
// t.mu is held.
func (t *jobTracker) apply(origin, typ string, d eventData) {
	if typ == "execution_start" {
		// An instance runs one job at a time: anything else tracked as
		// running there is stale (its end was lost with the bridge).
		for id, j := range t.live {
			if j.origin == origin {
				delete(t.live, id)
			}
		}
		t.live[d.PromptID] = &liveJob{origin: origin, done: map[string]bool{}}
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
			delete(t.canceling, d.PromptID)
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
	t.canceling[id] = true
	if len(t.canceling) > maxCanceledPending {
		// Ends not seen (lost with the bridge, or before the cancel): only
		// the jobs seen running still need their mark.
		for other := range t.canceling {
			if other != id && t.live[other] == nil {
				delete(t.canceling, other)
			}
		}
	}
	t.mu.Unlock()
	t.wake(id)
}

func (t *jobTracker) isCanceling(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.canceling[id]
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
