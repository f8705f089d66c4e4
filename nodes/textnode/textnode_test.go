package textnode

import (
	"context"
	"math/big"
	"testing"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

func run(class *node.Class, in map[string]any) (any, error) {
	c := node.NewCall(nil, "1", 0, in)
	if err := class.Run(context.Background(), c); err != nil {
		return nil, err
	}
	return c.Result().Outputs[0], nil
}

// Expected values are what CPython 3.11 prints for the same expression,
// given in each comment.
func TestStringNodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		class *node.Class
		in    map[string]any
		want  any
	}{
		// "-".join(("a", "b"))
		{"concat", StringConcatenate, map[string]any{"string_a": "a", "string_b": "b", "delimiter": "-"}, "a-b"},
		// "héllo"[1:-1], [-3:99], [3:1]
		{"substring", StringSubstring, map[string]any{"string": "héllo", "start": int64(1), "end": int64(-1)}, "éll"},
		{"substring clamp", StringSubstring, map[string]any{"string": "héllo", "start": int64(-3), "end": int64(99)}, "llo"},
		{"substring empty", StringSubstring, map[string]any{"string": "héllo", "start": int64(3), "end": int64(1)}, ""},
		// len("héllo👍") == 6 (code points)
		{"length", StringLength, map[string]any{"string": "héllo👍"}, int64(6)},
		// "straße".upper() == "STRASSE"
		{"upper", CaseConverter, map[string]any{"string": "straße", "mode": "UPPERCASE"}, "STRASSE"},
		// "ΟΔΟΣ ΣΑ".lower() == "οδος σα" (final sigma only at a word end)
		{"lower", CaseConverter, map[string]any{"string": "ΟΔΟΣ ΣΑ", "mode": "lowercase"}, "οδος σα"},
		// "hELLO wORLD".capitalize() == "Hello world"
		{"capitalize", CaseConverter, map[string]any{"string": "hELLO wORLD", "mode": "Capitalize"}, "Hello world"},
		// "they're 1st".title() == "They'Re 1St"
		{"title", CaseConverter, map[string]any{"string": "they're 1st", "mode": "Title Case"}, "They'Re 1St"},
		// "\x1c hi \u3000".strip() == "hi"; lstrip, rstrip
		{"trim both", StringTrim, map[string]any{"string": "\x1c hi \u3000", "mode": "Both"}, "hi"},
		{"trim left", StringTrim, map[string]any{"string": "\x1c hi \u3000", "mode": "Left"}, "hi \u3000"},
		{"trim right", StringTrim, map[string]any{"string": "\x1c hi \u3000", "mode": "Right"}, "\x1c hi"},
		// "abc".replace("", "-") == "-a-b-c-"
		{"replace empty", StringReplace, map[string]any{"string": "abc", "find": "", "replace": "-"}, "-a-b-c-"},
		{"replace", StringReplace, map[string]any{"string": "a.b.c", "find": ".", "replace": "::"}, "a::b::c"},
		{"contains folded", StringContains, map[string]any{"string": "Hello", "substring": "hELL", "case_sensitive": false}, true},
		{"contains exact", StringContains, map[string]any{"string": "Hello", "substring": "hELL", "case_sensitive": true}, false},
		{"starts", StringCompare, map[string]any{"string_a": "Hello", "string_b": "he", "mode": "Starts With", "case_sensitive": false}, true},
		{"ends", StringCompare, map[string]any{"string_a": "Hello", "string_b": "LO", "mode": "Ends With", "case_sensitive": true}, false},
		{"equal", StringCompare, map[string]any{"string_a": "ß", "string_b": "ß", "mode": "Equal", "case_sensitive": true}, true},
	}
	for _, tc := range cases {
		got, err := run(tc.class, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestRegexNodes(t *testing.T) {
	t.Parallel()
	flags := func(m map[string]any) map[string]any {
		m["case_insensitive"], m["multiline"], m["dotall"] = true, false, false
		return m
	}
	cases := []struct {
		name  string
		class *node.Class
		in    map[string]any
		want  any
	}{
		{"match ci", RegexMatch, flags(map[string]any{"string": "Hello World", "regex_pattern": "world"}), true},
		{"match cs", RegexMatch, map[string]any{"string": "Hello World", "regex_pattern": "world", "case_insensitive": false}, false},
		// re.error → False.
		{"match invalid", RegexMatch, flags(map[string]any{"string": "x", "regex_pattern": "("}), false},
		// Python's \d is Unicode: "٣" (ARABIC-INDIC DIGIT THREE) matches.
		{"match unicode digit", RegexMatch, flags(map[string]any{"string": "٣", "regex_pattern": `^\d$`}), true},
		// \Z is the end of the string.
		{"match \\Z", RegexMatch, flags(map[string]any{"string": "ab", "regex_pattern": `b\Z`}), true},
		// Lookahead is valid Python but not RE2: documented to give False.
		{"match lookahead (deviation)", RegexMatch, flags(map[string]any{"string": "ab", "regex_pattern": `a(?=b)`}), false},
		// re.search(r"\d+", "a1b22c333").group(0) == "1"
		{"first match", RegexExtract, flags(map[string]any{"string": "a1b22c333", "regex_pattern": `\d+`, "mode": "First Match", "group_index": int64(1)}), "1"},
		{"all matches", RegexExtract, flags(map[string]any{"string": "a1b22c333", "regex_pattern": `\d+`, "mode": "All Matches", "group_index": int64(1)}), "1\n22\n333"},
		// re.findall(r"(\w)(\d)", "a1b22c333") == [('a','1'),('b','2'),('c','3'),('3','3')]; m[0] of each.
		{"all matches groups", RegexExtract, flags(map[string]any{"string": "a1b22c333", "regex_pattern": `(\w)(\d)`, "mode": "All Matches", "group_index": int64(1)}), "a\nb\nc\n3"},
		{"first group", RegexExtract, flags(map[string]any{"string": "a1b22c333", "regex_pattern": `(\w)(\d)`, "mode": "First Group", "group_index": int64(2)}), "1"},
		{"first group 0", RegexExtract, flags(map[string]any{"string": "a1b2", "regex_pattern": `(\w)(\d)`, "mode": "First Group", "group_index": int64(0)}), "a1"},
		{"group out of range", RegexExtract, flags(map[string]any{"string": "a1", "regex_pattern": `(\w)(\d)`, "mode": "First Group", "group_index": int64(5)}), ""},
		{"all groups", RegexExtract, flags(map[string]any{"string": "a1b22c333", "regex_pattern": `(\w)(\d)`, "mode": "All Groups", "group_index": int64(2)}), "1\n2\n3\n3"},
		// A group that did not take part: match.group(1) is None.
		{"first group None", RegexExtract, flags(map[string]any{"string": "5", "regex_pattern": `(x)?\d`, "mode": "First Group", "group_index": int64(1)}), nil},
		{"extract invalid", RegexExtract, flags(map[string]any{"string": "5", "regex_pattern": `[`, "mode": "First Match", "group_index": int64(1)}), ""},
		// re.sub(r"(\d)", r"<\1>", "a1b2") == "a<1>b<2>"
		{"replace group", RegexReplace, flags(map[string]any{"string": "a1b2", "regex_pattern": `(\d)`, "replace": `<\1>`, "count": int64(0)}), "a<1>b<2>"},
		{"replace g<0>", RegexReplace, flags(map[string]any{"string": "a1b2", "regex_pattern": `\d`, "replace": `\g<0>\g<0>`, "count": int64(0)}), "a11b22"},
		{"replace named", RegexReplace, flags(map[string]any{"string": "a1", "regex_pattern": `(?P<n>\d)`, "replace": `[\g<n>]\n$1`, "count": int64(0)}), "a[1]\n$1"},
		{"replace count", RegexReplace, flags(map[string]any{"string": "a1b2", "regex_pattern": `\d`, "replace": "#", "count": int64(1)}), "a#b2"},
		// Optional flags absent: case_insensitive defaults to True.
		{"replace defaults", RegexReplace, map[string]any{"string": "ABC", "regex_pattern": "b", "replace": "x"}, "AxC"},
		{"replace {,2}", RegexReplace, flags(map[string]any{"string": "aaa", "regex_pattern": "a{,2}", "replace": "x", "count": int64(1)}), "xa"},
	}
	for _, tc := range cases {
		got, err := run(tc.class, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %#v, %v; want %#v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []map[string]any{
		{"string": "a", "regex_pattern": "(", "replace": "x"},
		{"string": "a", "regex_pattern": "a", "replace": `\q`},
		{"string": "a", "regex_pattern": "(a)", "replace": `\2`},
		{"string": "a", "regex_pattern": "a", "replace": `\g<nope>`},
	} {
		if _, err := run(RegexReplace, bad); node.ExceptionType(err) != "re.error" {
			t.Errorf("RegexReplace %v: %v, want re.error", bad, err)
		}
	}
	// All Groups joins None: TypeError, as in Python.
	if _, err := run(RegexExtract, flags(map[string]any{"string": "5", "regex_pattern": `(x)?\d`, "mode": "All Groups", "group_index": int64(1)})); node.ExceptionType(err) != "TypeError" {
		t.Errorf("All Groups with None: %v", err)
	}
}

func TestJSONNodes(t *testing.T) {
	t.Parallel()
	doc := `{"a": 1, "b": true, "c": null, "d": {"x": [1, "y'", 2.50]}, "e": "s", "f": 1e5, "g": 123456789012345678901234567890, "a": 2}`
	for key, want := range map[string]string{
		"a": "2", // a repeated key keeps its last value
		"b": "True", "c": "", "e": "s", "f": "100000.0", "missing": "",
		"d": `{'x': [1, "y'", 2.5]}`,
		"g": "123456789012345678901234567890",
	} {
		got, err := run(JsonExtractString, map[string]any{"json_string": doc, "key": key})
		if err != nil || got != want {
			t.Errorf("key %s: got %q, %v; want %q", key, got, err, want)
		}
	}
	for _, js := range []string{"[1]", "{", `"a"`, `{"a": 1} x`} {
		if got, _ := run(JsonExtractString, map[string]any{"json_string": js, "key": "a"}); got != "" {
			t.Errorf("%s: got %q", js, got)
		}
	}
	dict := pyjson.Object{{Key: "a", Value: int64(1)}, {Key: "b", Value: []any{"é", nil, true, 0.5, big.NewInt(7)}}}
	for indent, want := range map[int64]string{
		// json.dumps(d, ensure_ascii=False, indent=None)
		0: `{"a": 1, "b": ["é", null, true, 0.5, 7]}`,
		2: "{\n  \"a\": 1,\n  \"b\": [\n    \"é\",\n    null,\n    true,\n    0.5,\n    7\n  ]\n}",
	} {
		got, err := run(ConvertDictionaryToString, map[string]any{"dictionary": dict, "indent": indent})
		if err != nil || got != want {
			t.Errorf("indent %d: got %q, %v", indent, got, err)
		}
	}
	got, err := run(ConvertArrayToString, map[string]any{"array": []any{}, "indent": int64(2)})
	if err != nil || got != "[]" {
		t.Errorf("empty array: %q, %v", got, err)
	}
}

func TestStringFormat(t *testing.T) {
	t.Parallel()
	values := map[string]any{"values.a": int64(1234567), "values.b": 2.5, "values.c": "x", "values.w": int64(9), "values.l": []any{int64(1), "two"}}
	cases := []struct{ f, want string }{
		// Each line is "<f>".format(a=1234567, b=2.5, c="x", w=9, l=[1, "two"]).
		{"{a} {b} {c}", "1234567 2.5 x"},
		{"{a:,} {a:_} {a:x} {a:#o} {a:+d}", "1,234,567 1_234_567 12d687 0o4553207 +1234567"},
		{"{b:.3f} {b:e} {b:g} {b:%} {b:08.2f}", "2.500 2.500000e+00 2.5 250.000000% 00002.50"},
		{"{c!r} {c:^5}|{c:*<3}|{c:>3}", "'x'   x  |x**|  x"},
		{"{a:{w}}", "  1234567"},
		{"{l[1]} {l} {{a}}", "two [1, 'two'] {a}"},
		{"{b:.2} {a:.2e}", "2.5 1.23e+06"},
	}
	for _, tc := range cases {
		in := map[string]any{"f_string": tc.f}
		for k, v := range values {
			in[k] = v
		}
		got, err := run(StringFormat, in)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.f, got, err, tc.want)
		}
	}
	for f, typ := range map[string]string{"{d}": "KeyError", "{}": "IndexError", "{0}": "IndexError", "}": "ValueError", "{a": "ValueError", "{a:q}": "ValueError"} {
		_, err := run(StringFormat, map[string]any{"f_string": f, "values.a": int64(1)})
		if node.ExceptionType(err) != typ {
			t.Errorf("%q: %v, want %s", f, err, typ)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{`a(?=b)`, `\d+\Z`, `[\w\S]`, `(?#c)x{,3}`, `\u00e9\0\12`, `[]a]`, `\`, `(?P=n)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		re, err := compilePattern(p, true, true, true)
		if err == nil {
			if _, err := parseTemplate(p, re); err == nil {
				_ = sub(re, template{}, p, 0)
			}
		}
	})
}

func FuzzFormat(f *testing.F) {
	for _, s := range []string{"{a:>{w}}", "{a!r:^9}", "{{}}", "{l[0]}", "{a:,.2f}", "{a:z}", "{:"} {
		f.Add(s)
	}
	values := map[string]any{"a": 1.5, "w": int64(3), "l": []any{"x"}, "s": "str", "n": nil}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = pyFormat(s, values, 0)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, null]}`, `[`, `{"a":1,"a":2}`, `1e999`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = jsonExtract(s, "a")
	})
}
