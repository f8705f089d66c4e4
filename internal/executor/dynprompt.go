package executor

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gocomfy/gocomfy/node"
)

// nodeState is everything one run knows about one node id: its current
// definition (an expansion may redefine an ephemeral id), its place in the
// schedule and its rows of the per-run edge cache. ComfyUI keeps these in
// dicts keyed by id; one struct per id makes the hot path pointer chasing.
type nodeState struct {
	id    string
	def   *node.PromptNode
	class *node.Class
	// parent is the node whose expansion created this one; nil for the
	// prompt's own nodes. displayTo is the id it shows as
	// (override_display_id, else the parent's id), before following chains.
	parent    *nodeState
	displayTo string
	inputs    []inputRef // in prompt order
	byName    []int      // indices into inputs, sorted by name (cache keys)

	key keyMemo

	// Schedule (execList): pending status, insertion order, the number of
	// unfinished nodes and external blocks this node waits on, the nodes it
	// blocks, its edge-cache rows and the nodes listening to its result.
	pending    bool
	eager      bool // counted in execList.eager while ready
	seq        uint64
	blockCount int
	blocking   []*nodeState
	rows       []edgeRow
	listeners  []*nodeState

	executed bool        // in this run's executed set
	async    *asyncBatch // calls still running or to collect on re-entry
	subgraph []subResult // expanded results to resolve on re-entry
	ui       *uiRecord   // the UI this node produced or re-sent in this run
	changed  []byte      // encoded fingerprint (is_changed), once per run
}

// inputRef is one input of a prompt node, classified once per definition.
type inputRef struct {
	name  string
	value any
	def   *node.InputDef // nil when the class does not declare it
	// link: the value is a link ([from, slot]) by ComfyUI's is_link. slotOK
	// is false for a fractional slot, which never resolves to a value.
	link   bool
	from   string
	slot   int
	slotOK bool
	// literal is the value converted by declared type, as nodes receive it.
	literal any
}

func (n *nodeState) isOutput() bool { return n.class.OutputNode }

// define sets the node's definition and classifies its inputs.
func (n *nodeState) define(def *node.PromptNode, class *node.Class) {
	n.def, n.class = def, class
	n.inputs = n.inputs[:0]
	// Dynamic inputs are declared by the node's finalized input set.
	defs := class.Finalize(def)
	for _, in := range def.Inputs {
		ref := inputRef{name: in.Name, value: in.Value}
		ref.def, _ = node.FindInput(defs, in.Name)
		if l, isLink, slotOK := node.AsLink(in.Value); isLink {
			ref.link, ref.from, ref.slot, ref.slotOK = true, l.From, l.Slot, slotOK
		}
		if ref.def != nil {
			ref.literal = literalValue(ref.def, in.Value)
			if ref.link && ref.def.RawLink {
				ref.literal = node.Link{From: ref.from, Slot: ref.slot}
			}
		}
		n.inputs = append(n.inputs, ref)
	}
	n.byName = n.byName[:0]
	for i := range n.inputs {
		n.byName = append(n.byName, i)
	}
	if len(n.byName) > 1 {
		slices.SortFunc(n.byName, func(a, b int) int { return strings.Compare(n.inputs[a].name, n.inputs[b].name) })
	}
}

// dynPrompt is ComfyUI's DynamicPrompt: the original prompt plus the
// ephemeral nodes that expansions add. The run goroutine reads it without
// locking (it is the only writer); node code reads it through Node, which
// locks, because async nodes run on their own goroutines.
type dynPrompt struct {
	mu       sync.RWMutex
	original *node.Prompt
	nodes    map[string]*nodeState
	// all lists the prompt's nodes, then ephemeral ones in the order they
	// were first defined (ComfyUI's all_node_ids, made deterministic).
	all []*nodeState
	// version changes whenever a definition that cache keys may have read
	// changes: an ephemeral id redefined, or an id defined after a key
	// computation found it missing. Memoized keys of older versions are
	// stale.
	version uint64
	missing map[string]bool
}

var _ node.DynPrompt = (*dynPrompt)(nil)

// newDynPrompt wraps the original prompt; classes are looked up in reg. A
// node whose class is not registered (which validation rejects) is
// returned, with the prompt's other nodes.
func newDynPrompt(p *node.Prompt, reg *node.Registry) (*dynPrompt, *node.PromptNode) {
	d := &dynPrompt{original: p, nodes: make(map[string]*nodeState, p.Len()), missing: map[string]bool{}}
	states := make([]nodeState, p.Len())
	d.all = make([]*nodeState, 0, p.Len())
	var bad *node.PromptNode
	for i, id := range p.IDs() {
		def, _ := p.Node(id)
		class, ok := reg.Lookup(def.ClassType)
		if !ok {
			bad = def
			continue
		}
		n := &states[i]
		n.id = id
		n.define(def, class)
		d.nodes[id] = n
		d.all = append(d.all, n)
	}
	return d, bad
}

// Node implements node.DynPrompt.
func (d *dynPrompt) Node(id string) (*node.PromptNode, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n, ok := d.nodes[id]
	if !ok {
		return nil, false
	}
	return n.def, true
}

// get returns the node with the given id, or ComfyUI's NodeNotFoundError.
func (d *dynPrompt) get(id string) (*nodeState, error) {
	if n, ok := d.nodes[id]; ok {
		return n, nil
	}
	return nil, &node.Exception{Type: "comfy_execution.graph.NodeNotFoundError", Message: fmt.Sprintf("Node %s not found", id)}
}

// lookupForKey returns the node with the given id for a cache key, and
// remembers a missing id: defining it later changes keys that read it.
func (d *dynPrompt) lookupForKey(id string) *nodeState {
	n, ok := d.nodes[id]
	if !ok {
		d.missing[id] = true
	}
	return n
}

// addEphemeral adds or, silently, redefines (as ComfyUI does since it
// dropped DuplicateNodeError) a node created by parent's expansion.
func (d *dynPrompt) addEphemeral(def *node.PromptNode, class *node.Class, parent *nodeState) *nodeState {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, exists := d.nodes[def.ID]
	if exists {
		d.version++
	} else {
		if d.missing[def.ID] {
			delete(d.missing, def.ID)
			d.version++
		}
		n = &nodeState{id: def.ID}
		d.nodes[def.ID] = n
		d.all = append(d.all, n)
	}
	n.define(def, class)
	n.parent = parent
	n.displayTo = parent.id
	if def.OverrideDisplayID != "" {
		n.displayTo = def.OverrideDisplayID
	}
	return n
}

// displayID follows display links up to a node that has none
// (get_display_node_id).
func (d *dynPrompt) displayID(n *nodeState) string {
	id := n.id
	for steps := 0; steps <= len(d.all); steps++ {
		m, ok := d.nodes[id]
		if !ok || m.parent == nil {
			return id
		}
		id = m.displayTo
	}
	return id // a display cycle: ComfyUI would loop forever
}

// realID follows parents up to a node of the original prompt.
func realID(n *nodeState) string {
	for n.parent != nil {
		n = n.parent
	}
	return n.id
}

// parentID is the immediate parent's id, or nil (JSON null).
func parentID(n *nodeState) any {
	if n.parent == nil {
		return nil
	}
	return n.parent.id
}
