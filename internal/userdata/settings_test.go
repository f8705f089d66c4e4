package userdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gocomfy/gocomfy/pyjson"
)

func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, twoUsers)
	alice, bob := e.user(t, "alice_1"), e.user(t, "bob_1")
	if got, _ := pyjson.Marshal(alice.Settings()); string(got) != "{}" {
		t.Errorf("Settings before any = %s; want {}", got)
	}
	if alice.Setting("Comfy.X") != nil {
		t.Error("Setting of a missing file is not nil")
	}
	merge, err := pyjson.DecodeObject([]byte(`{"Comfy.ColorPalette": "dark", "Comfy.Sidebar": {"size": 1.50, "list": [], "o": {}}, "name": "\u00e9t\u00e9"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergeSettings(merge); err != nil {
		t.Fatal(err)
	}
	if err := alice.SetSetting("Comfy.ColorPalette", json.RawMessage(`"light"`)); err != nil {
		t.Fatal(err)
	}
	if err := alice.SetSetting("Comfy.New", json.RawMessage(` [1, null, true] `)); err != nil {
		t.Fatal(err)
	}
	more, _ := pyjson.DecodeObject([]byte(`{"name": "x", "last": false}`))
	if err := alice.MergeSettings(more); err != nil {
		t.Fatal(err)
	}
	// The file is indented by four spaces and ASCII-only, as Python's
	// json.dumps(settings, indent=4) writes it; keys keep their order.
	want := `{
    "Comfy.ColorPalette": "light",
    "Comfy.Sidebar": {
        "size": 1.50,
        "list": [],
        "o": {}
    },
    "name": "x",
    "Comfy.New": [
        1,
        null,
        true
    ],
    "last": false
}`
	if got := readFile(t, e.path("alice_1", settingsFile)); got != want {
		t.Errorf("settings file =\n%s\nwant\n%s", got, want)
	}
	got, _ := pyjson.Marshal(alice.Settings())
	wantJSON := `{"Comfy.ColorPalette": "light", "Comfy.Sidebar": {"size": 1.50, "list": [], "o": {}}, "name": "x", "Comfy.New": [1, null, true], "last": false}`
	if string(got) != wantJSON {
		t.Errorf("Settings() = %s; want %s", got, wantJSON)
	}
	if v, _ := pyjson.Marshal(alice.Setting("Comfy.New")); string(v) != "[1, null, true]" {
		t.Errorf("Setting(Comfy.New) = %s", v)
	}
	if got, _ := pyjson.Marshal(bob.Settings()); string(got) != "{}" {
		t.Errorf("bob sees %s", got)
	}
}

func TestSettingsNonASCII(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	if err := u.SetSetting("\u00e9", json.RawMessage(`"\u65e5"`)); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, e.path("default", settingsFile)), "{\n    \"\\u00e9\": \"\\u65e5\"\n}"; got != want {
		t.Errorf("file = %q; want %q", got, want)
	}
}

func TestSettingsCorrupt(t *testing.T) {
	t.Parallel()
	for _, content := range []string{`{"a": `, `[1]`, `NaN`, ""} {
		e := newEnv(t, false, "")
		var logged bytes.Buffer
		e.m.cfg.Logger = slog.New(slog.NewTextHandler(&logged, nil))
		writeFile(t, e.path("default", settingsFile), content)
		u := e.user(t, "")
		if got, _ := pyjson.Marshal(u.Settings()); string(got) != "{}" {
			t.Errorf("%q: Settings() = %s; want {}", content, got)
		}
		if !strings.Contains(logged.String(), "corrupted") {
			t.Errorf("%q: nothing logged: %q", content, logged.String())
		}
		// As in ComfyUI, a change replaces the corrupt file.
		if err := u.SetSetting("a", json.RawMessage("1")); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, e.path("default", settingsFile)); got != "{\n    \"a\": 1\n}" {
			t.Errorf("%q: file after a change = %q", content, got)
		}
	}
}

// TestSettingsConcurrent checks that concurrent updates of different
// settings all survive.
func TestSettingsConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	u := e.user(t, "")
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := u.SetSetting(fmt.Sprint("s", i), json.RawMessage(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(u.Settings()); got != n {
		t.Errorf("%d settings kept; want %d", got, n)
	}
}
