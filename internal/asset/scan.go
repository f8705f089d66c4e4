package asset

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Roots are the folders a scan can cover, in ComfyUI's order.
var Roots = []string{"models", "input", "output"}

// Progress counts a scan's files: seen, to see, newly registered, and left
// as they were.
type Progress struct {
	Scanned, Total, Created, Skipped int
}

// SeedState is a scan's state, with ComfyUI's names.
type SeedState string

// Scan states.
const (
	Idle       SeedState = "IDLE"
	Running    SeedState = "RUNNING"
	Cancelling SeedState = "CANCELLING"
)

// SeedStatus is what /api/assets/seed/status reports.
type SeedStatus struct {
	State    SeedState
	Progress *Progress // nil before the first scan
	Errors   []string
}

// Seeder runs one scan of the roots at a time in the background (ComfyUI's
// asset seeder): files found are registered where they are (and hashed,
// unless their reference already has a hash for their size and time), and
// the references of files that are gone are flagged missing. It reports on
// the WebSocket as assets.seed.* events.
type Seeder struct {
	lib    *Library
	events executor.Sink // nil: no events

	mu       sync.Mutex
	state    SeedState
	progress *Progress
	errs     []string
	cancel   context.CancelFunc
	done     chan struct{}
}

// Start begins a scan of roots (a subset of Roots) and reports false if
// one is running.
func (s *Seeder) Start(roots []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != Idle {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.state, s.progress, s.errs, s.cancel, s.done = Running, &Progress{}, nil, cancel, make(chan struct{})
	go s.run(ctx, roots, s.done)
	return true
}

// Wait waits for the running scan, if any, to end.
func (s *Seeder) Wait() {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Cancel asks the running scan to stop; false if none runs.
func (s *Seeder) Cancel() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != Running {
		return false
	}
	s.state = Cancelling
	s.cancel()
	return true
}

// Status returns the seeder's state, the last scan's progress and errors.
func (s *Seeder) Status() SeedStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SeedStatus{State: s.state, Errors: slices.Clone(s.errs)}
	if s.progress != nil {
		p := *s.progress
		st.Progress = &p
	}
	return st
}

// ErrScanRunning is Prune's error while a scan (or another prune) runs.
var ErrScanRunning = errors.New("asset: a scan is running")

// Prune flags the references of files under none of the folders a scan
// covers (input, output, every model folder) as missing: the files of
// folders no longer configured. It returns how many it flagged. As in
// ComfyUI it is the seeder's work, so it refuses to run beside a scan and
// a scan does not start beside it; Cancel does not stop it.
func (s *Seeder) Prune(ctx context.Context) (int, error) {
	s.mu.Lock()
	if s.state != Idle {
		s.mu.Unlock()
		return 0, ErrScanRunning
	}
	s.state, s.cancel = Running, func() {}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.state = Idle
		s.mu.Unlock()
	}()
	return s.lib.cfg.Store.MarkMissingOutside(ctx, s.lib.rootDirs(), s.lib.Now())
}

// rootDirs are the folders of Roots: input, output and the directories of
// every model folder but custom_nodes (which holds code, not models).
func (l *Library) rootDirs() []string {
	dirs := []string{l.cfg.Folders.Dir(files.Input), l.cfg.Folders.Dir(files.Output)}
	for _, name := range l.cfg.Folders.Models.Names() {
		if name != "custom_nodes" {
			d, _ := l.cfg.Folders.Models.Dirs(name)
			dirs = append(dirs, d...)
		}
	}
	return dirs
}

func (s *Seeder) emit(typ string, data pyjson.Object) {
	if s.events != nil {
		s.events.Event(executor.Event{Type: typ, Data: data, All: true})
	}
}

// update applies f to the progress under the lock.
func (s *Seeder) update(f func(p *Progress)) Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.progress)
	return *s.progress
}

func (s *Seeder) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err.Error())
	s.mu.Unlock()
	s.emit("assets.seed.error", pyjson.Object{{Key: "message", Value: err.Error()}})
}

func (s *Seeder) run(ctx context.Context, roots []string, done chan struct{}) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.state, s.done = Idle, nil
		s.cancel()
		s.mu.Unlock()
		close(done)
	}()
	found := s.lib.scanRoots(roots)
	s.update(func(p *Progress) { p.Total = len(found.places) })
	s.emit("assets.seed.started", pyjson.Object{{Key: "roots", Value: roots}, {Key: "total", Value: len(found.places)}, {Key: "phase", Value: "fast"}})
	for _, err := range found.errs {
		s.fail(err)
	}
	for i, p := range found.places {
		if ctx.Err() != nil {
			pr := s.update(func(*Progress) {})
			s.emit("assets.seed.cancelled", pyjson.Object{{Key: "scanned", Value: pr.Scanned}, {Key: "total", Value: pr.Total}, {Key: "created", Value: pr.Created}})
			return
		}
		_, created, err := s.lib.registerPlace(ctx, p, FileOptions{Origin: "automatic", KeepDeleted: true})
		pr := s.update(func(pr *Progress) {
			pr.Scanned++
			if created {
				pr.Created++
			} else {
				pr.Skipped++
			}
		})
		if err != nil {
			s.fail(err)
		}
		if i%100 == 99 {
			s.emit("assets.seed.progress", pyjson.Object{{Key: "phase", Value: "fast"}, {Key: "scanned", Value: pr.Scanned},
				{Key: "total", Value: pr.Total}, {Key: "created", Value: pr.Created}})
		}
	}
	for dir, present := range found.present {
		if _, err := s.lib.cfg.Store.MarkMissing(ctx, dir, present, s.lib.Now()); err != nil {
			s.fail(err)
		}
	}
	pr := s.update(func(*Progress) {})
	s.emit("assets.seed.completed", pyjson.Object{{Key: "phase", Value: "fast"}, {Key: "total", Value: pr.Total},
		{Key: "created", Value: pr.Created}, {Key: "enriched", Value: 0}, {Key: "skipped", Value: pr.Skipped},
		{Key: "elapsed", Value: pyjson.Float(time.Since(start).Seconds())}})
}

// scanned is what a walk of the roots found: the files to register, the
// present files under each directory walked, and the errors met.
type scanned struct {
	places  []place
	present map[string][]string
	errs    []error
}

// scanRoots lists the regular, non-hidden files under the roots: input and
// output through their os.Root, and every directory of every model folder
// (but custom_nodes).
func (l *Library) scanRoots(roots []string) scanned {
	found := scanned{present: map[string][]string{}}
	for _, root := range roots {
		switch root {
		case "input", "output":
			t := files.Type(root)
			found.walk(l.cfg.Folders.Dir(t), func(rel string) (place, bool) {
				return place{base: l.cfg.Folders.Dir(t), rel: rel, roots: []string{root}, root: l.cfg.Folders.Root(t)}, true
			})
		case "models":
			for _, name := range l.cfg.Folders.Models.Names() {
				if name == "custom_nodes" {
					continue
				}
				dirs, _ := l.cfg.Folders.Models.Dirs(name)
				for _, d := range dirs {
					found.walk(d, func(rel string) (place, bool) {
						// A directory may serve several folders: the deepest
						// one that holds the file names it.
						p, ok := l.placeOf(filepath.Join(d, filepath.FromSlash(rel)))
						return p, ok && p.roots[1] == name
					})
				}
			}
		}
	}
	return found
}

// walk adds the files under dir; at decides each file's place.
func (s *scanned) walk(dir string, at func(rel string) (place, bool)) {
	if _, ok := s.present[dir]; ok || dir == "" {
		return
	}
	s.present[dir] = []string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.errs = append(s.errs, err)
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		s.present[dir] = append(s.present[dir], p)
		if pl, ok := at(filepath.ToSlash(rel)); ok {
			s.places = append(s.places, pl)
		}
		return nil
	})
	if err != nil {
		s.errs = append(s.errs, err)
	}
}
