package ledger

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
)

func balance(t *testing.T, l *Ledger, k *identity.Key) AccountInfo {
	t.Helper()
	a, _ := l.Account(k.Public())
	return a
}

func TestOperationsAndReplay(t *testing.T) {
	n := newNet(t)
	hs := n.setup(2)
	l := n.l
	if a := balance(t, l, n.maker); a.DC != 1000-2*40 || !a.Maker {
		t.Fatalf("maker after two onboardings: %+v", a)
	}
	if a := balance(t, l, n.owner); a.DC != 500-2*10 || len(a.Hotspots) != 2 {
		t.Fatalf("owner after two assertions: %+v", a)
	}
	h, ok := l.Hotspot(hs[0].Public())
	if !ok || h.Owner != n.owner.Public() || h.Region != wire.Region_EU868 || h.Gain != 30 || h.Cell.Resolution() != 12 || h.Lat < 48 || h.Lat > 49 {
		t.Fatalf("hotspot: %+v", h)
	}
	// same cell, new gain: no fee; new cell: fee and new region
	n.must(n.submit(n.owner, &ledgerpb.AssertLocation{Nonce: n.nonce(n.owner), Hotspot: hs[0].Public().Bytes(), H3: paris, Gain: 60, Elevation: 12}))
	if a := balance(t, l, n.owner); a.DC != 480 {
		t.Fatalf("fee charged for an unchanged location: %d DC", a.DC)
	}
	n.must(n.submit(n.owner, &ledgerpb.AssertLocation{Nonce: n.nonce(n.owner), Hotspot: hs[0].Public().Bytes(), H3: sydney, Gain: 60, Elevation: 12}))
	if h, _ := l.Hotspot(hs[0].Public()); h.Region != wire.Region_AU915 || balance(t, l, n.owner).DC != 470 {
		t.Fatalf("after move: %+v, %d DC", h, balance(t, l, n.owner).DC)
	}
	// tokens and DC
	n.must(n.submit(n.owner, &ledgerpb.TransferTokens{Nonce: n.nonce(n.owner), To: n.other.Public().Bytes(), Amount: 1000}))
	n.must(n.submit(n.other, &ledgerpb.BurnForDC{Nonce: n.nonce(n.other), Dc: 150}))
	if a := balance(t, l, n.other); a.Tokens != 1000+1000-1500 || a.DC != 150 {
		t.Fatalf("other after transfer and burn: %+v", a)
	}
	// OUIs
	n.must(n.submit(n.maker, &ledgerpb.CreateOUI{Nonce: n.nonce(n.maker), MaxCopies: 2,
		Destinations: []*ledgerpb.Destination{{Protocol: "gwmp", Endpoint: "127.0.0.1:1700"}}}))
	n.must(n.submit(n.owner, &ledgerpb.CreateOUI{Nonce: n.nonce(n.owner), Payer: n.other.Public().Bytes()}))
	o1, _ := l.OUI(1)
	o2, _ := l.OUI(2)
	if len(o1.DevAddrs) != 1 || o1.DevAddrs[0] != (DevAddrRange{0, 63}) || o2.DevAddrs[0] != (DevAddrRange{64, 127}) || o2.Payer != n.other.Public() {
		t.Fatalf("OUI blocks: %+v %+v", o1, o2)
	}
	n.must(n.submit(n.other, &ledgerpb.DelegateDC{Nonce: n.nonce(n.other), Oui: 1, Dc: 50}))
	if o1, _ := l.OUI(1); o1.PayerDC != 1000-80-100+50 || o1.Locked {
		t.Fatalf("delegation: %+v", o1)
	}
	upd := func(c *ledgerpb.UpdateOUI) { n.must(n.submit(n.maker, c)) }
	upd(&ledgerpb.UpdateOUI{Nonce: n.nonce(n.maker), Oui: 1, Change: &ledgerpb.UpdateOUI_DevaddrRanges{DevaddrRanges: &ledgerpb.DevAddrRanges{
		Ranges: []*ledgerpb.DevAddrRange{{Start: 1000, End: 1999}, {Start: 0, End: 31}}}}})
	upd(&ledgerpb.UpdateOUI{Nonce: n.nonce(n.maker), Oui: 1, Change: &ledgerpb.UpdateOUI_AddEuis{AddEuis: &ledgerpb.EUIPairs{
		Pairs: []*ledgerpb.EUIPair{{JoinEui: 1, DevEui: 2}, {JoinEui: 1, DevEui: 3}}}}})
	upd(&ledgerpb.UpdateOUI{Nonce: n.nonce(n.maker), Oui: 1, Change: &ledgerpb.UpdateOUI_RemoveEuis{RemoveEuis: &ledgerpb.EUIPairs{
		Pairs: []*ledgerpb.EUIPair{{JoinEui: 1, DevEui: 2}}}}})
	upd(&ledgerpb.UpdateOUI{Nonce: n.nonce(n.maker), Oui: 1, Change: &ledgerpb.UpdateOUI_MaxCopies{MaxCopies: 5}})
	upd(&ledgerpb.UpdateOUI{Nonce: n.nonce(n.maker), Oui: 1, Change: &ledgerpb.UpdateOUI_Destinations{Destinations: &ledgerpb.Destinations{
		Destinations: []*ledgerpb.Destination{{Protocol: "http_roaming", Endpoint: "http://lns/roam"}}}}})
	o1, _ = l.OUI(1)
	if len(o1.DevAddrs) != 2 || o1.DevAddrs[0] != (DevAddrRange{0, 31}) || len(o1.EUIs) != 1 || o1.EUIs[0] != (EUIPair{1, 3}) ||
		o1.MaxCopies != 5 || len(o1.Destinations) != 1 || o1.Destinations[0].Protocol != "http_roaming" {
		t.Fatalf("OUI updates: %+v", o1)
	}
	if ouis := l.OUIs(); len(ouis) != 2 || ouis[0].ID != 1 {
		t.Fatalf("OUIs: %+v", ouis)
	}
	// blocks are aligned: 32..63 is free but not a block, so the next free block is 128..191
	n.must(n.submit(n.owner, &ledgerpb.CreateOUI{Nonce: n.nonce(n.owner)}))
	if o3, _ := l.OUI(3); o3.DevAddrs[0] != (DevAddrRange{128, 191}) {
		t.Fatalf("third block %+v", o3.DevAddrs)
	}
	n.must(n.submit(n.owner, &ledgerpb.TransferHotspot{Nonce: n.nonce(n.owner), Hotspot: hs[1].Public().Bytes(), NewOwner: n.other.Public().Bytes()}))
	if h, _ := l.Hotspot(hs[1].Public()); h.Owner != n.other.Public() {
		t.Fatal("hotspot not transferred")
	}
	n.must(n.submit(n.admin, &ledgerpb.RevokeMaker{Nonce: n.nonce(n.admin), Maker: n.maker.Public().Bytes()}))
	if err := l.Submit(n.onboardOp(testKey(t, 99), n.owner, n.maker, n.nonce(n.maker))); !errors.Is(err, ErrUnknownMaker) {
		t.Fatalf("onboarding by a revoked maker: %v", err)
	}

	live := snapshot(l)
	n.open() // replay the same journal
	if got := snapshot(n.l); got != live {
		t.Fatalf("replayed state differs from live state:\nlive:\n%s\nreplayed:\n%s", live, got)
	}
}

func TestReplayPebble(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := newNet(t)
	n.kv = nil
	kv := SpaceKV(db.Prefix("ledger/"))
	deps := n.deps()
	deps.Store = kv
	l, err := New(n.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	hs := n.setup(3)
	n.must(l.RecordPoC(l.NextEpoch(), hs[0].Public(), 1, 1, "k1"))
	n.must(l.DebitDC(n.maker.Public(), 7, "pkt1"))
	n.clock.Advance(epochLen)
	if c, err := l.CloseDue(); err != nil || c != 1 {
		t.Fatalf("close: %d %v", c, err)
	}
	n.must(l.DebitDC(n.maker.Public(), 3, "pkt2"))
	live := snapshot(l)
	l2, err := New(n.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(l2); got != live {
		t.Fatalf("replay from Pebble differs:\n%s\n---\n%s", live, got)
	}
	if a, _ := l2.Account(n.maker.Public()); a.PendingDC != 3 || a.DC != 1000-120-7-3 {
		t.Fatalf("maker after restart: %+v", a)
	}
}

func TestCorruptJournal(t *testing.T) {
	n := newNet(t)
	n.setup(1)
	k := journalKey(2)
	v, err := n.kv.Get(k)
	n.must(err)
	v[len(v)-1] ^= 1
	n.must(n.kv.Set(k, v, true))
	if _, err := New(n.cfg, n.deps()); !errors.Is(err, ErrCorruptJournal) {
		t.Fatalf("tampered journal opened: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	n := newNet(t)
	hs := n.setup(1)
	n.must(n.submit(n.maker, &ledgerpb.CreateOUI{Nonce: n.nonce(n.maker)}))
	n.must(n.submit(n.owner, &ledgerpb.CreateOUI{Nonce: n.nonce(n.owner)}))
	stranger := testKey(t, 77)
	h0 := hs[0].Public().Bytes()
	bad := func(k *identity.Key, m identity.Signed) func() []byte {
		return func() []byte { return n.signed(k, m) }
	}
	flip := func(k *identity.Key, m identity.Signed) func() []byte {
		return func() []byte {
			n.must(k.Sign(m))
			m.GetSignature()[0] ^= 1
			op, _ := Wrap(m)
			b, _ := EncodeOp(op)
			return b
		}
	}
	ranges := func(rs ...*ledgerpb.DevAddrRange) *ledgerpb.UpdateOUI_DevaddrRanges {
		return &ledgerpb.UpdateOUI_DevaddrRanges{DevaddrRanges: &ledgerpb.DevAddrRanges{Ranges: rs}}
	}
	cases := []struct {
		name string
		op   func() []byte
		want error
	}{
		{"bad signature", flip(n.owner, &ledgerpb.TransferTokens{Nonce: 100, To: n.other.Public().Bytes(), Amount: 1}), ErrBadSignature},
		{"wrong signer registers maker", bad(n.owner, &ledgerpb.RegisterMaker{Nonce: 100, Maker: stranger.Public().Bytes()}), ErrWrongSigner},
		{"maker registered twice", bad(n.admin, &ledgerpb.RegisterMaker{Nonce: 100, Maker: n.maker.Public().Bytes()}), ErrMakerExists},
		{"revoke unknown maker", bad(n.admin, &ledgerpb.RevokeMaker{Nonce: 100, Maker: stranger.Public().Bytes()}), ErrUnknownMaker},
		{"old nonce", bad(n.owner, &ledgerpb.TransferTokens{Nonce: 1, To: n.other.Public().Bytes(), Amount: 1}), ErrNonce},
		{"zero nonce", bad(n.other, &ledgerpb.TransferTokens{Nonce: 0, To: n.owner.Public().Bytes(), Amount: 1}), ErrNonce},
		{"insufficient tokens", bad(n.owner, &ledgerpb.TransferTokens{Nonce: 100, To: n.other.Public().Bytes(), Amount: 1 << 40}), ErrInsufficientFunds},
		{"zero amount", bad(n.owner, &ledgerpb.TransferTokens{Nonce: 100, To: n.other.Public().Bytes()}), ErrBadAmount},
		{"recipient overflow", bad(n.owner, &ledgerpb.TransferTokens{Nonce: 100, To: n.rich.Public().Bytes(), Amount: 1}), ErrOverflow},
		{"burn cost overflow", bad(n.owner, &ledgerpb.BurnForDC{Nonce: 100, Dc: math.MaxUint64}), ErrOverflow},
		{"burn beyond balance", bad(n.other, &ledgerpb.BurnForDC{Nonce: 100, Dc: 101}), ErrInsufficientFunds},
		{"unknown account", bad(stranger, &ledgerpb.TransferTokens{Nonce: 1, To: n.owner.Public().Bytes(), Amount: 1}), ErrUnknownAccount},
		{"bad recipient key", bad(n.owner, &ledgerpb.TransferTokens{Nonce: 100, To: []byte{1, 2, 3}, Amount: 1}), ErrMalformed},
		{"double onboarding", func() []byte { return n.onboardOp(hs[0], n.owner, n.maker, 100) }, ErrAlreadyOnboarded},
		{"unregistered maker", func() []byte { return n.onboardOp(testKey(t, 98), n.owner, stranger, 1) }, ErrUnknownMaker},
		{"onboard owner signature by another key", func() []byte {
			op := &ledgerpb.OnboardHotspot{Hotspot: testKey(t, 97).Public().Bytes(), Owner: n.owner.Public().Bytes(), Maker: n.maker.Public().Bytes(), Nonce: 100}
			n.must(SignOnboardOwner(op, n.other))
			n.must(SignOnboardMaker(op, n.maker))
			b, _ := EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_OnboardHotspot{OnboardHotspot: op}})
			return b
		}, ErrBadSignature},
		{"gain too high", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, H3: paris, Gain: 151}), ErrGainOutOfBounds},
		{"gain too low", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, H3: paris, Gain: 9}), ErrGainOutOfBounds},
		{"elevation", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, H3: paris, Gain: 30, Elevation: 20000}), ErrElevationOutOfBounds},
		{"not an H3 cell", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, H3: 0x1234, Gain: 30}), ErrInvalidCell},
		{"zero cell", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, Gain: 30}), ErrInvalidCell},
		{"resolution 11", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, H3: 0x8b1fb46741a1fff, Gain: 30}), ErrInvalidCell},
		{"assert by non-owner", bad(n.other, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: h0, H3: paris, Gain: 30}), ErrWrongSigner},
		{"assert unknown hotspot", bad(n.owner, &ledgerpb.AssertLocation{Nonce: 100, Hotspot: stranger.Public().Bytes(), H3: paris, Gain: 30}), ErrUnknownHotspot},
		{"transfer hotspot by non-owner", bad(n.other, &ledgerpb.TransferHotspot{Nonce: 100, Hotspot: h0, NewOwner: n.other.Public().Bytes()}), ErrWrongSigner},
		{"range outside pool", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: ranges(&ledgerpb.DevAddrRange{Start: 0x02000000, End: 0x02000010})}), ErrRangeOutsidePool},
		{"inverted range", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: ranges(&ledgerpb.DevAddrRange{Start: 500, End: 400})}), ErrRangeOutsidePool},
		{"range overlaps another OUI", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: ranges(&ledgerpb.DevAddrRange{Start: 60, End: 70})}), ErrRangeOverlap},
		{"ranges overlap each other", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: ranges(&ledgerpb.DevAddrRange{Start: 200, End: 300}, &ledgerpb.DevAddrRange{Start: 300, End: 400})}), ErrRangeOverlap},
		{"update OUI by non-owner", bad(n.other, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: &ledgerpb.UpdateOUI_MaxCopies{MaxCopies: 3}}), ErrWrongSigner},
		{"update unknown OUI", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 9, Change: &ledgerpb.UpdateOUI_MaxCopies{MaxCopies: 3}}), ErrUnknownOUI},
		{"max copies zero", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: &ledgerpb.UpdateOUI_MaxCopies{MaxCopies: 0}}), ErrBadMaxCopies},
		{"update without change", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2}), ErrMalformed},
		{"bad destination", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: &ledgerpb.UpdateOUI_Destinations{Destinations: &ledgerpb.Destinations{
			Destinations: []*ledgerpb.Destination{{Protocol: "ftp", Endpoint: "x"}}}}}), ErrBadDestination},
		{"gwmp endpoint without port", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: &ledgerpb.UpdateOUI_Destinations{Destinations: &ledgerpb.Destinations{
			Destinations: []*ledgerpb.Destination{{Protocol: "gwmp", Endpoint: "lns.example"}}}}}), ErrBadDestination},
		{"roaming endpoint not http", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: &ledgerpb.UpdateOUI_Destinations{Destinations: &ledgerpb.Destinations{
			Destinations: []*ledgerpb.Destination{{Protocol: "http_roaming", Endpoint: "ftp://x"}}}}}), ErrBadDestination},
		{"wildcard EUI pair", bad(n.owner, &ledgerpb.UpdateOUI{Nonce: 100, Oui: 2, Change: &ledgerpb.UpdateOUI_AddEuis{AddEuis: &ledgerpb.EUIPairs{
			Pairs: []*ledgerpb.EUIPair{{}}}}}), ErrMalformed},
		{"delegate to unknown OUI", bad(n.owner, &ledgerpb.DelegateDC{Nonce: 100, Oui: 9, Dc: 1}), ErrUnknownOUI},
		{"delegate more than held", bad(n.owner, &ledgerpb.DelegateDC{Nonce: 100, Oui: 1, Dc: 10_000}), ErrInsufficientFunds},
		{"OUI fee unaffordable", bad(n.other, &ledgerpb.CreateOUI{Nonce: 100}), ErrInsufficientFunds},
		{"genesis", func() []byte {
			b, _ := EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_Genesis{Genesis: &ledgerpb.Genesis{Admin: n.owner.Public().Bytes()}}})
			return b
		}, ErrNotSubmittable},
		{"epoch close", func() []byte {
			b, _ := EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_EpochClose{EpochClose: &ledgerpb.EpochClose{}}})
			return b
		}, ErrNotSubmittable},
		{"garbage", func() []byte { return []byte{0xff, 0xff, 0xff} }, ErrMalformed},
		{"empty op", func() []byte { return nil }, ErrMalformed},
		{"oversized", func() []byte { return make([]byte, maxSubmittedBytes+1) }, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.op()
			before := snapshot(n.l)
			err := n.l.Submit(b)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if after := snapshot(n.l); after != before {
				t.Fatalf("refused operation changed the state:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func TestNonceReplay(t *testing.T) {
	n := newNet(t)
	b1 := n.signed(n.owner, &ledgerpb.TransferTokens{Nonce: 5, To: n.other.Public().Bytes(), Amount: 1})
	b2 := n.signed(n.owner, &ledgerpb.TransferTokens{Nonce: 4, To: n.other.Public().Bytes(), Amount: 1})
	n.must(n.l.Submit(b1))
	if err := n.l.Submit(b1); !errors.Is(err, ErrNonce) {
		t.Fatalf("replayed op: %v", err)
	}
	if err := n.l.Submit(b2); !errors.Is(err, ErrNonce) {
		t.Fatalf("out-of-order op: %v", err)
	}
	if a := balance(t, n.l, n.other); a.Tokens != 1001 {
		t.Fatalf("other has %d tokens, want 1001", a.Tokens)
	}
}

func TestConfigValidate(t *testing.T) {
	n := newNet(t)
	for name, mod := range map[string]func(*Config){
		"no admin":        func(c *Config) { c.Admin = "" },
		"bad allocation":  func(c *Config) { c.Allocations = []string{"nope"} },
		"bad amount":      func(c *Config) { c.Allocations = []string{string(n.owner.Address()) + "=-1"} },
		"short epoch":     func(c *Config) { c.EpochLength = 0 },
		"schedule > 100%": func(c *Config) { c.DataBP = 9000 },
		"zero price":      func(c *Config) { c.DCPrice = 0 },
		"gain inverted":   func(c *Config) { c.MinGain = 200 },
		"bad NetID":       func(c *Config) { c.NetID = "1" },
		"delay too long":  func(c *Config) { c.CloseDelay = c.EpochLength },
	} {
		c := n.cfg
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := n.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestHotspotsListAndSubscription(t *testing.T) {
	n := newNet(t)
	var mu sync.Mutex
	var seen []identity.PublicKey
	n.l.SubscribeHotspots(func(pk identity.PublicKey) { mu.Lock(); seen = append(seen, pk); mu.Unlock() })
	hs := n.setup(3)
	list := n.l.Hotspots()
	if len(list) != 3 {
		t.Fatalf("Hotspots() has %d entries, want 3", len(list))
	}
	for i := 1; i < len(list); i++ {
		if list[i-1].Address >= list[i].Address {
			t.Fatal("Hotspots() not ordered by address")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 6 || seen[0] != hs[0].Public() || seen[1] != hs[0].Public() || seen[5] != hs[2].Public() {
		t.Fatalf("notifications %v, want onboard and assert of each hotspot", seen)
	}
}
