package event

import (
	"sync"

	"github.com/gocomfy/gocomfy/internal/executor"
)

// watchers are the functions that see every engine event a Sink receives,
// before it is encoded for WebSocket clients: the per-job views of the v2
// API (progress snapshots, Server-Sent Events, synchronous runs) follow
// jobs through them without a WebSocket of their own.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(executor.Event)
}

// Watch calls fn with every event the sink receives, on the goroutine that
// emits it and in order, until stop is called. fn must return quickly and
// must not call back into the sink: it runs while the executor waits.
func (s *Sink) Watch(fn func(executor.Event)) (stop func()) {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(executor.Event){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

// notify passes e to every watcher.
func (w *watchers) notify(e executor.Event) {
	w.mu.Lock()
	fns := make([]func(executor.Event), 0, len(w.fns))
	for _, fn := range w.fns {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}
