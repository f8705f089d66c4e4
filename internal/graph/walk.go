package graph

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// The walk is ComfyUI's recursive validate_inputs turned into a loop over
// an explicit stack of frames. The stack is ComfyUI's `visiting` list: the
// nodes whose inputs are being checked, each waiting on the one above it.
// A Python exception inside a node's validation ends that node's frame and
// is caught by the frame below, exactly one level up, as the try/except
// around ComfyUI's recursive call does.

// classInfo is what validation needs of a class, computed once per call.
type classInfo struct {
	*node.Class
	// inputs are the validated inputs: required, then optional.
	inputs   []*node.InputDef
	validate node.ValidateFunc
	opts     node.ValidateOptions
	// configs holds each input's INPUT_TYPES tuple, built on first use.
	configs map[string]any
}

func (v *validator) classInfo(c *node.Class) *classInfo {
	if ci, ok := v.classes[c]; ok {
		return ci
	}
	ci := &classInfo{Class: c, inputs: validated(c.Inputs())}
	ci.validate, ci.opts = c.Validator()
	v.classes[c] = ci
	return ci
}

// validated returns the inputs validation checks: required, then optional.
func validated(defs []*node.InputDef) []*node.InputDef {
	var out []*node.InputDef
	for _, section := range []node.Section{node.Required, node.Optional} {
		for _, d := range defs {
			if d.Section == section {
				out = append(out, d)
			}
		}
	}
	return out
}

// config returns the input_config ComfyUI reports for d: its INPUT_TYPES
// tuple [type, options], as /object_info shows it, with {} for no options.
func (ci *classInfo) config(d *node.InputDef) any {
	if ci.configs == nil {
		ci.configs = map[string]any{}
		input, _ := ci.ObjectInfo().Get("input")
		sections, _ := input.(pyjson.Object)
		for _, section := range sections {
			entries, _ := section.Value.(pyjson.Object)
			for _, e := range entries {
				tuple, _ := e.Value.([]any)
				if len(tuple) == 1 {
					tuple = []any{tuple[0], pyjson.Object{}}
				}
				ci.configs[e.Key] = tuple
			}
		}
	}
	if c, ok := ci.configs[d.Name]; ok {
		return c
	}
	// A nested input of a dynamic one: its own [type, options].
	tuple := ci.InputTuple(d)
	if len(tuple) == 1 {
		tuple = append(tuple, pyjson.Object{})
	}
	return tuple
}

// takes reports whether the custom validator takes the named input, which
// turns off the bounds and combo checks of that input.
func (ci *classInfo) takes(name string) bool {
	return ci.validate != nil && (ci.opts.AllInputs || slices.Contains(ci.opts.Inputs, name))
}

// takesTypes reports whether the custom validator takes the link types,
// which turns off link type checking.
func (ci *classInfo) takesTypes() bool { return ci.validate != nil && ci.opts.InputTypes }

// sequence is the Python type of the class's RETURN_TYPES, as IndexError
// and TypeError texts name it.
func (ci *classInfo) sequence() string {
	if ci.Format == node.V3 {
		return "list"
	}
	return "tuple"
}

// frame is one node being validated.
type frame struct {
	n *vnode
	// next is the index in n.inputs of the next input to check.
	next  int
	valid bool // false once a linked node failed
	errs  []Error
	// received holds the types of linked inputs, for a validator that
	// takes them.
	received map[string]string
	// linkDef and linkVal are the input and link the walk follows from
	// this frame, for the error of an exception in the linked node.
	linkDef *node.InputDef
	linkVal []any
}

// validateOutput validates output o (unless an earlier output's walk did)
// and returns its result.
func (v *validator) validateOutput(o *vnode) (ok bool, reasons []Error) {
	if !o.hasMemo {
		v.walk(o)
	}
	return o.memo.ok, o.memo.errors
}

func (v *validator) walk(o *vnode) {
	v.push(o)
	for len(v.stack) > 0 {
		switch next, exc := v.step(); {
		case exc != nil:
			v.raise(exc)
		case next != nil:
			v.push(next)
		}
	}
}

// step advances the top frame: it returns the node to descend into, or
// finishes the frame. A panic in the node code it calls (a custom
// validator, a dynamic option list) is an exception raised by the node.
func (v *validator) step() (next *vnode, exc *pyErr) {
	defer func() {
		if r := recover(); r != nil {
			next, exc = nil, panicError(r)
		}
	}()
	if next, exc = v.advance(); next == nil && exc == nil {
		v.finish()
	}
	return next, exc
}

func (v *validator) push(n *vnode) {
	f := frame{n: n, valid: true}
	if n.class.takesTypes() {
		f.received = map[string]string{}
	}
	v.stack = append(v.stack, f)
	n.stackAt = len(v.stack)
}

func (v *validator) pop() frame {
	last := len(v.stack) - 1
	f := v.stack[last]
	v.stack[last] = frame{}
	v.stack = v.stack[:last]
	f.n.stackAt = 0
	return f
}

// advance checks the remaining inputs of the top frame until one links to
// a node not validated yet, which it returns; nil when the inputs are done.
func (v *validator) advance() (*vnode, *pyErr) {
	f := &v.stack[len(v.stack)-1]
	n := f.n
	for f.next < len(n.inputs) {
		d := n.inputs[f.next]
		f.next++
		i := inputIndex(n.pn, d.Name)
		if i < 0 {
			if d.Section == node.Required {
				f.errs = append(f.errs, requiredMissing(d.Name, n.class.Dynamic()))
			}
			continue
		}
		if link, ok := n.pn.Inputs[i].Value.([]any); ok {
			if next, exc := v.checkLink(f, d, link); next != nil || exc != nil {
				return next, exc
			}
			continue
		}
		if e, ok := checkLiteral(n, d, i); !ok {
			f.errs = append(f.errs, e)
		}
	}
	return nil, nil
}

func inputIndex(pn *node.PromptNode, name string) int {
	for i, in := range pn.Inputs {
		if in.Name == name {
			return i
		}
	}
	return -1
}

// checkLink checks a list value: any list is a link attempt. It returns the
// linked node when the walk must descend into it.
func (v *validator) checkLink(f *frame, d *node.InputDef, link []any) (*vnode, *pyErr) {
	ci := f.n.class
	if len(link) != 2 {
		f.errs = append(f.errs, badLinkedInput(d.Name, ci.config(d), link))
		return nil, nil
	}
	src, typ, exc := v.source(link)
	if exc != nil {
		return nil, exc
	}
	if f.received != nil {
		f.received[d.Name] = typ
	}
	if !ci.takesTypes() && !linkTypeOK(typ, d) {
		f.errs = append(f.errs, returnTypeMismatch(d.Name, ci.config(d), typ, declaredType(d), link))
		return nil, nil
	}
	switch {
	case src.hasMemo:
		if !src.memo.ok {
			f.valid = false
		}
	case src.stackAt > 0:
		v.cycle(src)
		f.valid = false
	default:
		f.linkDef, f.linkVal = d, link
		return src, nil
	}
	return nil, nil
}

// source resolves a length-2 link as ComfyUI does, prompt[link[0]] then
// RETURN_TYPES[link[1]], raising the exceptions Python would.
func (v *validator) source(link []any) (*vnode, string, *pyErr) {
	var src *vnode
	switch id := link[0].(type) {
	case string:
		src = v.nodes[id]
	case []any, map[string]any:
		return nil, "", &pyErr{"TypeError", "unhashable type: '" + pyTypeName(id) + "'"}
	}
	if src == nil {
		return nil, "", &pyErr{"KeyError", pyRepr(link[0])} // str(KeyError(k)) is repr(k)
	}
	outputs := src.class.Outputs()
	seq := src.class.sequence()
	var slot int64
	switch s := link[1].(type) {
	case bool:
		if s {
			slot = 1
		}
	case int:
		slot = int64(s)
	case json.Number:
		if !isIntText(string(s)) {
			return nil, "", &pyErr{"TypeError", seq + " indices must be integers or slices, not float"}
		}
		var err error
		if slot, err = strconv.ParseInt(string(s), 10, 64); err != nil {
			return nil, "", &pyErr{"IndexError", "cannot fit 'int' into an index-sized integer"}
		}
	default:
		return nil, "", &pyErr{"TypeError", seq + " indices must be integers or slices, not " + pyTypeName(s)}
	}
	if slot < 0 {
		slot += int64(len(outputs))
	}
	if slot < 0 || slot >= int64(len(outputs)) {
		return nil, "", &pyErr{"IndexError", seq + " index out of range"}
	}
	return src, outputs[slot].Type, nil
}

// cycle records dependency_cycle on every node of the stack from src up:
// following the link back to src closes a cycle through them.
func (v *validator) cycle(src *vnode) {
	frames := v.stack[src.stackAt-1:]
	ids := make([]string, len(frames))
	var path strings.Builder
	for i, f := range frames {
		ids[i] = f.n.id
		fmt.Fprintf(&path, "%s (%s) -> ", f.n.id, f.n.pn.ClassType)
	}
	fmt.Fprintf(&path, "%s (%s)", src.id, src.pn.ClassType)
	details := path.String()
	for _, f := range frames {
		v.record(f.n, entry{errors: []Error{dependencyCycle(f.n.id, details, ids)}})
	}
}

// finish runs the top frame's custom validator and records its result.
func (v *validator) finish() {
	f := &v.stack[len(v.stack)-1]
	n := f.n
	if n.class.validate != nil {
		f.errs = append(f.errs, v.custom(f)...)
	}
	e := entry{ok: f.valid && len(f.errs) == 0, errors: f.errs}
	if n.hasMemo {
		// A cycle through this node was found while it was on the stack.
		// ComfyUI adds the node's own errors that are not already there;
		// none can equal a dependency_cycle error.
		e.ok = e.ok && n.memo.ok
		e.errors = append(slices.Clip(n.memo.errors), f.errs...)
	}
	v.record(n, e)
	v.pop()
	if !e.ok && len(v.stack) > 0 {
		v.stack[len(v.stack)-1].valid = false
	}
}

// raise ends the top frame with exception exc. The frame below catches it
// and records exception_during_inner_validation on the raising node; an
// output with no frame below records exception_during_validation.
func (v *validator) raise(exc *pyErr) {
	f := v.pop()
	if len(v.stack) == 0 {
		v.record(f.n, entry{errors: []Error{exceptionDuringValidation(exc)}})
		return
	}
	p := &v.stack[len(v.stack)-1]
	v.record(f.n, entry{errors: []Error{
		exceptionDuringInnerValidation(p.linkDef.Name, p.n.class.config(p.linkDef), exc, p.linkVal),
	}})
	p.valid = false
}
