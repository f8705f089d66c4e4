package files

import (
	"path/filepath"
	"runtime"
	"strings"
)

// This file holds the few Python os.path behaviours that ComfyUI's naming
// rules depend on and that Go's path packages do differently.

// SplitExt is Python's os.path.splitext on a slash-separated name, which
// ComfyUI's rules use (upload renaming, extension filters, /embeddings):
// the extension starts at the last dot of the final element, unless every
// character before that dot is a dot (".bashrc" has no extension, "a." has
// "."). path.Ext differs on names that start with a dot.
func SplitExt(name string) (stem, ext string) {
	dot := strings.LastIndexByte(name, '.')
	start := strings.LastIndexByte(name, '/') + 1
	if dot <= start {
		return name, ""
	}
	if strings.Trim(name[start:dot], ".") == "" {
		return name, ""
	}
	return name[:dot], name[dot:]
}

// pyJoin is os.path.join followed by normpath: an absolute elem replaces
// dir instead of being appended to it.
func pyJoin(dir, elem string) string {
	if filepath.IsAbs(elem) {
		return filepath.Clean(elem)
	}
	return filepath.Join(dir, elem)
}

// commonPath is os.path.commonpath for two clean absolute paths: their
// longest shared leading run of elements.
func commonPath(a, b string) string {
	ae := strings.Split(a, string(filepath.Separator))
	be := strings.Split(b, string(filepath.Separator))
	n := 0
	for n < len(ae) && n < len(be) && ae[n] == be[n] {
		n++
	}
	common := strings.Join(ae[:n], string(filepath.Separator))
	if common == filepath.VolumeName(a) {
		common += string(filepath.Separator)
	}
	return common
}

// homeVar names the environment variable that holds the home folder, as
// Python's expanduser reads it.
var homeVar = map[bool]string{false: "HOME", true: "USERPROFILE"}[runtime.GOOS == "windows"]

// expandUser is os.path.expanduser for "~" and "~/…". "~user" forms are left
// as they are (Python would look the user up).
func expandUser(p string, lookup func(string) (string, bool)) string {
	if p != "~" && !strings.HasPrefix(p, "~/") && !strings.HasPrefix(p, `~\`) {
		return p
	}
	home, ok := lookup(homeVar)
	if !ok || home == "" {
		return p
	}
	return home + p[1:]
}

// expandVars is POSIX os.path.expandvars: $NAME and ${NAME} (NAME of ASCII
// letters, digits and underscores) are replaced when the variable is set and
// left untouched otherwise, unlike os.Expand which drops unset variables.
func expandVars(p string, lookup func(string) (string, bool)) string {
	if !strings.Contains(p, "$") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] != '$' {
			b.WriteByte(p[i])
			i++
			continue
		}
		name, end := varName(p[i+1:])
		if end == 0 {
			b.WriteByte('$')
			i++
			continue
		}
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(p[i : i+1+end])
		}
		i += 1 + end
	}
	return b.String()
}

// varName reads the variable reference after a '$': "{anything}" or a run
// of word characters. end is the length consumed, 0 when there is none.
func varName(s string) (name string, end int) {
	if strings.HasPrefix(s, "{") {
		close := strings.IndexByte(s, '}')
		if close < 0 {
			return "", 0
		}
		return s[1:close], close + 1
	}
	for end < len(s) && isWordByte(s[end]) {
		end++
	}
	return s[:end], end
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
