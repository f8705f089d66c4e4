package testnodes

import (
	"context"
	"fmt"

	"github.com/gocomfy/gocomfy/node"
)

// The nodes of flow_control.py: a while loop built from node expansion, and
// an execution blocker.

const flowCategory = "Testing/Flow"

// flowSockets is the pack's NUM_FLOW_SOCKETS: the number of values a loop
// carries.
const flowSockets = 5

func initialValue(i int) string { return fmt.Sprintf("initial_value%d", i) }

// TestWhileLoopOpen starts a loop: it outputs a FLOW_CONTROL stub for the
// matching TestWhileLoopClose and passes its initial values through.
var TestWhileLoopOpen = variant(info("TestWhileLoopOpen", "While Loop Open", flowCategory), func(s *node.Schema) node.RunFunc {
	s.Bool("condition").Default(true)
	for i := range flowSockets {
		s.AnyOf(initialValue(i), "*").Optional()
	}
	s.OutputOf("FLOW_CONTROL", "FLOW_CONTROL")
	for i := range flowSockets {
		s.OutputOf("*", fmt.Sprintf("value%d", i))
	}
	return func(ctx context.Context, c *node.Call) error {
		c.SetOutput(0, "stub")
		for i := range flowSockets {
			c.SetOutput(1+i, input(c, initialValue(i)))
		}
		return nil
	}
})

// TestWhileLoopClose ends a loop. While condition holds it expands into a
// copy of the loop body (every node between the open node and itself) fed
// with the current values, ending in a copy of itself with the id "Recurse";
// when it no longer holds it outputs the values.
var TestWhileLoopClose = variant(info("TestWhileLoopClose", "While Loop Close", flowCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("flow_control", "FLOW_CONTROL").RawLink()
	s.Bool("condition").ForceInput()
	for i := range flowSockets {
		s.AnyOf(initialValue(i), "*").Optional()
	}
	s.Hidden("dynprompt", node.HiddenDynPrompt)
	s.Hidden("unique_id", node.HiddenUniqueID)
	for i := range flowSockets {
		s.OutputOf("*", fmt.Sprintf("value%d", i))
	}
	return func(ctx context.Context, c *node.Call) error {
		dp := c.DynPrompt()
		if dp == nil {
			return node.Raise("AssertionError", "")
		}
		again, err := truth(c, "condition")
		if err != nil {
			return err
		}
		if !again {
			for i := range flowSockets {
				c.SetOutput(i, input(c, initialValue(i)))
			}
			return nil
		}
		open, ok, _ := node.AsLink(input(c, "flow_control"))
		if !ok {
			return node.Raise("TypeError", "flow_control is not a link to a loop open node")
		}
		g, err := cloneLoopBody(c, dp, open.From)
		if err != nil {
			return err
		}
		recurse, _ := g.Lookup("Recurse")
		for i := range flowSockets {
			c.SetOutput(i, recurse.Out(i))
		}
		c.Expand(g)
		return nil
	}
})

// cloneLoopBody builds the next iteration of the loop closed by the calling
// node: every node that depends on the open node and that the close node
// depends on, cloned in the order Python's dicts give (a depth-first walk),
// with links between them rewired to the clones, the open node's initial
// values set to the close node's current inputs, and each clone shown on its
// original's display.
func cloneLoopBody(c *node.Call, dp node.DynPrompt, openID string) (*node.GraphBuilder, error) {
	closeID := c.UniqueID()
	downstream, err := dependents(dp, closeID)
	if err != nil {
		return nil, err
	}
	contained := map[string]bool{}
	var order []string
	add := func(id string) {
		if !contained[id] {
			contained[id] = true
			order = append(order, id)
		}
	}
	var collect func(id string)
	collect = func(id string) {
		for _, child := range downstream[id] {
			if !contained[child] {
				add(child)
				collect(child)
			}
		}
	}
	collect(openID)
	add(closeID)
	add(openID)

	// The clone of the close node is "Recurse", so that ids do not grow
	// exponentially over iterations.
	cloneID := func(id string) string {
		if id == closeID {
			return "Recurse"
		}
		return id
	}
	g := c.NewGraph()
	originals := make([]*node.PromptNode, len(order))
	for i, id := range order {
		n, ok := dp.Node(id)
		if !ok {
			return nil, nodeNotFound(id)
		}
		originals[i] = n
		g.Node(n.ClassType, cloneID(id)).SetOverrideDisplayID(id)
	}
	for i, id := range order {
		clone, _ := g.Lookup(cloneID(id))
		for _, in := range originals[i].Inputs {
			l, isLink, _ := node.AsLink(in.Value)
			if !isLink || !contained[l.From] {
				clone.Set(in.Name, in.Value)
				continue
			}
			parent, ok := g.Lookup(l.From) // by original id: a link to the close node itself fails, as in Python
			if !ok {
				return nil, node.Raise("AssertionError", "")
			}
			clone.Set(in.Name, parent.Out(l.Slot))
		}
	}
	open, _ := g.Lookup(openID)
	for i := range flowSockets {
		open.Set(initialValue(i), input(c, initialValue(i)))
	}
	return g, nil
}

// dependents walks the graph upstream of id and returns, for every node it
// reaches, the nodes that link to it, in the order Python's
// explore_dependencies records them.
func dependents(dp node.DynPrompt, id string) (map[string][]string, error) {
	downstream := map[string][]string{}
	var explore func(id string) error
	explore = func(id string) error {
		n, ok := dp.Node(id)
		if !ok {
			return nodeNotFound(id)
		}
		for _, in := range n.Inputs {
			l, isLink, _ := node.AsLink(in.Value)
			if !isLink {
				continue
			}
			if _, seen := downstream[l.From]; !seen {
				downstream[l.From] = []string{}
				if err := explore(l.From); err != nil {
					return err
				}
			}
			downstream[l.From] = append(downstream[l.From], id)
		}
		return nil
	}
	return downstream, explore(id)
}

func nodeNotFound(id string) error {
	return node.Raise("NodeNotFoundError", "Node %s not found", id)
}

// TestExecutionBlocker passes input through, or blocks everything downstream
// when block is set: with the message "Blocked Execution" when verbose, else
// silently.
var TestExecutionBlocker = variant(info("TestExecutionBlocker", "Execution Blocker", flowCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("input", "*")
	s.Bool("block")
	s.Bool("verbose").Default(false)
	out := s.OutputOf("*", "output")
	return func(ctx context.Context, c *node.Call) error {
		block, err := truth(c, "block")
		if err != nil {
			return err
		}
		if !block {
			out.Set(c, input(c, "input"))
			return nil
		}
		verbose, err := truth(c, "verbose")
		if err != nil {
			return err
		}
		message := ""
		if verbose {
			message = "Blocked Execution"
		}
		c.Block(message)
		return nil
	}
})
