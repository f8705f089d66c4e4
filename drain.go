package gocomfy

import (
	"context"
	"sync"

	"github.com/gocomfy/gocomfy/internal/store"
)

// drainingStore is the queue's store, which a graceful shutdown drains:
// once drain is called, Claim finds no job, so that pending prompts stay
// in the store for the next start, and the channel drain returns is closed
// once the prompt claimed before, if any, is finished.
type drainingStore struct {
	store.Store

	mu       sync.Mutex
	draining bool
	claimed  int // claimed and not finished
	idle     chan struct{}
}

// Claim implements store.Store.
func (d *drainingStore) Claim(ctx context.Context, worker string, startTime int64) (*store.Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return nil, store.ErrNoJob
	}
	j, err := d.Store.Claim(ctx, worker, startTime)
	if err == nil {
		d.claimed++
	}
	return j, err
}

// Finish implements store.Store.
func (d *drainingStore) Finish(ctx context.Context, worker, id string, r store.Result) error {
	err := d.Store.Finish(ctx, worker, id, r)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.claimed--
	d.signalIdle()
	return err
}

// drain stops claiming and returns a channel closed when no claimed prompt
// is left unfinished.
func (d *drainingStore) drain() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.draining {
		d.draining = true
		d.idle = make(chan struct{})
		d.signalIdle()
	}
	return d.idle
}

func (d *drainingStore) signalIdle() {
	if d.draining && d.claimed <= 0 {
		select {
		case <-d.idle:
		default:
			close(d.idle)
		}
	}
}
