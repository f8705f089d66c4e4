// Package asset is gocomfy's assets: ComfyUI's content-addressed store of
// uploads, inputs, outputs and models, organised by tags (app/assets).
//
// A Library ties three things together: the records (store.AssetStore:
// content by hash, references with names, tags and metadata), the
// uploaded bytes (Blobs: one file per Blake3 hash, hashed while they
// stream in), and the working folders, whose files are registered where
// they are. An upload of new content is also linked into the folder its
// first tag names (input/, output/, or a model folder), as ComfyUI moves it
// there, so that loaders and /view find it under "<hash><ext>".
//
// Nothing here knows about HTTP; internal/server maps the errors to
// ComfyUI's codes.
package asset

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig of the upload formats
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Errors of uploads and downloads; the HTTP layer maps them with errors.Is.
var (
	// ErrInvalidTags: an upload's tags are missing, or do not start with
	// models, input or output, or name an unknown model folder.
	ErrInvalidTags = errors.New("invalid tags")
	// ErrBadPath: a tag that would be a folder name is not one.
	ErrBadPath = errors.New("invalid path component in tags")
	// ErrHashMismatch: the content does not have the hash the client said.
	ErrHashMismatch = errors.New("uploaded file hash does not match provided hash")
	// ErrNoContent: no file holds the reference's content any more.
	ErrNoContent = errors.New("underlying file not found on disk")
)

// Config configures a Library.
type Config struct {
	Store   store.AssetStore
	Blobs   *Blobs
	Folders *files.Folders
	Logger  *slog.Logger
	// Events receives the seeder's WebSocket broadcasts (nil: none).
	Events executor.Sink
	// Remote, when set, receives every uploaded blob and is read for
	// content that no local file holds (nil: none).
	Remote Remote
	// Now is the clock (time.Now when nil); times are kept in UTC with
	// microseconds.
	Now func() time.Time
}

// Library is a server's assets.
type Library struct {
	cfg    Config
	log    *slog.Logger
	seeder *Seeder
}

// New returns a Library.
func New(cfg Config) *Library {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Library{cfg: cfg, log: cfg.Logger}
	l.seeder = &Seeder{lib: l, events: cfg.Events, state: Idle}
	return l
}

// Seeder is the library's scanner of the working and model folders.
func (l *Library) Seeder() *Seeder { return l.seeder }

// Store is the library's records, for reads and edits that need no files.
func (l *Library) Store() store.AssetStore { return l.cfg.Store }

// Blobs is the library's content store.
func (l *Library) Blobs() *Blobs { return l.cfg.Blobs }

// Now is the library's clock, in UTC with microseconds, as times are kept.
func (l *Library) Now() time.Time { return l.cfg.Now().UTC().Truncate(time.Microsecond) }

// NormalizeTags trims and lower-cases tags, drops empty ones and
// duplicates (the first stays), as ComfyUI does everywhere.
func NormalizeTags(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// CheckUploadTags checks the tags of an upload (normalised) as ComfyUI
// does before storing anything: at least one, the first models, input or
// output, and for models a second that is a model folder.
func (l *Library) CheckUploadTags(tags []string) error {
	switch {
	case len(tags) == 0:
		return fmt.Errorf("%w: at least one tag is required for uploads", ErrInvalidTags)
	case tags[0] != "models" && tags[0] != "input" && tags[0] != "output":
		return fmt.Errorf("%w: first tag must be one of: models, input, output", ErrInvalidTags)
	case tags[0] == "models" && len(tags) < 2:
		return fmt.Errorf("%w: models uploads require a category tag as the second tag", ErrInvalidTags)
	case tags[0] == "models" && !l.isModelFolder(tags[1]):
		return fmt.Errorf("%w: unknown models category '%s'", ErrInvalidTags, tags[1])
	}
	return nil
}

// isModelFolder reports whether name is a model folder key (not a legacy
// name) with a directory, other than custom_nodes (code, not models).
func (l *Library) isModelFolder(name string) bool {
	dirs, _ := l.cfg.Folders.Models.Dirs(name)
	return name != "custom_nodes" && l.cfg.Folders.Models.Has(name) && len(dirs) > 0
}

// Upload is what an upload records besides its content.
type Upload struct {
	Owner string
	Tags  []string // normalised, checked by CheckUploadTags
	// Name is the display name; "" takes the base name of ClientName, the
	// file name the client sent, or else the hash's digits.
	Name         string
	ClientName   string
	UserMetadata json.RawMessage // a JSON object, or nil
	MimeType     string          // "" guesses from the client's file name
	PreviewID    string
	// Hash, when set, is the hash the client said the content has.
	Hash string
}

// AddUpload records staged content (POST /api/assets) and reports whether
// the content is new. Known content gets a new reference of its own and
// no new file (its bytes join the store if only a working folder held
// them). New content joins the store and is linked into the folder its
// tags name, as "<digest><ext>", and gets a reference to that file.
// Either way the blob is copied to the remote, if any, and AddUpload waits
// for the copy (see share). The staged copy is gone when AddUpload
// returns.
func (l *Library) AddUpload(ctx context.Context, s *Staged, u Upload) (*store.AssetRef, bool, error) {
	defer s.Discard()
	if u.Hash != "" && u.Hash != s.Hash {
		return nil, false, ErrHashMismatch
	}
	name := displayName(u.Name, u.ClientName, Digest(s.Hash))
	mimeType := u.MimeType
	if mimeType == "" {
		mimeType = cmp.Or(TypeByName(u.ClientName), TypeByName(u.Name), "application/octet-stream")
	}
	ref := store.NewRef{
		Hash: s.Hash, Size: s.Size, MimeType: mimeType, Create: true, Name: name, OwnerID: u.Owner,
		PreviewID: u.PreviewID, UserMetadata: u.UserMetadata, Tags: u.Tags, TagOrigin: "manual", Time: l.Now(),
	}
	if a, err := l.cfg.Store.AssetByHash(ctx, s.Hash); err == nil {
		// Known content: keep its bytes (they may have lived only in a
		// working folder so far), then a reference of the uploader's own.
		blob, _, err := s.Commit()
		if err != nil {
			return nil, false, err
		}
		if ref.SystemMetadata, err = l.siblingImageMetadata(ctx, a.ID); err != nil {
			return nil, false, err
		}
		r, _, err := l.cfg.Store.PutRef(ctx, ref)
		if err == nil {
			l.share(ctx, s.Hash, blob)
		}
		return r, false, err
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}

	p, err := l.uploadPlace(u.Tags, u.ClientName, s.Hash)
	if err != nil {
		return nil, false, err
	}
	blob, _, err := s.Commit()
	if err != nil {
		return nil, false, err
	}
	if err := linkInto(blob, p.abs()); err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(p.abs())
	if err != nil {
		return nil, false, err
	}
	ref.FilePath, ref.MtimeNS = p.abs(), fi.ModTime().UnixNano()
	if ref.UserMetadata, err = withFilename(u.UserMetadata, p.filename()); err != nil {
		return nil, false, err
	}
	if f, err := os.Open(blob); err == nil {
		ref.SystemMetadata = imageMetadata(f, mimeType)
		f.Close()
	}
	r, created, err := l.cfg.Store.PutRef(ctx, ref)
	if err != nil {
		// No file without its reference (metadata the store refuses, a
		// store error), unless a concurrent upload of the same bytes
		// registered it meanwhile. The blob stays: it is whole, and
		// another reference may come to it.
		if _, lookErr := l.cfg.Store.RefByPath(ctx, ref.FilePath); errors.Is(lookErr, store.ErrNotFound) {
			os.Remove(ref.FilePath)
		}
		return r, created, err
	}
	l.share(ctx, s.Hash, blob)
	return r, created, nil
}

// FromHash creates a reference to known content (POST
// /api/assets/from-hash); store.ErrNotFound if no content has the hash.
func (l *Library) FromHash(ctx context.Context, hash string, u Upload) (*store.AssetRef, error) {
	a, err := l.cfg.Store.AssetByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	system, err := l.siblingImageMetadata(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	r, _, err := l.cfg.Store.PutRef(ctx, store.NewRef{
		Hash: hash, MimeType: u.MimeType, Name: displayName(u.Name, "", Digest(hash)), OwnerID: u.Owner,
		PreviewID: u.PreviewID, UserMetadata: u.UserMetadata, SystemMetadata: system,
		Tags: u.Tags, TagOrigin: "manual", Time: l.Now(),
	})
	return r, err
}

// siblingImageMetadata returns the image size another reference to the
// content records, for a new reference made without reading the bytes.
func (l *Library) siblingImageMetadata(ctx context.Context, assetID string) (json.RawMessage, error) {
	refs, err := l.cfg.Store.RefsOf(ctx, assetID)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		var m struct {
			Kind          string
			Width, Height *int
		}
		if json.Unmarshal(r.SystemMetadata, &m) == nil && m.Kind == "image" &&
			m.Width != nil && m.Height != nil && *m.Width > 0 && *m.Height > 0 {
			b, _ := json.Marshal(pyjson.Object{{Key: "kind", Value: "image"}, {Key: "width", Value: *m.Width}, {Key: "height", Value: *m.Height}})
			return b, nil
		}
	}
	return nil, nil
}

// UpdateRef changes a reference (PUT /api/assets/{id}). New user metadata
// replaces the old, except that a file's reference keeps its "filename".
func (l *Library) UpdateRef(ctx context.Context, id, owner string, u store.RefUpdate) (*store.AssetRef, error) {
	if u.UserMetadata != nil {
		r, err := l.cfg.Store.Ref(ctx, id, owner)
		if err != nil {
			return nil, err
		}
		if p, ok := l.placeOf(r.FilePath); ok {
			if u.UserMetadata, err = withFilename(u.UserMetadata, p.filename()); err != nil {
				return nil, err
			}
		}
	}
	u.Time = l.Now()
	return l.cfg.Store.UpdateRef(ctx, id, owner, u)
}

// displayName is ComfyUI's _sanitize_filename(name or client name,
// fallback): a base name, never empty.
func displayName(name, clientName, fallback string) string {
	n := strings.TrimSpace(cmp.Or(name, clientName))
	if n == "" {
		n = fallback
	}
	n = path.Base(strings.ReplaceAll(n, `\`, "/"))
	if n == "" || n == "." || n == "/" {
		return fallback
	}
	return n
}

// withFilename returns the JSON object meta with "filename" set, as the
// server maintains it for the references of files.
func withFilename(meta json.RawMessage, filename string) (json.RawMessage, error) {
	o := pyjson.Object{}
	if len(meta) > 0 {
		var err error
		if o, err = pyjson.DecodeObject(meta); err != nil {
			return nil, err
		}
	}
	o.Set("filename", filename)
	return json.Marshal(o)
}

// imageMetadata reads an image's size from its header: ComfyUI's
// {"kind": "image", "width", "height"} system metadata, or nil.
func imageMetadata(r io.Reader, mimeType string) json.RawMessage {
	if !strings.HasPrefix(mimeType, "image/") {
		return nil
	}
	c, _, err := image.DecodeConfig(r)
	if err != nil || c.Width <= 0 || c.Height <= 0 {
		return nil
	}
	b, _ := json.Marshal(pyjson.Object{{Key: "kind", Value: "image"}, {Key: "width", Value: c.Width}, {Key: "height", Value: c.Height}})
	return b
}

// extraTypes are the types ComfyUI registers on top of Python's mimetypes
// (utils/mime_types.py), which Go's table lacks.
var extraTypes = map[string]string{
	".webp": "image/webp", ".svg": "image/svg+xml", ".safetensors": "application/safetensors",
	".sft": "application/safetensors", ".pt": "application/pytorch", ".pth": "application/pytorch",
	".ckpt": "application/pickle", ".pkl": "application/pickle", ".gguf": "application/gguf",
	".yaml": "application/yaml", ".yml": "application/yaml",
}

// TypeByName guesses a MIME type from a file name's extension; "" when
// unknown.
func TypeByName(name string) string {
	_, ext := files.SplitExt(path.Base(name))
	ext = strings.ToLower(ext)
	if t, ok := extraTypes[ext]; ok {
		return t
	}
	t, _, _ := strings.Cut(mime.TypeByExtension(ext), ";")
	return t
}

// place is where a file lives: rel ('/'-separated) under base, a working
// folder or a model folder's directory, whose root tags are roots
// (["input"], ["output"], ["models", "<folder>"]). A working folder's
// files are opened through its os.Root (root), so that no symbolic link
// leads a registration out of it.
type place struct {
	base  string
	rel   string
	roots []string
	root  *os.Root // nil for a model folder
}

func (p place) abs() string { return filepath.Join(p.base, filepath.FromSlash(p.rel)) }

func (p place) open() (*os.File, error) {
	if p.root != nil {
		return p.root.Open(p.rel)
	}
	return os.Open(p.abs())
}

// tags are the file's path-derived tags: its roots, then the names of the
// folders that hold it.
func (p place) tags() []string {
	parts := strings.Split(p.rel, "/")
	return NormalizeTags(slices.Concat(p.roots, parts[:len(parts)-1]))
}

// filename is the user_metadata "filename" ComfyUI keeps for a file: its
// path under the root (for a model, under the model folder's directory).
func (p place) filename() string { return p.rel }

// uploadPlace is where new uploaded content goes: the root folder of its
// first tag, in the sub-folders its other tags name (after the model
// folder, for models), as "<digest><ext>" (the client's extension if it
// has 1 to 16 characters with the dot).
func (l *Library) uploadPlace(tags []string, clientName, hash string) (place, error) {
	var p place
	subdirs := tags[1:]
	switch tags[0] {
	case "models":
		dirs, _ := l.cfg.Folders.Models.Dirs(tags[1])
		p = place{base: dirs[0], roots: tags[:2]}
		subdirs = tags[2:]
	case "input":
		p = place{base: l.cfg.Folders.Dir(files.Input), roots: tags[:1], root: l.cfg.Folders.Root(files.Input)}
	default:
		p = place{base: l.cfg.Folders.Dir(files.Output), roots: tags[:1], root: l.cfg.Folders.Root(files.Output)}
	}
	for _, d := range subdirs {
		if d == "." || d == ".." || strings.ContainsAny(d, `/\`) {
			return place{}, ErrBadPath
		}
	}
	_, ext := files.SplitExt(path.Base(strings.ReplaceAll(clientName, `\`, "/")))
	if len(ext) > 16 {
		ext = ""
	}
	rel, err := files.CleanName(path.Join(append(slices.Clone(subdirs), Digest(hash)+ext)...))
	if err != nil {
		return place{}, fmt.Errorf("%w: %v", ErrBadPath, err)
	}
	p.rel = rel
	return p, nil
}

// linkInto makes dst a hard link to the blob (a copy where the file system
// can't link), replacing what dst was; the folders it needs are created.
// The link is made under a temporary name and renamed, so dst is never
// half there.
func linkInto(blob, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+"."+hex.EncodeToString(rnd[:])+".tmp")
	if err := os.Link(blob, tmp); err != nil {
		if err := copyFile(blob, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	err := os.Rename(tmp, dst)
	// When dst is already a link to the blob, rename(2) succeeds and
	// leaves tmp in place: remove it either way.
	os.Remove(tmp)
	return err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = in.WriteTo(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// placeOf finds which root a file is under: input, output, temp, or a
// model folder's directory (the deepest that holds it).
func (l *Library) placeOf(abs string) (place, bool) {
	if abs == "" {
		return place{}, false
	}
	under := func(base string) (string, bool) {
		rel, err := filepath.Rel(base, abs)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(rel), true
	}
	for _, t := range []files.Type{files.Input, files.Output, files.Temp} {
		if rel, ok := under(l.cfg.Folders.Dir(t)); ok {
			return place{base: l.cfg.Folders.Dir(t), rel: rel, roots: []string{string(t)}, root: l.cfg.Folders.Root(t)}, true
		}
	}
	var best place
	for _, name := range l.cfg.Folders.Models.Names() {
		if name == "custom_nodes" {
			continue
		}
		dirs, _ := l.cfg.Folders.Models.Dirs(name)
		for _, d := range dirs {
			if rel, ok := under(d); ok && len(d) > len(best.base) {
				best = place{base: d, rel: rel, roots: []string{"models", name}}
			}
		}
	}
	return best, best.base != ""
}

// FileOptions are what RegisterFile records besides the file.
type FileOptions struct {
	Name  string   // display name; "" for the file's base name
	Tags  []string // added to the path-derived tags
	Owner string
	JobID string // the prompt that wrote the file
	// Origin is the tags' origin: "upload" for /upload/image,
	// "automatic" for outputs and scans.
	Origin string
	// KeepDeleted leaves a soft-deleted reference deleted (a scan);
	// otherwise registering its file again brings it back.
	KeepDeleted bool
}

// RegisterFile records a file of a working folder where it is: an image
// that came through /upload/image, a node's output. t is the folder and
// rel the file's '/'-separated name in it. The file is hashed unless its
// reference already has a hash for its present size and modification
// time.
func (l *Library) RegisterFile(ctx context.Context, t files.Type, rel string, o FileOptions) (*store.AssetRef, error) {
	rel, err := files.CleanName(rel)
	if err != nil {
		return nil, err
	}
	root := l.cfg.Folders.Root(t)
	if root == nil {
		return nil, fmt.Errorf("%w %q", files.ErrUnknownType, t)
	}
	r, _, err := l.registerPlace(ctx, place{base: l.cfg.Folders.Dir(t), rel: rel, roots: []string{string(t)}, root: root}, o)
	return r, err
}

// registerPlace registers a file where it is and reports whether its
// reference is new.
func (l *Library) registerPlace(ctx context.Context, p place, o FileOptions) (*store.AssetRef, bool, error) {
	f, err := p.open()
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("asset: %s is not a regular file: %w", p.abs(), fs.ErrInvalid)
	}
	tags := NormalizeTags(slices.Concat(p.tags(), o.Tags))
	old, err := l.cfg.Store.RefByPath(ctx, p.abs())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	isNew := old == nil
	if !isNew && old.Deleted && o.KeepDeleted {
		return old, false, nil
	}
	unchanged := !isNew && old.Asset.Hash != "" && old.MtimeNS == fi.ModTime().UnixNano() && old.Asset.Size == fi.Size()
	if unchanged && !old.IsMissing && !old.Deleted && (o.JobID == "" || o.JobID == old.JobID) && isSubset(tags, old.Tags) {
		return old, false, nil // nothing to record
	}
	hash, size := "", fi.Size()
	if unchanged {
		hash = old.Asset.Hash
	} else if hash, size, err = hashReader(f); err != nil {
		return nil, false, err
	}
	mimeType := cmp.Or(TypeByName(p.rel), "application/octet-stream")
	meta, err := withFilename(nil, p.filename())
	if err != nil {
		return nil, false, err
	}
	var system json.RawMessage
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		system = imageMetadata(f, mimeType)
	}
	r, _, err := l.cfg.Store.PutRef(ctx, store.NewRef{
		Hash: hash, Size: size, MimeType: mimeType, Create: true,
		Name: displayName(o.Name, path.Base(p.rel), Digest(hash)), OwnerID: o.Owner,
		FilePath: p.abs(), MtimeNS: fi.ModTime().UnixNano(), JobID: o.JobID,
		UserMetadata: meta, SystemMetadata: system,
		Tags: tags, TagOrigin: cmp.Or(o.Origin, "automatic"), Time: l.Now(),
	})
	return r, isNew, err
}

func isSubset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// Content is the bytes of a reference, opened: the file to serve, the
// name to give it, and its MIME type.
type Content struct {
	File     *os.File
	Name     string
	MimeType string
}

// Open opens the content of a reference and records the access: the
// reference's own file, else the store's copy, else a file of another
// reference to the same content, else the remote's copy (Config.Remote);
// ErrNoContent if none exists.
func (l *Library) Open(ctx context.Context, r *store.AssetRef) (*Content, error) {
	f, err := l.openContent(ctx, r.Asset, r.FilePath)
	if err != nil {
		return nil, err
	}
	if err := l.cfg.Store.TouchRef(ctx, r.ID, l.Now()); err != nil {
		f.Close()
		return nil, err
	}
	return &Content{File: f, Name: r.Name, MimeType: cmp.Or(r.Asset.MimeType, TypeByName(r.Name), "application/octet-stream")}, nil
}

// OpenHash opens content by hash for /view?filename=blake3:…, as a
// reference owner sees names it; store.ErrNotFound when owner sees no
// reference to it.
func (l *Library) OpenHash(ctx context.Context, hash, owner string) (*Content, error) {
	a, err := l.cfg.Store.AssetByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	refs, err := l.cfg.Store.RefsOf(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	refs = slices.DeleteFunc(refs, func(r *store.AssetRef) bool { return r.OwnerID != "" && r.OwnerID != owner })
	if len(refs) == 0 {
		return nil, store.ErrNotFound
	}
	// A reference with a file names what is served, as in ComfyUI.
	named := refs[0]
	for _, r := range refs {
		if r.FilePath != "" && isFile(r.FilePath) {
			named = r
			break
		}
	}
	f, err := l.openContent(ctx, *a, named.FilePath)
	if err != nil {
		return nil, err
	}
	name := cmp.Or(named.Name, filepath.Base(named.FilePath))
	return &Content{File: f, Name: name, MimeType: cmp.Or(a.MimeType, TypeByName(name), "application/octet-stream")}, nil
}

// openContent opens file if it exists, else the store's copy of a, else a
// live file of another reference to a, else such a file by its folder and
// name (fetchFile), else the remote's copy of a, fetched into the store.
func (l *Library) openContent(ctx context.Context, a store.Asset, file string) (*os.File, error) {
	candidates := []string{file}
	if a.Hash != "" {
		candidates = append(candidates, l.cfg.Blobs.Path(a.Hash))
	}
	refs, err := l.cfg.Store.RefsOf(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		candidates = append(candidates, r.FilePath)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		f, err := os.Open(c)
		if err != nil {
			continue
		}
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return f, nil
		}
		f.Close()
	}
	for _, r := range refs {
		if f := l.fetchFile(ctx, a, r); f != nil {
			return f, nil
		}
	}
	if a.Hash != "" && l.cfg.Remote != nil {
		return l.openRemote(ctx, a)
	}
	return nil, ErrNoContent
}

// fetchFile opens the file of reference r, an input or an output, by its
// name in its folder (the "filename" metadata) rather than by the path
// the instance that registered it gave: with --output-bucket, another
// instance wrote it, and the folder's OnMiss hook brings it here from the
// bucket, as for LoadImage. The file is served only if it still has a's
// hash: the metadata can be edited, and the file written over. nil when
// there is no such file.
func (l *Library) fetchFile(ctx context.Context, a store.Asset, r *store.AssetRef) *os.File {
	var t files.Type
	switch {
	case a.Hash == "" || r.FilePath == "":
		return nil
	case slices.Contains(r.Tags, string(files.Output)):
		t = files.Output
	case slices.Contains(r.Tags, string(files.Input)):
		t = files.Input
	default:
		return nil
	}
	var meta struct{ Filename string }
	if json.Unmarshal(r.UserMetadata, &meta) != nil || meta.Filename == "" {
		return nil
	}
	f, err := files.OpenOrFetch(ctx, l.cfg.Folders.Root(t), meta.Filename)
	if err != nil {
		return nil
	}
	if hash, _, err := hashReader(f); err != nil || hash != a.Hash {
		f.Close()
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil
	}
	return f
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}
