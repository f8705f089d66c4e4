package gocomfy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
)

// chainPrompt is a graph of n nodes: StubInt, n-2 additions, PreviewAny.
func chainPrompt(n, seed int) map[string]any {
	p := map[string]any{"0": map[string]any{"class_type": "StubInt", "inputs": map[string]any{"value": seed}}}
	for i := 1; i < n-1; i++ {
		p[strconv.Itoa(i)] = map[string]any{"class_type": "TestIntMathOperation", "inputs": map[string]any{
			"a": []any{strconv.Itoa(i - 1), 0}, "b": 1, "operation": "add"}}
	}
	p[strconv.Itoa(n-1)] = map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{
		"source": []any{strconv.Itoa(n - 2), 0}}}
	return map[string]any{"prompt": p}
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	pct := func(p float64) float64 { return float64(d[int(float64(len(d)-1)*p)].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkPromptRoundTrip measures, for a 100-node graph, POST /prompt
// (validation and a durable enqueue) and the whole round trip until the
// executing(null) message says the prompt is done.
func BenchmarkPromptRoundTrip(b *testing.B) {
	ts := startServer(b, gocomfy.Config{EnableTestNodes: true, Cache: gocomfy.CacheNone, BaseDir: b.TempDir()})
	ws := ts.connect("bench")
	var post, full []time.Duration
	for i := 0; b.Loop(); i++ {
		body := chainPrompt(100, i)
		body["client_id"] = "bench"
		start := time.Now()
		status, resp := ts.do("POST", "/prompt", body)
		post = append(post, time.Since(start))
		if status != http.StatusOK {
			b.Fatalf("%d %s", status, resp)
		}
		var id struct {
			PromptID string `json:"prompt_id"`
		}
		if err := json.Unmarshal(resp, &id); err != nil {
			b.Fatal(err)
		}
		ws.waitFor(finished(id.PromptID))
		full = append(full, time.Since(start))
	}
	b.Run("post", func(b *testing.B) { reportPercentiles(b, post) })
	b.Run("done", func(b *testing.B) { reportPercentiles(b, full) })
}

// BenchmarkEnqueue measures POST /prompt with a queue that keeps growing
// (the worker is busy on a long prompt): the time per enqueue must not grow
// with the queue length.
func BenchmarkEnqueue(b *testing.B) {
	ts := startServer(b, gocomfy.Config{EnableTestNodes: true, BaseDir: b.TempDir()})
	block := map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": 1, "seconds": 3600}},
		"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
	}}
	ts.do("POST", "/prompt", block)
	body := chainPrompt(3, 0)
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		if status, resp := ts.do("POST", "/prompt", body); status != http.StatusOK {
			b.Fatalf("%d %s", status, resp)
		}
		d = append(d, time.Since(start))
	}
	if len(d) >= 100 {
		tenth := len(d) / 10
		first, last := avgDuration(d[:tenth]), avgDuration(d[len(d)-tenth:])
		b.ReportMetric(float64(first.Microseconds()), "first10%-µs")
		b.ReportMetric(float64(last.Microseconds()), "last10%-µs")
	}
	ts.do("POST", "/interrupt", nil)
}

func avgDuration(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// BenchmarkQueueListing measures GET /queue with 10,000 pending prompts.
func BenchmarkQueueListing(b *testing.B) {
	ts := startServer(b, gocomfy.Config{EnableTestNodes: true, BaseDir: b.TempDir()})
	block := map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": 1, "seconds": 3600}},
		"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
	}}
	ts.do("POST", "/prompt", block)
	for i := range 10_000 {
		if status, resp := ts.do("POST", "/prompt", chainPrompt(3, i)); status != http.StatusOK {
			b.Fatalf("%d %s", status, resp)
		}
	}
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		status, resp := ts.do("GET", "/queue", nil)
		d = append(d, time.Since(start))
		if status != http.StatusOK || len(resp) < 10_000 {
			b.Fatal(fmt.Sprint(status, len(resp)))
		}
	}
	reportPercentiles(b, d)
	ts.do("POST", "/interrupt", nil)
}
