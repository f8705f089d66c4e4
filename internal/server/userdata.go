package server

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/userdata"
	"github.com/gocomfy/gocomfy/pyjson"
)

// userdataRoutes are the routes of the frontend's state and of its
// /internal helpers (spec §8, §9.6, §9.7, §6.2, §10). Routes that need
// Config.Folders or Config.UserData are left out without them.
func (s *Server) userdataRoutes() []route {
	h, t := s.serve, s.serveText
	rs := []route{
		{"GET /i18n", h(s.getEmptyObject), true},
		{"GET /global_subgraphs", h(s.getEmptyObject), true},
		{"GET /global_subgraphs/{id}", h(s.getGlobalSubgraph), true},
		{"GET /node_replacements", h(s.getEmptyObject), true},
	}
	if s.cfg.Folders != nil {
		rs = append(rs,
			route{"GET /internal/folder_paths", h(s.getFolderPaths), false},
			route{"GET /internal/files/{directory_type}", h(s.getRecentFiles), false},
		)
	}
	if s.cfg.UserData == nil {
		return rs
	}
	return append(rs,
		route{"GET /users", h(s.getUsers), true},
		route{"POST /users", h(s.postUsers), true},
		route{"GET /userdata", t(s.listUserdata), true},
		route{"GET /v2/userdata", t(s.listUserdataV2), true},
		route{"GET /userdata/{file}", t(s.getUserdata), true},
		route{"POST /userdata/{file}", t(s.postUserdata), true},
		route{"DELETE /userdata/{file}", t(s.deleteUserdata), true},
		route{"POST /userdata/{file}/move/{dest}", t(s.moveUserdata), true},
		route{"GET /settings", t(s.getSettings), true},
		route{"GET /settings/{id}", t(s.getSetting), true},
		route{"POST /settings", t(s.postSettings), true},
		route{"POST /settings/{id}", t(s.postSetting), true},
		route{"GET /internal/logs", h(s.getLogs), false},
		route{"GET /internal/logs/raw", h(s.getRawLogs), false},
		route{"PATCH /internal/logs/subscribe", h(s.subscribeLogs), false},
	)
}

// textError is an error ComfyUI answers with a text/plain body, or with an
// empty one when text is "".
type textError struct {
	status int
	text   string
}

func (e *textError) Error() string { return http.StatusText(e.status) + ": " + e.text }

// serveText is serve for routes whose errors ComfyUI answers in text
// (user data, settings): a *textError is written as text, anything else as
// serve writes it.
func (s *Server) serveText(h handlerFunc) http.Handler {
	return s.serve(func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		var te *textError
		if !errors.As(err, &te) {
			return err
		}
		if te.text == "" {
			writeEmpty(w, te.status)
			return nil
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(te.status)
		w.Write([]byte(te.text))
		return nil
	})
}

// userID returns the id of the user a request acts for, as the store
// records it: "" for the default user. In multi-user mode that is the
// comfy-user header ("default" without one), which must name a registered
// user that is not a system user; else the error is a 403 (ComfyUI's
// KeyError, a 500 there).
func (s *Server) userID(r *http.Request) (string, error) {
	if s.cfg.UserData == nil {
		return "", nil
	}
	u, err := s.user(r)
	if err != nil || u.ID() == userdata.DefaultUser {
		return "", err
	}
	return u.ID(), nil
}

// user is the user a request acts for (see userID).
func (s *Server) user(r *http.Request) (userdata.User, error) {
	values, sent := r.Header["Comfy-User"]
	header := ""
	if sent {
		header = values[0]
	}
	if id, ok := authUser(r.Context()); ok {
		header, sent = id, true // the API key's user, not a header anyone can set
	}
	u, err := s.cfg.UserData.User(header, sent)
	if err != nil {
		return userdata.User{}, errorf(http.StatusForbidden, "%v", err)
	}
	return u, nil
}

// getUsers is GET /users: the registry in multi-user mode; otherwise
// whether the default user's folder exists.
func (s *Server) getUsers(w http.ResponseWriter, r *http.Request) error {
	m := s.cfg.UserData
	out := pyjson.Object{{Key: "storage", Value: "server"}}
	if m.MultiUser() {
		out = append(out, pyjson.Field{Key: "users", Value: m.Users()})
	} else {
		out = append(out, pyjson.Field{Key: "migrated", Value: m.Migrated()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// postUsers is POST /users {"username": …}: the new id as a JSON string.
// It works in single-user mode too, as in ComfyUI.
func (s *Server) postUsers(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Username json.RawMessage `json:"username"`
	}
	if err := decodeJSONObject(r, &req); err != nil {
		return err
	}
	var name string
	if json.Unmarshal(req.Username, &name) != nil {
		return errorf(http.StatusBadRequest, "username not provided")
	}
	id, err := s.cfg.UserData.AddUser(name)
	switch {
	case errors.Is(err, userdata.ErrDuplicateUsername):
		return errorf(http.StatusBadRequest, "Duplicate username.")
	case errors.Is(err, userdata.ErrNoUsername):
		return errorf(http.StatusBadRequest, "username not provided")
	case errors.Is(err, userdata.ErrSystemUsername):
		return errorf(http.StatusBadRequest, "System User prefix not allowed")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, id)
	return nil
}

// listUserdata is GET /userdata?dir=…&recurse=&full_info=&split=.
func (s *Server) listUserdata(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	dir := q.Get("dir")
	if dir == "" {
		return &textError{http.StatusBadRequest, "Directory not provided"}
	}
	u, err := s.user(r)
	if err != nil {
		return err
	}
	// ComfyUI decodes a name that contains '%' once more.
	infos, err := u.List(unquote(dir), flag(q.Get("recurse")))
	switch {
	case errors.Is(err, userdata.ErrPathRefused):
		return &textError{http.StatusForbidden, "Invalid directory"}
	case errors.Is(err, fs.ErrNotExist):
		return &textError{http.StatusNotFound, "Directory not found"}
	case err != nil:
		return err
	}
	var out any = infos
	if !flag(q.Get("full_info")) {
		split := flag(q.Get("split"))
		items := make([]any, len(infos))
		for i, fi := range infos {
			if split {
				items[i] = append([]string{fi.Path}, strings.Split(fi.Path, "/")...)
			} else {
				items[i] = fi.Path
			}
		}
		out = items
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listUserdataV2 is GET /v2/userdata?path=…: a recursive listing.
func (s *Server) listUserdataV2(w http.ResponseWriter, r *http.Request) error {
	u, err := s.user(r)
	if err != nil {
		return &textError{http.StatusForbidden, "Invalid user specified in request"}
	}
	// ComfyUI's handler decodes the parameter once more, and its path
	// resolution once more again when a '%' is left.
	entries, err := u.Tree(unquote(unquote(r.URL.Query().Get("path"))))
	switch {
	case errors.Is(err, userdata.ErrPathRefused):
		return &textError{http.StatusBadRequest, "Invalid path requested"}
	case errors.Is(err, fs.ErrNotExist):
		return &textError{http.StatusNotFound, "Requested path not found"}
	case errors.Is(err, userdata.ErrNotDir):
		return &textError{http.StatusBadRequest, "Requested path is not a directory"}
	case err != nil:
		s.log.Error("listing user data", "err", err)
		return &textError{http.StatusInternalServerError, "Error reading directory contents"}
	}
	writeJSON(w, http.StatusOK, entries)
	return nil
}

// fileStatus maps the errors of the /userdata/{file} routes to ComfyUI's
// empty-bodied statuses; other errors are returned as they are.
func fileStatus(err error) error {
	switch {
	case errors.Is(err, userdata.ErrPathRefused), errors.Is(err, userdata.ErrNotFile):
		return &textError{http.StatusForbidden, ""}
	case errors.Is(err, fs.ErrNotExist):
		return &textError{http.StatusNotFound, ""}
	case errors.Is(err, userdata.ErrExists):
		return &textError{http.StatusConflict, "File already exists"}
	}
	return err
}

// getUserdata is GET /userdata/{file}. User files are whatever a client
// stored, so they are never rendered by the browser: always an attachment,
// never sniffed, sandboxed, and typed only from a short list of harmless
// types (spec §8.5, what-users-ask §1.10).
func (s *Server) getUserdata(w http.ResponseWriter, r *http.Request) error {
	u, err := s.user(r)
	if err != nil {
		return err
	}
	f, fi, err := u.Open(r.PathValue("file"))
	if err != nil {
		return fileStatus(err)
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", safeContentType(fi.Name()))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", "attachment")
	h.Set("Content-Security-Policy", "sandbox")
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// safeTypes are the content types a user file may be served with; any
// other extension is application/octet-stream. None of them is rendered
// as a document that could run script.
var safeTypes = map[string]string{
	".json": "application/json",
	".txt":  "text/plain",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
	".mp3":  "audio/mpeg",
	".wav":  "audio/x-wav",
	".flac": "audio/flac",
	".mp4":  "video/mp4",
	".webm": "video/webm",
}

func safeContentType(name string) string {
	if t, ok := safeTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

// postUserdata is POST /userdata/{file}?overwrite=&full_info=: the body is
// the file's content. Overwriting is on unless overwrite is exactly
// "false".
func (s *Server) postUserdata(w http.ResponseWriter, r *http.Request) error {
	u, err := s.user(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	info, err := u.Write(r.PathValue("file"), body, q.Get("overwrite") != "false")
	if err != nil {
		return writeStatus(err)
	}
	return writeFileInfo(w, info, flag(q.Get("full_info")))
}

// writeStatus is fileStatus for writes: any other file system error (a
// folder in the way, a name the disk refuses) is ComfyUI's 400.
func writeStatus(err error) error {
	if mapped := fileStatus(err); mapped != err {
		return mapped
	}
	return &textError{http.StatusBadRequest, `Invalid filename. Please avoid special characters like :\/*?"<>|`}
}

// writeFileInfo answers a write or a move: the FileInfo with full_info,
// else the path relative to the user's folder as a JSON string.
func writeFileInfo(w http.ResponseWriter, info userdata.FileInfo, full bool) error {
	if full {
		writeJSON(w, http.StatusOK, info)
	} else {
		writeJSON(w, http.StatusOK, info.Path)
	}
	return nil
}

// deleteUserdata is DELETE /userdata/{file}: 204.
func (s *Server) deleteUserdata(w http.ResponseWriter, r *http.Request) error {
	u, err := s.user(r)
	if err != nil {
		return err
	}
	if err := u.Delete(r.PathValue("file")); err != nil {
		return fileStatus(err)
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

// moveUserdata is POST /userdata/{file}/move/{dest}?overwrite=&full_info=.
func (s *Server) moveUserdata(w http.ResponseWriter, r *http.Request) error {
	u, err := s.user(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	info, err := u.Move(r.PathValue("file"), r.PathValue("dest"), q.Get("overwrite") != "false")
	if err != nil {
		return writeStatus(err)
	}
	return writeFileInfo(w, info, flag(q.Get("full_info")))
}

// settingsUser is the user of a settings route: an unknown one is
// aiohttp's 401, as ComfyUI raises it.
func (s *Server) settingsUser(r *http.Request) (userdata.User, error) {
	u, err := s.user(r)
	if err != nil {
		return u, &textError{http.StatusUnauthorized, "401: Unauthorized"}
	}
	return u, nil
}

// getSettings is GET /settings: every setting, {} for none.
func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	u, err := s.settingsUser(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u.Settings())
	return nil
}

// getSetting is GET /settings/{id}: the value, null when unset.
func (s *Server) getSetting(w http.ResponseWriter, r *http.Request) error {
	u, err := s.settingsUser(r)
	if err != nil {
		return err
	}
	var v any
	if raw := u.Setting(r.PathValue("id")); raw != nil {
		v = raw
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// postSettings is POST /settings: the body's settings are merged into the
// user's.
func (s *Server) postSettings(w http.ResponseWriter, r *http.Request) error {
	u, err := s.settingsUser(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	values, err := pyjson.DecodeObject(body)
	if err != nil {
		return errorf(http.StatusBadRequest, "Request body must be a valid JSON object: %v", err)
	}
	if err := u.MergeSettings(values); err != nil {
		return err
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

// postSetting is POST /settings/{id}: the body, any JSON value, becomes
// the setting.
func (s *Server) postSetting(w http.ResponseWriter, r *http.Request) error {
	u, err := s.settingsUser(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		return errorf(http.StatusBadRequest, "Request body must be valid JSON")
	}
	if err := u.SetSetting(r.PathValue("id"), body); err != nil {
		return err
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

// getEmptyObject answers {}: GET /i18n (gocomfy has no Python custom nodes
// with locales), /global_subgraphs (no subgraph blueprints) and
// /node_replacements (no replacements registered).
func (s *Server) getEmptyObject(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, pyjson.Object{})
	return nil
}

// getGlobalSubgraph is GET /global_subgraphs/{id}: null, as ComfyUI
// answers an unknown id.
func (s *Server) getGlobalSubgraph(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, nil)
	return nil
}

// getLogs is GET /internal/logs: the kept lines as one JSON string.
func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) error {
	var b strings.Builder
	for _, e := range s.cfg.UserData.Logs().Entries() {
		b.WriteString(e.T + " - " + e.M)
	}
	writeJSON(w, http.StatusOK, b.String())
	return nil
}

// terminalSize is what /internal/logs/raw reports: gocomfy does not ask
// its terminal, and 80×24 is ComfyUI's fallback.
var terminalSize = pyjson.Object{{Key: "cols", Value: 80}, {Key: "rows", Value: 24}}

// getRawLogs is GET /internal/logs/raw.
func (s *Server) getRawLogs(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, pyjson.Object{
		{Key: "entries", Value: s.cfg.UserData.Logs().Entries()},
		{Key: "size", Value: terminalSize},
	})
	return nil
}

// subscribeLogs is PATCH /internal/logs/subscribe {"clientId", "enabled"}:
// while enabled, every new log line is sent to that WebSocket client as a
// "logs" message, until it disconnects.
func (s *Server) subscribeLogs(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ClientID *string         `json:"clientId"`
		Enabled  json.RawMessage `json:"enabled"`
	}
	if err := decodeJSONObject(r, &req); err != nil {
		return err
	}
	if req.ClientID == nil || req.Enabled == nil {
		return errorf(http.StatusBadRequest, "clientId and enabled are required")
	}
	logs, id := s.cfg.UserData.Logs(), *req.ClientID
	if !truthy(req.Enabled) {
		logs.Unsubscribe(id)
		writeEmpty(w, http.StatusOK)
		return nil
	}
	hub := s.cfg.Hub
	logs.Subscribe(id, func(e userdata.LogEntry) bool {
		if hub == nil || !hub.Connected(id) {
			return false
		}
		frame, err := event.Encode("logs", pyjson.Object{
			{Key: "entries", Value: []userdata.LogEntry{e}}, {Key: "size", Value: nil}})
		if err == nil {
			hub.Send(id, event.Frame{Data: frame})
		}
		return true
	})
	writeEmpty(w, http.StatusOK)
	return nil
}

// getFolderPaths is GET /internal/folder_paths: every model folder's
// directories.
func (s *Server) getFolderPaths(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, userdata.ModelFolders(s.cfg.Folders))
	return nil
}

// getRecentFiles is GET /internal/files/{directory_type}: the files of the
// input, output or temp folder, newest first, annotated "name [type]".
func (s *Server) getRecentFiles(w http.ResponseWriter, r *http.Request) error {
	typ := r.PathValue("directory_type")
	names, err := userdata.RecentFiles(s.cfg.Folders, typ)
	if errors.Is(err, files.ErrUnknownType) {
		return errorf(http.StatusBadRequest, "Invalid directory type")
	}
	if err != nil {
		return err
	}
	for i, name := range names {
		names[i] = name + " [" + typ + "]"
	}
	writeJSON(w, http.StatusOK, names)
	return nil
}

// flag is ComfyUI's reading of a boolean query parameter: true only for
// "true", in any case.
func flag(v string) bool { return strings.EqualFold(v, "true") }

// unquote is Python's urllib.parse.unquote: every %XX with two hex digits
// is decoded, anything else is kept as it is. Invalid UTF-8 is kept too
// (Python would replace it), for the name checks to refuse.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
