// Package auth keeps gocomfy's API keys.
//
// A key is a high-entropy random string; only its SHA-256 digest is kept,
// so a leaked key file or memory dump does not give working keys away, and
// a salt or a slow hash would add nothing for keys that cannot be guessed.
// Presented keys are compared with every stored digest in constant time.
//
// Each key is bound to a user, the user its requests act for; AnyUser
// marks an administrator's key, whose requests may act for any user.
//
// Keys are written "USER:KEY" or "USER:sha256:HEX", one per line in a key
// file (blank lines and lines starting with # are ignored) or separated by
// commas or white space in an environment variable. A key given in clear
// is at least MinKeyLen characters that may go into a cookie. Hash gives
// the digest form of a key; `printf %s KEY | sha256sum` gives the same HEX.
package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// AnyUser is the user of an administrator's key: its requests act for the
// user they name (ComfyUI's comfy-user header), or for the default user.
const AnyUser = "*"

// MinKeyLen is the length below which a key given in clear is refused: a
// key is meant to be random, not a password.
const MinKeyLen = 16

// validKey reports whether key is long enough and made of the bytes a
// cookie value may hold (RFC 6265 cookie-octet: printable ASCII without
// space, '"', ',', ';' and '\'), since a browser keeps it in a cookie.
func validKey(key string) bool {
	if len(key) < MinKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// digestPrefix marks a key written as its SHA-256 digest.
const digestPrefix = "sha256:"

// userName is what a user bound to a key may be called: a name that is
// also safe as a folder name. A leading "__" is ComfyUI's reserved system
// namespace (CVE-2025-67303), so it is refused too.
var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Keys is a set of API keys. The zero value holds none and is ready to use;
// a Keys is not safe for concurrent modification, and is only read once
// serving.
type Keys struct {
	entries []entry
}

type entry struct {
	user   string
	digest [sha256.Size]byte
}

// Len returns the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entries)
}

// Add adds key, bound to user.
func (k *Keys) Add(user, key string) error {
	if !validKey(key) {
		return fmt.Errorf("the key of %q is not %d or more characters of printable ASCII without space, quote, comma, semicolon or backslash",
			user, MinKeyLen)
	}
	return k.add(user, sha256.Sum256([]byte(key)))
}

func (k *Keys) add(user string, digest [sha256.Size]byte) error {
	if user != AnyUser && !userName.MatchString(user) {
		return fmt.Errorf("invalid user %q: use letters, digits, '.', '_', '@' and '-' (or %s for any user)", user, AnyUser)
	}
	for _, e := range k.entries {
		if e.digest == digest {
			return fmt.Errorf("a key of %q is listed twice", user)
		}
	}
	k.entries = append(k.entries, entry{user, digest})
	return nil
}

// AddEntry adds a key written "USER:KEY" or "USER:sha256:HEX".
func (k *Keys) AddEntry(s string) error {
	user, secret, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || secret == "" {
		return errors.New("an API key is written USER:KEY or USER:sha256:HEX")
	}
	if hexDigest, isDigest := strings.CutPrefix(secret, digestPrefix); isDigest {
		b, err := hex.DecodeString(hexDigest)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("the key of %q is not %s followed by 64 hex digits", user, digestPrefix)
		}
		return k.add(user, [sha256.Size]byte(b))
	}
	return k.Add(user, secret)
}

// AddList adds the entries of a list separated by commas or white space
// (an environment variable's value).
func (k *Keys) AddList(list string) error {
	fields := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	for _, f := range fields {
		if err := k.AddEntry(f); err != nil {
			return err
		}
	}
	return nil
}

// Read adds the entries of a key file read from r.
func (k *Keys) Read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := k.AddEntry(s); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return sc.Err()
}

// ReadFile adds the entries of the key file at path.
func (k *Keys) ReadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := k.Read(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Lookup returns the user key is bound to; ok is false for an unknown key.
// It takes the same time whichever stored key matches, if any.
func (k *Keys) Lookup(key string) (user string, ok bool) {
	if k.Len() == 0 || key == "" {
		return "", false
	}
	digest := sha256.Sum256([]byte(key))
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1 {
			user, ok = e.user, true
		}
	}
	return user, ok
}

// NewKey returns a new random key: 256 bits, URL-safe base64 (it goes into
// URLs as ?token=).
func NewKey() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns key's digest as written in a key file: "sha256:HEX".
func Hash(key string) string {
	digest := sha256.Sum256([]byte(key))
	return digestPrefix + hex.EncodeToString(digest[:])
}
