package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (standardwebhooks.com, spec v1.0.0).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks secret: "whsec_" then the key in
// standard base64.
const secretPrefix = "whsec_"

// Key sizes the spec asks of a secret.
const minKeySize, maxKeySize = 24, 64

// ErrSignature is returned by Verify for a delivery that is not signed
// with the secret, or whose timestamp is out of tolerance.
var ErrSignature = errors.New("webhook: signature does not verify")

// Secret is the HMAC key of a Standard Webhooks secret.
type Secret []byte

// ParseSecret decodes "whsec_" + base64(key); the prefix may be omitted,
// as the reference libraries allow. The key must be 24 to 64 bytes.
func ParseSecret(s string) (Secret, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
	if err != nil {
		return nil, fmt.Errorf("webhook secret: not base64 after %q: %w", secretPrefix, err)
	}
	if len(key) < minKeySize || len(key) > maxKeySize {
		return nil, fmt.Errorf("webhook secret: the key has %d bytes, want %d to %d", len(key), minKeySize, maxKeySize)
	}
	return Secret(key), nil
}

// NewSecret returns a random 32-byte secret in its "whsec_" form.
func NewSecret() string {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// String is the "whsec_" form of the secret.
func (s Secret) String() string {
	return secretPrefix + base64.StdEncoding.EncodeToString(s)
}

// Sign returns the webhook-signature value of a delivery: "v1," +
// base64(HMAC-SHA256(key, id "." timestamp "." body)), timestamp in
// Unix seconds.
func (s Secret) Sign(id string, timestamp time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(s.mac(id, strconv.FormatInt(timestamp.Unix(), 10), body))
}

func (s Secret) mac(id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, s)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a received delivery as a receiver would: one of the
// space-separated "v1,<base64>" signatures of its webhook-signature header
// must be the HMAC of its id, timestamp and body, and the timestamp must
// be within tolerance of now. Other signature versions are ignored.
func (s Secret) Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts := h.Get(HeaderID), h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return fmt.Errorf("%w: missing or malformed %s/%s", ErrSignature, HeaderID, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d is out of tolerance", ErrSignature, sec)
	}
	want := s.mac(id, ts, body)
	for _, sig := range strings.Fields(h.Get(HeaderSignature)) {
		b64, ok := strings.CutPrefix(sig, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
