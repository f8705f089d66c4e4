package executor

import (
	"fmt"
	"testing"
)

func intPrompt(v int) string {
	return fmt.Sprintf(`{"1": {"class_type": "StubInt", "inputs": {"value": %d}}, "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}}`, v)
}

// TestPythonEqualityInKeys: 1, 1.0 and true make one key, as Python's
// 1 == 1.0 == True; "1" does not.
func TestPythonEqualityInKeys(t *testing.T) {
	rn := newRunner(t, Config{})
	p := func(tag string) string {
		return `{"1": {"class_type": "StubInt", "inputs": {"value": 3, "tag": ` + tag + `}},
		         "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}}`
	}
	rn.run(p("1"))
	eq(t, "1.0 after 1", rn.run(p("1.0")).cached(), []string{"1", "2"})
	eq(t, "true after 1.0", rn.run(p("true")).cached(), []string{"1", "2"})
	eq(t, `"1" after true`, rn.run(p(`"1"`)).cached(), []string{})
	eq(t, "[] after {}", func() []string {
		rn.run(p("{}"))
		return rn.run(p("[]")).cached()
	}(), []string{"1", "2"})
}

// TestIdenticalNodes: two nodes of one class with the same inputs are one
// computation, so the second is served from the first's entry, unless the
// class is not idempotent or takes its own id (hidden UNIQUE_ID).
func TestIdenticalNodes(t *testing.T) {
	for _, tc := range []struct {
		class string
		want  []string
	}{
		{"StubInt", []string{"1", "3", "4"}},
		{"NotIdempotent", []string{"1", "3", "2", "4"}},
		{"UniqueID", []string{"1", "3", "2", "4"}},
	} {
		t.Run(tc.class, func(t *testing.T) {
			rn := newRunner(t, Config{})
			r := rn.run(fmt.Sprintf(`{
 "1": {"class_type": %q, "inputs": {"value": 5}}, "2": {"class_type": %[1]q, "inputs": {"value": 5}},
 "3": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "4": {"class_type": "Show", "inputs": {"value": ["2", 0], "label": "b"}}
}`, tc.class))
			eq(t, "ran", r.ran(), tc.want)
		})
	}
}

// TestFingerprint: the hook runs once per node per prompt, for every node
// of the prompt (even one no output needs), on literals only; its value is
// part of the key; under None it never runs.
func TestFingerprint(t *testing.T) {
	prompt := func(seed string) string {
		return `{
 "1": {"class_type": "Fingerprinted", "inputs": {"seed": "` + seed + `"}},
 "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}},
 "3": {"class_type": "Fingerprinted", "inputs": {"seed": "unused"}},
 "4": {"class_type": "Fingerprinted", "inputs": {"value": ["1", 0], "seed": "linked"}},
 "5": {"class_type": "Show", "inputs": {"value": ["4", 0], "label": "b"}}
}`
	}
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			rn := newRunner(t, m.cfg)
			calls := func() []int {
				return []int{rn.pack.fingerprintCalls("1"), rn.pack.fingerprintCalls("3"), rn.pack.fingerprintCalls("4")}
			}
			rn.run(prompt("a"))
			r := rn.run(prompt("a"))
			if !m.caches {
				eq(t, "calls", calls(), []int{0, 0, 0})
				return
			}
			eq(t, "calls", calls(), []int{2, 2, 2})
			// Node 4's hook fails if it sees its link; it is cached, so it
			// did not. Node 3 never ran, so it has nothing cached.
			eq(t, "same seed", r.cached(), []string{"1", "2", "4", "5"})
			r = rn.run(prompt("b"))
			eq(t, "new seed ran", r.ran(), []string{"1", "2", "4", "5"})
			for _, seed := range []string{"nan", "nan", "error", "error"} {
				r = rn.run(prompt(seed))
				eq(t, seed+" ran", r.ran(), []string{"1", "2", "4", "5"})
			}
		})
	}
}

// TestCustomIsChanged is test_custom_is_changed: a NaN fingerprint never
// matches, so the node runs every time.
func TestCustomIsChanged(t *testing.T) {
	prompt := func(change bool) string {
		return fmt.Sprintf(`{
 "1": {"class_type": "Show", "inputs": {"value": ["2", 0]}},
 "2": {"class_type": "CustomIsChanged", "inputs": {"image": ["3", 0], "should_change": %v}},
 "3": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 2, "width": 2, "batch_size": 1}}
}`, change)
	}
	rn := newRunner(t, Config{})
	eq(t, "run 1", rn.run(prompt(false)).ran(), []string{"3", "2", "1"})
	eq(t, "run 2", rn.run(prompt(false)).ran(), nil)
	eq(t, "run 3", rn.run(prompt(true)).ran(), []string{"2", "1"})
	eq(t, "run 4", rn.run(prompt(true)).ran(), []string{"2", "1"})
}

// TestCacheModes: what each mode keeps across prompts A, B, A, B.
func TestCacheModes(t *testing.T) {
	plenty := func() (uint64, bool) { return 1 << 40, true }
	for _, tc := range []struct {
		name string
		cfg  Config
		// cached[i]: the nodes cached at the start of run i (A, B, A, B).
		cached [4][]string
	}{
		{"classic keeps the latest prompt", Config{Cache: Classic}, [4][]string{{}, {}, {}, {}}},
		{"lru 100 keeps all", Config{Cache: LRU, LRUSize: 100}, [4][]string{{}, {}, {"1", "2"}, {"1", "2"}}},
		{"lru 2 evicts the oldest generation", Config{Cache: LRU, LRUSize: 2}, [4][]string{{}, {}, {"1", "2"}, {}}},
		{"none", Config{Cache: None}, [4][]string{{}, {}, {}, {}}},
		{"ram with room keeps all", Config{Cache: RAMPressure, MemAvailable: plenty}, [4][]string{{}, {}, {"1", "2"}, {"1", "2"}}},
		{"ram below the inactive headroom drops older prompts", Config{Cache: RAMPressure, RAMHeadroom: 100, RAMInactiveHeadroom: 1000,
			MemAvailable: func() (uint64, bool) { return 500, true }}, [4][]string{{}, {}, {}, {}}},
		{"ram unknown drops older prompts", Config{Cache: RAMPressure,
			MemAvailable: func() (uint64, bool) { return 0, false }}, [4][]string{{}, {}, {}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rn := newRunner(t, tc.cfg)
			for i, v := range []int{1, 2, 1, 2} {
				r := rn.run(intPrompt(v))
				if !r.Success {
					t.Fatalf("run %d failed", i)
				}
				eq(t, fmt.Sprintf("cached in run %d", i+1), r.cached(), tc.cached[i])
			}
		})
	}
}

// TestCacheModesRerun: the same prompt twice (of ints, whose entries
// count as no RAM, so eviction never reaches the headroom).
func TestCacheModesRerun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		cached []string
	}{
		{"ram below the inactive headroom keeps the running prompt", Config{Cache: RAMPressure, RAMHeadroom: 100, RAMInactiveHeadroom: 1000,
			MemAvailable: func() (uint64, bool) { return 500, true }}, []string{"1", "2"}},
		{"ram below the active headroom keeps nothing", Config{Cache: RAMPressure, RAMHeadroom: 100,
			MemAvailable: func() (uint64, bool) { return 50, true }}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rn := newRunner(t, tc.cfg)
			r := rn.run(intPrompt(1))
			if !r.Success {
				t.Fatal("the first run failed: the edge cache must carry values the cache dropped")
			}
			eq(t, "cached", rn.run(intPrompt(1)).cached(), tc.cached)
		})
	}
}

// TestReset: Reset drops everything.
func TestReset(t *testing.T) {
	rn := newRunner(t, Config{Cache: LRU, LRUSize: 10})
	rn.run(intPrompt(1))
	rn.ex.Reset()
	eq(t, "cached", rn.run(intPrompt(1)).cached(), []string{})
}

// TestExecutionCachedOrder: execution_cached lists in prompt order.
func TestExecutionCachedOrder(t *testing.T) {
	rn := newRunner(t, Config{})
	const prompt = `{"b": {"class_type": "Show", "inputs": {"value": ["a", 0]}}, "a": {"class_type": "StubInt", "inputs": {"value": 1}}}`
	rn.run(prompt)
	eq(t, "cached", rn.run(prompt).cached(), []string{"b", "a"})
}

// TestCachedUIWithoutClient: a cached output's UI is in the outcome when
// the prompt has no client (ComfyUI v0.27 dropped it).
func TestCachedUIWithoutClient(t *testing.T) {
	rn := newRunner(t, Config{})
	rn.runJob(Job{Prompt: mustPrompt(t, workedExample)})
	r := rn.runJob(Job{Prompt: mustPrompt(t, workedExample)})
	eq(t, "outputs", outputIDs(r.Outputs), []string{"2"})
	if len(r.events) != 1 || r.events[0].Type != "progress_state" || !r.events[0].All {
		t.Errorf("events = %s", joinTypes(r))
	}
}

// TestRAMEvictionOrder: the largest, oldest entries go first, and evicted
// tensor bytes count as freed, so eviction stops at the headroom.
func TestRAMEvictionOrder(t *testing.T) {
	rn := newRunner(t, Config{Cache: RAMPressure, RAMHeadroom: 100,
		MemAvailable: func() (uint64, bool) { return 50, true }})
	// The image (64×64×3 float32) goes; the save node's entry stays.
	rn.run(workedExample)
	eq(t, "cached", rn.run(workedExample).cached(), []string{"2"})
}

func TestParseMeminfo(t *testing.T) {
	const text = "MemTotal:       24000000 kB\nMemFree:        1 kB\nMemAvailable:   22000000 kB\nBad: x kB\n"
	for _, tc := range []struct {
		field string
		want  uint64
		ok    bool
	}{
		{"MemTotal:", 24000000 * 1024, true},
		{"MemAvailable:", 22000000 * 1024, true},
		{"Bad:", 0, false},
		{"Missing:", 0, false},
	} {
		got, ok := parseMeminfo([]byte(text), tc.field)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s = %d, %v; want %d, %v", tc.field, got, ok, tc.want, tc.ok)
		}
	}
}
