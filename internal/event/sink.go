package event

import (
	"log/slog"
	"sync"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Sink turns engine events into WebSocket frames on a Hub: JSON text frames
// of the form {"type": ..., "data": ...}, written as Python's json.dumps
// writes them, with "type" first (SwarmUI matches the first bytes).
type Sink struct {
	Hub *Hub
	Log *slog.Logger

	mu          sync.Mutex
	executing   map[string]string // client id → display id of its running node
	previewMeta map[string]bool   // client ids that take previews with metadata

	watch  watchers // see Watch
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
	s.watch.notify(e)
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
	if s.bridge != nil && (e.All || e.SID != "") {
		s.bridge.publish(e, f)
	}
	if e.All {
		s.Hub.Broadcast(f)
		return
	}
	s.Hub.Send(e.SID, f)
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
