package testnodes

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/node"
)

func TestAsyncValidators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		class  *node.Class
		values map[string]any
		want   string
	}{
		{TestAsyncValidation, map[string]any{"value": 15.0, "threshold": 10.0}, "Value 15.0 exceeds threshold 10.0"},
		{TestAsyncValidation, map[string]any{"value": 5.0, "threshold": 10.0}, ""},
		{TestAsyncValidationError, map[string]any{"value": 11.0, "max_value": 10.0}, "Async validation failed: 11.0 > 10.0"},
		{TestAsyncValidationError, map[string]any{"value": 10.0, "max_value": 10.0}, ""},
	} {
		err := validate(t, tc.class, tc.values, nil)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s %v: got %q, want %q", tc.class.ID, tc.values, got, tc.want)
		}
	}
	err := validate(t, TestAsyncValidation, map[string]any{"threshold": 10.0}, nil)
	wantException(t, err, "TypeError", "'>' not supported between instances of 'NoneType' and 'float'")
}

func TestAsyncRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		class  *node.Class
		values map[string]any
		want   string
	}{
		{TestAsyncValidation, map[string]any{"value": 5.0, "threshold": 10.0}, "image[1 512 512 3]=0.5"},
		{TestAsyncValidationError, map[string]any{"value": 2.0, "max_value": 8.0}, "image[1 512 512 3]=0.25"},
		{TestAsyncTimeout, map[string]any{"value": "v", "timeout": 0.02, "operation_time": 0.01}, `"v"`},
		{TestAsyncLazyCheck, map[string]any{"input1": "a", "condition": true}, "image[1 512 512 3]=1"},
		{TestAsyncResourceUser, map[string]any{"value": "v", "resource_id": "runs", "duration": 0.0}, `"v"`},
		{TestAsyncConcurrentLimit, map[string]any{"value": "v", "duration": 0.01, "node_id": int64(1)}, `"v"`},
		{TestAsyncProgressUpdate, map[string]any{"value": "v", "sleep_seconds": 0.0}, `"v"`},
		{TestSyncProgressUpdate, map[string]any{"value": "v", "sleep_seconds": 0.01}, `"v"`},
	} {
		if got := outputs(mustCall(t, tc.class, tc.values)); got != tc.want {
			t.Errorf("%s %v: got %s, want %s", tc.class.ID, tc.values, got, tc.want)
		}
	}
	for _, tc := range []struct {
		class    *node.Class
		values   map[string]any
		typ, msg string
	}{
		{TestAsyncError, map[string]any{"value": "v", "error_after": 0.0}, "RuntimeError", "Intentional async execution error for testing"},
		{TestSyncError, map[string]any{"value": "v"}, "RuntimeError", "Intentional sync execution error for testing"},
		{TestAsyncTimeout, map[string]any{"value": "v", "timeout": 0.01, "operation_time": 2.0}, "RuntimeError", "Operation timed out after 0.01 seconds"},
		{TestAsyncValidationError, map[string]any{"value": 2.0, "max_value": 0.0}, "ZeroDivisionError", "float division by zero"},
	} {
		_, err := call(t, tc.class, tc.values)
		wantException(t, err, tc.typ, tc.msg)
	}
}

func TestAsyncLazyCheckNeeds(t *testing.T) {
	t.Parallel()
	check := TestAsyncLazyCheck.CheckLazy()
	for _, tc := range []struct {
		values map[string]any
		want   []string
	}{
		{map[string]any{"condition": true}, []string{"input1"}},
		{map[string]any{"condition": false}, []string{"input2"}},
		{map[string]any{"condition": true, "input1": "a"}, nil},
	} {
		got, err := check(context.Background(), node.NewCall(nil, "7", 0, tc.values))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v, %v; want %v", tc.values, got, err, tc.want)
		}
	}
}

func TestAsyncResourceInUse(t *testing.T) {
	t.Parallel()
	resources.Lock()
	resources.busy["held"] = true
	resources.Unlock()
	_, err := call(t, TestAsyncResourceUser, map[string]any{"value": "v", "resource_id": "held", "duration": 0.0})
	wantException(t, err, "RuntimeError", "Resource held is already in use!")

	// An interrupted user frees its resource.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := node.NewCall(nil, "7", 0, map[string]any{"value": "v", "resource_id": "freed", "duration": 1.0})
	if err := TestAsyncResourceUser.Run(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted: %v", err)
	}
	resources.Lock()
	defer resources.Unlock()
	if resources.busy["freed"] {
		t.Error("resource still held after an interrupt")
	}
}

// TestConcurrentLimitWaits is not parallel: it fills the shared slots.
func TestConcurrentLimitWaits(t *testing.T) {
	concurrencyLimit <- struct{}{}
	concurrencyLimit <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c := node.NewCall(nil, "7", 0, map[string]any{"value": "v", "duration": 0.1, "node_id": int64(0)})
	err := TestAsyncConcurrentLimit.Run(ctx, c)
	<-concurrencyLimit
	<-concurrencyLimit
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with both slots taken: got %v, want to wait until interrupted", err)
	}
}

func TestAsyncBatchProcessingRun(t *testing.T) {
	t.Parallel()
	images := image(2, 1, 1, 0.25)
	images.Pix[3], images.Pix[4], images.Pix[5] = 1, 1, 1
	var log progressLog
	r, err := callWith(t, log.runtime(), TestAsyncBatchProcessing, map[string]any{"images": images, "process_time_per_item": 0.01})
	if err != nil {
		t.Fatal(err)
	}
	out := r.Outputs[0].(interface{ Frame(int) []float32 })
	if f0, f1 := out.Frame(0), out.Frame(1); f0[0] != 0.75 || f1[0] != 0 {
		t.Errorf("inverted frames %v %v", f0, f1)
	}
	if want := [][2]float64{{1, 2}, {2, 2}}; !slices.Equal(log.calls, want) {
		t.Errorf("progress %v, want %v", log.calls, want)
	}
	_, err = call(t, TestAsyncBatchProcessing, map[string]any{"images": image(0, 1, 1, 0), "process_time_per_item": 0.01})
	wantException(t, err, "RuntimeError", "torch.cat(): expected a non-empty list of Tensors")
}

func TestProgressUpdateFractions(t *testing.T) {
	t.Parallel()
	var log progressLog
	if _, err := callWith(t, log.runtime(), TestAsyncProgressUpdate, map[string]any{"value": "v", "sleep_seconds": 0.02}); err != nil {
		t.Fatal(err)
	}
	n := len(log.calls)
	if n < 2 || log.calls[0][1] != 1 || log.calls[n-1][0] < 1 {
		t.Errorf("progress %v: want fractions of 1.0 ending at or past 1", log.calls)
	}
}
