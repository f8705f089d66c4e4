package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gocomfy/gocomfy/pyjson"
)

// Format selects which /object_info shape ComfyUI gives a class: V1 for the
// classic nodes of nodes.py, V3 for comfy_api nodes (most of comfy_extras).
// The two differ in which keys are always present and in option order.
type Format int

// Object info formats.
const (
	V1 Format = iota
	V3
)

// Info is a class's identity and metadata.
type Info struct {
	ID          string // class_type: the key in prompts and /object_info
	DisplayName string // "" means the ID (V1) or null (V3)
	Category    string // "" means "sd", ComfyUI's default
	Description string
	// Module is python_module on the wire: "nodes", "comfy_extras.nodes_mask",
	// "custom_nodes.<name>". Required.
	Module string
	Format Format

	OutputNode            bool // an execution target
	HasIntermediateOutput bool // UI re-sent like an output's, but not a target
	InputIsList           bool // called once with whole lists
	NotIdempotent         bool // node id is part of the cache key
	Deprecated            bool
	Experimental          bool
	DevOnly               bool
	// Async nodes run concurrently with the rest of the graph (ComfyUI's
	// async def FUNCTION): the executor starts them and goes on scheduling.
	Async              bool
	SearchAliases      []string
	EssentialsCategory string
}

// Section is where an input is declared: required, optional or hidden.
type Section int

// Input sections, in ComfyUI's order.
const (
	Required Section = iota
	Optional
	Hidden
)

func (s Section) String() string {
	return [...]string{"required", "optional", "hidden"}[s]
}

// HiddenKind is the kind of a hidden input, as written in INPUT_TYPES.
type HiddenKind string

// Hidden input kinds (Hyrum's law: wire strings).
const (
	HiddenPrompt       HiddenKind = "PROMPT"
	HiddenDynPrompt    HiddenKind = "DYNPROMPT"
	HiddenExtraPNGInfo HiddenKind = "EXTRA_PNGINFO"
	HiddenUniqueID     HiddenKind = "UNIQUE_ID"
)

// InputDef is the declaration of one input, read by validation and the
// executor. Node authors build it through the Schema methods.
type InputDef struct {
	Name    string
	Type    string // "INT", "IMAGE", "IMAGE,FLOAT", "*", "COMBO", ...
	Section Section
	// Hidden is the kind of a hidden input.
	Hidden HiddenKind
	// Lazy inputs are not evaluated until CheckLazy asks for them.
	Lazy bool
	// RawLink inputs receive the link itself, not the value.
	RawLink bool
	// Min and Max are the bounds as written ("" when absent).
	Min, Max json.Number
	// Multiselect combos accept a list of choices.
	Multiselect bool

	// legacyCombo: V1 combos declare their option list as the type.
	legacyCombo bool
	// keepOpts renders an empty options object ("*", {}); hiddenTuple
	// renders a V1 hidden input declared as a tuple ("*",) as a list.
	keepOpts, hiddenTuple bool
	choices               []any
	choicesFunc           func() []string
	opts                  pyjson.Object
	// dyn is set on autogrow and dynamic combo inputs; id is a nested
	// input's name within its declaration (Name is the dotted prompt name).
	dyn *dynamic
	id  string
}

// IsCombo reports whether the input is a combo (a list type, or COMBO).
func (d *InputDef) IsCombo() bool { return d.legacyCombo || d.Type == "COMBO" }

// LegacyCombo reports whether the combo declares its options as its type
// (V1's [["a", "b"], {...}]), which changes how type mismatches print.
func (d *InputDef) LegacyCombo() bool { return d.legacyCombo }

// Choices returns a combo's options (evaluated now for dynamic lists such as
// LoadImage's file list).
func (d *InputDef) Choices() []any {
	if d.choicesFunc != nil {
		names := d.choicesFunc()
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = n
		}
		return out
	}
	return d.choices
}

// Options returns the declared options in declaration order (the second
// element of the input's INPUT_TYPES tuple, without combo choices).
func (d *InputDef) Options() pyjson.Object { return d.opts }

func (d *InputDef) set(key string, v any) { d.opts.Set(key, v) }

// OutputDef is the declaration of one output socket.
type OutputDef struct {
	Type    string
	Name    string // RETURN_NAMES entry
	IsList  bool
	Tooltip string
	// MatchType is the template id of a V3 MatchType output ("" for others).
	MatchType string
}

// RunFunc executes one call of a class on resolved inputs. It must return
// promptly once ctx is done (an interrupt).
type RunFunc func(ctx context.Context, c *Call) error

// FingerprintFunc computes ComfyUI's IS_CHANGED value from the call's
// literal inputs (links are absent). A different value than last time makes
// the node run again; NaN (math.NaN()) means always run.
type FingerprintFunc func(ctx context.Context, c *Call) (any, error)

// ValidateFunc is ComfyUI's VALIDATE_INPUTS: it sees literal inputs only
// (links are absent) and returns nil, or an error whose text is reported as
// custom_validation_failed.
type ValidateFunc func(ctx context.Context, c *Call) error

// CheckLazyFunc returns the names of lazy inputs the node needs evaluated
// before it can run (ComfyUI's check_lazy_status).
type CheckLazyFunc func(ctx context.Context, c *Call) ([]string, error)

// ValidateOptions says which inputs a validator takes, which in ComfyUI
// changes validation: min/max and combo checks are skipped for inputs the
// validator takes, and each failure is reported once per taken input.
type ValidateOptions struct {
	Inputs    []string // the validator's named arguments
	AllInputs bool     // the validator takes **kwargs: it takes every input
	// InputTypes: the validator takes input_types (the types of linked
	// inputs, see Call.InputType); link type checking is then skipped.
	InputTypes bool
}

// A Class is one node type. Build it with New; it is immutable once built.
type Class struct {
	Info
	inputs      []*InputDef
	outputs     []OutputDef
	run         RunFunc
	fingerprint FingerprintFunc
	validate    ValidateFunc
	validateOpt ValidateOptions
	checkLazy   CheckLazyFunc
	// dynamic: some input is an autogrow or a dynamic combo.
	dynamic bool
}

// New declares a class. define declares inputs and outputs on s and returns
// the function that runs the class; the typed handles it declared are in that
// function's scope.
func New(info Info, define func(s *Schema) RunFunc) *Class {
	c := &Class{Info: info}
	s := &Schema{class: c}
	c.run = define(s)
	for _, d := range c.inputs {
		d.expand()
		c.dynamic = c.dynamic || d.dyn != nil
	}
	return c
}

// Inputs returns the declared inputs in declaration order.
func (c *Class) Inputs() []*InputDef { return c.inputs }

// Input returns the declared input with the given name.
func (c *Class) Input(name string) (*InputDef, bool) {
	for _, d := range c.inputs {
		if d.Name == name {
			return d, true
		}
	}
	return nil, false
}

// Outputs returns the output sockets.
func (c *Class) Outputs() []OutputDef { return c.outputs }

// Run executes one call.
func (c *Class) Run(ctx context.Context, call *Call) error { return c.run(ctx, call) }

// Fingerprint returns the class's IS_CHANGED hook, or nil.
func (c *Class) Fingerprint() FingerprintFunc { return c.fingerprint }

// Validator returns the class's VALIDATE_INPUTS hook and its options, or nil.
func (c *Class) Validator() (ValidateFunc, ValidateOptions) { return c.validate, c.validateOpt }

// CheckLazy returns the class's check_lazy_status hook, or nil.
func (c *Class) CheckLazy() CheckLazyFunc { return c.checkLazy }

// HasHidden reports whether the class declares a hidden input of kind k.
func (c *Class) HasHidden(k HiddenKind) bool {
	for _, d := range c.inputs {
		if d.Section == Hidden && d.Hidden == k {
			return true
		}
	}
	return false
}

// check validates the declaration as a whole (Registry.Add calls it).
func (c *Class) check() error {
	switch {
	case c.ID == "":
		return errors.New("class has no ID")
	case c.Module == "":
		return fmt.Errorf("class %s has no Module", c.ID)
	case c.run == nil:
		return fmt.Errorf("class %s has no run function", c.ID)
	}
	seen := map[string]bool{}
	for _, d := range c.inputs {
		if seen[d.Name] {
			return fmt.Errorf("class %s: duplicate input %q", c.ID, d.Name)
		}
		seen[d.Name] = true
		if err := checkDefault(d); err != nil {
			return fmt.Errorf("class %s input %s: %w", c.ID, d.Name, err)
		}
	}
	return nil
}

func checkDefault(d *InputDef) error {
	def, ok := d.opts.Get("default")
	if !ok {
		return nil
	}
	if d.IsCombo() && d.choicesFunc == nil && len(d.choices) > 0 {
		for _, c := range d.choices {
			if c == def {
				return nil
			}
		}
		return fmt.Errorf("default %v is not among the options", def)
	}
	v, isNum := numericValue(def)
	if !isNum {
		return nil
	}
	if lo, err := strconv.ParseFloat(string(d.Min), 64); d.Min != "" && err == nil && v < lo {
		return fmt.Errorf("default %v below min %s", def, d.Min)
	}
	if hi, err := strconv.ParseFloat(string(d.Max), 64); d.Max != "" && err == nil && v > hi {
		return fmt.Errorf("default %v above max %s", def, d.Max)
	}
	return nil
}

func numericValue(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case pyjson.Float:
		return float64(v), true
	}
	return 0, false
}
