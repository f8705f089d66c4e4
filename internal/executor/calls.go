package executor

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// inputData is ComfyUI's input_data_all: every input a list of per-item
// values, in prompt order then hidden inputs; missing marks links whose
// value is not there (lazy inputs not requested yet), which hold [nil].
type inputData struct {
	names   []string
	lists   [][]any
	missing []bool
}

// add appends an input (prompt inputs have distinct names).
func (d *inputData) add(name string, list []any, missing bool) {
	d.names = append(d.names, name)
	d.lists = append(d.lists, list)
	d.missing = append(d.missing, missing)
}

// set replaces an input's value or adds it (a hidden input may reuse the
// name of a prompt input, and then wins).
func (d *inputData) set(name string, list []any) {
	for i, n := range d.names {
		if n == name {
			d.lists[i], d.missing[i] = list, false
			return
		}
	}
	d.add(name, list, false)
}

// needs reports whether a lazy check's answer name still needs evaluating:
// it is not an input, or its value is missing.
func (d *inputData) needs(name string) bool {
	for i, n := range d.names {
		if n == name {
			return d.missing[i]
		}
	}
	return true
}

// literalValue converts a prompt literal as the node receives it: INT to
// int64 (uint64 above), FLOAT to float64, anything else by node.Literal.
func literalValue(def *node.InputDef, v any) any {
	switch def.Type {
	case "FLOAT":
		switch x := v.(type) {
		case json.Number:
			if f, err := strconv.ParseFloat(string(x), 64); err == nil {
				return f
			}
		case int64:
			return float64(x)
		case uint64:
			return float64(x)
		case int:
			return float64(x)
		}
	}
	return node.Literal(v)
}

// inputData gathers the inputs of n's calls (get_input_data): linked values
// from the edge cache, declared literals, undeclared links too, and the
// hidden values of V1 classes.
func (r *run) inputData(n *nodeState) *inputData {
	d := &inputData{
		names:   make([]string, 0, len(n.inputs)),
		lists:   make([][]any, 0, len(n.inputs)),
		missing: make([]bool, 0, len(n.inputs)),
	}
	for i := range n.inputs {
		in := &n.inputs[i]
		switch {
		case in.link && (in.def == nil || !in.def.RawLink):
			var e *entry
			if from := r.dp.nodes[in.from]; from != nil {
				e = r.list.getCache(from, n)
			}
			if e == nil || !in.slotOK || in.slot < 0 || in.slot >= len(e.outputs) {
				d.add(in.name, []any{nil}, true)
			} else {
				d.add(in.name, e.outputs[in.slot], false)
			}
		case in.def != nil:
			d.add(in.name, []any{in.literal}, false)
		}
	}
	r.addHidden(d, n)
	return d
}

// literalData is what fingerprints see: declared literals only (links are
// absent) and the hidden values.
func (r *run) literalData(n *nodeState) *inputData {
	d := &inputData{}
	for i := range n.inputs {
		if in := &n.inputs[i]; in.def != nil && (!in.link || in.def.RawLink) {
			d.add(in.name, []any{in.literal}, false)
		}
	}
	r.addHidden(d, n)
	return d
}

// hiddenExtraKeys are the hidden kinds read from extra_data (the keys are
// the lower-cased kinds).
var hiddenExtraKeys = map[node.HiddenKind]string{
	"AUTH_TOKEN_COMFY_ORG": "auth_token_comfy_org",
	"API_KEY_COMFY_ORG":    "api_key_comfy_org",
	"COMFY_USAGE_SOURCE":   "comfy_usage_source",
}

// addHidden adds the hidden inputs a V1 class declares (V3 classes get
// them outside their arguments, so they are not in current_inputs either).
func (r *run) addHidden(d *inputData, n *nodeState) {
	if n.class.Format != node.V1 {
		return
	}
	for _, def := range n.class.Inputs() {
		if def.Section != node.Hidden {
			continue
		}
		var v any
		switch def.Hidden {
		case node.HiddenPrompt:
			v = r.job.Prompt
		case node.HiddenDynPrompt:
			v = node.DynPrompt(r.dp)
		case node.HiddenExtraPNGInfo:
			if r.rt.ExtraPNGInfo != nil {
				v = r.rt.ExtraPNGInfo
			}
		case node.HiddenUniqueID:
			v = n.id
		default:
			key, ok := hiddenExtraKeys[def.Hidden]
			if !ok {
				continue
			}
			if raw, ok := r.extra.Get(key); ok {
				v = raw
			}
		}
		d.set(def.Name, []any{v})
	}
}

// errIndex is Python's IndexError from indexing an empty list: an input
// list is empty while another is not.
var errIndex = node.Raise("IndexError", "list index out of range")

// forEachCall calls fn once per call of class over d's lists
// (_async_map_node_over_list): INPUT_IS_LIST classes once with the whole
// lists; others once per item of the longest list, shorter lists repeating
// their last item; a node with no inputs (or only empty lists) once with no
// arguments. blk is the first blocker among the call's arguments.
func forEachCall(class *node.Class, d *inputData, fn func(i int, values map[string]any, blk *node.Blocker) error) error {
	if class.InputIsList {
		values := make(map[string]any, len(d.names))
		var blk *node.Blocker
		for j, name := range d.names {
			values[name] = d.lists[j]
			for _, v := range d.lists[j] {
				if b, ok := v.(*node.Blocker); ok && blk == nil {
					blk = b
				}
			}
		}
		return fn(0, values, blk)
	}
	maxLen := 0
	for _, l := range d.lists {
		maxLen = max(maxLen, len(l))
	}
	if maxLen == 0 {
		return fn(0, map[string]any{}, nil)
	}
	for _, l := range d.lists {
		if len(l) == 0 {
			return errIndex
		}
	}
	for i := range maxLen {
		values := make(map[string]any, len(d.names))
		var blk *node.Blocker
		for j, name := range d.names {
			l := d.lists[j]
			v := l[min(i, len(l)-1)]
			values[name] = v
			if b, ok := v.(*node.Blocker); ok && blk == nil {
				blk = b
			}
		}
		if err := fn(i, values, blk); err != nil {
			return err
		}
	}
	return nil
}

// callReturn is what one call of a node's function returned: a blocker
// that skipped it, or the call's result (or error, for async calls).
type callReturn struct {
	blocker *node.Blocker
	call    *node.Call
	err     error
	trace   []string
}

// errInterrupted stops the calls of a node when the prompt is interrupted.
var errInterrupted = errors.New("interrupted")

// callError is a node function's failure.
type callError struct {
	err   error
	trace []string
}

func (e *callError) Error() string { return e.err.Error() }

// runCalls calls n's function over its inputs. Sync calls run here, on the
// run goroutine; the calls of an async class are returned unstarted, for
// startAsync.
func (r *run) runCalls(n *nodeState, d *inputData) ([]callReturn, error) {
	var rets []callReturn
	err := forEachCall(n.class, d, func(i int, values map[string]any, blk *node.Blocker) error {
		if r.ctx.Err() != nil {
			return errInterrupted
		}
		if blk != nil {
			rets = append(rets, callReturn{blocker: r.blocked(n, blk)})
			return nil
		}
		c := node.NewCall(r.rt, n.id, i, values)
		if n.class.Async {
			rets = append(rets, callReturn{call: c})
			return nil
		}
		if trace, err := invoke(func() error { return n.class.Run(r.runCtx, c) }); err != nil {
			return &callError{err, trace}
		}
		rets = append(rets, callReturn{call: c})
		return nil
	})
	return rets, err
}

// blocked is ComfyUI's execution_block_cb for a call skipped by blk: a
// blocker with a message is reported, as an execution_error the history
// does not record, and goes on as a silent one.
func (r *run) blocked(n *nodeState, blk *node.Blocker) *node.Blocker {
	if blk.Message == "" {
		return blk
	}
	r.send("execution_error", pyjson.Object{
		{Key: "prompt_id", Value: r.job.PromptID},
		{Key: "node_id", Value: n.id},
		{Key: "node_type", Value: n.def.ClassType},
		{Key: "executed", Value: r.executedIDs()},
		{Key: "exception_message", Value: "Execution Blocked: " + blk.Message},
		{Key: "exception_type", Value: "ExecutionBlocked"},
		{Key: "traceback", Value: []any{}},
		{Key: "current_inputs", Value: []any{}},
		{Key: "current_outputs", Value: []any{}},
	})
	return &node.Blocker{}
}

// asyncBatch is an async node's calls in flight (pending_async_nodes).
type asyncBatch struct {
	node      *nodeState
	rets      []callReturn
	remaining atomic.Int32
	unblock   func()
}

// startAsync starts the unfinished calls of an async node, each on its own
// goroutine, and blocks the node until they all return.
func (r *run) startAsync(n *nodeState, rets []callReturn) {
	b := &asyncBatch{node: n, rets: rets}
	var calls []int
	for i := range rets {
		if rets[i].call != nil {
			calls = append(calls, i)
		}
	}
	b.remaining.Store(int32(len(calls)))
	b.unblock = r.list.addExternalBlock(n)
	n.async = b
	r.inFlight = append(r.inFlight, n)
	for _, i := range calls {
		ret := &b.rets[i]
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			ret.trace, ret.err = invoke(func() error { return n.class.Run(r.runCtx, ret.call) })
			if b.remaining.Add(-1) == 0 {
				r.asyncMu.Lock()
				r.asyncDone = append(r.asyncDone, b)
				r.asyncMu.Unlock()
				select {
				case r.asyncWake <- struct{}{}:
				default:
				}
			}
		}()
	}
}

// stepOutput is get_output_from_returns: merged outputs and UI, or the
// per-call results of an expansion.
type stepOutput struct {
	outputs  [][]any
	ui       pyjson.Object
	subgraph []subResult
}

// subResult is one call's (graph, result) for an expanding node; graph is
// nil for calls that did not expand.
type subResult struct {
	graph *node.Prompt
	tuple []any
}

// outputFromReturns turns the calls' returns into the node's outputs: a
// blocker fills every slot, a call that only set UI contributes no result,
// and any expansion makes the whole node an expansion.
func outputFromReturns(class *node.Class, rets []callReturn) stepOutput {
	var tuples [][]any
	var subs []subResult
	var uis []pyjson.Object
	expanded := false
	for _, ret := range rets {
		if ret.blocker != nil {
			t := blockTuple(class, ret.blocker)
			tuples = append(tuples, t)
			subs = append(subs, subResult{tuple: t})
			continue
		}
		res := ret.call.Result()
		if res.UI != nil {
			uis = append(uis, res.UI)
		}
		switch {
		case res.Expansion != nil:
			expanded = true
			subs = append(subs, subResult{graph: res.Expansion, tuple: resultTuple(class, res.Outputs)})
		case res.HasResult:
			t := resultTuple(class, res.Outputs)
			tuples = append(tuples, t)
			subs = append(subs, subResult{tuple: t})
		}
	}
	out := stepOutput{ui: mergeUI(uis)}
	switch {
	case expanded:
		out.subgraph = subs
	case len(tuples) > 0:
		out.outputs = merge(class, tuples)
	default:
		out.outputs = [][]any{}
	}
	return out
}

// resultTuple is a call's result tuple: one value per output (a single
// blocker blocks them all).
func resultTuple(class *node.Class, outputs []any) []any {
	if len(outputs) == 1 {
		if b, ok := outputs[0].(*node.Blocker); ok {
			return blockTuple(class, b)
		}
	}
	t := make([]any, max(len(outputs), len(class.Outputs())))
	copy(t, outputs)
	return t
}

func blockTuple(class *node.Class, b *node.Blocker) []any {
	t := make([]any, len(class.Outputs()))
	for i := range t {
		t[i] = b
	}
	return t
}

// merge is merge_result_data: a list output concatenates the calls' lists
// (a blocker counts as one item); any other output lists one value per call.
// The first call's tuple decides the number of outputs.
func merge(class *node.Class, tuples [][]any) [][]any {
	defs := class.Outputs()
	out := make([][]any, len(tuples[0]))
	for k := range out {
		isList := k < len(defs) && defs[k].IsList
		var values []any
		for _, t := range tuples {
			var v any
			if k < len(t) {
				v = t[k]
			}
			if list, ok := v.([]any); ok && isList {
				values = append(values, list...)
			} else {
				values = append(values, v)
			}
		}
		out[k] = values
	}
	return out
}

// mergeUI concatenates the calls' UI lists, for the keys of the first
// call that set UI.
func mergeUI(uis []pyjson.Object) pyjson.Object {
	if len(uis) == 0 {
		return nil
	}
	out := make(pyjson.Object, 0, len(uis[0]))
	for _, f := range uis[0] {
		list := []any{}
		for _, ui := range uis {
			v, _ := ui.Get(f.Key)
			if l, ok := v.([]any); ok {
				list = append(list, l...)
			} else if v != nil {
				list = append(list, v)
			}
		}
		out = append(out, pyjson.Field{Key: f.Key, Value: list})
	}
	return out
}
