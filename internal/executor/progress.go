package executor

import (
	"math"
	"strconv"

	"github.com/gocomfy/gocomfy/pyjson"
)

// progressRegistry is ComfyUI's ProgressRegistry for one prompt: the
// progress state of every node that started, finished or reported, in the
// order it first did. Every change is sent as a snapshot of the whole
// registry, so snapshots must be cheap: entries are immutable and live in
// fixed-size chunks that a snapshot freezes and shares; a change to a frozen
// chunk copies that chunk first. A snapshot costs one pointer per chunk, a
// change at most one chunk.
type progressRegistry struct {
	promptID string
	chunks   []*progressChunk
	n        int
	index    map[string]int
}

const progressChunkSize = 32

type progressChunk struct {
	entries [progressChunkSize]*progressEntry
	frozen  bool // shared with a snapshot: copy before changing
}

// progressEntry is one node's state; value and max are int64 or
// pyjson.Float, as Python's ints and floats print differently.
type progressEntry struct {
	id, display, real string
	parent            any // nil or the parent's id
	state             string
	value, max        any
}

// ProgressNodes is the "nodes" object of a progress_state event:
// {id: {"value", "max", "state", "node_id", "prompt_id", "display_node_id",
// "parent_node_id", "real_node_id"}} for every node that started, in the
// order they did (pending nodes are omitted). It is an immutable snapshot.
type ProgressNodes struct {
	promptID string
	chunks   []*progressChunk
	n        int
}

func newProgressRegistry(promptID string) *progressRegistry {
	return &progressRegistry{promptID: promptID, index: map[string]int{}}
}

// put replaces or appends the entry of e.id.
func (p *progressRegistry) put(e *progressEntry) {
	i, ok := p.index[e.id]
	if !ok {
		i = p.n
		p.index[e.id] = i
		p.n++
		if i%progressChunkSize == 0 {
			p.chunks = append(p.chunks, &progressChunk{})
		}
	}
	c := p.chunks[i/progressChunkSize]
	if c.frozen {
		c = &progressChunk{entries: c.entries}
		p.chunks[i/progressChunkSize] = c
	}
	c.entries[i%progressChunkSize] = e
}

func (p *progressRegistry) get(id string) (*progressEntry, bool) {
	i, ok := p.index[id]
	if !ok {
		return nil, false
	}
	return p.chunks[i/progressChunkSize].entries[i%progressChunkSize], true
}

// fresh makes the entry of a node not seen yet, with ComfyUI's ensure_entry
// values (0 of 1, ints).
func (p *progressRegistry) fresh(id, display, real string, parent any) *progressEntry {
	return &progressEntry{id: id, display: display, real: real, parent: parent, value: int64(0), max: int64(1)}
}

// start: running, 0.0 of 1.0.
func (p *progressRegistry) start(base *progressEntry) {
	e := *base
	e.state, e.value, e.max = "running", pyjson.Float(0), pyjson.Float(1)
	p.put(&e)
}

// update: running, value of max as the node reported them.
func (p *progressRegistry) update(base *progressEntry, value, max any) {
	e := *base
	e.state, e.value, e.max = "running", value, max
	p.put(&e)
}

// finish: finished, value = max.
func (p *progressRegistry) finish(base *progressEntry) {
	e := *base
	e.state, e.value = "finished", e.max
	p.put(&e)
}

func (p *progressRegistry) snapshot() ProgressNodes {
	for _, c := range p.chunks {
		c.frozen = true
	}
	return ProgressNodes{promptID: p.promptID, chunks: append([]*progressChunk(nil), p.chunks...), n: p.n}
}

// each calls f with the snapshot's entries in order.
func (s ProgressNodes) each(f func(e *progressEntry)) {
	for i := range s.n {
		f(s.chunks[i/progressChunkSize].entries[i%progressChunkSize])
	}
}

// Object returns the snapshot as an ordered object (for tests and
// inspection; MarshalJSON does not build it).
func (s ProgressNodes) Object() pyjson.Object {
	o := make(pyjson.Object, 0, s.n)
	s.each(func(e *progressEntry) {
		o = append(o, pyjson.Field{Key: e.id, Value: pyjson.Object{
			{Key: "value", Value: e.value},
			{Key: "max", Value: e.max},
			{Key: "state", Value: e.state},
			{Key: "node_id", Value: e.id},
			{Key: "prompt_id", Value: s.promptID},
			{Key: "display_node_id", Value: e.display},
			{Key: "parent_node_id", Value: e.parent},
			{Key: "real_node_id", Value: e.real},
		}})
	})
	return o
}

// MarshalJSON writes the snapshot as compact JSON in Object's shape.
func (s ProgressNodes) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64+s.n*200)
	b = append(b, '{')
	s.each(func(e *progressEntry) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.id)
		b = append(b, `:{"value":`...)
		b = appendNumberJSON(b, e.value)
		b = append(b, `,"max":`...)
		b = appendNumberJSON(b, e.max)
		b = append(b, `,"state":`...)
		b = appendJSONString(b, e.state)
		b = append(b, `,"node_id":`...)
		b = appendJSONString(b, e.id)
		b = append(b, `,"prompt_id":`...)
		b = appendJSONString(b, s.promptID)
		b = append(b, `,"display_node_id":`...)
		b = appendJSONString(b, e.display)
		b = append(b, `,"parent_node_id":`...)
		if p, ok := e.parent.(string); ok {
			b = appendJSONString(b, p)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"real_node_id":`...)
		b = appendJSONString(b, e.real)
		b = append(b, '}')
	})
	return append(b, '}'), nil
}

func appendNumberJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case int64:
		return strconv.AppendInt(b, v, 10)
	case pyjson.Float:
		return pyjson.AppendFloat(b, float64(v))
	}
	return append(b, "null"...)
}

// progressNumber renders a progress value as ComfyUI's ProgressBar passes
// it: an int when integral (its counters are ints), else a float.
func progressNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return pyjson.Float(f)
}

// appendJSONString appends s as a JSON string (no HTML escaping; non-ASCII
// is left for pyjson's re-spacing pass, which escapes it as Python does).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
