package userdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/pyjson"
)

// settingsFile holds a user's settings, in the user's folder (so it is
// also /userdata/comfy.settings.json).
const settingsFile = "comfy.settings.json"

// Settings returns the user's settings (GET /settings), setting id → raw
// JSON value, in the file's order. A missing file is no settings; so is a
// corrupt one, which is logged, as ComfyUI does.
func (u User) Settings() pyjson.Object {
	root, err := u.openRoot(false)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			u.m.cfg.Logger.Error("reading user settings", "user", u.id, "err", err)
		}
		return pyjson.Object{}
	}
	defer root.Close()
	return u.readSettings(root)
}

// Setting returns one setting's raw JSON value (GET /settings/{id}); nil
// if it is not set.
func (u User) Setting(id string) json.RawMessage {
	v, ok := u.Settings().Get(id)
	if !ok {
		return nil
	}
	return v.(json.RawMessage)
}

// MergeSettings sets every setting of values (POST /settings), keeping
// the others. Values must be json.RawMessage, as pyjson.DecodeObject
// leaves them.
func (u User) MergeSettings(values pyjson.Object) error {
	return u.updateSettings(func(s *pyjson.Object) {
		for _, f := range values {
			s.Set(f.Key, f.Value)
		}
	})
}

// SetSetting sets one setting to a raw JSON value (POST /settings/{id}).
func (u User) SetSetting(id string, value json.RawMessage) error {
	return u.updateSettings(func(s *pyjson.Object) { s.Set(id, value) })
}

// updateSettings reads, changes and writes the settings as one step. The
// file is written atomically, indented by four spaces as ComfyUI writes it.
func (u User) updateSettings(change func(*pyjson.Object)) error {
	u.m.writeMu.Lock()
	defer u.m.writeMu.Unlock()
	root, err := u.openRoot(true)
	if err != nil {
		return err
	}
	defer root.Close()
	settings := u.readSettings(root)
	change(&settings)
	compact, err := pyjson.Marshal(settings)
	if err != nil {
		return err
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, compact, "", "    "); err != nil {
		return err
	}
	return rootErr(files.WriteFile(root, settingsFile, func(w io.Writer) error {
		_, err := indented.WriteTo(w)
		return err
	}))
}

// readSettings reads the settings file of the user's folder root; a
// missing or corrupt file (or one that is not a JSON object) is no
// settings.
func (u User) readSettings(root *os.Root) pyjson.Object {
	data, err := root.ReadFile(settingsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return pyjson.Object{}
	}
	var settings pyjson.Object
	if err == nil {
		settings, err = pyjson.DecodeObject(data)
	}
	if err != nil {
		u.m.cfg.Logger.Error("the user settings file is corrupted", "user", u.id, "err", err)
		return pyjson.Object{}
	}
	return settings
}
