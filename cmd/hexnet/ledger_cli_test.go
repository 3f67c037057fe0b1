package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerapi"
)

type cliClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *cliClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *cliClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// runCmd runs one ledger CLI function and returns its exit code and output.
func runCmd(t *testing.T, f func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := f(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLedgerCLI(t *testing.T) {
	dir := t.TempDir()
	keyFile := func(name string) (string, *identity.Key) {
		p := filepath.Join(dir, name+".key")
		k, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := identity.SaveKey(p, k); err != nil {
			t.Fatal(err)
		}
		return p, k
	}
	adminF, admin := keyFile("admin")
	makerF, maker := keyFile("maker")
	oracleF, oracle := keyFile("oracle")
	_ = oracleF
	_, hs := keyFile("hotspot")
	ownerF := filepath.Join(dir, "owner.key")
	code, out, errs := runCmd(t, runWallet, "create", "--out", ownerF)
	if code != 0 {
		t.Fatalf("wallet create: %d %s", code, errs)
	}
	owner, err := identity.LoadKey(ownerF)
	if err != nil || !strings.Contains(out, string(owner.Address())) {
		t.Fatalf("wallet create output %q: %v", out, err)
	}

	cfg := ledger.DefaultConfig()
	cfg.Admin = string(admin.Address())
	cfg.EpochLength, cfg.CloseDelay = time.Minute, 0
	cfg.TokensPerEpoch = 1_000_000
	cfg.DCPrice = 10
	cfg.OnboardFeeDC, cfg.LocationFeeDC, cfg.OUIFeeDC = 40, 10, 100
	cfg.Allocations = []string{string(maker.Address()) + "=100000", string(owner.Address()) + "=5000"}
	clk := &cliClock{t: time.Unix(1_700_000_000, 0)}
	l, err := ledger.New(cfg, ledger.Deps{Store: ledger.NewMemKV(), Oracle: oracle, Clock: clk.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ledgerapi.NewHandler(l, nil))
	defer srv.Close()
	api := "--api=" + srv.URL

	ok := func(f func([]string, io.Writer, io.Writer) int, args ...string) string {
		t.Helper()
		code, out, errs := runCmd(t, f, append(args, api)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		return out
	}
	hsAddr, ownerAddr, makerAddr := string(hs.Address()), string(owner.Address()), string(maker.Address())
	ok(runMaker, "add", "--key", adminF, "--maker", makerAddr, "--name", "acme")
	ok(runDC, "buy", "--key", makerF, "--dc", "1000")
	ok(runDC, "buy", "--key", ownerF, "--dc", "100")
	// two-step onboarding: the maker half-signs, the owner finishes and submits
	req := filepath.Join(dir, "onboard.req")
	ok(runHotspot, "onboard", "--hotspot", hsAddr, "--owner", ownerAddr, "--maker-key", makerF, "--out", req)
	if code, _, errs := runCmd(t, runHotspot, "onboard", "--hotspot", hsAddr, "--owner", ownerAddr, "--maker-key", makerF, api); code != 2 || !strings.Contains(errs, "owner's and the maker's") {
		t.Fatalf("half-signed submit: %d %s", code, errs)
	}
	ok(runHotspot, "onboard", "--request", req, "--owner-key", ownerF)
	ok(runHotspot, "assert", "--key", ownerF, "--hotspot", hsAddr, "--lat", "48.8584", "--lng", "2.2945", "--gain", "30", "--elevation", "4")
	var h ledger.HotspotInfo
	if err := json.Unmarshal([]byte(ok(runHotspot, "show", hsAddr)), &h); err != nil || h.RegionStr != "EU868" || h.OwnerAddr != owner.Address() || h.Gain != 30 {
		t.Fatalf("hotspot show: %+v %v", h, err)
	}
	ok(runWallet, "transfer", "--key", ownerF, "--to", makerAddr, "--amount", "7")
	var a ledger.AccountInfo
	if err := json.Unmarshal([]byte(ok(runWallet, "show", "--key", ownerF)), &a); err != nil || a.Tokens != 5000-1000-7 || a.DC != 90 {
		t.Fatalf("wallet show: %+v %v", a, err)
	}
	ok(runOUI, "create", "--key", makerF, "--destination", "gwmp=127.0.0.1:1700", "--max-copies", "2")
	ok(runOUI, "devaddr", "--key", makerF, "--oui", "1", "--range", "0-f", "--range", "100-1ff")
	ok(runOUI, "eui", "--key", makerF, "--oui", "1", "--add", "1:2", "a:b")
	ok(runOUI, "eui", "--key", makerF, "--oui", "1", "--remove", "1:2")
	ok(runOUI, "destination", "--key", makerF, "--oui", "1", "--destination", "http_roaming=http://lns.example/roam")
	ok(runOUI, "destination", "--key", makerF, "--oui", "1", "--max-copies", "3")
	ok(runDC, "delegate", "--key", ownerF, "--oui", "1", "--dc", "5")
	var o ledger.OUIInfo
	if err := json.Unmarshal([]byte(ok(runOUI, "show", "1")), &o); err != nil || len(o.DevAddrs) != 2 || o.DevAddrs[1].End != 0x1ff ||
		len(o.EUIs) != 1 || o.EUIs[0].DevEUI != 0xb || o.MaxCopies != 3 || o.Destinations[0].Protocol != "http_roaming" || o.PayerDC != 1000-40-100+5 {
		t.Fatalf("oui show: %+v %v", o, err)
	}
	if !strings.Contains(ok(runDC, "balance", makerAddr), `"dc": 865`) {
		t.Fatal("dc balance")
	}
	// refusals come back with the API's code and exit 1; usage errors exit 2
	if code, _, errs := runCmd(t, runHotspot, "assert", "--key", ownerF, "--hotspot", hsAddr, "--h3", "8c1fb46741a13ff", "--gain", "900", api); code != 1 || !strings.Contains(errs, "gain_out_of_bounds") {
		t.Fatalf("bad gain: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, runMaker, "add", "--key", ownerF, "--maker", ownerAddr, api); code != 1 || !strings.Contains(errs, "wrong_signer") {
		t.Fatalf("maker add by non-admin: %d %s", code, errs)
	}
	for _, args := range [][]string{{"transfer", "--key", ownerF, "--to", "nope", "--amount", "1"}, {"transfer", "--key", ownerF}, {"frobnicate"}, {}} {
		if code, _, _ := runCmd(t, runWallet, append(args, api)...); code != 2 {
			t.Fatalf("wallet %v: exit %d, want 2", args, code)
		}
	}

	// an epoch of rewards, then proofs verified against the pinned oracle
	e := l.NextEpoch()
	if err := l.RecordPoC(e, hs.Public(), 1, 1, "k1"); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	if _, err := l.CloseDue(); err != nil {
		t.Fatal(err)
	}
	es := strings.TrimSpace(strings.Split(strings.Split(ok(runRewards, "epochs"), `"epoch": `)[1], ",")[0])
	if es == "" {
		t.Fatal("rewards epochs: no epoch")
	}
	if !strings.Contains(ok(runRewards, "show", es), ownerAddr) {
		t.Fatal("rewards show lacks the owner's entry")
	}
	pin := filepath.Join(dir, "pins", "oracle.pin")
	code, out, errs = runCmd(t, runRewards, "verify", es, ownerAddr, "--pin", pin, api)
	if code != 0 || !strings.Contains(out, "verified 1 entries") || !strings.Contains(errs, "pinned oracle") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	if b, _ := os.ReadFile(pin); strings.TrimSpace(string(b)) != string(oracle.Address()) {
		t.Fatalf("pin file %q", b)
	}
	// a wrong oracle, pinned or given, is refused
	if code, _, errs := runCmd(t, runRewards, "verify", es, ownerAddr, "--oracle", makerAddr, api); code != 1 || !strings.Contains(errs, "not signed by the oracle") {
		t.Fatalf("wrong oracle: %d %s", code, errs)
	}
	// proofs saved, then verified offline; a tampered proof file fails
	pf := filepath.Join(dir, "proof.json")
	ok(runRewards, "proof", es, ownerAddr, "--out", pf)
	code, out, errs = runCmd(t, runRewards, "verify", es, ownerAddr, "--proof", pf, "--pin", pin, "--api=http://127.0.0.1:1")
	if code != 0 || !strings.Contains(out, "OK entry") {
		t.Fatalf("offline verify: %d %s %s", code, out, errs)
	}
	var pfj proofFileJSON
	b, _ := os.ReadFile(pf)
	_ = json.Unmarshal(b, &pfj)
	raw := []byte(pfj.Proofs[0])
	raw[len(raw)/2] ^= 0x01 // flip a base64 character inside the protobuf
	pfj.Proofs[0] = string(raw)
	b, _ = json.Marshal(pfj)
	_ = os.WriteFile(pf, b, 0o644)
	if code, _, _ := runCmd(t, runRewards, "verify", es, ownerAddr, "--proof", pf, "--pin", pin); code != 1 {
		t.Fatalf("tampered proof verified: exit %d", code)
	}
	if code, _, _ := runCmd(t, runRewards, "verify", es, makerAddr, "--pin", pin, api); code != 1 {
		t.Fatal("verify for an address outside the manifest succeeded")
	}
}
