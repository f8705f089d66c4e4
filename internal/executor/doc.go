// Package executor runs validated prompts with ComfyUI's execution
// semantics (v0.27.0's execution.py and comfy_execution/{graph,caching}.py)
// and keeps node outputs between prompts. It knows nothing of HTTP: events go
// to a Sink, and Execute returns the parts of the history entry it decides.
//
// # Life cycle of a prompt
//
// Execute records execution_start, builds the cache keys of every prompt
// node (which calls every fingerprint hook once), records execution_cached
// with the prompt nodes the cache holds, schedules the requested outputs and
// runs nodes until none is left, a node fails, or the context is cancelled.
// It then records execution_success, execution_error or
// execution_interrupted. The final {"node": null} executing event is the
// queue's, sent once the history is stored.
//
// # Events
//
// Events are routed as ComfyUI's send_sync routes them. With a client id,
// everything goes to that client. Without one, executing, executed and the
// recorded messages (execution_start, execution_cached, execution_success,
// execution_error) are not sent at all, while progress, progress_state, the
// blocker's execution_error and execution_interrupted go to every socket.
// Data keys are in ComfyUI's order; timestamps are int milliseconds from
// Config.Now. Progress reports are not coalesced (the server's job).
//
// # Scheduling
//
// The schedule is ComfyUI's ExecutionList: a depth-first add of each output
// and its uncached, non-lazy sources; among the ready nodes, in the order
// they were added, ux_friendly_pick_node takes the first output or async
// node, else the first that blocks an output, else the first that blocks a
// node that blocks one, else the first. A staged node can go back to
// pending: after its lazy check asks for inputs (it is executed again from
// scratch, with a second executing event), after an expansion (it resolves
// its links to the subgraph when that is done), and while its async calls
// run. Nothing ready and nothing running is a dependency cycle, reported as
// ComfyUI does (graph.DependencyCycleError, blamed on an expander).
//
// Sync nodes run on the Execute goroutine. Each call of an async class
// (node.Info.Async) runs on its own goroutine while the scheduler goes on
// with other ready nodes; the node is collected when all its calls return.
//
// # Values and lists
//
// Every output is a list of per-item values. A node fed lists runs once per
// item of the longest (shorter lists repeat their last item); an
// INPUT_IS_LIST class runs once with whole lists; list outputs concatenate.
// Linked inputs the class does not declare are passed; literal ones are
// not. rawLink inputs receive the node.Link. A node.Blocker skips the calls
// it reaches; one with a message is reported (not recorded) by each node
// that receives it and then travels on silently.
//
// # Caching
//
// Keys follow ComfyUI's input signatures: class, fingerprint, literals
// (with Python's 1 == 1.0 == True), the shape of the ancestor graph, and the
// node id for NotIdempotent classes and classes that declare hidden
// UNIQUE_ID. See key.go for how the quadratic signature lists are avoided.
// Classic keeps the latest prompt's entries, with one subcache per expander;
// LRU keeps LRUSize entries across prompts, evicting whole prompt
// generations; None keeps nothing (values flow through the per-run edge
// cache); RAMPressure keeps entries while MemAvailable allows. A cached
// output node re-sends its UI as an executed event.
//
// # Differences from ComfyUI, deliberate
//
//   - A cached output's UI is recorded in the outcome whether or not the
//     prompt has a client id (v0.27 records it only with one; newer
//     ComfyUI fixed this).
//   - A dependency cycle makes Outcome.Success false (ComfyUI leaves the
//     previous prompt's value).
//   - There is no objects cache: Go classes hold no per-node instance
//     state. External cache providers are not supported.
//   - V3 classes that declare hidden UNIQUE_ID get their id in the key too
//     (ComfyUI's check misses V3 hidden inputs).
//   - A redefined ephemeral id is re-keyed in every mode (ComfyUI's LRU
//     keeps the first key for the rest of the prompt).
//   - Async calls always make their node pending once (ComfyUI collects a
//     call that finished before its first await at once).
//   - Orders ComfyUI takes from Python sets are made deterministic: lazy
//     requests in the order asked, "executed" in execution order,
//     current_outputs in prompt order.
//   - Tracebacks: a panic's Go stack; for a returned error, one line naming
//     the node. Tensors in current_inputs are described by shape.
//   - RAMPressure's default inactive headroom is the active one (ComfyUI's
//     is the total RAM, which evicts all older entries after each node).
//   - Progress values print as ints when integral (ComfyUI's ProgressBar
//     counts in ints).
package executor
