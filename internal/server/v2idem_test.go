package server

import (
	"strconv"
	"testing"
	"time"
)

func TestIdempotency(t *testing.T) {
	m := newIdempotency()
	now := time.Unix(1000, 0)
	steps := []struct {
		name  string
		do    func() (idempotencyState, string)
		state idempotencyState
		job   string
	}{
		{"first", func() (idempotencyState, string) { return m.begin("k", []byte("a"), now) }, idemNew, ""},
		{"retry in flight", func() (idempotencyState, string) { return m.begin("k", []byte("a"), now) }, idemInFlight, ""},
		{"other body in flight", func() (idempotencyState, string) { return m.begin("k", []byte("b"), now) }, idemReuse, ""},
		{"replay", func() (idempotencyState, string) {
			m.finish("k", "job1")
			return m.begin("k", []byte("a"), now.Add(time.Hour))
		}, idemReplay, "job1"},
		{"reuse", func() (idempotencyState, string) { return m.begin("k", []byte("b"), now) }, idemReuse, ""},
		{"expired", func() (idempotencyState, string) { return m.begin("k", []byte("b"), now.Add(idempotencyTTL)) }, idemNew, ""},
		{"abandoned", func() (idempotencyState, string) {
			m.abandon("k")
			return m.begin("k", []byte("c"), now)
		}, idemNew, ""},
	}
	for _, s := range steps {
		state, job := s.do()
		if state != s.state || job != s.job {
			t.Errorf("%s: %v %q, want %v %q", s.name, state, job, s.state, s.job)
		}
	}
}

func TestIdempotencyBound(t *testing.T) {
	m := newIdempotency()
	now := time.Unix(1000, 0)
	for i := range maxIdempotencyKeys + 10 {
		m.begin(strconv.Itoa(i), nil, now)
	}
	if len(m.entries) > maxIdempotencyKeys || len(m.order) != len(m.entries) {
		t.Errorf("%d entries, %d in order", len(m.entries), len(m.order))
	}
	if state, _ := m.begin("0", []byte("x"), now); state != idemNew {
		t.Errorf("oldest key kept: %v", state)
	}
}
