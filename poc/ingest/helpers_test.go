package ingest

import (
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc/density"
	"github.com/hexnet/hexnet/poc/rewards"
	"github.com/hexnet/hexnet/poc/verify"
)

// entropies is the test's view of the entropy oracle.
type entropies struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *entropies) EntropyTimestamp(d []byte) (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.m[string(d)]
	return t, ok
}

// env is a pipeline over an on-disk store with a manual clock.
type env struct {
	t    testing.TB
	dir  string
	clk  *clock.Manual
	db   *store.DB
	reg  *Registry
	ents *entropies
	hist *verify.MemHistory
	dens *density.Map
	acc  *rewards.Accumulator
	prom *prometheus.Registry
	p    *Pipeline
	cfg  Config
	// trust is the gaming detector given to the pipeline (nil: none); set
	// before open.
	trust Trust

	mu      sync.Mutex
	results []Result
}

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func newEnv(t testing.TB, cfg Config) *env {
	e := &env{t: t, dir: t.TempDir(), clk: clock.NewManual(day0), ents: &entropies{m: map[string]int64{}}, cfg: cfg}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	t := e.t
	db, err := store.Open(e.dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	sp := db.Prefix("poc/")
	if e.reg, err = NewRegistry(sp.Prefix("registry/")); err != nil {
		t.Fatal(err)
	}
	e.hist = verify.NewMemHistory()
	if e.dens, err = density.New(density.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	e.acc = rewards.NewAccumulator()
	v, err := verify.New(verify.DefaultConfig(), verify.Deps{Registry: e.reg, Entropies: e.ents, Build: verify.BeaconBuilder, History: e.hist})
	if err != nil {
		t.Fatal(err)
	}
	e.prom = prometheus.NewRegistry()
	e.p, err = New(e.cfg, Deps{
		Store: sp.Prefix("ingest/"), Registry: e.reg, Verifier: v, History: e.hist, Density: e.dens,
		Rewards: e.acc, Trust: e.trust, Clock: e.clk, Metrics: e.prom,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p.OnResult(func(r Result) { e.mu.Lock(); e.results = append(e.results, r); e.mu.Unlock() })
	if err := e.p.Recover(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) close() {
	if e.p != nil {
		_ = e.p.Close()
	}
	if e.db != nil {
		_ = e.db.Close()
	}
}

// reopen simulates a restart: nothing is flushed or verified first.
func (e *env) reopen() {
	e.close()
	e.mu.Lock()
	e.results = nil
	e.mu.Unlock()
	e.open()
}

func (e *env) flush() {
	if err := e.p.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) advance(d time.Duration) { e.clk.Advance(d); e.flush() }

func (e *env) take() []Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.results
	e.results = nil
	return r
}

func (e *env) rejected(reason string) float64 {
	c, err := e.prom.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range c {
		if mf.GetName() != "hexnet_poc_ingest_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// hs is a test hotspot.
type hs struct {
	key *identity.Key
	loc h3.Cell
	ll  h3.LatLng
}

func key(t testing.TB, seed string) *identity.Key {
	s := sha256.Sum256([]byte("ingest test " + seed))
	k, err := identity.FromSeed(s[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hotspot registers a hotspot at lat/lng (EU868, 0 dBi).
func (e *env) hotspot(seed string, lat, lng float64) *hs {
	k := key(e.t, seed)
	ll := h3.NewLatLng(lat, lng)
	c := h3.LatLngToCell(ll, 12)
	if err := e.reg.Put(verify.Hotspot{Key: k.Public(), Location: c, Region: wire.Region_EU868}); err != nil {
		e.t.Fatal(err)
	}
	return &hs{key: k, loc: c, ll: ll}
}

// entropy makes a new entropy value at the clock's time.
func (e *env) entropy() ([]byte, int64) {
	ts := e.clk.Now().Unix()
	d := sha256.Sum256([]byte(fmt.Sprint("entropy", ts)))
	e.ents.mu.Lock()
	e.ents.m[string(d[:])] = ts
	e.ents.mu.Unlock()
	return d[:], ts
}

func marshal(t testing.TB, m *wire.PocReport) []byte {
	b, err := wire.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// beaconReport builds a real signed beacon report of h.
func beaconReport(t testing.TB, h *hs, ent []byte, ets int64, local []byte) (*wire.BeaconReport, []byte) {
	exp, err := verify.BeaconBuilder(ent, ets, local, wire.Region_EU868, 0)
	if err != nil {
		t.Fatal(err)
	}
	br := &wire.BeaconReport{
		Entropy: ent, EntropyTimestamp: ets, LocalEntropy: local, Data: exp.Payload, Frequency: exp.Frequency,
		DataRate: exp.DataRate, TxPowerDbm: exp.TxPowerDBm, TimestampMs: uint64(ets * 1000), Region: wire.Region_EU868,
	}
	if err := h.key.Sign(br); err != nil {
		t.Fatal(err)
	}
	return br, marshal(t, &wire.PocReport{Report: &wire.PocReport_Beacon{Beacon: br}})
}

// witnessReport builds a real signed witness report of w hearing beacon br,
// with an RSSI 10 dB under the free-space ceiling.
func witnessReport(t testing.TB, w, b *hs, br *wire.BeaconReport) []byte {
	d := verify.DistanceM(w.loc, b.loc)
	rssi := float64(br.GetTxPowerDbm()) - verify.FSPL(math.Max(d, 1), float64(br.GetFrequency())) - 10
	wr := &wire.WitnessReport{
		Data: br.GetData(), Rssi: float32(rssi), Snr: -5, Frequency: br.GetFrequency(), DataRate: br.GetDataRate(),
		TimestampMs: br.GetTimestampMs() + 1000, Region: wire.Region_EU868,
	}
	if err := w.key.Sign(wr); err != nil {
		t.Fatal(err)
	}
	return marshal(t, &wire.PocReport{Report: &wire.PocReport_Witness{Witness: wr}})
}

// handleAll calls Handle concurrently for every payload and returns the errors in order.
func (e *env) handleAll(payloads [][]byte) []error {
	errs := make([]error, len(payloads))
	var wg sync.WaitGroup
	for i, pl := range payloads {
		wg.Go(func() { errs[i] = e.p.Handle(wire.PoCTopic(0), pl) })
	}
	wg.Wait()
	return errs
}
