package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gocomfy/gocomfy/pyjson"
)

// readyTimeout bounds the store check of GET /ready: a store that does not
// answer in that time is not ready.
const readyTimeout = 2 * time.Second

// getHealth is GET /health, the liveness probe: the process answers.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "status", Value: "ok"}})
	return nil
}

// getReady is GET /ready, the readiness probe: 200 while the server takes
// prompts; 503 when it is shutting down, when the store does not answer,
// or when the pending queue is at its bound (--max-queue).
func (s *Server) getReady(w http.ResponseWriter, r *http.Request) error {
	status := "ok"
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	pending, _, err := s.cfg.Store.QueueLen(ctx)
	switch {
	case s.draining.Load():
		status = "draining"
	case err != nil:
		s.log.Warn("readiness: the store does not answer", "err", err)
		status = "store_unavailable"
	case s.cfg.MaxPending > 0 && pending >= s.cfg.MaxPending:
		status = "queue_full"
	}
	code := http.StatusOK
	if status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, pyjson.Object{{Key: "status", Value: status}})
	return nil
}

// Drain marks the server as shutting down: GET /ready answers 503 from
// then on, so that load balancers send no more work.
func (s *Server) Drain() { s.draining.Store(true) }
