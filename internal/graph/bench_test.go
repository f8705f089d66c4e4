package graph_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/gocomfy/gocomfy/internal/graph"
	"github.com/gocomfy/gocomfy/node"
)

const benchNodes = 10_000

func benchValidate(b *testing.B, p *node.Prompt, outputs int) {
	b.ReportAllocs()
	for b.Loop() {
		r := graph.Validate(context.Background(), registry, p, nil)
		if r.Error != nil || len(r.Outputs) != outputs {
			b.Fatalf("error %+v, %d outputs", r.Error, len(r.Outputs))
		}
	}
}

func link(id string) []any { return []any{id, json.Number("0")} }

// BenchmarkChain: 10,000 nodes in a line under one output.
func BenchmarkChain(b *testing.B) { benchValidate(b, chain(benchNodes, false), 1) }

// BenchmarkFanOut: one source feeding 10,000 output nodes.
func BenchmarkFanOut(b *testing.B) {
	p := node.NewPrompt()
	p.Set(&node.PromptNode{ID: "src", ClassType: "StubImage", HasClassType: true, Inputs: []node.Input{
		{Name: "content", Value: "WHITE"}, {Name: "height", Value: json.Number("8")},
		{Name: "width", Value: json.Number("8")}, {Name: "batch_size", Value: json.Number("1")}}})
	for i := range benchNodes {
		p.Set(&node.PromptNode{ID: strconv.Itoa(i), ClassType: "SaveImage", HasClassType: true,
			Inputs: []node.Input{{Name: "images", Value: link("src")}, {Name: "filename_prefix", Value: "x"}}})
	}
	benchValidate(b, p, benchNodes)
}

// BenchmarkGrid: a 100×100 lattice, each node linked to the node above and
// the node to its left, under one output at the far corner.
func BenchmarkGrid(b *testing.B) {
	const side = 100
	id := func(r, c int) string { return strconv.Itoa(r*side + c) }
	p := node.NewPrompt()
	p.Set(&node.PromptNode{ID: "out", ClassType: "Widgets", HasClassType: true,
		Inputs: []node.Input{{Name: "int", Value: link(id(side-1, side-1))}}})
	for r := range side {
		for c := range side {
			n := &node.PromptNode{ID: id(r, c), ClassType: "Pair", HasClassType: true}
			if r > 0 {
				n.Inputs = append(n.Inputs, node.Input{Name: "a", Value: link(id(r-1, c))})
			}
			if c > 0 {
				n.Inputs = append(n.Inputs, node.Input{Name: "b", Value: link(id(r, c-1))})
			}
			p.Set(n)
		}
	}
	benchValidate(b, p, 1)
}
