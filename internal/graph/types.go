package graph

import (
	"slices"
	"strings"

	"github.com/gocomfy/gocomfy/node"
)

// matchType is V3's MatchType io_type: the frontend checks those links.
const matchType = "COMFY_MATCHTYPE_V3"

// ValidateNodeInput reports whether an output of type received may feed an
// input declared with type declared, as ComfyUI's validate_node_input
// decides: equal types, "*" (or COMFY_MATCHTYPE_V3) on either side, or type
// unions ("INT,FLOAT", whitespace around the parts ignored) that intersect.
// With strict, every received part must be declared instead; validation
// itself is never strict.
func ValidateNodeInput(received, declared string, strict bool) bool {
	if received == declared {
		return true
	}
	if received == "*" || declared == "*" || received == matchType || declared == matchType {
		return true
	}
	got, want := typeParts(received), typeParts(declared)
	if slices.Contains(got, "*") || slices.Contains(want, "*") {
		return true
	}
	for _, t := range got {
		switch {
		case slices.Contains(want, t) && !strict:
			return true
		case !slices.Contains(want, t) && strict:
			return false
		}
	}
	return strict
}

func typeParts(t string) []string {
	parts := strings.Split(t, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// linkTypeOK checks a link of type received into input d. A V1 combo
// declares its options as its type, a Python list that no type string
// equals: only "*" and MatchType outputs may feed it.
func linkTypeOK(received string, d *node.InputDef) bool {
	if d.LegacyCombo() {
		return received == "*" || received == matchType
	}
	return ValidateNodeInput(received, d.Type, false)
}

// declaredType prints an input's type as ComfyUI's messages do.
func declaredType(d *node.InputDef) string {
	if d.LegacyCombo() {
		return pyRepr(d.Choices())
	}
	return d.Type
}
