package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"strconv"

	"github.com/gocomfy/gocomfy/pyjson"
)

// Runtime is what calls of one prompt can reach beyond their inputs. The
// executor fills it once per prompt; node code reads it through Call.
type Runtime struct {
	PromptID string
	// Prompt is the original prompt (the hidden PROMPT value).
	Prompt *Prompt
	// DynPrompt is the prompt plus the nodes expansions added (DYNPROMPT).
	DynPrompt DynPrompt
	// ExtraPNGInfo is extra_data.extra_pnginfo as sent (nil when absent).
	ExtraPNGInfo json.RawMessage
	// DisableMetadata is --disable-metadata: save nodes write no prompt or
	// workflow into files.
	DisableMetadata bool
	Folders         Folders
	// Progress reports progress of node nodeID; nil to discard.
	Progress func(nodeID string, value, max float64)
	// Preview shows an intermediate image of node nodeID (a sampler's
	// latest step); nil to discard.
	Preview func(nodeID string, img image.Image)
}

// Folders are the server's file areas, opened as roots so that node inputs
// cannot name a file outside them.
type Folders struct {
	Input, Output, Temp *os.Root
}

// DynPrompt gives flow-control nodes read access to the running graph,
// including nodes added by expansion.
type DynPrompt interface {
	Node(id string) (*PromptNode, bool)
}

// A Call is one execution of a class on resolved, validated inputs.
type Call struct {
	rt     *Runtime
	nodeID string
	index  int
	values map[string]any

	outputs   []any
	hasResult bool
	ui        pyjson.Object
	expansion *Prompt
	graphs    int // GraphBuilders made by this call, for their id prefixes
	types     map[string]string
}

// NewCall prepares call number index (in list mapping) of node nodeID with
// the given input values. The executor and node tests use it.
func NewCall(rt *Runtime, nodeID string, index int, values map[string]any) *Call {
	if rt == nil {
		rt = &Runtime{}
	}
	return &Call{rt: rt, nodeID: nodeID, index: index, values: values}
}

// Input returns the raw value of an input, declared or not (ComfyUI passes
// linked inputs a class does not declare, which variadic nodes rely on).
func (c *Call) Input(name string) (any, bool) {
	v, ok := c.values[name]
	return v, ok
}

// InputNames returns the names of the inputs that have values in this call.
func (c *Call) InputNames() []string {
	names := make([]string, 0, len(c.values))
	for k := range c.values {
		names = append(names, k)
	}
	return names
}

// SetInputTypes records the types of linked inputs for a validator that
// takes them (ValidateOptions.InputTypes).
func (c *Call) SetInputTypes(types map[string]string) { c.types = types }

// InputType returns the type of the output linked to the named input, for a
// validator declared with ValidateOptions.InputTypes.
func (c *Call) InputType(name string) (string, bool) {
	t, ok := c.types[name]
	return t, ok
}

// UniqueID returns the id of the executing node (hidden UNIQUE_ID).
func (c *Call) UniqueID() string { return c.nodeID }

// Index returns the call's position when the node is mapped over a list.
func (c *Call) Index() int { return c.index }

// PromptID returns the id of the running prompt.
func (c *Call) PromptID() string { return c.rt.PromptID }

// Prompt returns the original prompt (hidden PROMPT).
func (c *Call) Prompt() *Prompt { return c.rt.Prompt }

// DynPrompt returns the running graph (hidden DYNPROMPT).
func (c *Call) DynPrompt() DynPrompt { return c.rt.DynPrompt }

// ExtraPNGInfo returns extra_data.extra_pnginfo as the client sent it.
func (c *Call) ExtraPNGInfo() json.RawMessage { return c.rt.ExtraPNGInfo }

// MetadataDisabled reports --disable-metadata.
func (c *Call) MetadataDisabled() bool { return c.rt.DisableMetadata }

// Folders returns the server's input, output and temp folders.
func (c *Call) Folders() Folders { return c.rt.Folders }

// Progress reports that value of max units of work are done.
func (c *Call) Progress(value, max float64) {
	if c.rt.Progress != nil {
		c.rt.Progress(c.nodeID, value, max)
	}
}

// Preview sends img to the client as a preview of this node's work (a
// binary WebSocket frame, shrunk to fit 512 pixels). Previews may be
// dropped for a client that is behind; they are never stored.
func (c *Call) Preview(img image.Image) {
	if c.rt.Preview != nil {
		c.rt.Preview(c.nodeID, img)
	}
}

// SetOutput sets output slot i for this call to v: a value of the slot's
// type, a []any for a list output, a Link into this call's expansion, or a
// *Blocker.
func (c *Call) SetOutput(i int, v any) {
	for len(c.outputs) <= i {
		c.outputs = append(c.outputs, nil)
	}
	c.outputs[i] = v
	c.hasResult = true
}

// Block makes every output of this call an ExecutionBlocker: downstream
// calls that receive it are skipped. A non-empty message is reported to the
// client as an execution_error; an empty one blocks silently.
func (c *Call) Block(message string) {
	c.blocked(&Blocker{Message: message})
}

func (c *Call) blocked(b *Blocker) {
	c.outputs = nil
	c.hasResult = true
	c.outputs = append(c.outputs, b)
}

// UI appends values to the node's UI output under key ("images", "text",
// ...): what the executed event and the history carry.
func (c *Call) UI(key string, values ...any) {
	prev, _ := c.ui.Get(key)
	list, _ := prev.([]any)
	if list == nil {
		list = []any{} // UI(key) with no values is an empty list, not null
	}
	c.ui.Set(key, append(list, values...))
}

// NewGraph returns a GraphBuilder whose node ids are unique to this call
// and stable across runs ("<node>.<call>.<graph>.<id>"), so caching works
// for expanded nodes.
func (c *Call) NewGraph() *GraphBuilder {
	g := &GraphBuilder{prefix: fmt.Sprintf("%s.%d.%d.", c.nodeID, c.index, c.graphs), prompt: NewPrompt()}
	c.graphs++
	return g
}

// Expand replaces this node by a subgraph: the nodes of g run, and the
// outputs set with Out.SetLink take the values of the linked nodes.
func (c *Call) Expand(g *GraphBuilder) {
	c.expansion = g.prompt
	c.hasResult = true
}

// Result is what one call produced.
type Result struct {
	// Outputs has one value per output slot (nil when the call set none of
	// them, like a ComfyUI node that returns only "ui"). A single *Blocker
	// element blocks every slot.
	Outputs []any
	// HasResult is false when the call set no output at all.
	HasResult bool
	UI        pyjson.Object
	Expansion *Prompt
}

// Result returns what the call produced.
func (c *Call) Result() Result {
	return Result{Outputs: c.outputs, HasResult: c.hasResult, UI: c.ui, Expansion: c.expansion}
}

// Blocker is ComfyUI's ExecutionBlocker: a value that stops the calls it
// reaches. A non-empty Message is reported once as an execution_error.
type Blocker struct{ Message string }

// Exception is an error with a Python exception type name, reported as
// exception_type in execution_error (errors of other types are reported as
// "RuntimeError"). Node code returns it to match ComfyUI's messages.
type Exception struct {
	Type    string // "ValueError", "RuntimeError", ...
	Message string
}

func (e *Exception) Error() string { return e.Message }

// Raise returns an Exception of the given Python type.
func Raise(typ, format string, args ...any) error {
	return &Exception{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// ExceptionType returns the Python exception type name reported for err.
func ExceptionType(err error) string {
	var e *Exception
	if errors.As(err, &e) {
		return e.Type
	}
	return "RuntimeError"
}

// GraphBuilder builds the subgraph a node expands into (ComfyUI's
// comfy_execution.graph_utils.GraphBuilder).
type GraphBuilder struct {
	prefix string
	prompt *Prompt
	next   int
}

// Node returns the node with the given id (relative to the builder), adding
// it with classType if it does not exist. An empty id allocates "1", "2", ...
func (g *GraphBuilder) Node(classType, id string) *GraphNode {
	if id == "" {
		g.next++
		id = strconv.Itoa(g.next)
	}
	full := g.prefix + id
	if n, ok := g.prompt.Node(full); ok {
		return &GraphNode{n}
	}
	n := &PromptNode{ID: full, ClassType: classType, HasClassType: true}
	g.prompt.Set(n)
	return &GraphNode{n}
}

// Lookup returns the node with the given id (relative to the builder).
func (g *GraphBuilder) Lookup(id string) (*GraphNode, bool) {
	n, ok := g.prompt.Node(g.prefix + id)
	if !ok {
		return nil, false
	}
	return &GraphNode{n}, true
}

// GraphNode is one node of a GraphBuilder.
type GraphNode struct{ n *PromptNode }

// ID returns the node's full id.
func (n *GraphNode) ID() string { return n.n.ID }

// Set sets an input to a literal or a Link; nil removes it.
func (n *GraphNode) Set(name string, v any) *GraphNode {
	if l, ok := v.(Link); ok {
		v = []any{l.From, json.Number(strconv.Itoa(l.Slot))}
	}
	n.n.SetInput(name, v)
	return n
}

// Out returns a link to output slot i of the node.
func (n *GraphNode) Out(i int) Link { return Link{n.n.ID, i} }

// SetOverrideDisplayID makes the frontend show the node's progress on
// another node (loop bodies show on the original nodes).
func (n *GraphNode) SetOverrideDisplayID(id string) *GraphNode {
	n.n.OverrideDisplayID = id
	return n
}
