package graph

import (
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Error is one of ComfyUI's error objects: the "error" of a POST /prompt
// rejection, or one entry of a node's "errors". It marshals (with pyjson) as
// {"type", "message", "details", "extra_info"}, in that order.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Details string `json:"details"`
	// ExtraInfo is written as {} when nil.
	ExtraInfo pyjson.Object `json:"extra_info"`
}

// NodeError is one node's entry in node_errors: {"errors",
// "dependent_outputs", "class_type"}.
type NodeError struct {
	// NodeID is the key of the entry in NodeErrors; it is not marshalled.
	NodeID string  `json:"-"`
	Errors []Error `json:"errors"`
	// DependentOutputs are the output ids whose failure listed this node.
	DependentOutputs []string `json:"dependent_outputs"`
	ClassType        string   `json:"class_type"`
}

// NodeErrors is node_errors: a JSON object keyed by node id, in ComfyUI's
// order (the order in which validation first recorded each node). A nil
// NodeErrors marshals as {}.
type NodeErrors []NodeError

// MarshalJSON writes the object keyed by NodeID.
func (ne NodeErrors) MarshalJSON() ([]byte, error) {
	o := make(pyjson.Object, len(ne))
	for i, e := range ne {
		o[i] = pyjson.Field{Key: e.NodeID, Value: e}
	}
	return o.MarshalJSON()
}

// Get returns the entry of the node with the given id.
func (ne NodeErrors) Get(id string) (NodeError, bool) {
	for _, e := range ne {
		if e.NodeID == id {
			return e, true
		}
	}
	return NodeError{}, false
}

// The constructors below hold ComfyUI's texts (Hyrum's law: clients match
// them). ExtraInfo keys are in ComfyUI's order.

func missingClassType(id, title string) *Error {
	shown := title
	if shown == "" {
		shown = "ID #" + id
	}
	return &Error{
		Type:    "missing_node_type",
		Message: "Node '" + shown + "' has no class_type. The workflow may be corrupted or a custom node is missing.",
		Details: "Node ID '#" + id + "'",
		ExtraInfo: pyjson.Object{
			{Key: "node_id", Value: id}, {Key: "class_type", Value: nil}, {Key: "node_title", Value: nullIfEmpty(title)},
		},
	}
}

func unknownClass(id, classType, title string) *Error {
	if title == "" {
		title = classType
	}
	return &Error{
		Type:    "missing_node_type",
		Message: "Node '" + title + "' not found. The custom node may not be installed.",
		Details: "Node ID '#" + id + "'",
		ExtraInfo: pyjson.Object{
			{Key: "node_id", Value: id}, {Key: "class_type", Value: classType}, {Key: "node_title", Value: title},
		},
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func noOutputs() *Error {
	return &Error{Type: "prompt_no_outputs", Message: "Prompt has no outputs", ExtraInfo: pyjson.Object{}}
}

func outputsFailed(details string) *Error {
	return &Error{Type: "prompt_outputs_failed_validation", Message: "Prompt outputs failed validation",
		Details: details, ExtraInfo: pyjson.Object{}}
}

// requiredMissing reports a missing input; a class with dynamic inputs
// reports the last dotted segment of its name as details.
func requiredMissing(name string, dynamic bool) Error {
	details := name
	if dynamic {
		details = node.LastSegment(name)
	}
	return Error{Type: "required_input_missing", Message: "Required input is missing", Details: details,
		ExtraInfo: pyjson.Object{{Key: "input_name", Value: name}}}
}

func badLinkedInput(name string, config, val any) Error {
	return Error{
		Type:    "bad_linked_input",
		Message: "Bad linked input, must be a length-2 list of [node_id, slot_index]",
		Details: name,
		ExtraInfo: pyjson.Object{
			{Key: "input_name", Value: name}, {Key: "input_config", Value: config}, {Key: "received_value", Value: val},
		},
	}
}

func returnTypeMismatch(name string, config any, received, declared string, link any) Error {
	return Error{
		Type:    "return_type_mismatch",
		Message: "Return type mismatch between linked nodes",
		Details: name + ", received_type(" + received + ") mismatch input_type(" + declared + ")",
		ExtraInfo: pyjson.Object{
			{Key: "input_name", Value: name}, {Key: "input_config", Value: config},
			{Key: "received_type", Value: received}, {Key: "linked_node", Value: link},
		},
	}
}

func invalidInputType(name, typ string, config, val any, exc *pyErr) Error {
	return Error{
		Type:    "invalid_input_type",
		Message: "Failed to convert an input value to a " + typ + " value",
		Details: name + ", " + pyStr(val) + ", " + exc.msg,
		ExtraInfo: pyjson.Object{
			{Key: "input_name", Value: name}, {Key: "input_config", Value: config},
			{Key: "received_value", Value: val}, {Key: "exception_message", Value: exc.msg},
		},
	}
}

// outOfRange is value_smaller_than_min (below) or value_bigger_than_max.
func outOfRange(below bool, name string, config, val any, shown, bound string) Error {
	typ, msg := "value_bigger_than_max", "Value "+shown+" bigger than max of "+bound
	if below {
		typ, msg = "value_smaller_than_min", "Value "+shown+" smaller than min of "+bound
	}
	return Error{
		Type: typ, Message: msg, Details: name,
		ExtraInfo: pyjson.Object{
			{Key: "input_name", Value: name}, {Key: "input_config", Value: config}, {Key: "received_value", Value: val},
		},
	}
}

func valueNotInList(name, details string, config, val any) Error {
	return Error{
		Type: "value_not_in_list", Message: "Value not in list", Details: name + ": " + details,
		ExtraInfo: pyjson.Object{
			{Key: "input_name", Value: name}, {Key: "input_config", Value: config}, {Key: "received_value", Value: val},
		},
	}
}

func customFailed(name, reason string) Error {
	details := name
	if reason != "" {
		details += " - " + reason
	}
	return Error{Type: "custom_validation_failed", Message: "Custom validation failed for node", Details: details,
		ExtraInfo: pyjson.Object{{Key: "input_name", Value: name}}}
}

func dependencyCycle(id, path string, cycleNodes []string) Error {
	return Error{
		Type: "dependency_cycle", Message: "Dependency cycle detected", Details: path,
		ExtraInfo: pyjson.Object{{Key: "node_id", Value: id}, {Key: "cycle_nodes", Value: cycleNodes}},
	}
}

// noTraceback stands for Python's traceback.format_tb: Go has no Python
// frames to show, so the list is empty.
var noTraceback = []string{}

func exceptionDuringValidation(exc *pyErr) Error {
	return Error{
		Type: "exception_during_validation", Message: "Exception when validating node", Details: exc.msg,
		ExtraInfo: pyjson.Object{{Key: "exception_type", Value: exc.typ}, {Key: "traceback", Value: noTraceback}},
	}
}

func exceptionDuringInnerValidation(name string, config any, exc *pyErr, link any) Error {
	return Error{
		Type: "exception_during_inner_validation", Message: "Exception when validating inner node", Details: exc.msg,
		ExtraInfo: pyjson.Object{
			{Key: "input_name", Value: name}, {Key: "input_config", Value: config},
			{Key: "exception_message", Value: exc.msg}, {Key: "exception_type", Value: exc.typ},
			{Key: "traceback", Value: noTraceback}, {Key: "linked_node", Value: link},
		},
	}
}
