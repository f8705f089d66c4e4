package textnode

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Python's str methods on Go strings, character by character (Python
// indexes code points, as []rune does).

// specialUpper are the unconditional one-to-many uppercase mappings of
// Unicode's SpecialCasing.txt that Python applies and unicode.ToUpper,
// which maps one rune to one rune, does not: the common ones.
var specialUpper = map[rune]string{
	'ß': "SS", 'ŉ': "ʼN", 'ǰ': "J̌", 'ΐ': "Ϊ́", 'ΰ': "Ϋ́", 'և': "ԵՒ",
	'ẖ': "H̱", 'ẗ': "T̈", 'ẘ': "W̊", 'ẙ': "Y̊", 'ẚ': "Aʾ",
	'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
}

// specialTitle are the title-case counterparts of specialUpper where they
// differ from it.
var specialTitle = map[rune]string{
	'ß': "Ss", 'և': "Եւ", 'ẚ': "Aʾ",
	'ﬀ': "Ff", 'ﬁ': "Fi", 'ﬂ': "Fl", 'ﬃ': "Ffi", 'ﬄ': "Ffl", 'ﬅ': "St", 'ﬆ': "St",
}

// pyUpper is str.upper().
func pyUpper(s string) string {
	var b strings.Builder
	for _, r := range s {
		if u, ok := specialUpper[r]; ok {
			b.WriteString(u)
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// pyLower is str.lower(): İ becomes i + combining dot above, and a capital
// sigma at the end of a word becomes the final form ς, as in Python.
func pyLower(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == 'İ':
			b.WriteString("i̇")
		case r == 'Σ' && finalSigma(rs, i):
			b.WriteRune('ς')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is Unicode's Final_Sigma condition (as Python checks it): a
// cased letter before (skipping case-ignorable ones) and none after.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !cased(rs[j]) {
		return false
	}
	k := i + 1
	for k < len(rs) && caseIgnorable(rs[k]) {
		k++
	}
	return k == len(rs) || !cased(rs[k])
}

func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
}

func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) || strings.ContainsRune("'.:^`·‘’․﹒＇．：", r)
}

// title writes the title case of r.
func title(b *strings.Builder, r rune) {
	if t, ok := specialTitle[r]; ok {
		b.WriteString(t)
	} else if u, ok := specialUpper[r]; ok {
		b.WriteString(u)
	} else {
		b.WriteRune(unicode.ToTitle(r))
	}
}

// pyCapitalize is str.capitalize(): the first character in title case, the
// rest lower case.
func pyCapitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	var b strings.Builder
	title(&b, r)
	b.WriteString(pyLower(s[size:]))
	return b.String()
}

// pyTitle is str.title(): a character after a cased one is lowered, any
// other is title-cased ("they're" → "They'Re", "1st" → "1St").
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			title(&b, r)
		}
		prevCased = cased(r)
	}
	return b.String()
}

// pyIsSpace is str.isspace() for one character: Unicode White_Space plus
// the information separators U+001C–U+001F.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pySlice is Python's s[start:stop] on code points.
func pySlice(s string, start, stop int64) string {
	rs := []rune(s)
	n := int64(len(rs))
	norm := func(i int64) int64 {
		if i < 0 {
			return max(i+n, 0)
		}
		return min(i, n)
	}
	lo, hi := norm(start), norm(stop)
	if hi <= lo {
		return ""
	}
	return string(rs[lo:hi])
}
