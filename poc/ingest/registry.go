package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc/verify"
	"github.com/uber/h3-go/v4"
)

// ErrBadHotspot is returned by Registry.Put for a hotspot record that cannot
// be kept (a key that is not fit to be registered, an invalid location).
var ErrBadHotspot = errors.New("ingest: bad hotspot")

// Registry is a store-backed verify.Registry until the ledger provides one:
// hotspots are kept at "<key>" → location ‖ region ‖ gain in its space and
// served from memory. It is safe for concurrent use.
type Registry struct {
	sp *store.Space
	mu sync.RWMutex
	m  map[identity.PublicKey]verify.Hotspot
}

const hotspotRecordSize = 8 + 4 + 4

// NewRegistry loads the hotspots kept in sp.
func NewRegistry(sp *store.Space) (*Registry, error) {
	r := &Registry{sp: sp, m: map[identity.PublicKey]verify.Hotspot{}}
	err := sp.Iterate(nil, func(k, v []byte) error {
		pk, err := identity.PublicKeyFromBytes(k)
		if err != nil || len(v) != hotspotRecordSize {
			return fmt.Errorf("%w: record %x", ErrBadHotspot, k)
		}
		r.m[pk] = verify.Hotspot{
			Key:        pk,
			Location:   h3.Cell(binary.BigEndian.Uint64(v)),
			Region:     wire.Region(int32(binary.BigEndian.Uint32(v[8:]))),
			GainDBiX10: int32(binary.BigEndian.Uint32(v[12:])),
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: load registry: %w", err)
	}
	return r, nil
}

// Put onboards or updates a hotspot durably. A zero Location means onboarded
// but not asserted.
func (r *Registry) Put(h verify.Hotspot) error {
	if err := h.Key.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadHotspot, err)
	}
	if h.Location != 0 && (!h.Location.IsValid() || h.Location.Resolution() < 11) {
		return fmt.Errorf("%w: location %x", ErrBadHotspot, uint64(h.Location))
	}
	v := make([]byte, hotspotRecordSize)
	binary.BigEndian.PutUint64(v, uint64(h.Location))
	binary.BigEndian.PutUint32(v[8:], uint32(h.Region))
	binary.BigEndian.PutUint32(v[12:], uint32(h.GainDBiX10))
	if err := r.sp.Set(h.Key[:], v, true); err != nil {
		return fmt.Errorf("ingest: put hotspot: %w", err)
	}
	r.mu.Lock()
	r.m[h.Key] = h
	r.mu.Unlock()
	return nil
}

// Hotspot implements verify.Registry.
func (r *Registry) Hotspot(pk identity.PublicKey) (verify.Hotspot, bool) {
	r.mu.RLock()
	h, ok := r.m[pk]
	r.mu.RUnlock()
	return h, ok
}

// Len returns the number of hotspots.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}
