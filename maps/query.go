package maps

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"
)

// ErrTooMany is returned when a bbox query would return more features than
// its limit allows.
var ErrTooMany = errors.New("maps: too many features")

// HotspotSummary is a hotspot in lists, search results and map points.
type HotspotSummary struct {
	Address  string    `json:"address"`
	Name     string    `json:"name"`
	Owner    string    `json:"owner,omitempty"`
	H3       string    `json:"h3,omitempty"`
	Lat      float64   `json:"lat"`
	Lng      float64   `json:"lng"`
	Located  bool      `json:"located"`
	Online   bool      `json:"online"`
	Active   bool      `json:"active"`
	LastSeen time.Time `json:"last_seen"`
	Scale    *float64  `json:"reward_scale"`
	Region   string    `json:"region,omitempty"`
}

// HotspotDetail is everything the explorer shows about one hotspot.
type HotspotDetail struct {
	HotspotSummary
	GainDBi         float64          `json:"gain_dbi"`
	GainDBiX10      int32            `json:"gain_dbi_x10"`
	Elevation       int32            `json:"elevation_m"`
	Status          string           `json:"status"`
	Beacons         uint64           `json:"beacons"`
	ValidBeacons    uint64           `json:"valid_beacons"`
	Witnesses       uint64           `json:"witnesses"`
	ValidWitnesses  uint64           `json:"valid_witnesses"`
	BestRSSI        *float64         `json:"best_rssi"`
	Packets         uint64           `json:"packets"`
	DC              uint64           `json:"dc"`
	RecentBeacons   []BeaconSummary  `json:"recent_beacons"`
	RecentWitnesses []WitnessSummary `json:"recent_witnesses"`
	Rewards         []RewardRow      `json:"rewards"`
	// Trust is the gaming detector's object for this hotspot (null until it
	// reports one).
	Trust json.RawMessage `json:"trust"`
}

// EdgeView is a witness edge with both ends' positions.
type EdgeView struct {
	Edge
	BeaconerName string  `json:"beaconer_name"`
	WitnessName  string  `json:"witness_name"`
	FromLat      float64 `json:"-"`
	FromLng      float64 `json:"-"`
	ToLat        float64 `json:"-"`
	ToLng        float64 `json:"-"`
	// Direction is "witnessed_by" (the other hotspot heard this one's
	// beacon) or "witnessed" (this hotspot heard the other's beacon).
	Direction string `json:"direction"`
}

// HexView is one hex's statistics.
type HexView struct {
	Cell           h3.Cell  `json:"-"`
	H3             string   `json:"h3"`
	Res            int      `json:"res"`
	Hotspots       int      `json:"hotspots"`
	Active         int      `json:"active"`
	Scale          *float64 `json:"reward_scale"`
	ValidWitnesses uint64   `json:"valid_witnesses"`
	BestRSSI       *float64 `json:"best_rssi"`
	Lat            float64  `json:"lat"`
	Lng            float64  `json:"lng"`
}

// HexDetail is a hex's statistics, hotspots and mapper coverage.
type HexDetail struct {
	HexView
	Parent      string           `json:"parent,omitempty"`
	HotspotList []HotspotSummary `json:"hotspot_list"`
	Coverage    *CoverageView    `json:"coverage"`
}

// HeardView is one hotspot's reception in a coverage cell.
type HeardView struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	HeardBy
}

// CoverageView is a mapper coverage hex (res 9, or a rollup at a coarser res).
type CoverageView struct {
	Cell      h3.Cell     `json:"-"`
	H3        string      `json:"h3"`
	Res       int         `json:"res"`
	BestRSSI  float64     `json:"best_rssi"`
	BestSNR   float64     `json:"best_snr"`
	Samples   uint64      `json:"samples"`
	Cells     int         `json:"cells"`
	FirstSeen time.Time   `json:"first_seen"`
	LastSeen  time.Time   `json:"last_seen"`
	Hotspots  []HeardView `json:"hotspots"`
}

// NetworkStats are the headline numbers of the network.
type NetworkStats struct {
	Hotspots      int       `json:"hotspots"`
	Located       int       `json:"located"`
	Online        int       `json:"online"`
	Active        int       `json:"active"`
	HexesByRes    any       `json:"hexes_by_res"`
	WitnessEdges  int       `json:"witness_edges"`
	CoverageCells int       `json:"coverage_cells"`
	Counters      Counters  `json:"counters"`
	At            time.Time `json:"at"`
}

// BBox is minLng, minLat, maxLng, maxLat.
type BBox [4]float64

// Contains reports whether the point lies inside b.
func (b BBox) Contains(lat, lng float64) bool {
	return lng >= b[0] && lng <= b[2] && lat >= b[1] && lat <= b[3]
}

// EstimateCells estimates how many res-r hexes cover b.
func (b BBox) EstimateCells(res int) float64 {
	midLat := (b[1] + b[3]) / 2 * math.Pi / 180
	km := 111.32
	w := (b[2] - b[0]) * km * math.Cos(midLat)
	h := (b[3] - b[1]) * km
	return w * h / h3.HexagonAreaAvgKm2(res)
}

func (a *Aggregator) summary(rec *hotspotRec) HotspotSummary {
	s := HotspotSummary{Address: rec.Info.Address, Name: rec.Info.Name, Owner: rec.Info.Owner,
		Online: rec.Online, Active: rec.active, LastSeen: rec.LastSeen, Scale: rec.Scale, Region: rec.Info.Region,
		Located: rec.located}
	if rec.located {
		s.H3 = h3.IndexToString(uint64(rec.cell))
		s.Lat, s.Lng = rec.Info.Lat, rec.Info.Lng
	}
	return s
}

// Stats returns the network's headline numbers.
func (a *Aggregator) Stats() NetworkStats {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := NetworkStats{Hotspots: len(a.hotspots), CoverageCells: len(a.coverage), At: a.now()}
	for _, rec := range a.hotspots {
		if rec.located {
			st.Located++
		}
		if rec.Online {
			st.Online++
		}
		if rec.active {
			st.Active++
		}
	}
	byRes := map[string]int{}
	for r := MinRes; r <= MaxRes; r++ {
		byRes[fmt.Sprint(r)] = len(a.hexes[r])
	}
	st.HexesByRes = byRes
	for _, m := range a.byBeacon {
		st.WitnessEdges += len(m)
	}
	st.Counters = a.counters
	st.Counters.InvalidByReason = copyMap(a.counters.InvalidByReason)
	st.Counters.MapperRejected = copyMap(a.counters.MapperRejected)
	return st
}

func copyMap(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (a *Aggregator) sortedHotspots(keep func(*hotspotRec) bool) []*hotspotRec {
	out := make([]*hotspotRec, 0, len(a.hotspots))
	for _, rec := range a.hotspots {
		if keep == nil || keep(rec) {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Info.Name != out[j].Info.Name {
			return out[i].Info.Name < out[j].Info.Name
		}
		return out[i].Info.Address < out[j].Info.Address
	})
	return out
}

// Hotspots returns a page of hotspots sorted by name then address, optionally
// only those of owner, and the total matching.
func (a *Aggregator) Hotspots(offset, limit int, owner string) ([]HotspotSummary, int) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var keep func(*hotspotRec) bool
	if owner != "" {
		keep = func(r *hotspotRec) bool { return r.Info.Owner == owner }
	}
	all := a.sortedHotspots(keep)
	out := []HotspotSummary{}
	for i := offset; i < len(all) && i < offset+limit; i++ {
		out = append(out, a.summary(all[i]))
	}
	return out, len(all)
}

// HotspotsIn returns the located hotspots inside b, at most max (ErrTooMany beyond).
func (a *Aggregator) HotspotsIn(b BBox, max int) ([]HotspotSummary, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []HotspotSummary{}
	for _, rec := range a.hotspots {
		if rec.located && b.Contains(rec.Info.Lat, rec.Info.Lng) {
			if len(out) >= max {
				return nil, fmt.Errorf("%w: more than %d hotspots in bbox", ErrTooMany, max)
			}
			out = append(out, a.summary(rec))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// SearchResult is one search hit: a hotspot or a hex.
type SearchResult struct {
	Type    string          `json:"type"`
	Hotspot *HotspotSummary `json:"hotspot,omitempty"`
	Hex     *HexView        `json:"hex,omitempty"`
}

// Search finds hotspots by name (words in any case, spaces or hyphens) or
// address (prefix), and hexes by H3 index; at most limit results.
func (a *Aggregator) Search(q string, limit int) []SearchResult {
	q = strings.TrimSpace(q)
	out := []SearchResult{}
	if q == "" || limit <= 0 {
		return out
	}
	if c := h3.Cell(h3.IndexFromString(strings.ToLower(q))); len(q) == 15 && c.IsValid() {
		if hv, err := a.Hex(c); err == nil {
			out = append(out, SearchResult{Type: "hex", Hex: &hv.HexView})
		} else {
			ll := h3.CellToLatLng(c)
			out = append(out, SearchResult{Type: "hex", Hex: &HexView{Cell: c, H3: h3.IndexToString(uint64(c)),
				Res: c.Resolution(), Lat: ll.Lat, Lng: ll.Lng}})
		}
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	nq := normalize(q)
	exact := a.hotspots[q]
	if exact != nil {
		s := a.summary(exact)
		out = append(out, SearchResult{Type: "hotspot", Hotspot: &s})
	}
	for _, rec := range a.sortedHotspots(func(r *hotspotRec) bool {
		return r != exact && (strings.HasPrefix(r.Info.Address, q) || (nq != "" && strings.Contains(normalize(r.Info.Name), nq)))
	}) {
		if len(out) >= limit {
			break
		}
		s := a.summary(rec)
		out = append(out, SearchResult{Type: "hotspot", Hotspot: &s})
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Detail returns a hotspot's detail with its latest maxRewards epochs of rewards.
func (a *Aggregator) Detail(addr string, maxRewards int) (HotspotDetail, error) {
	a.mu.RLock()
	rec := a.hotspots[addr]
	if rec == nil {
		a.mu.RUnlock()
		return HotspotDetail{}, fmt.Errorf("%w: hotspot %q", ErrNotFound, addr)
	}
	d := HotspotDetail{HotspotSummary: a.summary(rec), GainDBi: float64(rec.Info.GainDBiX10) / 10,
		GainDBiX10: rec.Info.GainDBiX10, Elevation: rec.Info.Elevation, Beacons: rec.Beacons,
		ValidBeacons: rec.ValidBeacons, Witnesses: rec.Witnesses, ValidWitnesses: rec.ValidWitnesses,
		BestRSSI: rec.BestRSSI, Packets: rec.Packets, DC: rec.DC,
		RecentBeacons:   append([]BeaconSummary{}, rec.RecentBeacons...),
		RecentWitnesses: append([]WitnessSummary{}, rec.RecentWitnesses...),
		Trust:           append(json.RawMessage(nil), rec.Trust...)}
	a.mu.RUnlock()
	d.Status = "offline"
	if d.Online {
		d.Status = "online"
	}
	if len(d.Trust) == 0 {
		d.Trust = json.RawMessage("null")
	}
	rows, err := a.Rewards(addr, time.Time{}, time.Time{})
	if err != nil {
		return d, err
	}
	if len(rows) > maxRewards {
		rows = rows[len(rows)-maxRewards:]
	}
	d.Rewards = rows
	return d, nil
}

// Edges returns a hotspot's witness edges in both directions, with positions
// (edges to hotspots without a location are left out).
func (a *Aggregator) Edges(addr string) ([]EdgeView, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.hotspots[addr] == nil {
		return nil, fmt.Errorf("%w: hotspot %q", ErrNotFound, addr)
	}
	out := []EdgeView{}
	add := func(e *Edge, dir string) {
		b, w := a.hotspots[e.Beaconer], a.hotspots[e.Witness]
		if b == nil || w == nil || !b.located || !w.located {
			return
		}
		out = append(out, EdgeView{Edge: *e, BeaconerName: b.Info.Name, WitnessName: w.Info.Name,
			FromLat: b.Info.Lat, FromLng: b.Info.Lng, ToLat: w.Info.Lat, ToLng: w.Info.Lng, Direction: dir})
	}
	for _, e := range a.byBeacon[addr] {
		add(e, "witnessed_by")
	}
	for _, e := range a.byWitnes[addr] {
		add(e, "witnessed")
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Direction != out[j].Direction {
			return out[i].Direction > out[j].Direction
		}
		return out[i].Beaconer+out[i].Witness < out[j].Beaconer+out[j].Witness
	})
	return out, nil
}

func hexView(c h3.Cell, res int, hs *hexStat) HexView {
	v := HexView{Cell: c, H3: h3.IndexToString(uint64(c)), Res: res, Hotspots: len(hs.members), Active: hs.active,
		ValidWitnesses: hs.validWitnesses, Lat: hs.lat, Lng: hs.lng}
	if hs.scaleN > 0 {
		s := math.Round(hs.scaleSum/float64(hs.scaleN)*1e4) / 1e4
		v.Scale = &s
	}
	if hs.hasRSSI {
		r := hs.bestRSSI
		v.BestRSSI = &r
	}
	return v
}

// Hexes returns the hexes at res whose centre lies in b, at most max.
func (a *Aggregator) Hexes(res int, b BBox, max int) ([]HexView, error) {
	if res < MinRes || res > MaxRes {
		return nil, fmt.Errorf("%w: res %d outside %d–%d", ErrInvalid, res, MinRes, MaxRes)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []HexView{}
	for c, hs := range a.hexes[res] {
		if !b.Contains(hs.lat, hs.lng) {
			continue
		}
		if len(out) >= max {
			return nil, fmt.Errorf("%w: more than %d hexes at res %d in bbox", ErrTooMany, max, res)
		}
		out = append(out, hexView(c, res, hs))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cell < out[j].Cell })
	return out, nil
}

// Hex returns one hex's statistics, the hotspots in it (at most 100) and its
// mapper coverage (res ≤ 9).
func (a *Aggregator) Hex(c h3.Cell) (HexDetail, error) {
	if !c.IsValid() {
		return HexDetail{}, fmt.Errorf("%w: not an H3 cell", ErrInvalid)
	}
	res := c.Resolution()
	var d HexDetail
	if res > 0 {
		d.Parent = h3.IndexToString(uint64(c.Parent(res - 1)))
	}
	a.mu.RLock()
	var hs *hexStat
	switch {
	case res >= MinRes && res <= MaxRes:
		hs = a.hexes[res][c]
	case res > MaxRes:
		hs = a.fineHex(c, res)
	}
	if hs != nil {
		d.HexView = hexView(c, res, hs)
		addrs := make([]string, 0, len(hs.members))
		for ad := range hs.members {
			addrs = append(addrs, ad)
		}
		sort.Strings(addrs)
		if len(addrs) > 100 {
			addrs = addrs[:100]
		}
		for _, ad := range addrs {
			d.HotspotList = append(d.HotspotList, a.summary(a.hotspots[ad]))
		}
	} else {
		ll := h3.CellToLatLng(c)
		d.HexView = HexView{Cell: c, H3: h3.IndexToString(uint64(c)), Res: res, Lat: ll.Lat, Lng: ll.Lng}
	}
	var cov *CoverageView
	if res <= CoverageRes {
		cov = a.coverageOf(c, res)
	}
	a.mu.RUnlock()
	if hs == nil && cov == nil {
		return d, fmt.Errorf("%w: hex %s has no hotspots and no coverage", ErrNotFound, d.H3)
	}
	if d.HotspotList == nil {
		d.HotspotList = []HotspotSummary{}
	}
	d.Coverage = cov
	return d, nil
}

// coverageOf rolls up the res-9 coverage cells under c.
func (a *Aggregator) coverageOf(c h3.Cell, res int) *CoverageView {
	if res == CoverageRes {
		if cv := a.coverage[c]; cv != nil {
			v := a.covView(c, res)
			v.merge(a, cv)
			v.finish(a)
			return v
		}
		return nil
	}
	var v *CoverageView
	for cell, cv := range a.coverage {
		if cell.Parent(res) != c {
			continue
		}
		if v == nil {
			v = a.covView(c, res)
		}
		v.merge(a, cv)
	}
	if v != nil {
		v.finish(a)
	}
	return v
}

func (a *Aggregator) covView(c h3.Cell, res int) *CoverageView {
	return &CoverageView{Cell: c, H3: h3.IndexToString(uint64(c)), Res: res, BestRSSI: math.Inf(-1)}
}

// heardAcc accumulates hotspot receptions while rolling up.
func (v *CoverageView) merge(a *Aggregator, cv *Coverage) {
	if v.Cells == 0 || cv.FirstSeen.Before(v.FirstSeen) {
		v.FirstSeen = cv.FirstSeen
	}
	if cv.LastSeen.After(v.LastSeen) {
		v.LastSeen = cv.LastSeen
	}
	v.Cells++
	v.Samples += cv.Samples
	if cv.BestRSSI > v.BestRSSI {
		v.BestRSSI, v.BestSNR = cv.BestRSSI, cv.BestSNR
	}
	for ad, hb := range cv.Hotspots {
		found := false
		for i := range v.Hotspots {
			if v.Hotspots[i].Address == ad {
				found = true
				h := &v.Hotspots[i]
				if hb.RSSI > h.RSSI {
					h.RSSI, h.SNR = hb.RSSI, hb.SNR
				}
				h.Samples += hb.Samples
				if hb.LastSeen.After(h.LastSeen) {
					h.LastSeen = hb.LastSeen
				}
			}
		}
		if !found {
			v.Hotspots = append(v.Hotspots, HeardView{Address: ad, HeardBy: hb})
		}
	}
}

func (v *CoverageView) finish(a *Aggregator) {
	for i := range v.Hotspots {
		if rec := a.hotspots[v.Hotspots[i].Address]; rec != nil {
			v.Hotspots[i].Name = rec.Info.Name
		}
	}
	sort.Slice(v.Hotspots, func(i, j int) bool {
		if v.Hotspots[i].RSSI != v.Hotspots[j].RSSI {
			return v.Hotspots[i].RSSI > v.Hotspots[j].RSSI
		}
		return v.Hotspots[i].Address < v.Hotspots[j].Address
	})
}

// Coverage returns mapper coverage hexes at res (≤ 9; coarser ones roll up
// their res-9 cells) whose centre lies in b, at most max.
func (a *Aggregator) Coverage(res int, b BBox, max int) ([]CoverageView, error) {
	if res < MinRes || res > CoverageRes {
		return nil, fmt.Errorf("%w: coverage res %d outside %d–%d", ErrInvalid, res, MinRes, CoverageRes)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	views := map[h3.Cell]*CoverageView{}
	for cell, cv := range a.coverage {
		p := cell
		if res < CoverageRes {
			p = cell.Parent(res)
		}
		v := views[p]
		if v == nil {
			ll := h3.CellToLatLng(p)
			if !b.Contains(ll.Lat, ll.Lng) {
				continue
			}
			if len(views) >= max {
				return nil, fmt.Errorf("%w: more than %d coverage hexes at res %d in bbox", ErrTooMany, max, res)
			}
			v = a.covView(p, res)
			views[p] = v
		}
		v.merge(a, cv)
	}
	out := make([]CoverageView, 0, len(views))
	for _, v := range views {
		v.finish(a)
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cell < out[j].Cell })
	return out, nil
}

// CoveredAnswer says whether a point is covered, from mapper data.
type CoveredAnswer struct {
	Lat     float64 `json:"lat"`
	Lng     float64 `json:"lng"`
	H3      string  `json:"h3"`
	Covered bool    `json:"covered"`
	// EstimatedRSSI is the measured best RSSI of the point's own hex, or an
	// extrapolation from the nearest mapped hexes (log-distance, n = 2.7);
	// null when nothing near is mapped.
	EstimatedRSSI *float64 `json:"estimated_rssi"`
	// Method is "measured", "extrapolated" or "none".
	Method  string        `json:"method"`
	Nearest []NearestCell `json:"nearest"`
}

// NearestCell is a mapped res-9 hex near the asked point.
type NearestCell struct {
	CoverageView
	DistanceM float64 `json:"distance_m"`
}

// PathLossExponent is the log-distance exponent used to extrapolate RSSI.
const PathLossExponent = 2.7

// Covered answers "is this point covered": the mapped res-9 hexes within
// rings rings of it (nearest first, at most 7), an RSSI estimate, and whether
// that estimate reaches threshold dBm.
func (a *Aggregator) Covered(lat, lng float64, rings int, threshold float64) (CoveredAnswer, error) {
	if !validLatLng(lat, lng) {
		return CoveredAnswer{}, fmt.Errorf("%w: lat/lng out of range", ErrInvalid)
	}
	pt := h3.NewLatLng(lat, lng)
	cell := h3.LatLngToCell(pt, CoverageRes)
	ans := CoveredAnswer{Lat: lat, Lng: lng, H3: h3.IndexToString(uint64(cell)), Method: "none", Nearest: []NearestCell{}}
	a.mu.RLock()
	defer a.mu.RUnlock()
	best := math.Inf(-1)
	for _, c := range h3.GridDisk(cell, rings) {
		if a.coverage[c] == nil {
			continue
		}
		v := a.coverageOf(c, CoverageRes)
		d := h3.GreatCircleDistanceM(pt, h3.CellToLatLng(c))
		ans.Nearest = append(ans.Nearest, NearestCell{CoverageView: *v, DistanceM: math.Round(d)})
		if c == cell {
			ans.Method = "measured"
			best = v.BestRSSI
			continue
		}
		if ans.Method == "measured" {
			continue
		}
		for _, hv := range v.Hotspots {
			rec := a.hotspots[hv.Address]
			if rec == nil || !rec.located {
				continue
			}
			hp := h3.NewLatLng(rec.Info.Lat, rec.Info.Lng)
			dCell := math.Max(50, h3.GreatCircleDistanceM(hp, h3.CellToLatLng(c)))
			dPt := math.Max(50, h3.GreatCircleDistanceM(hp, pt))
			est := hv.RSSI - 10*PathLossExponent*math.Log10(dPt/dCell)
			if est > best {
				best = est
				ans.Method = "extrapolated"
			}
		}
	}
	sort.Slice(ans.Nearest, func(i, j int) bool { return ans.Nearest[i].DistanceM < ans.Nearest[j].DistanceM })
	if len(ans.Nearest) > 7 {
		ans.Nearest = ans.Nearest[:7]
	}
	if !math.IsInf(best, -1) {
		r := math.Round(best*10) / 10
		ans.EstimatedRSSI = &r
		ans.Covered = r >= threshold
	}
	return ans, nil
}

// Rewards returns a hotspot's reward rows in epoch order whose epoch ended in
// [from, to) (zero times leave that side open).
func (a *Aggregator) Rewards(addr string, from, to time.Time) ([]RewardRow, error) {
	out := []RewardRow{}
	err := a.st.Iterate([]byte(keyReward+addr+"/"), func(k, v []byte) error {
		var r RewardRow
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("maps: reward %q: %w", k, err)
		}
		if !from.IsZero() && r.End.Before(from) {
			return nil
		}
		if !to.IsZero() && !r.End.Before(to) {
			return nil
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Known reports whether addr is a known hotspot.
func (a *Aggregator) Known(addr string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.hotspots[addr] != nil
}

// fineHex computes, on demand, the statistic of a hex finer than MaxRes (an
// asserted location cell, say) from the hotspots located in it.
func (a *Aggregator) fineHex(c h3.Cell, res int) *hexStat {
	var hs *hexStat
	for addr, rec := range a.hotspots {
		if !rec.located {
			continue
		}
		in := false
		switch {
		case res == LocationRes:
			in = rec.cell == c
		case res < rec.cell.Resolution():
			in = rec.cell.Parent(res) == c
		default:
			in = c.Parent(rec.cell.Resolution()) == rec.cell
		}
		if !in {
			continue
		}
		if hs == nil {
			ll := h3.CellToLatLng(c)
			hs = &hexStat{members: map[string]struct{}{}, lat: ll.Lat, lng: ll.Lng}
		}
		hs.members[addr] = struct{}{}
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
	return hs
}
