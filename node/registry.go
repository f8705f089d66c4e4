package node

import (
	"errors"
	"fmt"
	"iter"
	"sync"
)

// ErrDuplicateClass is returned when a class ID is registered twice.
var ErrDuplicateClass = errors.New("duplicate node class")

// A Registry holds the classes a server can run, in registration order
// (the order of /object_info). It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	classes []*Class
	byID    map[string]*Class
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byID: map[string]*Class{}} }

// Add registers classes after checking each declaration: a non-empty ID and
// Module, a run function, unique input names, defaults within bounds and
// among the options. Nothing is added if any class fails.
func (r *Registry) Add(classes ...*Class) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range classes {
		if err := c.check(); err != nil {
			return err
		}
		if r.byID[c.ID] != nil || seen[c.ID] {
			return fmt.Errorf("%w: %s", ErrDuplicateClass, c.ID)
		}
		seen[c.ID] = true
	}
	for _, c := range classes {
		r.classes = append(r.classes, c)
		r.byID[c.ID] = c
	}
	return nil
}

// MustAdd is Add for registrations fixed at compile time: it panics on error.
func (r *Registry) MustAdd(classes ...*Class) {
	if err := r.Add(classes...); err != nil {
		panic(err)
	}
}

// Lookup returns the class with the given ID.
func (r *Registry) Lookup(id string) (*Class, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.byID[id]
	return c, ok
}

// All iterates over the classes in registration order.
func (r *Registry) All() iter.Seq[*Class] {
	r.mu.RLock()
	classes := r.classes[:len(r.classes):len(r.classes)]
	r.mu.RUnlock()
	return func(yield func(*Class) bool) {
		for _, c := range classes {
			if !yield(c) {
				return
			}
		}
	}
}
