package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// argKind is how a flag takes values, after Python's argparse, whose
// command lines gocomfy accepts unchanged.
type argKind int

const (
	argBool     argKind = iota // --flag
	argOne                     // --flag VALUE (or --flag=VALUE)
	argOptional                // --flag [VALUE]: without a value the flag's implied value
	argMany                    // --flag [VALUE ...]: zero or more values
)

// flagDef is one command-line flag. Ignored flags are ComfyUI's that mean
// nothing to gocomfy (GPU, precision, attention): accepted, logged, unused.
type flagDef struct {
	name    string
	kind    argKind
	implied string // the value of an argOptional flag given without one
	help    string
	ignored bool
}

// parsedArgs maps a flag name to the values it was given (one per
// occurrence for argOne; all values for argMany; "" for argBool).
type parsedArgs map[string][]string

func (p parsedArgs) has(name string) bool { _, ok := p[name]; return ok }

func (p parsedArgs) str(name string) string {
	v := p[name]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// parseArgs parses args against defs. Values may follow as the next word
// or after "=". A word starting with "--" is never taken as a value.
func parseArgs(defs []flagDef, args []string) (parsedArgs, error) {
	byName := map[string]flagDef{}
	for _, d := range defs {
		byName[d.name] = d
	}
	out := parsedArgs{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			return nil, fmt.Errorf("unexpected argument %q", arg)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		d, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("unknown flag --%s (see --help)", name)
		}
		isValue := func(j int) bool { return j < len(args) && !strings.HasPrefix(args[j], "--") }
		switch d.kind {
		case argBool:
			if hasValue {
				return nil, fmt.Errorf("--%s takes no value", name)
			}
			out[name] = append(out[name], "")
		case argOne:
			if !hasValue {
				if !isValue(i + 1) {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				i++
				value = args[i]
			}
			out[name] = append(out[name], value)
		case argOptional:
			if !hasValue {
				value = d.implied
				if isValue(i + 1) {
					i++
					value = args[i]
				}
			}
			out[name] = append(out[name], value)
		case argMany:
			vals := out[name]
			if vals == nil {
				vals = []string{}
			}
			if hasValue {
				vals = append(vals, value)
			}
			for isValue(i + 1) {
				i++
				vals = append(vals, args[i])
			}
			out[name] = vals
		}
	}
	return out, nil
}

func printHelp(w io.Writer, defs []flagDef) {
	fmt.Fprintln(w, "Usage: gocomfy [flags]\n\nA ComfyUI-compatible workflow server. Flags keep ComfyUI's names and meanings.\n\nFlags:")
	for _, d := range defs {
		if d.ignored {
			continue
		}
		fmt.Fprintf(w, "  --%s%s\n        %s\n", d.name, metavar(d), d.help)
	}
	var ignored []string
	for _, d := range defs {
		if d.ignored {
			ignored = append(ignored, "--"+d.name)
		}
	}
	fmt.Fprintf(w, "\nAccepted for compatibility with ComfyUI command lines, and ignored (gocomfy runs no GPU models):\n  %s\n",
		strings.Join(ignored, " "))
}

func metavar(d flagDef) string {
	switch d.kind {
	case argOne:
		return " VALUE"
	case argOptional:
		return " [VALUE]"
	case argMany:
		return " [VALUE ...]"
	}
	return ""
}

func parseFloat(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("--%s: %q is not a number", name, v)
	}
	return f, nil
}
