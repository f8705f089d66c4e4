package latentnode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/node/nodetest"
	"github.com/gocomfy/gocomfy/nodes/latentnode"
	"github.com/gocomfy/gocomfy/tensor"
)

// goldenValue is how gen.py writes LATENT values, their tensors and lists.
type goldenValue struct {
	Latent *struct {
		Samples    goldenValue  `json:"samples"`
		NoiseMask  *goldenValue `json:"noise_mask"`
		BatchIndex []int        `json:"batch_index"`
	} `json:"LATENT"`
	Tensor *tensor.Tensor `json:"TENSOR"`
	List   []goldenValue  `json:"LIST"`
	Number *json.Number
}

func (v *goldenValue) UnmarshalJSON(b []byte) error {
	if !bytes.HasPrefix(b, []byte("{")) {
		return json.Unmarshal(b, &v.Number)
	}
	type plain goldenValue
	return json.Unmarshal(b, (*plain)(v))
}

// value returns what the executor would pass for the golden value.
func (v goldenValue) value() any {
	switch {
	case v.Latent != nil:
		l := &tensor.Latent{Samples: v.Latent.Samples.Tensor, BatchIndex: v.Latent.BatchIndex}
		if v.Latent.NoiseMask != nil {
			l.NoiseMask = v.Latent.NoiseMask.Tensor
		}
		return l
	case v.Tensor != nil:
		return v.Tensor
	case v.Number != nil:
		return node.Literal(*v.Number)
	}
	list := make([]any, len(v.List))
	for i, x := range v.List {
		list[i] = x.value()
	}
	return list
}

// Every class with a golden file computes what ComfyUI's does, exactly.
func TestNodesMatchComfyUI(t *testing.T) {
	t.Parallel()
	r := node.NewRegistry()
	latentnode.Register(r)
	nodetest.Goldens(t, r, filepath.Join("testdata", "golden"), func(t *testing.T, class *node.Class, gc nodetest.GoldenCase) {
		values := map[string]any{}
		for name, raw := range gc.Inputs {
			var v goldenValue
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			values[name] = v.value()
		}
		call := node.NewCall(nil, "1", 0, values)
		err := class.Run(context.Background(), call)
		if gc.Error != "" {
			if err == nil {
				t.Fatalf("no error; ComfyUI raises %s", gc.Error)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got := call.Result().Outputs
		if len(got) != len(gc.Outputs) {
			t.Fatalf("%d outputs, want %d", len(got), len(gc.Outputs))
		}
		for i, raw := range gc.Outputs {
			var want goldenValue
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if err := compare(got[i], want.value()); err != nil {
				t.Errorf("output %d: %v", i, err)
			}
		}
	})
}

// compare checks an output against a golden one: the same shapes, values,
// masks and batch indices.
func compare(got, want any) error {
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("got %v, want a list of %d", got, len(w))
		}
		for i := range w {
			if err := compare(g[i], w[i]); err != nil {
				return fmt.Errorf("item %d: %v", i, err)
			}
		}
		return nil
	case *tensor.Latent:
		g, ok := got.(*tensor.Latent)
		if !ok {
			return fmt.Errorf("got %T, want a LATENT", got)
		}
		if err := compareTensors(g.Samples, w.Samples); err != nil {
			return fmt.Errorf("samples: %v", err)
		}
		if (g.NoiseMask == nil) != (w.NoiseMask == nil) {
			return fmt.Errorf("noise mask %v, want %v", g.NoiseMask != nil, w.NoiseMask != nil)
		}
		if w.NoiseMask != nil {
			if err := compareTensors(g.NoiseMask, w.NoiseMask); err != nil {
				return fmt.Errorf("noise mask: %v", err)
			}
		}
		if !slices.Equal(g.BatchIndex, w.BatchIndex) || (g.BatchIndex == nil) != (w.BatchIndex == nil) {
			return fmt.Errorf("batch index %v, want %v", g.BatchIndex, w.BatchIndex)
		}
		return nil
	}
	return fmt.Errorf("unexpected golden value %T", want)
}

func compareTensors(got, want *tensor.Tensor) error {
	if !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Data, want.Data) {
		return fmt.Errorf("got %v %v, want %v %v", got.Shape, got.Data, want.Shape, want.Data)
	}
	return nil
}
