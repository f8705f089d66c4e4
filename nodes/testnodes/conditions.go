package testnodes

import (
	"context"
	"regexp"
	"strings"

	"github.com/gocomfy/gocomfy/node"
)

// The nodes of conditions.py: comparisons and boolean logic.

var comparisons = []string{"==", "!=", "<", ">", "<=", ">="}

// comparisonClass declares TestIntConditions or TestFloatConditions: a and b
// (declared by number), an operation out of comparisons, a BOOLEAN result.
func comparisonClass(i node.Info, number func(s *node.Schema, name string)) *node.Class {
	return node.New(i, func(s *node.Schema) node.RunFunc {
		number(s, "a")
		number(s, "b")
		op := s.Combo("operation", comparisons...)
		out := node.Output(s, node.Boolean, "BOOLEAN")
		return func(ctx context.Context, c *node.Call) error {
			r, err := compare(op.Get(c), input(c, "a"), input(c, "b"))
			if err != nil {
				return err
			}
			out.Set(c, r)
			return nil
		}
	})
}

// TestIntConditions compares two integers.
var TestIntConditions = comparisonClass(info("TestIntConditions", "Int Condition", logicCategory), wideInt)

// TestFloatConditions compares two floats.
var TestFloatConditions = comparisonClass(info("TestFloatConditions", "Float Condition", logicCategory),
	func(s *node.Schema, name string) {
		// The pack writes the default and step as ints: 0 and 1, not 0.0 and 1.0.
		s.Float(name).Option("default", int64(0)).Min(-999999999999.0).Max(999999999999.0).Option("step", int64(1))
	})

// TestStringConditions compares two strings, optionally ignoring case.
//
// Two differences from Python come with the libraries: lower-casing is Go's
// (strings.ToLower, which differs from str.lower() on a few special
// characters), and "a MATCH REGEX(b)" uses Go's RE2 syntax: backreferences
// and lookaround fail to compile (the result is then false, as for any bad
// pattern in the pack), and "$" matches only at the very end of the text,
// where Python's also matches before a final newline.
var TestStringConditions = node.New(info("TestStringConditions", "String Condition", logicCategory), func(s *node.Schema) node.RunFunc {
	a := s.String("a").Multiline(false)
	b := s.String("b").Multiline(false)
	op := s.Combo("operation", "a == b", "a != b", "a IN b", "a MATCH REGEX(b)", "a BEGINSWITH b", "a ENDSWITH b")
	caseSensitive := s.Bool("case_sensitive").Default(true)
	out := node.Output(s, node.Boolean, "BOOLEAN")
	return func(ctx context.Context, c *node.Call) error {
		x, y := a.Get(c), b.Get(c)
		sensitive, err := truth(c, caseSensitive.Def().Name)
		if err != nil {
			return err
		}
		if !sensitive {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		out.Set(c, stringCondition(op.Get(c), x, y))
		return nil
	}
})

func stringCondition(op, a, b string) bool {
	switch op {
	case "a == b":
		return a == b
	case "a != b":
		return a != b
	case "a IN b":
		return strings.Contains(b, a)
	case "a MATCH REGEX(b)":
		// re.match anchors at the start only.
		re, err := regexp.Compile(`\A(?:` + b + `)`)
		return err == nil && re.MatchString(a)
	case "a BEGINSWITH b":
		return strings.HasPrefix(a, b)
	case "a ENDSWITH b":
		return strings.HasSuffix(a, b)
	}
	return false
}

// TestToBoolNode outputs the truth of any value: a tensor is true unless all
// zero, anything else as Python's bool() says (true if that fails).
var TestToBoolNode = node.New(info("TestToBoolNode", "To Bool", logicCategory), func(s *node.Schema) node.RunFunc {
	s.AnyOf("value", "*")
	s.Bool("invert").Optional().Default(false)
	out := node.Output(s, node.Boolean, "BOOLEAN")
	return func(ctx context.Context, c *node.Call) error {
		result, err := toBool(input(c, "value"))
		if err != nil {
			return err
		}
		invert, err := truth(c, "invert")
		if err != nil {
			return err
		}
		out.Set(c, result != invert)
		return nil
	}
})

func toBool(v any) (bool, error) {
	a, ok := asArray(v)
	if !ok {
		b, err := pyBool(v)
		return b || err != nil, nil
	}
	hi, err := a.max()
	if err != nil {
		return false, err
	}
	lo, err := a.min()
	if err != nil {
		return false, err
	}
	return hi != 0 || lo != 0, nil
}

// TestBoolOperationNode combines a and b with AND, OR, XOR or NOT a, on the
// truth of its inputs. (Python's "and" and "or" return an operand rather
// than a bool, which only differs for non-bools arriving through "*" links,
// and then only in type, not in truth.)
var TestBoolOperationNode = node.New(info("TestBoolOperationNode", "Bool Operation", logicCategory), func(s *node.Schema) node.RunFunc {
	s.Bool("a")
	s.Bool("b")
	op := s.Combo("op", "a AND b", "a OR b", "a XOR b", "NOT a")
	out := node.Output(s, node.Boolean, "BOOLEAN")
	return func(ctx context.Context, c *node.Call) error {
		x, err := truth(c, "a")
		if err != nil {
			return err
		}
		y, err := truth(c, "b")
		if err != nil {
			return err
		}
		var r bool
		switch op.Get(c) {
		case "a AND b":
			r = x && y
		case "a OR b":
			r = x || y
		case "a XOR b":
			r = x != y
		case "NOT a":
			r = !x
		}
		out.Set(c, r)
		return nil
	}
})
