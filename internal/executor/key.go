package executor

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Cache keys (ComfyUI's CacheKeySetInputSignature).
//
// ComfyUI's key of a node is the list [sig(node), sig(a0), sig(a1), …] over
// the node and its ancestors in DFS order (inputs sorted by name), where a
// link input appears as ("ANCESTOR", index in that list, slot). Two nodes get
// equal keys exactly when their ancestor graphs are isomorphic as labelled
// DAGs. Building that list for every node is quadratic on a chain, so gocomfy
// uses a Merkle hash (each node hashes its own signature and its sources'
// hashes), which is linear and equal for isomorphic graphs. The two notions
// differ only when an ancestor graph holds two distinct nodes that compute the
// same thing (equal Merkle hashes): ComfyUI's list then tells "one shared
// node" from "two identical nodes", a Merkle hash does not. Such nodes, and
// nodes on dependency cycles, get a key built from ComfyUI's list itself.
// Both kinds are domain-separated, so each is compared only with its own kind,
// and a graph is of one kind or the other by its shape alone.
//
// Literals are encoded so that Python's equality holds: 1 == 1.0 == True,
// [] == {} (both become empty frozensets), and NaN or a value to_hashable
// cannot hash makes the key unequal to every other key (a fresh nonce).

// cacheKey identifies an output-cache entry.
type cacheKey [sha256.Size]byte

// keyMemo is a node's memoized key for one dynPrompt version.
type keyMemo struct {
	version uint64 // dynPrompt.version + 1 when computed; 0: never
	state   uint8
	merkle  cacheKey
	cyclic  bool // a dependency cycle is reachable: ComfyUI's list is used
	dup     bool // another node of equal Merkle hash exists in this version
	key     cacheKey
	hasKey  bool

	touchEpoch uint64 // keyer.epoch + 1 when touches was computed
	touches    bool   // a dup node is in the ancestry (itself included)
}

const (
	memoNone uint8 = iota
	memoBusy
	memoDone
)

// nonces make keys that must never match: each is unique in the process.
var nonces atomic.Uint64

func appendNonce(b []byte) []byte {
	b = append(b, 'P')
	return binary.BigEndian.AppendUint64(b, nonces.Add(1))
}

// keyer computes cache keys for one run. Keys are memoized per node for the
// dynPrompt version; the fingerprints (is_changed) they include are computed
// once per node id per run by fingerprint.
type keyer struct {
	dp          *dynPrompt
	fingerprint func(n *nodeState) []byte
	version     uint64
	// byMerkle finds distinct nodes with equal Merkle hashes; epoch changes
	// when it finds a new pair, which makes "touches" memos stale.
	byMerkle map[cacheKey]*nodeState
	epoch    uint64
	buf      []byte
}

func newKeyer(dp *dynPrompt, fingerprint func(*nodeState) []byte) *keyer {
	return &keyer{dp: dp, fingerprint: fingerprint, byMerkle: map[cacheKey]*nodeState{}}
}

// key returns n's cache key in the current version of the prompt.
func (k *keyer) key(n *nodeState) cacheKey {
	k.sync()
	if n.key.version == k.version+1 && n.key.hasKey {
		return n.key.key
	}
	m, cyclic := k.merkle(n)
	if !cyclic && !k.touchesDup(n) {
		n.key.key = m
	} else {
		n.key.key = k.exact(n)
	}
	n.key.hasKey = true
	return n.key.key
}

// sync drops every memo when the prompt's version changed.
func (k *keyer) sync() {
	if k.version != k.dp.version {
		k.version = k.dp.version
		clear(k.byMerkle)
		k.epoch++
	}
}

// memo returns n's memo, reset if it belongs to an older version.
func (k *keyer) memo(n *nodeState) *keyMemo {
	if n.key.version != k.version+1 {
		n.key = keyMemo{version: k.version + 1}
	}
	return &n.key
}

// merkle returns H(own signature, sources' hashes) and whether a cycle is
// reachable from n (a node met again while its hash is being computed).
func (k *keyer) merkle(n *nodeState) (cacheKey, bool) {
	memo := k.memo(n)
	switch memo.state {
	case memoDone:
		return memo.merkle, memo.cyclic
	case memoBusy:
		return cacheKey{}, true
	}
	memo.state = memoBusy
	var stack [4]cacheKey
	srcs := stack[:0]
	cyclic := false
	for _, i := range n.byName {
		in := &n.inputs[i]
		if !in.link {
			continue
		}
		src := k.dp.lookupForKey(in.from)
		if src == nil {
			srcs = append(srcs, sha256.Sum256(appendNonce(nil))) // ComfyUI's [NaN]
			continue
		}
		h, c := k.merkle(src)
		cyclic = cyclic || c
		srcs = append(srcs, h)
	}
	b := append(k.buf[:0], 'M')
	b = k.appendSignature(b, n)
	for _, h := range srcs {
		b = append(b, h[:]...)
	}
	k.buf = b
	h := sha256.Sum256(b)
	memo.merkle, memo.cyclic, memo.state = h, cyclic, memoDone
	if cyclic {
		return h, true // not a hash of the graph: never compared
	}
	if other, ok := k.byMerkle[h]; !ok {
		k.byMerkle[h] = n
	} else if other != n {
		other.key.dup, memo.dup = true, true
		k.epoch++
	}
	return h, false
}

// touchesDup reports whether n or one of its ancestors has a twin (a
// distinct node with the same Merkle hash): a cheap superset of "the
// ancestry holds a twin pair", which exact decides. For acyclic ancestries.
func (k *keyer) touchesDup(n *nodeState) bool {
	memo := k.memo(n)
	if memo.touchEpoch == k.epoch+1 {
		return memo.touches
	}
	t := memo.dup
	for _, i := range n.byName {
		if in := &n.inputs[i]; !t && in.link {
			if src := k.dp.nodes[in.from]; src != nil {
				t = k.touchesDup(src)
			}
		}
	}
	memo.touches, memo.touchEpoch = t, k.epoch+1
	return t
}

// exact returns the key of ComfyUI's signature list itself, unless the
// ancestry has no twin pair after all, in which case the Merkle hash is the
// key (the two kinds must not mix for one graph shape).
func (k *keyer) exact(n *nodeState) cacheKey {
	order := map[string]int{}
	var ancestors []string
	var visit func(id string)
	visit = func(id string) {
		m := k.dp.lookupForKey(id)
		if m == nil {
			return
		}
		for _, i := range m.byName {
			in := &m.inputs[i]
			if in.link {
				if _, seen := order[in.from]; !seen {
					ancestors = append(ancestors, in.from)
					order[in.from] = len(ancestors) - 1
					visit(in.from)
				}
			}
		}
	}
	visit(n.id)

	memo := k.memo(n)
	if !memo.cyclic {
		seen := make(map[cacheKey]bool, len(ancestors)+1)
		twins := false
		for _, id := range append([]string{n.id}, ancestors...) {
			m := k.dp.nodes[id]
			if m == nil {
				continue
			}
			h, _ := k.merkle(m)
			if seen[h] {
				twins = true
				break
			}
			seen[h] = true
		}
		if !twins {
			return memo.merkle
		}
	}

	b := []byte{'X'}
	for _, id := range append([]string{n.id}, ancestors...) {
		m := k.dp.nodes[id]
		if m == nil {
			b = appendNonce(b)
			continue
		}
		sig := k.appendSignature(nil, m)
		h := sha256.Sum256(sig)
		b = append(b, h[:]...)
		for _, i := range m.byName {
			if in := &m.inputs[i]; in.link {
				b = binary.AppendUvarint(b, uint64(order[in.from]))
			}
		}
	}
	return sha256.Sum256(b)
}

// appendSignature appends n's immediate signature without its sources'
// identities: class_type, the fingerprint, the id when the class is not
// idempotent or declares UNIQUE_ID, and each input in name order as a
// literal or as a link slot.
func (k *keyer) appendSignature(b []byte, n *nodeState) []byte {
	b = appendKeyString(b, n.def.ClassType)
	b = append(b, k.fingerprint(n)...)
	if n.class.NotIdempotent || n.class.HasHidden(node.HiddenUniqueID) {
		b = append(b, 'I')
		b = appendKeyString(b, n.id)
	}
	for _, i := range n.byName {
		in := &n.inputs[i]
		b = appendKeyString(b, in.name)
		if in.link {
			b = append(b, 'A')
			b = appendHashable(b, in.value.([]any)[1])
		} else {
			b = append(b, '=')
			b = appendHashable(b, in.value)
		}
	}
	return b
}

func appendKeyString(b []byte, s string) []byte {
	b = append(b, 's')
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendHashable appends the canonical encoding of a value under Python's
// equality (ComfyUI's to_hashable followed by ==): equal encodings for equal
// values; a nonce for NaN and for values to_hashable cannot hash.
func appendHashable(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if v {
			return appendInt(b, 1)
		}
		return appendInt(b, 0)
	case int:
		return appendInt(b, int64(v))
	case int32:
		return appendInt(b, int64(v))
	case int64:
		return appendInt(b, v)
	case uint64:
		return appendIntText(b, strconv.FormatUint(v, 10))
	case float32:
		return appendFloat(b, float64(v))
	case float64:
		return appendFloat(b, v)
	case pyjson.Float:
		return appendFloat(b, float64(v))
	case json.Number:
		return appendNumber(b, v)
	case string:
		return appendKeyString(b, v)
	case []byte:
		b = append(b, 'b')
		b = binary.AppendUvarint(b, uint64(len(v)))
		return append(b, v...)
	case node.Link:
		return appendHashable(b, []any{v.From, int64(v.Slot)})
	case []any:
		if len(v) == 0 {
			return append(b, 'e')
		}
		b = append(b, 'l')
		b = binary.AppendUvarint(b, uint64(len(v)))
		for _, e := range v {
			b = appendHashable(b, e)
		}
		return b
	case []string:
		list := make([]any, len(v))
		for i, s := range v {
			list[i] = s
		}
		return appendHashable(b, list)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		return appendMapping(b, len(keys), func(i int) (string, any) { return keys[i], v[keys[i]] })
	case pyjson.Object:
		fields := slices.Clone(v)
		slices.SortFunc(fields, func(a, c pyjson.Field) int { return strings.Compare(a.Key, c.Key) })
		return appendMapping(b, len(fields), func(i int) (string, any) { return fields[i].Key, fields[i].Value })
	}
	return appendNonce(b)
}

func appendMapping(b []byte, n int, field func(i int) (string, any)) []byte {
	if n == 0 {
		return append(b, 'e')
	}
	b = append(b, 'm')
	b = binary.AppendUvarint(b, uint64(n))
	for i := range n {
		key, value := field(i)
		b = appendKeyString(b, key)
		b = appendHashable(b, value)
	}
	return b
}

func appendInt(b []byte, i int64) []byte {
	b = append(b, 'i')
	b = strconv.AppendInt(b, i, 10)
	return append(b, ';')
}

func appendIntText(b []byte, decimal string) []byte {
	b = append(b, 'i')
	b = append(b, decimal...)
	return append(b, ';')
}

// appendFloat encodes an integral float as the integer it equals (Python:
// 2.0 == 2 and 1e300 == int(1e300)).
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return appendNonce(b)
	case math.IsInf(f, 1):
		return append(b, "f+inf"...)
	case math.IsInf(f, -1):
		return append(b, "f-inf"...)
	case f == math.Trunc(f):
		if math.Abs(f) < 1<<63 {
			return appendInt(b, int64(f))
		}
		i, _ := big.NewFloat(f).Int(nil)
		return appendIntText(b, i.String())
	}
	b = append(b, 'f')
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// appendNumber encodes a JSON number as Python's json module reads it: an
// int of any size when it has no fraction or exponent, else a float.
func appendNumber(b []byte, n json.Number) []byte {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return appendInt(b, i)
		}
		if i, ok := new(big.Int).SetString(s, 10); ok {
			return appendIntText(b, i.String())
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return appendNonce(b)
	}
	return appendFloat(b, f)
}
