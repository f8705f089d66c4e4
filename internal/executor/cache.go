package executor

import (
	"cmp"
	"math"
	"slices"

	"github.com/gocomfy/gocomfy/pyjson"
	"github.com/gocomfy/gocomfy/tensor"
)

// entry is ComfyUI's CacheEntry: the outputs of a node (one list of
// per-item values per socket) and the UI it produced, if any.
type entry struct {
	ui      *uiRecord
	outputs [][]any
}

// uiRecord is a node's history record: {"meta": ..., "output": ...}.
type uiRecord struct {
	meta   pyjson.Object
	output pyjson.Object
}

// outputCache is ComfyUI's caches.outputs for one of the cache modes. The
// run goroutine is its only user.
type outputCache interface {
	// setPrompt builds the key set of the prompt's nodes (which calls their
	// fingerprints) and drops what the mode drops at a prompt's start.
	setPrompt(r *run)
	// get looks a node up as ComfyUI's get does (it counts as a use);
	// getLocal only reads.
	get(n *nodeState) *entry
	getLocal(n *nodeState) *entry
	set(n *nodeState, e *entry)
	setLocal(n *nodeState, e *entry)
	// ensureSubcache prepares the cache for the nodes of parent's expansion
	// (their keys, their per-expander subcache). It reports false when the
	// parent's own subcache is gone (ComfyUI asserts).
	ensureSubcache(r *run, parent *nodeState, children []*nodeState) bool
	// nodeIDs is all_node_ids(): the ids of the key set and of the retained
	// subcaches, the "current_outputs" of error reports.
	nodeIDs() []string
	// afterNode runs after each scheduling step (RAM-pressure eviction).
	afterNode()
}

func newOutputCache(cfg Config) outputCache {
	switch cfg.Cache {
	case LRU:
		return newLRUCache(cfg.LRUSize, nil)
	case None:
		return nullCache{}
	case RAMPressure:
		return newLRUCache(0, newRAMPolicy(cfg))
	}
	return &hierCache{root: &level{}}
}

// subKey is a subcache key: the expander's id and class.
type subKey struct{ id, class string }

// keySet is a BasicCache's key set: data and subcache keys by node id.
type keySet struct {
	keys    map[string]cacheKey
	subKeys map[string]subKey
	ids     []string // insertion order, for nodeIDs
}

// add computes the keys of nodes (ComfyUI's add_keys, except that a node
// already in the set is re-keyed: a redefined ephemeral node must not keep
// its old key).
func (ks *keySet) add(r *run, nodes []*nodeState) {
	if ks.keys == nil {
		ks.keys = make(map[string]cacheKey, len(nodes))
		ks.subKeys = make(map[string]subKey, len(nodes))
	}
	for _, n := range nodes {
		if _, ok := ks.keys[n.id]; !ok {
			ks.ids = append(ks.ids, n.id)
		}
		ks.keys[n.id] = r.keys.key(n)
		ks.subKeys[n.id] = subKey{n.id, n.def.ClassType}
	}
}

func (ks *keySet) usedKeys() map[cacheKey]bool {
	used := make(map[cacheKey]bool, len(ks.keys))
	for _, k := range ks.keys {
		used[k] = true
	}
	return used
}

func (ks *keySet) usedSubKeys() map[subKey]bool {
	used := make(map[subKey]bool, len(ks.subKeys))
	for _, k := range ks.subKeys {
		used[k] = true
	}
	return used
}

// subKeyOf returns the subcache key of an expander (its own id and class
// when the key set does not know it).
func (ks *keySet) subKeyOf(n *nodeState) subKey {
	if k, ok := ks.subKeys[n.id]; ok {
		return k
	}
	return subKey{n.id, n.def.ClassType}
}

// level is one BasicCache of the classic HierarchicalCache: the prompt's
// nodes at the root, each expander's nodes in a subcache of the level that
// holds the expander.
type level struct {
	keySet
	data     map[cacheKey]*entry
	subs     map[subKey]*level
	subOrder []subKey
}

func (l *level) setKeys(r *run, nodes []*nodeState) {
	l.keySet = keySet{}
	l.add(r, nodes)
}

// clean drops the entries and subcaches the key set does not use.
func (l *level) clean() {
	used := l.usedKeys()
	for k := range l.data {
		if !used[k] {
			delete(l.data, k)
		}
	}
	usedSubs := l.usedSubKeys()
	l.subOrder = slices.DeleteFunc(l.subOrder, func(k subKey) bool {
		if usedSubs[k] {
			return false
		}
		delete(l.subs, k)
		return true
	})
}

func (l *level) lookup(n *nodeState) *entry {
	if k, ok := l.keys[n.id]; ok {
		return l.data[k]
	}
	return nil
}

func (l *level) store(n *nodeState, e *entry) {
	k, ok := l.keys[n.id]
	if !ok {
		return // ComfyUI would store under the key None; nothing reads it back
	}
	if l.data == nil {
		l.data = map[cacheKey]*entry{}
	}
	l.data[k] = e
}

func (l *level) nodeIDs(ids []string) []string {
	ids = append(ids, l.ids...)
	for _, k := range l.subOrder {
		ids = l.subs[k].nodeIDs(ids)
	}
	return ids
}

// hierCache is the classic cache (HierarchicalCache over input signatures):
// it keeps exactly what the latest prompt's key sets use.
type hierCache struct{ root *level }

func (c *hierCache) setPrompt(r *run) {
	c.root.setKeys(r, r.dp.all)
	c.root.clean()
}

// levelFor returns the level that holds n: the subcache chain of its
// expanders, nil when a subcache on the way is gone.
func (c *hierCache) levelFor(n *nodeState) *level {
	if n.parent == nil {
		return c.root
	}
	var chain []*nodeState
	for p := n.parent; p != nil; p = p.parent {
		chain = append(chain, p)
	}
	l := c.root
	for i := len(chain) - 1; i >= 0 && l != nil; i-- {
		l = l.subs[l.subKeyOf(chain[i])]
	}
	return l
}

func (c *hierCache) get(n *nodeState) *entry { return c.getLocal(n) }

func (c *hierCache) getLocal(n *nodeState) *entry {
	if l := c.levelFor(n); l != nil {
		return l.lookup(n)
	}
	return nil
}

func (c *hierCache) set(n *nodeState, e *entry) { c.setLocal(n, e) }

func (c *hierCache) setLocal(n *nodeState, e *entry) {
	if l := c.levelFor(n); l != nil {
		l.store(n, e)
	}
}

func (c *hierCache) ensureSubcache(r *run, parent *nodeState, children []*nodeState) bool {
	l := c.levelFor(parent)
	if l == nil {
		return false
	}
	k := l.subKeyOf(parent)
	sub := l.subs[k]
	if sub == nil {
		sub = &level{}
		if l.subs == nil {
			l.subs = map[subKey]*level{}
		}
		l.subs[k] = sub
		l.subOrder = append(l.subOrder, k)
	}
	sub.setKeys(r, children)
	sub.clean()
	return true
}

func (c *hierCache) nodeIDs() []string { return dedupe(c.root.nodeIDs(nil)) }

func (c *hierCache) afterNode() {}

// nullCache is --cache-none: nothing is stored, no key is computed.
type nullCache struct{}

func (nullCache) setPrompt(*run)                                     {}
func (nullCache) get(*nodeState) *entry                              { return nil }
func (nullCache) getLocal(*nodeState) *entry                         { return nil }
func (nullCache) set(*nodeState, *entry)                             {}
func (nullCache) setLocal(*nodeState, *entry)                        {}
func (nullCache) ensureSubcache(*run, *nodeState, []*nodeState) bool { return true }
func (nullCache) nodeIDs() []string                                  { return []string{} }
func (nullCache) afterNode()                                         {}

// lruCache is ComfyUI's LRUCache, and with a ramPolicy its RAMPressureCache:
// one flat key set (expanded nodes are added to it), entries tagged with the
// generation (prompt) that last used them.
type lruCache struct {
	maxSize int
	ram     *ramPolicy // nil: LRU mode

	keySet
	data       map[cacheKey]*lruEntry
	generation int
	minGen     int
	clock      uint64 // ComfyUI's timestamps, as a counter
	// subs only tracks which expansions are live (for nodeIDs); the data of
	// expanded nodes lives in the flat map.
	subs     map[subKey][]string
	subOrder []subKey
}

type lruEntry struct {
	e    *entry
	gen  int
	used uint64 // clock of the last get or set
}

func newLRUCache(maxSize int, ram *ramPolicy) *lruCache {
	return &lruCache{maxSize: maxSize, ram: ram, data: map[cacheKey]*lruEntry{}, subs: map[subKey][]string{}}
}

func (c *lruCache) setPrompt(r *run) {
	c.keySet = keySet{}
	c.add(r, r.dp.all)
	c.generation++
	for _, n := range r.dp.all {
		c.markUsed(n)
	}
	c.clean()
}

// clean evicts whole generations, oldest first, while the cache is over its
// size (LRU only), then drops subcaches the key set no longer uses.
func (c *lruCache) clean() {
	if c.ram == nil {
		for len(c.data) > c.maxSize && c.minGen < c.generation {
			c.minGen++
			for k, le := range c.data {
				if le.gen < c.minGen {
					delete(c.data, k)
				}
			}
		}
	}
	used := c.usedSubKeys()
	c.subOrder = slices.DeleteFunc(c.subOrder, func(k subKey) bool {
		if used[k] {
			return false
		}
		delete(c.subs, k)
		return true
	})
}

// markUsed tags n's entry with the current generation. ComfyUI records the
// generation per key even before the entry exists; the entry takes it when
// it is stored, which is when set marks it too.
func (c *lruCache) markUsed(n *nodeState) {
	if k, ok := c.keys[n.id]; ok {
		if le := c.data[k]; le != nil {
			le.gen = c.generation
		}
	}
}

func (c *lruCache) touch(le *lruEntry) {
	c.clock++
	le.used = c.clock
	le.gen = c.generation
}

func (c *lruCache) get(n *nodeState) *entry {
	k, ok := c.keys[n.id]
	if !ok {
		return nil
	}
	le := c.data[k]
	if le == nil {
		return nil
	}
	c.touch(le)
	return le.e
}

func (c *lruCache) getLocal(n *nodeState) *entry {
	if k, ok := c.keys[n.id]; ok {
		if le := c.data[k]; le != nil {
			return le.e
		}
	}
	return nil
}

func (c *lruCache) set(n *nodeState, e *entry) { c.setLocal(n, e) }

func (c *lruCache) setLocal(n *nodeState, e *entry) {
	k, ok := c.keys[n.id]
	if !ok {
		return
	}
	le := c.data[k]
	if le == nil {
		le = &lruEntry{}
		c.data[k] = le
	}
	le.e = e
	c.touch(le)
}

func (c *lruCache) ensureSubcache(r *run, parent *nodeState, children []*nodeState) bool {
	k := c.subKeyOf(parent)
	if _, ok := c.subs[k]; !ok {
		c.subOrder = append(c.subOrder, k)
	}
	ids := make([]string, len(children))
	for i, n := range children {
		ids[i] = n.id
	}
	c.subs[k] = ids
	c.add(r, children)
	c.markUsed(parent)
	for _, n := range children {
		c.markUsed(n)
	}
	c.clean()
	return true
}

func (c *lruCache) nodeIDs() []string {
	ids := slices.Clone(c.ids)
	for _, k := range c.subOrder {
		ids = append(ids, c.subs[k]...)
	}
	return dedupe(ids)
}

// afterNode applies RAM pressure after each step: entries of older prompts
// go while available RAM is below the inactive headroom, then entries of the
// running prompt too while it is below the active headroom. Unknown RAM
// counts as short for older entries only.
func (c *lruCache) afterNode() {
	if c.ram == nil {
		return
	}
	avail, known := c.ram.available()
	if !known {
		c.release(0, math.MaxUint64, false)
		return
	}
	avail = c.release(avail, c.ram.inactive, false)
	avail = c.release(avail, c.ram.active, true)
	c.ram.estimate(avail)
}

// release evicts in ComfyUI's order (highest score first: 1.3^age × size,
// ties to the most recently used) until available RAM reaches target,
// counting evicted tensor bytes as freed (the Go heap returns memory
// lazily, so /proc/meminfo would not show it at once). Entries of the
// running prompt are candidates only when active. It returns the estimated
// available RAM.
func (c *lruCache) release(avail, target uint64, active bool) uint64 {
	if avail >= target {
		return avail
	}
	type candidate struct {
		key   cacheKey
		score float64
		used  uint64
		bytes uint64
	}
	var list []candidate
	for k, le := range c.data {
		if !active && le.gen == c.generation {
			continue
		}
		bytes := outputBytes(le.e.outputs)
		score := math.Pow(1.3, float64(c.generation-le.gen)) * (0.05 + float64(bytes))
		list = append(list, candidate{k, score, le.used, bytes})
	}
	slices.SortFunc(list, func(a, b candidate) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(b.used, a.used)
	})
	for _, cand := range list {
		if avail >= target {
			break
		}
		delete(c.data, cand.key)
		avail += cand.bytes
	}
	return avail
}

// outputBytes estimates the RAM held by a node's outputs: the bytes of the
// tensors in them, as ComfyUI counts CPU tensors.
func outputBytes(outputs [][]any) uint64 {
	var n uint64
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case *tensor.Image:
			n += uint64(len(v.Pix)) * 4
		case *tensor.Mask:
			n += uint64(len(v.Pix)) * 4
		case *tensor.Tensor:
			n += uint64(len(v.Data)) * 4
		case *tensor.Latent:
			walk(v.Samples)
			walk(v.NoiseMask)
		}
	}
	for _, socket := range outputs {
		for _, v := range socket {
			walk(v)
		}
	}
	return n
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
