package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Per-node timing. The executor's progress_state events, sent for every
// prompt (with a client id or not), say when each node starts running and
// when it finishes; a node that finishes without having run came from the
// cache, as do those execution_cached lists (sent when the prompt has a
// client id). The nodeTimer turns them into a record per node and stores it
// with the job (store.Job.NodeTiming), so that it outlives the process and
// is seen by every instance: on each queue status broadcast while a job is
// recorded (the queue broadcasts one right after it stores a finished
// job) and on the queue's final executing event of the job.

// nodeTime is one node's record, as stored: ms since the epoch.
type nodeTime struct {
	Node   string `json:"node_id"`
	Start  int64  `json:"start"`
	End    int64  `json:"end"` // 0 while it runs
	Cached bool   `json:"cached"`
}

// nodeTimer records the node timing of the jobs this instance runs.
type nodeTimer struct {
	st  store.Store
	log *slog.Logger
	now func() time.Time

	mu  sync.Mutex // held while a record is stored, so that writes keep their order
	id  string     // the job recorded, "" if none
	rec []nodeTime
	idx map[string]int // node id → index in rec
}

func newNodeTimer(st store.Store, log *slog.Logger) *nodeTimer {
	return &nodeTimer{st: st, log: log, now: time.Now}
}

// event is the Sink watcher.
func (t *nodeTimer) event(e executor.Event) {
	switch e.Type {
	case "progress_state":
		id, _ := e.Data.Get("prompt_id")
		nodes, _ := e.Data.Get("nodes")
		pid, _ := id.(string)
		if pn, ok := nodes.(executor.ProgressNodes); ok && pid != "" {
			t.progress(pid, pn.Object())
		}
	case "execution_cached": // sent to a client only; progress_state tells of the cached nodes it reaches
		id, _ := e.Data.Get("prompt_id")
		nodes, _ := e.Data.Get("nodes")
		pid, _ := id.(string)
		if ids, ok := nodes.([]string); ok && pid != "" {
			o := make(pyjson.Object, len(ids))
			for i, n := range ids {
				o[i] = pyjson.Field{Key: n, Value: pyjson.Object{{Key: "state", Value: "finished"}}}
			}
			t.progress(pid, o)
		}
	case "status":
		t.store(false)
	case "executing":
		id, _ := e.Data.Get("prompt_id")
		if node, _ := e.Data.Get("node"); node == nil && id == t.current() {
			t.store(true)
		}
	}
}

func (t *nodeTimer) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.id
}

// progress applies a progress_state snapshot of job id.
func (t *nodeTimer) progress(id string, nodes pyjson.Object) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.id != id {
		t.storeLocked(true) // a job the queue did not see off, if any (never expected)
		t.id, t.rec, t.idx = id, nil, map[string]int{}
	}
	now := t.now().UnixMilli()
	for _, n := range nodes {
		entry, _ := n.Value.(pyjson.Object)
		state, _ := entry.Get("state")
		i, seen := t.idx[n.Key]
		switch {
		case state == "running" && !seen:
			t.idx[n.Key] = len(t.rec)
			t.rec = append(t.rec, nodeTime{Node: n.Key, Start: now})
		case state == "finished" && !seen:
			t.idx[n.Key] = len(t.rec)
			t.rec = append(t.rec, nodeTime{Node: n.Key, Start: now, End: now, Cached: true})
		case state == "finished" && t.rec[i].End == 0:
			t.rec[i].End = now
		}
	}
}

// store writes the record of the current job to the store; when final,
// or when the store says the job is finished, the record is done with.
func (t *nodeTimer) store(final bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.storeLocked(final)
}

// storeLocked is store with t.mu held.
func (t *nodeTimer) storeLocked(final bool) {
	if t.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !final {
		j, err := t.st.Get(ctx, t.id)
		final = err != nil || j.Status.Finished()
	}
	data, err := json.Marshal(t.rec)
	if err == nil {
		err = t.st.SetNodeTiming(ctx, t.id, data)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) { // a job cancelled or trimmed meanwhile has no record
		t.log.Error("recording node timing", "prompt_id", t.id, "err", err)
	}
	if final {
		t.id, t.rec, t.idx = "", nil, nil
	}
}

// timingView is the timing of job j, for the v2 Job's "timing" and the
// legacy job details' "timing": queue_ms (how long it waited, so far if
// it still does), execution_ms (null until it ends) and nodes, the
// recorded nodes in the order they started: node_id, class_type, start
// and end (ms since the epoch; end null while the node runs), duration_ms
// and cached.
func timingView(j *store.Job, now time.Time) pyjson.Object {
	// Waits are clamped at 0: a claim's start time is read before its
	// query runs, so a job enqueued meanwhile (or by an instance whose
	// clock is ahead) can start a few ms "before" it was created.
	var queueMS, execMS any
	switch {
	case j.StartTime > 0:
		queueMS = max(j.StartTime-j.CreateTime, 0)
	case j.EndTime > 0: // cancelled while pending
		queueMS = max(j.EndTime-j.CreateTime, 0)
	default:
		queueMS = max(now.UnixMilli()-j.CreateTime, 0)
	}
	if j.StartTime > 0 && j.EndTime > 0 {
		execMS = j.EndTime - j.StartTime
	}
	var rec []nodeTime
	json.Unmarshal(j.NodeTiming, &rec) // nil or malformed: no nodes
	var classes map[string]struct {
		ClassType string `json:"class_type"`
	}
	json.Unmarshal(j.Prompt, &classes)
	nodes := make([]any, len(rec))
	for i, n := range rec {
		var end, duration any
		if n.End > 0 {
			end, duration = n.End, n.End-n.Start
		}
		var class any
		if c := classes[n.Node].ClassType; c != "" {
			class = c
		}
		nodes[i] = pyjson.Object{
			{Key: "node_id", Value: n.Node}, {Key: "class_type", Value: class},
			{Key: "start", Value: n.Start}, {Key: "end", Value: end},
			{Key: "duration_ms", Value: duration}, {Key: "cached", Value: n.Cached},
		}
	}
	return pyjson.Object{{Key: "queue_ms", Value: queueMS}, {Key: "execution_ms", Value: execMS}, {Key: "nodes", Value: nodes}}
}
