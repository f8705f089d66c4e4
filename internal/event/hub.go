// Package event fans WebSocket messages out to connected clients.
//
// ComfyUI sends every event through one publisher loop, so one slow client
// stalls everyone, and an event addressed to a client that is not connected
// (yet) is lost. The Hub instead gives each client its own bounded outbox:
//
//   - progress-like messages (progress, progress_state, previews) supersede an
//     unsent older message of the same kind for the same node once a client
//     falls behind, and are the first to be dropped when an outbox is full;
//   - other messages (executing, executed, execution_*, status) are never
//     dropped: a client whose outbox of such messages overflows is
//     disconnected, so that it reconnects and resynchronises;
//   - messages addressed to a client id that is not connected are kept for a
//     while (Hub.HoldFor) and delivered when it connects: SDKs that open their
//     WebSocket only after POST /prompt returns still see a fast prompt finish.
//
// A client that reconnects with the same id replaces the old connection; the
// old one is closed and its cleanup never removes the new one.
package event

import (
	"sync"
	"time"
)

// A Frame is one WebSocket message, already encoded.
type Frame struct {
	Binary bool
	Data   []byte
	// Coalesce, when non-empty, identifies a progress-like message: an unsent
	// frame with the same key is replaced, and the frame may be dropped when
	// the outbox is full.
	Coalesce string
}

// Limits of one outbox.
const (
	// coalesceAfter is the backlog past which progress frames supersede
	// older ones; below it every frame is delivered, in ComfyUI's order.
	coalesceAfter = 32
	maxDroppable  = 256  // progress-like frames waiting
	maxFrames     = 4096 // all frames waiting; past it the client is cut off
	maxHeld       = 512  // frames held for a client id that is not connected
)

// Hub routes frames to clients by id. The zero value is not usable; use NewHub.
type Hub struct {
	mu      sync.Mutex
	clients map[string]*Outbox
	held    map[string]*heldFrames
	now     func() time.Time
	// HoldFor is how long frames for a disconnected client id are kept.
	HoldFor time.Duration
}

type heldFrames struct {
	frames []Frame
	until  time.Time
}

// NewHub returns an empty hub that holds frames for absent clients 60 s.
func NewHub() *Hub {
	return &Hub{clients: map[string]*Outbox{}, held: map[string]*heldFrames{}, now: time.Now, HoldFor: time.Minute}
}

// Connect registers an outbox for client id, replacing (and closing) any
// previous one, and queues first, then the frames held for id.
func (h *Hub) Connect(id string, first ...Frame) *Outbox {
	o := &Outbox{ready: make(chan struct{}, 1), done: make(chan struct{})}
	for _, f := range first {
		o.push(f)
	}
	h.mu.Lock()
	old := h.clients[id]
	h.clients[id] = o
	if held := h.held[id]; held != nil {
		delete(h.held, id)
		if h.now().Before(held.until) {
			for _, f := range held.frames {
				o.push(f)
			}
		}
	}
	h.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return o
}

// Disconnect removes o if it is still the outbox registered for id.
func (h *Hub) Disconnect(id string, o *Outbox) {
	h.mu.Lock()
	if h.clients[id] == o {
		delete(h.clients, id)
	}
	h.mu.Unlock()
	o.Close()
}

// Connected reports whether a client with the given id is connected.
func (h *Hub) Connected(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clients[id] != nil
}

// Len returns the number of connected clients.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Send queues f for client id; if it is not connected, f is held for it.
func (h *Hub) Send(id string, f Frame) {
	h.mu.Lock()
	o := h.clients[id]
	if o == nil {
		h.hold(id, f)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	if !o.push(f) {
		h.Disconnect(id, o)
	}
}

func (h *Hub) hold(id string, f Frame) {
	now := h.now()
	held := h.held[id]
	if held == nil || now.After(held.until) {
		// Forget the ids that expired, so held frames do not accumulate.
		for k, v := range h.held {
			if now.After(v.until) {
				delete(h.held, k)
			}
		}
		held = &heldFrames{}
		h.held[id] = held
	}
	held.until = now.Add(h.HoldFor)
	if f.Coalesce != "" {
		// Keep the newest progress only: a client that connects late (or
		// is reconnecting) sees the current state, not its history.
		for i := range held.frames {
			if held.frames[i].Coalesce == f.Coalesce {
				held.frames = append(held.frames[:i], held.frames[i+1:]...)
				break
			}
		}
	}
	if len(held.frames) >= maxHeld {
		held.frames = held.frames[1:]
	}
	held.frames = append(held.frames, f)
}

// Broadcast queues f for every connected client.
func (h *Hub) Broadcast(f Frame) {
	h.mu.Lock()
	type entry struct {
		id string
		o  *Outbox
	}
	all := make([]entry, 0, len(h.clients))
	for id, o := range h.clients {
		all = append(all, entry{id, o})
	}
	h.mu.Unlock()
	for _, e := range all {
		if !e.o.push(f) {
			h.Disconnect(e.id, e.o)
		}
	}
}

// An Outbox holds the frames waiting to be written to one connection.
type Outbox struct {
	mu        sync.Mutex
	frames    []Frame
	droppable int
	closed    bool
	ready     chan struct{}
	done      chan struct{}
}

// push queues f; it returns false when the outbox overflowed with frames
// that must not be dropped (the client must be cut off).
func (o *Outbox) push(f Frame) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return true
	}
	if f.Coalesce != "" && len(o.frames) >= coalesceAfter {
		for i := range o.frames {
			if o.frames[i].Coalesce == f.Coalesce {
				// Drop the older frame and queue the newer one last, so that it
				// never overtakes the frames produced between the two.
				o.frames = append(o.frames[:i], o.frames[i+1:]...)
				o.droppable--
				break
			}
		}
	}
	if f.Coalesce != "" {
		if o.droppable >= maxDroppable {
			return true // dropped: a later progress frame supersedes it
		}
		o.droppable++
	} else if len(o.frames) >= maxFrames {
		return false
	}
	o.frames = append(o.frames, f)
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true
}

// Next waits for frames and returns them in order; ok is false once the
// outbox is closed.
func (o *Outbox) Next() (frames []Frame, ok bool) {
	for {
		o.mu.Lock()
		if len(o.frames) > 0 {
			frames, o.frames, o.droppable = o.frames, nil, 0
			o.mu.Unlock()
			return frames, true
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-o.ready:
		case <-o.done:
		}
	}
}

// Done is closed when the outbox is closed (replaced or cut off).
func (o *Outbox) Done() <-chan struct{} { return o.done }

// Close closes the outbox and drops what it holds; Next then returns false.
func (o *Outbox) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.frames = nil
		close(o.done)
	}
}
