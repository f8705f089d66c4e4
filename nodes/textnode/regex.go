package textnode

import (
	"context"
	"regexp"
	"strings"

	"github.com/gocomfy/gocomfy/node"
)

// regexFlags are the re flags toggles of the regex nodes.
type regexFlags struct {
	ignoreCase, multiline, dotall *node.BoolInput
}

// declareFlags declares case_insensitive, multiline and dotall; optional
// makes them optional inputs (RegexReplace), whose defaults then apply
// when absent.
func declareFlags(s *node.Schema, optional bool, dotallTooltip string) regexFlags {
	f := regexFlags{
		ignoreCase: s.Bool("case_insensitive").Default(true).Advanced(),
		multiline:  s.Bool("multiline").Default(false).Advanced(),
		dotall:     s.Bool("dotall").Default(false).Advanced(),
	}
	if dotallTooltip != "" {
		f.dotall.Tooltip(dotallTooltip)
	}
	if optional {
		f.ignoreCase.Optional()
		f.multiline.Optional()
		f.dotall.Optional()
	}
	return f
}

// compile compiles pattern with the call's flags; an absent flag input
// takes its default (case_insensitive true, the others false).
func (f regexFlags) compile(c *node.Call, pattern string) (*regexp.Regexp, error) {
	ic := f.ignoreCase.Get(c) || !f.ignoreCase.Present(c)
	return compilePattern(pattern, ic, f.multiline.Get(c), f.dotall.Get(c))
}

// RegexMatch reports whether the pattern matches anywhere (re.search);
// an invalid pattern gives false.
var RegexMatch = node.New(info("RegexMatch", "Match Text", "regex match", "regex", "pattern match", "text contains", "string match"),
	func(s *node.Schema) node.RunFunc {
		str, pattern := text(s, "string"), text(s, "regex_pattern")
		flags := declareFlags(s, false, "")
		out := node.Output(s, node.Boolean, "matches")
		return func(ctx context.Context, c *node.Call) error {
			re, err := flags.compile(c, pattern.Get(c))
			out.Set(c, err == nil && re.MatchString(str.Get(c)))
			return nil
		}
	})

// RegexExtract returns the first match, all matches, the first match's
// group, or that group of every match, joined by newlines; "" for an
// invalid pattern.
var RegexExtract = node.New(info("RegexExtract", "Extract Text", "regex extract", "regex", "pattern extract", "text parser", "parse text"),
	func(s *node.Schema) node.RunFunc {
		str, pattern := text(s, "string"), text(s, "regex_pattern")
		mode := s.Combo("mode", "First Match", "All Matches", "First Group", "All Groups")
		flags := declareFlags(s, false, "")
		groupIndex := s.Int("group_index").Default(1).Min(0).Max(100).Advanced()
		out := node.Output(s, node.String, "STRING")
		return func(ctx context.Context, c *node.Call) error {
			re, err := flags.compile(c, pattern.Get(c))
			if err != nil {
				out.Set(c, "")
				return nil
			}
			res, ok, err := extract(re, str.Get(c), mode.Get(c), int(groupIndex.Get(c)))
			if err != nil {
				return err
			}
			if !ok {
				// match.group() of a group that did not take part is None.
				c.SetOutput(out.Index(), nil)
				return nil
			}
			out.Set(c, res)
			return nil
		}
	})

// extract is RegexExtract's modes; ok is false when Python's result is None.
func extract(re *regexp.Regexp, s, mode string, gi int) (string, bool, error) {
	group := func(m []int, g int) (string, bool) {
		if m[2*g] < 0 {
			return "", false
		}
		return s[m[2*g]:m[2*g+1]], true
	}
	groups := re.NumSubexp()
	switch mode {
	case "First Match":
		m := re.FindStringIndex(s)
		if m == nil {
			return "", true, nil
		}
		return s[m[0]:m[1]], true, nil
	case "All Matches":
		// re.findall: the whole match without groups, else group 1 (an
		// unmatched group is "").
		g := min(groups, 1)
		var parts []string
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			p, _ := group(m, g)
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), true, nil
	case "First Group":
		m := re.FindStringSubmatchIndex(s)
		if m == nil || groups < gi {
			return "", true, nil
		}
		p, ok := group(m, gi)
		return p, ok, nil
	case "All Groups":
		var parts []string
		if groups > 0 && groups >= gi {
			for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
				p, ok := group(m, gi)
				if !ok {
					return "", false, node.Raise("TypeError", "sequence item %d: expected str instance, NoneType found", len(parts))
				}
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, "\n"), true, nil
	}
	return "", true, nil
}

// RegexReplace is re.sub: count 0 replaces every match. Unlike the other
// regex nodes, an invalid pattern or replacement is an error (re.error).
var RegexReplace = node.New(func() node.Info {
	i := info("RegexReplace", "Replace Text (Regex)", "regex replace", "regex", "pattern replace", "substitution")
	i.Description = "Find and replace text using regex patterns."
	return i
}(), func(s *node.Schema) node.RunFunc {
	str, pattern, replace := text(s, "string"), text(s, "regex_pattern"), text(s, "replace")
	flags := declareFlags(s, true, "When enabled, the dot (.) character will match any character including newline characters. When disabled, dots won't match newlines.")
	count := s.Int("count").Default(0).Min(0).Max(100).Optional().Advanced().
		Tooltip("Maximum number of replacements to make. Set to 0 to replace all occurrences (default). Set to 1 to replace only the first match, 2 for the first two matches, etc.")
	out := node.Output(s, node.String, "STRING")
	return func(ctx context.Context, c *node.Call) error {
		re, err := flags.compile(c, pattern.Get(c))
		if err != nil {
			return node.Raise("re.error", "%v", err)
		}
		t, err := parseTemplate(replace.Get(c), re)
		if err != nil {
			return node.Raise("re.error", "%v", err)
		}
		out.Set(c, sub(re, t, str.Get(c), int(count.Get(c))))
		return nil
	}
})
