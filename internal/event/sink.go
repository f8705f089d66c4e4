package event

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Sink turns engine events into WebSocket frames on a Hub: JSON text frames
// of the form {"type": ..., "data": ...}, written as Python's json.dumps
// writes them, with "type" first (SwarmUI matches the first bytes). It
// numbers and logs the events of each prompt for the clients that opted in
// to replay (see replay.go). The zero value with a Hub is ready to use.
type Sink struct {
	Hub *Hub
	Log *slog.Logger

	mu          sync.Mutex
	executing   map[string]string // client id → display id of its running node
	previewMeta map[string]bool   // client ids that take previews with metadata

	// order serialises the numbering, logging and queueing of events with
	// the replays: a replay and the live events of its prompt never
	// interleave on a connection.
	order  sync.Mutex
	replay replayLogs

	watch  watchers // see Watch and WatchShared
	bridge *Bridge  // see NewBridge; nil for a single instance
}

var _ executor.Sink = (*Sink)(nil)

// message is a WebSocket JSON message; a struct keeps "type" first.
type message struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// Encode returns the text frame of a message.
func Encode(typ string, data any) ([]byte, error) {
	return pyjson.Marshal(message{typ, data})
}

// Event implements executor.Sink.
func (s *Sink) Event(e executor.Event) {
	s.watch.notify("", e)
	if e.Image != nil {
		s.preview(e)
		return
	}
	data, err := Encode(e.Type, e.Data)
	if err != nil {
		if s.Log != nil {
			s.Log.Error("encoding a websocket message", "type", e.Type, "err", err)
		}
		return
	}
	f := Frame{Data: data, Coalesce: coalesceKey(e)}
	if e.Type == "executing" && e.SID != "" {
		s.trackExecuting(e)
	}
	s.order.Lock()
	defer s.order.Unlock()
	if id := replayPrompt(e); id != "" {
		// Numbered here, once, by the instance that runs the prompt.
		f.Prompt, f.Seq = id, s.replay.next(id, e.SID)
	}
	if s.bridge != nil && (e.All || e.SID != "") {
		s.bridge.publish(e, f)
	}
	s.deliver(e.SID, e.All, e.Type, f)
}

// deliver logs f when it is a numbered event, and queues it for client sid
// (or every client). s.order is held.
func (s *Sink) deliver(sid string, all bool, typ string, f Frame) {
	if f.Seq > 0 {
		fresh, ended := s.replay.record(sid, typ, f)
		if !fresh {
			return // delivered already
		}
		if ended {
			time.AfterFunc(replayRetention, s.sweepReplay)
		}
		s.answerWaiting(f, ended)
	}
	if all {
		s.Hub.Broadcast(f)
		return
	}
	s.Hub.Send(sid, f)
}

// deliverRemote delivers f, which another instance published for client
// sid (or every client), as deliver does.
func (s *Sink) deliverRemote(sid string, all bool, f Frame) {
	s.order.Lock()
	defer s.order.Unlock()
	s.deliver(sid, all, frameType(f.Data), f)
}

// sweepReplay frees the replay logs past their retention.
func (s *Sink) sweepReplay() {
	s.order.Lock()
	defer s.order.Unlock()
	s.replay.sweep()
}

// replayPrompt returns the prompt of an event that replay numbers: one
// addressed to the client of a prompt.
func replayPrompt(e executor.Event) string {
	if e.All || e.SID == "" || e.Image != nil {
		return ""
	}
	v, _ := e.Data.Get("prompt_id")
	id, _ := v.(string)
	return id
}

// coalesceKey makes progress messages replaceable: a newer progress of the
// same node supersedes an unsent older one.
func coalesceKey(e executor.Event) string {
	switch e.Type {
	case "progress":
		node, _ := e.Data.Get("node")
		s, _ := node.(string)
		return "progress/" + s
	case "progress_state":
		return "progress_state"
	}
	return ""
}

func (s *Sink) trackExecuting(e executor.Event) {
	node, _ := e.Data.Get("display_node")
	id, _ := node.(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.executing == nil {
		s.executing = map[string]string{}
	}
	if id == "" {
		delete(s.executing, e.SID)
	} else {
		s.executing[e.SID] = id
	}
}

// Executing returns the display id of the node running for client sid, for
// the frame ComfyUI sends a client that reconnects mid-prompt.
func (s *Sink) Executing(sid string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.executing[sid]
	return id, ok
}
