package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/pyjson"
)

// A Prompt is an API-format workflow: node objects keyed by node id, in the
// order the client sent them (ComfyUI iterates its dict in that order, which
// decides validation and execution order).
//
// Input values are kept as decoded JSON: nil, bool, string, json.Number (the
// number's text, so 5 and 5.0 stay distinct as they are in Python), []any and
// map[string]any. A value is a link when [AsLink] says so.
type Prompt struct {
	ids   []string
	nodes map[string]*PromptNode
}

// A PromptNode is one node object of a prompt.
type PromptNode struct {
	ID string
	// ClassType is the "class_type" member; HasClassType is false when the
	// member is absent or not a string.
	ClassType    string
	HasClassType bool
	// Inputs in the order they were sent.
	Inputs []Input
	// Title is "_meta"."title" ("" when absent).
	Title string
	// OverrideDisplayID is set on nodes created by expansion (GraphBuilder).
	OverrideDisplayID string
}

// An Input is one named input value of a prompt node.
type Input struct {
	Name  string
	Value any
}

// A Link is a reference to output Slot of node From: ["From", Slot] on the wire.
type Link struct {
	From string
	Slot int
}

// MarshalJSON writes the link as ComfyUI does: ["from", slot].
func (l Link) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{l.From, l.Slot})
}

// AsLink reports whether v is a link as ComfyUI's is_link decides: a
// two-element list whose first element is a string and whose second is a
// number. A fractional slot passes is_link in ComfyUI too; ok2 is false for it
// (and for slots beyond int range) so that callers can reject it when used.
func AsLink(v any) (l Link, isLink, slotOK bool) {
	if l, ok := v.(Link); ok {
		return l, true, true
	}
	list, ok := v.([]any)
	if !ok || len(list) != 2 {
		return Link{}, false, false
	}
	from, ok := list[0].(string)
	if !ok {
		return Link{}, false, false
	}
	switch s := list[1].(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(s), 10, 0); err == nil {
			return Link{from, int(i)}, true, true
		}
		return Link{From: from}, true, false
	case int:
		return Link{from, s}, true, true
	}
	return Link{}, false, false
}

// NewPrompt returns an empty prompt.
func NewPrompt() *Prompt { return &Prompt{nodes: map[string]*PromptNode{}} }

// Len returns the number of nodes.
func (p *Prompt) Len() int { return len(p.ids) }

// IDs returns the node ids in prompt order. The slice must not be modified.
func (p *Prompt) IDs() []string { return p.ids }

// Node returns the node with the given id.
func (p *Prompt) Node(id string) (*PromptNode, bool) {
	n, ok := p.nodes[id]
	return n, ok
}

// Set adds n, or replaces the node with the same id in place.
func (p *Prompt) Set(n *PromptNode) {
	if _, ok := p.nodes[n.ID]; !ok {
		p.ids = append(p.ids, n.ID)
	}
	p.nodes[n.ID] = n
}

// Input returns the value of the named input.
func (n *PromptNode) Input(name string) (any, bool) {
	for _, in := range n.Inputs {
		if in.Name == name {
			return in.Value, true
		}
	}
	return nil, false
}

// SetInput sets the named input, keeping its position if present; a nil
// value deletes it (GraphBuilder's set_input(k, None)).
func (n *PromptNode) SetInput(name string, v any) {
	for i, in := range n.Inputs {
		if in.Name == name {
			if v == nil {
				n.Inputs = append(n.Inputs[:i], n.Inputs[i+1:]...)
			} else {
				n.Inputs[i].Value = v
			}
			return
		}
	}
	if v != nil {
		n.Inputs = append(n.Inputs, Input{name, v})
	}
}

// Clone returns a deep copy of the prompt (values are copied too).
func (p *Prompt) Clone() *Prompt {
	c := &Prompt{ids: append([]string(nil), p.ids...), nodes: make(map[string]*PromptNode, len(p.nodes))}
	for id, n := range p.nodes {
		cn := *n
		cn.Inputs = make([]Input, len(n.Inputs))
		for i, in := range n.Inputs {
			cn.Inputs[i] = Input{in.Name, cloneValue(in.Value)}
		}
		c.nodes[id] = &cn
	}
	return c
}

func cloneValue(v any) any { return mapLeaves(v, func(x any) any { return x }) }

// mapLeaves returns a copy of v, a decoded JSON value, with leaf applied to
// every value that is not a list or an object.
func mapLeaves(v any, leaf func(any) any) any {
	switch v := v.(type) {
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = mapLeaves(e, leaf)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = mapLeaves(e, leaf)
		}
		return c
	}
	return leaf(v)
}

// ErrPromptNotObject is returned by ParsePrompt when the prompt is not a JSON object.
var ErrPromptNotObject = errors.New("prompt is not a JSON object")

// ParsePrompt decodes an API-format prompt, keeping node and input order.
// A node whose value is not an object, or whose inputs are not an object, is
// an error (ComfyUI fails on it with an exception); a missing class_type is
// not (validation reports it as missing_node_type).
func ParsePrompt(data []byte) (*Prompt, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := NewPrompt()
	err := decodeObject(dec, func(id string) error {
		n, err := decodeNode(dec, id)
		if err != nil {
			return fmt.Errorf("node %q: %w", id, err)
		}
		p.Set(n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data after prompt")
	}
	return p, nil
}

// decodeObject reads one JSON object, calling member for each key with the
// decoder positioned at the value (which member must consume).
func decodeObject(dec *json.Decoder, member func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return ErrPromptNotObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if err := member(tok.(string)); err != nil {
			return err
		}
	}
	_, err = dec.Token() // '}'
	return err
}

func decodeNode(dec *json.Decoder, id string) (*PromptNode, error) {
	n := &PromptNode{ID: id}
	err := decodeObject(dec, func(key string) error {
		switch key {
		case "class_type":
			var v any
			if err := dec.Decode(&v); err != nil {
				return err
			}
			n.ClassType, n.HasClassType = v.(string)
		case "inputs":
			n.Inputs = n.Inputs[:0]
			return decodeObject(dec, func(name string) error {
				var v any
				if err := dec.Decode(&v); err != nil {
					return err
				}
				n.Inputs = append(n.Inputs, Input{name, v})
				return nil
			})
		case "_meta":
			var meta struct {
				Title any `json:"title"`
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			if json.Unmarshal(raw, &meta) == nil {
				n.Title, _ = meta.Title.(string)
			}
		case "override_display_id":
			var v any
			if err := dec.Decode(&v); err != nil {
				return err
			}
			n.OverrideDisplayID, _ = v.(string)
		default:
			var skip json.RawMessage
			return dec.Decode(&skip)
		}
		return nil
	})
	if errors.Is(err, ErrPromptNotObject) {
		return nil, errors.New("node is not a JSON object")
	}
	return n, err
}

// MarshalJSON writes compact JSON with node and input order kept (pyjson
// re-spaces it for the wire):
// {"id": {"inputs": {...}, "class_type": "...", "_meta": {"title": "..."}}}.
func (p *Prompt) MarshalJSON() ([]byte, error) {
	o := make(pyjson.Object, 0, len(p.ids))
	for _, id := range p.ids {
		n := p.nodes[id]
		inputs := make(pyjson.Object, 0, len(n.Inputs))
		for _, in := range n.Inputs {
			inputs = append(inputs, pyjson.Field{Key: in.Name, Value: in.Value})
		}
		node := pyjson.Object{{Key: "inputs", Value: inputs}}
		if n.HasClassType {
			node = append(node, pyjson.Field{Key: "class_type", Value: n.ClassType})
		}
		if n.Title != "" {
			node = append(node, pyjson.Field{Key: "_meta", Value: pyjson.Object{{Key: "title", Value: n.Title}}})
		}
		if n.OverrideDisplayID != "" {
			node = append(node, pyjson.Field{Key: "override_display_id", Value: n.OverrideDisplayID})
		}
		o = append(o, pyjson.Field{Key: id, Value: node})
	}
	return o.MarshalJSON()
}

// Literal converts a decoded JSON literal into the Go value a node receives
// when no declared type says otherwise: integral numbers become int64 (or
// uint64 above int64, the upper half of ComfyUI's seed range; float64 beyond
// that), other numbers float64; lists and objects are converted element by
// element. Links are left as they are.
func Literal(v any) any {
	return mapLeaves(v, func(x any) any {
		switch x := x.(type) {
		case json.Number:
			return number(x)
		case pyjson.Float:
			return float64(x)
		}
		return x
	})
}

func number(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u
		}
		if b, ok := new(big.Int).SetString(s, 10); ok {
			f, _ := new(big.Float).SetInt(b).Float64()
			return f
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}
