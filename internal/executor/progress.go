package executor

import (
	"math"
	"strconv"

	"github.com/gocomfy/gocomfy/pyjson"
)

// progressRegistry is ComfyUI's ProgressRegistry for one prompt: the
// progress state of every node that started, finished or reported, in the
// order it first did. Entries are immutable, so a snapshot is a copy of the
// pointer slice and stays valid while the run goes on.
type progressRegistry struct {
	promptID string
	entries  []*progressEntry
	index    map[string]int
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
// order they did (pending nodes are omitted). It is a snapshot.
type ProgressNodes struct {
	promptID string
	entries  []*progressEntry
}

func newProgressRegistry(promptID string) *progressRegistry {
	return &progressRegistry{promptID: promptID, index: map[string]int{}}
}

// put replaces or appends the entry of e.id. A node's first entry starts
// from ComfyUI's ensure_entry values (0 and 1, ints).
func (p *progressRegistry) put(e *progressEntry) {
	if i, ok := p.index[e.id]; ok {
		p.entries[i] = e
		return
	}
	p.index[e.id] = len(p.entries)
	p.entries = append(p.entries, e)
}

func (p *progressRegistry) get(id string) (*progressEntry, bool) {
	i, ok := p.index[id]
	if !ok {
		return nil, false
	}
	return p.entries[i], true
}

// fresh makes the entry of a node not seen yet.
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
	return ProgressNodes{promptID: p.promptID, entries: append([]*progressEntry(nil), p.entries...)}
}

// Object returns the snapshot as an ordered object (for tests and
// inspection; MarshalJSON does not build it).
func (s ProgressNodes) Object() pyjson.Object {
	o := make(pyjson.Object, 0, len(s.entries))
	for _, e := range s.entries {
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
	}
	return o
}

// MarshalJSON writes the snapshot as compact JSON in Object's shape.
func (s ProgressNodes) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64+len(s.entries)*200)
	b = append(b, '{')
	for i, e := range s.entries {
		if i > 0 {
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
	}
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
