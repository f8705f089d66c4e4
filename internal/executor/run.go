package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// run is the execution of one prompt (ComfyUI's execute_async and the
// state it threads through execute()).
type run struct {
	e   *Executor
	job Job
	// ctx is the job's context: its end is an interrupt. runCtx is what
	// nodes get; it also ends when the run does, stopping async calls a
	// failure left running.
	ctx    context.Context
	runCtx context.Context
	cancel context.CancelFunc
	sink   Sink
	log    *slog.Logger

	rt    *node.Runtime
	extra pyjson.Object // extra_data's members, undecoded
	dp    *dynPrompt
	cache outputCache
	keys  *keyer
	list  *execList

	executed       []string     // ids that ran, in the order they did
	uiNodes        []*nodeState // nodes with a UI record, in first-record order
	currentOutputs []string
	setupErr       *failure

	// mu serializes events and guards the progress registry, which async
	// calls update from their goroutines; closed drops their late reports.
	mu       sync.Mutex
	closed   bool
	progress *progressRegistry
	messages []Message

	wg        sync.WaitGroup // async calls
	asyncMu   sync.Mutex
	asyncDone []*asyncBatch
	asyncWake chan struct{}
	inFlight  []*nodeState // async nodes not collected yet, in start order

	success, interrupted bool
	errData              pyjson.Object
}

// failure is why a prompt stopped: a node's error, an interrupt, or a
// dependency cycle found at run time.
type failure struct {
	kind      failKind
	nodeID    string // the real id of the failing node; the blamed id for a cycle
	message   string
	typ       string
	traceback []string
	inputs    pyjson.Object
}

type failKind int

const (
	failNode failKind = iota
	failInterrupt
	failCycle
)

// stepStatus is ComfyUI's ExecutionResult.
type stepStatus int

const (
	stepSuccess stepStatus = iota
	stepPending
	stepFailure
)

func newRun(ctx context.Context, e *Executor, job Job, sink Sink) *run {
	if sink == nil {
		sink = SinkFunc(func(Event) {})
	}
	if job.Prompt == nil {
		job.Prompt = node.NewPrompt()
	}
	r := &run{e: e, job: job, ctx: ctx, sink: sink, log: e.log, cache: e.cache,
		progress: newProgressRegistry(job.PromptID), asyncWake: make(chan struct{}, 1)}
	r.runCtx, r.cancel = context.WithCancel(ctx)
	if len(job.ExtraData) > 0 {
		extra, err := pyjson.DecodeObject(job.ExtraData)
		if err != nil {
			r.log.Warn("extra_data is not a JSON object", "prompt_id", job.PromptID, "err", err)
		}
		r.extra = extra
	}
	r.rt = &node.Runtime{
		PromptID:        job.PromptID,
		Prompt:          job.Prompt,
		DisableMetadata: e.cfg.DisableMetadata,
		Folders:         e.cfg.Folders,
		Progress:        r.onProgress,
		Preview:         r.onPreview,
	}
	if raw, ok := r.extra.Get("extra_pnginfo"); ok {
		if raw, ok := raw.(json.RawMessage); ok && string(raw) != "null" {
			r.rt.ExtraPNGInfo = raw
		}
	}
	dp, bad := newDynPrompt(job.Prompt, e.reg)
	if bad != nil {
		// Validation rejects unknown classes; ComfyUI would fail on the
		// NODE_CLASS_MAPPINGS lookup with a KeyError.
		r.setupErr = &failure{kind: failNode, nodeID: bad.ID, message: fmt.Sprintf("'%s'\n", bad.ClassType),
			typ: "KeyError", traceback: []string{}, inputs: pyjson.Object{}}
	}
	r.dp = dp
	r.rt.DynPrompt = dp
	r.keys = newKeyer(dp, r.fingerprint)
	r.list = &execList{dp: dp, cache: r.cache}
	return r
}

// close ends the run: late progress reports are dropped, and async calls
// still running are cancelled and waited for.
func (r *run) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// execute runs the prompt (execute_async) and returns its outcome.
func (r *run) execute() Outcome {
	r.addMessage("execution_start", pyjson.Object{{Key: "prompt_id", Value: r.job.PromptID}}, false)
	if r.setupErr != nil {
		r.fail(r.setupErr)
		return r.outcome()
	}
	r.cache.setPrompt(r)
	cached := []string{}
	for _, n := range r.dp.all {
		if r.cache.get(n) != nil {
			cached = append(cached, n.id)
		}
	}
	r.addMessage("execution_cached", pyjson.Object{
		{Key: "nodes", Value: cached},
		{Key: "prompt_id", Value: r.job.PromptID},
	}, false)
	r.currentOutputs = r.cache.nodeIDs()
	for _, id := range r.job.Outputs {
		n, err := r.dp.get(id)
		if err == nil {
			err = r.list.addNode(n)
		}
		if err != nil {
			r.log.Error("scheduling an output", "prompt_id", r.job.PromptID, "node", id, "err", err)
			r.fail(&failure{kind: failNode, nodeID: id, message: err.Error() + "\n",
				typ: node.ExceptionType(err), traceback: []string{}, inputs: pyjson.Object{}})
			return r.outcome()
		}
	}
	if !r.loop() {
		return r.outcome()
	}
	// Cached UI of intermediate-output nodes that did not run is re-sent.
	for _, n := range r.dp.all {
		if !n.executed && n.class.HasIntermediateOutput {
			if e := r.cache.get(n); e != nil {
				r.sendCachedUI(n, e)
			}
		}
	}
	r.addMessage("execution_success", pyjson.Object{{Key: "prompt_id", Value: r.job.PromptID}}, false)
	r.success = true
	return r.outcome()
}

// loop stages and executes nodes until none is left; false when a failure
// stopped it.
func (r *run) loop() bool {
	for !r.list.isEmpty() {
		r.collectAsync()
		for r.list.mustWait() {
			select {
			case <-r.asyncWake:
				r.collectAsync()
			case <-r.ctx.Done():
				r.fail(&failure{kind: failInterrupt, nodeID: realID(r.inFlight[0])})
				return false
			}
		}
		n, f := r.list.stage()
		if f != nil {
			r.fail(f)
			return false
		}
		status, f := r.executeNode(n)
		switch status {
		case stepFailure:
			r.fail(f)
			return false
		case stepPending:
			r.list.unstage()
		default:
			r.list.complete()
		}
		r.cache.afterNode()
	}
	return true
}

// collectAsync unblocks the async nodes whose calls all returned.
func (r *run) collectAsync() {
	r.asyncMu.Lock()
	done := r.asyncDone
	r.asyncDone = nil
	r.asyncMu.Unlock()
	for _, b := range done {
		b.unblock()
		r.inFlight = slices.DeleteFunc(r.inFlight, func(n *nodeState) bool { return n == b.node })
	}
}

// executeNode is ComfyUI's execute(): serve n from the cache, or run it
// (first pass, re-entry after async calls, or after an expansion).
func (r *run) executeNode(n *nodeState) (stepStatus, *failure) {
	if e := r.cache.get(n); e != nil {
		r.sendCachedUI(n, e)
		r.progressFinish(n)
		r.list.cacheUpdate(n, e)
		return stepSuccess, nil
	}
	var d *inputData
	var out stepOutput
	switch {
	case n.async != nil:
		b := n.async
		n.async = nil
		for _, ret := range b.rets {
			if ret.err != nil {
				return stepFailure, r.nodeFailure(n, nil, ret.err, ret.trace)
			}
		}
		out = outputFromReturns(n.class, b.rets)
	case n.subgraph != nil:
		outputs, err := r.resolveSubgraph(n)
		if err != nil {
			return stepFailure, r.nodeFailure(n, nil, err, nil)
		}
		out.outputs = outputs
	default:
		r.progressStart(n)
		d = r.inputData(n)
		r.sendToClient("executing", pyjson.Object{
			{Key: "node", Value: n.id},
			{Key: "display_node", Value: r.dp.displayID(n)},
			{Key: "prompt_id", Value: r.job.PromptID},
		})
		need, err := r.checkLazy(n, d)
		if err != nil {
			return stepFailure, r.nodeFailure(n, d, err, nil)
		}
		if len(need) > 0 {
			for _, name := range need {
				if err := r.list.makeInputStrongLink(n, name); err != nil {
					return stepFailure, r.nodeFailure(n, d, err, nil)
				}
			}
			return stepPending, nil
		}
		rets, err := r.runCalls(n, d)
		if err != nil {
			return stepFailure, r.nodeFailure(n, d, err, nil)
		}
		if n.class.Async && slices.ContainsFunc(rets, func(c callReturn) bool { return c.call != nil }) {
			r.startAsync(n, rets)
			return stepPending, nil
		}
		out = outputFromReturns(n.class, rets)
	}
	if len(out.ui) > 0 {
		r.recordUI(n, out.ui)
		r.sendToClient("executed", pyjson.Object{
			{Key: "node", Value: n.id},
			{Key: "display_node", Value: r.dp.displayID(n)},
			{Key: "output", Value: out.ui},
			{Key: "prompt_id", Value: r.job.PromptID},
		})
	}
	if out.subgraph != nil {
		if err := r.expand(n, out.subgraph); err != nil {
			return stepFailure, r.nodeFailure(n, d, err, nil)
		}
		return stepPending, nil
	}
	e := &entry{ui: n.ui, outputs: out.outputs}
	r.list.cacheUpdate(n, e)
	r.cache.set(n, e)
	r.progressFinish(n)
	if !n.executed {
		n.executed = true
		r.executed = append(r.executed, n.id)
	}
	return stepSuccess, nil
}

// checkLazy asks a node with a lazy check which inputs it needs, and
// returns those not evaluated yet (in the order first asked for).
func (r *run) checkLazy(n *nodeState, d *inputData) ([]string, error) {
	check := n.class.CheckLazy()
	if check == nil {
		return nil, nil
	}
	var need []string
	err := forEachCall(n.class, d, func(i int, values map[string]any, blk *node.Blocker) error {
		if r.ctx.Err() != nil {
			return errInterrupted
		}
		if blk != nil {
			return nil // the blocker is the "result": not a list, ignored
		}
		c := node.NewCall(r.rt, n.id, i, values)
		var names []string
		trace, err := invoke(func() error {
			var err error
			names, err = check(r.runCtx, c)
			return err
		})
		if err != nil {
			return &callError{err, trace}
		}
		for _, name := range names {
			if !slices.Contains(need, name) {
				need = append(need, name)
			}
		}
		return nil
	})
	return slices.DeleteFunc(need, func(name string) bool { return !d.needs(name) }), err
}

// fingerprint returns the canonical encoding of n's is_changed value,
// computing it once per node per run: False without a hook, else the list
// of the hook's per-call results over n's literals, NaN if it failed.
func (r *run) fingerprint(n *nodeState) []byte {
	if n.changed != nil {
		return n.changed
	}
	var v any = false
	if fp := n.class.Fingerprint(); fp != nil {
		v = r.callFingerprint(n, fp)
	}
	n.changed = appendHashable(nil, v)
	return n.changed
}

func (r *run) callFingerprint(n *nodeState, fp node.FingerprintFunc) any {
	results := []any{}
	err := forEachCall(n.class, r.literalData(n), func(i int, values map[string]any, blk *node.Blocker) error {
		if blk != nil {
			results = append(results, nil)
			return nil
		}
		c := node.NewCall(r.rt, n.id, i, values)
		var v any
		_, err := invoke(func() error {
			var err error
			v, err = fp(r.runCtx, c)
			return err
		})
		if _, ok := v.(*node.Blocker); ok {
			v = nil
		}
		results = append(results, v)
		return err
	})
	if err != nil {
		r.log.Warn("WARNING: "+err.Error(), "prompt_id", r.job.PromptID, "node", n.id)
		return math.NaN()
	}
	return results
}

// nodeFailure describes why n failed: an interrupt when the prompt's
// context is done, else the error with its type, traceback and n's inputs
// (d; nil on a re-entry, as ComfyUI then has none).
func (r *run) nodeFailure(n *nodeState, d *inputData, err error, trace []string) *failure {
	if errors.Is(err, errInterrupted) || r.ctx.Err() != nil {
		r.log.Info("Processing interrupted", "prompt_id", r.job.PromptID, "node", n.id)
		return &failure{kind: failInterrupt, nodeID: realID(n)}
	}
	if ce, ok := errors.AsType[*callError](err); ok {
		err, trace = ce.err, ce.trace
	}
	if trace == nil {
		trace = errorTraceback(n)
	}
	inputs := pyjson.Object{}
	if d != nil {
		for i, name := range d.names {
			values := make([]any, len(d.lists[i]))
			for j, v := range d.lists[i] {
				values[j] = formatValue(v)
			}
			inputs = append(inputs, pyjson.Field{Key: name, Value: values})
		}
	}
	r.log.Error("!!! Exception during processing !!! "+err.Error(), "prompt_id", r.job.PromptID,
		"node", n.id, "class_type", n.def.ClassType, "traceback", trace)
	typ := node.ExceptionType(err)
	return &failure{kind: failNode, nodeID: realID(n), message: err.Error() + "\n" + errorTip(typ, err, n),
		typ: typ, traceback: trace, inputs: inputs}
}

// errorTip is the hint ComfyUI appends to some messages (after the "\n"
// every message gets): its out-of-memory tip has no Go counterpart; its
// CLIP-loader hint for samplers does.
func errorTip(typ string, err error, n *nodeState) string {
	if typ == "RuntimeError" && strings.Contains(err.Error(), "mat1 and mat2 shapes") && strings.Contains(n.def.ClassType, "Sampler") {
		return "\n\nTIPS: If you have any \"Load CLIP\" or \"*CLIP Loader\" nodes in your workflow connected to this sampler node make sure the correct file(s) and type is selected."
	}
	return ""
}

// fail reports a failure (handle_execution_error): an interrupt is
// broadcast as execution_interrupted, anything else sent to the client as
// execution_error; both are recorded.
func (r *run) fail(f *failure) {
	data := pyjson.Object{
		{Key: "prompt_id", Value: r.job.PromptID},
		{Key: "node_id", Value: f.nodeID},
		{Key: "node_type", Value: r.classTypeOf(f.nodeID)},
		{Key: "executed", Value: r.executedIDs()},
	}
	if f.kind == failInterrupt {
		r.interrupted = true
		r.addMessage("execution_interrupted", data, true)
		return
	}
	var traceback any = f.traceback
	var inputs any = f.inputs
	message, typ := f.message, f.typ
	if f.kind == failCycle {
		message, typ, traceback, inputs = "Dependency cycle detected", "graph.DependencyCycleError", []any{}, []any{}
	}
	currentOutputs := r.currentOutputs
	if currentOutputs == nil {
		currentOutputs = []string{}
	}
	data = append(data,
		pyjson.Field{Key: "exception_message", Value: message},
		pyjson.Field{Key: "exception_type", Value: typ},
		pyjson.Field{Key: "traceback", Value: traceback},
		pyjson.Field{Key: "current_inputs", Value: inputs},
		pyjson.Field{Key: "current_outputs", Value: currentOutputs},
	)
	r.errData = r.addMessage("execution_error", data, false)
}

// classTypeOf is the node_type of a report: the class of the original
// prompt's node (an ephemeral id's own class when it is not one).
func (r *run) classTypeOf(id string) string {
	if n, ok := r.job.Prompt.Node(id); ok {
		return n.ClassType
	}
	if n, ok := r.dp.nodes[id]; ok {
		return n.def.ClassType
	}
	return ""
}

func (r *run) executedIDs() []string { return append([]string{}, r.executed...) }

// recordUI records the UI n produced in this run, for the history.
func (r *run) recordUI(n *nodeState, ui pyjson.Object) {
	r.setUI(n, &uiRecord{
		meta: pyjson.Object{
			{Key: "node_id", Value: n.id},
			{Key: "display_node", Value: r.dp.displayID(n)},
			{Key: "parent_node", Value: parentID(n)},
			{Key: "real_node_id", Value: realID(n)},
		},
		output: ui,
	})
}

func (r *run) setUI(n *nodeState, ui *uiRecord) {
	if n.ui == nil {
		r.uiNodes = append(r.uiNodes, n)
	}
	n.ui = ui
}

// sendCachedUI re-sends a cached node's UI as an executed event and
// records it in this run's history. ComfyUI v0.27 records it only when the
// prompt has a client id, so API clients without a socket lost cached
// outputs from their history; gocomfy always records it.
func (r *run) sendCachedUI(n *nodeState, e *entry) {
	var output any
	if e.ui != nil {
		output = e.ui.output
	}
	r.sendToClient("executed", pyjson.Object{
		{Key: "node", Value: n.id},
		{Key: "display_node", Value: r.dp.displayID(n)},
		{Key: "output", Value: output},
		{Key: "prompt_id", Value: r.job.PromptID},
	})
	if e.ui != nil {
		r.setUI(n, e.ui)
	}
}

func (r *run) outcome() Outcome {
	o := Outcome{Success: r.success, Interrupted: r.interrupted, Messages: r.messages, Error: r.errData,
		Outputs: make(pyjson.Object, 0, len(r.uiNodes)), Meta: make(pyjson.Object, 0, len(r.uiNodes))}
	for _, n := range r.uiNodes {
		o.Outputs = append(o.Outputs, pyjson.Field{Key: n.id, Value: n.ui.output})
		o.Meta = append(o.Meta, pyjson.Field{Key: n.id, Value: n.ui.meta})
	}
	return o
}

// Events.

// route sends an event the way ComfyUI's send_sync(…, server.client_id)
// does: to the prompt's client, or to every socket when the prompt has none
// and toAll is set (otherwise it is not sent). r.mu must be held.
func (r *run) route(typ string, data pyjson.Object, toAll bool) {
	switch {
	case r.job.ClientID != "":
		r.sink.Event(Event{Type: typ, Data: data, SID: r.job.ClientID})
	case toAll:
		r.sink.Event(Event{Type: typ, Data: data, All: true})
	}
}

// send emits an event that goes to everyone when there is no client
// (progress, the blocker's execution_error).
func (r *run) send(typ string, data pyjson.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.route(typ, data, true)
}

// sendToClient emits an event only a prompt with a client id gets
// (executing, executed).
func (r *run) sendToClient(typ string, data pyjson.Object) {
	if r.job.ClientID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.route(typ, data, false)
}

// addMessage is ComfyUI's add_message: the event, stamped, goes into the
// status messages, and is sent to the client, or to everyone if broadcast.
// It returns the stamped data.
func (r *run) addMessage(typ string, data pyjson.Object, broadcast bool) pyjson.Object {
	data = append(data, pyjson.Field{Key: "timestamp", Value: r.e.cfg.Now().UnixMilli()})
	r.messages = append(r.messages, Message{Type: typ, Data: data})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.route(typ, data, broadcast)
	return data
}

// Progress.

// progressEntry returns n's progress entry, or a fresh one. r.mu must be
// held; n's ids are read without the prompt's lock, so only on the run
// goroutine.
func (r *run) progressEntry(n *nodeState) *progressEntry {
	if e, ok := r.progress.get(n.id); ok {
		return e
	}
	return r.progress.fresh(n.id, r.dp.displayID(n), realID(n), parentID(n))
}

func (r *run) progressStart(n *nodeState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress.start(r.progressEntry(n))
	r.route("progress_state", r.progressState(), true)
}

func (r *run) progressFinish(n *nodeState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress.finish(r.progressEntry(n))
	r.route("progress_state", r.progressState(), true)
}

func (r *run) progressState() pyjson.Object {
	return pyjson.Object{
		{Key: "prompt_id", Value: r.job.PromptID},
		{Key: "nodes", Value: r.progress.snapshot()},
	}
}

// onPreview is node.Runtime.Preview: routed as progress is (to the client,
// or to everyone when the prompt has none).
func (r *run) onPreview(nodeID string, img image.Image) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	display, real := nodeID, nodeID
	var parent any
	r.dp.mu.RLock()
	if n, ok := r.dp.nodes[nodeID]; ok {
		display, real, parent = r.dp.displayID(n), realID(n), parentID(n)
	}
	r.dp.mu.RUnlock()
	ev := Event{Type: "preview", Image: img, Data: pyjson.Object{
		{Key: "node_id", Value: nodeID}, {Key: "prompt_id", Value: r.job.PromptID},
		{Key: "display_node_id", Value: display}, {Key: "parent_node_id", Value: parent},
		{Key: "real_node_id", Value: real},
	}}
	if r.job.ClientID != "" {
		ev.SID = r.job.ClientID
	} else {
		ev.All = true
	}
	r.sink.Event(ev)
}

// onProgress is node.Runtime.Progress: a node reported value of max. It
// may run on an async call's goroutine.
func (r *run) onProgress(nodeID string, value, max float64) {
	v, m := progressNumber(value), progressNumber(max)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	base, ok := r.progress.get(nodeID)
	if !ok {
		r.dp.mu.RLock()
		if n, found := r.dp.nodes[nodeID]; found {
			base = r.progress.fresh(nodeID, r.dp.displayID(n), realID(n), parentID(n))
		} else {
			base = r.progress.fresh(nodeID, nodeID, nodeID, nil)
		}
		r.dp.mu.RUnlock()
	}
	r.progress.update(base, v, m)
	r.route("progress_state", r.progressState(), true)
	r.route("progress", pyjson.Object{
		{Key: "value", Value: v},
		{Key: "max", Value: m},
		{Key: "prompt_id", Value: r.job.PromptID},
		{Key: "node", Value: nodeID},
	}, true)
}
