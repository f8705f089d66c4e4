package files

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// PTExtensions are the model file extensions of most folders (ComfyUI's
// supported_pt_extensions).
var PTExtensions = []string{".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}

// defaultModelFolders is ComfyUI v0.27's folder_names_and_paths, in its
// order: key, extension set, directories under models/ (custom_nodes is
// under the base directory instead).
var defaultModelFolders = []struct {
	name string
	exts []string
	dirs []string
}{
	{"checkpoints", PTExtensions, nil},
	{"configs", []string{".yaml"}, nil},
	{"loras", PTExtensions, nil},
	{"vae", PTExtensions, nil},
	{"text_encoders", PTExtensions, []string{"text_encoders", "clip"}},
	{"diffusion_models", PTExtensions, []string{"unet", "diffusion_models"}},
	{"clip_vision", PTExtensions, nil},
	{"style_models", PTExtensions, nil},
	{"embeddings", PTExtensions, nil},
	// "folder" is no extension a file can have: diffusers lists nothing.
	{"diffusers", []string{"folder"}, nil},
	{"vae_approx", PTExtensions, nil},
	{"controlnet", PTExtensions, []string{"controlnet", "t2i_adapter"}},
	{"gligen", PTExtensions, nil},
	{"upscale_models", PTExtensions, nil},
	{"latent_upscale_models", PTExtensions, nil},
	// No extensions: every file under custom_nodes is listed.
	{"custom_nodes", nil, nil},
	{"hypernetworks", PTExtensions, nil},
	{"photomaker", PTExtensions, nil},
	// The empty extension: only files without one.
	{"classifiers", []string{""}, nil},
	{"model_patches", PTExtensions, nil},
	{"audio_encoders", PTExtensions, nil},
	{"background_removal", PTExtensions, nil},
	{"frame_interpolation", PTExtensions, nil},
	{"geometry_estimation", PTExtensions, nil},
	{"optical_flow", PTExtensions, nil},
	{"detection", PTExtensions, nil},
}

// outputModelFolders are the output subfolders that model-saving nodes
// (CheckpointSave, …) write to; ComfyUI's main.py appends them to these
// folders after reading extra_model_paths.yaml.
var outputModelFolders = []struct{ folder, dir string }{
	{"checkpoints", "checkpoints"},
	{"clip", "clip"},
	{"vae", "vae"},
	{"diffusion_models", "diffusion_models"},
	{"loras", "loras"},
}

// MapLegacy maps the old folder names "unet" and "clip" to
// "diffusion_models" and "text_encoders"; other names are returned as they
// are.
func MapLegacy(name string) string {
	switch name {
	case "unet":
		return "diffusion_models"
	case "clip":
		return "text_encoders"
	}
	return name
}

// Models are ComfyUI's model folders: an ordered set of names, each with
// one or more directories and an extension set. Safe for concurrent use.
//
// Model directories are configured by the operator, so their listings
// follow symbolic links (people link model files from other disks); names
// from requests still go through CleanName before they are joined.
type Models struct {
	mu      sync.Mutex
	order   []string
	folders map[string]*modelFolder
}

type modelFolder struct {
	dirs []string
	exts []string // nil: every file
	gen  int      // bumped on every change, so a stale walk is not cached
	list *listing
}

// A listing is one walk of a folder: the files and the modification time of
// every directory seen, which invalidate it.
type listing struct {
	files []string
	mtime map[string]time.Time
}

// NewModels returns ComfyUI's default model folders under base: models/…
// and custom_nodes/.
func NewModels(base string) *Models {
	m := &Models{folders: map[string]*modelFolder{}}
	models := filepath.Join(base, "models")
	for _, d := range defaultModelFolders {
		dirs := d.dirs
		if dirs == nil {
			dirs = []string{d.name}
		}
		parent := models
		if d.name == "custom_nodes" {
			parent = base
		}
		var full []string
		for _, dir := range dirs {
			full = append(full, filepath.Join(parent, dir))
		}
		m.Set(d.name, d.exts, full...)
	}
	return m
}

// openModels builds the folders as ComfyUI's start does: defaults,
// base/extra_model_paths.yaml if present, the given config files, then the
// output subfolders.
func openModels(base, output string, extra []string) (*Models, error) {
	m := NewModels(base)
	def := filepath.Join(base, "extra_model_paths.yaml")
	if fi, err := os.Stat(def); err == nil && fi.Mode().IsRegular() {
		extra = append([]string{def}, extra...)
	}
	for _, file := range extra {
		if err := m.LoadExtraModelPaths(file); err != nil {
			return nil, err
		}
	}
	for _, o := range outputModelFolders {
		m.Add(o.folder, filepath.Join(output, o.dir), false)
	}
	return m, nil
}

// Set defines or replaces folder name with its extension set (nil or empty:
// every file) and directories; custom node packs use it to declare their
// own folders.
func (m *Models) Set(name string, exts []string, dirs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.folders[name]
	if !ok {
		f = &modelFolder{}
		m.folders[name] = f
		m.order = append(m.order, name)
	}
	f.dirs = slices.Clone(dirs)
	f.exts = slices.Clone(exts)
	f.changed()
}

// Add adds a directory to a folder (ComfyUI's add_model_folder_path):
// legacy names are mapped; a new folder gets an empty extension set (every
// file); isDefault puts the directory first, moving it there if it is
// already present.
func (m *Models) Add(name, dir string, isDefault bool) {
	name = MapLegacy(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.folders[name]
	if !ok {
		m.folders[name] = &modelFolder{dirs: []string{dir}}
		m.order = append(m.order, name)
		return
	}
	i := slices.Index(f.dirs, dir)
	switch {
	case i < 0 && isDefault:
		f.dirs = slices.Insert(f.dirs, 0, dir)
	case i < 0:
		f.dirs = append(f.dirs, dir)
	case i > 0 && isDefault:
		f.dirs = slices.Insert(slices.Delete(f.dirs, i, i+1), 0, dir)
	default:
		return
	}
	f.changed()
}

func (f *modelFolder) changed() {
	f.gen++
	f.list = nil
}

// Names are the folder names in registration order, as GET /models lists
// them.
func (m *Models) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.order)
}

// Has reports whether name is a folder name exactly; GET /models/{folder}
// does not accept the legacy names.
func (m *Models) Has(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.folders[name]
	return ok
}

// Dirs are a folder's directories, first (default) first; legacy names are
// mapped. ok is false for an unknown folder.
func (m *Models) Dirs(name string) (dirs []string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.folders[MapLegacy(name)]
	if !ok {
		return nil, false
	}
	return slices.Clone(f.dirs), true
}

// List is ComfyUI's get_filename_list: the files under every directory of
// the folder, recursively (following symbolic links, skipping directories
// named .git, keeping hidden files), whose lower-cased extension is in the
// folder's set; de-duplicated and sorted by code point, with '/' between
// subfolders on every OS. Names that are not valid UTF-8 are left out, as
// no request could name them.
//
// A listing is cached until the modification time of one of its
// directories changes or a directory of the folder appears.
func (m *Models) List(name string) ([]string, error) {
	name = MapLegacy(name)
	m.mu.Lock()
	f, ok := m.folders[name]
	if !ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w %q", ErrUnknownFolder, name)
	}
	dirs, exts, gen, cached := slices.Clone(f.dirs), f.exts, f.gen, f.list
	m.mu.Unlock()

	if cached != nil && cached.fresh(dirs) {
		return slices.Clone(cached.files), nil
	}
	l := walkFolder(dirs, exts)
	m.mu.Lock()
	if f.gen == gen {
		f.list = l
	}
	m.mu.Unlock()
	return slices.Clone(l.files), nil
}

// fresh reports whether no directory of the listing has changed and no
// directory of the folder has appeared since the walk.
func (l *listing) fresh(dirs []string) bool {
	for dir, mtime := range l.mtime {
		fi, err := os.Stat(dir)
		if err != nil || !fi.ModTime().Equal(mtime) {
			return false
		}
	}
	for _, dir := range dirs {
		if _, seen := l.mtime[dir]; !seen {
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				return false
			}
		}
	}
	return true
}

// walkFolder lists the matching files of all dirs.
func walkFolder(dirs, exts []string) *listing {
	l := &listing{mtime: map[string]time.Time{}}
	seen := map[string]bool{}
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			continue
		}
		l.mtime[dir] = fi.ModTime()
		w := walker{mtime: l.mtime, visit: func(rel string) {
			if !seen[rel] && matchExt(rel, exts) {
				seen[rel] = true
				l.files = append(l.files, rel)
			}
		}}
		w.walk(dir, "", []string{real})
	}
	sort.Strings(l.files) // byte order of UTF-8 is code point order, as Python's sort
	return l
}

// A walker visits the files under a directory, following symbolic links
// as os.walk(followlinks=True) does, and records the mtime of every
// subdirectory.
type walker struct {
	visit func(rel string)
	mtime map[string]time.Time
}

// walk visits dir, whose path relative to the folder's directory is rel.
// stack holds the real paths of dir and the directories above it in this
// walk: a link to a directory that holds one of them would revisit it, and
// through links in both directions loop forever, so it is skipped.
func (w walker) walk(dir, rel string, stack []string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil && len(entries) == 0 {
		return
	}
	real := stack[len(stack)-1]
	for _, e := range entries {
		name := e.Name()
		if !utf8.ValidString(name) {
			continue
		}
		full, childRel := filepath.Join(dir, name), path.Join(rel, name)
		isDir, childReal := e.IsDir(), filepath.Join(real, name)
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(full)
			isDir = err == nil && fi.IsDir()
			if isDir {
				childReal, err = filepath.EvalSymlinks(full)
				if err != nil || slices.ContainsFunc(stack, func(s string) bool { return within(s, childReal) }) {
					continue
				}
			}
		}
		if !isDir {
			w.visit(childRel)
			continue
		}
		if name == ".git" {
			continue
		}
		if fi, err := os.Stat(full); err == nil {
			w.mtime[full] = fi.ModTime()
		}
		w.walk(full, childRel, append(stack, childReal))
	}
}

// within reports whether dir is target or inside it.
func within(dir, target string) bool {
	return dir == target || strings.HasPrefix(dir, target+string(filepath.Separator))
}

// matchExt is ComfyUI's filter_files_extensions for one name.
func matchExt(name string, exts []string) bool {
	if len(exts) == 0 {
		return true
	}
	_, ext := SplitExt(name)
	return slices.Contains(exts, strings.ToLower(ext))
}

// FullPath is ComfyUI's get_full_path: the first directory of the folder
// that holds name as a file (following symbolic links). name goes through
// CleanName, so ".." is refused where ComfyUI would clamp it. Errors unwrap
// to ErrUnknownFolder, ErrInvalidName or fs.ErrNotExist.
func (m *Models) FullPath(folder, name string) (string, error) {
	dirs, ok := m.Dirs(folder)
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownFolder, folder)
	}
	clean, err := CleanName(name)
	if err != nil {
		return "", err
	}
	for _, dir := range dirs {
		full := filepath.Join(dir, filepath.FromSlash(clean))
		if fi, err := os.Stat(full); err == nil && fi.Mode().IsRegular() {
			return full, nil
		}
	}
	return "", fmt.Errorf("model %q in folder %q: %w", name, folder, fs.ErrNotExist)
}
