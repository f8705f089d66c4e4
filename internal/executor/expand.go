package executor

import (
	"github.com/gocomfy/gocomfy/node"
)

// expand adds the subgraphs of n's expanded calls to the prompt as
// ephemeral nodes and schedules what n's results need: the subgraph's
// output nodes, and the nodes its result links point to, which n now waits
// for. Nodes that feed neither never run. n is resolved on re-entry.
func (r *run) expand(n *nodeState, subs []subResult) error {
	var children, outputs []*nodeState
	seen := map[*nodeState]bool{}
	var links []node.Link
	for _, s := range subs {
		if s.graph == nil {
			continue
		}
		for _, id := range s.graph.IDs() {
			def, _ := s.graph.Node(id)
			class, ok := r.e.reg.Lookup(def.ClassType)
			if !ok {
				return node.Raise("KeyError", "'%s'", def.ClassType)
			}
			c := r.dp.addEphemeral(def, class, n)
			if !seen[c] {
				seen[c] = true
				children = append(children, c)
			}
			if class.OutputNode {
				outputs = append(outputs, c)
			}
		}
		for _, v := range s.tuple {
			if l, ok := resultLink(v); ok {
				links = append(links, l)
			}
		}
	}
	if !r.cache.ensureSubcache(r, n, children) {
		return node.Raise("AssertionError", "")
	}
	for _, o := range outputs {
		if err := r.list.addNode(o); err != nil {
			return err
		}
		r.list.cacheLink(o, n)
	}
	for _, l := range links {
		from, err := r.dp.get(l.From)
		if err != nil {
			return err
		}
		if err := r.list.addStrongLink(from, n); err != nil {
			return err
		}
	}
	n.subgraph = subs
	return nil
}

// resolveSubgraph builds n's outputs once its expansion ran: in each
// expanded call's result, a link is replaced by the items of the linked
// output (spliced in, as ComfyUI does, so a list output lengthens the
// tuple); other values are kept.
func (r *run) resolveSubgraph(n *nodeState) ([][]any, error) {
	subs := n.subgraph
	n.subgraph = nil
	tuples := make([][]any, 0, len(subs))
	for _, s := range subs {
		if s.graph == nil {
			tuples = append(tuples, s.tuple)
			continue
		}
		var t []any
		for _, v := range s.tuple {
			l, ok := resultLink(v)
			if !ok {
				t = append(t, v)
				continue
			}
			var e *entry
			if from := r.dp.nodes[l.From]; from != nil {
				e = r.list.getCache(from, n)
			}
			if e == nil {
				return nil, node.Raise("AttributeError", "'NoneType' object has no attribute 'outputs'")
			}
			if l.Slot < 0 || l.Slot >= len(e.outputs) {
				return nil, errIndex
			}
			t = append(t, e.outputs[l.Slot]...)
		}
		tuples = append(tuples, t)
	}
	if len(tuples) == 0 {
		return [][]any{}, nil
	}
	return merge(n.class, tuples), nil
}

// resultLink reports whether an expanded call's result value is a link
// into its subgraph (set with Out.SetLink, or a ["id", slot] list).
func resultLink(v any) (node.Link, bool) {
	if l, ok := v.(node.Link); ok {
		return l, true
	}
	l, isLink, slotOK := node.AsLink(v)
	return l, isLink && slotOK
}
