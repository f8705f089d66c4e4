// Package graph validates API-format prompts as ComfyUI's validate_prompt
// and validate_inputs do (execution.py, v0.27.0), answering with the same
// error objects byte for byte once marshalled with pyjson.
//
// Validation first checks every node's class in prompt order
// (missing_node_type) and selects the outputs (prompt_no_outputs). It then
// walks the graph depth first from each output, through declared inputs
// only, sharing one memo across outputs, and checks each reached node's
// inputs: links by type, literals by conversion, bounds and options, then
// the class's custom validator. The walk is iterative, so chains of any
// length validate without deep Go recursion, and it reports static cycles
// (dependency_cycle).
//
// Where ComfyUI iterates a Python set, this package uses a fixed order:
// outputs in prompt order, a node's inputs in declaration order (required,
// then optional). Validation writes converted and unwrapped literals back
// into the prompt, as ComfyUI does; the executor and the history see them.
// Inputs declared INT hold a json.Number with the integer's decimal text
// (any size); FLOAT a json.Number in Python's repr form, or a pyjson.Float
// for NaN and infinities; STRING a string; BOOLEAN a bool; inputs of other
// types keep their (unwrapped) value.
//
// Exception texts (invalid_input_type, exception_during_validation) are
// those of CPython 3.11/3.12: int() and float() on strings, including
// Unicode digits and underscores, KeyError and IndexError on bad links.
//
// Mirrored quirks, on purpose:
//   - a validator's failure gives one custom_validation_failed per input it
//     takes (and one for "input_types" when it takes link types);
//   - after each failed output, every node already recorded with errors
//     gets that output in dependent_outputs, related to it or not;
//   - a link's slot may be negative, indexing the outputs from the end as a
//     Python tuple does, and true/false count as slots 1 and 0;
//   - prompt_outputs_failed_validation's details list only the outputs'
//     own errors.
//
// Known differences: tracebacks are empty lists; a dict printed in a
// message has its keys sorted (the decoded prompt does not keep their
// order); FLOAT values that are NaN or infinite are written back as
// pyjson.Float (null in JSON; Python would write the invalid tokens NaN and
// Infinity); a class_type that is not a string counts as missing, and a
// node without "inputs" as one with no inputs, because node.Prompt does not
// keep them apart.
package graph

import (
	"context"
	"sort"
	"strings"

	"github.com/gocomfy/gocomfy/node"
)

// Result is the outcome of Validate.
type Result struct {
	// Error is the whole-prompt error of a 400 answer; nil when the prompt
	// is accepted (some outputs may still have failed, see NodeErrors).
	Error *Error
	// Outputs are the outputs that passed validation, in prompt order: the
	// only ones to execute.
	Outputs []string
	// NodeErrors lists the nodes whose errors made an output fail.
	NodeErrors NodeErrors
}

// Validate validates prompt p against the classes of reg. partialTargets is
// partial_execution_targets: nil makes every output node a target; otherwise
// only output nodes listed are (other ids are ignored, and an empty list
// leaves no outputs). Validate converts literal inputs in place (see the
// package documentation); clone p first to keep the original. A panic in
// node code that validation calls (a custom validator, a dynamic option
// list) is reported as an exception raised by that node, never a crash.
func Validate(ctx context.Context, reg *node.Registry, p *node.Prompt, partialTargets []string) Result {
	v := &validator{
		ctx:     ctx,
		nodes:   make(map[string]*vnode, p.Len()),
		classes: map[*node.Class]*classInfo{},
		rt:      &node.Runtime{Prompt: node.NewPrompt()},
	}
	outputs, err := v.scan(reg, p, partialTargets)
	if err != nil {
		return Result{Error: err}
	}
	var good []string
	var failed []failure
	for pos, o := range outputs {
		v.pos = pos
		if ok, reasons := v.validateOutput(o); ok {
			good = append(good, o.id)
		} else {
			failed = append(failed, failure{o.id, pos, reasons})
		}
	}
	res := Result{Outputs: good, NodeErrors: v.nodeErrors(failed)}
	if len(good) == 0 {
		lines := []string{}
		for _, f := range failed {
			for _, e := range f.reasons {
				lines = append(lines, e.Message+": "+e.Details)
			}
		}
		res.Error = outputsFailed(strings.Join(lines, "\n"))
	}
	return res
}

// validator is the state of one Validate call.
type validator struct {
	ctx     context.Context
	nodes   map[string]*vnode
	classes map[*node.Class]*classInfo
	// rt is what custom validators see: ComfyUI passes PROMPT as {}.
	rt *node.Runtime
	// recorded lists the nodes in the order they entered the memo (the
	// insertion order of ComfyUI's validated dict).
	recorded []*vnode
	// pos is the position of the output being validated.
	pos   int
	stack []frame
}

// vnode is one prompt node with its class and its validation state.
type vnode struct {
	id    string
	pn    *node.PromptNode
	class *classInfo
	// inputs are the validated inputs: the class's, or for a class with
	// dynamic inputs the node's finalized set (node.Class.Finalize).
	inputs []*node.InputDef
	// memo is the node's result once recorded (ComfyUI's validated[id]).
	memo    entry
	hasMemo bool
	// stackAt is the node's index on the walk's stack plus one; 0 when it
	// is not on the stack.
	stackAt int
}

// entry is a memo result.
type entry struct {
	ok     bool
	errors []Error
	// pos is the position of the output whose walk first recorded the node.
	pos int
}

// failure is an output that failed, with its own reasons.
type failure struct {
	id      string
	pos     int
	reasons []Error
}

// scan is the prompt-level pass: every node must name a registered class;
// it returns the target outputs in prompt order.
func (v *validator) scan(reg *node.Registry, p *node.Prompt, targets []string) ([]*vnode, *Error) {
	var wanted map[string]bool
	if targets != nil {
		wanted = make(map[string]bool, len(targets))
		for _, id := range targets {
			wanted[id] = true
		}
	}
	var outputs []*vnode
	for _, id := range p.IDs() {
		pn, _ := p.Node(id)
		if !pn.HasClassType {
			return nil, missingClassType(id, pn.Title)
		}
		c, ok := reg.Lookup(pn.ClassType)
		if !ok {
			return nil, unknownClass(id, pn.ClassType, pn.Title)
		}
		n := &vnode{id: id, pn: pn, class: v.classInfo(c)}
		n.inputs = n.class.inputs
		if c.Dynamic() {
			n.inputs = validated(c.Finalize(pn))
		}
		v.nodes[id] = n
		if c.OutputNode && (wanted == nil || wanted[id]) {
			outputs = append(outputs, n)
		}
	}
	if len(outputs) == 0 {
		return nil, noOutputs()
	}
	return outputs, nil
}

// record stores a node's result in the memo, keeping the position of its
// first insertion as a Python dict does.
func (v *validator) record(n *vnode, e entry) {
	if n.hasMemo {
		e.pos = n.memo.pos
	} else {
		e.pos = v.pos
		n.hasMemo = true
		v.recorded = append(v.recorded, n)
	}
	n.memo = e
}

// nodeErrors builds node_errors. ComfyUI walks its whole memo after each
// failed output and appends that output to every node recorded with
// errors. A node's result never changes once the walk that recorded it
// ends, so the outputs appended to a node are exactly the failed outputs
// from the one whose walk recorded it on; one pass over the memo gives the
// same entries in the same order.
func (v *validator) nodeErrors(failed []failure) NodeErrors {
	if len(failed) == 0 {
		return nil
	}
	ids := make([]string, len(failed))
	for i, f := range failed {
		ids[i] = f.id
	}
	var out NodeErrors
	for _, n := range v.recorded {
		if n.memo.ok || len(n.memo.errors) == 0 {
			continue
		}
		j := sort.Search(len(failed), func(i int) bool { return failed[i].pos >= n.memo.pos })
		if j == len(failed) {
			continue
		}
		out = append(out, NodeError{NodeID: n.id, Errors: n.memo.errors,
			DependentOutputs: ids[j:len(ids):len(ids)], ClassType: n.pn.ClassType})
	}
	return out
}
