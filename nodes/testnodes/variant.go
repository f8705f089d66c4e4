package testnodes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gocomfy/gocomfy/node"
)

// variant declares a class as the pack's @VariantSupport() decorator makes
// it: its input and output types become SmartTypes, comma-separated type
// sets with "*" as a wildcard, and it gets a generated VALIDATE_INPUTS that
// takes input_types (so the executor's own link type check is off) and
// checks each linked input with SmartType's !=.
//
// One difference: Python skips the check for links from another
// VariantSupport class (their types are SmartTypes already); the received
// type here does not say where it came from, so every link is checked. No
// meaningful graph of the pack's nodes links a variant output into an input
// it does not fit.
func variant(i node.Info, define func(s *node.Schema) node.RunFunc) *node.Class {
	var class *node.Class
	class = node.New(i, func(s *node.Schema) node.RunFunc {
		run := define(s)
		s.ValidateInputs(func(ctx context.Context, c *node.Call) error {
			return checkSmartTypes(class, c)
		}, node.ValidateOptions{InputTypes: true})
		return run
	})
	return class
}

// checkSmartTypes is the generated validator: the first linked required or
// optional input whose received type does not fit its declared type fails.
func checkSmartTypes(class *node.Class, c *node.Call) error {
	for _, d := range class.Inputs() {
		if d.Section == node.Hidden {
			continue
		}
		received, ok := c.InputType(d.Name)
		if ok && !smartTypeFits(received, d.Type) {
			return fmt.Errorf("Invalid type of %s: %s (expected %s)", d.Name, received, d.Type)
		}
	}
	return nil
}

// smartTypeFits is not (SmartType(received) != expected): either side is
// "*", or every comma-separated part of received is a part of expected.
func smartTypeFits(received, expected string) bool {
	if received == "*" || expected == "*" {
		return true
	}
	parts := strings.Split(expected, ",")
	for _, r := range strings.Split(received, ",") {
		if !slices.Contains(parts, r) {
			return false
		}
	}
	return true
}
