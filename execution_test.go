package gocomfy_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
)

// This file ports ComfyUI's tests/execution/test_execution.py (class
// TestExecution) and test_progress_isolation.py to black-box tests of the
// real server. Images are 64×64 instead of 512×512 to keep the suite fast;
// where the Python test mixes sizes (test_error) the ratio is kept. The
// Python timing asserts (parallel sleeps finishing under a bound) become
// assertions on message order: all sleeps were running at once.

// side is the image size of the ported tests (512 in the Python ones).
const side = 64

// cacheMode is one server configuration of a parametrized Python class.
type cacheMode struct {
	name   string
	cache  gocomfy.CacheMode
	lru    int
	caches bool // should_cache_results
}

var (
	modeClassic = cacheMode{"classic", gocomfy.CacheClassic, 0, true}
	modeLRU100  = cacheMode{"lru_100", gocomfy.CacheLRU, 100, true}
	modeNone    = cacheMode{"none", gocomfy.CacheNone, 0, false}
)

// env is what a ported test gets: its client, its GraphBuilder (prefixed
// with the Python test name) and the server's cache mode.
type env struct {
	*comfyClient
	g     *graph
	mode  cacheMode
	suite string // ComfyClient.set_test_name's "execution" or "async_nodes"
	name  string // the Python test name, e.g. test_lazy_input
}

// scenario is one ported Python test.
type scenario struct {
	name string // the Python name without test_
	run  func(t *testing.T, e *env)
}

// newEnv makes the env of the Python test name on ts.
func newEnv(t *testing.T, ts *testServer, mode cacheMode, suite, name string) *env {
	return &env{
		comfyClient: newComfyClient(t, ts, fmt.Sprintf("%s[%s]", suite, name)),
		g:           newGraph(name), mode: mode, suite: suite, name: name,
	}
}

// param runs one case of a pytest.mark.parametrize test as a subtest, with
// its own env named as pytest names the case ("test_x[5-True]").
func (e *env) param(t *testing.T, id string, run func(t *testing.T, e *env)) {
	t.Run(id, func(t *testing.T) {
		run(t, newEnv(t, e.ts, e.mode, e.suite, e.name+"["+id+"]"))
	})
}

// runSuite starts one server per mode and runs the scenarios in order
// against it, as pytest runs a class-parametrized class: a server per
// parameter, its tests in file order (later tests may meet earlier
// prompts' cache entries, as they do in ComfyUI's suite).
func runSuite(t *testing.T, suite string, modes []cacheMode, parallel bool, scenarios []scenario) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			ts := startServer(t, gocomfy.Config{EnableTestNodes: true, Cache: mode.cache, LRUSize: mode.lru})
			for _, s := range scenarios {
				t.Run(s.name, func(t *testing.T) {
					s.run(t, newEnv(t, ts, mode, suite, "test_"+s.name))
				})
			}
		})
	}
}

// TestExecution runs the TestExecution scenarios under the three cache
// modes of the Python class, with a server each, in parallel.
func TestExecution(t *testing.T) {
	t.Parallel()
	runSuite(t, "execution", []cacheMode{modeClassic, modeLRU100, modeNone}, true, executionScenarios)
}

var executionScenarios = []scenario{
	{"lazy_input", testLazyInput},
	{"full_cache", testFullCache},
	{"partial_cache", testPartialCache},
	{"error", testError},
	{"validation_error_literal", testValidationErrorLiteral},
	{"validation_error_edge1", testValidationErrorEdge1},
	{"validation_error_edge2", validationEdge("TestCustomValidation2")},
	{"validation_error_edge3", validationEdge("TestCustomValidation3")},
	{"validation_error_edge4", validationEdge("TestCustomValidation4")},
	{"validation_error_kwargs", testValidationErrorKwargs},
	{"cycle_error", testCycleError},
	{"dynamic_cycle_error", testDynamicCycleError},
	{"missing_node_error", testMissingNodeError},
	{"custom_is_changed", testCustomIsChanged},
	{"undeclared_inputs", testUndeclaredInputs},
	{"for_loop", testForLoop},
	{"mixed_expansion_returns", testMixedExpansionReturns},
	{"mixed_lazy_results", testMixedLazyResults},
	{"output_reuse", testOutputReuse},
	{"is_changed_with_outputs", testIsChangedWithOutputs},
	{"parallel_sleep_nodes", testParallelSleepNodes},
	{"parallel_sleep_expansion", testParallelSleepExpansion},
	{"execution_block_list_output", testExecutionBlockListOutput},
	{"partial_execution_included_outputs", testPartialExecutionIncludedOutputs},
	{"partial_execution_excluded_outputs", testPartialExecutionExcludedOutputs},
	{"partial_execution_dependencies", testPartialExecutionDependencies},
	{"partial_execution_with_lazy_nodes", testPartialExecutionWithLazyNodes},
	{"partial_execution_multiple_output_nodes", testPartialExecutionMultipleOutputNodes},
	{"partial_execution_empty_list", testPartialExecutionEmptyList},
	{"offset_returns_different_items_than_beginning_of_history", testOffsetReturnsDifferentItems},
	{"offset_beyond_history_length_returns_empty", testOffsetBeyondHistoryLength},
	{"offset_at_exact_history_length_returns_empty", testOffsetAtExactHistoryLength},
	{"offset_zero_equals_no_offset_parameter", testOffsetZeroEqualsNoOffset},
	{"offset_without_max_items_skips_from_beginning", testOffsetWithoutMaxItems},
	{"offset_with_max_items_returns_correct_window", testOffsetWithMaxItems},
	{"offset_near_end_returns_remaining_items_only", testOffsetNearEnd},
	{"jobs_api_job_structure", testJobsAPIJobStructure},
	{"jobs_api_preview_output_structure", testJobsAPIPreviewOutputStructure},
	{"jobs_api_pagination", testJobsAPIPagination},
	{"jobs_api_sorting", testJobsAPISorting},
	{"jobs_api_status_filter", testJobsAPIStatusFilter},
	{"get_job_by_id", testGetJobByID},
	{"get_job_not_found", testGetJobNotFound},
}

// stub is a side×side StubImage of content.
func stub(g *graph, content string) *gnode {
	return g.node("StubImage", "content", content, "height", side, "width", side, "batch_size", 1)
}

// stubMask is a side×side StubMask of value (a number or a link).
func stubMask(g *graph, value any) *gnode {
	return g.node("StubMask", "value", value, "height", side, "width", side, "batch_size", 1)
}

// lazyMix is TestLazyMixImages; a nil image leaves that input out.
func lazyMix(g *graph, image1, image2, mask *gnode) *gnode {
	n := g.node("TestLazyMixImages", "mask", mask.out(0))
	if image1 != nil {
		n.set("image1", image1.out(0))
	}
	if image2 != nil {
		n.set("image2", image2.out(0))
	}
	return n
}

func save(g *graph, images *gnode, index int) *gnode {
	return g.node("SaveImage", "images", images.out(index))
}

func preview(g *graph, images *gnode) *gnode {
	return g.node("PreviewImage", "images", images.out(0))
}

// wantRan asserts did_run for each node.
func wantRan(t *testing.T, r execResult, want bool, ns ...*gnode) {
	t.Helper()
	for _, n := range ns {
		if r.didRun(n.id) != want {
			t.Errorf("did_run(%s) = %v, want %v", n.id, !want, want)
		}
	}
}

// wantExecuted asserts was_executed (ran or cached) for each node.
func wantExecuted(t *testing.T, r execResult, ns ...*gnode) {
	t.Helper()
	for _, n := range ns {
		if !r.wasExecuted(n.id) {
			t.Errorf("%s was neither run nor cached", n.id)
		}
	}
}

// wantImages asserts how many images n's output holds and returns them.
func wantImages(t *testing.T, r execResult, n *gnode, count int) {
	t.Helper()
	if got := len(r.imagesOf(n)); got != count {
		t.Fatalf("%s has %d images, want %d", n.id, got, count)
	}
}

func testLazyInput(t *testing.T, e *env) {
	g := e.g
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	mask := stubMask(g, 0.0)
	mix := lazyMix(g, input1, input2, mask)
	out := save(g, mix, 0)
	r := e.run(g)
	wantImages(t, r, out, 1)
	wantFlat(t, "image", r.imagesOf(out)[0], 0)
	wantRan(t, r, true, input1, mask, mix)
	wantRan(t, r, false, input2)
}

// lazyMixGraph is the graph of test_full_cache and test_partial_cache.
func lazyMixGraph(g *graph) (input1, input2, mask *gnode) {
	input1, input2 = stub(g, "BLACK"), stub(g, "NOISE")
	mask = stubMask(g, 0.5)
	save(g, lazyMix(g, input1, input2, mask), 0)
	return input1, input2, mask
}

func testFullCache(t *testing.T, e *env) {
	lazyMixGraph(e.g)
	e.run(e.g)
	r := e.run(e.g)
	for _, n := range e.g.nodes {
		if r.didRun(n.id) == e.mode.caches {
			t.Errorf("node %s: did_run = %v with caching %v", n.id, r.didRun(n.id), e.mode.caches)
		}
	}
}

func testPartialCache(t *testing.T, e *env) {
	input1, input2, mask := lazyMixGraph(e.g)
	e.run(e.g)
	mask.set("value", 0.4)
	r := e.run(e.g)
	wantRan(t, r, !e.mode.caches, input1, input2)
}

func testError(t *testing.T, e *env) {
	g := e.g
	input1 := stub(g, "BLACK")
	input2 := g.node("StubImage", "content", "NOISE", "height", side/2, "width", side/2, "batch_size", 1)
	save(g, lazyMix(g, input1, input2, stubMask(g, 0.5)), 0)
	if err := e.runError(g); err["prompt_id"] == nil {
		t.Errorf("no prompt_id in the error: %v", err)
	}
}

// validation is class(input1, input2=3.0) → SaveImage, the graph of the
// test_validation_error_* tests.
func validation(g *graph, class string, input1 any) {
	v := g.node(class, "input1", input1, "input2", 3.0)
	save(g, v, 0)
}

func testValidationErrorLiteral(t *testing.T, e *env) {
	for _, c := range []struct {
		id    string
		value any
		fails bool
	}{{"5-True", 5, true}, {"foo-True", "foo", true}, {"5.0-False", 5.0, false}} {
		e.param(t, c.id, func(t *testing.T, e *env) {
			validation(e.g, "TestCustomValidation1", c.value)
			if c.fails {
				e.reject(e.g, nil)
			} else {
				e.run(e.g)
			}
		})
	}
}

func testValidationErrorEdge1(t *testing.T, e *env) {
	for _, c := range []struct {
		id, class string
		value     any
	}{{"StubInt-5", "StubInt", 5}, {"StubMask-5.0", "StubMask", 5.0}} {
		e.param(t, c.id, func(t *testing.T, e *env) {
			validation(e.g, "TestCustomValidation1", e.g.node(c.class, "value", c.value).out(0))
			e.reject(e.g, nil)
		})
	}
}

// validationEdge is test_validation_error_edge2 to 4: a StubInt link is
// rejected, a StubFloat link runs.
func validationEdge(class string) func(t *testing.T, e *env) {
	return func(t *testing.T, e *env) {
		for _, c := range []struct {
			id, class string
			value     any
			fails     bool
		}{{"StubInt-5-True", "StubInt", 5, true}, {"StubFloat-5.0-False", "StubFloat", 5.0, false}} {
			e.param(t, c.id, func(t *testing.T, e *env) {
				validation(e.g, class, e.g.node(c.class, "value", c.value).out(0))
				if c.fails {
					e.reject(e.g, nil)
				} else {
					e.run(e.g)
				}
			})
		}
	}
}

func testValidationErrorKwargs(t *testing.T, e *env) {
	for _, c := range []struct {
		id             string
		value1, value2 float64
		fails          bool
	}{{"0.0-0.5-False", 0, 0.5, false}, {"0.0-5.0-False", 0, 5, false}, {"0.0-7.0-True", 0, 7, true}} {
		e.param(t, c.id, func(t *testing.T, e *env) {
			v := e.g.node("TestCustomValidation5", "input1", c.value1, "input2", c.value2)
			save(e.g, v, 0)
			if c.fails {
				e.reject(e.g, nil)
			} else {
				e.run(e.g)
			}
		})
	}
}

// testCycleError: despite its name there is no cycle in this graph; the
// 400 comes from mix1's missing required image2 (spec §8.3).
func testCycleError(t *testing.T, e *env) {
	g := e.g
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	mask := stubMask(g, 0.5)
	mix1 := lazyMix(g, input1, nil, mask)
	mix2 := lazyMix(g, mix1, input2, mask)
	save(g, mix2, 0)
	e.reject(g, nil)
}

func testDynamicCycleError(t *testing.T, e *env) {
	g := e.g
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	generator := g.node("TestDynamicDependencyCycle", "input1", input1.out(0), "input2", input2.out(0))
	save(g, generator, 0)
	err := e.runError(g)
	if err["prompt_id"] == nil {
		t.Errorf("no prompt_id in the error: %v", err)
	}
	if err["node_id"] != generator.id {
		t.Errorf("error on node %v, want the generator %s", err["node_id"], generator.id)
	}
}

func testMissingNodeError(t *testing.T, e *env) {
	g := e.g
	input1 := stub(g, "BLACK")
	input2 := g.nodeWithID("removeme", "StubImage", "content", "WHITE", "height", side, "width", side, "batch_size", 1)
	input3 := stub(g, "WHITE")
	mask := stubMask(g, 0.5)
	mix1 := lazyMix(g, input1, input2, mask)
	mix2 := lazyMix(g, input1, input3, mask)
	// Two outputs: the first is invalid, the second valid.
	save(g, mix1, 0)
	save(g, mix2, 0)
	g.remove("removeme")
	e.run(g)
	// Add the missing node back: the error must not have broken the server.
	g.nodeWithID("removeme", "StubImage", "content", "WHITE", "height", side, "width", side, "batch_size", 1)
	e.run(g)
}

func testCustomIsChanged(t *testing.T, e *env) {
	g := e.g
	// Creating the nodes in this order once caused a bug in ComfyUI.
	out := g.node("SaveImage")
	isChanged := g.node("TestCustomIsChanged", "should_change", false)
	input1 := stub(g, "BLACK")
	out.set("images", isChanged.out(0))
	isChanged.set("image", input1.out(0))

	r1 := e.run(g)
	r2 := e.run(g)
	isChanged.set("should_change", true)
	r3 := e.run(g)
	r4 := e.run(g)
	wantRan(t, r1, true, isChanged)
	wantRan(t, r2, !e.mode.caches, isChanged)
	wantRan(t, r3, true, isChanged)
	wantRan(t, r4, true, isChanged)
}

func testUndeclaredInputs(t *testing.T, e *env) {
	g := e.g
	input1, input2, input3, input4 := stub(g, "BLACK"), stub(g, "WHITE"), stub(g, "BLACK"), stub(g, "BLACK")
	average := g.node("TestVariadicAverage", "input1", input1.out(0), "input2", input2.out(0),
		"input3", input3.out(0), "input4", input4.out(0))
	out := save(g, average, 0)
	r := e.run(g)
	wantImages(t, r, out, 1)
	wantFlat(t, "image", r.imagesOf(out)[0], 255/4)
}

func testForLoop(t *testing.T, e *env) {
	g := e.g
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	isChanged := g.node("TestCustomIsChanged", "should_change", true, "image", input2.out(0))
	open := g.node("TestForLoopOpen", "remaining", 4, "initial_value1", isChanged.out(0))
	average := g.node("TestVariadicAverage", "input1", input1.out(0), "input2", open.out(2))
	closeNode := g.node("TestForLoopClose", "flow_control", open.out(0), "initial_value1", average.out(0))
	out := save(g, closeNode, 0)
	for iterations := 1; iterations <= 4; iterations++ {
		open.set("remaining", iterations)
		r := e.run(g)
		wantImages(t, r, out, 1)
		wantFlat(t, fmt.Sprintf("%d iterations", iterations), r.imagesOf(out)[0], uint8(255>>iterations))
		wantRan(t, r, true, isChanged)
	}
}

func testMixedExpansionReturns(t *testing.T, e *env) {
	g := e.g
	values := g.node("TestMakeListNode", "value1", 0.1, "value2", 0.2, "value3", 0.3)
	mixed := g.node("TestMixedExpansionReturns", "input1", values.out(0))
	dynamic := save(g, mixed, 0)
	literal := save(g, mixed, 1)
	r := e.run(g)
	wantImages(t, r, dynamic, 3)
	for i, want := range []uint8{25, 51, 76} {
		wantFlat(t, fmt.Sprintf("dynamic image %d", i), r.imagesOf(dynamic)[i], want)
	}
	wantImages(t, r, literal, 3)
	for i, img := range r.imagesOf(literal) {
		wantFlat(t, fmt.Sprintf("literal image %d", i), img, 255)
	}
}

func testMixedLazyResults(t *testing.T, e *env) {
	g := e.g
	values := g.node("TestMakeListNode", "value1", 0.0, "value2", 0.5, "value3", 1.0)
	mask := stubMask(g, values.out(0))
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	mix := lazyMix(g, input1, input2, mask)
	rebatch := g.node("RebatchImages", "images", mix.out(0), "batch_size", 3)
	out := save(g, rebatch, 0)
	r := e.run(g)
	wantImages(t, r, out, 3)
	for i, want := range []uint8{0, 127, 255} {
		wantFlat(t, fmt.Sprintf("image %d", i), r.imagesOf(out)[i], want)
	}
}

func testOutputReuse(t *testing.T, e *env) {
	g := e.g
	input1 := stub(g, "BLACK")
	out1, out2 := save(g, input1, 0), save(g, input1, 0)
	r := e.run(g)
	wantImages(t, r, out1, 1)
	wantImages(t, r, out2, 1)
}

// testIsChangedWithOutputs: only constant inputs reach IS_CHANGED.
func testIsChangedWithOutputs(t *testing.T, e *env) {
	g := e.g
	input1 := g.node("StubConstantImage", "value", 0.5, "height", side, "width", side, "batch_size", 1)
	node := g.node("TestIsChangedWithConstants", "image", input1.out(0), "value", 0.5)
	out := preview(g, node)
	for run := 1; run <= 2; run++ {
		r := e.run(g)
		wantImages(t, r, out, 1)
		wantFlat(t, fmt.Sprintf("run %d", run), r.imagesOf(out)[0], 63)
		if run == 2 {
			wantRan(t, r, !e.mode.caches, node)
		}
	}
}

// testParallelSleepNodes: three async sleeps run at once. ComfyUI asserts
// wall time < the sum of the sleeps; here one progress_state must show all
// three running (the wall time is only logged).
func testParallelSleepNodes(t *testing.T, e *env) {
	e.warmup("warmup")
	g := e.g
	img := stub(g, "BLACK")
	var sleeps []*gnode
	for _, s := range []float64{0.3, 0.5, 0.4} {
		sleeps = append(sleeps, g.node("TestSleep", "value", img.out(0), "seconds", s))
	}
	for _, s := range sleeps {
		preview(g, s)
	}
	start := time.Now()
	r := e.run(g)
	t.Logf("sleeps of 0.3, 0.5 and 0.4 s took %v", time.Since(start))
	wantRan(t, r, true, sleeps...)
	if n := r.maxRunning(nodesIn(sleeps...)); n != 3 {
		t.Errorf("at most %d sleeps ran at once, want 3\n%s", n, r)
	}
}

func testParallelSleepExpansion(t *testing.T, e *env) {
	e.warmup("warmup")
	g := e.g
	image1, image2, image3 := stub(g, "BLACK"), stub(g, "WHITE"), stub(g, "WHITE")
	parallel := g.node("TestParallelSleep", "image1", image1.out(0), "image2", image2.out(0), "image3", image3.out(0),
		"sleep1", 0.3, "sleep2", 0.4, "sleep3", 0.5)
	out := save(g, parallel, 0)
	start := time.Now()
	r := e.run(g)
	t.Logf("expanded sleeps of 0.3, 0.4 and 0.5 s took %v", time.Since(start))
	wantRan(t, r, true, parallel)
	if n := r.maxRunning(childrenOf(parallel)); n < 3 {
		t.Errorf("at most %d expanded nodes ran at once, want the 3 sleeps\n%s", n, r)
	}
	wantImages(t, r, out, 1)
	if m := pixelMean(r.imagesOf(out)[0]); m != 170 {
		t.Errorf("mean %v, want 170", m)
	}
}

// testExecutionBlockListOutput: an OUTPUT_IS_LIST node given a list with an
// ExecutionBlocker blocks only that entry.
func testExecutionBlockListOutput(t *testing.T, e *env) {
	g := e.g
	image1, image2, image3 := stub(g, "BLACK"), stub(g, "WHITE"), stub(g, "BLACK")
	images := g.node("TestMakeListNode", "value1", image1.out(0), "value2", image2.out(0), "value3", image3.out(0))
	int1, int2, int3 := g.node("StubInt", "value", 1), g.node("StubInt", "value", 2), g.node("StubInt", "value", 3)
	ints := g.node("TestMakeListNode", "value1", int1.out(0), "value2", int2.out(0), "value3", int3.out(0))
	compare := g.node("TestIntConditions", "a", ints.out(0), "b", 2, "operation", "==")
	blocker := g.node("TestExecutionBlocker", "input", images.out(0), "block", compare.out(0), "verbose", false)
	list := g.node("TestMakeListNode", "value1", blocker.out(0))
	out := preview(g, list)
	r := e.run(g)
	wantRan(t, r, true, out)
	wantImages(t, r, out, 2)
	for i, img := range r.imagesOf(out) {
		wantFlat(t, fmt.Sprintf("image %d", i), img, 0)
	}
}

func testPartialExecutionIncludedOutputs(t *testing.T, e *env) {
	g := e.g
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	out1, out2 := save(g, input1, 0), save(g, input2, 0)
	r := e.runPartial(g, []string{out1.id})
	wantExecuted(t, r, input1, out1)
	wantRan(t, r, false, input2, out2)
	wantImages(t, r, out1, 1)
	wantImages(t, r, out2, 0)
}

func testPartialExecutionExcludedOutputs(t *testing.T, e *env) {
	g := e.g
	input1, input2, input3 := stub(g, "BLACK"), stub(g, "WHITE"), stub(g, "NOISE")
	out1, out2, out3 := save(g, input1, 0), save(g, input2, 0), save(g, input3, 0)
	r := e.runPartial(g, []string{out1.id, out3.id})
	wantExecuted(t, r, input1, input3, out1, out3)
	wantRan(t, r, false, input2, out2)
}

// testPartialExecutionDependencies: an output node outside the targets
// runs when a target needs it.
func testPartialExecutionDependencies(t *testing.T, e *env) {
	g := e.g
	input1 := stub(g, "BLACK")
	withSocket := g.node("TestOutputNodeWithSocketOutput", "image", input1.out(0), "value", 2.0)
	dependent := g.node("TestLazyMixImages", "image1", withSocket.out(0), "image2", input1.out(0),
		"mask", stubMask(g, 0.5).out(0))
	final := save(g, dependent, 0)
	r := e.runPartial(g, []string{final.id})
	wantExecuted(t, r, input1, withSocket, dependent, final)
}

func testPartialExecutionWithLazyNodes(t *testing.T, e *env) {
	g := e.g
	input1, input2, input3 := stub(g, "BLACK"), stub(g, "WHITE"), stub(g, "NOISE")
	mask1, mask2 := stubMask(g, 0.0), stubMask(g, 0.5)
	mix1 := lazyMix(g, input1, input2, mask1)
	mix2 := lazyMix(g, input2, input3, mask2)
	out1, out2 := save(g, mix1, 0), save(g, mix2, 0)
	r := e.runPartial(g, []string{out1.id})
	wantExecuted(t, r, input1, mask1, mix1, out1)
	wantRan(t, r, false, input2, input3, mask2, mix2, out2)
}

func testPartialExecutionMultipleOutputNodes(t *testing.T, e *env) {
	g := e.g
	input1, input2 := stub(g, "BLACK"), stub(g, "WHITE")
	node1 := g.node("TestOutputNodeWithSocketOutput", "image", input1.out(0), "value", 1.5)
	node2 := g.node("TestOutputNodeWithSocketOutput", "image", node1.out(0), "value", 2.0)
	save1, save2, save3 := save(g, node1, 0), save(g, node2, 0), save(g, input2, 0)
	r := e.runPartial(g, []string{save2.id})
	wantExecuted(t, r, input1, node1, node2, save2)
	wantRan(t, r, false, input2, save1, save3)
}

func testPartialExecutionEmptyList(t *testing.T, e *env) {
	save(e.g, stub(e.g, "BLACK"), 0)
	e.reject(e.g, []string{})
}

// historyItem is _create_history_item: a small prompt that saves an image.
func (e *env) historyItem() execResult {
	e.t.Helper()
	g := newGraph("offset_test")
	img := g.node("StubImage", "content", "BLACK", "height", 32, "width", 32, "batch_size", 1)
	save(g, img, 0)
	return e.run(g)
}

func (e *env) historyItems(n int) {
	e.t.Helper()
	for range n {
		e.historyItem()
	}
}

// history is get_all_history: GET /history with max_items and offset when
// not negative.
func (e *env) history(maxItems, offset int) map[string]json.RawMessage {
	e.t.Helper()
	path := "/history"
	var q []string
	if maxItems >= 0 {
		q = append(q, fmt.Sprintf("max_items=%d", maxItems))
	}
	if offset >= 0 {
		q = append(q, fmt.Sprintf("offset=%d", offset))
	}
	if len(q) > 0 {
		path += "?" + strings.Join(q, "&")
	}
	var h map[string]json.RawMessage
	e.ts.getJSON(path, &h)
	return h
}

const omit = -1 // a parameter left out of the query

func testOffsetReturnsDifferentItems(t *testing.T, e *env) {
	e.historyItems(5)
	first, next := e.history(2, 0), e.history(2, 2)
	for id := range first {
		if _, ok := next[id]; ok {
			t.Errorf("%s is in both pages", id)
		}
	}
}

func testOffsetBeyondHistoryLength(t *testing.T, e *env) {
	e.historyItem()
	if h := e.history(omit, 100); len(h) != 0 {
		t.Errorf("offset 100 returned %d items", len(h))
	}
}

func testOffsetAtExactHistoryLength(t *testing.T, e *env) {
	e.historyItems(3)
	all := e.history(omit, omit)
	if h := e.history(omit, len(all)); len(h) != 0 {
		t.Errorf("offset %d returned %d items", len(all), len(h))
	}
}

func testOffsetZeroEqualsNoOffset(t *testing.T, e *env) {
	e.historyItem()
	withZero, without := e.history(omit, 0), e.history(omit, omit)
	if len(withZero) != len(without) {
		t.Fatalf("offset=0: %d items, no offset: %d", len(withZero), len(without))
	}
	for id, entry := range without {
		if string(withZero[id]) != string(entry) {
			t.Errorf("entry %s differs", id)
		}
	}
}

func testOffsetWithoutMaxItems(t *testing.T, e *env) {
	e.historyItems(4)
	all, rest := e.history(omit, omit), e.history(omit, 2)
	if len(rest) != len(all)-2 {
		t.Errorf("offset 2 returned %d of %d items", len(rest), len(all))
	}
}

func testOffsetWithMaxItems(t *testing.T, e *env) {
	e.historyItems(6)
	if h := e.history(2, 1); len(h) > 2 {
		t.Errorf("max_items 2 returned %d items", len(h))
	}
}

func testOffsetNearEnd(t *testing.T, e *env) {
	e.historyItems(3)
	all := e.history(omit, omit)
	if h := e.history(5, len(all)-1); len(h) > 1 {
		t.Errorf("offset len-1 returned %d items", len(h))
	}
}

// jobsPage is the response of GET /api/jobs.
type jobsPage struct {
	Jobs []map[string]json.RawMessage `json:"jobs"`
}

// jobs is get_jobs: GET /api/jobs with the given query.
func (e *env) jobs(query string) jobsPage {
	e.t.Helper()
	var p jobsPage
	e.ts.getJSON("/api/jobs?"+query, &p)
	return p
}

func jobField[T any](t *testing.T, job map[string]json.RawMessage, key string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(job[key], &v); err != nil {
		t.Fatalf("job %s: %v in %s", key, err, job[key])
	}
	return v
}

func testJobsAPIJobStructure(t *testing.T, e *env) {
	e.historyItem()
	p := e.jobs("status=completed&limit=1")
	if len(p.Jobs) == 0 {
		t.Fatal("no job")
	}
	for _, key := range []string{"id", "status", "create_time", "outputs_count", "preview_output"} {
		if _, ok := p.Jobs[0][key]; !ok {
			t.Errorf("job has no %s: %v", key, p.Jobs[0])
		}
	}
}

func testJobsAPIPreviewOutputStructure(t *testing.T, e *env) {
	e.historyItem()
	p := e.jobs("status=completed&limit=1")
	if len(p.Jobs) == 0 {
		t.Fatal("no job")
	}
	preview := jobField[map[string]any](t, p.Jobs[0], "preview_output")
	if preview == nil {
		return
	}
	for _, key := range []string{"filename", "nodeId", "mediaType"} {
		if _, ok := preview[key]; !ok {
			t.Errorf("preview_output has no %s: %v", key, preview)
		}
	}
}

func testJobsAPIPagination(t *testing.T, e *env) {
	e.historyItems(5)
	first, second := e.jobs("limit=2&offset=0"), e.jobs("limit=2&offset=2")
	if len(first.Jobs) > 2 || len(second.Jobs) > 2 {
		t.Errorf("pages of %d and %d jobs, limit 2", len(first.Jobs), len(second.Jobs))
	}
	seen := map[string]bool{}
	for _, j := range first.Jobs {
		seen[jobField[string](t, j, "id")] = true
	}
	for _, j := range second.Jobs {
		if id := jobField[string](t, j, "id"); seen[id] {
			t.Errorf("job %s is on both pages", id)
		}
	}
}

func testJobsAPISorting(t *testing.T, e *env) {
	e.historyItems(3)
	times := func(p jobsPage) []float64 {
		var ts []float64
		for _, j := range p.Jobs {
			if ct := jobField[float64](t, j, "create_time"); ct != 0 {
				ts = append(ts, ct)
			}
		}
		return ts
	}
	desc, asc := times(e.jobs("sort_order=desc")), times(e.jobs("sort_order=asc"))
	if !slices.IsSortedFunc(desc, func(a, b float64) int { return cmp.Compare(b, a) }) {
		t.Errorf("desc is not newest first: %v", desc)
	}
	if !slices.IsSorted(asc) {
		t.Errorf("asc is not oldest first: %v", asc)
	}
}

func testJobsAPIStatusFilter(t *testing.T, e *env) {
	e.historyItem()
	completed := e.jobs("status=completed")
	if len(completed.Jobs) == 0 {
		t.Error("no completed job")
	}
	for status, p := range map[string]jobsPage{"completed": completed, "pending": e.jobs("status=pending")} {
		for _, j := range p.Jobs {
			if got := jobField[string](t, j, "status"); got != status {
				t.Errorf("status=%s returned a %s job", status, got)
			}
		}
	}
}

func testGetJobByID(t *testing.T, e *env) {
	r := e.historyItem()
	var job map[string]json.RawMessage
	e.ts.getJSON("/api/jobs/"+r.promptID, &job)
	if id := jobField[string](t, job, "id"); id != r.promptID {
		t.Errorf("job id %s, want %s", id, r.promptID)
	}
	if _, ok := job["outputs"]; !ok {
		t.Errorf("job has no outputs: %v", job)
	}
}

func testGetJobNotFound(t *testing.T, e *env) {
	if status, body := e.ts.do("GET", "/api/jobs/nonexistent-job-id", nil); status != http.StatusNotFound {
		t.Errorf("GET /api/jobs/nonexistent-job-id: %d %s, want 404", status, body)
	}
}

// TestExecutionProgressIsolation ports test_progress_isolation.py: each
// client gets the progress_state messages of its own prompts only.
func TestExecutionProgressIsolation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})

	t.Run("progress_isolation_between_clients", func(t *testing.T) {
		a := newComfyClient(t, ts, "")
		b := newComfyClient(t, ts, "")
		promptOf := func(c *comfyClient, prefix, content string) string {
			g := newGraph(prefix)
			img := g.node("StubImage", "content", content, "height", 32, "width", 32, "batch_size", 1)
			preview(g, img)
			status, body := c.ts.do("POST", "/prompt", c.body(g, nil))
			if status != http.StatusOK {
				t.Fatalf("POST /prompt: %d %s", status, body)
			}
			var acc struct {
				PromptID string `json:"prompt_id"`
			}
			json.Unmarshal(body, &acc)
			return acc.PromptID
		}
		idA := promptOf(a, "client_a", "BLACK")
		idB := promptOf(b, "client_b", "WHITE")
		a.ws.waitFor(finished(idA))
		b.ws.waitFor(finished(idB))
		// Both prompts are done; one more prompt per client flushes its
		// socket, so any stray message about the other prompt has arrived.
		flushA := a.warmup("flush_a")
		flushB := b.warmup("flush_b")
		for _, c := range []struct {
			name        string
			client      *comfyClient
			own, others []string
		}{{"A", a, []string{idA, flushA}, []string{idB, flushB}}, {"B", b, []string{idB, flushB}, []string{idA, flushA}}} {
			counts := c.client.progressStates()
			if counts[c.own[0]] == 0 {
				t.Errorf("client %s got no progress_state for its prompt", c.name)
			}
			for id, n := range counts {
				if !slices.Contains(c.own, id) {
					t.Errorf("client %s got %d progress_state messages of prompt %s (others: %v)", c.name, n, id, c.others)
				}
			}
		}
	})

	t.Run("progress_with_missing_client_id", func(t *testing.T) {
		// The Python test queues with the client's own id despite its
		// name: the client gets progress for the prompt it queued.
		c := newComfyClient(t, ts, "")
		id := c.warmup("test_missing_id")
		if c.progressStates()[id] == 0 {
			t.Error("no progress_state for the client's own prompt")
		}
		// A prompt queued with no client_id at all still runs, and its
		// progress_state messages are broadcast (spec http §3.4).
		g := newGraph("no_client")
		preview(g, g.node("StubImage", "content", "WHITE", "height", 33, "width", 33, "batch_size", 1))
		body := c.body(g, nil)
		delete(body, "client_id")
		status, resp := c.ts.do("POST", "/prompt", body)
		if status != http.StatusOK {
			t.Fatalf("POST /prompt: %d %s", status, resp)
		}
		var acc struct {
			PromptID string `json:"prompt_id"`
		}
		json.Unmarshal(resp, &acc)
		for i := 0; ; i++ {
			var h map[string]struct {
				Status struct {
					StatusStr string `json:"status_str"`
				} `json:"status"`
			}
			c.ts.getJSON("/history/"+acc.PromptID, &h)
			if entry, ok := h[acc.PromptID]; ok {
				if entry.Status.StatusStr != "success" {
					t.Errorf("status %q", entry.Status.StatusStr)
				}
				break
			}
			if i == 3000 {
				t.Fatal("the prompt without client_id never reached history")
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.ws.waitFor(func(m wsMessage) bool {
			var d struct {
				PromptID string `json:"prompt_id"`
			}
			json.Unmarshal(m.Data, &d)
			return m.Type == "progress_state" && d.PromptID == acc.PromptID
		})
	})
}

// progressStates counts the progress_state messages the client received,
// by prompt id.
func (c *comfyClient) progressStates() map[string]int {
	c.ws.mu.Lock()
	defer c.ws.mu.Unlock()
	counts := map[string]int{}
	for _, m := range c.ws.msgs {
		var d struct {
			PromptID string `json:"prompt_id"`
		}
		if m.Type == "progress_state" && json.Unmarshal(m.Data, &d) == nil {
			counts[d.PromptID]++
		}
	}
	return counts
}
