package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Type names one of the server's working folders. Input, Output and Temp
// are the "type" values of /view and the upload forms; User is reached only
// through its own routes.
type Type string

// The working folders.
const (
	Input  Type = "input"
	Output Type = "output"
	Temp   Type = "temp"
	User   Type = "user"
)

// ParseType maps a request's "type" value to a folder: input, output or
// temp (ComfyUI's get_directory_by_type). Anything else, including "user",
// is ErrUnknownType.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case Input, Output, Temp:
		return t, nil
	}
	return "", fmt.Errorf("%w %q", ErrUnknownType, s)
}

// Config holds ComfyUI's folder flags. Empty fields take the defaults.
type Config struct {
	// BaseDir is --base-directory: the folder holding input/, output/,
	// temp/, user/, models/ and custom_nodes/. Default: the working
	// directory (ComfyUI uses its install folder).
	BaseDir string
	// InputDir, OutputDir and UserDir are --input-directory,
	// --output-directory and --user-directory; each overrides BaseDir for
	// its folder. UserDir, when given, must exist, as in ComfyUI.
	InputDir, OutputDir, UserDir string
	// TempDir is --temp-directory. As in ComfyUI the temp folder is
	// TempDir/temp, not TempDir itself, since it is emptied at start.
	TempDir string
	// ExtraModelPaths are the --extra-model-paths-config files, read after
	// BaseDir/extra_model_paths.yaml when that exists.
	ExtraModelPaths []string
}

// folderTypes lists the working folders in the order they are made.
var folderTypes = [...]Type{Input, Output, Temp, User}

// Folders are the server's working folders, each opened as an os.Root, and
// its model folders.
type Folders struct {
	// Models are the model folders (checkpoints, loras, …).
	Models *Models

	base  string
	dirs  map[Type]string
	roots map[Type]*os.Root
}

// Open sets up the folders as ComfyUI does at start: it resolves the flags,
// creates missing working folders, empties the temp folder, opens the roots
// and builds the model folders (defaults, extra_model_paths.yaml files,
// then the output subfolders that save nodes write models to).
//
// It refuses a temp folder that would contain another folder, since
// emptying it would delete that folder's files.
func Open(cfg Config) (*Folders, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	base, dirs, err := resolveDirs(cfg, cwd)
	if err != nil {
		return nil, err
	}
	f := &Folders{base: base, dirs: dirs, roots: map[Type]*os.Root{}}
	for _, t := range folderTypes {
		if err := os.MkdirAll(dirs[t], 0o777); err != nil {
			f.Close()
			return nil, err
		}
		if f.roots[t], err = os.OpenRoot(dirs[t]); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.EmptyTemp(); err != nil {
		f.Close()
		return nil, err
	}
	if f.Models, err = openModels(base, dirs[Output], cfg.ExtraModelPaths); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// resolveDirs applies ComfyUI's precedence: a folder's own flag (made
// absolute), else its default under the base directory.
func resolveDirs(cfg Config, cwd string) (string, map[Type]string, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(cwd, p)
	}
	base := cwd
	if cfg.BaseDir != "" {
		base = abs(cfg.BaseDir)
	}
	pick := func(flag string, t Type) string {
		if flag != "" {
			return abs(flag)
		}
		return filepath.Join(base, string(t))
	}
	dirs := map[Type]string{
		Input:  pick(cfg.InputDir, Input),
		Output: pick(cfg.OutputDir, Output),
		Temp:   filepath.Join(base, "temp"),
		User:   pick(cfg.UserDir, User),
	}
	if cfg.TempDir != "" {
		dirs[Temp] = filepath.Join(abs(cfg.TempDir), "temp")
	}
	if cfg.UserDir != "" {
		if fi, err := os.Stat(dirs[User]); err != nil || !fi.IsDir() {
			return "", nil, fmt.Errorf("--user-directory: '%s' is not a directory", cfg.UserDir)
		}
	}
	temp := dirs[Temp]
	for _, other := range []string{base, dirs[Input], dirs[Output], dirs[User]} {
		if other == temp || strings.HasPrefix(other, temp+string(filepath.Separator)) {
			return "", nil, fmt.Errorf("temp folder %s would hold %s, and it is emptied at start", temp, other)
		}
	}
	return base, dirs, nil
}

// Base is the base directory, absolute.
func (f *Folders) Base() string { return f.base }

// Dir is the absolute path of a working folder; "" for an unknown type.
func (f *Folders) Dir(t Type) string { return f.dirs[t] }

// Root is a working folder opened as an os.Root; nil for an unknown type.
func (f *Folders) Root(t Type) *os.Root { return f.roots[t] }

// EmptyTemp deletes everything inside the temp folder, leaving the folder
// itself; ComfyUI does this at start and at exit, so previews never
// survive a restart. Symbolic links are removed, not followed.
func (f *Folders) EmptyTemp() error {
	root := f.roots[Temp]
	dir, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := root.RemoveAll(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes the roots and removes their OnWrite hooks. It does not
// empty the temp folder; call EmptyTemp first at shutdown.
func (f *Folders) Close() error {
	var errs []error
	for _, r := range f.roots {
		if r != nil {
			writeHooks.Delete(r)
			missHooks.Delete(r)
			listHooks.Delete(r)
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}
