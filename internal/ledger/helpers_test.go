package ledger

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testKey(t testing.TB, b byte) *identity.Key {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testNet is a small test network: admin, maker, owner, payer and oracle keys.
type testNet struct {
	t                                        testing.TB
	admin, maker, owner, other, oracle, rich *identity.Key
	kv                                       *MemKV
	clock                                    *fakeClock
	cfg                                      Config
	l                                        *Ledger
	nonces                                   map[identity.PublicKey]uint64
}

const epochLen = 10 * time.Second

func testConfig(admin, maker, owner, other *identity.Key) Config {
	cfg := DefaultConfig()
	cfg.Admin = string(admin.Address())
	cfg.EpochLength = epochLen
	cfg.CloseDelay = 0
	cfg.CheckInterval = 10 * time.Millisecond
	cfg.TokensPerEpoch = 1_000_000
	cfg.DCPrice = 10
	cfg.OnboardFeeDC = 40
	cfg.LocationFeeDC = 10
	cfg.OUIFeeDC = 100
	cfg.Allocations = []string{
		string(maker.Address()) + "=1000000:1000",
		string(owner.Address()) + "=500000:500",
		string(other.Address()) + "=1000:0",
	}
	return cfg
}

func newNet(t testing.TB) *testNet {
	t.Helper()
	n := &testNet{
		t: t, admin: testKey(t, 1), maker: testKey(t, 2), owner: testKey(t, 3), other: testKey(t, 4), oracle: testKey(t, 5), rich: testKey(t, 6),
		kv:     NewMemKV(),
		clock:  &fakeClock{t: time.Unix(1_700_000_000, 0)},
		nonces: map[identity.PublicKey]uint64{},
	}
	n.cfg = testConfig(n.admin, n.maker, n.owner, n.other)
	n.cfg.Allocations = append(n.cfg.Allocations, string(n.rich.Address())+"=18446744073709551615")
	n.cfg.Operations = string(n.admin.Address())
	n.open()
	return n
}

func (n *testNet) deps() Deps {
	return Deps{Store: n.kv, Oracle: n.oracle, Clock: n.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (n *testNet) open() {
	n.t.Helper()
	l, err := New(n.cfg, n.deps())
	if err != nil {
		n.t.Fatal(err)
	}
	n.l = l
}

func (n *testNet) nonce(k *identity.Key) uint64 {
	n.nonces[k.Public()]++
	return n.nonces[k.Public()]
}

// sign signs m as k with k's next nonce already set in m by the caller.
func (n *testNet) signed(k *identity.Key, m identity.Signed) []byte {
	n.t.Helper()
	b, err := SignOp(k, m)
	if err != nil {
		n.t.Fatal(err)
	}
	return b
}

func (n *testNet) submit(k *identity.Key, m identity.Signed) error {
	return n.l.Submit(n.signed(k, m))
}

func (n *testNet) must(err error) {
	n.t.Helper()
	if err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNet) onboardOp(hs *identity.Key, owner, maker *identity.Key, nonce uint64) []byte {
	n.t.Helper()
	b, err := OnboardOp(hs.Public(), owner, maker, nonce)
	n.must(err)
	return b
}

// setup registers the maker and onboards and asserts count hotspots owned by owner.
func (n *testNet) setup(count int) []*identity.Key {
	n.t.Helper()
	n.must(n.submit(n.admin, &ledgerpb.RegisterMaker{Nonce: n.nonce(n.admin), Maker: n.maker.Public().Bytes(), Name: "acme"}))
	var hs []*identity.Key
	for i := 0; i < count; i++ {
		h := testKey(n.t, byte(100+i))
		n.must(n.l.Submit(n.onboardOp(h, n.owner, n.maker, n.nonce(n.maker))))
		n.must(n.submit(n.owner, &ledgerpb.AssertLocation{Nonce: n.nonce(n.owner), Hotspot: h.Public().Bytes(), H3: paris, Gain: 30, Elevation: 5}))
		hs = append(hs, h)
	}
	return hs
}

// paris is a res-12 cell in Paris; sydney one in Sydney.
const (
	paris  uint64 = 0x8c1fb46741a13ff
	sydney uint64 = 0x8cbe0e35c0943ff
)

// snapshot renders the derived state canonically (replay comparisons).
func snapshot(l *Ledger) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.st
	var lines []string
	add := func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	add("genesis=%v network=%s admin=%s first=%d next=%d debitseq=%d nextoui=%d height=%d head=%x",
		s.genesis, s.network, s.admin, s.firstEpoch, s.nextEpoch, s.debitSeq, s.nextOUI, l.j.next, l.j.head)
	for pk, a := range s.accounts {
		add("acct %s %d %d %d pending=%d", pk, a.tokens, a.dc, a.nonce, s.pending[pk])
	}
	for pk, h := range s.hotspots {
		add("hs %s %+v", pk, *h)
	}
	for pk, m := range s.makers {
		add("maker %s %+v", pk, *m)
	}
	for id, o := range s.ouis {
		var euis []string
		for k := range o.euis {
			euis = append(euis, fmt.Sprint(k))
		}
		sort.Strings(euis)
		add("oui %d %s %s %d %v %v %v", id, o.owner, o.payer, o.maxCopies, o.ranges, o.dests, euis)
	}
	for e, r := range s.epochs {
		add("epoch %d %d %s", e, r.height, prototext.Format(r.root))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
