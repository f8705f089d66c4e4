package files

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads extra_model_paths.yaml, ComfyUI's way to add model
// directories (utils/extra_config.py):
//
//	comfyui:                      # a section; its name is free
//	    base_path: path/to/comfyui/   # optional; relative to the file's folder; ~ and $VAR expanded
//	    is_default: true              # optional: put these directories first
//	    checkpoints: models/checkpoints/
//	    text_encoders: |              # a literal block: one directory per line
//	        models/text_encoders/
//	        models/clip/
//
// Directories are joined to base_path, or without one to the file's folder
// (an absolute directory stays as it is), then cleaned. Folder names go
// through MapLegacy; a new name is a new folder listing every file.
//
// Rather than depend on a YAML library, this parses the subset such files
// use: a two-level block mapping of plain, single- or double-quoted scalars
// and literal block scalars (|, |-, |+), with comments. Anything else —
// lists, flow collections, anchors, tags, folded or multi-line scalars,
// several documents — is an error naming the line, never a guess.

// A modelPath is one directory a file adds to a folder.
type modelPath struct {
	folder, dir string
	isDefault   bool
}

// LoadExtraModelPaths reads an extra_model_paths.yaml file and adds its
// directories, in file order, as ComfyUI does at start.
func (m *Models) LoadExtraModelPaths(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	paths, err := parseExtraModelPaths(file, data, filepath.Dir(abs), os.LookupEnv)
	if err != nil {
		return err
	}
	for _, p := range paths {
		m.Add(p.folder, p.dir, p.isDefault)
	}
	return nil
}

// parseExtraModelPaths turns the file's bytes into directories. dir is the
// file's folder (absolute); lookup reads the environment for base_path.
func parseExtraModelPaths(file string, data []byte, dir string, lookup func(string) (string, bool)) ([]modelPath, error) {
	sections, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	var out []modelPath
	for _, sec := range sections {
		if sec.entries == nil {
			continue // "name:" with nothing under it; ComfyUI skips it too
		}
		root, isDefault := dir, false
		if e, ok := sec.get("base_path"); ok {
			if e.isNull() {
				return nil, &yamlError{file, e.line, "base_path has no value"}
			}
			root = pyJoin(dir, expandVars(expandUser(e.value, lookup), lookup))
		}
		if e, ok := sec.get("is_default"); ok {
			isDefault = e.truthy()
		}
		for _, e := range sec.entries {
			if e.key == "base_path" || e.key == "is_default" {
				continue
			}
			if e.isNull() {
				return nil, &yamlError{file, e.line, fmt.Sprintf("%s has no directory", e.key)}
			}
			for _, p := range strings.Split(e.value, "\n") {
				if p != "" {
					out = append(out, modelPath{e.key, pyJoin(root, p), isDefault})
				}
			}
		}
	}
	return out, nil
}

// yamlError is a parse error at a line of the file.
type yamlError struct {
	file string
	line int
	msg  string
}

func (e *yamlError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// A yamlSection is a top-level key. entries is nil when it has no mapping
// under it (YAML null).
type yamlSection struct {
	name    string
	entries []yamlEntry
}

// A yamlEntry is a second-level key and its scalar value.
type yamlEntry struct {
	key, value string
	plain      bool // unquoted single-line value, subject to YAML 1.1 typing
	line       int
}

// get finds an entry by key.
func (s *yamlSection) get(key string) (yamlEntry, bool) {
	for _, e := range s.entries {
		if e.key == key {
			return e, true
		}
	}
	return yamlEntry{}, false
}

// isNull reports a plain value that YAML reads as null: empty, ~ or null.
func (e yamlEntry) isNull() bool {
	if !e.plain {
		return false
	}
	switch e.value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// truthy is Python's truth of the value PyYAML builds: quoted strings are
// true unless empty; plain null, YAML 1.1 false words and zero numbers are
// false.
func (e yamlEntry) truthy() bool {
	if !e.plain {
		return e.value != ""
	}
	switch e.value {
	case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
		return false
	}
	return !e.isNull() && !isZero(e.value)
}

// isZero reports a YAML 1.1 integer (decimal, 0b, 0x, 0-octal) or decimal
// float literal equal to zero.
func isZero(s string) bool {
	s = strings.ReplaceAll(strings.TrimLeft(s, "+-"), "_", "")
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v == 0
	}
	if strings.Trim(s, "0123456789.eE+-") != "" {
		return false // .inf, .nan, hex floats: not zero, or not YAML
	}
	v, err := strconv.ParseFloat(s, 64)
	return err == nil && v == 0
}

// yamlParser walks the lines of the file.
type yamlParser struct {
	file  string
	lines []string
	i     int // the current line
}

// errorf reports an error at the current line.
func (p *yamlParser) errorf(format string, args ...any) error {
	return &yamlError{p.file, p.i + 1, fmt.Sprintf(format, args...)}
}

// parseYAML parses the two-level mapping. Sections and entries keep the
// position of their first occurrence and the value of their last, as a
// Python dict built by PyYAML does.
func parseYAML(file string, data []byte) ([]yamlSection, error) {
	text := strings.TrimPrefix(string(data), "\ufeff")
	p := &yamlParser{file: file, lines: strings.Split(text, "\n")}
	for i, line := range p.lines {
		p.i = i
		p.lines[i] = strings.TrimSuffix(line, "\r")
		if err := p.checkChars(); err != nil {
			return nil, err
		}
	}
	p.i = 0
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.i < len(p.lines) && p.lines[p.i] == "---" {
		p.i++
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	var sections []yamlSection
	top := -1
	for p.i < len(p.lines) {
		indent, text := splitIndent(p.lines[p.i])
		if top < 0 {
			top = indent
		}
		if indent != top {
			return nil, p.errorf("indentation does not match the sections above")
		}
		sec, err := p.section(text, top)
		if err != nil {
			return nil, err
		}
		sections = setSection(sections, sec)
	}
	return sections, nil
}

// checkChars refuses in the current line what PyYAML refuses: invalid
// UTF-8 and non-printable characters.
func (p *yamlParser) checkChars() error {
	line := p.lines[p.i]
	if !utf8.ValidString(line) {
		return p.errorf("not valid UTF-8")
	}
	for _, r := range line {
		if r < 0x20 && r != '\t' || r == 0x7f || 0x80 <= r && r < 0xa0 && r != 0x85 || r == 0xfffe || r == 0xffff {
			return p.errorf("character %U is not allowed", r)
		}
	}
	return nil
}

// next moves past blank and comment lines to the next content line, which
// must not be indented with tabs.
func (p *yamlParser) next() error {
	for ; p.i < len(p.lines); p.i++ {
		t := strings.TrimLeft(p.lines[p.i], " \t")
		if t != "" && t[0] != '#' {
			break
		}
	}
	if p.i < len(p.lines) {
		if _, t := splitIndent(p.lines[p.i]); t[0] == '\t' {
			return p.errorf("tabs are not allowed in indentation")
		}
	}
	return nil
}

// splitIndent splits the leading spaces off a line.
func splitIndent(line string) (int, string) {
	t := strings.TrimLeft(line, " ")
	return len(line) - len(t), t
}

// section parses a top-level key line and the entries under it.
func (p *yamlParser) section(text string, top int) (yamlSection, error) {
	key, rest, err := p.key(text)
	if err != nil {
		return yamlSection{}, err
	}
	sec := yamlSection{name: key}
	if rest != "" && rest[0] != '#' {
		// Only a null may stand on the key's line ("name: ~"): no mapping.
		v, err := p.scalar(rest)
		if err != nil || rest[0] == '"' || rest[0] == '\'' || !(yamlEntry{value: v, plain: true}).isNull() {
			return yamlSection{}, p.errorf("section %q must hold \"folder: directory\" lines, not a value", key)
		}
		p.i++
		return sec, p.next()
	}
	p.i++
	if err := p.next(); err != nil {
		return yamlSection{}, err
	}
	if p.i == len(p.lines) {
		return sec, nil
	}
	inner, _ := splitIndent(p.lines[p.i])
	if inner <= top {
		return sec, nil
	}
	sec.entries = []yamlEntry{}
	for p.i < len(p.lines) {
		indent, text := splitIndent(p.lines[p.i])
		if indent <= top {
			break
		}
		if indent != inner {
			return yamlSection{}, p.errorf("indentation does not match the lines above")
		}
		e, err := p.entry(text, inner)
		if err != nil {
			return yamlSection{}, err
		}
		sec.entries = setEntry(sec.entries, e)
	}
	return sec, nil
}

// entry parses one "folder: value" line (and a block scalar's lines after
// it), leaving p at the next content line.
func (p *yamlParser) entry(text string, indent int) (yamlEntry, error) {
	key, rest, err := p.key(text)
	if err != nil {
		return yamlEntry{}, err
	}
	e := yamlEntry{key: key, line: p.i + 1}
	if block, ok := strings.CutPrefix(rest, "|"); ok {
		if err := p.blockHeader(block); err != nil {
			return yamlEntry{}, err
		}
		p.i++
		e.value = p.block(indent)
	} else {
		if e.value, err = p.scalar(rest); err != nil {
			return yamlEntry{}, err
		}
		e.plain = rest == "" || rest[0] != '"' && rest[0] != '\''
		p.i++
	}
	if err := p.next(); err != nil {
		return yamlEntry{}, err
	}
	if p.i < len(p.lines) {
		if next, _ := splitIndent(p.lines[p.i]); next > indent {
			if e.isNull() {
				return yamlEntry{}, p.errorf("nested values under %q are not supported; list several directories in a | block", key)
			}
			return yamlEntry{}, p.errorf("a value cannot continue on the next line; use a | block")
		}
	}
	return e, nil
}

// setSection and setEntry add or replace by key, keeping the first position.
func setSection(s []yamlSection, sec yamlSection) []yamlSection {
	for i := range s {
		if s[i].name == sec.name {
			s[i] = sec
			return s
		}
	}
	return append(s, sec)
}

func setEntry(s []yamlEntry, e yamlEntry) []yamlEntry {
	for i := range s {
		if s[i].key == e.key {
			s[i] = e
			return s
		}
	}
	return append(s, e)
}

// key splits "key: rest" and returns rest without its leading blanks.
func (p *yamlParser) key(text string) (key, rest string, err error) {
	switch {
	case text == "---" || text == "...":
		return "", "", p.errorf("only one YAML document is supported")
	case text == "-" || strings.HasPrefix(text, "- "):
		return "", "", p.errorf("lists are not supported")
	case text[0] == '"' || text[0] == '\'':
		key, n, err := p.quoted(text)
		if err != nil {
			return "", "", err
		}
		after := strings.TrimLeft(text[n:], " \t")
		if !strings.HasPrefix(after, ":") || !endsToken(after[1:]) {
			return "", "", p.errorf("expected ':' after the quoted key")
		}
		return key, strings.TrimLeft(after[1:], " \t"), nil
	}
	if err := p.plainStart(text); err != nil {
		return "", "", err
	}
	for i := 0; i < len(text); i++ {
		if text[i] == '#' && (text[i-1] == ' ' || text[i-1] == '\t') {
			break // a comment before any ':'
		}
		if text[i] == ':' && endsToken(text[i+1:]) {
			return strings.TrimRight(text[:i], " \t"), strings.TrimLeft(text[i+1:], " \t"), nil
		}
	}
	return "", "", p.errorf(`expected "key: value"`)
}

// endsToken reports whether s, the text after a ':', makes the ':' a
// mapping indicator: end of line or a blank.
func endsToken(s string) bool { return s == "" || s[0] == ' ' || s[0] == '\t' }

// plainStart refuses the YAML features this parser does not read, named by
// the indicator that starts them.
func (p *yamlParser) plainStart(text string) error {
	switch c := text[0]; c {
	case '[', '{':
		return p.errorf("flow collections ([…], {…}) are not supported")
	case '&', '*':
		return p.errorf("anchors and aliases are not supported")
	case '!':
		return p.errorf("tags are not supported")
	case '>':
		return p.errorf("folded values (>) are not supported; use |")
	case '|':
		return p.errorf("a block value (|) must follow a key")
	case '-', '?', ':':
		if endsToken(text[1:]) {
			return p.errorf("%q here is YAML syntax that is not supported", c)
		}
	case ']', '}', ',', '%', '@', '`', '#':
		return p.errorf("plain text cannot start with %q; quote it", c)
	}
	return nil
}

// scalar reads a one-line value on the current line: quoted, or plain up to
// a comment. An empty rest (or a comment) is the empty plain value.
func (p *yamlParser) scalar(rest string) (string, error) {
	if rest == "" || rest[0] == '#' {
		return "", nil
	}
	if rest[0] == '"' || rest[0] == '\'' {
		v, n, err := p.quoted(rest)
		if err != nil {
			return "", err
		}
		if err := p.afterValue(rest[n:], "a quoted value"); err != nil {
			return "", err
		}
		return v, nil
	}
	if err := p.plainStart(rest); err != nil {
		return "", err
	}
	v := rest
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	v = strings.TrimRight(v, " \t")
	for i := 0; i < len(v); i++ {
		if v[i] == ':' && endsToken(v[i+1:]) {
			return "", p.errorf(`a plain value cannot contain ": "; quote it`)
		}
	}
	return v, nil
}

// afterValue accepts only blanks and a comment (after a blank) in tail.
func (p *yamlParser) afterValue(tail, what string) error {
	t := strings.TrimLeft(tail, " \t")
	if t != "" && (t[0] != '#' || len(t) == len(tail)) {
		return p.errorf("unexpected text after %s", what)
	}
	return nil
}

// quoted reads a single- or double-quoted scalar at the start of s,
// returning its value and the bytes consumed. It must end on this line.
func (p *yamlParser) quoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && q == '"':
			r, n, err := p.escape(s[i+1:])
			if err != nil {
				return "", 0, err
			}
			b.WriteString(r)
			i += n
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, p.errorf("quoted value does not end on its line")
}

// escapes are the one-character escapes of double-quoted YAML.
var escapes = map[byte]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f",
	'r': "\r", 'e': "\x1b", ' ': " ", '"': `"`, '/': "/", '\\': `\`, 'N': "\u0085", '_': "\u00a0",
	'L': "\u2028", 'P': "\u2029",
}

// escapeWidths are the hex digits after \x, \u and \U.
var escapeWidths = map[byte]int{'x': 2, 'u': 4, 'U': 8}

// escape decodes the escape after a backslash: its text and the bytes used.
func (p *yamlParser) escape(s string) (string, int, error) {
	if s == "" {
		return "", 0, p.errorf("quoted value does not end on its line")
	}
	if r, ok := escapes[s[0]]; ok {
		return r, 1, nil
	}
	width := escapeWidths[s[0]]
	if width == 0 {
		return "", 0, p.errorf("unknown escape \\%c", s[0])
	}
	if len(s) < 1+width {
		return "", 0, p.errorf("short escape \\%c", s[0])
	}
	v, err := strconv.ParseUint(s[1:1+width], 16, 32)
	if err != nil {
		return "", 0, p.errorf("bad escape \\%s", s[:1+width])
	}
	return string(rune(v)), 1 + width, nil
}

// blockHeader checks what follows '|': a chomping indicator and a comment.
func (p *yamlParser) blockHeader(h string) error {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "-"), "+")
	if h != "" && '1' <= h[0] && h[0] <= '9' {
		return p.errorf("indentation indicators after | are not supported")
	}
	return p.afterValue(h, "|")
}

// block reads a literal block scalar's lines, more indented than the key
// at indent: the first non-blank line sets the block's indentation, which
// is cut from every line; the block ends at a less indented non-blank line.
// Lines are joined with "\n"; chomping does not matter, since empty lines
// name no directory.
func (p *yamlParser) block(indent int) string {
	var lines []string
	n := -1
	for ; p.i < len(p.lines); p.i++ {
		line := p.lines[p.i]
		sp, text := splitIndent(line)
		if text == "" {
			if n >= 0 && sp > n {
				lines = append(lines, line[n:])
			}
			continue
		}
		if n < 0 {
			if sp <= indent {
				break
			}
			n = sp
		}
		if sp < n {
			break
		}
		lines = append(lines, line[n:])
	}
	return strings.Join(lines, "\n")
}
