// Package devnet_test runs the whole network in one process (the devnet's
// small scenario) for tens of seconds and checks, from the network's own
// records, that every part did its job; the epoch payout is verified with
// the real `hexnet rewards verify` command against the running network.
package devnet_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/devnet"
	"github.com/hexnet/hexnet/internal/identity"
)

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func buildHexnet(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "hexnet")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hexnet")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hexnet: %v\n%s", err, out)
	}
	return bin
}

type epochJSON struct {
	Epoch   uint64 `json:"epoch"`
	Root    string `json:"root"`
	Entries uint64 `json:"entries"`
}

func getJSON(t *testing.T, url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(v) == nil
}

func TestSmallDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("the devnet runs for tens of seconds")
	}
	bin := buildHexnet(t)
	s, err := devnet.LoadScenario("small")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		sum *devnet.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := devnet.Run(ctx, devnet.Options{
			Scenario: s, DataDir: dir, HTTPAddr: "127.0.0.1:0", Speedup: 90, Duration: 3 * time.Minute,
			SummaryPath: filepath.Join(dir, "summary.json"),
			OnReady:     func(url string) { ready <- url },
		})
		done <- result{sum, err}
	}()
	var base string
	select {
	case base = <-ready:
	case r := <-done:
		t.Fatalf("devnet ended before it was ready: %v", r.err)
	case <-time.After(2 * time.Minute):
		t.Fatal("devnet not ready")
	}
	base = strings.TrimSuffix(base, "/")

	// Wait until an epoch with entries has closed, then verify a hotspot's
	// payout against the root signed by the oracle whose key we hold.
	oracleKey, err := identity.LoadKey(filepath.Join(dir, "network", "keys", "oracle.key"))
	if err != nil {
		t.Fatal(err)
	}
	// Wait for a closed epoch that pays some hotspot for PoC (the first
	// epochs may pay only data transfer while reciprocity bootstraps).
	type manifestJSON struct {
		Entries []struct {
			Hotspot string `json:"hotspot"`
			Beacon  uint64 `json:"beacon"`
			Witness uint64 `json:"witness"`
		} `json:"entries"`
	}
	var epoch epochJSON
	var hotspot string
	deadline := time.Now().Add(2 * time.Minute)
	for hotspot == "" {
		if time.Now().After(deadline) {
			t.Fatal("no epoch paying PoC rewards closed within 2 minutes")
		}
		time.Sleep(time.Second)
		var epochs []epochJSON
		if !getJSON(t, base+"/api/v1/ledger/epochs", &epochs) {
			continue
		}
		for _, e := range epochs {
			var m manifestJSON
			if e.Entries == 0 || !getJSON(t, base+"/api/v1/ledger/epochs/"+strconv.FormatUint(e.Epoch, 10), &m) {
				continue
			}
			for _, en := range m.Entries {
				if en.Hotspot != "" && en.Beacon+en.Witness > 0 {
					epoch, hotspot = e, en.Hotspot
					break
				}
			}
		}
	}
	if len(epoch.Root) != 64 {
		t.Fatalf("epoch %d root %q is not 64 hex digits", epoch.Epoch, epoch.Root)
	}
	out, err := exec.Command(bin, "rewards", "verify", strconv.FormatUint(epoch.Epoch, 10), hotspot,
		"--api", base, "--oracle", string(oracleKey.Address()), "--pin", filepath.Join(dir, "oracle.pin")).CombinedOutput()
	if err != nil {
		t.Fatalf("hexnet rewards verify refused epoch %d for %s: %v\n%s", epoch.Epoch, hotspot, err, out)
	}
	// A wrong oracle must be refused.
	other, _ := identity.Generate()
	if out, err := exec.Command(bin, "rewards", "verify", strconv.FormatUint(epoch.Epoch, 10), hotspot,
		"--api", base, "--oracle", string(other.Address()), "--pin", filepath.Join(dir, "other.pin")).CombinedOutput(); err == nil {
		t.Fatalf("rewards verify accepted a root under the wrong oracle:\n%s", out)
	}

	// The explorer's API over the devnet-populated store: stats, the hotspot
	// list, a hotspot's detail with its PoC history and trust, its witness
	// edges as GeoJSON, and the hexes of the area.
	var stats struct {
		Hotspots int `json:"hotspots"`
		Located  int `json:"located"`
		Counters struct {
			Packets uint64 `json:"packets"`
			DC      uint64 `json:"dc"`
		} `json:"counters"`
	}
	if !getJSON(t, base+"/api/v1/stats", &stats) || stats.Hotspots != 20 || stats.Located != 20 {
		t.Errorf("stats: %+v", stats)
	}
	// The copies the router bought reach the explorer's counters.
	if stats.Counters.Packets == 0 || stats.Counters.DC < stats.Counters.Packets {
		t.Errorf("explorer packet counters: %+v, want the copies the router bought", stats.Counters)
	}
	var detail struct {
		Address string  `json:"address"`
		Lat     float64 `json:"lat"`
	}
	if !getJSON(t, base+"/api/v1/hotspots/"+hotspot, &detail) || detail.Address != hotspot || detail.Lat == 0 {
		t.Errorf("hotspot detail of %s: %+v", hotspot, detail)
	}
	var pocHistory struct {
		Items []map[string]any `json:"items"`
	}
	if !getJSON(t, base+"/api/v1/hotspots/"+hotspot+"/poc?limit=5", &pocHistory) || len(pocHistory.Items) == 0 {
		t.Errorf("no PoC history for %s", hotspot)
	}
	var tr struct {
		Score float64 `json:"score"`
	}
	if !getJSON(t, base+"/api/v1/hotspots/"+hotspot+"/trust", &tr) {
		t.Errorf("no trust for %s", hotspot)
	}
	var hexes struct {
		Type     string           `json:"type"`
		Features []map[string]any `json:"features"`
	}
	if !getJSON(t, base+"/api/v1/hexes?bbox=5.0,52.0,5.25,52.2&res=8", &hexes) || hexes.Type != "FeatureCollection" || len(hexes.Features) == 0 {
		t.Errorf("hexes of the devnet area: %d features", len(hexes.Features))
	}

	// Let devices join and send, then stop and read the summary.
	time.Sleep(10 * time.Second)
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("devnet did not stop")
	}
	if r.err != nil {
		t.Fatalf("devnet: %v", r.err)
	}
	sum := r.sum
	b, _ := json.MarshalIndent(sum, "", "  ")
	t.Logf("summary:\n%s", b)
	if sum.Beacons.Valid == 0 || sum.Witnesses.Valid == 0 {
		t.Errorf("no valid beacons (%d) or witnesses (%d)", sum.Beacons.Valid, sum.Witnesses.Valid)
	}
	if sum.Packets.JoinsAccepted == 0 || sum.Packets.DeliveredToLNS == 0 || sum.DC.Charged == 0 {
		t.Errorf("joins %d, uplinks to LNS %d, DC charged %d: want all > 0", sum.Packets.JoinsAccepted, sum.Packets.DeliveredToLNS, sum.DC.Charged)
	}
	if len(sum.Epochs) == 0 {
		t.Error("no closed epoch in the summary")
	}
	for _, e := range sum.Epochs {
		if len(e.MerkleRoot) != 64 {
			t.Errorf("epoch %d root %q", e.Epoch, e.MerkleRoot)
		}
	}
	if sum.Groups[devnet.Honest].Reward == 0 {
		t.Error("honest hotspots earned no PoC reward")
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
		t.Errorf("summary file: %v", err)
	}
}
