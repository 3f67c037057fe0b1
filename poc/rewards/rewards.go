// Package rewards computes HIP-15 proof-of-coverage reward units and
// accumulates them per hotspot and epoch for the ledger (DESIGN.md §5,
// Appendix A).
package rewards

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/hexnet/hexnet/internal/identity"
)

// Config holds the HIP-15 parameters.
type Config struct {
	// N is the witness count up to which each witness earns one unit and the
	// beaconer earns w/N (HIP-15: 4).
	N int
	// Decay is r of HIP-15: beyond N witnesses the beaconer earns 2 − r^(w−N) (0.8).
	Decay float64
	// MaxBeaconerUnits caps the beaconer's units (HIP-15: 2).
	MaxBeaconerUnits float64
}

// DefaultConfig returns HIP-15's parameters.
func DefaultConfig() Config { return Config{N: 4, Decay: 0.8, MaxBeaconerUnits: 2} }

// ErrBadConfig is returned by Validate.
var ErrBadConfig = errors.New("rewards: bad config")

// Validate checks the parameters.
func (c Config) Validate() error {
	if c.N < 1 {
		return fmt.Errorf("%w: N %d < 1", ErrBadConfig, c.N)
	}
	if !(c.Decay > 0 && c.Decay < 1) {
		return fmt.Errorf("%w: decay %v not in (0,1)", ErrBadConfig, c.Decay)
	}
	if !(c.MaxBeaconerUnits > 0) {
		return fmt.Errorf("%w: max beaconer units %v", ErrBadConfig, c.MaxBeaconerUnits)
	}
	return nil
}

// Units returns the unscaled HIP-15 units of a beacon with w rewarded
// witnesses: the beaconer's units and each witness's units. With w = 0 both
// are 0.
func (c Config) Units(w int) (beaconer, witness float64) {
	if w <= 0 {
		return 0, 0
	}
	n := float64(c.N)
	if w <= c.N {
		return float64(w) / n, 1
	}
	d := math.Pow(c.Decay, float64(w-c.N))
	beaconer = math.Min(c.MaxBeaconerUnits, 2-d)
	witness = (n - (1 - d)) / float64(w)
	return beaconer, witness
}

// ScaledUnits returns Units(w) multiplied by the beaconer's hex scale.
func (c Config) ScaledUnits(w int, scale float64) (beaconer, witness float64) {
	b, wi := c.Units(w)
	return b * scale, wi * scale
}

// Totals are a hotspot's units in one epoch.
type Totals struct {
	Beacon  float64 `json:"beacon"`
	Witness float64 `json:"witness"`
}

// Share is one hotspot's totals in an epoch.
type Share struct {
	Hotspot identity.PublicKey
	Totals
}

// Ledger is what the ledger reads at an epoch's close.
type Ledger interface {
	// Epoch returns every hotspot's units in an epoch, ordered by key.
	Epoch(epoch uint64) []Share
	// Forget drops an epoch once the ledger has paid it.
	Forget(epoch uint64)
}

// Accumulator sums units per epoch and hotspot. It is safe for concurrent
// use and implements Ledger.
type Accumulator struct {
	mu     sync.Mutex
	epochs map[uint64]map[identity.PublicKey]*Totals
}

// NewAccumulator returns an empty accumulator.
func NewAccumulator() *Accumulator {
	return &Accumulator{epochs: make(map[uint64]map[identity.PublicKey]*Totals)}
}

func (a *Accumulator) totals(epoch uint64, pk identity.PublicKey) *Totals {
	m := a.epochs[epoch]
	if m == nil {
		m = make(map[identity.PublicKey]*Totals)
		a.epochs[epoch] = m
	}
	t := m[pk]
	if t == nil {
		t = &Totals{}
		m[pk] = t
	}
	return t
}

// AddBeacon credits beacon units to a hotspot in an epoch.
func (a *Accumulator) AddBeacon(epoch uint64, pk identity.PublicKey, units float64) {
	if units == 0 {
		return
	}
	a.mu.Lock()
	a.totals(epoch, pk).Beacon += units
	a.mu.Unlock()
}

// AddWitness credits witness units to a hotspot in an epoch.
func (a *Accumulator) AddWitness(epoch uint64, pk identity.PublicKey, units float64) {
	if units == 0 {
		return
	}
	a.mu.Lock()
	a.totals(epoch, pk).Witness += units
	a.mu.Unlock()
}

// Get returns a hotspot's totals in an epoch.
func (a *Accumulator) Get(epoch uint64, pk identity.PublicKey) Totals {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.epochs[epoch][pk]; t != nil {
		return *t
	}
	return Totals{}
}

// Epoch implements Ledger.
func (a *Accumulator) Epoch(epoch uint64) []Share {
	a.mu.Lock()
	out := make([]Share, 0, len(a.epochs[epoch]))
	for pk, t := range a.epochs[epoch] {
		out = append(out, Share{Hotspot: pk, Totals: *t})
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		return string(out[i].Hotspot[:]) < string(out[j].Hotspot[:])
	})
	return out
}

// Forget implements Ledger.
func (a *Accumulator) Forget(epoch uint64) {
	a.mu.Lock()
	delete(a.epochs, epoch)
	a.mu.Unlock()
}

// Weighted is a Ledger whose shares are each multiplied, when the ledger
// reads an epoch at its close, by Weight of the hotspot (the gaming
// detector's trust multiplier at that moment, so a hotspot caught at any
// time before the close earns nothing for the epoch). Shares weighted to 0
// are left out.
type Weighted struct {
	Ledger Ledger
	Weight func(identity.PublicKey) float64
}

// Epoch implements Ledger.
func (w Weighted) Epoch(epoch uint64) []Share {
	in := w.Ledger.Epoch(epoch)
	out := in[:0]
	for _, s := range in {
		m := w.Weight(s.Hotspot)
		if !(m > 0) {
			continue
		}
		m = min(m, 1)
		s.Beacon, s.Witness = s.Beacon*m, s.Witness*m
		out = append(out, s)
	}
	return out
}

// Forget implements Ledger.
func (w Weighted) Forget(epoch uint64) { w.Ledger.Forget(epoch) }
