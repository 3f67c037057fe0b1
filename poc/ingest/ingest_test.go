package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/verify"
)

// small is a beaconer with three witnesses 1–3 km away, with reciprocity
// history so that every rule passes.
type small struct {
	e   *env
	b   *hs
	ws  []*hs
	br  *wire.BeaconReport
	bp  []byte
	wps [][]byte
}

func newSmall(t testing.TB, e *env) *small {
	s := &small{e: e, b: e.hotspot("b", 48.10, 11.50)}
	for i, d := range []float64{0.01, 0.02, 0.03} {
		s.ws = append(s.ws, e.hotspot(string(rune('x'+i)), 48.10+d, 11.50))
	}
	s.seedHistory()
	ent, ets := e.entropy()
	e.clk.Advance(20 * time.Second)
	s.br, s.bp = beaconReport(t, s.b, ent, ets, []byte{1, 2, 3, 4})
	for _, w := range s.ws {
		s.wps = append(s.wps, witnessReport(t, w, s.b, s.br))
	}
	return s
}

// seedHistory gives the group's hotspots reciprocity history an hour old,
// as earlier days' results would (the history is rebuilt from stored
// results only, so a test that reopens the store seeds it again).
func (s *small) seedHistory() {
	for _, h := range append([]*hs{s.b}, s.ws...) {
		s.e.hist.SetLastWitness(h.key.Public(), s.e.clk.Now().Add(-time.Hour))
		s.e.hist.SetLastWitnessedBeacon(h.key.Public(), s.e.clk.Now().Add(-time.Hour))
	}
}

// admitAll hands the beacon and its witnesses to Handle concurrently and
// fails the test on any error.
func (s *small) admitAll(t testing.TB) {
	t.Helper()
	for i, err := range s.e.handleAll(append([][]byte{s.bp}, s.wps...)) {
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
}

func TestJoinVerdictQuery(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	// The first witness arrives before its beacon and waits for it.
	if err := e.p.Handle(wire.PoCTopic(0), s.wps[0]); err != nil {
		t.Fatal(err)
	}
	e.advance(500 * time.Millisecond)
	if err := e.p.Handle(wire.PoCTopic(0), s.bp); err != nil {
		t.Fatal(err)
	}
	for i, err := range e.handleAll(s.wps[1:]) {
		if err != nil {
			t.Fatalf("witness %d: %v", i+1, err)
		}
	}
	e.advance(4 * time.Second)
	if got := e.take(); len(got) != 0 {
		t.Fatalf("judged before the window closed: %+v", got)
	}
	e.advance(2 * time.Second)
	got := e.take()
	if len(got) != 1 {
		t.Fatalf("got %d results, want 1", len(got))
	}
	r := got[0]
	if r.Reason != poc.ReasonNone || len(r.Witnesses) != 3 || r.Beaconer != s.b.key.Public() {
		t.Fatalf("result %+v", r)
	}
	wantB, wantW := 0.75, 1.0 // HIP-15 with w = 3, alone in its hexes: scale 1
	if r.Scale != 1 || !near(r.Units, wantB) {
		t.Errorf("scale %v units %v, want 1 and %v", r.Scale, r.Units, wantB)
	}
	for _, w := range r.Witnesses {
		if w.Reason != poc.ReasonNone || !near(w.Units, wantW) {
			t.Errorf("witness %+v", w)
		}
	}
	if tot := e.acc.Get(e.p.epoch(r.ReceivedAt), s.b.key.Public()); !near(tot.Beacon, wantB) {
		t.Errorf("accumulated %+v", tot)
	}
	if sc, ok := e.dens.Scale(s.b.key.Public()); !ok || sc != 1 {
		t.Errorf("density scale %v %v", sc, ok)
	}

	// The query API, through a real socket.
	mux := http.NewServeMux()
	mux.Handle(QueryPattern, e.p.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var body HotspotPoC
	getJSON(t, srv.URL+"/api/v1/hotspots/"+s.ws[1].key.Address().String()+"/poc?limit=5", http.StatusOK, &body)
	if len(body.Items) != 1 || body.Items[0].Role != "witness" || len(body.Items[0].Witnesses) != 1 ||
		body.Items[0].Witnesses[0].Witness != s.ws[1].key.Address().String() || body.Items[0].Beaconer != s.b.key.Address().String() {
		t.Fatalf("witness view %+v", body)
	}
	getJSON(t, srv.URL+"/api/v1/hotspots/"+s.b.key.Address().String()+"/poc", http.StatusOK, &body)
	if len(body.Items) != 1 || body.Items[0].Role != "beacon" || len(body.Items[0].Witnesses) != 3 || !near(body.Items[0].Units, wantB) {
		t.Fatalf("beacon view %+v", body)
	}
	raw := getRaw(t, srv.URL+"/api/v1/hotspots/"+s.b.key.Address().String()+"/poc", http.StatusOK)
	if !bytes.Contains(raw, []byte(`"reason":"reason_none"`)) {
		t.Errorf("reason names missing: %s", raw)
	}
	for _, c := range []struct{ path, code string }{
		{"/api/v1/hotspots/nope/poc", "bad_address"},
		{"/api/v1/hotspots/" + s.b.key.Address().String() + "/poc?limit=0", "bad_limit"},
		{"/api/v1/hotspots/" + s.b.key.Address().String() + "/poc?limit=x", "bad_limit"},
		{"/api/v1/hotspots/" + s.b.key.Address().String() + "/poc?limit=1001", "bad_limit"},
	} {
		var ae APIError
		getJSON(t, srv.URL+c.path, http.StatusBadRequest, &ae)
		if ae.Error.Code != c.code || ae.Error.Message == "" {
			t.Errorf("%s: %+v", c.path, ae)
		}
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }

func getRaw(t *testing.T, url string, status int) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: status %d (%s), want %d: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), status, buf.String())
	}
	return buf.Bytes()
}

func getJSON(t *testing.T, url string, status int, v any) {
	t.Helper()
	if err := json.Unmarshal(getRaw(t, url, status), v); err != nil {
		t.Fatal(err)
	}
}

// TestRejections: every refused report is counted under its reason.
func TestRejections(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	stranger := &hs{key: key(t, "stranger"), loc: s.b.loc}
	_, strangerBeacon := beaconReport(t, stranger, s.br.Entropy, s.br.EntropyTimestamp, []byte{9, 9, 9, 9})
	unasserted := e.hotspot("unasserted", 48.2, 11.6)
	if err := e.reg.Put(verify.Hotspot{Key: unasserted.key.Public(), Region: wire.Region_EU868}); err != nil {
		t.Fatal(err)
	}
	_, unassertedBeacon := beaconReport(t, unasserted, s.br.Entropy, s.br.EntropyTimestamp, []byte{8, 8, 8, 8})

	forged := bytes.Clone(s.wps[0])
	forged[len(forged)-1] ^= 1 // last byte of the signature
	wrongSigner := bytes.Clone(s.wps[1])
	i := bytes.Index(wrongSigner, s.ws[1].key.Public().Bytes())
	copy(wrongSigner[i:], s.ws[2].key.Public().Bytes()) // signed by ws[1], claims ws[2]

	if err := e.p.Handle("t", s.bp); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		payload []byte
		want    poc.Reason
	}{
		{"oversize", bytes.Repeat([]byte{0}, wire.MaxMessageSize+1), poc.ReasonOversize},
		{"garbage", []byte{0xff, 0xff, 0xff}, poc.ReasonMalformed},
		{"empty", nil, poc.ReasonMalformed},
		{"forged_signature", forged, poc.ReasonBadSignature},
		{"wrong_signer", wrongSigner, poc.ReasonBadSignature},
		{"unknown_hotspot", strangerBeacon, poc.ReasonGatewayNotFound},
		{"not_asserted", unassertedBeacon, poc.ReasonNotAsserted},
		{"replayed_beacon", s.bp, poc.ReasonDuplicate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.rejected(c.want.String())
			err := e.p.Handle("t", c.payload)
			if !errors.Is(err, ErrRejected) || ReasonOf(err) != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
			if got := e.rejected(c.want.String()); got != before+1 {
				t.Errorf("counter %s = %v, want %v", c.want, got, before+1)
			}
		})
	}
	// Concurrent copies of one witness: exactly one is accepted.
	errs := e.handleAll([][]byte{s.wps[2], s.wps[2], s.wps[2], s.wps[2]})
	ok := 0
	for _, err := range errs {
		switch ReasonOf(err) {
		case poc.ReasonNone:
			ok++
		case poc.ReasonDuplicate:
		default:
			t.Errorf("copy: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d copies accepted, want 1", ok)
	}
	// The wrong_signer case was a bad signature in ws[2]'s name: its next
	// reports are checked alone (not in a batch they could spoil), and its
	// genuine one is still accepted.
	var alone dto.Metric
	if err := e.p.m.alone.Write(&alone); err != nil {
		t.Fatal(err)
	}
	if n := alone.GetCounter().GetValue(); n != 4 {
		t.Errorf("%v reports checked alone, want ws[2]'s 4 copies", n)
	}
	e.advance(10 * time.Second)
	got := e.take()
	if len(got) != 1 || len(got[0].Witnesses) != 1 || got[0].Reason != poc.ReasonNone {
		t.Fatalf("results %+v", got)
	}
}

// TestCrashRecovery: a report acknowledged by Handle survives a restart
// before verification and is judged after it; its copy is still a duplicate.
func TestCrashRecovery(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	s.admitAll(t)
	// Crash: the pipeline never flushed; close everything and reopen. The
	// history is rebuilt from stored results only, so seed it again as
	// the previous days' results would.
	e.reopen()
	s.seedHistory()
	if err := e.p.Handle("t", s.wps[0]); ReasonOf(err) != poc.ReasonDuplicate {
		t.Fatalf("redelivery after restart: %v", err)
	}
	e.advance(6 * time.Second)
	got := e.take()
	if len(got) != 1 || got[0].Reason != poc.ReasonNone || len(got[0].Witnesses) != 3 {
		t.Fatalf("after restart: %+v", got)
	}
	// And a second restart replays the stored result into history and
	// density instead of judging again.
	e.reopen()
	e.advance(10 * time.Second)
	if got := e.take(); len(got) != 0 {
		t.Fatalf("judged twice: %+v", got)
	}
	if _, ok := e.hist.LastWitnessedBeacon(s.b.key.Public()); !ok {
		t.Error("history not rebuilt from stored results")
	}
	if sc, ok := e.dens.Scale(s.b.key.Public()); !ok || sc != 1 {
		t.Errorf("density not rebuilt: %v %v", sc, ok)
	}
	items, err := e.p.Query(s.b.key.Public(), 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("query after restart: %v %+v", err, items)
	}
}

// TestOrphansAndLate: a witness whose beacon never comes is
// beacon_not_found after BeaconWait; a witness after the window is too_late;
// a second copy of a beacon is a duplicate; MaxWaiting bounds the orphans.
func TestOrphansAndLate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxWaiting = 1
	e := newEnv(t, cfg)
	s := newSmall(t, e)
	_, other := beaconReport(t, s.b, s.br.Entropy, s.br.EntropyTimestamp, []byte{5, 5, 5, 5})
	_ = other
	// An orphan witness of a beacon that never arrives.
	ghostBR, _ := beaconReport(t, s.ws[0], s.br.Entropy, s.br.EntropyTimestamp, []byte{7, 7, 7, 7})
	orphan := witnessReport(t, s.ws[1], s.ws[0], ghostBR)
	ghost2, _ := beaconReport(t, s.ws[0], s.br.Entropy, s.br.EntropyTimestamp, []byte{6, 6, 6, 6})
	orphan2 := witnessReport(t, s.ws[2], s.ws[0], ghost2)
	if err := e.p.Handle("t", orphan); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Handle("t", orphan2); err != nil { // over MaxWaiting: judged at once
		t.Fatal(err)
	}
	e.flush()
	got := e.take()
	if len(got) != 1 || !got[0].WitnessOnly || got[0].Reason != poc.ReasonBeaconNotFound {
		t.Fatalf("over max_waiting: %+v", got)
	}
	if err := e.p.Handle("t", s.bp); err != nil {
		t.Fatal(err)
	}
	e.advance(6 * time.Second) // the beacon's window closes (no witnesses)
	if got := e.take(); len(got) != 1 || got[0].WitnessOnly || len(got[0].Witnesses) != 0 {
		t.Fatalf("beacon alone: %+v", got)
	}
	if err := e.p.Handle("t", s.wps[0]); err != nil { // after the window
		t.Fatal(err)
	}
	e.flush()
	if got := e.take(); len(got) != 1 || got[0].Witnesses[0].Reason != poc.ReasonTooLate || got[0].Beaconer != s.b.key.Public() {
		t.Fatalf("late witness: %+v", got)
	}
	e.advance(5 * time.Second) // the orphan has now waited 11 s
	got = e.take()
	if len(got) != 1 || got[0].Reason != poc.ReasonBeaconNotFound || got[0].Witnesses[0].Reason != poc.ReasonBeaconNotFound {
		t.Fatalf("orphan: %+v", got)
	}
	items, err := e.p.Query(s.ws[1].key.Public(), 10)
	if err != nil || len(items) != 1 || items[0].Witnesses[0].Reason != poc.ReasonBeaconNotFound {
		t.Fatalf("orphan in query: %v %+v", err, items)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	forever := DefaultConfig()
	forever.ResultRetention = 0
	if err := forever.Validate(); err != nil {
		t.Fatalf("result_retention 0: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"size":   func(c *Config) { c.MaxReportSize = wire.MaxMessageSize + 1 },
		"batch":  func(c *Config) { c.MaxBatch = 0 },
		"queue":  func(c *Config) { c.QueueSize = 0 },
		"wait":   func(c *Config) { c.BeaconWait = 0 },
		"epoch":  func(c *Config) { c.EpochLength = 0 },
		"replay": func(c *Config) { c.ReplayWindow = 0 },
		// Retention shorter than the replay, or negative; 0 is for ever.
		"retention_short":    func(c *Config) { c.ResultRetention = c.ReplayWindow - time.Hour },
		"retention_negative": func(c *Config) { c.ResultRetention = -time.Hour },
	} {
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	e.handleAll(append([][]byte{s.bp}, s.wps...))
	e.advance(6 * time.Second)
	r := e.take()[0]
	b := appendRecord(nil, &r)
	back, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(appendRecord(nil, back), b) {
		t.Fatal("record does not round-trip")
	}
	for n := range b {
		if _, err := decodeRecord(b[:n]); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
}

// TestSweepKeepsPending: the dedup sweep deletes the expired hashes of
// judged reports only; a report still waiting for its verdict (its entry
// carries the payload) survives a sweep past its expiry and is judged
// after a restart.
func TestSweepKeepsPending(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	s.admitAll(t)
	entries := func() (pending, judged int) {
		t.Helper()
		err := e.p.deps.Store.Iterate([]byte("s/"), func(k, v []byte) error {
			if len(v) > pendingHeader {
				pending++
			} else {
				judged++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return pending, judged
	}
	late := e.clk.Now().Add(2 * DefaultConfig().DedupTTL)
	if err := e.p.sweep(late); err != nil {
		t.Fatal(err)
	}
	if p, j := entries(); p != 1+len(s.wps) || j != 0 {
		t.Fatalf("after sweep: %d pending, %d judged entries", p, j)
	}
	e.reopen()
	s.seedHistory()
	e.advance(6 * time.Second)
	if got := e.take(); len(got) != 1 || got[0].Reason != poc.ReasonNone || len(got[0].Witnesses) != len(s.wps) {
		t.Fatalf("after restart: %+v", got)
	}
	if p, j := entries(); p != 0 || j != 1+len(s.wps) {
		t.Fatalf("after verdict: %d pending, %d judged entries", p, j)
	}
	if err := e.p.sweep(late); err != nil {
		t.Fatal(err)
	}
	if p, j := entries(); p != 0 || j != 0 {
		t.Fatalf("after expiry: %d pending, %d judged entries", p, j)
	}
}
