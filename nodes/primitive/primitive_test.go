package primitive_test

import (
	"context"
	"math"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/primitive"
)

// Each primitive outputs its widget value unchanged (ComfyUI's execute
// returns io.NodeOutput(value)).
func TestPrimitivesPassTheirValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		class *node.Class
		value any
	}{
		{primitive.PrimitiveString, "a photo of a cat"},
		{primitive.PrimitiveStringMultiline, "line 1\nline 2"},
		{primitive.PrimitiveInt, int64(math.MaxInt64)},
		{primitive.PrimitiveInt, int64(-7)},
		{primitive.PrimitiveFloat, 0.1},
		{primitive.PrimitiveBoolean, true},
		{primitive.PrimitiveBoolean, false},
	}
	for _, tc := range cases {
		c := node.NewCall(nil, "1", 0, map[string]any{"value": tc.value})
		if err := tc.class.Run(context.Background(), c); err != nil {
			t.Fatalf("%s: %v", tc.class.ID, err)
		}
		if got := c.Result().Outputs; len(got) != 1 || got[0] != tc.value {
			t.Errorf("%s(%v) = %v", tc.class.ID, tc.value, got)
		}
	}
}
