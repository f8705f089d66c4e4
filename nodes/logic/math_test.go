package logic

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/node"
)

// TestMathExpressionMatchesComfyUI runs the cases of
// testdata/golden/ComfyMathExpression.json, which gen.py recorded from
// ComfyUI's node and simpleeval: same outputs (within tol, relative, for
// the libm functions), or an error where ComfyUI raises.
func TestMathExpressionMatchesComfyUI(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/golden/ComfyMathExpression.json")
	if err != nil {
		t.Fatal(err)
	}
	// Numbers keep their text: 2 is an INT input, 2.0 a FLOAT one.
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var raw struct {
		Cases []struct {
			Name    string
			Tol     float64
			Inputs  map[string]any
			Outputs []any
			Error   string
		}
	}
	if err := d.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Cases {
		t.Run(c.Name, func(t *testing.T) {
			values := map[string]any{}
			for name, v := range c.Inputs {
				if n, ok := v.(json.Number); ok && !strings.ContainsAny(n.String(), ".eE") {
					values[name] = n // an INT: node.Literal makes it int64
				} else if ok {
					f, _ := n.Float64()
					values[name] = f
				} else {
					values[name] = v
				}
			}
			call := node.NewCall(&node.Runtime{}, "1", 0, values)
			err := ComfyMathExpression.Run(context.Background(), call)
			if c.Error != "" {
				if err == nil {
					t.Fatalf("no error; ComfyUI raises %s (outputs %v)", c.Error, call.Result().Outputs)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v; ComfyUI gives %v", err, c.Outputs)
			}
			got := call.Result().Outputs
			wantF, _ := c.Outputs[0].(json.Number).Float64()
			wantI, _ := c.Outputs[1].(json.Number).Int64()
			gotF := got[0].(float64)
			if math.Abs(gotF-wantF) > c.Tol*math.Abs(wantF) || math.Signbit(gotF) != math.Signbit(wantF) {
				t.Errorf("FLOAT = %v, want %v", gotF, wantF)
			}
			if got[1] != wantI || got[2] != c.Outputs[2] {
				t.Errorf("INT, BOOL = %v, %v, want %v, %v", got[1], got[2], wantI, c.Outputs[2])
			}
		})
	}
}

// FuzzMathExpression: any expression either evaluates or fails with an
// error; nothing panics or hangs.
func FuzzMathExpression(f *testing.F) {
	for _, s := range []string{"a + b", "-a ** -b // 3 % 2", "max(values) if a < b <= 3 else min(a, b)",
		"round(a, 2) + pow(b, 0.5)", "1e308 * 10", "0x1_0 + 1_000 << 3", "values[-1] in values", "not (a and b or c)",
		"sum(a, b)\nb", "(a +\n b)", "~True ^ 5 & 3 | 1", "log(a, b) + sqrt(-1)", "a[", "1 if 2", "9" + strings.Repeat("9", 30)} {
		f.Add(s, int64(3), 2.5)
	}
	f.Fuzz(func(t *testing.T, src string, a int64, b float64) {
		env := &mathEnv{names: map[string]any{"a": a, "b": b, "c": true, "values": []any{a, b, true}}}
		f, _, _, err := evalMath(src, env)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			t.Errorf("%q: non-finite result %v without an error", src, f)
		}
	})
}
