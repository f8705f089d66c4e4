package files

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gocomfy/gocomfy/node"
)

// FormatPrefix expands the replacements that ComfyUI's web frontend makes
// in a save node's filename_prefix before it queues a prompt
// (applyTextReplacements of ComfyUI_frontend), so that API clients get them
// too. now is the caller's clock in the zone to format in; prompt is the
// running prompt (nil for none). SaveImagePath then substitutes the
// server's own tokens.
//
// Each "%text%" (a '%', one or more other characters, a '%'; left to
// right, without overlap) is looked at on its own:
//
//   - text split at '.' into other than two parts: if the first part starts
//     with "date:", the whole match becomes that part after "date:"
//     formatted by formatDate. So %date:yyyy.MM.dd% is only the year and
//     %date:yyyy.MM% a node reference, as in the frontend. Anything else
//     (%width%, %year%, a bare %date%) stays.
//   - "Name.widget": the first node of the prompt whose class_type is Name
//     (the frontend's "Node name for S&R" property, which defaults to the
//     class type and which its save nodes lack), else the first whose
//     _meta.title is Name. The node's literal input widget, stringified as
//     JavaScript does, with each of / ? < > \ : * | " and control
//     characters replaced by '_', replaces the match, so a value adds no
//     folder. An unknown node, a missing input or a linked one leaves the
//     match as it is.
//
// Differences from the frontend, which works on the workflow rather than
// the API prompt: nodes without _meta have no title to match (the
// frontend's default title is the class's display name); a linked input
// stays (the frontend uses the widget's last value); integers beyond 2^53
// keep their digits; the date is that of the run, not of queueing. A
// prompt from the frontend arrives already expanded, so only text that a
// substituted value brings back is expanded twice.
func FormatPrefix(prefix string, prompt *node.Prompt, now time.Time) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(prefix, '%')
		if i < 0 {
			break
		}
		n := strings.IndexByte(prefix[i+1:], '%')
		if n < 0 {
			break
		}
		if n == 0 {
			// "%%": the first '%' cannot start a match.
			b.WriteString(prefix[:i+1])
			prefix = prefix[i+1:]
			continue
		}
		match := prefix[i : i+n+2]
		b.WriteString(prefix[:i])
		if s, ok := replacement(match[1:n+1], prompt, now); ok {
			b.WriteString(s)
		} else {
			b.WriteString(match)
		}
		prefix = prefix[i+n+2:]
	}
	b.WriteString(prefix)
	return b.String()
}

// replacement is the expansion of "%text%", if any.
func replacement(text string, prompt *node.Prompt, now time.Time) (string, bool) {
	parts := strings.Split(text, ".")
	if len(parts) != 2 {
		format, ok := strings.CutPrefix(parts[0], "date:")
		if !ok {
			return "", false
		}
		return formatDate(format, now), true
	}
	n := findNode(prompt, parts[0])
	if n == nil {
		return "", false
	}
	v, ok := n.Input(parts[1])
	if !ok {
		return "", false
	}
	if _, isLink, _ := node.AsLink(v); isLink {
		return "", false
	}
	return strings.Map(pathSafe, jsString(v)), true
}

// frontendSaveNodes are the classes whose filename_prefix the frontend
// expands; it gives them no "Node name for S&R", so they match only by
// title.
var frontendSaveNodes = map[string]bool{
	"SaveImage": true, "SaveImageAdvanced": true, "SaveSVGNode": true, "SaveVideo": true,
	"SaveAnimatedWEBP": true, "SaveWEBM": true, "SaveAudio": true, "SaveAudioMP3": true,
	"SaveAudioOpus": true, "SaveAudioAdvanced": true, "SaveGLB": true, "SaveAnimatedPNG": true,
	"CLIPSave": true, "VAESave": true, "ModelSave": true, "LoraSave": true, "SaveLatent": true,
}

// findNode returns the node that "name.widget" refers to, or nil.
func findNode(prompt *node.Prompt, name string) *node.PromptNode {
	// An empty name would otherwise match every node without a title.
	if prompt == nil || name == "" {
		return nil
	}
	var byTitle *node.PromptNode
	for _, id := range prompt.IDs() {
		n, _ := prompt.Node(id)
		if n.ClassType == name && !frontendSaveNodes[name] {
			return n
		}
		if byTitle == nil && n.Title == name {
			byTitle = n
		}
	}
	return byTitle
}

// pathSafe is the frontend's character filter for substituted values.
func pathSafe(r rune) rune {
	if r < 0x20 || r == 0x7f || strings.ContainsRune(`/?<>\:*|"`, r) {
		return '_'
	}
	return r
}

// formatDate is the frontend's formatDate: in format, d, M, h (0-23), m
// and s are the day, month, hour, minute and second, doubled for two
// digits; yyyy is the year and yy its last two digits. Other text, a
// single y and yyy included, stays. Runs longer than a token are read
// left to right: "ddd" is "dd" then "d".
func formatDate(format string, now time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		run := 1 // c repeated, up to the longest token
		for run < 4 && i+run < len(format) && format[i+run] == c {
			run++
		}
		var v int
		switch c {
		case 'd':
			v = now.Day()
		case 'M':
			v = int(now.Month())
		case 'h':
			v = now.Hour()
		case 'm':
			v = now.Minute()
		case 's':
			v = now.Second()
		case 'y':
			year := strconv.Itoa(now.Year())
			switch run {
			case 2:
				// JavaScript's substring(2) of the year's text.
				b.WriteString(year[min(2, len(year)):])
			case 4:
				b.WriteString(year)
			default:
				b.WriteString(format[i : i+run])
			}
			i += run
			continue
		default:
			b.WriteByte(c)
			i++
			continue
		}
		k := min(run, 2)
		fmt.Fprintf(&b, "%0*d", k, v)
		i += k
	}
	return b.String()
}

// jsString is String(value ?? "") in JavaScript for a decoded JSON value:
// null is "", lists join their elements with ',' (null elements empty),
// objects are "[object Object]". Other Go values, which only prompts built
// in code hold, print as fmt does.
func jsString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return jsNumber(v)
	case float64:
		return jsFloat(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = jsString(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		return "[object Object]"
	}
	return fmt.Sprint(v)
}

// jsNumber prints a JSON number as JavaScript would after JSON.parse,
// except that integers keep all their digits (seeds go up to 2^64-1, which
// a double cannot hold).
func jsNumber(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return strconv.FormatUint(u, 10)
		}
	}
	// Out of range is ±Inf, as in JSON.parse.
	f, _ := strconv.ParseFloat(s, 64)
	return jsFloat(f)
}

// jsFloat is JavaScript's Number.prototype.toString: the shortest digits
// that round-trip, in plain notation from 1e-6 up to 1e21 and in
// exponential notation ("1e+21", "1.5e-7") outside.
func jsFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0" // -0 too
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	return mant + "e" + exp[:1] + strings.TrimLeft(exp[1:], "0")
}
