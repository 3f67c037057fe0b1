package maps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps/live"
	"github.com/uber/h3-go/v4"
)

// Resolutions aggregated for hex statistics.
const (
	MinRes      = 4
	MaxRes      = 10
	CoverageRes = 9
	// LocationRes is the resolution of an asserted location.
	LocationRes = 12
)

// Store key prefixes inside the maps space.
const (
	keyHotspot  = "h/" // h/{addr} → hotspotRec
	keyEdge     = "e/" // e/{beaconer}/{witness} → Edge
	keyCoverage = "c/" // c/{cell %016x} → Coverage
	keyReward   = "r/" // r/{addr}/{epoch %016x} → RewardRow
	keyEpoch    = "p/" // p/{epoch %016x} → EpochInfo
	keyCounters = "s/counters"
)

// Config tunes the aggregator. Zero fields take their defaults.
type Config struct {
	// ActiveWindow: a hotspot with PoC or packet activity this recent (or
	// online) counts as active. Default 24 h.
	ActiveWindow time.Duration `toml:"active_window" help:"a hotspot with PoC or packet activity this recent (or online) counts as active"`
	// SweepInterval is how often Run re-evaluates activity. Default 1 min.
	SweepInterval time.Duration `toml:"sweep_interval" help:"how often hotspot activity is re-evaluated"`
	// RecentItems is how many recent beacons and witnesses a hotspot keeps.
	// Default 20.
	RecentItems int `toml:"recent_items" help:"recent beacons and witnesses kept per hotspot"`
	// MaxCoverageHotspots caps the hotspots remembered per coverage cell
	// (the strongest are kept). Default 64.
	MaxCoverageHotspots int `toml:"max_coverage_hotspots" help:"hotspots remembered per mapper coverage cell (strongest kept)"`
	// Sync makes every aggregate write durable before returning. Default
	// false: aggregates are derived data, and losing the last writes on a
	// crash costs a few samples.
	Sync bool `toml:"sync" help:"make every aggregate write durable before returning (aggregates are derived data)"`
}

// Validate reports negative values.
func (c Config) Validate() error {
	if c.ActiveWindow < 0 || c.SweepInterval < 0 || c.RecentItems < 0 || c.MaxCoverageHotspots < 0 {
		return fmt.Errorf("%w: negative config value", ErrInvalid)
	}
	return nil
}

func (c *Config) defaults() {
	if c.ActiveWindow == 0 {
		c.ActiveWindow = 24 * time.Hour
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = time.Minute
	}
	if c.RecentItems == 0 {
		c.RecentItems = 20
	}
	if c.MaxCoverageHotspots == 0 {
		c.MaxCoverageHotspots = 64
	}
}

// Publisher receives live events; *live.Hub implements it. Publish must not block.
type Publisher interface {
	Publish(ev live.Event) bool
}

// Deps are the aggregator's collaborators.
type Deps struct {
	// Store is the maps space (db.Prefix("maps/")). Required.
	Store *store.Space
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Live receives events for the feed; optional.
	Live Publisher
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Aggregator holds the map's aggregates. Its methods are safe for
// concurrent use.
type Aggregator struct {
	cfg  Config
	st   *store.Space
	now  func() time.Time
	pub  Publisher
	log  *slog.Logger
	once sync.Once

	mu       sync.RWMutex
	closed   bool
	hotspots map[string]*hotspotRec
	byCell   map[h3.Cell]map[string]struct{} // res-12 cell → addresses
	hexes    [MaxRes + 1]map[h3.Cell]*hexStat
	byBeacon map[string]map[string]*Edge // beaconer → witness → edge
	byWitnes map[string]map[string]*Edge // witness → beaconer → edge
	coverage map[h3.Cell]*Coverage
	counters Counters
}

// hotspotRec is the persisted state of one hotspot.
type hotspotRec struct {
	Info            HotspotInfo         `json:"info"`
	Online          bool                `json:"online"`
	LastSeen        time.Time           `json:"last_seen"`
	LastActivity    time.Time           `json:"last_activity"`
	Scale           *float64            `json:"scale,omitempty"`
	Beacons         uint64              `json:"beacons"`
	ValidBeacons    uint64              `json:"valid_beacons"`
	Witnesses       uint64              `json:"witnesses"`
	ValidWitnesses  uint64              `json:"valid_witnesses"`
	BestRSSI        *float64            `json:"best_rssi,omitempty"`
	Packets         uint64              `json:"packets"`
	DC              uint64              `json:"dc"`
	RecentBeacons   []BeaconSummary     `json:"recent_beacons"`
	RecentWitnesses []WitnessSummary    `json:"recent_witnesses"`
	Trust           json.RawMessage     `json:"trust,omitempty"`
	active          bool                // derived
	located         bool                // derived: has a location
	cell            h3.Cell             // derived: res-12 cell
	parents         [MaxRes + 1]h3.Cell // derived
}

// BeaconSummary is a recent beacon of a hotspot.
type BeaconSummary struct {
	ID        string           `json:"id,omitempty"`
	At        time.Time        `json:"at"`
	Valid     bool             `json:"valid"`
	Reason    string           `json:"reason"`
	Units     float64          `json:"units"`
	Witnesses []WitnessSummary `json:"witnesses"`
}

// WitnessSummary is one witness of a beacon, seen from either side.
type WitnessSummary struct {
	Beaconer  string    `json:"beaconer"`
	Witness   string    `json:"witness"`
	At        time.Time `json:"at"`
	RSSI      float64   `json:"rssi"`
	SNR       float64   `json:"snr"`
	DistanceM float64   `json:"distance_m"`
	Valid     bool      `json:"valid"`
	Reason    string    `json:"reason"`
	Units     float64   `json:"units"`
}

// Edge is the aggregate of one beaconer → witness link.
type Edge struct {
	Beaconer   string    `json:"beaconer"`
	Witness    string    `json:"witness"`
	RSSI       float64   `json:"rssi"`
	SNR        float64   `json:"snr"`
	DistanceM  float64   `json:"distance_m"`
	Valid      bool      `json:"valid"`
	Reason     string    `json:"reason"`
	LastSeen   time.Time `json:"last_seen"`
	Count      uint64    `json:"count"`
	ValidCount uint64    `json:"valid_count"`
}

// HeardBy is one hotspot's best reception in a coverage cell.
type HeardBy struct {
	RSSI     float64   `json:"rssi"`
	SNR      float64   `json:"snr"`
	Samples  uint64    `json:"samples"`
	LastSeen time.Time `json:"last_seen"`
}

// Coverage is the mapper aggregate of one res-9 cell.
type Coverage struct {
	Cell      uint64             `json:"-"`
	BestRSSI  float64            `json:"best_rssi"`
	BestSNR   float64            `json:"best_snr"`
	Samples   uint64             `json:"samples"`
	FirstSeen time.Time          `json:"first_seen"`
	LastSeen  time.Time          `json:"last_seen"`
	Hotspots  map[string]HeardBy `json:"hotspots"`
}

// hexStat is the in-memory statistic of one hex at res 4–10, derived from
// the hotspots located in it.
type hexStat struct {
	members        map[string]struct{}
	active         int
	scaleSum       float64
	scaleN         int
	validWitnesses uint64
	bestRSSI       float64
	hasRSSI        bool
	lat, lng       float64
}

// Counters are network-wide totals, persisted.
type Counters struct {
	Beacons          uint64            `json:"beacons"`
	ValidBeacons     uint64            `json:"valid_beacons"`
	Witnesses        uint64            `json:"witnesses"`
	ValidWitnesses   uint64            `json:"valid_witnesses"`
	InvalidByReason  map[string]uint64 `json:"invalid_by_reason"`
	Packets          uint64            `json:"packets"`
	DC               uint64            `json:"dc"`
	MapperPoints     uint64            `json:"mapper_points"`
	MapperRejected   map[string]uint64 `json:"mapper_rejected"`
	LastEpoch        uint64            `json:"last_epoch"`
	LastEpochEnd     time.Time         `json:"last_epoch_end"`
	RewardsPaidTotal uint64            `json:"rewards_paid_total"`
}

// New opens the aggregator over deps.Store and rebuilds its in-memory indexes
// from what is stored there. It starts nothing.
func New(cfg Config, deps Deps) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, fmt.Errorf("%w: Deps.Store is required", ErrInvalid)
	}
	cfg.defaults()
	a := &Aggregator{cfg: cfg, st: deps.Store, now: deps.Now, pub: deps.Live, log: deps.Logger}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if err := a.rebuild(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Aggregator) reset() {
	a.hotspots = make(map[string]*hotspotRec)
	a.byCell = make(map[h3.Cell]map[string]struct{})
	for r := MinRes; r <= MaxRes; r++ {
		a.hexes[r] = make(map[h3.Cell]*hexStat)
	}
	a.byBeacon = make(map[string]map[string]*Edge)
	a.byWitnes = make(map[string]map[string]*Edge)
	a.coverage = make(map[h3.Cell]*Coverage)
	a.counters = Counters{InvalidByReason: map[string]uint64{}, MapperRejected: map[string]uint64{}}
}

// Rebuild discards the in-memory indexes and reloads them from the store.
func (a *Aggregator) Rebuild() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rebuildLocked()
}

func (a *Aggregator) rebuild() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rebuildLocked()
}

func (a *Aggregator) rebuildLocked() error {
	a.reset()
	now := a.now()
	err := a.st.Iterate([]byte(keyHotspot), func(k, v []byte) error {
		var rec hotspotRec
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("maps: hotspot %q: %w", k, err)
		}
		a.hotspots[rec.Info.Address] = &rec
		rec.active = a.isActive(&rec, now)
		a.locate(&rec)
		a.addToHexes(&rec)
		return nil
	})
	if err != nil {
		return err
	}
	err = a.st.Iterate([]byte(keyEdge), func(k, v []byte) error {
		e := new(Edge)
		if err := json.Unmarshal(v, e); err != nil {
			return fmt.Errorf("maps: edge %q: %w", k, err)
		}
		a.putEdge(e)
		return nil
	})
	if err != nil {
		return err
	}
	err = a.st.Iterate([]byte(keyCoverage), func(k, v []byte) error {
		c := new(Coverage)
		if err := json.Unmarshal(v, c); err != nil {
			return fmt.Errorf("maps: coverage %q: %w", k, err)
		}
		var cell uint64
		if _, err := fmt.Sscanf(string(k[len(keyCoverage):]), "%016x", &cell); err != nil {
			return fmt.Errorf("maps: coverage key %q: %w", k, err)
		}
		c.Cell = cell
		a.coverage[h3.Cell(cell)] = c
		return nil
	})
	if err != nil {
		return err
	}
	v, err := a.st.Get([]byte(keyCounters))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(v, &a.counters); err != nil {
			return fmt.Errorf("maps: counters: %w", err)
		}
		if a.counters.InvalidByReason == nil {
			a.counters.InvalidByReason = map[string]uint64{}
		}
		if a.counters.MapperRejected == nil {
			a.counters.MapperRejected = map[string]uint64{}
		}
	}
	return nil
}

// Run sweeps hotspot activity every SweepInterval until ctx ends.
func (a *Aggregator) Run(ctx context.Context) error {
	t := time.NewTicker(a.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.Sweep()
		}
	}
}

// Close stops ingest; it is idempotent. The store stays open (it is the caller's).
func (a *Aggregator) Close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
	})
}

// Sweep re-evaluates which hotspots are active at the current time.
func (a *Aggregator) Sweep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for _, rec := range a.hotspots {
		a.setActive(rec, a.isActive(rec, now))
	}
}

func (a *Aggregator) isActive(rec *hotspotRec, now time.Time) bool {
	return rec.Online || (!rec.LastActivity.IsZero() && now.Sub(rec.LastActivity) <= a.cfg.ActiveWindow)
}

func (a *Aggregator) setActive(rec *hotspotRec, active bool) {
	if rec.active == active {
		return
	}
	d := 1
	if !active {
		d = -1
	}
	rec.active = active
	if rec.located {
		for r := MinRes; r <= MaxRes; r++ {
			if hs := a.hexes[r][rec.parents[r]]; hs != nil {
				hs.active += d
			}
		}
	}
}

// locate derives cell, lat/lng and parents from the info.
func (a *Aggregator) locate(rec *hotspotRec) {
	in := &rec.Info
	rec.located = false
	c := h3.Cell(in.Cell)
	switch {
	case in.Cell != 0 && c.IsValid():
		if in.Lat == 0 && in.Lng == 0 {
			ll := h3.CellToLatLng(c)
			in.Lat, in.Lng = ll.Lat, ll.Lng
		}
		if c.Resolution() < MaxRes {
			return
		}
	case validLatLng(in.Lat, in.Lng):
		c = h3.LatLngToCell(h3.NewLatLng(in.Lat, in.Lng), LocationRes)
		in.Cell = uint64(c)
	default:
		return
	}
	rec.cell = c
	rec.located = true
	for r := MinRes; r <= MaxRes; r++ {
		rec.parents[r] = c.Parent(r)
	}
}

func validLatLng(lat, lng float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lng) && lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 &&
		!(lat == 0 && lng == 0)
}

func (a *Aggregator) addToHexes(rec *hotspotRec) {
	if !rec.located {
		return
	}
	m := a.byCell[rec.cell]
	if m == nil {
		m = make(map[string]struct{})
		a.byCell[rec.cell] = m
	}
	m[rec.Info.Address] = struct{}{}
	for r := MinRes; r <= MaxRes; r++ {
		p := rec.parents[r]
		hs := a.hexes[r][p]
		if hs == nil {
			ll := h3.CellToLatLng(p)
			hs = &hexStat{members: make(map[string]struct{}), lat: ll.Lat, lng: ll.Lng}
			a.hexes[r][p] = hs
		}
		hs.members[rec.Info.Address] = struct{}{}
		if rec.active {
			hs.active++
		}
		if rec.Scale != nil {
			hs.scaleSum += *rec.Scale
			hs.scaleN++
		}
		hs.validWitnesses += rec.ValidWitnesses
		if rec.BestRSSI != nil && (!hs.hasRSSI || *rec.BestRSSI > hs.bestRSSI) {
			hs.bestRSSI, hs.hasRSSI = *rec.BestRSSI, true
		}
	}
}

func (a *Aggregator) removeFromHexes(rec *hotspotRec) {
	if !rec.located {
		return
	}
	if m := a.byCell[rec.cell]; m != nil {
		delete(m, rec.Info.Address)
		if len(m) == 0 {
			delete(a.byCell, rec.cell)
		}
	}
	for r := MinRes; r <= MaxRes; r++ {
		p := rec.parents[r]
		hs := a.hexes[r][p]
		if hs == nil {
			continue
		}
		delete(hs.members, rec.Info.Address)
		if len(hs.members) == 0 {
			delete(a.hexes[r], p)
			continue
		}
		if rec.active {
			hs.active--
		}
		if rec.Scale != nil {
			hs.scaleSum -= *rec.Scale
			hs.scaleN--
		}
		hs.validWitnesses -= rec.ValidWitnesses
		// The best RSSI cannot be un-maxed: recompute from the members.
		hs.hasRSSI = false
		for addr := range hs.members {
			o := a.hotspots[addr]
			if o != nil && o.BestRSSI != nil && (!hs.hasRSSI || *o.BestRSSI > hs.bestRSSI) {
				hs.bestRSSI, hs.hasRSSI = *o.BestRSSI, true
			}
		}
	}
}

// hotspot returns the record for addr, creating a placeholder for a hotspot
// the ledger has not described yet.
func (a *Aggregator) hotspot(addr string) *hotspotRec {
	rec := a.hotspots[addr]
	if rec == nil {
		rec = &hotspotRec{Info: HotspotInfo{Address: addr}}
		a.hotspots[addr] = rec
	}
	return rec
}

// writer collects the store writes of one ingest call.
type writer struct {
	b   *store.Batch
	err error
}

func (a *Aggregator) newWriter() *writer {
	b, err := a.st.NewBatch()
	return &writer{b: b, err: err}
}

func (w *writer) put(key string, v any) {
	if w.err != nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	w.err = w.b.Set([]byte(key), data)
}

func (a *Aggregator) commit(w *writer) error {
	if w.err != nil {
		if w.b != nil {
			_ = w.b.Close()
		}
		return fmt.Errorf("maps: store: %w", w.err)
	}
	if err := w.b.Commit(a.cfg.Sync); err != nil {
		return fmt.Errorf("maps: store: %w", err)
	}
	return nil
}

func (a *Aggregator) begin() (*writer, error) {
	if a.closed {
		return nil, ErrClosed
	}
	return a.newWriter(), nil
}

// Hotspot records (or updates) a hotspot's ledger facts: name, owner,
// location, gain, elevation, region. A moved hotspot moves between hexes.
func (a *Aggregator) Hotspot(info HotspotInfo) error {
	if info.Address == "" {
		return fmt.Errorf("%w: hotspot address is empty", ErrInvalid)
	}
	if info.Cell != 0 && !h3.Cell(info.Cell).IsValid() {
		return fmt.Errorf("%w: hotspot %s: cell %x is not an H3 cell", ErrInvalid, info.Address, info.Cell)
	}
	if (info.Lat != 0 || info.Lng != 0) && !validLatLng(info.Lat, info.Lng) {
		return fmt.Errorf("%w: hotspot %s: lat/lng out of range", ErrInvalid, info.Address)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w, err := a.begin()
	if err != nil {
		return err
	}
	rec := a.hotspot(info.Address)
	a.removeFromHexes(rec)
	rec.Info = info
	a.locate(rec)
	a.addToHexes(rec)
	w.put(keyHotspot+info.Address, rec)
	return a.commit(w)
}

// HotspotState records a hotspot going online or offline at a time.
func (a *Aggregator) HotspotState(addr string, online bool, at time.Time) error {
	if addr == "" {
		return fmt.Errorf("%w: hotspot address is empty", ErrInvalid)
	}
	a.mu.Lock()
	w, err := a.begin()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	rec := a.hotspot(addr)
	rec.Online = online
	if at.After(rec.LastSeen) {
		rec.LastSeen = at
	}
	a.setActive(rec, a.isActive(rec, a.now()))
	w.put(keyHotspot+addr, rec)
	ev := live.Event{Type: live.TypeState, At: at, Hotspots: []string{addr}, Points: a.points(addr),
		Data: map[string]any{"hotspot": addr, "name": rec.Info.Name, "online": online}}
	err = a.commit(w)
	a.mu.Unlock()
	a.publish(ev)
	return err
}

// Scale records a hotspot's current reward (density) scale.
func (a *Aggregator) Scale(addr string, scale float64) error {
	if addr == "" || math.IsNaN(scale) || scale < 0 || scale > 1 {
		return fmt.Errorf("%w: scale %v for %q", ErrInvalid, scale, addr)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w, err := a.begin()
	if err != nil {
		return err
	}
	rec := a.hotspot(addr)
	a.removeFromHexes(rec)
	s := scale
	rec.Scale = &s
	a.addToHexes(rec)
	w.put(keyHotspot+addr, rec)
	return a.commit(w)
}

// SetTrust stores the gaming detector's verdict object for a hotspot (any
// JSON object); it is shown as "trust" in the hotspot's detail.
func (a *Aggregator) SetTrust(addr string, trust json.RawMessage) error {
	if addr == "" || !json.Valid(trust) {
		return fmt.Errorf("%w: trust for %q is not JSON", ErrInvalid, addr)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w, err := a.begin()
	if err != nil {
		return err
	}
	rec := a.hotspot(addr)
	rec.Trust = append(json.RawMessage(nil), trust...)
	w.put(keyHotspot+addr, rec)
	return a.commit(w)
}

func reasonOf(valid bool, reason string) string {
	if reason == "" {
		if valid {
			return "reason_none"
		}
		return "unknown_error"
	}
	return reason
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Beacon records a verified beacon with its witnesses: hotspot counters,
// recent lists, witness edges, hex statistics, and live events.
func (a *Aggregator) Beacon(b BeaconEvent) error {
	if b.Beaconer == "" || b.At.IsZero() || !finite(b.Units) {
		return fmt.Errorf("%w: beacon needs a beaconer, a time and finite units", ErrInvalid)
	}
	for _, w := range b.Witnesses {
		if w.Witness == "" || !finite(w.RSSI, w.SNR, w.DistanceM, w.Units) {
			return fmt.Errorf("%w: witness of %s needs an address and finite numbers", ErrInvalid, b.Beaconer)
		}
	}
	a.mu.Lock()
	wr, err := a.begin()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	now := a.now()
	br := a.hotspot(b.Beaconer)
	br.Beacons++
	a.counters.Beacons++
	if b.Valid {
		br.ValidBeacons++
		a.counters.ValidBeacons++
	}
	a.touch(br, b.At, now)
	sum := BeaconSummary{ID: b.ID, At: b.At, Valid: b.Valid, Reason: reasonOf(b.Valid, b.Reason), Units: b.Units}
	events := make([]live.Event, 0, 1+len(b.Witnesses))
	for _, w := range b.Witnesses {
		at := w.At
		if at.IsZero() {
			at = b.At
		}
		ws := WitnessSummary{Beaconer: b.Beaconer, Witness: w.Witness, At: at, RSSI: w.RSSI, SNR: w.SNR,
			DistanceM: w.DistanceM, Valid: w.Valid, Reason: reasonOf(w.Valid, w.Reason), Units: w.Units}
		sum.Witnesses = append(sum.Witnesses, ws)
		wrec := a.hotspot(w.Witness)
		a.removeFromHexes(wrec)
		wrec.Witnesses++
		a.counters.Witnesses++
		if w.Valid {
			wrec.ValidWitnesses++
			a.counters.ValidWitnesses++
			if wrec.BestRSSI == nil || w.RSSI > *wrec.BestRSSI {
				r := w.RSSI
				wrec.BestRSSI = &r
			}
		} else {
			a.counters.InvalidByReason[ws.Reason]++
		}
		wrec.RecentWitnesses = pushFront(wrec.RecentWitnesses, ws, a.cfg.RecentItems)
		a.addToHexes(wrec)
		a.touch(wrec, at, now)
		wr.put(keyHotspot+w.Witness, wrec)

		e := a.edge(b.Beaconer, w.Witness)
		e.RSSI, e.SNR, e.DistanceM, e.Valid, e.Reason = w.RSSI, w.SNR, w.DistanceM, w.Valid, ws.Reason
		if at.After(e.LastSeen) {
			e.LastSeen = at
		}
		e.Count++
		if w.Valid {
			e.ValidCount++
		}
		wr.put(keyEdge+b.Beaconer+"/"+w.Witness, e)
		events = append(events, live.Event{Type: live.TypeWitness, At: at,
			Hotspots: []string{b.Beaconer, w.Witness}, Points: a.points(b.Beaconer, w.Witness),
			Data: witnessFeed{WitnessSummary: ws, BeaconerName: a.hotspot(b.Beaconer).Info.Name, WitnessName: wrec.Info.Name}})
	}
	br.RecentBeacons = pushFront(br.RecentBeacons, sum, a.cfg.RecentItems)
	wr.put(keyHotspot+b.Beaconer, br)
	wr.put(keyCounters, &a.counters)
	addrs := []string{b.Beaconer}
	for _, w := range b.Witnesses {
		addrs = append(addrs, w.Witness)
	}
	beaconEv := live.Event{Type: live.TypeBeacon, At: b.At, Hotspots: addrs, Points: a.points(addrs...),
		Data: beaconFeed{ID: b.ID, Beaconer: b.Beaconer, Name: br.Info.Name, Valid: b.Valid, Reason: sum.Reason,
			Witnesses: len(b.Witnesses), ValidWitnesses: countValid(b.Witnesses)}}
	err = a.commit(wr)
	a.mu.Unlock()
	a.publish(beaconEv)
	for _, ev := range events {
		a.publish(ev)
	}
	return err
}

type beaconFeed struct {
	ID             string `json:"id,omitempty"`
	Beaconer       string `json:"beaconer"`
	Name           string `json:"name"`
	Valid          bool   `json:"valid"`
	Reason         string `json:"reason"`
	Witnesses      int    `json:"witnesses"`
	ValidWitnesses int    `json:"valid_witnesses"`
}

type witnessFeed struct {
	WitnessSummary
	BeaconerName string `json:"beaconer_name"`
	WitnessName  string `json:"witness_name"`
}

func countValid(ws []WitnessEvent) int {
	n := 0
	for _, w := range ws {
		if w.Valid {
			n++
		}
	}
	return n
}

func pushFront[T any](s []T, v T, max int) []T {
	s = append(s, v)
	copy(s[1:], s)
	s[0] = v
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// touch marks activity at `at`.
func (a *Aggregator) touch(rec *hotspotRec, at, now time.Time) {
	if at.After(rec.LastActivity) {
		rec.LastActivity = at
	}
	if at.After(rec.LastSeen) {
		rec.LastSeen = at
	}
	a.setActive(rec, a.isActive(rec, now))
}

func (a *Aggregator) edge(beaconer, witness string) *Edge {
	e := a.byBeacon[beaconer][witness]
	if e == nil {
		e = &Edge{Beaconer: beaconer, Witness: witness}
		a.putEdge(e)
	}
	return e
}

func (a *Aggregator) putEdge(e *Edge) {
	m := a.byBeacon[e.Beaconer]
	if m == nil {
		m = make(map[string]*Edge)
		a.byBeacon[e.Beaconer] = m
	}
	m[e.Witness] = e
	m = a.byWitnes[e.Witness]
	if m == nil {
		m = make(map[string]*Edge)
		a.byWitnes[e.Witness] = m
	}
	m[e.Beaconer] = e
}

// points returns the known locations of addrs.
func (a *Aggregator) points(addrs ...string) []live.Point {
	var ps []live.Point
	for _, ad := range addrs {
		if rec := a.hotspots[ad]; rec != nil && rec.located {
			ps = append(ps, live.Point{Lat: rec.Info.Lat, Lng: rec.Info.Lng})
		}
	}
	return ps
}

func (a *Aggregator) publish(ev live.Event) {
	if a.pub != nil {
		a.pub.Publish(ev)
	}
}

// Packet records a data packet copy heard (and bought) from a hotspot.
func (a *Aggregator) Packet(p PacketEvent) error {
	if p.Hotspot == "" || p.At.IsZero() || !finite(p.RSSI, p.SNR) {
		return fmt.Errorf("%w: packet needs a hotspot, a time and finite rssi/snr", ErrInvalid)
	}
	a.mu.Lock()
	w, err := a.begin()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	rec := a.hotspot(p.Hotspot)
	rec.Packets++
	rec.DC += p.DC
	a.counters.Packets++
	a.counters.DC += p.DC
	a.touch(rec, p.At, a.now())
	w.put(keyHotspot+p.Hotspot, rec)
	w.put(keyCounters, &a.counters)
	ev := live.Event{Type: live.TypePacket, At: p.At, Hotspots: []string{p.Hotspot}, Points: a.points(p.Hotspot),
		Data: struct {
			PacketEvent
			Name string `json:"name"`
		}{p, rec.Info.Name}}
	err = a.commit(w)
	a.mu.Unlock()
	a.publish(ev)
	return err
}

// Reward records a hotspot's rewards for one epoch (idempotent per epoch).
// The epoch's times come from a previous Epoch call when known.
func (a *Aggregator) Reward(epoch uint64, addr string, amounts RewardAmounts) error {
	if addr == "" {
		return fmt.Errorf("%w: reward without hotspot", ErrInvalid)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w, err := a.begin()
	if err != nil {
		return err
	}
	row := RewardRow{Epoch: epoch, RewardAmounts: amounts, Total: amounts.Total()}
	if v, err := a.st.Get([]byte(fmt.Sprintf("%s%016x", keyEpoch, epoch))); err == nil {
		var ei EpochInfo
		if json.Unmarshal(v, &ei) == nil {
			row.Start, row.End = ei.Start, ei.End
		}
	}
	w.put(fmt.Sprintf("%s%s/%016x", keyReward, addr, epoch), row)
	return a.commit(w)
}

// Epoch records a closed epoch (its time range, for reward CSVs) and
// announces it on the live feed. Call it before the epoch's Reward calls.
func (a *Aggregator) Epoch(e EpochInfo) error {
	a.mu.Lock()
	w, err := a.begin()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	w.put(fmt.Sprintf("%s%016x", keyEpoch, e.Epoch), e)
	if e.Epoch >= a.counters.LastEpoch {
		a.counters.LastEpoch, a.counters.LastEpochEnd = e.Epoch, e.End
	}
	a.counters.RewardsPaidTotal += e.Total
	w.put(keyCounters, &a.counters)
	err = a.commit(w)
	a.mu.Unlock()
	a.publish(live.Event{Type: live.TypeEpoch, At: e.End, Data: e})
	return err
}

// RewardRow is one hotspot's rewards in one epoch.
type RewardRow struct {
	Epoch uint64    `json:"epoch"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	RewardAmounts
	Total uint64 `json:"total"`
}

// Mapper records one gated mapper uplink into the res-9 coverage cell of its
// position.
func (a *Aggregator) Mapper(p MapperPoint) error {
	if !validLatLng(p.Lat, p.Lng) || p.At.IsZero() || len(p.Hotspots) == 0 {
		return fmt.Errorf("%w: mapper point needs a position, a time and hotspots", ErrInvalid)
	}
	for _, h := range p.Hotspots {
		if h.Address == "" || !finite(h.RSSI, h.SNR) {
			return fmt.Errorf("%w: mapper hotspot needs an address and finite rssi/snr", ErrInvalid)
		}
	}
	cell := h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), CoverageRes)
	a.mu.Lock()
	w, err := a.begin()
	if err != nil {
		a.mu.Unlock()
		return err
	}
	c := a.coverage[cell]
	if c == nil {
		c = &Coverage{Cell: uint64(cell), FirstSeen: p.At, BestRSSI: math.Inf(-1), Hotspots: map[string]HeardBy{}}
		a.coverage[cell] = c
	}
	if p.At.Before(c.FirstSeen) {
		c.FirstSeen = p.At
	}
	if p.At.After(c.LastSeen) {
		c.LastSeen = p.At
	}
	c.Samples++
	addrs := make([]string, 0, len(p.Hotspots))
	for _, h := range p.Hotspots {
		addrs = append(addrs, h.Address)
		if h.RSSI > c.BestRSSI {
			c.BestRSSI, c.BestSNR = h.RSSI, h.SNR
		}
		hb, ok := c.Hotspots[h.Address]
		if !ok || h.RSSI > hb.RSSI {
			hb.RSSI, hb.SNR = h.RSSI, h.SNR
		}
		hb.Samples++
		if p.At.After(hb.LastSeen) {
			hb.LastSeen = p.At
		}
		c.Hotspots[h.Address] = hb
	}
	trimHeard(c.Hotspots, a.cfg.MaxCoverageHotspots)
	a.counters.MapperPoints++
	w.put(fmt.Sprintf("%s%016x", keyCoverage, uint64(cell)), c)
	w.put(keyCounters, &a.counters)
	err = a.commit(w)
	a.mu.Unlock()
	a.publish(live.Event{Type: live.TypeMapper, At: p.At, Hotspots: addrs,
		Points: []live.Point{{Lat: p.Lat, Lng: p.Lng}},
		Data: map[string]any{"dev_eui": p.DevEUI, "lat": p.Lat, "lng": p.Lng, "h3": h3.IndexToString(uint64(cell)),
			"hotspots": p.Hotspots}})
	return err
}

// trimHeard keeps the max strongest hotspots.
func trimHeard(m map[string]HeardBy, max int) {
	if len(m) <= max {
		return
	}
	type kv struct {
		k string
		v float64
	}
	all := make([]kv, 0, len(m))
	for k, v := range m {
		all = append(all, kv{k, v.RSSI})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || (all[i].v == all[j].v && all[i].k < all[j].k) })
	for _, e := range all[max:] {
		delete(m, e.k)
	}
}

// MapperRejected counts an uplink (or one of its hotspots) refused by the
// ingest gates, by reason.
func (a *Aggregator) MapperRejected(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counters.MapperRejected[reason]++
	if w, err := a.begin(); err == nil {
		w.put(keyCounters, &a.counters)
		if err := a.commit(w); err != nil {
			a.log.Warn("maps: counters not stored", "err", err)
		}
	}
}

// Location returns a located hotspot's position.
func (a *Aggregator) Location(addr string) (lat, lng float64, ok bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	rec := a.hotspots[addr]
	if rec == nil || !rec.located {
		return 0, 0, false
	}
	return rec.Info.Lat, rec.Info.Lng, true
}

// normalize lowercases and unifies separators for name search.
func normalize(s string) string {
	return strings.NewReplacer(" ", "-", "_", "-").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.defaults()
	return c
}
