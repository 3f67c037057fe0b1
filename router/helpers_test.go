package router

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

// fakeHotspots is an onboarding directory.
type fakeHotspots map[identity.PublicKey]bool

func (f fakeHotspots) Hotspot(pk identity.PublicKey) (HotspotInfo, bool) {
	return HotspotInfo{}, f[pk]
}

// fakeSender records uplinks and fails when told to.
type fakeSender struct {
	mu   sync.Mutex
	dest routes.Destination
	ups  []*delivery.Uplink
	fail bool
	got  chan *delivery.Uplink
	gate chan struct{} // when set, Send waits for it (or ctx) first
}

func (s *fakeSender) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (s *fakeSender) Close() error                  { return nil }
func (s *fakeSender) Send(ctx context.Context, u *delivery.Uplink) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("destination down")
	}
	s.ups = append(s.ups, u)
	select {
	case s.got <- u:
	default:
	}
	return nil
}

type fakePub struct {
	mu   sync.Mutex
	msgs map[string][][]byte
}

func (p *fakePub) Publish(topic string, b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.msgs == nil {
		p.msgs = map[string][][]byte{}
	}
	p.msgs[topic] = append(p.msgs[topic], b)
	return nil
}

// failingDC fails every debit with a storage error.
type failingDC struct{ dc.Ledger }

func (failingDC) Debit(dc.Charge) (bool, error) {
	return false, errors.New("disk on fire")
}

type env struct {
	t        testing.TB
	r        *Router
	clk      *clock.Manual
	routes   *routes.Service
	dc       *dc.Store
	hotspots fakeHotspots
	keys     []*identity.Key
	routerK  *identity.Key
	pub      *fakePub
	reg      *prometheus.Registry
	mu       sync.Mutex
	senders  map[string]*fakeSender
}

var (
	appKey  = lorawan.Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	nwkSKey = lorawan.Key{0x10, 2, 3}
	appSKey = lorawan.Key{0x20, 2, 3}
	joinEUI = lorawan.EUI64{0, 0, 0, 0, 0, 0, 0, 0x42}
	devEUI  = lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0, 0, 1}
	devAddr = lorawan.DevAddr{0x48, 0, 0, 0x10}
)

func newEnv(t testing.TB, cfg Config, mod func(*Deps)) *env {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, clk: clock.NewManual(time.Unix(1_700_000_000, 0)), hotspots: fakeHotspots{},
		pub: &fakePub{}, reg: prometheus.NewRegistry(), senders: map[string]*fakeSender{}}
	e.routes, _ = routes.Open(db.Prefix("router/").Prefix("routes/"))
	e.dc = dc.NewStore(db.Prefix("router/").Prefix("dc/"))
	for i := 0; i < 4; i++ {
		k, _ := identity.Generate()
		e.keys = append(e.keys, k)
		if i < 3 {
			e.hotspots[k.Public()] = true
		}
	}
	e.routerK, _ = identity.Generate()
	deps := Deps{Routes: e.routes, Hotspots: e.hotspots, DC: e.dc, Publisher: e.pub,
		Key: e.routerK, Registry: e.reg, Clock: e.clk,
		Dial: func(d routes.Destination, down func(delivery.Downlink)) (delivery.Sender, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			s := e.senders[d.Address]
			if s == nil {
				s = &fakeSender{dest: d, got: make(chan *delivery.Uplink, 100)}
				e.senders[d.Address] = s
			}
			return s, nil
		}}
	if mod != nil {
		mod(&deps)
	}
	e.r, err = New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) sender(addr string) *fakeSender {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.senders[addr]
	if s == nil {
		s = &fakeSender{dest: routes.Destination{Address: addr}, got: make(chan *delivery.Uplink, 100)}
		e.senders[addr] = s
	}
	return s
}

func (e *env) addRoute(id, payer string, maxCopies uint32, mod func(*routes.Route)) {
	rt := routes.Route{ID: id, OUI: 1, Payer: payer, MaxCopies: maxCopies, Active: true,
		DevAddrRanges: []routes.DevAddrRange{{Start: 0x48000000, End: 0x480000ff}},
		EUIs:          []routes.EUIPair{{JoinEUI: 0x42, DevEUI: 0}},
		Destinations:  []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: id + ".lns:1700"}}}
	if mod != nil {
		mod(&rt)
	}
	if err := e.routes.Put(rt); err != nil {
		e.t.Fatal(err)
	}
}

func dataFrame(t testing.TB, fcnt uint32, size int) []byte {
	b, err := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, DevAddr: devAddr, FCnt: fcnt,
		HasFPort: true, FPort: 1, FRMPayload: make([]byte, size)}, lorawan.SessionKeys{NwkSKey: nwkSKey, AppSKey: appSKey})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func joinFrame(t testing.TB, nonce uint16) []byte {
	b, err := lorawan.BuildJoinRequest(joinEUI, devEUI, nonce, appKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// up builds a signed PacketUp from hotspot k and returns its topic and bytes.
func up(t testing.TB, k *identity.Key, phy []byte, rssi float32, tmst uint32) (string, []byte) {
	p := &wire.PacketUp{Payload: phy, Tmst: tmst, Rssi: rssi, Snr: 5, Frequency: 868_100_000,
		DataRate: "SF7BW125", Region: wire.Region_EU868, CodingRate: "4/5"}
	if err := k.Sign(p); err != nil {
		t.Fatal(err)
	}
	b, err := wire.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return wire.UpTopic(wire.Partition(phy)), b
}

func (e *env) dropped(r Reason) float64 {
	return counterValue(e.r.m.dropped.WithLabelValues(string(r)))
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
