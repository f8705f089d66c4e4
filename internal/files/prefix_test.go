package files

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/node"
)

// prefixPrompt is the prompt the FormatPrefix tests refer to.
const prefixPrompt = `{
 "3": {"class_type": "KSampler", "_meta": {"title": "First Pass"},
       "inputs": {"seed": 18446744073709551615, "cfg": 8.0, "denoise": 0.5, "model": ["4", 0], "scheduler": "karras"}},
 "5": {"class_type": "EmptyLatentImage", "_meta": {"title": "Empty Latent Image"},
       "inputs": {"width": 512, "height": 768}},
 "6": {"class_type": "CLIPTextEncode", "_meta": {"title": "Positive"},
       "inputs": {"text": "../../etc/passwd", "clip": ["4", 1]}},
 "7": {"class_type": "CLIPTextEncode", "_meta": {"title": "KSampler"},
       "inputs": {"text": "a\\b:c*d?e\"f<g>h|i\u0001j\u007f"}},
 "8": {"class_type": "Note", "inputs": {"text": "..", "tiny": 1e-7, "small": 0.000001, "big": 1e21,
       "huge": 1e999, "flag": true, "none": null, "list": [1, null, "x/y", [2, 3]], "obj": {"a": 1}}},
 "9": {"class_type": "SaveImage", "_meta": {"title": "Save"}, "inputs": {"filename_prefix": "out"}},
 "10": {"class_type": "Note", "_meta": {"title": "Save"}, "inputs": {"text": "second"}},
 "11": {"class_type": "SaveImage", "_meta": {"title": "SaveImage"}, "inputs": {"filename_prefix": "by title"}}
}`

func mustPrompt(t testing.TB, s string) *node.Prompt {
	t.Helper()
	p, err := node.ParsePrompt([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFormatPrefix(t *testing.T) {
	t.Parallel()
	p := mustPrompt(t, prefixPrompt)
	// A one-digit day, month and hour show the padding.
	now := time.Date(2026, 7, 3, 4, 5, 6, 0, time.UTC)
	for _, c := range []struct{ name, prefix, want string }{
		{"no replacement", "ComfyUI", "ComfyUI"},
		{"date", "%date:yyyy-MM-dd%", "2026-07-03"},
		{"date one digit", "%date:d/M/yy h:m:s%", "3/7/26 4:5:6"},
		{"date two digits", "%date:dd MM hh mm ss%", "03 07 04 05 06"},
		{"date long runs", "%date:ddd yyy yyyyy y%", "033 yyy 2026y y"},
		{"date other letters stay", "%date:YYYY-HH-D Today%", "YYYY-HH-D To3ay"},
		{"date with a dot is its first part", "%date:yyyy.MM.dd%/x", "2026/x"},
		{"date with one dot is a node", "%date:yyyy.MM%", "%date:yyyy.MM%"},
		{"bare date stays", "%date%_%date:%", "%date%_"},
		{"server tokens stay", "%width%x%height%_%year%", "%width%x%height%_%year%"},
		{"class type", "%EmptyLatentImage.width%x%EmptyLatentImage.height%", "512x768"},
		{"title", "%Empty Latent Image.width%_%First Pass.scheduler%", "512_karras"},
		{"class type before title", "%KSampler.cfg%", "8"},
		{"title when the class has no such input", "%KSampler.text%", "%KSampler.text%"},
		{"big seed keeps its digits", "%KSampler.seed%", "18446744073709551615"},
		{"float", "%KSampler.denoise%", "0.5"},
		{"first node of a class", "%CLIPTextEncode.text%", ".._.._etc_passwd"},
		{"linked input of a class", "%Positive.text%|%CLIPTextEncode.clip%", ".._.._etc_passwd|%CLIPTextEncode.clip%"},
		{"javascript numbers", "%Note.tiny% %Note.small% %Note.big% %Note.huge%", "1e-7 0.000001 1e+21 Infinity"},
		{"javascript values", "%Note.flag%,%Note.none%,%Note.list%,%Note.obj%", "true,,1,,x_y,2,3,[object Object]"},
		{"dot dot value", "a/%Note.text%/b", "a/../b"},
		{"linked input stays", "%First Pass.model%", "%First Pass.model%"},
		{"unknown node stays", "%Nope.width%", "%Nope.width%"},
		{"unknown input stays", "%EmptyLatentImage.depth%", "%EmptyLatentImage.depth%"},
		{"empty name stays", "%.text%", "%.text%"},
		{"save nodes match by title only", "%SaveImage.filename_prefix%", "by title"},
		{"first title", "%Save.filename_prefix%,%Save.text%", "out,%Save.text%"},
		{"percent runs", "100%% %%EmptyLatentImage.width%%", "100%% %512%"},
		{"unclosed", "a%EmptyLatentImage.width", "a%EmptyLatentImage.width"},
		{"adjacent", "%EmptyLatentImage.width%EmptyLatentImage.height%", "512EmptyLatentImage.height%"},
		{"three parts stay", "%a.b.c%", "%a.b.c%"},
	} {
		if got := FormatPrefix(c.prefix, p, now); got != c.want {
			t.Errorf("%s: FormatPrefix(%q) = %q; want %q", c.name, c.prefix, got, c.want)
		}
	}
	if got := FormatPrefix("%KSampler.cfg%_%date:yy%", nil, now); got != "%KSampler.cfg%_26" {
		t.Errorf("no prompt: %q", got)
	}
}

func TestFormatPrefixSanitises(t *testing.T) {
	t.Parallel()
	p := mustPrompt(t, prefixPrompt)
	if got, want := FormatPrefix("%Positive.text%", p, testNow), ".._.._etc_passwd"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	n, _ := p.Node("7")
	n.Title = "Odd"
	if got, want := FormatPrefix("%Odd.text%", p, testNow), `a_b_c_d_e_f_g_h_i_j_`; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

// TestFormatPrefixCannotLeaveRoot puts traversal attempts into a widget
// value: the value adds no folder, so the prefix stays in the output folder
// or fails as the same prefix typed with the value would.
func TestFormatPrefixCannotLeaveRoot(t *testing.T) {
	t.Parallel()
	_, root := tempRoot(t)
	for _, value := range append(TraversalCorpus(), "", "..", "../..", `..\..`, "/etc", `C:\x`, "a\x00b") {
		p := node.NewPrompt()
		p.Set(&node.PromptNode{ID: "1", ClassType: "Note", Inputs: []node.Input{{Name: "text", Value: value}}})
		for _, prefix := range []string{"%Note.text%", "%Note.text%/x", "x/%Note.text%/y"} {
			sp, err := SaveImagePath(root, FormatPrefix(prefix, p, testNow), 1, 1, testNow)
			switch {
			case IsOutside(err):
				// Only "/x" and "../x", from the prefix's own separator.
				if prefix != "%Note.text%/x" || value != "" && value != ".." {
					t.Errorf("value %.40q in %q: %v", value, prefix, err)
				}
			case err != nil:
				// Over-long names fail in the OS, inside the root.
			case sp.Subfolder != "" && (!filepath.IsLocal(sp.Subfolder) ||
				strings.Count(sp.Subfolder, "/") >= strings.Count(prefix, "/")):
				t.Errorf("value %.40q in %q: subfolder %.40q", value, prefix, sp.Subfolder)
			}
		}
	}
}

func TestJSFloat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-2.5, "-2.5"}, {0.1, "0.1"},
		{1e20, "100000000000000000000"}, {1e21, "1e+21"}, {-1.5e22, "-1.5e+22"},
		{1e-6, "0.000001"}, {1.5e-7, "1.5e-7"}, {5e-324, "5e-324"},
		{math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}, {math.NaN(), "NaN"},
	} {
		if got := jsFloat(c.f); got != c.want {
			t.Errorf("jsFloat(%v) = %q; want %q", c.f, got, c.want)
		}
	}
	for n, want := range map[json.Number]string{"5": "5", "5.0": "5", "-0": "0", "1E3": "1000", "-9223372036854775809": "-9223372036854776000"} {
		if got := jsNumber(n); got != want {
			t.Errorf("jsNumber(%s) = %q; want %q", n, got, want)
		}
	}
}

// FuzzFormatPrefix checks that expansion never adds a path separator or a
// control character that the prefix did not have: dates print digits and
// the format's own text, and values are filtered.
func FuzzFormatPrefix(f *testing.F) {
	for _, s := range []string{"ComfyUI", "%date:yyyy-MM-dd%/%KSampler.seed%", "%%a%b%", "%date:..%", "%Positive.text%/%Note.list%",
		"%KSampler.text%", "%.%", "%date:yyyy.MM.dd%", "%Note.obj%%Note.none%"} {
		f.Add(s)
	}
	for _, s := range TraversalCorpus() {
		f.Add(s)
	}
	p := mustPrompt(f, prefixPrompt)
	separators := func(s string) int { return strings.Count(s, "/") + strings.Count(s, `\`) }
	control := func(r rune) bool { return r < 0x20 || r == 0x7f }
	f.Fuzz(func(t *testing.T, prefix string) {
		got := FormatPrefix(prefix, p, testNow)
		if !strings.Contains(prefix, "%") && got != prefix {
			t.Fatalf("FormatPrefix(%q) = %q without a replacement", prefix, got)
		}
		if separators(got) > separators(prefix) {
			t.Fatalf("FormatPrefix(%q) = %q adds a separator", prefix, got)
		}
		if !strings.ContainsFunc(prefix, control) && strings.ContainsFunc(got, control) {
			t.Fatalf("FormatPrefix(%q) = %q adds a control character", prefix, got)
		}
	})
}
