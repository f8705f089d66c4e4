package textnode

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Python's re module on top of Go's regexp (RE2). compilePattern translates
// the Python syntax RE2 spells differently; what RE2 cannot do at all is an
// error, as an invalid pattern is in Python (re.error):
//
//   - backreferences (\1, (?P=name)), lookahead and lookbehind ((?=…),
//     (?!…), (?<=…), (?<!…)), conditionals, atomic groups and possessive
//     quantifiers, and verbose mode (?x) are not supported;
//   - \d, \w, \s and their negations match Unicode digits, word characters
//     and whitespace, as in Python, except \D, \W and \S inside a character
//     class, which stay ASCII; \b and \B use ASCII word characters;
//   - $ without MULTILINE matches only at the very end, not also before a
//     final newline as Python's does; \Z is translated to RE2's \z;
//   - repetition counts are limited to 1000;
//   - successive matches (findall, sub) follow Go's rule for empty matches:
//     an empty match right after a previous match is skipped, where Python
//     (3.7+) keeps it ("x*" on "abxd": Python sub gives "-a-b--d-", Go
//     "-a-b-d-"), and a lazy pattern that could match empty or non-empty at
//     the same place yields only the empty match.

// errRegex is the error of patterns Python or RE2 rejects (re.error).
var errRegex = errors.New("re.error")

// Unicode classes of Python's str patterns, inside a character class.
const (
	digitClass = `\p{Nd}`
	wordClass  = `\p{L}\p{N}_`
	spaceClass = `\s\x1c-\x1f\x{85}\p{Z}`
)

// compilePattern compiles a Python pattern with re's IGNORECASE, MULTILINE
// and DOTALL flags.
func compilePattern(pattern string, ignoreCase, multiline, dotall bool) (*regexp.Regexp, error) {
	src, err := translate(pattern)
	if err != nil {
		return nil, err
	}
	flags := ""
	for _, f := range []struct {
		on bool
		c  string
	}{{ignoreCase, "i"}, {multiline, "m"}, {dotall, "s"}} {
		if f.on {
			flags += f.c
		}
	}
	if flags != "" {
		src = "(?" + flags + ")" + src
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errRegex, err)
	}
	return re, nil
}

// translate rewrites Python regex syntax into RE2 syntax.
func translate(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", fmt.Errorf("%w: bad escape (end of pattern)", errRegex)
			}
			n, err := translateEscape(&b, p[i+1:], inClass)
			if err != nil {
				return "", err
			}
			i += 1 + n
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			b.WriteByte(c)
			i++
			// A ']' right after '[' or '[^' is a literal.
			if strings.HasPrefix(p[i:], "^") {
				b.WriteByte('^')
				i++
			}
			if strings.HasPrefix(p[i:], "]") {
				b.WriteString(`\]`)
				i++
			}
			continue
		case strings.HasPrefix(p[i:], "(?#"):
			end := strings.IndexByte(p[i:], ')')
			if end < 0 {
				return "", fmt.Errorf("%w: missing ), unterminated comment", errRegex)
			}
			i += end + 1
			continue
		case strings.HasPrefix(p[i:], "(?P="):
			return "", fmt.Errorf("%w: backreferences are not supported", errRegex)
		case strings.HasPrefix(p[i:], "{,"):
			// Python's {,n} is {0,n}; RE2 would read it as a literal.
			if end := strings.IndexByte(p[i:], '}'); end > 2 && isDigits(p[i+2:i+end]) {
				b.WriteString("{0," + p[i+2:i+end] + "}")
				i += end + 1
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// translateEscape writes the RE2 form of the escape at the start of rest
// (the text after the backslash) and returns how many bytes it used.
func translateEscape(b *strings.Builder, rest string, inClass bool) (int, error) {
	c := rest[0]
	class := func(inner string, negate bool) {
		switch {
		case inClass:
			b.WriteString(inner)
		case negate:
			b.WriteString("[^" + inner + "]")
		default:
			b.WriteString("[" + inner + "]")
		}
	}
	switch c {
	case 'd':
		class(digitClass, false)
	case 'w':
		class(wordClass, false)
	case 's':
		class(spaceClass, false)
	case 'D', 'W', 'S':
		if inClass {
			b.WriteString(`\` + string(c))
		} else {
			class(map[byte]string{'D': digitClass, 'W': wordClass, 'S': spaceClass}[c], true)
		}
	case 'Z':
		if inClass {
			return 0, fmt.Errorf("%w: bad escape \\Z", errRegex)
		}
		b.WriteString(`\z`)
	case 'b':
		if inClass {
			b.WriteString(`\x08`)
		} else {
			b.WriteString(`\b`)
		}
	case 'u', 'U':
		n := map[byte]int{'u': 4, 'U': 8}[c]
		if len(rest) < 1+n {
			return 0, fmt.Errorf("%w: incomplete escape \\%c", errRegex, c)
		}
		v, err := strconv.ParseUint(rest[1:1+n], 16, 32)
		if err != nil || v > 0x10ffff {
			return 0, fmt.Errorf("%w: bad escape \\%s", errRegex, rest[:1+n])
		}
		fmt.Fprintf(b, `\x{%x}`, v)
		return 1 + n, nil
	case '0':
		n := 1
		for n < 3 && n < len(rest) && rest[n] >= '0' && rest[n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint(rest[:n], 8, 32)
		fmt.Fprintf(b, `\x{%x}`, v)
		return n, nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if !inClass {
			return 0, fmt.Errorf("%w: backreferences are not supported", errRegex)
		}
		b.WriteString(`\` + string(c))
	default:
		r, size := utf8.DecodeRuneInString(rest)
		b.WriteString(`\` + string(r))
		return size, nil
	}
	return 1, nil
}

// template is a parsed re.sub replacement: literal text and group
// references, in order.
type template []struct {
	lit   string
	group int // -1 for literal text
}

// parseTemplate parses Python's replacement syntax: \g<name>, \g<n>, \n
// and \nn group references, octal escapes, \a \b \f \n \r \t \v \\; other
// escaped ASCII letters are errors, other escaped characters stay as they
// are (backslash included).
func parseTemplate(s string, re *regexp.Regexp) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, struct {
				lit   string
				group int
			}{lit.String(), -1})
			lit.Reset()
		}
	}
	group := func(g int) error {
		if g < 0 || g > re.NumSubexp() {
			return fmt.Errorf("%w: invalid group reference %d", errRegex, g)
		}
		flush()
		t = append(t, struct {
			lit   string
			group int
		}{"", g})
		return nil
	}
	for i := 0; i < len(s); {
		if s[i] != '\\' || i+1 == len(s) {
			lit.WriteByte(s[i])
			i++
			continue
		}
		c := s[i+1]
		switch {
		case c == 'g':
			end := strings.IndexByte(s[i:], '>')
			if !strings.HasPrefix(s[i+2:], "<") || end < 0 {
				return nil, fmt.Errorf("%w: missing <", errRegex)
			}
			name := s[i+3 : i+end]
			g, err := strconv.Atoi(name)
			if err != nil || !isDigits(name) {
				if g = re.SubexpIndex(name); g < 0 {
					return nil, fmt.Errorf("%w: unknown group name '%s'", errRegex, name)
				}
			}
			if err := group(g); err != nil {
				return nil, err
			}
			i += end + 1
		case c == '0':
			n := 2
			for n < 4 && i+n < len(s) && s[i+n] >= '0' && s[i+n] <= '7' {
				n++
			}
			v, _ := strconv.ParseUint(s[i+1:i+n], 8, 32)
			lit.WriteRune(rune(v))
			i += n
		case c >= '1' && c <= '9':
			n := 2
			if i+2 < len(s) && s[i+2] >= '0' && s[i+2] <= '9' {
				if i+3 < len(s) && c <= '7' && s[i+2] <= '7' && s[i+3] >= '0' && s[i+3] <= '7' {
					v, _ := strconv.ParseUint(s[i+1:i+4], 8, 32)
					if v > 0o377 {
						return nil, fmt.Errorf("%w: octal escape value \\%s outside of range 0-0o377", errRegex, s[i+1:i+4])
					}
					lit.WriteRune(rune(v))
					i += 4
					continue
				}
				n = 3
			}
			g, _ := strconv.Atoi(s[i+1 : i+n])
			if err := group(g); err != nil {
				return nil, err
			}
			i += n
		case strings.IndexByte("abfnrtv\\", c) >= 0:
			lit.WriteByte(map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}[c])
			i += 2
		case c < utf8.RuneSelf && (c|0x20 >= 'a' && c|0x20 <= 'z'):
			return nil, fmt.Errorf("%w: bad escape \\%c", errRegex, c)
		default:
			lit.WriteByte('\\')
			i++
		}
	}
	flush()
	return t, nil
}

// expand appends the replacement for match m (submatch indices) of src.
func (t template) expand(dst []byte, src string, m []int) []byte {
	for _, p := range t {
		if p.group < 0 {
			dst = append(dst, p.lit...)
		} else if m[2*p.group] >= 0 {
			dst = append(dst, src[m[2*p.group]:m[2*p.group+1]]...)
		}
	}
	return dst
}

// sub is re.sub(pattern, repl, s, count) (count 0: all).
func sub(re *regexp.Regexp, repl template, s string, count int) string {
	n := -1
	if count > 0 {
		n = count
	}
	var out []byte
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, n) {
		out = append(out, s[last:m[0]]...)
		out = repl.expand(out, s, m)
		last = m[1]
	}
	return string(append(out, s[last:]...))
}
