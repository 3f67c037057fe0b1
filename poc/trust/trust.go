// Package trust is the PoC oracle's gaming detector (DESIGN.md §5, "Where we
// go beyond it"): it learns, from every verdict as it arrives, how each
// hotspot's radio links behave, and turns that evidence into a trust score
// in [0, 1] that scales its PoC rewards and, below a threshold, flags it
// with a reason (suspected_spoof, suspected_ring, suspected_rssi_forge,
// suspected_replay).
//
// A link is one witness verdict with a measured RSSI/SNR and an asserted
// distance d (verdicts valid, or invalid only for bad_rssi, reciprocity or
// a suspected_* reason). Each link counts for both ends. With the reference
// model (Config values in brackets)
//
//	E[RSSI](d) = P_tx(b) + G_b + G_w − FSPL(1 m, f) − 10·n·log10(d)      [n = PathLossExponent]
//	residual  ρ = RSSI − E[RSSI](d)       (honest: shadowing, ρ ~ N(0, σ≈6 dB))
//
// where P_tx = trunc(region max EIRP − G_b) as the verifier knows it, the
// evidence kinds are, each over a sliding window of Window observations and
// counting only after its minimum number of observations. Links, peers and
// expected pairs with a hotspot flagged now count only for that hotspot,
// unless the hotspot evaluated is flagged now too (then they are its
// group's evidence: caught together, ring members cannot clear each other).
//
// A link's shadowing is drawn once for the pair and repeats on every report,
// so the distance evidence (1–3) averages each peer's links into one point
// (mean log10 d, mean ρ) and counts peers, not reports: twenty reports from
// three neighbours are three samples of shadowing, not twenty.
//
//  1. Distance bias: |median ρ over peers| > BiasDB over ≥ MinPeers peers.
//     A spoofer heard from far away sits tens of dB below the line
//     (suspected_spoof); above it, signals too strong for the distance
//     (suspected_rssi_forge).
//  2. Distance slope: the OLS slope b of the peers' ρ on log10(d) over
//     ≥ MinSlopePeers peers, leaving out peers further than SlopeTrimSigma
//     robust σ from the median (a cheating peer is its own evidence) (RSSI
//     falls by 10·n dB per decade when b = 0): |b| > SlopeToleranceDB with
//     |b|/SE(b) ≥ SlopeZ, SE(b) taken as at least ShadowingSigmaDB/√Sxx,
//     and sd(log10 d) ≥ SlopeMinSpread; a spoofer's RSSI does not follow its
//     asserted distances (suspected_spoof).
//  3. Too good a fit: the RMS of the peers' ρ ≤ TooGoodSigmaDB over
//     ≥ MinFitPeers peers; reports computed from asserted distances lack
//     the shadowing real links have (suspected_ring). Bias and slope are the
//     lower tail of the fit, this is its upper tail.
//  4. RSSI/SNR consistency: a witness measures SNR = RSSI − N (N =
//     NoiseFloorDBm) until the demodulator saturates, and never more.
//     gap = SNR − (RSSI − N) over its links with RSSI − N ≤ SNRCeilingDB (or
//     any link with gap > 0); |median gap| > SNRGapDB over ≥ MinSNRLinks
//     links (suspected_rssi_forge: an RSSI its own SNR denies).
//  5. Reciprocity: shadowing is the same both ways, so for each peer p
//     heard both ways a_p = mean ρ(it hears p) − mean ρ(p hears it) ≈ 0;
//     |median a_p| > AsymmetryDB over ≥ MinPairs peers
//     (suspected_rssi_forge).
//  6. Silence (witness graph): each beacon is expected at every active
//     hotspot (a witness report within ActiveWindow) whose E[RSSI] is at
//     least SilenceMarginDB above SensitivityDBm. Each such pair counts as
//     heard or missed for both ends; the missed share, over ≥ MinExpected
//     pairs and ignoring peers flagged now, above SilenceShare means the
//     hotspot is not on the air where it says. Because collisions and
//     congestion are silence too, silence alone weighs at most
//     SilenceMaxWeight (it lowers trust but cannot flag) and is named a
//     spoofer's (suspected_spoof), unless the hotspot reports a closed
//     group: at least RingShare of the links it witnessed come from at most
//     RingMaxSize hotspots. Then it is a ring (suspected_ring), at full
//     weight.
//  7. Copies (timing and identity): a witness report for a beacon that
//     repeats the exact RSSI, SNR and frequency of a witness received
//     before it, or a second report by the same witness for one beacon;
//     share > CopyShare over ≥ MinReports reports (suspected_replay).
//
// Each evidence gives x = statistic / threshold and a strength s(x) = 0 for
// x ≤ SoftStart, rising linearly to 0.5 at x = 1, then 0.75 + 0.25·(x − 1)
// capped at 1. Trust = Π (1 − s); the reason is the strongest evidence's.
// Until a hotspot has MinEvidence observations (links + expected pairs) it
// is in probation: its trust is capped at ProbationTrust and held at or
// above FlagTrust (early evidence is thin and may hold links with cheaters
// not yet caught, so it can take the multiplier to 0 but cannot flag). The
// reward multiplier is 1 at or above SoftTrust, 0 below FlagTrust, linear
// between; below FlagTrust the hotspot is flagged, and every hotspot ever
// flagged stays in Flagged().
//
// Rewards: a flagged hotspot's verdicts carry its suspected_* reason and
// earn no units (ingest asks Suspect). Every other hotspot's units of an
// epoch are multiplied, when the ledger closes the epoch, by its
// Multiplier at that moment (rewards.Weighted): a cheater caught at any
// time before the close earns nothing for the epoch, and an honest hotspot
// is paid by what its links show by then, not by its first hours.
//
// Store layout (relative to Deps.Store): f/<hotspot key> → at (8 bytes,
// Unix ns) ‖ reason ‖ evidence (JSON) — the sticky record of a hotspot's
// first flag, shown in its trust as first_flag. The evidence
// itself is rebuilt at start from the results ingest replays.
package trust

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/internal/beacon"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/ingest"
	"github.com/hexnet/hexnet/poc/verify"
)

// ErrMissingDep is returned by New when a required dependency is nil.
var ErrMissingDep = errors.New("trust: missing dependency")

// Trust is a hotspot's trust with the evidence behind it.
type Trust struct {
	Hotspot    string  `json:"hotspot"`
	Score      float64 `json:"score"`
	Multiplier float64 `json:"multiplier"`
	Flagged    bool    `json:"flagged"`
	// EverFlagged: flagged at some time (sticky, kept across restarts).
	EverFlagged bool `json:"ever_flagged"`
	// Probation: fewer than MinEvidence observations so far.
	Probation bool `json:"probation"`
	// Reason is the strongest evidence's suspected_* reason, reason_none
	// when nothing is suspicious.
	Reason poc.Reason `json:"reason"`
	// Evidence says in words what lowered the score (or that nothing did).
	Evidence []string `json:"evidence"`
	// Since is when the current state (flagged or not) began.
	Since time.Time `json:"since"`
	// Observations counts links and expected pairs in the windows.
	Observations int `json:"observations"`
	// FirstFlag is when and why it was first flagged (nil: never).
	FirstFlag *FlagRecord `json:"first_flag,omitempty"`
}

// FlagRecord is the sticky record of a hotspot's first flag.
type FlagRecord struct {
	At       time.Time  `json:"at"`
	Reason   poc.Reason `json:"reason"`
	Evidence []string   `json:"evidence"`
}

// Deps are the tracker's collaborators.
type Deps struct {
	// Registry gives asserted location, gain and region (required).
	Registry verify.Registry
	// Store keeps the sticky flags (optional: kept in memory only).
	Store *store.Space
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// ring is a bounded sliding window.
type ring[T any] struct {
	buf  []T
	next int
}

func (r *ring[T]) add(v T, n int) {
	if len(r.buf) < n {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
}

type link struct {
	x, resid float64
	peer     identity.PublicKey
	heard    bool // this hotspot witnessed the peer's beacon (else the peer witnessed its)
}

// report is one witness report: whether it copies an earlier one, and the
// chance that an honest report would match an earlier one by coincidence.
type report struct {
	copied bool
	chance float64
}

type expect struct {
	peer  identity.PublicKey
	heard bool
}

type mean struct {
	sum float64
	n   int
}

func (m *mean) add(v float64) {
	if m.n >= 64 { // a sliding-ish mean: halve the weight of the past
		m.sum, m.n = m.sum/2, m.n/2
	}
	m.sum += v
	m.n++
}

func (m mean) value() float64 { return m.sum / float64(m.n) }

type peer struct {
	hear, heard mean // residuals: it hears the peer, the peer hears it
	last        time.Time
}

type hot struct {
	pk         identity.PublicKey
	loc        h3.Cell
	ll         h3.LatLng
	bucket     h3.Cell
	region     wire.Region
	gainDB     float64
	txDBm      float64
	links      ring[link]
	gaps       ring[float64]
	reports    ring[report]
	silence    ring[expect]
	peers      map[identity.PublicKey]*peer
	lastReport time.Time
	lastSeen   time.Time
	trust      Trust
	pending    int // observations since the last rescore
}

type flagRec = FlagRecord // the in-memory form of a persisted flag

// rescoreFraction: a hotspot is rescored once its verdicts since the last
// rescore reach 1 + observations/rescoreFraction.
const rescoreFraction = 16

// bucketRes is the H3 resolution of the candidate index (res 4: ~22 km
// edge).
const bucketRes = 4

// Tracker keeps the evidence and scores. It is safe for concurrent use.
type Tracker struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu    sync.Mutex
	hs    map[identity.PublicKey]*hot
	cells map[h3.Cell]map[identity.PublicKey]*hot
	ever  map[identity.PublicKey]flagRec
	freq  map[wire.Region]float64
	subs  []func(addr string, trust json.RawMessage)
}

// New builds a tracker and loads the sticky flags; it starts nothing.
func New(cfg Config, deps Deps) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Registry == nil {
		return nil, ErrMissingDep
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	t := &Tracker{
		cfg: cfg, deps: deps, log: deps.Logger,
		hs: map[identity.PublicKey]*hot{}, cells: map[h3.Cell]map[identity.PublicKey]*hot{},
		ever: map[identity.PublicKey]flagRec{}, freq: map[wire.Region]float64{},
	}
	if deps.Store != nil {
		err := deps.Store.Iterate([]byte("f/"), func(k, v []byte) error {
			pk, err := identity.PublicKeyFromBytes(k[2:])
			if err != nil || len(v) < 9 {
				t.log.Warn("trust: bad flag record", "key", fmt.Sprintf("%x", k))
				return nil
			}
			rec := FlagRecord{At: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), Reason: poc.Reason(v[8])}
			if len(v) > 9 && json.Unmarshal(v[9:], &rec.Evidence) != nil {
				t.log.Warn("trust: bad flag evidence", "key", fmt.Sprintf("%x", k))
			}
			t.ever[pk] = rec
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("trust: load flags: %w", err)
		}
	}
	return t, nil
}

// Config returns the tracker's config.
func (t *Tracker) Config() Config { return t.cfg }

// OnTrust registers fn to receive a hotspot's trust (JSON of Trust) each
// time it changes noticeably (score by 0.01, flag, reason or probation); it
// is called on the caller of Observe, after the tracker's lock is released.
func (t *Tracker) OnTrust(fn func(addr string, trust json.RawMessage)) {
	t.mu.Lock()
	t.subs = append(t.subs, fn)
	t.mu.Unlock()
}

// hotLocked returns the state of pk, creating it from the registry; nil
// when pk is not an asserted hotspot.
func (t *Tracker) hotLocked(pk identity.PublicKey, now time.Time) *hot {
	h := t.hs[pk]
	info, ok := t.deps.Registry.Hotspot(pk)
	if !ok || !info.Asserted() {
		return h // keep what we know if the registry forgot it
	}
	if h == nil {
		if len(t.hs) >= t.cfg.MaxHotspots {
			t.evictLocked()
		}
		h = &hot{pk: pk, peers: map[identity.PublicKey]*peer{}}
		h.trust = Trust{Hotspot: pk.String(), Score: t.cfg.ProbationTrust, Probation: true, Since: now, Evidence: []string{}}
		h.trust.Multiplier = t.cfg.Multiplier(h.trust.Score)
		t.hs[pk] = h
	}
	if h.loc != info.Location {
		if h.loc != 0 { // moved: its links no longer describe where it is
			delete(t.cells[h.bucket], pk)
			h.links, h.gaps, h.silence = ring[link]{}, ring[float64]{}, ring[expect]{}
			clear(h.peers)
		}
		h.loc, h.ll = info.Location, info.Location.LatLng()
		h.bucket = info.Location.Parent(bucketRes)
		m := t.cells[h.bucket]
		if m == nil {
			m = map[identity.PublicKey]*hot{}
			t.cells[h.bucket] = m
		}
		m[pk] = h
	}
	h.region, h.gainDB = info.Region, float64(info.GainDBiX10)/10
	h.txDBm = 16
	if reg, err := lorawan.RegionByID(info.Region); err == nil {
		h.txDBm = float64(beacon.TxPower(reg.MaxEIRP, info.GainDBiX10))
	}
	if now.After(h.lastSeen) {
		h.lastSeen = now
	}
	return h
}

// evictLocked forgets the least recently seen hundredth of the hotspots.
func (t *Tracker) evictLocked() {
	all := make([]*hot, 0, len(t.hs))
	for _, h := range t.hs {
		all = append(all, h)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].lastSeen.Before(all[j].lastSeen) })
	for _, h := range all[:max(1, len(all)/100)] {
		delete(t.hs, h.pk)
		delete(t.cells[h.bucket], h.pk)
	}
}

// expected is the model's mean RSSI of b's beacon at a receiver of gain gw
// at d metres.
func (t *Tracker) expected(b *hot, gw, d, f float64) float64 {
	d = max(d, 1)
	return b.txDBm + b.gainDB + gw - verify.FSPL(1, f) - 10*t.cfg.PathLossExponent*math.Log10(d)
}

// usable reports whether a witness verdict is a measured link.
func usable(w *verify.WitnessVerdict) bool {
	if w.DistanceM <= 0 || math.IsNaN(float64(w.RSSI)) || math.IsNaN(float64(w.SNR)) || w.Frequency == 0 {
		return false
	}
	switch w.Reason {
	case poc.ReasonNone, poc.ReasonBadRSSI, poc.ReasonGatewayNoValidBeacons, poc.ReasonGatewayNoValidWitnesses,
		poc.ReasonSuspectedSpoof, poc.ReasonSuspectedRing, poc.ReasonSuspectedRSSI, poc.ReasonSuspectedReplay:
		return true
	}
	return false
}

type measurement struct {
	rssi, snr float32
	freq      uint64
}

// Observe adds a verdict's evidence (called for every published result and
// for every result ingest replays at start) and rescores the hotspots it
// touches.
func (t *Tracker) Observe(r ingest.Result) {
	if r.WitnessOnly || r.Beaconer == (identity.PublicKey{}) {
		return
	}
	now := r.ReceivedAt
	t.mu.Lock()
	dirty := map[*hot]struct{}{}
	b := t.hotLocked(r.Beaconer, now)
	if b != nil {
		dirty[b] = struct{}{}
	}
	heard := make(map[identity.PublicKey]bool, len(r.Witnesses))
	first := make(map[measurement]identity.PublicKey, len(r.Witnesses))
	freq := 0.0
	for i := range r.Witnesses {
		w := &r.Witnesses[i]
		h := t.hotLocked(w.Witness, now)
		if h == nil {
			continue
		}
		dirty[h] = struct{}{}
		if w.ReceivedAt.After(h.lastReport) {
			h.lastReport = w.ReceivedAt
		}
		m := measurement{w.RSSI, w.SNR, w.Frequency}
		rep := report{copied: heard[w.Witness]}
		if !rep.copied {
			// Honest reports match an earlier one by chance when one lies in
			// the same 0.1 dB SNR step: about 1/40 for each earlier report
			// within ±2 dB of RSSI.
			near := 0
			for em := range first {
				if em.freq == m.freq && math.Abs(float64(em.rssi-m.rssi)) <= 2 {
					near++
				}
			}
			rep.chance = math.Min(1, float64(near)/40)
			if by, ok := first[m]; ok && by != w.Witness {
				rep.copied = true
			}
		}
		if _, ok := first[m]; !ok {
			first[m] = w.Witness
		}
		copied := rep.copied
		heard[w.Witness] = true
		h.reports.add(rep, t.cfg.Window)
		if b == nil || h == b || copied || !usable(w) {
			continue
		}
		f := float64(w.Frequency)
		freq = f
		res := float64(w.RSSI) - t.expected(b, h.gainDB, w.DistanceM, f)
		l := link{x: math.Log10(max(w.DistanceM, 1)), resid: res, peer: h.pk}
		b.links.add(l, t.cfg.Window)
		l.peer, l.heard = b.pk, true
		h.links.add(l, t.cfg.Window)
		implied := float64(w.RSSI) - t.cfg.NoiseFloorDBm
		if gap := float64(w.SNR) - implied; implied <= t.cfg.SNRCeilingDB || gap > 0 {
			h.gaps.add(gap, t.cfg.Window)
		}
		t.peerLocked(h, b.pk, now).hear.add(res)
		t.peerLocked(b, h.pk, now).heard.add(res)
	}
	if b != nil && r.OtherwiseValid {
		if freq > 0 {
			t.freq[b.region] = freq
		} else if freq = t.freq[b.region]; freq == 0 {
			freq = 868e6
		}
		t.silenceLocked(b, now, freq, heard, dirty)
	}
	var notes []note
	for h := range dirty {
		// Bounded work: a hotspot is rescored when its new observations
		// reach a sixteenth of those it has (at once while it is new).
		h.pending++
		if h.pending < 1+h.trust.Observations/rescoreFraction {
			continue
		}
		h.pending = 0
		if n, ok := t.rescoreLocked(h, now); ok {
			notes = append(notes, n)
		}
	}
	subs := t.subs
	t.mu.Unlock()
	for _, n := range notes {
		for _, fn := range subs {
			fn(n.addr, n.body)
		}
	}
}

func (t *Tracker) peerLocked(h *hot, pk identity.PublicKey, now time.Time) *peer {
	p := h.peers[pk]
	if p == nil {
		if len(h.peers) >= t.cfg.PeerWindow {
			var old identity.PublicKey
			var at time.Time
			first := true
			for k, v := range h.peers {
				if first || v.last.Before(at) {
					old, at, first = k, v.last, false
				}
			}
			delete(h.peers, old)
		}
		p = &peer{}
		h.peers[pk] = p
	}
	p.last = now
	return p
}

// silenceLocked records, for every active hotspot where the model expects
// b's beacon, whether it was heard.
func (t *Tracker) silenceLocked(b *hot, now time.Time, freq float64, heard map[identity.PublicKey]bool, dirty map[*hot]struct{}) {
	// The farthest expected receiver, with a generous receiver gain of 10 dBi.
	floor := t.cfg.SensitivityDBm + t.cfg.SilenceMarginDB
	maxPL := b.txDBm + b.gainDB + 10 - floor - verify.FSPL(1, freq)
	maxD := math.Pow(10, maxPL/(10*t.cfg.PathLossExponent))
	if maxD < 1 {
		return
	}
	k := 1 + int(maxD/40000)
	if k > 4 {
		k = 4 // beyond ~160 km the model says nothing useful
	}
	for _, cell := range b.bucket.GridDisk(k) {
		for _, c := range t.cells[cell] {
			if c == b || c.region != b.region || c.lastReport.IsZero() || now.Sub(c.lastReport) > t.cfg.ActiveWindow {
				continue
			}
			d := h3.GreatCircleDistanceM(b.ll, c.ll)
			if d > maxD || t.expected(b, c.gainDB, d, freq) < floor {
				continue
			}
			h := heard[c.pk]
			b.silence.add(expect{peer: c.pk, heard: h}, t.cfg.Window)
			c.silence.add(expect{peer: b.pk, heard: h}, t.cfg.Window)
			dirty[c] = struct{}{}
		}
	}
}

type note struct {
	addr string
	body json.RawMessage
}

type evidence struct {
	reason poc.Reason
	s      float64
	text   string
}

// strength maps x = statistic/threshold to the evidence's weight.
func (t *Tracker) strength(x float64) float64 {
	switch {
	case math.IsNaN(x) || x <= t.cfg.SoftStart:
		return 0
	case x < 1:
		return 0.5 * (x - t.cfg.SoftStart) / (1 - t.cfg.SoftStart)
	}
	return math.Min(1, 0.75+0.25*(x-1))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// point is one peer's links averaged: mean log10(d) and mean residual.
type point struct{ x, y float64 }

// peerPoints averages links per peer, skipping peers skip says to; it
// returns the points (in first-seen order) and the links they hold.
func peerPoints(links []link, skip func(identity.PublicKey) bool) ([]point, int) {
	type acc struct {
		x, y float64
		n, i int
	}
	by := make(map[identity.PublicKey]*acc, 32)
	n := 0
	for _, l := range links {
		a := by[l.peer]
		if a == nil {
			if skip(l.peer) {
				continue
			}
			a = &acc{i: len(by)}
			by[l.peer] = a
		}
		a.x += l.x
		a.y += l.resid
		a.n++
		n++
	}
	pts := make([]point, len(by))
	for _, a := range by {
		pts[a.i] = point{a.x / float64(a.n), a.y / float64(a.n)}
	}
	return pts, n
}

// closedGroup reports how many distinct hotspots' beacons a hotspot's links
// say it witnessed, and the links and the share of them the top k hold.
func closedGroup(links []link, k int) (peers, top int, share float64) {
	by := make(map[identity.PublicKey]int, 16)
	n := 0
	for _, l := range links {
		if l.heard {
			by[l.peer]++
			n++
		}
	}
	if n == 0 {
		return 0, 0, 1
	}
	counts := make([]int, 0, len(by))
	for _, c := range by {
		counts = append(counts, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	for _, c := range counts[:min(k, len(counts))] {
		top += c
	}
	return len(by), top, float64(top) / float64(n)
}

// trimmedSlope is the OLS slope of y on x over the points within trim
// robust σ (1.4826·MAD, at least 3 dB) of med, with its t statistic (the
// residual σ taken as at least sigma) and the points kept; ok is false when
// the kept x spread is below minSpread.
func trimmedSlope(pts []point, med, trim, minSpread, sigma float64) (slope, z float64, kept int, ok bool) {
	dev := make([]float64, len(pts))
	for i, p := range pts {
		dev[i] = math.Abs(p.y - med)
	}
	lim := trim * math.Max(1.4826*median(dev), 3)
	var mx, my float64
	for _, p := range pts {
		if math.Abs(p.y-med) <= lim {
			mx += p.x
			my += p.y
			kept++
		}
	}
	if kept < 3 {
		return 0, 0, kept, false
	}
	mx, my = mx/float64(kept), my/float64(kept)
	var sxx, sxy float64
	for _, p := range pts {
		if math.Abs(p.y-med) <= lim {
			sxx += (p.x - mx) * (p.x - mx)
			sxy += (p.x - mx) * (p.y - my)
		}
	}
	if sxx <= 0 || math.Sqrt(sxx/float64(kept)) < minSpread {
		return 0, 0, kept, false
	}
	slope = sxy / sxx
	var sse float64
	for _, p := range pts {
		if math.Abs(p.y-med) <= lim {
			e := p.y - my - slope*(p.x-mx)
			sse += e * e
		}
	}
	se := math.Max(math.Sqrt(sse/float64(kept-2)), sigma) / math.Sqrt(sxx)
	if se == 0 {
		return slope, math.Inf(1), kept, true
	}
	return slope, slope / se, kept, true
}

// evaluateLocked computes every evidence of h.
func (t *Tracker) evaluateLocked(h *hot) (evs []evidence, obs int) {
	c := &t.cfg
	add := func(reason poc.Reason, x float64, text string) {
		if s := t.strength(x); s > 0 {
			evs = append(evs, evidence{reason, s, text})
		}
	}
	// Links with a hotspot flagged now are its evidence, not this one's.
	// A link's shadowing is the same on every report, so each peer's links
	// are averaged into one point: the statistics count peers, not reports.
	obs = len(h.links.buf) + len(h.silence.buf)
	// ... except for a hotspot flagged now itself: its links with other
	// flagged hotspots are its group's evidence, so a ring cannot clear its
	// members by being caught together (hysteresis).
	flaggedNow := func(pk identity.PublicKey) bool {
		p := t.hs[pk]
		return !h.trust.Flagged && p != nil && p.trust.Flagged
	}
	pts, nLinks := peerPoints(h.links.buf, flaggedNow)
	if n := len(pts); n >= c.MinPeers {
		res := make([]float64, n)
		for i, p := range pts {
			res[i] = p.y
		}
		med := median(res)
		if med < 0 {
			add(poc.ReasonSuspectedSpoof, -med/c.BiasDB, fmt.Sprintf("link RSSI %.0f dB below what the asserted distances give (median of %d peers, %d links; shadowing σ is about %.0f dB)", -med, n, nLinks, c.ShadowingSigmaDB))
		} else {
			add(poc.ReasonSuspectedRSSI, med/c.BiasDB, fmt.Sprintf("link RSSI %.0f dB above what the asserted distances give (median of %d peers, %d links)", med, n, nLinks))
		}
		if n >= c.MinSlopePeers {
			if slope, z, kept, ok := trimmedSlope(pts, med, c.SlopeTrimSigma, c.SlopeMinSpread, c.ShadowingSigmaDB); ok && kept >= c.MinSlopePeers && math.Abs(z) >= c.SlopeZ {
				add(poc.ReasonSuspectedSpoof, math.Abs(slope)/c.SlopeToleranceDB,
					fmt.Sprintf("RSSI changes %.0f dB per decade of asserted distance where the model says %.0f (%d peers, %.1f standard errors)", slope-10*c.PathLossExponent, -10*c.PathLossExponent, kept, math.Abs(z)))
			}
		}
		if n >= c.MinFitPeers {
			var ss float64
			for _, r := range res {
				ss += r * r
			}
			rms := math.Sqrt(ss / float64(n))
			add(poc.ReasonSuspectedRing, c.TooGoodSigmaDB/math.Max(rms, 0.1),
				fmt.Sprintf("links fit the distance model within %.1f dB RMS over %d peers where shadowing gives about %.0f: computed, not measured", rms, n, c.ShadowingSigmaDB))
		}
	}
	if n := len(h.gaps.buf); n >= c.MinSNRLinks {
		med := median(h.gaps.buf)
		off := 0
		for _, g := range h.gaps.buf {
			if math.Abs(g) > c.SNRGapDB/2 {
				off++
			}
		}
		if med < 0 {
			add(poc.ReasonSuspectedRSSI, -med/c.SNRGapDB, fmt.Sprintf("witness RSSI %.0f dB above what its SNR and the noise floor imply on %d of %d links", -med, off, n))
		} else {
			add(poc.ReasonSuspectedRSSI, med/c.SNRGapDB, fmt.Sprintf("witness SNR %.0f dB above what its RSSI and the noise floor allow on %d of %d links", med, off, n))
		}
	}
	var asym []float64
	for pk, p := range h.peers {
		if flaggedNow(pk) {
			continue
		}
		if p.hear.n > 0 && p.heard.n > 0 {
			asym = append(asym, p.hear.value()-p.heard.value())
		}
	}
	if n := len(asym); n >= c.MinPairs {
		med := median(asym)
		word := "better"
		if med < 0 {
			word = "worse"
		}
		add(poc.ReasonSuspectedRSSI, math.Abs(med)/c.AsymmetryDB,
			fmt.Sprintf("hears its peers %.0f dB %s than they hear it (median of %d links heard both ways; shadowing is the same both ways)", math.Abs(med), word, n))
	}
	missed, expected := 0, 0
	for _, e := range h.silence.buf {
		if flaggedNow(e.peer) {
			continue
		}
		expected++
		if !e.heard {
			missed++
		}
	}
	if expected >= c.MinExpected {
		reason, who, weight := poc.ReasonSuspectedSpoof, "", c.SilenceMaxWeight
		if peers, top, share := closedGroup(h.links.buf, c.RingMaxSize); share >= c.RingShare && top >= c.RingMinLinks {
			// Silent towards everyone but a closed group whose beacons it
			// mostly reports: a ring, whatever collisions do.
			reason, who, weight = poc.ReasonSuspectedRing,
				fmt.Sprintf("; %.0f %% of what it witnesses comes from %d hotspots (of %d)", 100*share, min(peers, c.RingMaxSize), peers), 1
		}
		// Silence is also what collisions and congestion look like, so on its
		// own it lowers trust but cannot flag (its weight is capped); with
		// any other evidence it can.
		if st := t.strength(float64(missed) / float64(expected) / c.SilenceShare); st > 0 {
			evs = append(evs, evidence{reason, math.Min(st, weight),
				fmt.Sprintf("silent on %d of %d links the model expects with active hotspots in range%s", missed, expected, who)})
		}
	}
	if n := len(h.reports.buf); n >= c.MinReports {
		copies, chance := 0, 0.0
		for _, r := range h.reports.buf {
			if r.copied {
				copies++
			}
			chance += r.chance
		}
		add(poc.ReasonSuspectedReplay, (float64(copies)-chance)/float64(n)/c.CopyShare,
			fmt.Sprintf("%d of %d witness reports repeat an earlier witness's exact RSSI, SNR and frequency or a beacon already reported (%.0f expected by chance)", copies, n, chance))
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].s > evs[j].s })
	return evs, obs
}

// rescoreLocked recomputes h's trust; it returns a notification when the
// trust changed noticeably.
func (t *Tracker) rescoreLocked(h *hot, now time.Time) (note, bool) {
	evs, obs := t.evaluateLocked(h)
	score := 1.0
	texts := make([]string, 0, len(evs)+1)
	reason := poc.ReasonNone
	for _, e := range evs {
		score *= 1 - e.s
		texts = append(texts, e.text)
	}
	if len(evs) > 0 {
		reason = evs[0].reason
	}
	probation := obs < t.cfg.MinEvidence
	if probation {
		// Early evidence is thin and may still hold links with cheaters not
		// yet caught: in probation it can lower the multiplier to 0 but
		// cannot flag.
		score = math.Max(math.Min(score, t.cfg.ProbationTrust), t.cfg.FlagTrust)
		texts = append(texts, fmt.Sprintf("probation: %d of %d observations needed", obs, t.cfg.MinEvidence))
	}
	if len(texts) == 0 {
		texts = append(texts, fmt.Sprintf("consistent with its asserted location over %d links and %d expected links", len(h.links.buf), len(h.silence.buf)))
	}
	old := h.trust
	flagged := score < t.cfg.FlagTrust
	nt := Trust{
		Hotspot: old.Hotspot, Score: math.Round(score*1e4) / 1e4, Multiplier: t.cfg.Multiplier(score), Flagged: flagged,
		Probation: probation, Reason: reason, Evidence: texts, Since: old.Since, Observations: obs,
	}
	if flagged != old.Flagged {
		nt.Since = now
	}
	if flagged {
		if _, ok := t.ever[h.pk]; !ok {
			rec := FlagRecord{At: now, Reason: reason, Evidence: append([]string(nil), texts...)}
			t.ever[h.pk] = rec
			t.persistFlag(h.pk, rec)
			t.log.Info("trust: hotspot flagged", "hotspot", h.pk.String(), "reason", reason.String(), "score", nt.Score, "evidence", strings.Join(texts, "; "))
		}
	}
	if rec, ok := t.ever[h.pk]; ok {
		nt.EverFlagged, nt.FirstFlag = true, &rec
	}
	h.trust = nt
	if math.Abs(nt.Score-old.Score) < 0.01 && nt.Flagged == old.Flagged && nt.Reason == old.Reason && nt.Probation == old.Probation && nt.EverFlagged == old.EverFlagged {
		return note{}, false
	}
	body, err := json.Marshal(nt)
	if err != nil {
		return note{}, false
	}
	return note{addr: nt.Hotspot, body: body}, true
}

// persistFlag stores rec as f/<key> → at (8 bytes, Unix ns) ‖ reason ‖
// evidence (JSON array of strings).
func (t *Tracker) persistFlag(pk identity.PublicKey, rec FlagRecord) {
	if t.deps.Store == nil {
		return
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(rec.At.UnixNano()))
	v = append(v, byte(rec.Reason))
	if ev, err := json.Marshal(rec.Evidence); err == nil {
		v = append(v, ev...)
	}
	if err := t.deps.Store.Set(append([]byte("f/"), pk[:]...), v, true); err != nil {
		t.log.Warn("trust: persist flag", "hotspot", pk.String(), "err", err)
	}
}

// Score returns pk's trust. A hotspot never observed is in probation
// (ProbationTrust), or flagged when the sticky record says so.
func (t *Tracker) Score(pk identity.PublicKey) Trust {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hs[pk]; h != nil {
		tr := h.trust
		tr.Evidence = append([]string(nil), tr.Evidence...)
		if f, ok := t.ever[pk]; ok {
			tr.EverFlagged, tr.FirstFlag = true, &f
		}
		return tr
	}
	tr := Trust{Hotspot: pk.String(), Score: t.cfg.ProbationTrust, Multiplier: t.cfg.Multiplier(t.cfg.ProbationTrust), Probation: true,
		Evidence: []string{"no observations yet"}}
	if f, ok := t.ever[pk]; ok {
		tr.EverFlagged, tr.Reason, tr.Since, tr.FirstFlag = true, f.Reason, f.At, &f
	}
	return tr
}

// Suspect is what ingest asks of each verdict (ingest.Trust): the
// suspected_* reason of a hotspot flagged now, else ReasonNone. With
// Enforce off it is always ReasonNone.
func (t *Tracker) Suspect(pk identity.PublicKey) poc.Reason {
	if !t.cfg.Enforce {
		return poc.ReasonNone
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hs[pk]; h != nil && h.trust.Flagged {
		return h.trust.Reason
	}
	return poc.ReasonNone
}

// Multiplier is what an epoch's close applies to a hotspot's PoC units
// (rewards.Weighted): its reward multiplier now (0 when flagged,
// ProbationTrust's for a hotspot never observed). With Enforce off it is
// always 1.
func (t *Tracker) Multiplier(pk identity.PublicKey) float64 {
	if !t.cfg.Enforce {
		return 1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hs[pk]
	if h == nil {
		return t.cfg.Multiplier(t.cfg.ProbationTrust)
	}
	if h.trust.Flagged {
		return 0
	}
	return h.trust.Multiplier
}

// Flagged returns every hotspot flagged at any time (kept across restarts
// when Deps.Store is set), each mapped to true; Score says whether it is
// flagged now.
func (t *Tracker) Flagged() map[identity.PublicKey]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[identity.PublicKey]bool, len(t.ever))
	for pk := range t.ever {
		out[pk] = true
	}
	return out
}
