package executor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

const benchNodes = 1000

// chainPrompt is benchNodes Pass nodes in a chain, ending in a Show.
func chainPrompt() string {
	var b strings.Builder
	b.WriteString(`{"0": {"class_type": "Pass", "inputs": {"n": 0}}`)
	for i := 1; i < benchNodes-1; i++ {
		fmt.Fprintf(&b, `, "%d": {"class_type": "Pass", "inputs": {"value": ["%d", 0], "n": %d}}`, i, i-1, i)
	}
	fmt.Fprintf(&b, `, "%d": {"class_type": "Show", "inputs": {"value": ["%d", 0]}}}`, benchNodes-1, benchNodes-2)
	return b.String()
}

// fanInPrompt is benchNodes-1 distinct Op nodes feeding one Out node.
func fanInPrompt() string {
	var b strings.Builder
	var links []string
	b.WriteString("{")
	for i := range benchNodes - 1 {
		fmt.Fprintf(&b, `"%d": {"class_type": "Op", "inputs": {"n": %d}}, `, i, i)
		links = append(links, fmt.Sprintf(`"in%d": ["%d", 0]`, i, i))
	}
	fmt.Fprintf(&b, `"out": {"class_type": "Out", "inputs": {%s}}}`, strings.Join(links, ", "))
	return b.String()
}

func benchRun(b *testing.B, cfg Config, js string, reset bool) {
	rn := newRunner(b, cfg)
	p := mustPrompt(b, js)
	var outputs []string
	for _, id := range p.IDs() {
		def, _ := p.Node(id)
		if c, _ := rn.pack.reg.Lookup(def.ClassType); c.OutputNode {
			outputs = append(outputs, id)
		}
	}
	discard := SinkFunc(func(Event) {})
	job := Job{PromptID: "bench", Prompt: p, ClientID: "client", Outputs: outputs}
	run := func() {
		if o := rn.ex.Execute(context.Background(), job, discard); !o.Success {
			b.Fatal(o.Error)
		}
	}
	if !reset {
		run() // fill the cache
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if reset {
			rn.ex.Reset()
		}
		run()
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/benchNodes, "ns/node")
}

// BenchmarkChain: the executor's overhead per node on a chain of no-op
// nodes, executed from an empty cache (keys and fingerprints included for
// the caching modes).
func BenchmarkChain(b *testing.B) {
	for _, m := range []CacheMode{Classic, LRU, None} {
		b.Run(m.String(), func(b *testing.B) { benchRun(b, Config{Cache: m, LRUSize: 10 * benchNodes}, chainPrompt(), true) })
	}
}

// BenchmarkFanIn: as BenchmarkChain, with every node feeding one output.
func BenchmarkFanIn(b *testing.B) {
	for _, m := range []CacheMode{Classic, None} {
		b.Run(m.String(), func(b *testing.B) { benchRun(b, Config{Cache: m}, fanInPrompt(), true) })
	}
}

// BenchmarkCachedRerun: a fully cached re-run of the chain (keys, lookups,
// the cached UI re-sent).
func BenchmarkCachedRerun(b *testing.B) {
	benchRun(b, Config{Cache: Classic}, chainPrompt(), false)
}

// TestBenchPromptsRun keeps the benchmark prompts working.
func TestBenchPromptsRun(t *testing.T) {
	rn := newRunner(t, Config{})
	for _, js := range []string{chainPrompt(), fanInPrompt()} {
		r := rn.run(js)
		if !r.Success || len(r.ran()) != benchNodes {
			t.Fatalf("success=%v ran %d", r.Success, len(r.ran()))
		}
	}
}
