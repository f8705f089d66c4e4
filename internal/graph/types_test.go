package graph_test

import (
	"testing"

	"github.com/gocomfy/gocomfy/internal/graph"
)

// The cases of ComfyUI's tests-unit/execution_test/validate_node_input_test.py
// (spec §2.4), plus the wildcard rules.
func TestValidateNodeInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		received, declared string
		strict, want       bool
	}{
		{"INT", "INT", false, true},
		{"INT,STRING", "STRING,INT", false, true},
		{"STRING,BOOLEAN", "STRING,INT", false, true},
		{"BOOLEAN", "STRING,INT", false, false},
		{" STRING , INT ", "STRING,INT", false, true},
		{"", "", false, true},
		{"STRING", "", false, false},
		{"STRING,INT", "STRING", true, false},
		{"STRING", "STRING,INT", true, true},
		{"STRING,INT", "INT,STRING", true, true},
		{"INT", "FLOAT", false, false},
		{"*", "IMAGE", false, true},
		{"IMAGE", "*", false, true},
		{"IMAGE,*", "MASK", false, true},
		{"MASK", "FLOAT, *", true, true},
		{"COMFY_MATCHTYPE_V3", "IMAGE", false, true},
		{"IMAGE", "COMFY_MATCHTYPE_V3", false, true},
		{"COMBO", "COMBO", false, true},
		{"IMAGE", "image", false, false},
	} {
		if got := graph.ValidateNodeInput(tc.received, tc.declared, tc.strict); got != tc.want {
			t.Errorf("ValidateNodeInput(%q, %q, %v) = %v, want %v", tc.received, tc.declared, tc.strict, got, tc.want)
		}
	}
}
