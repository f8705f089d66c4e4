package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gocomfy/gocomfy/internal/asset"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// The v2 assets (spec tag "assets"), served by the same asset library as
// ComfyUI's /api/assets: an asset is a reference (its id), over content
// keyed by its Blake3 hash. Uploads are hashed as they stream in, never
// scanned, so they are usable at once and never answered 202.
//
// A hash is "mintable" by a user (HEAD by-hash, from-hash) when a
// reference to its content is the user's or everyone's (files of the
// working folders, outputs): a miss and content only other users hold
// are both 404, as the spec requires.

// v2AssetRoutes returns the /api/v2/assets routes. HEAD by-hash and GET
// content share a pattern: net/http finds /api/v2/assets/by-hash/content
// ambiguous between two patterns (a GET pattern also matches HEAD).
func (a *v2API) v2AssetRoutes() []route {
	h := func(fn handlerFunc) http.Handler { return a.s.serve(a.withAssets(fn)) }
	return []route{
		{"POST /api/v2/assets", h(a.postAsset), false},
		{"POST /api/v2/assets/from-hash", h(a.assetFromHash), false},
		{"GET /api/v2/assets/{id}", h(a.getAsset), false},
		{"GET /api/v2/assets/{id}/{sub}", h(a.getAssetSub), false},
	}
}

// withAssets answers 503 while assets are off (no --enable-assets).
func (a *v2API) withAssets(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if a.s.cfg.Assets == nil {
			return v2Error(http.StatusServiceUnavailable, "assets_disabled",
				"Assets are disabled. Start the server with --enable-assets to use them.", nil)
		}
		return fn(w, r)
	}
}

// owner is the user whose assets a request sees (as /api/assets).
func (a *v2API) owner(r *http.Request) (string, error) {
	o, err := a.s.assetOwner(r)
	if err != nil {
		return "", v2Error(http.StatusForbidden, "forbidden", "No such user.", nil)
	}
	return o, nil
}

// assetURL is an asset's URL, or the URL of one of its sub-resources.
func assetURL(id, sub string) string {
	u := "/api/v2/assets/" + url.PathEscape(id)
	if sub != "" {
		u += "/" + sub
	}
	return u
}

// assetView is the spec's Asset object; created, when not nil, is its
// created_new. Content URLs are served by gocomfy itself and do not
// expire: url_expires_at is nominal, the retention of the jobs.
func assetView(ref *store.AssetRef, created *bool, now time.Time) pyjson.Object {
	var hash, filePath any
	if ref.Asset.Hash != "" {
		hash = ref.Asset.Hash
	}
	var meta struct {
		Filename string `json:"filename"`
	}
	json.Unmarshal(ref.UserMetadata, &meta)
	if p := cmp.Or(meta.Filename, ref.Name); p != "" {
		filePath = p
	}
	o := pyjson.Object{
		{Key: "id", Value: ref.ID}, {Key: "hash", Value: hash}, {Key: "size_bytes", Value: ref.Asset.Size},
		{Key: "content_type", Value: cmp.Or(ref.Asset.MimeType, asset.TypeByName(ref.Name), "application/octet-stream")},
		{Key: "file_path", Value: filePath},
	}
	if created != nil {
		o = append(o, pyjson.Field{Key: "created_new", Value: *created})
	}
	return append(o,
		pyjson.Field{Key: "created_at", Value: timestamp(ref.CreatedAt.UnixMilli())},
		pyjson.Field{Key: "url", Value: assetURL(ref.ID, "content")},
		pyjson.Field{Key: "url_expires_at", Value: timestamp(now.Add(v2Retention).UnixMilli())},
	)
}

// placement returns the tags and name of an asset placed at filePath
// (the spec's global-namespace-root form): its folders are its tags, led
// by input when they do not start with models, input or output, so that
// "photo.png" is an input and "models/checkpoints/x.safetensors" a
// checkpoint.
func placement(filePath string) (tags []string, name string) {
	p := strings.Trim(strings.ReplaceAll(filePath, `\`, "/"), "/")
	dir, name := path.Split(p)
	tags = asset.NormalizeTags(strings.Split(dir, "/"))
	if len(tags) == 0 || (tags[0] != "models" && tags[0] != "input" && tags[0] != "output") {
		tags = append([]string{"input"}, tags...)
	}
	return tags, name
}

// v2AssetForm is a POST /api/v2/assets form: the content, staged while it
// streamed in (nil when absent), and the text fields.
type v2AssetForm struct {
	staged       *asset.Staged
	contentType  string
	filePath     *string
	expectedHash string
	tags         []string
}

// maxV2Field bounds a text field of an upload form.
const maxV2Field = 64 << 10

// readV2AssetForm streams a multipart upload: the first file part goes
// straight into the content store's staging area, hashed on the way. On
// success the caller owns the staged content; on error nothing is left.
func (a *v2API) readV2AssetForm(r *http.Request) (*v2AssetForm, error) {
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, v2Error(http.StatusUnsupportedMediaType, "invalid_request", "Use multipart/form-data with a boundary.", nil)
	}
	f := &v2AssetForm{}
	err := eachPart(bufferedParts(r, params["boundary"]), v2ReadError, func(part *multipart.Part) error {
		return a.readV2AssetPart(f, part)
	})
	if err != nil {
		if f.staged != nil {
			f.staged.Discard()
		}
		return nil, err
	}
	return f, nil
}

// v2ReadError is the error of a failure reading a v2 request.
func v2ReadError(err error) error {
	return bodyError(err, v2Error(http.StatusBadRequest, "invalid_request", "Malformed multipart body: "+err.Error(), nil))
}

// readV2AssetPart reads one part into the form; unknown parts are
// skipped.
func (a *v2API) readV2AssetPart(f *v2AssetForm, part *multipart.Part) error {
	name := part.FormName()
	if name == "file" {
		if f.staged != nil { // the first file part counts
			if _, err := io.Copy(io.Discard, part); err != nil {
				return v2ReadError(err)
			}
			return nil
		}
		src := &readErr{r: part}
		staged, err := a.s.cfg.Assets.Blobs().Stage(src)
		if err != nil {
			if src.err != nil {
				return v2ReadError(src.err)
			}
			return err
		}
		f.staged = staged
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(part, maxV2Field+1))
	if err != nil {
		return v2ReadError(err)
	}
	if len(b) > maxV2Field {
		return v2Error(http.StatusUnprocessableEntity, "invalid_request", "Form field "+name+" is too long.", nil)
	}
	v := strings.TrimSpace(string(b))
	switch name {
	case "content_type":
		f.contentType = v
	case "file_path":
		f.filePath = &v
	case "expected_hash":
		f.expectedHash = v
	case "tags":
		f.tags = append(f.tags, v)
	}
	return nil
}

// invalidAsset is the 422 of an asset request that fails validation.
func invalidAsset(message string) error {
	return v2Error(http.StatusUnprocessableEntity, "invalid_request", message, nil)
}

// postAsset is POST /api/v2/assets: 201 for new content, 200 when the
// content was known (a new reference over it either way).
func (a *v2API) postAsset(w http.ResponseWriter, r *http.Request) error {
	f, err := a.readV2AssetForm(r)
	if err != nil {
		return err
	}
	if f.staged != nil {
		defer f.staged.Discard()
	}
	switch {
	case f.staged == nil:
		return invalidAsset("Form must include a 'file' part.")
	case f.contentType == "":
		return invalidAsset("Form must include 'content_type'.")
	case f.filePath == nil || *f.filePath == "":
		return invalidAsset("Form must include 'file_path'.")
	}
	owner, err := a.owner(r)
	if err != nil {
		return err
	}
	tags, name := placement(*f.filePath)
	if len(f.tags) > 0 {
		tags = uploadTags(f.tags)
	}
	if err := a.s.cfg.Assets.CheckUploadTags(tags); err != nil {
		return invalidAsset(err.Error())
	}
	u := asset.Upload{Owner: owner, Tags: tags, Name: name, ClientName: name, MimeType: f.contentType}
	if f.expectedHash != "" {
		if u.Hash, err = asset.ParseHash(f.expectedHash); err != nil {
			return invalidAsset("expected_hash must be like 'blake3:<hex>'.")
		}
	}
	ref, created, err := a.s.cfg.Assets.AddUpload(r.Context(), f.staged, u)
	switch {
	case errors.Is(err, asset.ErrHashMismatch):
		return v2Error(http.StatusConflict, "hash_mismatch", "The content does not have the expected_hash.", nil)
	case errors.Is(err, asset.ErrBadPath):
		return invalidAsset("file_path: " + err.Error())
	case err != nil:
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, assetView(ref, &created, time.Now()))
	return nil
}

// mintable reports whether owner may mint an asset over the content with
// hash: whether a reference to it is owner's or everyone's.
func (a *v2API) mintable(ctx context.Context, hash, owner string) (bool, error) {
	st := a.s.cfg.Assets.Store()
	c, err := st.AssetByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	refs, err := st.RefsOf(ctx, c.ID)
	if err != nil {
		return false, err
	}
	for _, ref := range refs {
		if ref.OwnerID == "" || ref.OwnerID == owner {
			return true, nil
		}
	}
	return false, nil
}

// maxAssetRequest bounds the JSON body of POST /api/v2/assets/from-hash.
const maxAssetRequest = 64 << 10

// assetFromHash is POST /api/v2/assets/from-hash: a new asset over
// content the caller may mint from.
func (a *v2API) assetFromHash(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Hash     *string  `json:"hash"`
		FilePath *string  `json:"file_path"`
		Tags     []string `json:"tags"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAssetRequest+1))
	if err != nil {
		return v2ReadError(err)
	}
	if len(body) > maxAssetRequest || json.Unmarshal(body, &req) != nil || req.Hash == nil {
		return invalidAsset("Body must be a JSON object with a string 'hash' (and optional 'file_path', 'tags').")
	}
	hash, err := asset.ParseHash(*req.Hash)
	if err != nil {
		return invalidAsset("hash must be like 'blake3:<hex>'.")
	}
	owner, err := a.owner(r)
	if err != nil {
		return err
	}
	u := asset.Upload{Owner: owner}
	if req.FilePath != nil && *req.FilePath != "" {
		u.Tags, u.Name = placement(*req.FilePath)
		u.MimeType = asset.TypeByName(u.Name)
	}
	if len(req.Tags) > 0 {
		u.Tags = asset.NormalizeTags(req.Tags)
	}
	ok, err := a.mintable(r.Context(), hash, owner)
	if err != nil {
		return err
	}
	var ref *store.AssetRef
	if ok {
		ref, err = a.s.cfg.Assets.FromHash(r.Context(), hash, u)
	}
	switch {
	case !ok, errors.Is(err, store.ErrNotFound):
		return v2Error(http.StatusNotFound, "blob_not_found", "No content with hash "+hash+" that you may use.", nil)
	case err != nil:
		return err
	}
	created := false
	writeJSON(w, http.StatusCreated, assetView(ref, &created, time.Now()))
	return nil
}

// assetRef returns the reference {id} as the request's user sees it.
func (a *v2API) assetRef(r *http.Request) (*store.AssetRef, error) {
	id := strings.ToLower(r.PathValue("id"))
	if !uuidPattern.MatchString(id) {
		return nil, v2Error(http.StatusNotFound, "not_found", "No asset "+id+".", nil)
	}
	owner, err := a.owner(r)
	if err != nil {
		return nil, err
	}
	ref, err := a.s.cfg.Assets.Store().Ref(r.Context(), id, owner)
	switch {
	case errors.Is(err, store.ErrForbidden):
		return nil, v2Error(http.StatusForbidden, "forbidden", "Asset "+id+" is not yours.", nil)
	case errors.Is(err, store.ErrNotFound):
		return nil, v2Error(http.StatusNotFound, "not_found", "No asset "+id+".", nil)
	}
	return ref, err
}

// getAsset is GET /api/v2/assets/{id}.
func (a *v2API) getAsset(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.assetRef(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, assetView(ref, nil, time.Now()))
	return nil
}

// getAssetSub serves HEAD /api/v2/assets/by-hash/{hash} and GET (or HEAD)
// /api/v2/assets/{id}/content.
func (a *v2API) getAssetSub(w http.ResponseWriter, r *http.Request) error {
	switch {
	case r.PathValue("id") == "by-hash" && r.Method == http.MethodHead:
		return a.headAssetByHash(w, r, r.PathValue("sub"))
	case r.PathValue("id") == "by-hash":
		w.Header().Set("Allow", "HEAD")
		return v2Error(http.StatusMethodNotAllowed, "method_not_allowed", "Use HEAD.", nil)
	case r.PathValue("sub") != "content":
		return v2Error(http.StatusNotFound, "not_found", "No such resource.", nil)
	}
	ref, err := a.assetRef(r)
	if err != nil {
		return err
	}
	c, err := a.s.cfg.Assets.Open(r.Context(), ref)
	if errors.Is(err, asset.ErrNoContent) {
		return v2Error(http.StatusNotFound, "not_found", "The content of asset "+ref.ID+" is gone.", nil)
	}
	if err != nil {
		return err
	}
	defer c.File.Close()
	serveContent(w, r, c, "attachment")
	return nil
}

// headAssetByHash is HEAD /api/v2/assets/by-hash/{hash}: 200 if the
// caller may mint from the content, else 404 (a malformed hash too).
func (a *v2API) headAssetByHash(w http.ResponseWriter, r *http.Request, raw string) error {
	hash, err := asset.ParseHash(raw)
	if err != nil {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	owner, err := a.owner(r)
	if err != nil {
		return err
	}
	ok, err := a.mintable(r.Context(), hash, owner)
	if err != nil {
		return err
	}
	if ok {
		writeEmpty(w, http.StatusOK)
	} else {
		writeEmpty(w, http.StatusNotFound)
	}
	return nil
}
