package graph

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// custom runs the class's custom validator (VALIDATE_INPUTS) on the top
// frame's node, as ComfyUI does: it sees literal inputs only, converted by
// declared type; linked inputs are absent, but count among the inputs it
// takes. A failure gives one custom_validation_failed per input it takes
// that the node has, plus "input_types" when it takes the link types. A
// panic of the validator is left to step.
func (v *validator) custom(f *frame) []Error {
	n := f.n
	ci := n.class
	var names []string
	values := map[string]any{}
	for _, in := range n.pn.Inputs {
		d, declared := node.FindInput(n.inputs, in.Name)
		link := isLink(in.Value) && !(declared && d.RawLink)
		// Undeclared literals are dropped; undeclared links are passed.
		if (!link && !declared) || !ci.takes(in.Name) || slices.Contains(names, in.Name) {
			continue
		}
		names = append(names, in.Name)
		if !link && d.Section != node.Hidden {
			values[in.Name] = ci.listWrap(nodeValue(in.Value))
		}
	}
	if ci.Format == node.V1 {
		// V1 passes declared hidden inputs too; the node reads their values
		// through the Call.
		for _, d := range ci.Inputs() {
			if d.Section == node.Hidden && ci.takes(d.Name) && !slices.Contains(names, d.Name) {
				names = append(names, d.Name)
			}
		}
	}
	call := node.NewCall(v.rt, n.id, 0, values)
	if ci.takesTypes() {
		call.SetInputTypes(f.received)
		names = append(names, "input_types")
	}
	err := ci.validate(v.ctx, call)
	if err == nil {
		return nil
	}
	// An empty text stands for ComfyUI's False: no reason shown.
	errs := make([]Error, len(names))
	for i, name := range names {
		errs[i] = customFailed(name, err.Error())
	}
	return errs
}

// panicError is the exception a Go panic stands for.
func panicError(r any) *pyErr {
	if err, ok := r.(error); ok {
		return &pyErr{node.ExceptionType(err), err.Error()}
	}
	return &pyErr{"RuntimeError", fmt.Sprint(r)}
}

// isLink is ComfyUI's is_link, which decides what reaches a node as a link:
// [string, number], where a bool counts as a number, unlike node.AsLink.
func isLink(v any) bool {
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return false
	}
	if _, ok := l[0].(string); !ok {
		return false
	}
	switch l[1].(type) {
	case json.Number, bool, int:
		return true
	}
	return false
}

// nodeValue is the Go value a node receives for a validated literal.
func nodeValue(v any) any {
	if f, ok := v.(pyjson.Float); ok {
		return float64(f)
	}
	return node.Literal(v)
}

// listWrap wraps a value as the one-element list an InputIsList class
// receives.
func (ci *classInfo) listWrap(v any) any {
	if ci.InputIsList {
		return []any{v}
	}
	return v
}
