package files

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testEnv is the environment the yaml tests see.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{homeVar: "/home/user", "MODELS": "/srv/models"}[name]
	return v, ok
}

// formatPaths renders parsed directories one per line: folder, directory,
// and "default" when is_default holds.
func formatPaths(paths []modelPath) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "%s\t%s", p.folder, filepath.ToSlash(p.dir))
		if p.isDefault {
			b.WriteString("\tdefault")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestExtraModelPathsGolden parses each testdata/extra_model_paths/*.yaml
// as if it lived in /yaml and compares with the .golden file beside it.
// The golden files were written by -update and checked by hand against
// utils/extra_config.py's rules (join to base_path or the file's folder,
// normpath, expanduser and expandvars on base_path only).
func TestExtraModelPathsGolden(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("golden paths are POSIX")
	}
	files, err := filepath.Glob("testdata/extra_model_paths/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		paths, err := parseExtraModelPaths(file, data, "/yaml", testEnv)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		got := formatPaths(paths)
		golden := strings.TrimSuffix(file, ".yaml") + ".golden"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o666); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", file, got, want)
		}
	}
}

func TestExtraModelPathsSmall(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"empty file", "", ""},
		{"only comments", "# nothing\n\n   # here\n", ""},
		{"CRLF and BOM", "\ufeffa:\r\n  checkpoints: x\r\n", "checkpoints\t/yaml/x\n"},
		{"document marker", "---\na:\n  vae: v\n", "vae\t/yaml/v\n"},
		{"tab after the colon", "a:\n  vae:\tv\n", "vae\t/yaml/v\n"},
		{"quoted key", "\"a b\":\n  'my folder': x\n", "my folder\t/yaml/x\n"},
		{"colon inside a plain value", "a:\n  vae: C:/models\n", "vae\t/yaml/C:/models\n"},
		{"empty block", "a:\n  vae: |\n  loras: l\n", "loras\t/yaml/l\n"},
		{"empty quoted value", "a:\n  vae: ''\n", ""},
		{"normpath", "a:\n  base_path: /b/./c/../d/\n  vae: ./e//f/\n", "vae\t/b/d/e/f\n"},
		{"absolute entry under a base", "a:\n  base_path: /b\n  vae: /abs\n", "vae\t/abs\n"},
		{"unicode escapes", "a:\n  vae: \"\\u00e9\\x41\\U0001F600\"\n", "vae\t/yaml/éA😀\n"},
		{"more-indented block line keeps its blanks", "a:\n  vae: |\n    x\n      y\n", "vae\t/yaml/x\nvae\t/yaml/  y\n"},
		{"block then less-indented comment", "a:\n  vae: |\n    x\n  # c\n  loras: l\n", "vae\t/yaml/x\nloras\t/yaml/l\n"},
		{"block at the end of the file", "a:\n  vae: |\n    x", "vae\t/yaml/x\n"},
	} {
		paths, err := parseExtraModelPaths("t.yaml", []byte(c.in), "/yaml", testEnv)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := formatPaths(paths); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

func TestExtraModelPathsIsDefault(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]bool{
		"true": true, "True": true, "yes": true, "on": true, "1": true, "-1": true, "0.5": true, ".inf": true,
		"false": false, "False": false, "FALSE": false, "no": false, "Off": false, "0": false, "0x0": false,
		"0.0": false, "-0": false, "0_0": false, "~": false, "null": false, "": false, "# comment": false,
		"'false'": true, `"no"`: true, "''": false, "maybe": true,
	} {
		in := "a:\n  is_default: " + value + "\n  vae: v\n"
		paths, err := parseExtraModelPaths("t.yaml", []byte(in), "/yaml", testEnv)
		if err != nil || len(paths) != 1 {
			t.Errorf("is_default: %s: %v, %v", value, paths, err)
			continue
		}
		if paths[0].isDefault != want {
			t.Errorf("is_default: %s = %v; want %v", value, paths[0].isDefault, want)
		}
	}
}

func TestExtraModelPathsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"a:\n\tcheckpoints: x\n", "t.yaml:2: tabs are not allowed in indentation"},
		{"a:\n  - x\n", "t.yaml:2: lists are not supported"},
		{"- a\n", "t.yaml:1: lists are not supported"},
		{"? a\n", "t.yaml:1: '?' here is YAML syntax that is not supported"},
		{"a:\n  checkpoints: [x, y]\n", "t.yaml:2: flow collections ([…], {…}) are not supported"},
		{"a: {checkpoints: x}\n", `t.yaml:1: section "a" must hold "folder: directory" lines, not a value`},
		{"a: b\n", `t.yaml:1: section "a" must hold "folder: directory" lines, not a value`},
		{"a: |\n  x\n", `t.yaml:1: section "a" must hold "folder: directory" lines, not a value`},
		{"a:\n  checkpoints: >\n    x\n", "t.yaml:2: folded values (>) are not supported; use |"},
		{"a:\n  checkpoints: &x y\n", "t.yaml:2: anchors and aliases are not supported"},
		{"a:\n  checkpoints: *x\n", "t.yaml:2: anchors and aliases are not supported"},
		{"a:\n  checkpoints: !!str x\n", "t.yaml:2: tags are not supported"},
		{"a:\n  checkpoints: \"x\n", "t.yaml:2: quoted value does not end on its line"},
		{"a:\n  checkpoints: 'x\n    y'\n", "t.yaml:2: quoted value does not end on its line"},
		{"a:\n  checkpoints: x\n    y\n", "t.yaml:3: a value cannot continue on the next line; use a | block"},
		{"a:\n  checkpoints:\n    sub: x\n", `t.yaml:3: nested values under "checkpoints" are not supported; list several directories in a | block`},
		{"a:\n  checkpoints:\n    - x\n", `t.yaml:3: nested values under "checkpoints"`},
		{"a:\n    checkpoints: x\n  loras: y\n", "t.yaml:3: indentation does not match the lines above"},
		{"  a:\n    checkpoints: x\n b:\n", "t.yaml:3: indentation does not match the sections above"},
		{"a:\n  checkpoints: a: b\n", `t.yaml:2: a plain value cannot contain ": "; quote it`},
		{"a:\n  checkpoints: a:\n", `t.yaml:2: a plain value cannot contain ": "; quote it`},
		{"a:\n  base_path:\n  checkpoints: x\n", "t.yaml:2: base_path has no value"},
		{"a:\n  base_path: ~\n  checkpoints: x\n", "t.yaml:2: base_path has no value"},
		{"a:\n  vae: x\n  checkpoints:\n", "t.yaml:3: checkpoints has no directory"},
		{"a:\n  checkpoints: |2\n    x\n", "t.yaml:2: indentation indicators after | are not supported"},
		{"a:\n  checkpoints: | x\n", "t.yaml:2: unexpected text after |"},
		{"a:\n  checkpoints: |#x\n", "t.yaml:2: unexpected text after |"},
		{"a:\n  checkpoints: \"x\" y\n", "t.yaml:2: unexpected text after a quoted value"},
		{"a:\n  checkpoints: \"x\"# y\n", "t.yaml:2: unexpected text after a quoted value"},
		{"a:\n  checkpoints: \"\\q\"\n", `t.yaml:2: unknown escape \q`},
		{"a:\n  checkpoints: \"\\x4\"\n", `t.yaml:2: bad escape \x4"`},
		{"a:\n  checkpoints: \"\\u12\n", `t.yaml:2: short escape \u`},
		{"a:\n  checkpoints: \"x\\", "t.yaml:2: quoted value does not end on its line"},
		{"a:\n  x\n", `t.yaml:2: expected "key: value"`},
		{"a:\n  x # no: colon\n", `t.yaml:2: expected "key: value"`},
		{"\"a\" b:\n", "t.yaml:1: expected ':' after the quoted key"},
		{"---\na:\n  x: y\n---\nb:\n  x: y\n", "t.yaml:4: only one YAML document is supported"},
		{"%YAML 1.1\na:\n", "t.yaml:1: plain text cannot start with '%'; quote it"},
		{"a:\n  checkpoints: x\x00\n", "t.yaml:2: character U+0000 is not allowed"},
		{"a:\n  checkpoints: x\ry\n", "t.yaml:2: character U+000D is not allowed"},
		{"a:\n  checkpoints: \xff\n", "t.yaml:2: not valid UTF-8"},
		{"a:\n  checkpoints: %APPDATA%/x\n", "t.yaml:2: plain text cannot start with '%'; quote it"},
		{"a:\n  checkpoints: @x\n", "t.yaml:2: plain text cannot start with '@'; quote it"},
		{"a:\n  checkpoints: |\n    x\n  | y\n", "t.yaml:4: a block value (|) must follow a key"},
	} {
		_, err := parseExtraModelPaths("t.yaml", []byte(c.in), "/yaml", testEnv)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("parse(%q) = %v\nwant %s", c.in, err, c.want)
		}
	}
}

func TestLoadExtraModelPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "extra.yaml")
	if err := os.WriteFile(file, []byte("a:\n  base_path: sub\n  clip: c\n  mine: |\n    m1\n    m2\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	m := NewModels("/base")
	if err := m.LoadExtraModelPaths(file); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Dirs("text_encoders"); got[len(got)-1] != filepath.Join(dir, "sub", "c") {
		t.Errorf("text_encoders = %q", got)
	}
	if got, _ := m.Dirs("mine"); strings.Join(got, "|") != filepath.Join(dir, "sub", "m1")+"|"+filepath.Join(dir, "sub", "m2") {
		t.Errorf("mine = %q", got)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("a:\n  - x\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := m.LoadExtraModelPaths(bad); err == nil || err.Error() != bad+":2: lists are not supported" {
		t.Errorf("error = %v", err)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"~", "/home/user"},
		{"~/x", "/home/user/x"},
		{"~other/x", "~other/x"},
		{"a~/x", "a~/x"},
		{"$MODELS/x", "/srv/models/x"},
		{"${MODELS}x", "/srv/modelsx"},
		{"$MODELSx", "$MODELSx"},
		{"$UNSET/${UNSET}", "$UNSET/${UNSET}"},
		{"$", "$"},
		{"a$", "a$"},
		{"${MODELS", "${MODELS"},
		{"${}", "${}"},
		{"$$MODELS", "$/srv/models"},
		{"$-x", "$-x"},
	} {
		if got := expandVars(expandUser(c.in, testEnv), testEnv); got != c.want {
			t.Errorf("expand(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func FuzzExtraModelPaths(f *testing.F) {
	files, _ := filepath.Glob("testdata/extra_model_paths/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{"a:\n  b: |\n    c\n", "a:\n  b: \"\\u00e9\"\n", "a: ~\n", "- x", "a:\n\tb: c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		paths, err := parseExtraModelPaths("f.yaml", data, "/yaml", testEnv)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		for _, p := range paths {
			if !filepath.IsAbs(p.dir) || filepath.Clean(p.dir) != p.dir {
				t.Fatalf("directory %q is not clean and absolute", p.dir)
			}
		}
	})
}
