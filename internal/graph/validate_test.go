package graph_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/graph"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var registry = testRegistry()

// validate parses prompt and validates it.
func validate(t testing.TB, prompt string, targets []string) (graph.Result, *node.Prompt) {
	t.Helper()
	p, err := node.ParsePrompt([]byte(prompt))
	if err != nil {
		t.Fatalf("ParsePrompt: %v", err)
	}
	return graph.Validate(context.Background(), registry, p, targets), p
}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := pyjson.Marshal(v)
	if err != nil {
		t.Fatalf("pyjson.Marshal(%v): %v", v, err)
	}
	return string(b)
}

// describe renders a result as the golden files hold it: the error and
// node_errors exactly as ComfyUI's 400 body carries them, the outputs to
// run, and the prompt as validation left it (coerced literals).
func describe(t testing.TB, r graph.Result, p *node.Prompt) []byte {
	outputs := r.Outputs
	if outputs == nil {
		outputs = []string{}
	}
	var b bytes.Buffer
	for _, part := range []struct {
		key string
		v   any
	}{{"error", r.Error}, {"node_errors", r.NodeErrors}, {"outputs", outputs}, {"prompt", p}} {
		b.WriteString(part.key + ": " + marshal(t, part.v) + "\n")
	}
	return b.Bytes()
}

// The golden cases: every error type, every case of the spec's §8.4 that
// has a counterpart here, and the Python conversions. Each golden file is
// testdata/<name>.golden (go test -update rewrites them; review the diff).
var goldenCases = []struct {
	name    string
	prompt  string
	targets []string
}{
	// §2.1 prompt-level errors.
	{"missing_class_type_title", `{"1": {"inputs": {}, "_meta": {"title": "My Node"}}}`, nil},
	{"missing_class_type_id", `{"7": {"inputs": {}}}`, nil},
	{"unknown_class_title", `{"12": {"class_type": "FooLoader", "inputs": {}, "_meta": {"title": "Load Foo"}}}`, nil},
	{"unknown_class_no_title", `{"3": {"class_type": "FooLoader", "inputs": {}}}`, nil},
	{"first_bad_node_wins", `{"1": {"class_type": "Nope", "inputs": {}}, "2": {"inputs": {}}}`, nil},
	{"no_outputs", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}}`, nil},
	{"partial_empty_list", `{"1": {"class_type": "Widgets", "inputs": {}}}`, []string{}},
	{"partial_only_non_outputs", `{"1": {"class_type": "Widgets", "inputs": {}}, "2": {"class_type": "StubInt", "inputs": {"value": 1}}}`, []string{"2", "nope"}},
	{"partial_selects", `{"1": {"class_type": "Widgets", "inputs": {}}, "2": {"class_type": "Widgets", "inputs": {"int": 99}}}`, []string{"1"}},
	{"all_outputs_prompt_order", `{"10": {"class_type": "Widgets", "inputs": {}}, "2": {"class_type": "Widgets", "inputs": {}}, "1": {"class_type": "Widgets", "inputs": {}}}`, nil},

	// §2.3 input errors.
	{"required_input_missing", `{"9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}}}`, nil},
	{"required_int_missing", `{"1": {"class_type": "CycleValidationLink", "inputs": {}}}`, nil},
	{"optional_absent_is_valid", `{"1": {"class_type": "Widgets", "inputs": {}}}`, nil},
	{"bad_linked_input_short", `{"1": {"class_type": "SaveImage", "inputs": {"images": ["1"]}}}`, nil},
	{"bad_linked_input_long", `{"1": {"class_type": "Widgets", "inputs": {"int": ["2", 0, 0]}}, "2": {"class_type": "StubInt", "inputs": {"value": 1}}}`, nil},
	{"bad_linked_input_empty", `{"1": {"class_type": "Widgets", "inputs": {"multi": []}}}`, nil},
	{"return_type_mismatch", `{"1": {"class_type": "StubString", "inputs": {"value": "x"}}, "2": {"class_type": "Widgets", "inputs": {"int": ["1", 0]}}}`, nil},
	{"return_type_mismatch_legacy_combo", `{"1": {"class_type": "StubString", "inputs": {"value": "x"}}, "2": {"class_type": "Widgets", "inputs": {"combo": ["1", 0]}}}`, nil},
	{"any_output_feeds_legacy_combo", `{"1": {"class_type": "StubAny", "inputs": {}}, "2": {"class_type": "Widgets", "inputs": {"combo": ["1", 0], "image": ["1", 0]}}}`, nil},
	{"union_input_accepts_member", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}, "2": {"class_type": "Widgets", "inputs": {"union": ["1", 0], "any": ["1", 0]}}}`, nil},
	{"link_to_missing_node_on_output", `{"1": {"class_type": "SaveImage", "inputs": {"images": ["removeme", 0]}}}`, nil},
	{"link_to_missing_node_inner", `{
		"1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 8, "width": 8, "batch_size": 1}},
		"2": {"class_type": "StubMask", "inputs": {"value": 0.5}},
		"3": {"class_type": "TestLazyMixImages", "inputs": {"image1": ["1", 0], "image2": ["removeme", 0], "mask": ["2", 0]}},
		"4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0]}},
		"5": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"slot_out_of_range", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}, "2": {"class_type": "Widgets", "inputs": {"int": ["1", 1]}}}`, nil},
	{"slot_out_of_range_v3", `{"1": {"class_type": "StubV3", "inputs": {}}, "2": {"class_type": "Widgets", "inputs": {"image": ["1", 3]}}}`, nil},
	{"slot_float", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}, "2": {"class_type": "Widgets", "inputs": {"int": ["1", 0.0]}}}`, nil},
	{"slot_huge", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}, "2": {"class_type": "Widgets", "inputs": {"int": ["1", 99999999999999999999]}}}`, nil},
	{"slot_string", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}, "2": {"class_type": "Widgets", "inputs": {"int": ["1", "0"]}}}`, nil},
	{"slot_negative_and_bool", `{"1": {"class_type": "StubInt", "inputs": {"value": 1}}, "2": {"class_type": "Widgets", "inputs": {"int": ["1", -1], "union": ["1", false]}}}`, nil},
	{"source_id_number", `{"1": {"class_type": "Widgets", "inputs": {"int": [5, 0]}}}`, nil},
	{"source_id_null", `{"1": {"class_type": "Widgets", "inputs": {"int": [null, 0]}}}`, nil},
	{"source_id_list", `{"1": {"class_type": "Widgets", "inputs": {"int": [["2"], 0]}}}`, nil},
	{"source_id_quote", `{"1": {"class_type": "Widgets", "inputs": {"int": ["it's", 0]}}}`, nil},

	// Conversions, written back (see the prompt line of each golden file).
	{"int_conversions", `{"1": {"class_type": "Widgets", "inputs": {"int": "5"}}, "2": {"class_type": "Widgets", "inputs": {"int": 5.9}},
		"3": {"class_type": "Widgets", "inputs": {"int": true}}, "4": {"class_type": "Widgets", "inputs": {"int": " 7\n"}},
		"5": {"class_type": "Widgets", "inputs": {"int": "1_0"}}, "6": {"class_type": "Widgets", "inputs": {"int": {"__value__": 7}}},
		"7": {"class_type": "Widgets", "inputs": {"int": -0.5}}, "8": {"class_type": "Widgets", "inputs": {"int": "\u0664"}}}`, nil},
	{"int_invalid_literal", `{"1": {"class_type": "Widgets", "inputs": {"int": "5.5"}}}`, nil},
	{"int_invalid_abc", `{"1": {"class_type": "Widgets", "inputs": {"int": "abc"}}}`, nil},
	{"int_invalid_none", `{"1": {"class_type": "Widgets", "inputs": {"int": null}}}`, nil},
	{"int_invalid_dict", `{"1": {"class_type": "Widgets", "inputs": {"int": {"a": 1, "b": [true, null, 1.5]}}}}`, nil},
	{"int_invalid_list", `{"1": {"class_type": "Widgets", "inputs": {"int": {"__value__": [1]}}}}`, nil},
	{"int_invalid_underscore", `{"1": {"class_type": "Widgets", "inputs": {"int": "1__0"}}}`, nil},
	{"int_float_overflow", `{"1": {"class_type": "Widgets", "inputs": {"int": 1e400}}}`, nil},
	{"int_invalid_long_repr", `{"1": {"class_type": "Widgets", "inputs": {"int": "` + strings.Repeat("x", 250) + `"}}}`, nil},
	{"int_too_many_digits", `{"1": {"class_type": "Widgets", "inputs": {"int": "` + strings.Repeat("1", 4301) + `"}}}`, nil},
	{"float_int_too_large", `{"1": {"class_type": "Widgets", "inputs": {"float": 1` + strings.Repeat("0", 400) + `}}}`, nil},
	{"string_repr_escapes", `{"1": {"class_type": "Widgets", "inputs": {"string": {"__value__": ["\u00e9\t", "\u0001\u00a0", "\\", "\ud83d\ude00"]}}}}`, nil},
	{"seed_range", `{"1": {"class_type": "Widgets", "inputs": {"seed": 18446744073709551615}}, "2": {"class_type": "Widgets", "inputs": {"seed": "18446744073709551615"}}}`, nil},
	{"seed_too_big", `{"1": {"class_type": "Widgets", "inputs": {"seed": 18446744073709551616}}}`, nil},
	{"seed_float_too_big", `{"1": {"class_type": "Widgets", "inputs": {"seed": 1e20}}}`, nil},
	{"float_conversions", `{"1": {"class_type": "Widgets", "inputs": {"float": "0.25"}}, "2": {"class_type": "Widgets", "inputs": {"float": 1}},
		"3": {"class_type": "Widgets", "inputs": {"float": "nan"}}, "4": {"class_type": "Widgets", "inputs": {"float": "-1e-5"}},
		"5": {"class_type": "Widgets", "inputs": {"float": false}}, "6": {"class_type": "Widgets", "inputs": {"float": " .5 "}}}`, nil},
	{"float_string_and_negative_zero", `{"1": {"class_type": "TestOutputNodeWithSocketOutput", "inputs": {"image": ["2", 0], "value": "2.5"}},
		"2": {"class_type": "StubV3", "inputs": {}}, "3": {"class_type": "Widgets", "inputs": {"float": -0}}}`, nil},
	{"float_invalid", `{"1": {"class_type": "Widgets", "inputs": {"float": "2.5x"}}}`, nil},
	{"float_invalid_hex", `{"1": {"class_type": "Widgets", "inputs": {"float": "0x1p-2"}}}`, nil},
	{"float_invalid_none", `{"1": {"class_type": "Widgets", "inputs": {"float": null}}}`, nil},
	{"float_inf_above_max", `{"1": {"class_type": "Widgets", "inputs": {"float": "inf"}}}`, nil},
	{"string_conversions", `{"1": {"class_type": "Widgets", "inputs": {"string": 42}}, "2": {"class_type": "Widgets", "inputs": {"string": true}},
		"3": {"class_type": "Widgets", "inputs": {"string": {"b": 1, "a": "x'y"}}}, "4": {"class_type": "Widgets", "inputs": {"string": 2.50}},
		"5": {"class_type": "Widgets", "inputs": {"string": null}}, "6": {"class_type": "Widgets", "inputs": {"string": {"__value__": ["a", 1e3]}}}}`, nil},
	{"bool_conversions", `{"1": {"class_type": "Widgets", "inputs": {"bool": 0}}, "2": {"class_type": "Widgets", "inputs": {"bool": "false"}},
		"3": {"class_type": "Widgets", "inputs": {"bool": ""}}, "4": {"class_type": "Widgets", "inputs": {"bool": 0.0}},
		"5": {"class_type": "Widgets", "inputs": {"bool": {"__value__": []}}}, "6": {"class_type": "Widgets", "inputs": {"bool": 2}}}`, nil},
	{"untyped_unwrap", `{"1": {"class_type": "Widgets", "inputs": {"any": {"__value__": [1, "a"]}, "union": "5", "image": 3}}}`, nil},

	// Bounds.
	{"value_smaller_than_min", `{"1": {"class_type": "Widgets", "inputs": {"int": -1}}}`, nil},
	{"value_bigger_than_max", `{"1": {"class_type": "Widgets", "inputs": {"int": 11}}}`, nil},
	{"float_bounds", `{"1": {"class_type": "Widgets", "inputs": {"float": 5}}, "2": {"class_type": "Widgets", "inputs": {"float": -1.5}}}`, nil},

	// Combos.
	{"value_not_in_list", `{"1": {"class_type": "Widgets", "inputs": {"combo": "c"}}}`, nil},
	{"value_not_in_list_quote", `{"1": {"class_type": "Widgets", "inputs": {"quote": "q'"}}}`, nil},
	{"value_not_in_list_number", `{"1": {"class_type": "Widgets", "inputs": {"combo": 1}}}`, nil},
	{"value_not_in_list_multiselect", `{"1": {"class_type": "Widgets", "inputs": {"multi": {"__value__": ["a", "c", "d"]}}}}`, nil},
	{"multiselect_valid", `{"1": {"class_type": "Widgets", "inputs": {"multi": {"__value__": ["b", "a"]}, "combo": {"__value__": "b"}}}}`, nil},
	{"value_not_in_list_long", `{"1": {"class_type": "Widgets", "inputs": {"big": "nope"}}}`, nil},
	{"value_not_in_list_no_options", `{"1": {"class_type": "Widgets", "inputs": {"empty": "x"}}}`, nil},
	{"value_not_in_list_v3", `{"1": {"class_type": "WidgetsV3", "inputs": {"combo": "c", "int": 11}}}`, nil},
	{"real_capture_stub_image", `{"1": {"class_type": "StubImage", "inputs": {"content": "PURPLE", "height": 512, "width": 512}},
		"3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}`, nil},

	// Custom validators (test_execution.py's test_validation_error_*).
	{"custom_literal_int_rejected", `{"1": {"class_type": "TestCustomValidation1", "inputs": {"input1": 5, "input2": 3.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_literal_string_rejected", `{"1": {"class_type": "TestCustomValidation1", "inputs": {"input1": "foo", "input2": 3.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_literal_float_ok", `{"1": {"class_type": "TestCustomValidation1", "inputs": {"input1": 5.0, "input2": 3.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_edge1_link_type", `{"0": {"class_type": "StubInt", "inputs": {"value": 5}},
		"1": {"class_type": "TestCustomValidation1", "inputs": {"input1": ["0", 0], "input2": 3.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_input_types_rejects_int", `{"0": {"class_type": "StubInt", "inputs": {"value": 5}},
		"1": {"class_type": "TestCustomValidation2", "inputs": {"input1": ["0", 0], "input2": 3.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_input_types_accepts_float", `{"0": {"class_type": "StubFloat", "inputs": {"value": 5}},
		"1": {"class_type": "TestCustomValidation2", "inputs": {"input1": ["0", 0], "input2": 3.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_kwargs_skip_max", `{"1": {"class_type": "TestCustomValidation5", "inputs": {"input1": 0, "input2": 5.0}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_kwargs_rejects_seven", `{"1": {"class_type": "TestCustomValidation5", "inputs": {"input1": 0, "input2": 7.0, "extra": ["1", 0]}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"custom_named_arg_skips_min", `{"1": {"class_type": "SkipMin", "inputs": {"value": "-5"}}}`, nil},
	{"custom_false_with_hidden", `{"1": {"class_type": "Silent", "inputs": {"value": 1}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"validator_panics_inner", `{"0": {"class_type": "StubInt", "inputs": {"value": 1}},
		"1": {"class_type": "Panics", "inputs": {"value": ["0", 0]}},
		"2": {"class_type": "Widgets", "inputs": {"int": ["1", 0]}}}`, nil},
	{"dynamic_options_panic", `{"1": {"class_type": "DynamicPanics", "inputs": {"pick": "a.png"}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"validator_panics_output", `{"1": {"class_type": "PanicsOutput", "inputs": {"value": 1}}}`, nil},

	// V3 dynamic inputs (§6.4): dotted names, checked by the finalized set.
	{"dynamic_required_missing", `{"1": {"class_type": "Dynamic", "inputs": {"values.b": "3", "mode": "none"}},
		"2": {"class_type": "Widgets", "inputs": {"int": ["1", 0]}}}`, nil},
	{"dynamic_combo_option_checked", `{"1": {"class_type": "Dynamic", "inputs": {"values.a": 11, "mode": "scale", "mode.factor": 9}},
		"2": {"class_type": "Widgets", "inputs": {"int": ["1", 0]}}}`, nil},
	{"dynamic_combo_unknown_key", `{"1": {"class_type": "Dynamic", "inputs": {"values.a": "2", "mode": "zzz", "mode.factor": 9}},
		"2": {"class_type": "Widgets", "inputs": {"int": ["1", 0]}}}`, nil},

	// Cycles (§2.3 step 2).
	{"dependency_cycle", `{"0": {"class_type": "CycleValidationLink", "inputs": {"value": ["1", 0]}},
		"1": {"class_type": "CycleValidationLink", "inputs": {"value": ["0", 0]}}}`, nil},
	{"dependency_cycle_below_output", `{"9": {"class_type": "Widgets", "inputs": {"int": ["0", 0]}},
		"0": {"class_type": "CycleValidationLink", "inputs": {"value": ["1", 0]}},
		"1": {"class_type": "CycleValidationLink", "inputs": {"value": ["2", 0]}},
		"2": {"class_type": "CycleValidationLink", "inputs": {"value": ["1", 0]}}}`, []string{"9"}},
	{"dependency_cycle_self", `{"5": {"class_type": "CycleValidationLink", "inputs": {"value": ["5", 0]}}}`, nil},

	// §2.6 node_errors.
	{"mixed_valid_and_invalid", `{"1": {"class_type": "Widgets", "inputs": {"int": 1}}, "2": {"class_type": "Widgets", "inputs": {"int": 99}}}`, nil},
	{"upstream_only_not_listed", `{"1": {"class_type": "StubInt", "inputs": {"value": "x"}},
		"2": {"class_type": "Counted", "inputs": {"value": ["1", 0]}},
		"3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}}}`, nil},
	{"dependent_outputs_quirk", `{"1": {"class_type": "Widgets", "inputs": {"int": 99}}, "2": {"class_type": "Widgets", "inputs": {"int": -5}}}`, nil},
	{"shared_failure_two_outputs", `{"1": {"class_type": "StubImage", "inputs": {"content": "X", "height": 1, "width": 1, "batch_size": 1}},
		"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
		"3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}`, nil},
	{"output_upstream_of_output", `{"1": {"class_type": "StubImage", "inputs": {"content": "BLACK", "height": 1, "width": 1, "batch_size": 1}},
		"2": {"class_type": "TestOutputNodeWithSocketOutput", "inputs": {"image": ["1", 0], "value": 20}},
		"3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}}}`, nil},
	{"undeclared_inputs_ignored", `{"1": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "junk": ["missing", 0], "lit": "x", "prompt": ["missing", 0]}},
		"2": {"class_type": "StubImage", "inputs": {"content": "WHITE", "height": 1, "width": 1, "batch_size": 1}}}`, nil},
}

func TestValidateGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			r, p := validate(t, tc.prompt, tc.targets)
			got := describe(t, r, p)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
