package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/pyjson"
)

// fileRoutes are the routes of the working folders and the model folders
// (spec §6.3–§6.6, §7). Every name they take goes through internal/files
// and every file they open is opened through an os.Root, so no request can
// reach a file outside its folder. Without Config.Folders there are none.
func (s *Server) fileRoutes() []route {
	if s.cfg.Folders == nil {
		return nil
	}
	h := s.serve
	return []route{
		{"POST /upload/image", h(s.postUploadImage), true},
		{"POST /upload/mask", h(s.postUploadMask), true},
		{"GET /view", h(s.getView), true},
		{"GET /view_metadata/{folder_name}", h(s.getViewMetadata), true},
		{"GET /models", h(s.getModelTypes), true},
		{"GET /models/{folder}", h(s.getModels), true},
		{"GET /experiment/models", h(s.getExperimentModelTypes), true},
		{"GET /experiment/models/{folder}", h(s.getExperimentModels), true},
	}
}

// fileError maps an error of internal/files or of a file operation through
// a root to a JSON 4xx: invalid names and types 400, escapes and
// permissions 403, missing files 404, a file where a folder is needed (or
// the reverse) 409. Other errors stay 500s.
func fileError(err error) error {
	switch {
	case errors.Is(err, files.ErrInvalidName), errors.Is(err, files.ErrUnknownType), errors.Is(err, syscall.ENAMETOOLONG):
		return errorf(http.StatusBadRequest, "%v", err)
	case files.IsOutside(err):
		return errorf(http.StatusForbidden, "path escapes from its folder")
	case errors.Is(err, fs.ErrPermission):
		return errorf(http.StatusForbidden, "permission denied")
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, files.ErrUnknownFolder):
		return errorf(http.StatusNotFound, "file not found")
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.EISDIR):
		return errorf(http.StatusConflict, "a file or folder of that name is in the way")
	}
	return err
}

// maxFormField bounds the text fields of an upload form (type, subfolder,
// overwrite, original_ref), which are held in memory.
const maxFormField = 64 << 10

// uploadForm is an /upload/image or /upload/mask form. The image is
// spooled to a hidden file in the temp folder while the body streams in,
// since the fields that say where it goes may come after it; Close removes
// the spool.
type uploadForm struct {
	fields   map[string]string
	filename string
	hasImage bool
	image    *os.File
	size     int64
	spool    *os.Root
	spoolAt  string
}

// readUpload reads a multipart upload form. The body limit of limitBody
// applies while it streams: past it the error is an *http.MaxBytesError,
// which serve answers with a 413. As with aiohttp's MultiDict.get, the first
// part of a name counts and later ones are read and dropped.
func (s *Server) readUpload(r *http.Request) (*uploadForm, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "expected a multipart/form-data body: %v", err)
	}
	form := &uploadForm{fields: map[string]string{}, spool: s.cfg.Folders.Root(files.Temp)}
	if err := eachPart(mr, badMultipart, form.readPart); err != nil {
		form.Close()
		return nil, err
	}
	return form, nil
}

// badMultipart is the error of a failure reading an upload form.
func badMultipart(err error) error {
	return bodyError(err, errorf(http.StatusBadRequest, "malformed multipart body: %v", err))
}

// readPart reads one part into the form.
func (f *uploadForm) readPart(part *multipart.Part) error {
	name := part.FormName()
	// The file name as sent: Part.FileName would strip directories, and a
	// name with directories must be refused rather than shortened.
	_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	filename, isFile := params["filename"]
	switch {
	case name == "image" && !f.hasImage:
		if !isFile {
			return errorf(http.StatusBadRequest, "image must be a file")
		}
		f.hasImage, f.filename = true, filename
		return f.spoolImage(part)
	case !isFile && !f.seen(name):
		v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil {
			return badMultipart(err)
		}
		if len(v) > maxFormField {
			return errorf(http.StatusBadRequest, "form field %q is too long", name)
		}
		f.fields[name] = string(v)
		return nil
	}
	_, err := copyPart(io.Discard, part)
	return err
}

// seen reports whether the form already has a field of this name.
func (f *uploadForm) seen(name string) bool {
	_, ok := f.fields[name]
	return ok
}

// copyPart copies a part to dst. Errors reading the body are the client's
// (badMultipart); errors writing, such as a full disk, stay 500s.
func copyPart(dst io.Writer, part io.Reader) (int64, error) {
	src := &readErrors{r: part}
	n, err := io.Copy(dst, src)
	if err != nil && src.err != nil {
		return n, badMultipart(src.err)
	}
	return n, err
}

// readErrors records the error of a reader other than io.EOF.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// spoolImage streams the image part to a hidden spool file in the temp
// folder (which the server empties at start, should one be left behind).
func (f *uploadForm) spoolImage(part *multipart.Part) error {
	var rnd [8]byte
	rand.Read(rnd[:])
	f.spoolAt = ".upload-" + hex.EncodeToString(rnd[:]) + ".tmp"
	file, err := f.spool.OpenFile(f.spoolAt, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		f.spoolAt = ""
		return err
	}
	f.image = file
	f.size, err = copyPart(file, part)
	return err
}

// Close removes the spooled image.
func (f *uploadForm) Close() {
	if f.image != nil {
		f.image.Close()
	}
	if f.spoolAt != "" {
		f.spool.Remove(f.spoolAt)
	}
}

// upload checks the form as ComfyUI's image_upload does and returns the
// store request and the folder type: "type" absent means input; no image
// or an empty file name is a 400.
func (f *uploadForm) upload() (files.Upload, files.Type, error) {
	if !f.hasImage {
		return files.Upload{}, "", errorf(http.StatusBadRequest, "no image in the form")
	}
	if f.filename == "" {
		return files.Upload{}, "", errorf(http.StatusBadRequest, "the image has no file name")
	}
	t := files.Input
	if v, ok := f.fields["type"]; ok {
		var err error
		if t, err = files.ParseType(v); err != nil {
			return files.Upload{}, "", fileError(err)
		}
	}
	overwrite := f.fields["overwrite"]
	return files.Upload{
		Subfolder: f.fields["subfolder"],
		Name:      f.filename,
		Overwrite: overwrite == "true" || overwrite == "1",
		Content:   f.image,
		Size:      f.size,
	}, t, nil
}

// postUploadImage is POST /upload/image (spec §7.1).
func (s *Server) postUploadImage(w http.ResponseWriter, r *http.Request) error {
	return s.handleUpload(w, r, nil)
}

// postUploadMask is POST /upload/mask (spec §7.2): the uploaded mask's
// alpha replaces the alpha of the image original_ref names, and the result
// is stored as a PNG (level 4, with the original's text chunks) under the
// upload's name. Unlike ComfyUI, which then answers 200 without writing,
// a bad original_ref or a missing original is an error.
func (s *Server) postUploadMask(w http.ResponseWriter, r *http.Request) error {
	return s.handleUpload(w, r, s.maskComposite)
}

// handleUpload reads the form, lets compose (if any) build what is stored
// instead of the upload, and stores it under ComfyUI's naming rules.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request,
	compose func(ctx context.Context, form *uploadForm) (func(io.Writer) error, error)) error {
	form, err := s.readUpload(r)
	if err != nil {
		return err
	}
	defer form.Close()
	up, t, err := form.upload()
	if err != nil {
		return err
	}
	var write func(io.Writer) error
	if compose != nil {
		if write, err = compose(r.Context(), form); err != nil {
			return err
		}
	}
	name, err := up.Store(s.cfg.Folders.Root(t), write)
	if err != nil {
		return fileError(err)
	}
	if s.cfg.Bucket != nil {
		s.awaitBucket(r.Context(), t, path.Join(up.Subfolder, name))
	}
	resp := pyjson.Object{
		{Key: "name", Value: name},
		{Key: "subfolder", Value: up.Subfolder},
		{Key: "type", Value: string(t)},
	}
	if a := s.uploadedAsset(r, t, path.Join(up.Subfolder, name)); a != nil {
		resp = append(resp, pyjson.Field{Key: "asset", Value: a})
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// bucketWait bounds how long an upload's answer waits for the bucket.
const bucketWait = 10 * time.Second

// awaitBucket waits, up to bucketWait, until the bucket holds the file an
// upload stored, so that a prompt queued on any instance right after the
// answer can load it. The answer goes out either way: the file is stored
// here and its upload goes on in the background.
func (s *Server) awaitBucket(ctx context.Context, t files.Type, name string) {
	ctx, cancel := context.WithTimeout(ctx, bucketWait)
	defer cancel()
	if err := s.cfg.Bucket.Await(ctx, t, name); err != nil {
		s.log.Warn("upload: not in the output bucket yet; other instances may not find it for a while",
			"type", t, "name", name, "err", err)
	}
}

// maskComposite opens the original named by original_ref ({"filename",
// "subfolder", "type"}, type output by default, the filename possibly
// annotated; fetched from the bucket when another instance wrote it) and
// returns the writer of the composite.
func (s *Server) maskComposite(ctx context.Context, form *uploadForm) (func(io.Writer) error, error) {
	raw, ok := form.fields["original_ref"]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "original_ref is missing")
	}
	var ref struct {
		Filename  string  `json:"filename"`
		Subfolder string  `json:"subfolder"`
		Type      *string `json:"type"`
	}
	if err := json.Unmarshal([]byte(raw), &ref); err != nil {
		return nil, errorf(http.StatusBadRequest, "original_ref must be a JSON object: %v", err)
	}
	name, t, annotated := files.SplitAnnotation(ref.Filename)
	if !annotated {
		t = files.Output
		if ref.Type != nil {
			t = files.Type(*ref.Type)
		}
	}
	if _, err := files.ParseType(string(t)); err != nil {
		return nil, fileError(err)
	}
	loc, err := s.cfg.Folders.Resolve(t, ref.Subfolder, name)
	if err != nil {
		return nil, fileError(err)
	}
	f, _, err := regular(files.OpenOrFetch(ctx, loc.Root, loc.Name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	original, err := decodeFirst(f)
	if err != nil {
		return nil, err
	}
	text, err := pngText(f)
	if err != nil {
		return nil, err
	}
	if _, err := form.image.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	mask, err := decodeFirst(form.image)
	if err != nil {
		return nil, err
	}
	if original.Bounds().Size() != mask.Bounds().Size() {
		return nil, errorf(http.StatusBadRequest, "the mask is %v, the image %v", mask.Bounds().Size(), original.Bounds().Size())
	}
	composite := withAlphaOf(original, mask)
	return func(w io.Writer) error { return imageio.EncodePNG(w, composite, imageio.LevelSave, text) }, nil
}

// regular checks that the result of opening a file is a regular file,
// with fileError's statuses, and returns its information.
func regular(f *os.File, err error) (*os.File, fs.FileInfo, error) {
	if err != nil {
		return nil, nil, fileError(err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errorf(http.StatusNotFound, "file not found")
	}
	return f, fi, nil
}

// decodeFirst decodes the first frame of an image file as PIL's
// Image.open shows it: no EXIF rotation. Data that is no image is a 415.
func decodeFirst(r io.Reader) (image.Image, error) {
	d, err := imageio.Decode(r, imageio.Options{FirstFrame: true, NoOrientation: true})
	if err == nil && len(d.Frames) == 0 {
		err = imageio.ErrFormat
	}
	if err != nil {
		return nil, errorf(http.StatusUnsupportedMediaType, "not a readable image: %v", err)
	}
	return d.Frames[0], nil
}

// pngText returns the text chunks Pillow's .text gives for the file f (an
// empty list unless it is a PNG): one per key, in the order keys first
// appear, each with its last value.
func pngText(f *os.File) ([]imageio.TextChunk, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	chunks, err := imageio.ReadPNGText(f)
	if err != nil && len(chunks) == 0 {
		return nil, nil
	}
	var out []imageio.TextChunk
	at := map[string]int{}
	for _, c := range chunks {
		if i, ok := at[c.Key]; ok {
			out[i].Value = c.Value
			continue
		}
		at[c.Key] = len(out)
		out = append(out, c)
	}
	return out, nil
}

// withAlphaOf is Pillow's original.convert("RGBA") with putalpha of
// mask.convert("RGBA")'s alpha: the colours of img (straight, not
// premultiplied) with the alpha of mask (255 where it has none).
func withAlphaOf(img, mask image.Image) *image.NRGBA {
	b, mb := img.Bounds(), mask.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			_, _, _, a := mask.At(mb.Min.X+x, mb.Min.Y+y).RGBA()
			c.A = uint8(a >> 8)
			dst.SetNRGBA(x, y, c)
		}
	}
	return dst
}

// getView is GET /view (spec §7.3): a file of the input, output or temp
// folder, whole (with Range support), as a WebP or JPEG preview, or as one
// channel selection. Only the base name of filename counts, as in ComfyUI.
// Every answer carries nosniff and a sandbox CSP, and only images, video
// and audio are served inline: anything else (HTML, SVG, XML, scripts,
// text) is an application/octet-stream attachment.
func (s *Server) getView(w http.ResponseWriter, r *http.Request) error {
	q := query(r)
	if strings.HasPrefix(q.Get("filename"), "blake3:") && s.cfg.Assets != nil {
		return s.viewAsset(w, r, q.Get("filename")) // an asset, by content hash
	}
	if !q.Has("filename") || strings.HasPrefix(q.Get("filename"), "blake3:") {
		// blake3: names are asset hashes, and assets are off.
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	name, t, annotated := files.SplitAnnotation(q.Get("filename"))
	if !annotated {
		t = files.Output
		if q.Has("type") {
			t = files.Type(q.Get("type"))
		}
	}
	if _, err := files.ParseType(string(t)); err != nil {
		return fileError(err)
	}
	clean, err := files.CleanName(name)
	if err != nil {
		return fileError(err)
	}
	base := path.Base(clean)
	loc, err := s.cfg.Folders.Resolve(t, q.Get("subfolder"), base)
	if err != nil {
		return fileError(err)
	}
	f, err := s.openView(r, loc)
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	disposition := `filename="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(base) + `"`

	channel := "rgba"
	if q.Has("channel") {
		channel = q.Get("channel")
	}
	if q.Has("preview") || channel == "rgb" || channel == "a" {
		img, err := decodeFirst(f)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		ctype := "image/png"
		if q.Has("preview") {
			ctype, err = imageio.EncodePreview(&buf, img, imageio.ParsePreview(q.Get("preview"), q.Get("channel")))
		} else {
			sel, _ := imageio.Channel(img, channel)
			err = imageio.EncodePNG(&buf, sel, imageio.LevelDefault, nil)
		}
		if err != nil {
			return err
		}
		h.Set("Content-Type", ctype)
		h.Set("Content-Disposition", disposition)
		w.Write(buf.Bytes())
		return nil
	}

	ctype, inline := viewContentType(base)
	if !inline {
		ctype, disposition = "application/octet-stream", "attachment; "+disposition
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", disposition)
	// aiohttp's FileResponse ETag: mtime in nanoseconds and size, in hex.
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, f.modTime.UnixNano(), f.size))
	http.ServeContent(w, r, base, f.modTime, f)
	return nil
}

// viewFile is what /view sends: a file of this instance's folders or an
// object of the shared bucket.
type viewFile struct {
	io.ReadSeekCloser
	size    int64
	modTime time.Time
}

// openView opens the file at loc (a name that passed files.Resolve) for
// /view. When the folder does not have it, an output or input file is
// read from the bucket, under the key of that same clean name, so the
// bucket is reached only by names the folder would have opened; a name the
// folder refuses (a link out of it: 403) or holds as a folder (404) is not
// looked for there. Temp files are per-instance and never in the bucket.
func (s *Server) openView(r *http.Request, loc files.Location) (*viewFile, error) {
	f, err := loc.Root.Open(loc.Name)
	if s.cfg.Bucket == nil || loc.Type == files.Temp || !errors.Is(err, fs.ErrNotExist) {
		f, fi, err := regular(f, err)
		if err != nil {
			return nil, err
		}
		return &viewFile{ReadSeekCloser: f, size: fi.Size(), modTime: fi.ModTime()}, nil
	}
	o, err := s.cfg.Bucket.Open(r.Context(), loc.Type, loc.Name)
	if err != nil {
		// A bucket that fails (down, or a 403 for lack of s3:ListBucket)
		// is logged and counted; the client gets the 404 of a file this
		// instance cannot serve, not a 500.
		if !errors.Is(err, fs.ErrNotExist) && r.Context().Err() == nil {
			s.log.Warn("/view: reading the output bucket", "type", loc.Type, "name", loc.Name, "err", err)
		}
		return nil, errorf(http.StatusNotFound, "file not found")
	}
	return &viewFile{ReadSeekCloser: o, size: o.Size, modTime: o.ModTime}, nil
}

// query parses the request's query as aiohttp does: pairs are separated by
// '&' only, so ";" stays inside a value ("preview=webp;90"), where
// url.ParseQuery would drop the pair. Pairs that do not decode are left out.
func query(r *http.Request) url.Values {
	q := url.Values{}
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 == nil && err2 == nil {
			q.Add(key, value)
		}
	}
	return q
}

// extraTypes are the types ComfyUI registers on top of Python's mimetypes
// (utils/mime_types.py).
var extraTypes = map[string]string{
	".js": "application/javascript; charset=utf-8", ".webp": "image/webp", ".svg": "image/svg+xml",
	".safetensors": "application/safetensors", ".sft": "application/safetensors",
	".pt": "application/pytorch", ".pth": "application/pytorch",
	".ckpt": "application/pickle", ".pkl": "application/pickle",
	".gguf": "application/gguf", ".yaml": "application/yaml", ".yml": "application/yaml",
}

// viewContentType is the type /view sends a file with, and whether it may
// be shown inline: only image, video and audio types, and no XML dialect
// or SVG variant (SVG can carry script; mime.types has such types as
// image/svg+xml-compressed for .svgz).
func viewContentType(name string) (ctype string, inline bool) {
	_, ext := files.SplitExt(name)
	ctype = extraTypes[ext]
	if ctype == "" {
		ctype = mime.TypeByExtension(ext)
	}
	if ctype == "" {
		return "application/octet-stream", false
	}
	media, _, _ := strings.Cut(ctype, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	if strings.Contains(media, "xml") || strings.Contains(media, "svg") {
		return ctype, false
	}
	for _, p := range []string{"image/", "video/", "audio/"} {
		if strings.HasPrefix(media, p) {
			return ctype, true
		}
	}
	return ctype, false
}

// maxSafetensorsHeader bounds the header /view_metadata reads, as ComfyUI
// does (1 MiB).
const maxSafetensorsHeader = 1 << 20

// getViewMetadata is GET /view_metadata/{folder_name}?filename=…: the
// __metadata__ object of a .safetensors file's header, read without
// loading the tensors. Every failure is an empty-bodied 404 (400 for an
// invalid name), since the frontend reads any non-empty body as metadata.
func (s *Server) getViewMetadata(w http.ResponseWriter, r *http.Request) error {
	q := query(r)
	filename := q.Get("filename")
	if !q.Has("filename") || !strings.HasSuffix(filename, ".safetensors") {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	p, err := s.cfg.Folders.Models.FullPath(r.PathValue("folder_name"), filename)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, files.ErrInvalidName) {
			status = http.StatusBadRequest
		}
		writeEmpty(w, status)
		return nil
	}
	meta, ok := safetensorsMetadata(p)
	if !ok {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	writeJSON(w, http.StatusOK, meta)
	return nil
}

// safetensorsMetadata reads the __metadata__ value of a safetensors
// header: an 8-byte little-endian length, then that much JSON.
func safetensorsMetadata(name string) (json.RawMessage, bool) {
	f, err := os.Open(name)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var size uint64
	if err := binary.Read(f, binary.LittleEndian, &size); err != nil || size > maxSafetensorsHeader {
		return nil, false
	}
	header := make([]byte, size)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, false
	}
	fields, err := pyjson.DecodeObject(header)
	if err != nil {
		return nil, false
	}
	meta, ok := fields.Get("__metadata__")
	if !ok {
		return nil, false
	}
	return meta.(json.RawMessage), true
}

// getModelTypes is GET /models: the model folder names.
func (s *Server) getModelTypes(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.cfg.Folders.Models.Names())
	return nil
}

// getModels is GET /models/{folder}: the folder's files, or an empty 404
// when it is not a folder name (legacy names included, as in ComfyUI).
func (s *Server) getModels(w http.ResponseWriter, r *http.Request) error {
	folder := r.PathValue("folder")
	if !s.cfg.Folders.Models.Has(folder) {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	names, err := s.cfg.Folders.Models.List(folder)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(names))
	return nil
}

// getEmbeddings is GET /embeddings: the embeddings folder's files without
// their extensions.
func (s *Server) getEmbeddings(w http.ResponseWriter, r *http.Request) error {
	names := []string{}
	if s.cfg.Folders != nil {
		list, err := s.cfg.Folders.Models.List("embeddings")
		if err != nil && !errors.Is(err, files.ErrUnknownFolder) {
			return err
		}
		for _, n := range list {
			stem, _ := files.SplitExt(n)
			names = append(names, stem)
		}
	}
	writeJSON(w, http.StatusOK, names)
	return nil
}

// getExperimentModelTypes is GET /experiment/models: every model folder but
// configs and custom_nodes, with its directories.
func (s *Server) getExperimentModelTypes(w http.ResponseWriter, r *http.Request) error {
	out := []any{}
	for _, name := range s.cfg.Folders.Models.Names() {
		if name == "configs" || name == "custom_nodes" {
			continue
		}
		dirs, _ := s.cfg.Folders.Models.Dirs(name)
		out = append(out, pyjson.Object{{Key: "name", Value: name}, {Key: "folders", Value: nonNil(dirs)}})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getExperimentModels is GET /experiment/models/{folder}: the model files
// (by the PyTorch extensions, whatever the folder's own set) of each of the
// folder's directories, with their directory's index, times and size.
func (s *Server) getExperimentModels(w http.ResponseWriter, r *http.Request) error {
	folder := r.PathValue("folder")
	if !s.cfg.Folders.Models.Has(folder) {
		writeEmpty(w, http.StatusNotFound)
		return nil
	}
	dirs, _ := s.cfg.Folders.Models.Dirs(folder)
	out := []any{}
	for i, dir := range dirs {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			out = walkModels(out, dir, "", i, []fs.FileInfo{fi})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// walkModels appends the model files under dir/rel as the model library
// lists them: hidden files and folders (and so .git) are skipped, symbolic
// links are followed (a link back to an enclosing folder is not), names use
// '/'. ComfyUI reports the ctime as "created"; here, without a portable
// ctime, it is the modification time too.
func walkModels(out []any, dir, rel string, index int, parents []fs.FileInfo) []any {
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return out
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		sub := path.Join(rel, name)
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(sub)))
		if err != nil {
			continue
		}
		if fi.IsDir() {
			if !containsSameFile(parents, fi) {
				out = walkModels(out, dir, sub, index, append(parents, fi))
			}
			continue
		}
		_, ext := files.SplitExt(name)
		if !slices.Contains(files.PTExtensions, strings.ToLower(ext)) {
			continue
		}
		seconds := pyjson.Float(float64(fi.ModTime().UnixNano()) / 1e9)
		out = append(out, pyjson.Object{
			{Key: "name", Value: sub}, {Key: "pathIndex", Value: index},
			{Key: "modified", Value: seconds}, {Key: "created", Value: seconds},
			{Key: "size", Value: fi.Size()},
		})
	}
	return out
}

func containsSameFile(list []fs.FileInfo, fi fs.FileInfo) bool {
	for _, p := range list {
		if os.SameFile(p, fi) {
			return true
		}
	}
	return false
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
