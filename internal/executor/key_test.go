package executor

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// TestHashableEquality: the canonical encoding follows Python's equality.
func TestHashableEquality(t *testing.T) {
	enc := func(v any) string { return string(appendHashable(nil, v)) }
	equal := [][]any{
		{json.Number("1"), json.Number("1.0"), true, int64(1), 1.0, pyjson.Float(1), uint64(1), json.Number("1e0")},
		{json.Number("0"), false, json.Number("-0.0"), 0.0},
		{[]any{}, map[string]any{}, pyjson.Object{}},
		{[]any{json.Number("2"), "x"}, []any{2.0, "x"}},
		{map[string]any{"a": int64(1), "b": "c"}, pyjson.Object{{Key: "b", Value: "c"}, {Key: "a", Value: 1.0}}},
		{json.Number("18446744073709551615"), uint64(math.MaxUint64)},
		{json.Number("1e300"), 1e300},
		{node.Link{From: "a", Slot: 1}, []any{"a", json.Number("1")}},
	}
	for _, group := range equal {
		for _, v := range group[1:] {
			if enc(v) != enc(group[0]) {
				t.Errorf("%#v and %#v encode differently", group[0], v)
			}
		}
	}
	distinct := []any{json.Number("1"), "1", json.Number("1.5"), []any{json.Number("1")}, nil,
		json.Number("18446744073709551616"), json.Number("9007199254740993"), 9007199254740992.0,
		[]any{"a", "b"}, []any{"b", "a"}, map[string]any{"a": "b"}, math.Inf(1)}
	for i, a := range distinct {
		for _, b := range distinct[i+1:] {
			if enc(a) == enc(b) {
				t.Errorf("%#v and %#v encode the same", a, b)
			}
		}
	}
	for _, v := range []any{math.NaN(), struct{}{}, []any{math.NaN()}} {
		if first, second := enc(v), enc(v); first == second {
			t.Errorf("%#v does not make a fresh key", v)
		}
	}
}

// refKey is ComfyUI's key written out as it builds it: the signature list
// of the node and its ancestors in DFS order (inputs sorted by name), links
// as ("ANCESTOR", index, slot). Equal strings are equal Python keys.
func refKey(r *run, id string) string {
	order := map[string]int{}
	var ancestors []string
	var visit func(id string)
	visit = func(id string) {
		n := r.dp.nodes[id]
		for _, i := range n.byName {
			if in := n.inputs[i]; in.link {
				if _, ok := order[in.from]; !ok {
					ancestors = append(ancestors, in.from)
					order[in.from] = len(ancestors) - 1
					visit(in.from)
				}
			}
		}
	}
	visit(id)
	var b strings.Builder
	for _, id := range append([]string{id}, ancestors...) {
		n := r.dp.nodes[id]
		fmt.Fprintf(&b, "[%s %x", n.def.ClassType, r.fingerprint(n))
		if n.class.NotIdempotent {
			fmt.Fprintf(&b, " id=%s", id)
		}
		for _, i := range n.byName {
			in := n.inputs[i]
			if in.link {
				fmt.Fprintf(&b, " (%s ANCESTOR %d %d)", in.name, order[in.from], in.slot)
			} else {
				fmt.Fprintf(&b, " (%s %x)", in.name, appendHashable(nil, in.value))
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

// randomPrompt builds a prompt from a small alphabet so that twins (equal
// nodes that are distinct) and shared nodes are both common; cyclic allows
// links to any node.
func randomPrompt(rng *rand.Rand, cyclic bool) string {
	n := 2 + rng.IntN(7)
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		class := "Op"
		if rng.IntN(4) == 0 {
			class = "NotIdempotent"
		}
		fmt.Fprintf(&b, `"%d": {"class_type": %q, "inputs": {`, i, class)
		var ins []string
		for _, name := range []string{"a", "b", "c"} {
			switch k := rng.IntN(4); {
			case k == 0:
			case k == 1 || (i == 0 && !cyclic):
				ins = append(ins, fmt.Sprintf(`%q: %d`, name, rng.IntN(2)))
			default:
				src := rng.IntN(max(i, 1))
				if cyclic {
					src = rng.IntN(n)
				}
				ins = append(ins, fmt.Sprintf(`%q: ["%d", %d]`, name, src, rng.IntN(2)))
			}
		}
		if class == "NotIdempotent" {
			ins = append(ins, `"value": 1`)
		}
		b.WriteString(strings.Join(ins, ", "))
		b.WriteString("}}")
	}
	b.WriteString("}")
	return b.String()
}

type keyed struct{ key, ref, where string }

// keysOf computes every node's key and reference key in one prompt.
func keysOf(t testing.TB, rn *runner, js string) []keyed {
	r := newRun(t.Context(), rn.ex, Job{PromptID: "k", Prompt: mustPrompt(t, js)}, nil)
	defer r.close()
	var out []keyed
	for _, n := range r.dp.all {
		k := r.keys.key(n)
		out = append(out, keyed{string(k[:]), refKey(r, n.id), js + " node " + n.id})
	}
	return out
}

// checkKeyEquivalence: two nodes have equal keys exactly when ComfyUI's
// keys are equal.
func checkKeyEquivalence(t testing.TB, all []keyed) {
	t.Helper()
	for i, a := range all {
		for _, b := range all[i+1:] {
			if (a.key == b.key) != (a.ref == b.ref) {
				t.Fatalf("key equality %v, ComfyUI's %v:\n%s\n%s\n%s\n%s", a.key == b.key, a.ref == b.ref, a.where, a.ref, b.where, b.ref)
			}
		}
	}
}

// TestKeysMatchComfyUI compares the Merkle-with-fallback keys with
// ComfyUI's signature lists over random prompts, acyclic and cyclic.
func TestKeysMatchComfyUI(t *testing.T) {
	rn := newRunner(t, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	for _, cyclic := range []bool{false, true} {
		var all []keyed
		for range 150 {
			all = append(all, keysOf(t, rn, randomPrompt(rng, cyclic))...)
		}
		checkKeyEquivalence(t, all)
	}
}

// TestTwinsAndSharing: the case a plain Merkle hash gets wrong — one shared
// source versus two identical sources — has different keys, as in ComfyUI.
func TestTwinsAndSharing(t *testing.T) {
	rn := newRunner(t, Config{})
	shared := keysOf(t, rn, `{"1": {"class_type": "Op", "inputs": {"v": 1}},
		"3": {"class_type": "Op", "inputs": {"a": ["1", 0], "b": ["1", 0]}}}`)
	twins := keysOf(t, rn, `{"1": {"class_type": "Op", "inputs": {"v": 1}}, "2": {"class_type": "Op", "inputs": {"v": 1}},
		"3": {"class_type": "Op", "inputs": {"a": ["1", 0], "b": ["2", 0]}}}`)
	if shared[1].key == twins[2].key {
		t.Error("a shared source and twin sources give one key")
	}
	if shared[0].key != twins[0].key || twins[0].key != twins[1].key {
		t.Error("identical sources differ")
	}
}

// FuzzKeyEquivalence runs the comparison on prompts built from the fuzzer's
// seeds.
func FuzzKeyEquivalence(f *testing.F) {
	f.Add(uint64(1), uint64(2), false)
	f.Add(uint64(7), uint64(9), true)
	rn := newRunner(f, Config{})
	f.Fuzz(func(t *testing.T, s1, s2 uint64, cyclic bool) {
		rng := rand.New(rand.NewPCG(s1, s2))
		var all []keyed
		for range 4 {
			all = append(all, keysOf(t, rn, randomPrompt(rng, cyclic))...)
		}
		checkKeyEquivalence(t, all)
	})
}
