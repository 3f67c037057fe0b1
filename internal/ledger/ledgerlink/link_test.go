package ledgerlink

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc/rewards"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/routes"
)

func key(t *testing.T, b byte) *identity.Key {
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAdapters(t *testing.T) {
	admin, maker, owner, oracle, hs := key(t, 1), key(t, 2), key(t, 3), key(t, 5), key(t, 9)
	cfg := ledger.DefaultConfig()
	cfg.Admin = string(admin.Address())
	cfg.EpochLength, cfg.CloseDelay = 10*time.Second, 0
	cfg.OnboardFeeDC, cfg.LocationFeeDC, cfg.OUIFeeDC = 1, 1, 1
	cfg.Allocations = []string{string(maker.Address()) + "=0:100", string(owner.Address()) + "=0:10"}
	now := time.Unix(1_700_000_000, 0)
	acc := rewards.NewAccumulator()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var l *ledger.Ledger
	l, err := ledger.New(cfg, ledger.Deps{Store: ledger.NewMemKV(), Oracle: oracle, Clock: func() time.Time { return now }, Logger: quiet,
		BeforeClose: func(e uint64) error { return PumpPoC(l, acc, e, quiet) }})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sub := func(k *identity.Key, m identity.Signed) {
		t.Helper()
		b, err := ledger.SignOp(k, m)
		must(err)
		must(l.Submit(b))
	}
	sub(admin, &ledgerpb.RegisterMaker{Nonce: 1, Maker: maker.Public().Bytes()})
	ob := &ledgerpb.OnboardHotspot{Hotspot: hs.Public().Bytes(), Owner: owner.Public().Bytes(), Maker: maker.Public().Bytes(), Nonce: 1}
	must(ledger.SignOnboardOwner(ob, owner))
	must(ledger.SignOnboardMaker(ob, maker))
	b, _ := ledger.EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_OnboardHotspot{OnboardHotspot: ob}})
	must(l.Submit(b))
	sub(owner, &ledgerpb.AssertLocation{Nonce: 1, Hotspot: hs.Public().Bytes(), H3: 0x8c1fb46741a13ff, Gain: 25})

	// PoC registry and router hotspots
	v, ok := PoCRegistry{l}.Hotspot(hs.Public())
	if !ok || !v.Asserted() || v.Region != wire.Region_EU868 || v.GainDBiX10 != 25 {
		t.Fatalf("registry: %+v", v)
	}
	if _, ok := (PoCRegistry{l}).Hotspot(owner.Public()); ok {
		t.Fatal("owner is not a hotspot")
	}
	if h, ok := (RouterHotspots{l}).Hotspot(hs.Public()); !ok || h.Owner != string(owner.Address()) {
		t.Fatalf("router hotspot: %+v", h)
	}

	// routes mirror OUIs with a destination
	svc, err := routes.Open(nil)
	must(err)
	must(svc.Put(routes.Route{ID: "manual", Payer: "p", MaxCopies: 1, Destinations: []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: "127.0.0.1:1"}}}))
	rs := NewRouteSync(l, svc, time.Second, quiet)
	sub(maker, &ledgerpb.CreateOUI{Nonce: 2})
	must(rs.SyncOnce())
	if _, err := svc.Get("oui-1"); !routes.IsNotFound(err) {
		t.Fatalf("OUI without destination routed: %v", err)
	}
	sub(maker, &ledgerpb.UpdateOUI{Nonce: 3, Oui: 1, Change: &ledgerpb.UpdateOUI_Destinations{Destinations: &ledgerpb.Destinations{
		Destinations: []*ledgerpb.Destination{{Protocol: ledger.ProtocolGWMP, Endpoint: "127.0.0.1:1700"}}}}})
	sub(maker, &ledgerpb.UpdateOUI{Nonce: 4, Oui: 1, Change: &ledgerpb.UpdateOUI_AddEuis{AddEuis: &ledgerpb.EUIPairs{Pairs: []*ledgerpb.EUIPair{{JoinEui: 1, DevEui: 2}}}}})
	must(rs.SyncOnce())
	r, err := svc.Get("oui-1")
	if err != nil || r.Payer != string(maker.Address()) || len(r.DevAddrRanges) != 1 || len(r.EUIs) != 1 || r.Locked {
		t.Fatalf("route: %+v %v", r, err)
	}
	if _, err := svc.Get("manual"); err != nil {
		t.Fatal("manual route removed")
	}

	// DC through the router's interface
	d := RouterDC{l}
	var topped []string
	d.Subscribe(func(p string) { topped = append(topped, p) })
	start := d.Balance(string(maker.Address()))
	e := l.EpochOf(now)
	charge := func(payer string, amount uint64, key []byte, h identity.PublicKey) dc.Charge {
		return dc.Charge{Payer: payer, Amount: amount, Key: key, Epoch: e, Hotspot: h}
	}
	if c, err := d.Debit(charge(string(maker.Address()), 3, []byte{1, 2}, hs.Public())); !c || err != nil {
		t.Fatalf("debit: %v %v", c, err)
	}
	if c, err := d.Debit(charge(string(maker.Address()), 3, []byte{1, 2}, hs.Public())); c || err != nil {
		t.Fatalf("repeated debit: %v %v", c, err)
	}
	if _, err := d.Debit(charge(string(maker.Address()), 1000, []byte{3}, hs.Public())); !errors.Is(err, dc.ErrInsufficientDC) {
		t.Fatalf("overdraft: %v", err)
	}
	if _, err := d.Debit(charge("nobody", 1, []byte{4}, hs.Public())); !errors.Is(err, dc.ErrInsufficientDC) {
		t.Fatalf("bad payer: %v", err)
	}
	// A copy from a hotspot the ledger does not know: charged, not recorded.
	if c, err := d.Debit(charge(string(maker.Address()), 1, []byte{5}, key(t, 78).Public())); !c || !errors.Is(err, dc.ErrNotRecorded) {
		t.Fatalf("unrecorded transfer: %v %v", c, err)
	}
	if d.Balance(string(maker.Address())) != start-4 || d.Balance("nobody") != 0 {
		t.Fatal("balance after debit")
	}
	sub(owner, &ledgerpb.DelegateDC{Nonce: 2, Oui: 1, Dc: 2})
	if len(topped) != 1 || topped[0] != string(maker.Address()) {
		t.Fatalf("top-ups %v", topped)
	}

	// rewards: data transfer recorded with the debit above, PoC units pumped at close
	acc.AddBeacon(e, hs.Public(), 1)
	acc.AddWitness(e, key(t, 77).Public(), 1) // not onboarded: skipped
	now = now.Add(10 * time.Second)
	if n, err := l.CloseDue(); n != 1 || err != nil {
		t.Fatalf("close: %d %v", n, err)
	}
	_, entries, err := l.Manifest(e)
	must(err)
	var got *ledgerpb.ManifestEntry
	for _, en := range entries {
		if bytes.Equal(en.Hotspot, hs.Public().Bytes()) {
			got = en
		}
	}
	if got == nil || got.Beacon == 0 || got.DataTransfer == 0 {
		t.Fatalf("manifest entry %v", got)
	}
	if len(acc.Epoch(e)) != 0 {
		t.Fatal("accumulator not cleared after the pump")
	}
}
