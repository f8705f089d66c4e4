package testnodes

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

func TestLazyMixImagesCheckLazy(t *testing.T) {
	t.Parallel()
	check := TestLazyMixImages.CheckLazy()
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{"mask 0 needs image1", map[string]any{"mask": mask(1, 2, 2, 0)}, []string{"image1"}},
		{"mask 1 needs image2", map[string]any{"mask": mask(1, 2, 2, 1)}, []string{"image2"}},
		{"mixed mask needs both", map[string]any{"mask": mask(1, 2, 2, 0.5)}, []string{"image1", "image2"}},
		{"image1 already there", map[string]any{"mask": mask(1, 2, 2, 0.5), "image1": image(1, 2, 2, 0)}, []string{"image2"}},
		{"both there", map[string]any{"mask": mask(1, 2, 2, 0.5), "image1": image(1, 2, 2, 0), "image2": image(1, 2, 2, 1)}, nil},
	} {
		got, err := check(context.Background(), node.NewCall(nil, "7", 0, tc.values))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	_, err := check(context.Background(), node.NewCall(nil, "7", 0, map[string]any{"mask": 0.5}))
	wantException(t, err, "AttributeError", "'float' object has no attribute 'min'")
}

func TestLazyMixImagesRun(t *testing.T) {
	t.Parallel()
	black, white := image(1, 2, 2, 0), image(1, 2, 2, 1)
	r := mustCall(t, TestLazyMixImages, map[string]any{"image1": black, "mask": mask(1, 2, 2, 0)})
	if r.Outputs[0] != any(black) {
		t.Errorf("mask 0: got %s, want image1 itself", outputs(r))
	}
	r = mustCall(t, TestLazyMixImages, map[string]any{"image2": white, "mask": mask(1, 2, 2, 1)})
	if r.Outputs[0] != any(white) {
		t.Errorf("mask 1: got %s, want image2 itself", outputs(r))
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"mix", map[string]any{"image1": black, "image2": white, "mask": mask(1, 2, 2, 0.25)}, "image[1 2 2 3]=0.25"},
		{"mask batch broadcasts", map[string]any{"image1": image(2, 2, 2, 0), "image2": image(2, 2, 2, 1), "mask": mask(1, 2, 2, 0.5)}, "image[2 2 2 3]=0.5"},
	} {
		if got := outputs(mustCall(t, TestLazyMixImages, tc.values)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	_, err := call(t, TestLazyMixImages, map[string]any{"image1": image(1, 4, 4, 0), "image2": image(1, 2, 2, 1), "mask": mask(1, 4, 4, 0.5)})
	wantException(t, err, "RuntimeError", "The size of tensor a (2) must match the size of tensor b (4) at non-singleton dimension 1")
}

func TestVariadicAverageRun(t *testing.T) {
	t.Parallel()
	black, white := image(1, 2, 2, 0), image(1, 2, 2, 1)
	r := mustCall(t, TestVariadicAverage, map[string]any{
		"input1": black, "input2": white, "input3": black, "input4": black,
		"input6": white, // not consecutive: ignored
	})
	if got := outputs(r); got != "image[1 2 2 3]=0.25" {
		t.Errorf("got %s", got)
	}
	_, err := call(t, TestVariadicAverage, map[string]any{"input1": black, "input2": 0.5})
	wantException(t, err, "TypeError", "expected Tensor as element 1 in argument 0, but got float")
	_, err = call(t, TestVariadicAverage, map[string]any{"input1": black, "input2": image(1, 3, 2, 1)})
	wantException(t, err, "RuntimeError", "stack expects each tensor to be equal size, but got [1, 2, 2, 3] at entry 0 and [1, 3, 2, 3] at entry 1")
}

func fingerprint(t *testing.T, class *node.Class, values map[string]any) any {
	t.Helper()
	v, err := class.Fingerprint()(context.Background(), node.NewCall(nil, "7", 0, values))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFingerprints(t *testing.T) {
	t.Parallel()
	if v := fingerprint(t, TestCustomIsChanged, map[string]any{"should_change": true}); !isNaN(v) {
		t.Errorf("should_change: got %v, want NaN", v)
	}
	for _, values := range []map[string]any{{"should_change": false}, {}} {
		if v := fingerprint(t, TestCustomIsChanged, values); v != false {
			t.Errorf("%v: got %v, want false", values, v)
		}
	}
	if v := fingerprint(t, TestIsChangedWithConstants, map[string]any{"value": 0.5}); v != 0.5 {
		t.Errorf("no image: got %v, want the value", v)
	}
	if v := fingerprint(t, TestIsChangedWithConstants, map[string]any{"value": 2.0, "image": image(1, 2, 2, 0.5)}); v != 1.0 {
		t.Errorf("image: got %v, want mean * value", v)
	}
}

func isNaN(v any) bool {
	f, ok := v.(float64)
	return ok && math.IsNaN(f)
}

func TestPassThroughAndScale(t *testing.T) {
	t.Parallel()
	img := image(1, 2, 2, 0.5)
	for _, tc := range []struct {
		class  *node.Class
		values map[string]any
		want   string
	}{
		{TestCustomIsChanged, map[string]any{"image": img, "should_change": true}, "image[1 2 2 3]=0.5"},
		{TestIsChangedWithConstants, map[string]any{"image": img, "value": 0.5}, "image[1 2 2 3]=0.25"},
		{TestOutputNodeWithSocketOutput, map[string]any{"image": img, "value": 2.0}, "image[1 2 2 3]=1"},
		{TestCustomValidation1, map[string]any{"input1": 2.0, "input2": 3.0}, "image[1 512 512 3]=6"},
		{TestCustomValidation2, map[string]any{"input1": img, "input2": 3.0}, "image[1 2 2 3]=1.5"},
		{TestCustomValidation3, map[string]any{"input1": 0.5, "input2": img}, "image[1 2 2 3]=0.25"},
		{TestCustomValidation1, map[string]any{"input1": img, "input2": img}, "image[1 2 2 3]=0.25"},
		{TestCustomValidation4, map[string]any{"input1": 0.5, "input2": 4.0}, "image[1 512 512 3]=2"},
		{TestCustomValidation5, map[string]any{"input1": 0.5, "input2": 0.5}, "image[1 512 512 3]=0.25"},
	} {
		if got := outputs(mustCall(t, tc.class, tc.values)); got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.class.ID, tc.values, got, tc.want)
		}
	}
}

// validate runs a class's validator on literal values and linked input types.
func validate(t *testing.T, class *node.Class, values map[string]any, types map[string]string) error {
	t.Helper()
	fn, _ := class.Validator()
	if fn == nil {
		t.Fatalf("%s has no validator", class.ID)
	}
	c := node.NewCall(nil, "7", 0, values)
	c.SetInputTypes(types)
	return fn(context.Background(), c)
}

func TestCustomValidation(t *testing.T) {
	t.Parallel()
	ok := ""
	for _, tc := range []struct {
		class  *node.Class
		values map[string]any
		types  map[string]string
		want   string
	}{
		{TestCustomValidation1, map[string]any{"input1": int64(5), "input2": 3.0}, nil, "Invalid type of input1: <class 'int'>"},
		{TestCustomValidation1, map[string]any{"input1": "foo", "input2": 3.0}, nil, "Invalid type of input1: <class 'str'>"},
		{TestCustomValidation1, map[string]any{"input1": 5.0, "input2": true}, nil, "Invalid type of input2: <class 'bool'>"},
		{TestCustomValidation1, map[string]any{"input1": 5.0, "input2": 3.0}, nil, ok},
		{TestCustomValidation1, map[string]any{"input2": 3.0}, map[string]string{"input1": "INT"}, ok},
		{TestCustomValidation2, map[string]any{"input2": 3.0}, map[string]string{"input1": "INT"}, "Invalid type of input1: INT"},
		{TestCustomValidation2, map[string]any{}, map[string]string{"input1": "FLOAT", "input2": "IMAGE"}, ok},
		{TestCustomValidation2, map[string]any{"input1": int64(1)}, map[string]string{"input2": "INT"}, "Invalid type of input1: <class 'int'>"},
		{TestCustomValidation3, map[string]any{"input2": 3.0}, map[string]string{"input1": "INT"}, "Invalid type of input1: INT (expected IMAGE,FLOAT)"},
		{TestCustomValidation3, map[string]any{}, map[string]string{"input1": "MASK,IMAGE"}, "Invalid type of input1: MASK,IMAGE (expected IMAGE,FLOAT)"},
		{TestCustomValidation3, map[string]any{}, map[string]string{"input1": "FLOAT", "input2": "FLOAT,IMAGE"}, ok},
		{TestCustomValidation3, map[string]any{}, map[string]string{"input1": "*"}, ok},
		{TestCustomValidation4, map[string]any{"input1": 5.0, "input2": 1.0}, nil, ok},
		{TestCustomValidation4, map[string]any{"input1": int64(5)}, nil, "Invalid type of input1: <class 'int'>"},
		{TestCustomValidation5, map[string]any{"input1": 0.0, "input2": 5.0}, nil, ok},
		{TestCustomValidation5, map[string]any{"input1": 0.0, "input2": 7.0}, nil, "7s are not allowed. I've never liked 7s."},
		{TestCustomValidation5, map[string]any{"input1": 0.0, "input2": nil}, nil, ok},
	} {
		err := validate(t, tc.class, tc.values, tc.types)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s %v %v: got %q, want %q", tc.class.ID, tc.values, tc.types, got, tc.want)
		}
	}
	wantException(t, validate(t, TestCustomValidation5, map[string]any{}, nil), "KeyError", "'input2'")
}

func TestValidatorOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		class *node.Class
		want  node.ValidateOptions
	}{
		{TestCustomValidation1, node.ValidateOptions{Inputs: []string{"input1", "input2"}}},
		{TestCustomValidation2, node.ValidateOptions{Inputs: []string{"input1", "input2"}, InputTypes: true}},
		{TestCustomValidation3, node.ValidateOptions{InputTypes: true}},
		{TestCustomValidation4, node.ValidateOptions{Inputs: []string{"input1", "input2"}}},
		{TestCustomValidation5, node.ValidateOptions{AllInputs: true}},
		{TestWhileLoopClose, node.ValidateOptions{InputTypes: true}},
		{TestAsyncValidation, node.ValidateOptions{Inputs: []string{"value", "threshold"}}},
		{TestAsyncValidationError, node.ValidateOptions{Inputs: []string{"value", "max_value"}}},
	} {
		_, got := tc.class.Validator()
		if !slices.Equal(got.Inputs, tc.want.Inputs) || got.AllInputs != tc.want.AllInputs || got.InputTypes != tc.want.InputTypes {
			t.Errorf("%s: got %+v, want %+v", tc.class.ID, got, tc.want)
		}
	}
}

func TestExpansions(t *testing.T) {
	t.Parallel()
	black, white := image(1, 2, 2, 0), image(1, 2, 2, 1)
	for _, tc := range []struct {
		class   *node.Class
		values  map[string]any
		graph   string
		outputs string
	}{
		{
			TestDynamicDependencyCycle, map[string]any{"input1": black, "input2": white},
			lines(
				"7.0.0.1 StubMask value=0.5 height=512 width=512 batch_size=1",
				"7.0.0.2 TestLazyMixImages image1=image[1 2 2 3]=0 mask=@7.0.0.1:0 image2=@7.0.0.3:0",
				"7.0.0.3 TestLazyMixImages image1=@7.0.0.2:0 image2=image[1 2 2 3]=1 mask=@7.0.0.1:0"),
			"@7.0.0.3:0",
		},
		{
			TestMixedExpansionReturns, map[string]any{"input1": 0.3},
			lines(
				"7.0.0.1 StubMask value=0.3 height=512 width=512 batch_size=1",
				`7.0.0.2 StubImage content="BLACK" height=512 width=512 batch_size=1`,
				`7.0.0.3 StubImage content="WHITE" height=512 width=512 batch_size=1`,
				"7.0.0.4 TestLazyMixImages image1=@7.0.0.2:0 image2=@7.0.0.3:0 mask=@7.0.0.1:0"),
			"@7.0.0.4:0 | image[1 512 512 3]=1",
		},
		{
			TestMixedExpansionReturns, map[string]any{"input1": 0.1},
			"<no expansion>", "image[1 512 512 3]=0.1 | image[1 512 512 3]=1",
		},
		{
			TestMixedExpansionReturns, map[string]any{"input1": 0.2},
			"<no expansion>", "image[1 512 512 3]=0.2 | image[1 512 512 3]=1",
		},
		{
			TestParallelSleep, map[string]any{"image1": black, "image2": white, "image3": black, "sleep1": 0.5, "sleep2": 0.25, "sleep3": 1.0},
			lines(
				"7.0.0.1 TestSleep value=image[1 2 2 3]=0 seconds=0.5",
				"7.0.0.2 TestSleep value=image[1 2 2 3]=1 seconds=0.25",
				"7.0.0.3 TestSleep value=image[1 2 2 3]=0 seconds=1",
				"7.0.0.4 TestVariadicAverage input1=@7.0.0.1:0 input2=@7.0.0.2:0 input3=@7.0.0.3:0"),
			"@7.0.0.4:0",
		},
		{
			TestDynamicAsyncGeneration, map[string]any{"image1": black, "image2": white, "num_async_nodes": int64(3), "sleep_duration": 0.2},
			lines(
				"7.0.0.1 TestSleep value=image[1 2 2 3]=0 seconds=0.2",
				"7.0.0.2 TestSleep value=image[1 2 2 3]=1 seconds=0.2",
				"7.0.0.3 TestSleep value=image[1 2 2 3]=0 seconds=0.2",
				"7.0.0.4 TestVariadicAverage input1=@7.0.0.1:0 input2=@7.0.0.2:0 input3=@7.0.0.3:0"),
			"@7.0.0.4:0",
		},
		{
			TestDynamicAsyncGeneration, map[string]any{"image1": black, "image2": white, "num_async_nodes": int64(1), "sleep_duration": 0.2},
			lines("7.0.0.1 TestSleep value=image[1 2 2 3]=0 seconds=0.2"),
			"@7.0.0.1:0",
		},
		{
			TestSamplingInExpansion, map[string]any{
				"model": "M", "clip": "C", "vae": "V", "seed": uint64(1 << 63), "steps": int64(20), "cfg": 7.0,
				"prompt": "hills", "negative_prompt": "blur",
			},
			lines(
				`7.0.0.1 CLIPTextEncode text="hills" clip="C"`,
				`7.0.0.2 CLIPTextEncode text="blur" clip="C"`,
				`7.0.0.3 EmptyLatentImage width=512 height=512 batch_size=1`,
				`7.0.0.4 KSampler model="M" positive=@7.0.0.1:0 negative=@7.0.0.2:0 latent_image=@7.0.0.3:0 seed=9223372036854775808 steps=20 cfg=7 sampler_name="euler_ancestral" scheduler="normal"`,
				`7.0.0.5 VAEDecode samples=@7.0.0.4:0 vae="V"`),
			"@7.0.0.5:0",
		},
	} {
		r := mustCall(t, tc.class, tc.values)
		if got := graph(r.Expansion); got != tc.graph {
			t.Errorf("%s %v graph:\n%s\nwant\n%s", tc.class.ID, tc.values["input1"], got, tc.graph)
		}
		if got := outputs(r); got != tc.outputs {
			t.Errorf("%s outputs: got %s, want %s", tc.class.ID, got, tc.outputs)
		}
	}
	_, err := call(t, TestDynamicAsyncGeneration, map[string]any{"image1": black, "image2": white, "num_async_nodes": int64(0), "sleep_duration": 0.2})
	wantException(t, err, "IndexError", "list index out of range")
}

// progressLog records the progress a call reports.
type progressLog struct {
	mu    sync.Mutex
	calls [][2]float64
}

func (p *progressLog) runtime() *node.Runtime {
	return &node.Runtime{Progress: func(id string, value, max float64) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.calls = append(p.calls, [2]float64{value, max})
	}}
}

func TestSleepNode(t *testing.T) {
	t.Parallel()
	var log progressLog
	r, err := callWith(t, log.runtime(), TestSleep, map[string]any{"value": "v", "seconds": 0.03})
	if err != nil || outputs(r) != `"v"` {
		t.Fatalf("got %s, %v", outputs(r), err)
	}
	// The first update and the final one (clamped to the total) are always sent.
	if n := len(log.calls); n < 2 || log.calls[n-1] != [2]float64{0.03, 0.03} || log.calls[0][1] != 0.03 {
		t.Errorf("progress %v", log.calls)
	}
	var none progressLog
	if _, err := callWith(t, none.runtime(), TestSleep, map[string]any{"value": "v", "seconds": 0.0}); err != nil || len(none.calls) != 0 {
		t.Errorf("0 s: %v, progress %v", err, none.calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = TestSleep.Run(ctx, node.NewCall(nil, "7", 0, map[string]any{"value": "v", "seconds": 100.0}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted: got %v", err)
	}
}
