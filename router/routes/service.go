package routes

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hexnet/hexnet/internal/store"
)

// Manager changes routes. The ledger will implement it (routes changed by
// signed ledger operations); until then Service implements it and the admin
// API drives it.
type Manager interface {
	// Put creates or replaces a route.
	Put(r Route) error
	// Delete removes a route; ErrNotFound when unknown.
	Delete(id string) error
	// Get returns a copy of one route.
	Get(id string) (Route, error)
	// List returns copies of all routes sorted by ID.
	List() []Route
	// SetPayerLocked locks or unlocks every route paid by payer.
	SetPayerLocked(payer string, locked bool) error
}

// Service keeps routes in memory and in a store.Space (one key per route,
// "route/{id}" → JSON), and publishes an immutable Table after every change.
// It is safe for concurrent use.
type Service struct {
	mu    sync.Mutex
	space *store.Space
	byID  map[string]*Route
	table atomic.Pointer[Table]
	subs  []func(*Table)
}

var _ Manager = (*Service)(nil)

// Open loads the routes stored in space (nil: memory only).
func Open(space *store.Space) (*Service, error) {
	s := &Service{space: space, byID: map[string]*Route{}}
	if space != nil {
		err := space.Iterate([]byte("route/"), func(k, v []byte) error {
			r, err := Decode(v)
			if err != nil {
				return fmt.Errorf("routes: stored %q: %w", k, err)
			}
			s.byID[r.ID] = r
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	s.rebuildLocked()
	return s, nil
}

// Table returns the current lookup table.
func (s *Service) Table() *Table { return s.table.Load() }

// OnChange registers fn to be called with each new table.
func (s *Service) OnChange(fn func(*Table)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
}

func (s *Service) rebuildLocked() {
	rs := make([]*Route, 0, len(s.byID))
	for _, r := range s.byID {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	t := NewTable(rs)
	s.table.Store(t)
	for _, fn := range s.subs {
		fn(t)
	}
}

func (s *Service) persistLocked(rs ...*Route) error {
	if s.space == nil {
		return nil
	}
	b, err := s.space.NewBatch()
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	defer b.Close()
	for _, r := range rs {
		v, err := r.Encode()
		if err != nil {
			return err
		}
		if err := b.Set([]byte("route/"+r.ID), v); err != nil {
			return fmt.Errorf("routes: %w", err)
		}
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("routes: commit: %w", err)
	}
	return nil
}

// Put creates or replaces a route.
func (s *Service) Put(r Route) error {
	if err := r.Validate(); err != nil {
		return err
	}
	c := r.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.persistLocked(c); err != nil {
		return err
	}
	s.byID[c.ID] = c
	s.rebuildLocked()
	return nil
}

// Delete removes a route.
func (s *Service) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if s.space != nil {
		if err := s.space.Delete([]byte("route/"+id), true); err != nil {
			return fmt.Errorf("routes: delete: %w", err)
		}
	}
	delete(s.byID, id)
	s.rebuildLocked()
	return nil
}

// Get returns a copy of one route.
func (s *Service) Get(id string) (Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return Route{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return *r.Clone(), nil
}

// List returns copies of all routes sorted by ID.
func (s *Service) List() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Route, 0, len(s.byID))
	for _, r := range s.byID {
		out = append(out, *r.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetPayerLocked locks or unlocks every route of payer. Routes are replaced,
// never mutated, so tables already handed out stay consistent.
func (s *Service) SetPayerLocked(payer string, locked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []*Route
	for _, r := range s.byID {
		if r.Payer == payer && r.Locked != locked {
			c := r.Clone()
			c.Locked = locked
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := s.persistLocked(changed...); err != nil {
		return err
	}
	for _, c := range changed {
		s.byID[c.ID] = c
	}
	s.rebuildLocked()
	return nil
}

// IsNotFound reports whether err is ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
