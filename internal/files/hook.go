package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// writeHooks, missHooks and listHooks map a working folder's root to the
// functions OnWrite, OnMiss and OnList registered for it. WriteFile, Fetch
// and SaveImagePath are given a root, not the Folders it belongs to, so
// the hook is found by the root; several Folders (several servers in one
// process, as in tests) have distinct roots and do not interfere.
var writeHooks, missHooks, listHooks sync.Map // *os.Root → the hook's func

// OnWrite registers fn to be called with the name (clean, slash-separated,
// relative to the folder) of every file WriteFile completes in folder t:
// saves of nodes, uploads (Upload.Store) and anything else written through
// WriteFile. fn runs on the writer's goroutine right after the rename, so
// it must not block: hand the name to a queue. A later call replaces fn;
// nil removes it. Close removes the hooks of its folders.
func (f *Folders) OnWrite(t Type, fn func(name string)) {
	setHook(&writeHooks, f.roots[t], fn, fn == nil)
}

// OnMiss registers fn to be asked, through Fetch, for a file of folder t
// that a reader did not find there: fn brings the file (clean name, as for
// OnWrite) into the folder, from storage that other instances write to,
// and returns nil, or an error wrapping fs.ErrNotExist when it does not
// have the file either. A later call replaces fn; nil removes it. Close
// removes the hooks of its folders.
func (f *Folders) OnMiss(t Type, fn func(ctx context.Context, name string) error) {
	setHook(&missHooks, f.roots[t], fn, fn == nil)
}

// OnList registers fn to be asked by SaveImagePath for the names, in
// subfolder dir ("" for the top) of folder t, that start with prefix and
// that other instances wrote to the storage they share, so that a save
// numbers its file after theirs. fn returns base names; it logs its own
// errors and then returns what it has. A later call replaces fn; nil
// removes it. Close removes the hooks of its folders.
func (f *Folders) OnList(t Type, fn func(ctx context.Context, dir, prefix string) []string) {
	setHook(&listHooks, f.roots[t], fn, fn == nil)
}

// listTimeout bounds how long a save waits for OnList's names.
const listTimeout = 10 * time.Second

// sharedNames returns OnList's names for root, if it has the hook.
func sharedNames(root *os.Root, dir, prefix string) []string {
	fn, ok := listHooks.Load(root)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	return fn.(func(context.Context, string, string) []string)(ctx, dir, prefix)
}

// setHook stores fn for root in hooks, or removes root's hook when fn is
// nil (isNil: a nil func in an interface is not nil).
func setHook(hooks *sync.Map, root *os.Root, fn any, isNil bool) {
	switch {
	case root == nil:
	case isNil:
		hooks.Delete(root)
	default:
		hooks.Store(root, fn)
	}
}

// written calls the OnWrite hook registered for root, if any.
func written(root *os.Root, name string) {
	if fn, ok := writeHooks.Load(root); ok {
		fn.(func(string))(name)
	}
}

// Fetch asks root's OnMiss hook to bring the file name into root. It
// returns an error wrapping fs.ErrNotExist when the folder has no hook or
// the hook does not have the file.
func Fetch(ctx context.Context, root *os.Root, name string) error {
	name, err := CleanName(name)
	if err != nil {
		return err
	}
	fn, ok := missHooks.Load(root)
	if !ok {
		return fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return fn.(func(context.Context, string) error)(ctx, name)
}

// OpenOrFetch opens the file name in root and, when root lacks it, has
// its OnMiss hook fetch it (Fetch) and opens it again. A file that cannot
// be fetched gives the error of the first open, so callers see what they
// would see without a hook.
func OpenOrFetch(ctx context.Context, root *os.Root, name string) (*os.File, error) {
	f, err := root.Open(name)
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	if Fetch(ctx, root, name) != nil {
		return nil, err
	}
	return root.Open(name)
}
