package server

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Idempotency-Key handling of POST /api/v2/jobs (Stripe semantics, as the
// spec says): the same key and body replay the job first created, the same
// key with another body is refused, and a retry while the first request is
// still being handled is told to come back.
//
// Limitation of this slice: keys live in memory, bounded to
// maxIdempotencyKeys (the oldest go first), so a restart or a flood of keys
// forgets them early. Bodies are compared byte for byte (a hash of the raw
// body), not as parsed JSON. A request that fails (validation, full queue)
// records nothing, so its retry is validated again.
const (
	idempotencyTTL     = 24 * time.Hour
	maxIdempotencyKeys = 10000
)

// idempotencyState is what begin found for a key.
type idempotencyState int

const (
	idemNew      idempotencyState = iota // the caller handles the request, then finish or abandon
	idemReplay                           // done before with the same body: replay jobID
	idemReuse                            // done or in flight with another body
	idemInFlight                         // the same request is being handled
)

type idemEntry struct {
	body    [sha256.Size]byte
	jobID   string // "" while in flight
	expires time.Time
}

// idempotency is the bounded in-memory record of Idempotency-Keys.
type idempotency struct {
	mu      sync.Mutex
	entries map[string]*idemEntry
	order   []string // keys, oldest first
}

func newIdempotency() *idempotency {
	return &idempotency{entries: map[string]*idemEntry{}}
}

// begin looks key up for a request with body at now; on idemNew the key is
// reserved as in flight.
func (m *idempotency) begin(key string, body []byte, now time.Time) (idempotencyState, string) {
	sum := sha256.Sum256(body)
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil && now.Before(e.expires) {
		switch {
		case e.body != sum:
			return idemReuse, ""
		case e.jobID == "":
			return idemInFlight, ""
		}
		return idemReplay, e.jobID
	}
	m.prune(now)
	if _, ok := m.entries[key]; !ok {
		m.order = append(m.order, key)
	}
	m.entries[key] = &idemEntry{body: sum, expires: now.Add(idempotencyTTL)}
	return idemNew, ""
}

// prune drops forgotten and expired keys and, past the bound, the oldest;
// m.mu is held.
func (m *idempotency) prune(now time.Time) {
	kept := m.order[:0]
	for _, k := range m.order {
		if e := m.entries[k]; e != nil && now.Before(e.expires) {
			kept = append(kept, k)
		} else {
			delete(m.entries, k)
		}
	}
	m.order = kept
	for len(m.order) >= maxIdempotencyKeys {
		delete(m.entries, m.order[0])
		m.order = m.order[1:]
	}
}

// finish records that the request of key created jobID.
func (m *idempotency) finish(key, jobID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil {
		e.jobID = jobID
	}
}

// abandon forgets key after its request failed.
func (m *idempotency) abandon(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key) // its place in order is dropped by the next prune
}
