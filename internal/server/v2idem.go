package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/internal/store"
)

// Idempotency-Key handling of POST /api/v2/jobs (Stripe semantics, as the
// spec says): the same key and body replay the job first created, the same
// key with another body is refused, and a retry while the first request is
// still being handled is told to come back. Keys live in the store for
// store.IdempotencyTTL, so they survive a restart and, on PostgreSQL, are
// shared by every instance.
//
// The job id is chosen when the key is reserved, before the job is
// submitted: a retry that finds the key still in flight and the job in the
// store replays it, so an instance that stopped between the two cannot
// make a retry run the job twice. A reservation in flight for longer than
// idempotencyStale whose job never appeared is taken over by the retry.
//
// Bodies are compared byte for byte (a digest of the raw body), not as
// parsed JSON. A request that fails (validation, full queue) releases its
// key, so its retry is validated again.
const idempotencyStale = time.Minute

// idempotencyState is what reserving a key found.
type idempotencyState int

const (
	idemNew      idempotencyState = iota // the caller creates the job, then finishes or releases the key
	idemReplay                           // done before with the same body: replay the job
	idemReuse                            // done or in flight with another body
	idemInFlight                         // the same request is being handled
)

// bodyDigest is the digest of a request body kept with its key.
func bodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// reserveKey looks up key of userID for a request with body at now. It
// returns the state and the job id: the id to create with on idemNew, the
// job to replay on idemReplay.
func (a *v2API) reserveKey(ctx context.Context, userID, key string, body []byte, now time.Time) (idempotencyState, string, error) {
	st := a.s.cfg.Store
	k := store.IdempotencyKey{UserID: userID, Key: key, Body: bodyDigest(body), JobID: uuid.NewString(), Created: now.UnixMilli()}
	abandoned := ""
	for {
		live, err := st.ReserveIdempotencyKey(ctx, k, abandoned)
		switch {
		case err != nil:
			return 0, "", err
		case live == nil:
			return idemNew, k.JobID, nil
		case live.Body != k.Body:
			return idemReuse, "", nil
		case live.Done:
			return idemReplay, live.JobID, nil
		}
		// In flight, here or on another instance, or left by one that
		// stopped: if its job exists, the job was created.
		_, err = st.Get(ctx, live.JobID)
		switch {
		case err == nil:
			if err := st.FinishIdempotencyKey(ctx, userID, key, live.JobID); err != nil {
				return 0, "", err
			}
			return idemReplay, live.JobID, nil
		case !errors.Is(err, store.ErrNotFound):
			return 0, "", err
		case abandoned != "" || now.Sub(time.UnixMilli(live.Created)) < idempotencyStale:
			return idemInFlight, "", nil
		}
		abandoned = live.JobID
	}
}
