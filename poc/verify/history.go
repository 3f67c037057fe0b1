package verify

import (
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc"
)

// MemHistory is an in-memory History fed by Record. It is safe for
// concurrent use.
type MemHistory struct {
	mu        sync.RWMutex
	beacon    map[identity.PublicKey]time.Time
	witness   map[identity.PublicKey]time.Time
	witnessed map[identity.PublicKey]time.Time
}

// NewMemHistory returns an empty history.
func NewMemHistory() *MemHistory {
	return &MemHistory{
		beacon:    map[identity.PublicKey]time.Time{},
		witness:   map[identity.PublicKey]time.Time{},
		witnessed: map[identity.PublicKey]time.Time{},
	}
}

func later(m map[identity.PublicKey]time.Time, pk identity.PublicKey, t time.Time) {
	if old, ok := m[pk]; !ok || t.After(old) {
		m[pk] = t
	}
}

// Record remembers what a result means for later verdicts:
//   - the beacon counts for the schedule when it is valid or failed only
//     reciprocity (a forged, unknown or malformed beacon does not block the
//     real hotspot's slot);
//   - each witness valid on every rule but reciprocity counts as its
//     witness's LastWitness;
//   - a beacon valid on every rule but reciprocity with at least one such
//     witness counts as its beaconer's LastWitnessedBeacon.
//
// Counting "valid but for reciprocity" is the bootstrap of HIP-106: on a
// fresh network every beacon fails reciprocity, yet its honest witnesses and
// the beaconer earn history, and their next reports pass.
func (h *MemHistory) Record(r Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !r.OtherwiseValid {
		return
	}
	if r.Reason == poc.ReasonNone || r.Reason == poc.ReasonGatewayNoValidWitnesses {
		later(h.beacon, r.Beaconer, r.ReceivedAt)
	}
	drew := false
	for _, w := range r.Witnesses {
		if w.OtherwiseValid {
			drew = true
			later(h.witness, w.Witness, w.ReceivedAt)
		}
	}
	if drew {
		later(h.witnessed, r.Beaconer, r.ReceivedAt)
	}
}

func get(mu *sync.RWMutex, m map[identity.PublicKey]time.Time, pk identity.PublicKey) (time.Time, bool) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := m[pk]
	return t, ok
}

// LastBeacon implements History.
func (h *MemHistory) LastBeacon(pk identity.PublicKey) (time.Time, bool) {
	return get(&h.mu, h.beacon, pk)
}

// LastWitness implements History.
func (h *MemHistory) LastWitness(pk identity.PublicKey) (time.Time, bool) {
	return get(&h.mu, h.witness, pk)
}

// LastWitnessedBeacon implements History.
func (h *MemHistory) LastWitnessedBeacon(pk identity.PublicKey) (time.Time, bool) {
	return get(&h.mu, h.witnessed, pk)
}

// SetLastBeacon, SetLastWitness and SetLastWitnessedBeacon seed the history
// (when loading it from the store, and in tests).
func (h *MemHistory) SetLastBeacon(pk identity.PublicKey, t time.Time) {
	h.mu.Lock()
	later(h.beacon, pk, t)
	h.mu.Unlock()
}

// SetLastWitness seeds LastWitness.
func (h *MemHistory) SetLastWitness(pk identity.PublicKey, t time.Time) {
	h.mu.Lock()
	later(h.witness, pk, t)
	h.mu.Unlock()
}

// SetLastWitnessedBeacon seeds LastWitnessedBeacon.
func (h *MemHistory) SetLastWitnessedBeacon(pk identity.PublicKey, t time.Time) {
	h.mu.Lock()
	later(h.witnessed, pk, t)
	h.mu.Unlock()
}
