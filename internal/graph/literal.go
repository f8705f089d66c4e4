package graph

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// checkLiteral checks literal input i of n, declared by d, writing the
// unwrapped and converted value back into the prompt. It returns the
// input's error, if any (at most one, as ComfyUI stops at the first).
func checkLiteral(n *vnode, d *node.InputDef, i int) (Error, bool) {
	ci := n.class
	in := &n.pn.Inputs[i]
	val := in.Value
	// {"__value__": v} is how a list is sent as a literal.
	if m, ok := val.(map[string]any); ok {
		if inner, ok := m["__value__"]; ok {
			val = inner
			in.Value = val
		}
	}
	conv, exc := coerce(d.Type, val)
	if exc != nil {
		return invalidInputType(d.Name, d.Type, ci.config(d), val, exc), false
	}
	val = conv
	in.Value = val
	if ci.takes(d.Name) {
		return Error{}, true
	}
	if e, ok := checkBounds(ci, d, val); !ok {
		return e, false
	}
	if d.IsCombo() {
		return checkCombo(ci, d, val)
	}
	return Error{}, true
}

// coerce converts a literal as ComfyUI does for the four widget types it
// knows (int(), float(), str(), bool()); other types keep their value.
func coerce(typ string, val any) (any, *pyErr) {
	switch typ {
	case "INT":
		n, exc := pyInt(val)
		if exc != nil {
			return nil, exc
		}
		return json.Number(n.String()), nil
	case "FLOAT":
		f, exc := pyFloat(val)
		if exc != nil {
			return nil, exc
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return pyjson.Float(f), nil // no JSON number for them
		}
		return json.Number(pyjson.FormatFloat(f)), nil
	case "STRING":
		return pyStr(val), nil
	case "BOOLEAN":
		return pyTruth(val), nil
	}
	return val, nil
}

// checkBounds applies the input's min and max, comparing exactly (INT
// bounds reach 2^64-1). A value that is not a number is not compared.
func checkBounds(ci *classInfo, d *node.InputDef, val any) (Error, bool) {
	num, ok := numOf(val)
	if !ok {
		return Error{}, true
	}
	if compareBound(num, d.Min) < 0 {
		return outOfRange(true, d.Name, ci.config(d), val, pyStr(val), string(d.Min)), false
	}
	if compareBound(num, d.Max) > 0 {
		return outOfRange(false, d.Name, ci.config(d), val, pyStr(val), string(d.Max)), false
	}
	return Error{}, true
}

// compareBound compares num with a bound; 0 when there is no bound or when
// a NaN makes Python's < and > false.
func compareBound(num pyNum, bound json.Number) int {
	if bound == "" {
		return 0
	}
	limit, ok := numOf(bound)
	if !ok {
		return 0
	}
	c, _ := num.compare(limit)
	return c
}

// checkCombo checks a combo value, or each element of a multiselect list,
// against the options with Python's ==.
func checkCombo(ci *classInfo, d *node.InputDef, val any) (Error, bool) {
	options := d.Choices()
	in := func(v any) bool { return slices.ContainsFunc(options, func(o any) bool { return pyEqual(v, o) }) }
	var invalid []string
	if list, ok := val.([]any); ok && d.Multiselect {
		for _, e := range list {
			if !in(e) {
				invalid = append(invalid, pyRepr(e))
			}
		}
	} else if !in(val) {
		invalid = []string{pyRepr(val)}
	}
	if len(invalid) == 0 {
		return Error{}, true
	}
	// ComfyUI does not send back long lists (model file names).
	config, list := ci.config(d), pyRepr(options)
	if len(options) > 20 {
		config, list = nil, "(list of length "+strconv.Itoa(len(options))+")"
	}
	return valueNotInList(d.Name, strings.Join(invalid, ", ")+" not in "+list, config, val), false
}
