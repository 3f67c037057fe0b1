// Package density computes HIP-17 hex density scaling with HIP-104
// parameters (DESIGN.md §5, Appendix A) and keeps it up to date
// incrementally as hotspots become interactive, move, or go quiet.
//
// Each interactive hotspot counts one at the res-11 parent of its asserted
// location. Bottom-up for res 10 down to 4, a hex's unclipped count is the
// sum of its children's clipped counts; occupied is the number of hexes in
// its k-ring 1 (itself included) whose clipped count reaches the target;
// limit = min(max, target × (max(occupied − N, 0) + 1)); clipped =
// min(limit, unclipped). A hotspot's scale is the product over res 4..10 of
// clipped/unclipped of its parent at that res, rounded half-even to 4
// decimal places (as Helium's rust_decimal round_dp).
//
// Because limit ≥ target whenever target ≤ max (Validate enforces it),
// clipped ≥ target exactly when unclipped ≥ target, so occupancy is read
// from unclipped counts: the result does not depend on the order in which
// hexes of one resolution are processed, and an incremental update equals a
// full recomputation.
package density

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/uber/h3-go/v4"
)

// Resolutions used by the scaling.
const (
	MinRes   = 4  // coarsest resolution with a density limit
	MaxRes   = 10 // finest resolution with a density limit
	CountRes = 11 // hotspots are counted at their parent at this resolution
)

// Params are one resolution's HIP-17 parameters.
type Params struct {
	N      int64 `toml:"n"`      // occupied neighbours allowed before the limit grows
	Target int64 `toml:"target"` // density target
	Max    int64 `toml:"max"`    // density maximum
}

// Config holds the density parameters.
type Config struct {
	// Res holds the parameters of res 4..10 at index res−4. Defaults
	// (HIP-104): res 4 2/500/1000, res 5 4/100/200, res 6 4/25/50,
	// res 7 4/5/10, res 8–10 2/1/1.
	Res [MaxRes - MinRes + 1]Params `toml:"res"`
	// DefaultScale is the scale of a hotspot that is not counted (not
	// interactive, or no hex yet): 0.2, as Helium's verifier.
	DefaultScale float64 `toml:"default_scale"`
	// InteractiveWindow is how long after its last beacon with a valid
	// witness a hotspot stays counted: 60 h.
	InteractiveWindow time.Duration `toml:"interactive_window"`
}

// DefaultConfig returns the HIP-104 parameters.
func DefaultConfig() Config {
	return Config{
		Res: [MaxRes - MinRes + 1]Params{
			{2, 500, 1000}, {4, 100, 200}, {4, 25, 50}, {4, 5, 10}, {2, 1, 1}, {2, 1, 1}, {2, 1, 1},
		},
		DefaultScale:      0.2,
		InteractiveWindow: 60 * time.Hour,
	}
}

// Sentinel errors.
var (
	ErrBadConfig   = errors.New("density: bad config")
	ErrBadLocation = errors.New("density: bad location")
)

// Validate checks the parameters.
func (c Config) Validate() error {
	for i, p := range c.Res {
		if p.N < 0 || p.Target < 1 || p.Max < p.Target {
			return fmt.Errorf("%w: res %d: need N ≥ 0, 1 ≤ target ≤ max, got %+v", ErrBadConfig, i+MinRes, p)
		}
	}
	if !(c.DefaultScale >= 0 && c.DefaultScale <= 1) {
		return fmt.Errorf("%w: default scale %v", ErrBadConfig, c.DefaultScale)
	}
	if c.InteractiveWindow <= 0 {
		return fmt.Errorf("%w: interactive window %v", ErrBadConfig, c.InteractiveWindow)
	}
	return nil
}

func (c Config) params(res int) Params { return c.Res[res-MinRes] }

// hotspot is a counted hotspot.
type hotspot struct {
	parents  [CountRes + 1]h3.Cell // parents at res 4..11
	lastSeen time.Time
}

// Map is the live density map. It is safe for concurrent use.
type Map struct {
	cfg Config

	mu       sync.RWMutex
	hotspots map[identity.PublicKey]*hotspot
	// count[11] holds hotspots per res-11 cell (clipped = unclipped there);
	// unclipped[r] and clipped[r] for r in 4..10. Zero entries are deleted.
	count     map[h3.Cell]int64
	unclipped [MaxRes + 1]map[h3.Cell]int64
	clipped   [MaxRes + 1]map[h3.Cell]int64
}

// New returns an empty map.
func New(cfg Config) (*Map, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Map{cfg: cfg, hotspots: make(map[identity.PublicKey]*hotspot)}
	m.reset()
	return m, nil
}

func (m *Map) reset() {
	m.count = make(map[h3.Cell]int64)
	for r := MinRes; r <= MaxRes; r++ {
		m.unclipped[r] = make(map[h3.Cell]int64)
		m.clipped[r] = make(map[h3.Cell]int64)
	}
}

// parentsOf checks an asserted location (res ≥ 11) and returns its parents.
func parentsOf(loc h3.Cell) ([CountRes + 1]h3.Cell, error) {
	var p [CountRes + 1]h3.Cell
	if !loc.IsValid() || loc.Resolution() < CountRes {
		return p, fmt.Errorf("%w: %s", ErrBadLocation, loc)
	}
	for r := MinRes; r <= CountRes; r++ {
		p[r] = loc.Parent(r)
	}
	return p, nil
}

// Touch counts a hotspot at its asserted location (an H3 cell of res ≥ 11)
// as interactive at time t: its beacon drew a valid witness. A hotspot that
// moved is recounted at its new place. Only the ancestors of the old and new
// res-11 cells and their ring neighbours are recomputed.
func (m *Map) Touch(pk identity.PublicKey, loc h3.Cell, t time.Time) error {
	p, err := parentsOf(loc)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.hotspots[pk]; ok {
		if t.After(h.lastSeen) {
			h.lastSeen = t
		}
		if h.parents == p {
			return nil
		}
		m.add(h.parents[CountRes], -1)
		h.parents = p
	} else {
		m.hotspots[pk] = &hotspot{parents: p, lastSeen: t}
	}
	m.add(p[CountRes], +1)
	return nil
}

// Remove stops counting a hotspot (gone quiet, location withdrawn).
func (m *Map) Remove(pk identity.PublicKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(pk)
}

func (m *Map) remove(pk identity.PublicKey) {
	h, ok := m.hotspots[pk]
	if !ok {
		return
	}
	delete(m.hotspots, pk)
	m.add(h.parents[CountRes], -1)
}

// Expire removes the hotspots not touched within the interactive window
// before now and returns them.
func (m *Map) Expire(now time.Time) []identity.PublicKey {
	cut := now.Add(-m.cfg.InteractiveWindow)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []identity.PublicKey
	for pk, h := range m.hotspots {
		if h.lastSeen.Before(cut) {
			out = append(out, pk)
		}
	}
	for _, pk := range out {
		m.remove(pk)
	}
	return out
}

// Len returns the number of counted hotspots.
func (m *Map) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.hotspots)
}

// setCount stores v at key, deleting zero entries.
func setCount(mp map[h3.Cell]int64, key h3.Cell, v int64) {
	if v == 0 {
		delete(mp, key)
	} else {
		mp[key] = v
	}
}

// add changes the count of a res-11 cell by d and propagates the change up.
func (m *Map) add(c11 h3.Cell, d int64) {
	setCount(m.count, c11, m.count[c11]+d)
	changed := map[h3.Cell]int64{c11: d} // res r+1 cells whose clipped count changed, by how much
	for r := MaxRes; r >= MinRes && len(changed) > 0; r-- {
		target := m.cfg.params(r).Target
		dirty := make(map[h3.Cell]struct{})
		deltas := make(map[h3.Cell]int64)
		for c, dc := range changed {
			deltas[c.Parent(r)] += dc
		}
		for p, dp := range deltas {
			old := m.unclipped[r][p]
			nu := old + dp
			setCount(m.unclipped[r], p, nu)
			dirty[p] = struct{}{}
			if (old >= target) != (nu >= target) { // occupancy flipped: the ring's limits change
				for _, g := range p.GridDisk(1) {
					dirty[g] = struct{}{}
				}
			}
		}
		next := make(map[h3.Cell]int64)
		for h := range dirty {
			old := m.clipped[r][h]
			nc := m.clip(r, h)
			if nc != old {
				setCount(m.clipped[r], h, nc)
				next[h] = nc - old
			}
		}
		changed = next
	}
}

// occupied counts the hexes of h's k-ring 1 at resolution r whose count
// reaches the target.
func (m *Map) occupied(r int, h h3.Cell) int64 {
	target := m.cfg.params(r).Target
	var n int64
	for _, g := range h.GridDisk(1) {
		if m.unclipped[r][g] >= target {
			n++
		}
	}
	return n
}

// limit is HIP-17's limit for a hex with the given occupancy.
func (m *Map) limit(r int, occupied int64) int64 {
	p := m.cfg.params(r)
	return min(p.Max, p.Target*(max(occupied-p.N, 0)+1))
}

// clip returns the clipped count of h at resolution r.
func (m *Map) clip(r int, h h3.Cell) int64 {
	u := m.unclipped[r][h]
	if u == 0 {
		return 0
	}
	return min(u, m.limit(r, m.occupied(r, h)))
}

// rebuild recomputes every level from the res-11 counts (the reference the
// incremental path must equal).
func (m *Map) rebuild() {
	count := m.count
	m.reset()
	m.count = count
	below := count
	for r := MaxRes; r >= MinRes; r-- {
		for c, v := range below {
			m.unclipped[r][c.Parent(r)] += v
		}
		for h := range m.unclipped[r] {
			setCount(m.clipped[r], h, m.clip(r, h))
		}
		below = m.clipped[r]
	}
}

// Scale returns a hotspot's scale and whether it is counted; an uncounted
// hotspot gets the configured default scale (0.2).
func (m *Map) Scale(pk identity.PublicKey) (float64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h, ok := m.hotspots[pk]
	if !ok {
		return m.cfg.DefaultScale, false
	}
	num, den := big.NewInt(1), big.NewInt(1)
	for r := MinRes; r <= MaxRes; r++ {
		num.Mul(num, big.NewInt(m.clipped[r][h.parents[r]]))
		den.Mul(den, big.NewInt(m.unclipped[r][h.parents[r]]))
	}
	return round4(num, den), true
}

// round4 returns num/den rounded half-even to 4 decimal places.
func round4(num, den *big.Int) float64 {
	if den.Sign() == 0 {
		return 0
	}
	n := new(big.Int).Mul(num, big.NewInt(10000))
	q, rem := new(big.Int).QuoRem(n, den, new(big.Int))
	switch c := new(big.Int).Lsh(rem, 1).Cmp(den); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		q.Add(q, big.NewInt(1))
	}
	return float64(q.Int64()) / 10000
}

// Hex is the density state of one hex at res 4..10.
type Hex struct {
	Cell      h3.Cell `json:"h3"`
	Res       int     `json:"res"`
	Unclipped int64   `json:"unclipped"` // sum of the children's clipped counts
	Clipped   int64   `json:"clipped"`   // min(limit, unclipped)
	Occupied  int64   `json:"occupied"`  // hexes of the k-ring 1 at or above target
	Limit     int64   `json:"limit"`
	// Ratio is clipped/unclipped at this resolution (4 decimal places; 1
	// for an empty hex).
	Ratio float64 `json:"ratio"`
	// Scale is the product of the ratios of this hex and its ancestors down
	// to res 4 (4 decimal places): the scale a hotspot here would get if the
	// finer resolutions clipped nothing.
	Scale float64 `json:"scale"`
}

// Hex returns the density state of a hex at res 4..10.
func (m *Map) Hex(c h3.Cell) (Hex, error) {
	if !c.IsValid() || c.Resolution() < MinRes || c.Resolution() > MaxRes {
		return Hex{}, fmt.Errorf("%w: %s is not a hex at res %d..%d", ErrBadLocation, c, MinRes, MaxRes)
	}
	r := c.Resolution()
	m.mu.RLock()
	defer m.mu.RUnlock()
	occ := m.occupied(r, c)
	h := Hex{
		Cell: c, Res: r,
		Unclipped: m.unclipped[r][c], Clipped: m.clipped[r][c],
		Occupied: occ, Limit: m.limit(r, occ),
		Ratio: 1, Scale: 1,
	}
	num, den := big.NewInt(1), big.NewInt(1)
	for rr := MinRes; rr <= r; rr++ {
		p := c.Parent(rr)
		if u := m.unclipped[rr][p]; u > 0 {
			num.Mul(num, big.NewInt(m.clipped[rr][p]))
			den.Mul(den, big.NewInt(u))
		}
	}
	h.Scale = round4(num, den)
	if h.Unclipped > 0 {
		h.Ratio = round4(big.NewInt(h.Clipped), big.NewInt(h.Unclipped))
	}
	return h, nil
}
