package event

import (
	"fmt"
	"testing"
	"time"
)

func frames(o *Outbox) []string {
	fs, _ := o.Next()
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.Data)
	}
	return out
}

func text(s string) Frame { return Frame{Data: []byte(s)} }

func TestHubRoutesAndHolds(t *testing.T) {
	t.Parallel()
	h := NewHub()
	h.Send("late", Frame{Data: []byte("p1"), Coalesce: "progress/1"}) // superseded by p2
	h.Send("late", text("executing"))                                 // held: client not connected yet
	h.Send("late", Frame{Data: []byte("p2"), Coalesce: "progress/1"})
	a := h.Connect("a", text("status-a"))
	h.Broadcast(text("status"))
	late := h.Connect("late", text("status-late"))
	if got := fmt.Sprint(frames(a)); got != "[status-a status]" {
		t.Errorf("a got %s", got)
	}
	if got := fmt.Sprint(frames(late)); got != "[status-late executing p2]" {
		t.Errorf("late got %s", got)
	}
}

func TestHubHeldFramesExpire(t *testing.T) {
	t.Parallel()
	h := NewHub()
	now := time.Unix(0, 0)
	h.now = func() time.Time { return now }
	h.Send("x", text("old"))
	now = now.Add(2 * h.HoldFor)
	o := h.Connect("x", text("status"))
	if got := fmt.Sprint(frames(o)); got != "[status]" {
		t.Errorf("got %s", got)
	}
}

func TestReconnectReplacesOldConnection(t *testing.T) {
	t.Parallel()
	h := NewHub()
	old := h.Connect("c")
	fresh := h.Connect("c")
	select {
	case <-old.Done():
	default:
		t.Fatal("old outbox not closed")
	}
	h.Disconnect("c", old) // the old socket's cleanup must not remove the new one
	h.Send("c", text("event"))
	if got := fmt.Sprint(frames(fresh)); got != "[event]" {
		t.Errorf("got %s", got)
	}
	if !h.Connected("c") {
		t.Error("new connection was removed")
	}
}

func TestProgressCoalescesAndNeverOvertakes(t *testing.T) {
	t.Parallel()
	h := NewHub()
	o := h.Connect("c")
	h.Send("c", Frame{Data: []byte("p1"), Coalesce: "progress/1"})
	h.Send("c", text("executed"))
	h.Send("c", Frame{Data: []byte("p2"), Coalesce: "progress/1"})
	if got := fmt.Sprint(frames(o)); got != "[p1 executed p2]" {
		t.Errorf("a client keeping up gets every frame; got %s", got)
	}
	for range coalesceAfter { // the client falls behind
		h.Send("c", text("e"))
	}
	h.Send("c", Frame{Data: []byte("p1"), Coalesce: "progress/1"})
	h.Send("c", text("executed"))
	h.Send("c", Frame{Data: []byte("p2"), Coalesce: "progress/1"})
	got := frames(o)
	if tail := fmt.Sprint(got[coalesceAfter:]); tail != "[executed p2]" {
		t.Errorf("a client behind gets the newest progress only, after what came before; got %s", tail)
	}
}

func TestSlowClientIsCutOffNotBlocking(t *testing.T) {
	t.Parallel()
	h := NewHub()
	o := h.Connect("slow")
	for i := 0; i < maxDroppable*4; i++ {
		h.Send("slow", Frame{Data: []byte("p"), Coalesce: fmt.Sprintf("progress/%d", i)})
	}
	o.mu.Lock()
	n := len(o.frames)
	o.mu.Unlock()
	if n > maxDroppable {
		t.Errorf("%d droppable frames queued, bound is %d", n, maxDroppable)
	}
	for i := 0; i <= maxFrames; i++ {
		h.Send("slow", text("executed"))
	}
	select {
	case <-o.Done():
	default:
		t.Fatal("a client over its bound of undroppable frames is still connected")
	}
	if h.Connected("slow") {
		t.Error("cut-off client still registered")
	}
}
