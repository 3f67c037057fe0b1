package ledgerapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func key(t *testing.T, b byte) *identity.Key {
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const paris uint64 = 0x8c1fb46741a13ff

func TestAPI(t *testing.T) {
	admin, maker, owner, oracle, hs := key(t, 1), key(t, 2), key(t, 3), key(t, 5), key(t, 9)
	cfg := ledger.DefaultConfig()
	cfg.Admin = string(admin.Address())
	cfg.EpochLength, cfg.CloseDelay = 10*time.Second, 0
	cfg.TokensPerEpoch = 1000
	cfg.OnboardFeeDC, cfg.LocationFeeDC, cfg.OUIFeeDC = 1, 1, 1
	cfg.Allocations = []string{string(maker.Address()) + "=0:100", string(owner.Address()) + "=1000:10"}
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	l, err := ledger.New(cfg, ledger.Deps{Store: ledger.NewMemKV(), Oracle: oracle, Clock: clk.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(l, nil))
	defer srv.Close()
	c := NewClient(srv.URL, nil)
	ctx := context.Background()

	sign := func(k *identity.Key, m identity.Signed) []byte {
		b, err := ledger.SignOp(k, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reg := sign(admin, &ledgerpb.RegisterMaker{Nonce: 1, Maker: maker.Public().Bytes(), Name: "m"})
	if _, err := c.Submit(ctx, reg); err != nil {
		t.Fatal(err)
	}
	ob := &ledgerpb.OnboardHotspot{Hotspot: hs.Public().Bytes(), Owner: owner.Public().Bytes(), Maker: maker.Public().Bytes(), Nonce: 1}
	_ = ledger.SignOnboardOwner(ob, owner)
	_ = ledger.SignOnboardMaker(ob, maker)
	obBytes, _ := ledger.EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_OnboardHotspot{OnboardHotspot: ob}})
	// JSON form of submission
	jb, _ := json.Marshal(SubmitRequest{Op: base64.StdEncoding.EncodeToString(obBytes)})
	resp, err := http.Post(srv.URL+Prefix+"ops", "application/json", bytes.NewReader(jb))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("JSON submit: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if _, err := c.Submit(ctx, sign(owner, &ledgerpb.AssertLocation{Nonce: 1, Hotspot: hs.Public().Bytes(), H3: paris, Gain: 30})); err != nil {
		t.Fatal(err)
	}
	// error codes
	for name, tc := range map[string]struct {
		op   []byte
		code string
	}{
		"replay":  {reg, "nonce"},
		"garbage": {[]byte{0xff}, "malformed"},
		"gain":    {sign(owner, &ledgerpb.AssertLocation{Nonce: 5, Hotspot: hs.Public().Bytes(), H3: paris, Gain: 999}), "gain_out_of_bounds"},
		"cell":    {sign(owner, &ledgerpb.AssertLocation{Nonce: 5, Hotspot: hs.Public().Bytes(), H3: 7, Gain: 30}), "invalid_cell"},
		"signer":  {sign(owner, &ledgerpb.RegisterMaker{Nonce: 5, Maker: owner.Public().Bytes()}), "wrong_signer"},
		"funds":   {sign(owner, &ledgerpb.TransferTokens{Nonce: 5, To: maker.Public().Bytes(), Amount: 1 << 50}), "insufficient_funds"},
		"unknown": {sign(key(t, 40), &ledgerpb.TransferTokens{Nonce: 5, To: maker.Public().Bytes(), Amount: 1}), "unknown_account"},
		"onboarded": {func() []byte {
			o := proto.Clone(ob).(*ledgerpb.OnboardHotspot)
			o.Nonce = 9
			_ = ledger.SignOnboardOwner(o, owner)
			_ = ledger.SignOnboardMaker(o, maker)
			b, _ := ledger.EncodeOp(&ledgerpb.Op{Body: &ledgerpb.Op_OnboardHotspot{OnboardHotspot: o}})
			return b
		}(), "already_onboarded"},
	} {
		_, err := c.Submit(ctx, tc.op)
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != tc.code {
			t.Errorf("%s: %v, want code %s", name, err, tc.code)
		}
	}
	a, err := c.Account(ctx, owner.Address())
	if err != nil || a.DC != 9 || len(a.Hotspots) != 1 {
		t.Fatalf("account: %+v %v", a, err)
	}
	h, err := c.Hotspot(ctx, hs.Address())
	if err != nil || h.RegionStr != "EU868" || h.OwnerAddr != owner.Address() || h.H3 == "" {
		t.Fatalf("hotspot: %+v %v", h, err)
	}
	if _, err := c.Hotspot(ctx, owner.Address()); err == nil || err.(*Error).Status != 404 {
		t.Fatalf("unknown hotspot: %v", err)
	}
	if _, err := c.Submit(ctx, sign(maker, &ledgerpb.CreateOUI{Nonce: 2})); err != nil {
		t.Fatal(err)
	}
	if o, err := c.OUI(ctx, 1); err != nil || len(o.DevAddrs) != 1 {
		t.Fatalf("oui: %+v %v", o, err)
	}
	if os, err := c.OUIs(ctx); err != nil || len(os) != 1 {
		t.Fatalf("ouis: %+v %v", os, err)
	}
	// an epoch with rewards, then proofs verified client-side
	e := l.NextEpoch()
	if err := l.RecordPoC(e, hs.Public(), 1, 1, "k"); err != nil {
		t.Fatal(err)
	}
	clk.add(10 * time.Second)
	if _, err := l.CloseDue(); err != nil {
		t.Fatal(err)
	}
	eps, err := c.Epochs(ctx)
	if err != nil || len(eps) != 1 || len(eps[0].Root) != 64 {
		t.Fatalf("epochs: %+v %v", eps, err)
	}
	m, err := c.Manifest(ctx, e)
	if err != nil || len(m.Entries) != 2 {
		t.Fatalf("manifest: %+v %v", m, err)
	}
	ps, err := c.Proofs(ctx, e, owner.Address())
	if err != nil || len(ps) != 1 {
		t.Fatalf("proofs: %v %v", ps, err)
	}
	if err := merkle.VerifyProof(ps[0].Entry, ps[0], ps[0].Root, oracle.Public()); err != nil {
		t.Fatal(err)
	}
	for path, code := range map[string]string{
		"epochs/99/proof/" + string(owner.Address()): "unknown_epoch",
		"epochs/x":      CodeBadRequest,
		"accounts/nope": "bad_address",
		"nothing":       CodeNotFound,
		"ouis/7":        "unknown_oui",
	} {
		resp, err := http.Get(srv.URL + Prefix + path)
		if err != nil {
			t.Fatal(err)
		}
		var eb errorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if eb.Error.Code != code || resp.StatusCode < 400 {
			t.Errorf("%s: %d %+v, want %s", path, resp.StatusCode, eb, code)
		}
	}
	resp, err = http.Post(srv.URL+Prefix+"ops", "application/octet-stream", strings.NewReader(strings.Repeat("x", maxBody+10)))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	st, err := c.Status(ctx)
	if err != nil || st.Oracle != oracle.Address() || len(st.Head) != 64 {
		t.Fatalf("status: %+v %v", st, err)
	}
}
