package executor

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gocomfy/gocomfy/node"
)

// execList is ComfyUI's ExecutionList: a topological dissolve of the graph
// in which a staged node can go back with new dependencies (lazy inputs,
// expansions, async calls). Pending nodes keep their insertion order (seq),
// which decides among ready nodes; ready is maintained incrementally instead
// of rescanning every pending node at each step.
type execList struct {
	dp    *dynPrompt
	cache outputCache

	ready    []*nodeState // pending with blockCount 0, ascending seq
	eager    int          // ready output or async nodes (pick's first rule)
	seq      uint64
	pending  int
	staged   *nodeState
	external int // external blocks (running async calls)
}

// edgeRow is one row of the per-run edge cache: the result of from as the
// node holding the row (the consumer) will read it. ComfyUI's
// execution_cache[to][from].
type edgeRow struct {
	from *nodeState
	e    *entry
}

func (l *execList) isEmpty() bool { return l.pending == 0 }

// isCached is ComfyUI's is_cached: a local (non-counting) cache hit.
func (l *execList) isCached(n *nodeState) bool { return l.cache.getLocal(n) != nil }

// addNode adds id and, depth first, every uncached node its non-lazy links
// need, then links them (add_node). The DFS pops from the end of its stack
// as ComfyUI's does, which decides the pending order.
func (l *execList) addNode(n *nodeState) error {
	type link struct {
		from *nodeState
		to   *nodeState
	}
	stack := []*nodeState{n}
	var links []link
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if u.pending {
			continue
		}
		u.pending = true
		l.seq++
		u.seq = l.seq
		u.blockCount = 0
		u.blocking = u.blocking[:0]
		l.insertReady(u)
		l.pending++
		for i := range u.inputs {
			in := &u.inputs[i]
			if !in.link || (in.def != nil && in.def.Lazy) {
				continue
			}
			from, err := l.dp.get(in.from)
			if err != nil {
				return err
			}
			if !l.isCached(from) {
				stack = append(stack, from)
			}
			links = append(links, link{from, u})
		}
	}
	for _, lk := range links {
		if err := l.addStrongLink(lk.from, lk.to); err != nil {
			return err
		}
	}
	return nil
}

// addStrongLink makes to wait for from unless from is cached, and gives to
// an edge-cache row for from.
func (l *execList) addStrongLink(from, to *nodeState) error {
	if !l.isCached(from) {
		if !from.pending {
			if err := l.addNode(from); err != nil {
				return err
			}
		}
		if !slices.Contains(from.blocking, to) {
			from.blocking = append(from.blocking, to)
			l.block(to)
		}
	}
	l.cacheLink(from, to)
	return nil
}

// makeInputStrongLink links the source of input name of to, which a lazy
// check asked for.
func (l *execList) makeInputStrongLink(to *nodeState, name string) error {
	for i := range to.inputs {
		in := &to.inputs[i]
		if in.name != name {
			continue
		}
		if !in.link {
			return &node.Exception{Type: "comfy_execution.graph.NodeInputError",
				Message: fmt.Sprintf("Node %s says it needs input %s, but that value is a constant", to.id, name)}
		}
		from, err := l.dp.get(in.from)
		if err != nil {
			return err
		}
		return l.addStrongLink(from, to)
	}
	return &node.Exception{Type: "comfy_execution.graph.NodeInputError",
		Message: fmt.Sprintf("Node %s says it needs input %s, but there is no input to that node at all", to.id, name)}
}

func (l *execList) block(n *nodeState) {
	n.blockCount++
	if n.blockCount == 1 && n.pending {
		l.removeReady(n)
	}
}

func (l *execList) unblock(n *nodeState) {
	n.blockCount--
	if n.blockCount == 0 && n.pending {
		l.insertReady(n)
	}
}

func (l *execList) insertReady(n *nodeState) {
	n.eager = n.isOutput() || n.class.Async
	if n.eager {
		l.eager++
	}
	if len(l.ready) == 0 || l.ready[len(l.ready)-1].seq < n.seq {
		l.ready = append(l.ready, n) // new nodes have the highest seq
		return
	}
	i, _ := slices.BinarySearchFunc(l.ready, n.seq, bySeq)
	l.ready = slices.Insert(l.ready, i, n)
}

func (l *execList) removeReady(n *nodeState) {
	i, ok := slices.BinarySearchFunc(l.ready, n.seq, bySeq)
	if !ok {
		return
	}
	if n.eager {
		l.eager--
	}
	if i == 0 {
		// The usual pick: drop it without moving the rest.
		l.ready[0] = nil
		l.ready = l.ready[1:]
		return
	}
	l.ready = slices.Delete(l.ready, i, i+1)
}

func bySeq(m *nodeState, seq uint64) int { return cmp.Compare(m.seq, seq) }

// addExternalBlock keeps n pending until the returned function is called
// (on the run goroutine).
func (l *execList) addExternalBlock(n *nodeState) func() {
	l.external++
	l.block(n)
	return func() {
		l.external--
		l.unblock(n)
	}
}

// cacheLink gives to a row for from's result, as the cache holds it now
// (maybe nothing yet), and makes to a listener of from's result.
func (l *execList) cacheLink(from, to *nodeState) {
	setRow(to, from, l.cache.getLocal(from))
	if !slices.Contains(from.listeners, to) {
		from.listeners = append(from.listeners, to)
	}
}

func setRow(to, from *nodeState, e *entry) {
	for i := range to.rows {
		if to.rows[i].from == from {
			to.rows[i].e = e
			return
		}
	}
	to.rows = append(to.rows, edgeRow{from, e})
}

// getCache returns from's result as to reads it, and writes it back to the
// output cache (which is how values survive when the cache evicted them or
// keeps nothing).
func (l *execList) getCache(from, to *nodeState) *entry {
	for _, row := range to.rows {
		if row.from == from {
			if row.e != nil {
				l.cache.setLocal(from, row.e)
			}
			return row.e
		}
	}
	return nil
}

// cacheUpdate pushes n's fresh result into its listeners' rows.
func (l *execList) cacheUpdate(n *nodeState, e *entry) {
	for _, to := range n.listeners {
		if len(to.rows) > 0 {
			setRow(to, n, e)
		}
	}
}

// mustWait reports that nothing is ready but async calls will unblock
// something: the caller waits for them before staging.
func (l *execList) mustWait() bool { return len(l.ready) == 0 && l.external > 0 }

// stage picks the next node among the ready ones (stage_node_execution,
// after any wait for external blocks); nil with a cycle error when nothing
// is ready and nothing will be.
func (l *execList) stage() (*nodeState, *failure) {
	if len(l.ready) == 0 {
		return nil, l.cycleFailure()
	}
	l.staged = l.pick()
	return l.staged, nil
}

// pick is ComfyUI's ux_friendly_pick_node: the first ready output or async
// node, else the first that blocks an output, else the first that blocks a
// node blocking an output, else the first.
func (l *execList) pick() *nodeState {
	if l.eager > 0 {
		for _, n := range l.ready {
			if n.isOutput() || n.class.Async {
				return n
			}
		}
	}
	for _, n := range l.ready {
		for _, b := range n.blocking {
			if b.isOutput() {
				return n
			}
		}
	}
	for _, n := range l.ready {
		for _, b := range n.blocking {
			for _, b2 := range b.blocking {
				if b2.isOutput() {
					return n
				}
			}
		}
	}
	return l.ready[0]
}

func (l *execList) unstage() { l.staged = nil }

// complete pops the staged node: what it blocked is unblocked, and its edge
// rows and listeners are dropped.
func (l *execList) complete() {
	n := l.staged
	l.staged = nil
	n.pending = false
	l.pending--
	l.removeReady(n)
	for _, b := range n.blocking {
		l.unblock(b)
	}
	n.blocking = n.blocking[:0]
	n.rows = nil
	n.listeners = nil
}

// cycleFailure reports a dependency cycle found at run time: the pending
// nodes that are on a cycle or wait on one, and among them the first whose
// display id differs from its id is blamed through its display id (an
// expanded node through its expander), else the first.
func (l *execList) cycleFailure() *failure {
	var pending []*nodeState
	for _, n := range l.dp.all {
		if n.pending {
			pending = append(pending, n)
		}
	}
	slices.SortFunc(pending, func(a, b *nodeState) int { return cmp.Compare(a.seq, b.seq) })
	blockedBy := make(map[*nodeState]map[*nodeState]bool, len(pending))
	for _, n := range pending {
		blockedBy[n] = map[*nodeState]bool{}
	}
	for _, from := range pending {
		for _, to := range from.blocking {
			if blockedBy[to] != nil {
				blockedBy[to][from] = true
			}
		}
	}
	for {
		var free []*nodeState
		for _, n := range pending {
			if m, ok := blockedBy[n]; ok && len(m) == 0 {
				free = append(free, n)
			}
		}
		if len(free) == 0 {
			break
		}
		for _, n := range free {
			delete(blockedBy, n)
			for _, m := range blockedBy {
				delete(m, n)
			}
		}
	}
	var cycle []*nodeState
	for _, n := range pending {
		if _, ok := blockedBy[n]; ok {
			cycle = append(cycle, n)
		}
	}
	blamed := ""
	if len(cycle) > 0 {
		blamed = cycle[0].id
	}
	for _, n := range cycle {
		if d := l.dp.displayID(n); d != n.id {
			blamed = d
			break
		}
	}
	return &failure{kind: failCycle, nodeID: blamed}
}
