package graph_test

import (
	"context"
	"testing"

	"github.com/gocomfy/gocomfy/internal/graph"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// FuzzValidate: any prompt node.ParsePrompt accepts validates without a
// panic, to an accepted prompt with outputs or to an error with a type;
// the answer and the rewritten prompt marshal.
func FuzzValidate(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add([]byte(tc.prompt))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := node.ParsePrompt(data)
		if err != nil {
			return
		}
		r := graph.Validate(context.Background(), registry, p, nil)
		switch {
		case r.Error == nil && len(r.Outputs) == 0:
			t.Fatal("accepted without outputs")
		case r.Error != nil && r.Error.Type == "":
			t.Fatalf("error without a type: %+v", r.Error)
		}
		for _, ne := range r.NodeErrors {
			if len(ne.Errors) == 0 || len(ne.DependentOutputs) == 0 {
				t.Fatalf("empty node error %+v", ne)
			}
		}
		for _, v := range []any{r.Error, r.NodeErrors, p} {
			if _, err := pyjson.Marshal(v); err != nil {
				t.Fatalf("marshal %T: %v", v, err)
			}
		}
	})
}
