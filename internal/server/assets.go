package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/internal/asset"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/userdata"
	"github.com/gocomfy/gocomfy/pyfmt"
	"github.com/gocomfy/gocomfy/pyjson"
)

// assetRoutes are ComfyUI's assets API (spec §11). ComfyUI registers them
// with their /api prefix and nowhere else, so they are not api routes. They
// always exist; without Config.Assets they answer 503, as ComfyUI does
// without --enable-assets.
func (s *Server) assetRoutes() []route {
	h := s.serveAsset
	return []route{
		{"GET /api/assets", h(s.listAssets), false},
		{"POST /api/assets", h(s.uploadAsset), false},
		{"POST /api/assets/from-hash", h(s.assetFromHash), false},
		{"GET /api/assets/tags/refine", h(s.refineTags), false},
		{"POST /api/assets/seed", h(s.seedAssets), false},
		{"GET /api/assets/seed/status", h(s.seedStatus), false},
		{"POST /api/assets/seed/cancel", h(s.cancelSeed), false},
		{"POST /api/assets/prune", h(s.pruneAssets), false},
		{"GET /api/assets/{id}", h(s.getAsset), false},
		{"PUT /api/assets/{id}", h(s.updateAsset), false},
		{"DELETE /api/assets/{id}", h(s.deleteAsset), false},
		{"GET /api/assets/{id}/{sub}", h(s.getAssetSub), false},
		{"POST /api/assets/{id}/tags", h(s.addAssetTags), false},
		{"DELETE /api/assets/{id}/tags", h(s.removeAssetTags), false},
		{"GET /api/tags", h(s.listTags), false},
	}
}

// assetError is an error of the assets API, in its shape:
// {"error": {"code", "message", "details"}}.
func assetError(status int, code, message string, details any) error {
	if details == nil {
		details = pyjson.Object{}
	}
	return &httpError{status, pyjson.Object{{Key: "error", Value: pyjson.Object{
		{Key: "code", Value: code}, {Key: "message", Value: message}, {Key: "details", Value: details},
	}}}}
}

// serveAsset is serve for the assets routes: 503 while assets are off, and
// unexpected errors answered as ComfyUI's INTERNAL (after logging them).
// A body over the size limit stays serve's 413.
func (s *Server) serveAsset(h handlerFunc) http.Handler {
	return s.serve(func(w http.ResponseWriter, r *http.Request) error {
		if err := assetPathMatches(r); err != nil {
			return err
		}
		if s.cfg.Assets == nil {
			return assetError(http.StatusServiceUnavailable, "SERVICE_DISABLED",
				"Assets system is disabled. Start the server with --enable-assets to use this feature.", nil)
		}
		err := h(w, r)
		var he *httpError
		var tooBig *http.MaxBytesError
		if err == nil || errors.As(err, &he) || errors.As(err, &tooBig) {
			return err
		}
		if errors.Is(err, store.ErrBadValue) {
			// ComfyUI's SQLite keeps such values; this store cannot.
			code := "INVALID_BODY"
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				code = "INVALID_QUERY"
			}
			return assetError(http.StatusBadRequest, code, "Invalid value: "+strings.TrimPrefix(err.Error(), store.ErrBadValue.Error()+": "), nil)
		}
		s.log.Error("assets request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return assetError(http.StatusInternalServerError, "INTERNAL", "Unexpected server error.", nil)
	})
}

// assetOwner is the user whose assets a request sees: the user its API key
// is bound to, else the comfy-user header's user ("default" in single-user
// mode). ComfyUI records this id as the owner of what the API creates.
func (s *Server) assetOwner(r *http.Request) (string, error) {
	if u, ok := authUser(r.Context()); ok {
		return u, nil
	}
	if s.cfg.UserData == nil {
		return userdata.DefaultUser, nil
	}
	u, err := s.user(r)
	if err != nil {
		return "", assetError(http.StatusForbidden, "FORBIDDEN", err.Error(), nil)
	}
	return u.ID(), nil
}

// uuidPattern is ComfyUI's route pattern for ids: canonical, any case.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// assetPathMatches answers as ComfyUI's router does to the paths its
// patterns would not match, before anything else: an {id} that is not a
// UUID (404 for GET, else 405), and under /api/assets/{id}/ anything but
// content (or HEAD /api/assets/hash/{hash}).
func assetPathMatches(r *http.Request) error {
	id, sub := r.PathValue("id"), r.PathValue("sub")
	switch {
	case id == "hash" && sub != "":
		return nil // getAssetSub checks the method
	case id != "" && !uuidPattern.MatchString(id) && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return errorf(http.StatusMethodNotAllowed, "405: Method Not Allowed")
	case id != "" && !uuidPattern.MatchString(id), sub != "" && sub != "content":
		return errorf(http.StatusNotFound, "404: Not Found")
	}
	return nil
}

// assetID returns the {id} path value (checked by assetPathMatches),
// lower-cased as ComfyUI's str(uuid.UUID(id)) does.
func assetID(r *http.Request) string { return strings.ToLower(r.PathValue("id")) }

// refError maps the store's errors about one reference.
func refError(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrForbidden):
		return assetError(http.StatusForbidden, "FORBIDDEN", "not owner", pyjson.Object{{Key: "id", Value: id}})
	case errors.Is(err, store.ErrNotFound):
		return assetError(http.StatusNotFound, "ASSET_NOT_FOUND", fmt.Sprintf("AssetReference %s not found", id),
			pyjson.Object{{Key: "id", Value: id}})
	}
	return err
}

// assetJSON is ComfyUI's Asset object: keys in its order, null values left
// out.
func (s *Server) assetJSON(r *http.Request, ref *store.AssetRef) pyjson.Object {
	o := pyjson.Object{{Key: "id", Value: ref.ID}, {Key: "name", Value: ref.Name}}
	add := func(key string, value any, present bool) {
		if present {
			o = append(o, pyjson.Field{Key: key, Value: value})
		}
	}
	a := ref.Asset
	add("hash", a.Hash, a.Hash != "")
	add("asset_hash", a.Hash, a.Hash != "")
	add("size", a.Size, true)
	add("mime_type", a.MimeType, a.MimeType != "")
	add("tags", ref.Tags, true)
	preview := s.previewURL(r, ref)
	add("preview_url", preview, preview != "")
	add("preview_id", ref.PreviewID, ref.PreviewID != "")
	meta := ref.UserMetadata
	if len(meta) == 0 {
		meta = json.RawMessage(`{}`)
	}
	add("user_metadata", meta, true)
	add("is_immutable", false, true)
	add("metadata", ref.SystemMetadata, len(ref.SystemMetadata) > 0)
	add("job_id", ref.JobID, ref.JobID != "")
	add("prompt_id", ref.JobID, ref.JobID != "")
	add("created_at", isoformat(ref.CreatedAt), true)
	add("updated_at", isoformat(ref.UpdatedAt), true)
	add("last_access_time", isoformat(ref.LastAccessTime), true)
	return o
}

// isoformat is Python's isoformat of a naive UTC datetime: no zone, and
// no fraction when the microseconds are 0.
func isoformat(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// previewURL is the /api/view URL of a reference's preview (its preview
// reference's file, else its own), for files of input or output; "" when
// there is none.
func (s *Server) previewURL(r *http.Request, ref *store.AssetRef) string {
	if ref.PreviewID != "" {
		// As the request's user sees it: ComfyUI looks it up for no user,
		// and so finds no preview among the (user-owned) API uploads.
		owner, _ := s.assetOwner(r)
		p, err := s.cfg.Assets.Store().Ref(r.Context(), ref.PreviewID, owner)
		if err != nil {
			return ""
		}
		ref = p
	}
	var meta struct {
		Filename string `json:"filename"`
	}
	if json.Unmarshal(ref.UserMetadata, &meta) != nil || meta.Filename == "" {
		return ""
	}
	var t string
	switch {
	case slices.Contains(ref.Tags, "input"):
		t = "input"
	case slices.Contains(ref.Tags, "output"):
		t = "output"
	default:
		return ""
	}
	dir, name := "", meta.Filename
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, name = name[:i], name[i+1:]
	}
	u := "/api/view?type=" + t + "&filename=" + pyQuote(name, "")
	if dir != "" {
		u += "&subfolder=" + pyQuote(dir, "")
	}
	return u
}

// pyQuote is Python's urllib.parse.quote: every byte percent-encoded but
// letters, digits, "_.-~" and those in safe.
func pyQuote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~"+safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// createdJSON is ComfyUI's AssetCreated: the Asset with created_new last.
func (s *Server) createdJSON(r *http.Request, ref *store.AssetRef, created bool) pyjson.Object {
	return append(s.assetJSON(r, ref), pyjson.Field{Key: "created_new", Value: created})
}

// getAssetSub serves GET /api/assets/{id}/content and HEAD
// /api/assets/hash/{hash}. They share one pattern because net/http finds
// the two ambiguous (/api/assets/hash/content matches both, and a GET
// pattern also matches HEAD).
func (s *Server) getAssetSub(w http.ResponseWriter, r *http.Request) error {
	switch {
	case r.PathValue("id") == "hash" && r.Method == http.MethodHead:
		return s.headAssetHash(w, r, r.PathValue("sub"))
	case r.PathValue("id") == "hash":
		w.Header().Set("Allow", "HEAD")
		return errorf(http.StatusMethodNotAllowed, "405: Method Not Allowed")
	}
	return s.assetContent(w, r)
}

// headAssetHash is HEAD /api/assets/hash/{hash}: whether any content has
// the hash, whoever refers to it.
func (s *Server) headAssetHash(w http.ResponseWriter, r *http.Request, hash string) error {
	hash, err := asset.ParseHash(hash)
	if err != nil {
		return assetError(http.StatusBadRequest, "INVALID_HASH", "hash must be like 'blake3:<hex>'", nil)
	}
	_, err = s.cfg.Assets.Store().AssetByHash(r.Context(), hash)
	switch {
	case err == nil:
		writeEmpty(w, http.StatusOK)
	case errors.Is(err, store.ErrNotFound):
		writeEmpty(w, http.StatusNotFound)
	default:
		return err
	}
	return nil
}

// getAsset is GET /api/assets/{id}.
func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) error {
	id := assetID(r)
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	ref, err := s.cfg.Assets.Store().Ref(r.Context(), id, owner)
	if err != nil {
		return refError(err, id)
	}
	writeJSON(w, http.StatusOK, s.assetJSON(r, ref))
	return nil
}

// deleteAsset is DELETE /api/assets/{id}: a soft delete; the content stays.
func (s *Server) deleteAsset(w http.ResponseWriter, r *http.Request) error {
	id := assetID(r)
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	err = s.cfg.Assets.Store().DeleteRef(r.Context(), id, owner, s.cfg.Assets.Now())
	if errors.Is(err, store.ErrNotFound) {
		return assetError(http.StatusNotFound, "ASSET_NOT_FOUND", fmt.Sprintf("AssetReference %s not found.", id), nil)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxAssetJSON bounds the JSON bodies of the assets API and the text
// fields of an upload form, which are held in memory.
const maxAssetJSON = 1 << 20

// uploadBuffer is the read buffer of an upload's body: reads of the
// connection this large take few system calls.
const uploadBuffer = 1 << 20

// readAssetJSON decodes a JSON body into v; INVALID_JSON if it is not JSON
// or does not fit v's types at the top level.
func readAssetJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAssetJSON+1))
	if err != nil {
		return err
	}
	if len(body) > maxAssetJSON || json.Unmarshal(body, v) != nil {
		return assetError(http.StatusBadRequest, "INVALID_JSON", "Request body must be valid JSON.", nil)
	}
	return nil
}

// updateAsset is PUT /api/assets/{id}: name, user_metadata (replaced
// whole), preview_id; at least one.
func (s *Server) updateAsset(w http.ResponseWriter, r *http.Request) error {
	id := assetID(r)
	var body map[string]json.RawMessage
	if err := readAssetJSON(r, &body); err != nil {
		return err
	}
	var v validation
	var u store.RefUpdate
	u.Name = v.optString(body, "name")
	u.PreviewID = v.optString(body, "preview_id")
	u.UserMetadata = v.optObject(body, "user_metadata")
	if v.ok() && u.Name == nil && u.PreviewID == nil && u.UserMetadata == nil {
		v.model("Value error, Provide at least one of: name, user_metadata, preview_id.", body)
	}
	if !v.ok() {
		return v.err("INVALID_BODY", "Validation failed.")
	}
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	ref, err := s.cfg.Assets.UpdateRef(r.Context(), id, owner, u)
	if errors.Is(err, store.ErrPreviewNotFound) {
		return assetError(http.StatusNotFound, "ASSET_NOT_FOUND", fmt.Sprintf("Preview AssetReference %s not found", *u.PreviewID),
			pyjson.Object{{Key: "id", Value: id}})
	}
	if err != nil {
		return refError(err, id)
	}
	writeJSON(w, http.StatusOK, s.assetJSON(r, ref))
	return nil
}

// assetContent is GET /api/assets/{id}/content: the bytes, with Range
// support. Types a browser would run (HTML, SVG, XML, scripts) are sent
// as application/octet-stream attachments whatever the disposition asked.
func (s *Server) assetContent(w http.ResponseWriter, r *http.Request) error {
	id := assetID(r)
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	ref, err := s.cfg.Assets.Store().Ref(r.Context(), id, owner)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return assetError(http.StatusNotFound, "ASSET_NOT_FOUND", fmt.Sprintf("AssetReference %s not found", id), nil)
		}
		return err
	}
	c, err := s.cfg.Assets.Open(r.Context(), ref)
	if errors.Is(err, asset.ErrNoContent) {
		return assetError(http.StatusNotFound, "FILE_NOT_FOUND", "Underlying file not found on disk.", nil)
	}
	if err != nil {
		return err
	}
	defer c.File.Close()
	disposition := strings.ToLower(strings.TrimSpace(query(r).Get("disposition")))
	if disposition != "inline" {
		disposition = "attachment"
	}
	serveContent(w, r, c, disposition)
	return nil
}

// serveContent sends opened content with http.ServeContent (Range, If-*
// headers), nosniff and a sandbox CSP; a dangerous type goes as an
// application/octet-stream attachment.
func serveContent(w http.ResponseWriter, r *http.Request, c *asset.Content, disposition string) {
	ctype := c.MimeType
	if dangerousType(ctype) {
		ctype, disposition = "application/octet-stream", "attachment"
	}
	name := strings.NewReplacer("\r", "", "\n", "").Replace(c.Name)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", disposition+"; filename*=UTF-8''"+pyQuote(name, "/"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	var modified time.Time
	if fi, err := c.File.Stat(); err == nil {
		modified = fi.ModTime()
	}
	http.ServeContent(w, r, "", modified, c.File)
}

// dangerousTypes are the types ComfyUI never lets a browser render from
// user content (folder_paths.DANGEROUS_CONTENT_TYPES); every XML dialect
// counts too.
var dangerousTypes = []string{"text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript",
	"application/javascript", "application/x-javascript", "application/ecmascript", "text/css",
	"image/svg+xml", "application/xml", "text/xml", "message/rfc822"}

func dangerousType(ctype string) bool {
	t, _, _ := strings.Cut(ctype, ";")
	t = strings.ToLower(strings.TrimSpace(t))
	return slices.Contains(dangerousTypes, t) || strings.HasSuffix(t, "+xml") || strings.HasSuffix(t, "/xml")
}

// viewAsset serves GET /view?filename=blake3:<hex>: the content with that
// hash, if the request's user sees a reference to it (the frontend uses
// hashes as LoadImage values when assets are on).
func (s *Server) viewAsset(w http.ResponseWriter, r *http.Request, hash string) error {
	hash, err := asset.ParseHash(hash)
	if s.cfg.Assets == nil || err != nil {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	c, err := s.cfg.Assets.OpenHash(r.Context(), hash, owner)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, asset.ErrNoContent) {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	if err != nil {
		return err
	}
	defer c.File.Close()
	disposition := "attachment"
	if strings.HasPrefix(c.MimeType, "image/") || strings.HasPrefix(c.MimeType, "video/") || strings.HasPrefix(c.MimeType, "audio/") {
		disposition = "inline"
	}
	serveContent(w, r, c, disposition)
	return nil
}

// uploadedAsset registers a file that POST /upload/image or /upload/mask
// stored (name, '/'-separated, in folder t) and returns the "asset" object
// ComfyUI adds to the response; nil when assets are off or registration
// failed (logged; the upload itself succeeded).
func (s *Server) uploadedAsset(r *http.Request, t files.Type, name string) pyjson.Object {
	if s.cfg.Assets == nil {
		return nil
	}
	tag := string(t)
	if t != files.Input && t != files.Output {
		tag = string(files.Input)
	}
	ref, err := s.cfg.Assets.RegisterFile(r.Context(), t, name,
		asset.FileOptions{Name: path.Base(name), Tags: []string{tag}, Origin: "upload"})
	if err != nil {
		s.log.Warn("registering an uploaded image as an asset", "file", name, "err", err)
		return nil
	}
	o := pyjson.Object{{Key: "id", Value: ref.ID}, {Key: "name", Value: ref.Name}, {Key: "asset_hash", Value: ref.Asset.Hash},
		{Key: "size", Value: ref.Asset.Size}}
	var mimeType any
	if ref.Asset.MimeType != "" {
		mimeType = ref.Asset.MimeType
	}
	return append(o, pyjson.Field{Key: "mime_type", Value: mimeType}, pyjson.Field{Key: "tags", Value: ref.Tags})
}

// assetForm is what an asset upload form holds: the content, staged while
// it streamed in (nil when absent or skipped), and the text fields.
type assetForm struct {
	staged     *asset.Staged
	hasFile    bool
	fileBytes  int64
	clientName string
	tags       []string
	name       *string
	meta       *string
	hash       string
	hashKnown  bool
	mimeType   string
	previewID  string
}

// readAssetForm streams a multipart upload: the file part goes straight
// into the content store's staging area (hashed on the way), or is read
// and dropped when a known hash came before it. On success the caller
// owns the staged content; on error nothing is left of it.
func (s *Server) readAssetForm(r *http.Request) (*assetForm, error) {
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(mediaType, "multipart/") {
		return nil, assetError(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Use multipart/form-data for uploads.", nil)
	}
	if params["boundary"] == "" {
		return nil, assetError(http.StatusBadRequest, "BAD_REQUEST", "malformed multipart body: no multipart boundary param in Content-Type", nil)
	}
	form := &assetForm{}
	err := eachPart(bufferedParts(r, params["boundary"]), clientReadError, func(part *multipart.Part) error {
		return s.readAssetPart(r, form, part)
	})
	if err != nil {
		if form.staged != nil {
			form.staged.Discard()
		}
		return nil, err
	}
	return form, nil
}

// bufferedParts reads the multipart body of r. mime/multipart reads its
// source 4 KiB at a time; a large buffer in between makes that a memory
// copy instead of a system call.
func bufferedParts(r *http.Request, boundary string) *multipart.Reader {
	return multipart.NewReader(bufio.NewReaderSize(r.Body, uploadBuffer), boundary)
}

// eachPart reads each part of mr in turn with read, closing it after. An
// error reading the body goes through readError.
func eachPart(mr *multipart.Reader, readError func(error) error, read func(*multipart.Part) error) error {
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(err)
		}
		err = read(part)
		part.Close()
		if err != nil {
			return err
		}
	}
}

// bodyError keeps the body limit's error (a 413, as serve answers it) and
// otherwise returns malformed: the body is malformed or cut off.
func bodyError(err, malformed error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return malformed
}

// clientReadError is the error of a failure reading an asset upload.
func clientReadError(err error) error {
	return bodyError(err, assetError(http.StatusBadRequest, "BAD_REQUEST", "malformed multipart body: "+err.Error(), nil))
}

// readAssetPart reads one part into the form.
func (s *Server) readAssetPart(r *http.Request, f *assetForm, part *multipart.Part) error {
	text := func() (string, error) {
		b, err := io.ReadAll(io.LimitReader(part, maxAssetJSON+1))
		if err != nil {
			return "", clientReadError(err)
		}
		if len(b) > maxAssetJSON {
			return "", assetError(http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("form field %q is too long", part.FormName()), nil)
		}
		return string(b), nil
	}
	switch part.FormName() {
	case "file":
		if f.hasFile {
			break // the first file part counts
		}
		f.hasFile = true
		_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		f.clientName = strings.TrimSpace(params["filename"])
		if f.hashKnown {
			n, err := io.Copy(io.Discard, part)
			f.fileBytes = n
			if err != nil {
				return clientReadError(err)
			}
			return nil
		}
		src := &readErr{r: part}
		staged, err := s.cfg.Assets.Blobs().Stage(src)
		if err != nil {
			if src.err != nil {
				return clientReadError(src.err)
			}
			s.log.Error("storing an uploaded asset", "err", err)
			return assetError(http.StatusInternalServerError, "UPLOAD_IO_ERROR", "Failed to receive and store uploaded file.", nil)
		}
		f.staged, f.fileBytes = staged, staged.Size
		return nil
	case "hash":
		v, err := text()
		if err != nil {
			return err
		}
		if v = strings.TrimSpace(v); v == "" {
			return nil
		}
		if f.hash, err = asset.ParseHash(v); err != nil {
			return assetError(http.StatusBadRequest, "INVALID_HASH", "hash must be like 'blake3:<hex>'", nil)
		}
		_, err = s.cfg.Assets.Store().AssetByHash(r.Context(), f.hash)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("checking an asset hash", "hash", f.hash, "err", err)
			return assetError(http.StatusInternalServerError, "HASH_CHECK_FAILED", "Backend error while checking asset hash.", nil)
		}
		f.hashKnown = err == nil
		return nil
	case "id":
		return assetError(http.StatusBadRequest, "UNSUPPORTED_FIELD",
			"Client-provided 'id' is not supported. Asset IDs are assigned by the server.", nil)
	case "tags", "name", "user_metadata", "mime_type", "preview_id":
		v, err := text()
		if err != nil {
			return err
		}
		switch part.FormName() {
		case "tags":
			f.tags = append(f.tags, v)
		case "name":
			if v != "" {
				f.name = &v
			}
		case "user_metadata":
			if v != "" {
				f.meta = &v
			}
		case "mime_type":
			f.mimeType = strings.TrimSpace(v)
		case "preview_id":
			f.previewID = strings.TrimSpace(v)
		}
		return nil
	}
	if _, err := io.Copy(io.Discard, part); err != nil {
		return clientReadError(err)
	}
	return nil
}

// readErr records the error of a reader other than io.EOF, so that a
// failing request body can be told from a failing disk.
type readErr struct {
	r   io.Reader
	err error
}

// Read reads from r and records its error.
func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// uploadTags parses the tags fields of an upload: each a JSON array, a
// comma-separated list or one tag; normalised.
func uploadTags(fields []string) []string {
	var tags []string
	for _, v := range fields {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "[") {
			var list []any
			if decodeNumbers([]byte(v), &list) == nil {
				for _, x := range list {
					tags = append(tags, pyfmt.Str(x))
				}
				continue
			}
		}
		tags = append(tags, strings.Split(v, ",")...)
	}
	return asset.NormalizeTags(tags)
}

// uploadAsset is POST /api/assets (spec §11.8).
func (s *Server) uploadAsset(w http.ResponseWriter, r *http.Request) error {
	f, err := s.readAssetForm(r)
	if err != nil {
		return err
	}
	if f.staged != nil {
		defer f.staged.Discard()
	}
	known := f.hash != "" && f.hashKnown
	switch {
	case !f.hasFile && !known:
		return assetError(http.StatusBadRequest, "MISSING_FILE", "Form must include a 'file' part or a known 'hash'.", nil)
	case f.hasFile && f.fileBytes == 0 && !known:
		return assetError(http.StatusBadRequest, "EMPTY_UPLOAD", "Uploaded file is empty.", nil)
	}
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	u := asset.Upload{Owner: owner, Tags: uploadTags(f.tags), ClientName: f.clientName, MimeType: f.mimeType,
		PreviewID: f.previewID, Hash: f.hash}
	var problems []string
	if f.name != nil {
		if u.Name = strings.TrimSpace(*f.name); utf8.RuneCountInString(u.Name) > 512 {
			problems = append(problems, "name: String should have at most 512 characters")
		}
	}
	if f.meta != nil {
		meta, err := jsonObject(*f.meta)
		if err != nil {
			problems = append(problems, "user_metadata: Value error, user_metadata must be "+err.Error())
		}
		u.UserMetadata = meta
	}
	if err := s.cfg.Assets.CheckUploadTags(u.Tags); err != nil {
		msg := strings.TrimPrefix(err.Error(), asset.ErrInvalidTags.Error()+": ")
		if strings.HasPrefix(msg, "unknown models category") && len(problems) == 0 {
			return assetError(http.StatusBadRequest, "INVALID_BODY", msg, nil)
		}
		problems = append(problems, "Value error, "+msg)
	}
	if len(problems) > 0 {
		list, _ := json.Marshal(problems)
		return assetError(http.StatusBadRequest, "INVALID_BODY", "Validation failed: "+string(list), nil)
	}

	var ref *store.AssetRef
	created := false
	switch {
	case known:
		if u.Name == "" {
			u.Name = asset.Digest(f.hash)
		}
		ref, err = s.cfg.Assets.FromHash(r.Context(), f.hash, u)
	case f.staged == nil:
		return assetError(http.StatusBadRequest, "MISSING_INPUT", "Provided hash not found and no file uploaded.", nil)
	default:
		ref, created, err = s.cfg.Assets.AddUpload(r.Context(), f.staged, u)
	}
	switch {
	case errors.Is(err, asset.ErrBadPath):
		return assetError(http.StatusBadRequest, "BAD_REQUEST", asset.ErrBadPath.Error(), nil)
	case errors.Is(err, asset.ErrHashMismatch):
		return assetError(http.StatusBadRequest, "HASH_MISMATCH", "Uploaded file hash does not match provided hash.", nil)
	case errors.Is(err, store.ErrNotFound):
		return assetError(http.StatusNotFound, "ASSET_NOT_FOUND", fmt.Sprintf("Asset content %s does not exist", f.hash), nil)
	case err != nil:
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.createdJSON(r, ref, created))
	return nil
}

// jsonObject checks that text is a JSON object and returns it compacted;
// the error completes "must be …".
func jsonObject(text string) (json.RawMessage, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	if !json.Valid([]byte(text)) {
		var v any
		err := json.Unmarshal([]byte(text), &v)
		return nil, fmt.Errorf("JSON: %v", err)
	}
	if _, err := pyjson.DecodeObject([]byte(text)); err != nil {
		return nil, errors.New("a JSON object")
	}
	var buf bytes.Buffer
	json.Compact(&buf, []byte(text))
	return buf.Bytes(), nil
}

// assetFromHash is POST /api/assets/from-hash: a new reference to known
// content.
func (s *Server) assetFromHash(w http.ResponseWriter, r *http.Request) error {
	var body map[string]json.RawMessage
	if err := readAssetJSON(r, &body); err != nil {
		return err
	}
	var v validation
	hash := v.hash(body)
	var u asset.Upload
	if name := v.optString(body, "name"); name != nil {
		u.Name = strings.TrimSpace(*name)
	}
	if m := v.optString(body, "mime_type"); m != nil {
		u.MimeType = strings.TrimSpace(*m)
	}
	if p := v.optString(body, "preview_id"); p != nil {
		u.PreviewID = strings.TrimSpace(*p)
	}
	u.UserMetadata = v.optObject(body, "user_metadata")
	u.Tags = v.tags(body, "tags")
	if !v.ok() {
		return v.err("INVALID_BODY", "Validation failed.")
	}
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	u.Owner = owner
	ref, err := s.cfg.Assets.FromHash(r.Context(), hash, u)
	if errors.Is(err, store.ErrNotFound) {
		return assetError(http.StatusNotFound, "ASSET_NOT_FOUND", fmt.Sprintf("Asset content %s does not exist", hash), nil)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.createdJSON(r, ref, false))
	return nil
}

// changeAssetTags is POST and DELETE /api/assets/{id}/tags.
func (s *Server) changeAssetTags(w http.ResponseWriter, r *http.Request, remove bool) error {
	id := assetID(r)
	var body map[string]json.RawMessage
	if err := readAssetJSON(r, &body); err != nil {
		return err
	}
	var v validation
	tags := v.tagList(body)
	if !v.ok() {
		what := "add"
		if remove {
			what = "remove"
		}
		return v.err("INVALID_BODY", "Invalid JSON body for tags "+what+".")
	}
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	st := s.cfg.Assets.Store()
	var c store.TagChange
	keys := [2]string{"added", "already_present"}
	if remove {
		c, err = st.RemoveTags(r.Context(), id, owner, tags)
		keys = [2]string{"removed", "not_present"}
	} else {
		c, err = st.AddTags(r.Context(), id, owner, tags, "manual", s.cfg.Assets.Now())
	}
	if err != nil {
		return refError(err, id)
	}
	writeJSON(w, http.StatusOK, pyjson.Object{
		{Key: keys[0], Value: c.Changed}, {Key: keys[1], Value: c.Unchanged}, {Key: "total_tags", Value: c.Tags},
	})
	return nil
}

func (s *Server) addAssetTags(w http.ResponseWriter, r *http.Request) error {
	return s.changeAssetTags(w, r, false)
}

func (s *Server) removeAssetTags(w http.ResponseWriter, r *http.Request) error {
	return s.changeAssetTags(w, r, true)
}

// cursorSorts are the sorts a listing cursor may follow.
var cursorSorts = []store.AssetSort{store.SortAssetCreated, store.SortUpdated, store.SortName, store.SortSize}

// Limits on cursors, as ComfyUI's (services/cursor.py).
const (
	maxCursor      = 8192
	maxCursorValue = 512
	maxCursorID    = 128
)

// cursor is the JSON of a listing cursor, keys in ComfyUI's order.
type cursor struct {
	Sort  string `json:"s"`
	Value string `json:"v"`
	ID    string `json:"id"`
	Order string `json:"o"`
}

// encodeCursor is the next_cursor after ref: base64url, unpadded.
func encodeCursor(ref *store.AssetRef, sort store.AssetSort, order string) string {
	k := store.KeyOf(ref, sort)
	c := cursor{Sort: string(sort), ID: ref.ID, Order: order}
	switch sort {
	case store.SortName:
		c.Value = k.Name
	case store.SortSize:
		c.Value = strconv.FormatInt(k.Size, 10)
	default:
		c.Value = strconv.FormatInt(k.Time.UnixMicro(), 10)
	}
	if utf8.RuneCountInString(c.Value) > maxCursorValue {
		return "" // the next request could not use it
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(c)
	return base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// decodeCursor reads a cursor for a listing sorted by sort in order.
func decodeCursor(s string, sort store.AssetSort, order string) (*store.AssetKey, error) {
	bad := func(format string, args ...any) error {
		return assetError(http.StatusBadRequest, "INVALID_CURSOR", fmt.Sprintf(format, args...), nil)
	}
	if !slices.Contains(cursorSorts, sort) {
		return nil, bad("cursor pagination is not supported for sort='%s'", sort)
	}
	if len(s) > maxCursor {
		return nil, bad("cursor exceeds maximum length")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, bad("encoding: %v", err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, bad("payload: %v", err)
	}
	str := func(key string) (string, bool) {
		v, ok := fields[key].(string)
		return v, ok
	}
	cs, ok1 := str("s")
	value, ok2 := str("v")
	id, ok3 := str("id")
	o, ok4 := str("o")
	switch {
	case !ok1 || !ok2 || !ok3:
		return nil, bad("payload: missing or non-string s/v/id")
	case id == "":
		return nil, bad("missing id")
	case utf8.RuneCountInString(id) > maxCursorID:
		return nil, bad("id exceeds maximum length")
	case utf8.RuneCountInString(value) > maxCursorValue:
		return nil, bad("value exceeds maximum length")
	case !slices.Contains(cursorSorts, store.AssetSort(cs)):
		return nil, bad("unsupported sort field '%s'", cs)
	case !ok4:
		return nil, bad("missing or non-string o")
	case o != "asc" && o != "desc":
		return nil, bad("unsupported order '%s'", o)
	case o != order:
		return nil, bad("cursor order '%s' does not match request order '%s'", o, order)
	case cs != string(sort):
		return nil, bad("cursor sort field '%s' does not match request sort '%s'", cs, sort)
	}
	k := &store.AssetKey{ID: id, Name: value}
	if sort == store.SortName {
		return k, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return nil, bad("value is not a valid integer: %v", err)
	}
	k.Size, k.Time = n, time.UnixMicro(n).UTC()
	return k, nil
}

// assetFilter reads the filter parameters of a listing.
func assetFilter(v *validation, q url.Values, owner string) store.AssetFilter {
	f := store.AssetFilter{
		Owner:       owner,
		IncludeTags: asset.NormalizeTags(csvParam(q["include_tags"])),
		ExcludeTags: asset.NormalizeTags(csvParam(q["exclude_tags"])),
	}
	f.NameContains = v.queryString(q, "name_contains")
	if q.Has("metadata_filter") {
		text := v.queryString(q, "metadata_filter")
		if strings.TrimSpace(text) != "" {
			m, err := store.ParseMetaFilter([]byte(text))
			if err != nil {
				v.add("value_error", "metadata_filter", "Value error, "+err.Error(), text, nil)
			}
			f.Metadata = m
		}
	}
	return f
}

// csvParam splits repeated, comma-separated parameter values.
func csvParam(values []string) []string {
	var out []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// listAssets is GET /api/assets (spec §11.5).
func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	q := query(r)
	var v validation
	aq := store.AssetQuery{AssetFilter: assetFilter(&v, q, owner)}
	aq.Limit = v.queryInt(q, "limit", 20, 1, 500)
	aq.Offset = v.queryInt(q, "offset", 0, 0, -1)
	aq.Sort = store.AssetSort(v.queryChoice(q, "sort", "created_at", "name", "created_at", "updated_at", "size", "last_access_time"))
	order := v.queryChoice(q, "order", "desc", "asc", "desc")
	aq.Desc = order == "desc"
	after := v.queryString(q, "after")
	if !v.ok() {
		return v.err("INVALID_QUERY", "Validation failed.")
	}
	if q.Has("after") {
		if aq.After, err = decodeCursor(after, aq.Sort, order); err != nil {
			return err
		}
	}
	// One row more than the page says whether a next page exists.
	mint := slices.Contains(cursorSorts, aq.Sort)
	limit := aq.Limit
	if mint {
		aq.Limit++
	}
	refs, total, err := s.cfg.Assets.Store().ListRefs(r.Context(), aq)
	if err != nil {
		return err
	}
	var next string
	if mint && len(refs) > limit {
		next = encodeCursor(refs[limit-1], aq.Sort, order)
		refs = refs[:limit]
	}
	hasMore := aq.Offset+len(refs) < total
	if q.Has("after") {
		hasMore = next != ""
	}
	assets := make([]any, len(refs))
	for i, ref := range refs {
		assets[i] = s.assetJSON(r, ref)
	}
	out := pyjson.Object{{Key: "assets", Value: assets}, {Key: "total", Value: total}, {Key: "has_more", Value: hasMore}}
	if next != "" {
		out = append(out, pyjson.Field{Key: "next_cursor", Value: next})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// refineTags is GET /api/assets/tags/refine: the tags of the references a
// filter matches, with their counts.
func (s *Server) refineTags(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	q := query(r)
	var v validation
	f := assetFilter(&v, q, owner)
	limit := v.queryInt(q, "limit", 100, 1, 1000)
	if !v.ok() {
		return v.err("INVALID_QUERY", "Validation failed.")
	}
	counts, err := s.cfg.Assets.Store().TagHistogram(r.Context(), f, limit)
	if err != nil {
		return err
	}
	out := pyjson.Object{}
	for _, c := range counts {
		out = append(out, pyjson.Field{Key: c.Name, Value: c.Count})
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "tag_counts", Value: out}})
	return nil
}

// listTags is GET /api/tags.
func (s *Server) listTags(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.assetOwner(r)
	if err != nil {
		return err
	}
	q := query(r)
	var v validation
	tq := store.TagQuery{Owner: owner}
	if q.Has("prefix") {
		prefix := strings.TrimSpace(q.Get("prefix"))
		switch n := utf8.RuneCountInString(prefix); {
		case n < 1:
			v.add("string_too_short", "prefix", "String should have at least 1 character", prefix, pyjson.Object{{Key: "min_length", Value: 1}})
		case n > 256:
			v.add("string_too_long", "prefix", "String should have at most 256 characters", prefix, pyjson.Object{{Key: "max_length", Value: 256}})
		}
		tq.Prefix = strings.ToLower(prefix)
	}
	tq.Limit = v.queryInt(q, "limit", 100, 1, 1000)
	tq.Offset = v.queryInt(q, "offset", 0, 0, 10_000_000)
	tq.Order = store.TagOrder(v.queryChoice(q, "order", "count_desc", "count_desc", "name_asc"))
	tq.IncludeZero = v.queryBool(q, "include_zero", true)
	if !v.ok() {
		return v.err("INVALID_QUERY", "Invalid query parameters")
	}
	tags, total, err := s.cfg.Assets.Store().Tags(r.Context(), tq)
	if err != nil {
		return err
	}
	list := make([]any, len(tags))
	for i, t := range tags {
		list[i] = pyjson.Object{{Key: "name", Value: t.Name}, {Key: "count", Value: t.Count}}
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "tags", Value: list}, {Key: "total", Value: total},
		{Key: "has_more", Value: tq.Offset+len(tags) < total}})
	return nil
}

// seedAssets is POST /api/assets/seed: start a scan of the roots in the
// body (all by default); with ?wait=true, wait for it to end.
func (s *Server) seedAssets(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Roots []string `json:"roots"`
	}
	roots := asset.Roots
	if b, err := io.ReadAll(io.LimitReader(r.Body, maxAssetJSON)); err == nil && json.Unmarshal(b, &body) == nil && body.Roots != nil {
		roots = body.Roots
	}
	var valid []string
	for _, root := range roots {
		if slices.Contains(asset.Roots, root) {
			valid = append(valid, root)
		}
	}
	if len(valid) == 0 {
		return assetError(http.StatusBadRequest, "INVALID_BODY", "No valid roots specified", nil)
	}
	seeder := s.cfg.Assets.Seeder()
	if !seeder.Start(valid) {
		writeJSON(w, http.StatusConflict, pyjson.Object{{Key: "status", Value: "already_running"}})
		return nil
	}
	switch strings.ToLower(query(r).Get("wait")) {
	case "true", "1", "yes":
		seeder.Wait()
		st := seeder.Status()
		writeJSON(w, http.StatusOK, pyjson.Object{{Key: "status", Value: "completed"},
			{Key: "progress", Value: progressJSON(st.Progress, false)}, {Key: "errors", Value: append([]string{}, st.Errors...)}})
		return nil
	}
	writeJSON(w, http.StatusAccepted, pyjson.Object{{Key: "status", Value: "started"}})
	return nil
}

// progressJSON is a scan's progress object; nil (null) when there is none
// and orNull is set, else zeros.
func progressJSON(p *asset.Progress, orNull bool) any {
	if p == nil {
		if orNull {
			return nil
		}
		p = &asset.Progress{}
	}
	return pyjson.Object{{Key: "scanned", Value: p.Scanned}, {Key: "total", Value: p.Total},
		{Key: "created", Value: p.Created}, {Key: "skipped", Value: p.Skipped}}
}

// seedStatus is GET /api/assets/seed/status.
func (s *Server) seedStatus(w http.ResponseWriter, r *http.Request) error {
	st := s.cfg.Assets.Seeder().Status()
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "state", Value: string(st.State)},
		{Key: "progress", Value: progressJSON(st.Progress, true)}, {Key: "errors", Value: append([]string{}, st.Errors...)}})
	return nil
}

// cancelSeed is POST /api/assets/seed/cancel.
func (s *Server) cancelSeed(w http.ResponseWriter, r *http.Request) error {
	status := "idle"
	if s.cfg.Assets.Seeder().Cancel() {
		status = "cancelling"
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "status", Value: status}})
	return nil
}

// pruneAssets is POST /api/assets/prune: the references of files outside
// every known folder become missing; 409 while a scan runs.
func (s *Server) pruneAssets(w http.ResponseWriter, r *http.Request) error {
	n, err := s.cfg.Assets.Seeder().Prune(r.Context())
	if errors.Is(err, asset.ErrScanRunning) {
		writeJSON(w, http.StatusConflict, pyjson.Object{{Key: "status", Value: "scan_running"}, {Key: "marked", Value: 0}})
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "status", Value: "completed"}, {Key: "marked", Value: n}})
	return nil
}
