package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hexnet/hexnet/internal/devnet"
)

// browserOptions are the flags the browser tests run headless Chromium with.
func browserOptions(t *testing.T, chromium string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.Flag("use-angle", "swiftshader"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
}

// TestDevnetMapInBrowser loads the explorer of a running devnet (the small
// scenario): hexes and hotspots render, clicking a hotspot whose beacons were
// witnessed opens its panel with the witnesses, and the screenshot
// (test/artifacts/devnet-map.png) is not blank.
func TestDevnetMapInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short")
	}
	chromium := findChromium(t)
	s, err := devnet.LoadScenario("small")
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := devnet.Run(ctx, devnet.Options{Scenario: s, HTTPAddr: "127.0.0.1:0", Speedup: 120, Duration: 4 * time.Minute,
			OnReady: func(u string) { ready <- strings.TrimSuffix(u, "/") }})
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("devnet: %v", err)
		}
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("devnet stopped: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("devnet not ready")
	}

	// Wait until some hotspot has valid witnesses of its beacons.
	type hotspot struct {
		Address string  `json:"address"`
		Name    string  `json:"name"`
		Lat     float64 `json:"lat"`
		Lng     float64 `json:"lng"`
	}
	witnesses := 0
	deadline := time.Now().Add(2 * time.Minute)
	for witnesses < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no hotspot with three witnesses within 2 minutes")
		}
		time.Sleep(time.Second)
		var list struct {
			Hotspots []hotspot `json:"hotspots"`
		}
		if !getJSON(base+"/api/v1/hotspots?limit=100", &list) {
			continue
		}
		for _, h := range list.Hotspots {
			if n := witnessedBy(base, h.Address); n > witnesses {
				witnesses = n
			}
		}
	}

	actx, cancelA := chromedp.NewExecAllocator(context.Background(), browserOptions(t, chromium)...)
	defer cancelA()
	var logMu sync.Mutex
	var logs []string
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		logMu.Unlock()
	}))
	defer cancelB()
	bctx, cancelT := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelT()
	fail := func(step string, err error) {
		t.Helper()
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("%s: %v\nchromedp log: %s", step, err, strings.Join(logs, "\n"))
	}
	const rendered = `(() => { const m = window.hexnet && window.hexnet.map;
		if (!m || !m.loaded() || !m.getLayer('hex-fill')) return false;
		return m.queryRenderedFeatures({layers: ['hex-fill']}).length > 0 &&
		       m.queryRenderedFeatures({layers: ['hotspots']}).length >= 5; })()`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/?basemap=none"),
		void(chromedp.Poll[bool](rendered, chromedp.WithPollingTimeout(60*time.Second))),
	); err != nil {
		fail("waiting for the devnet's hexes and hotspots to render", err)
	}
	// Among the hotspots drawn on screen, click the one whose beacons have the
	// most witnesses (by the API).
	type drawn struct {
		X, Y    float64
		Address string
	}
	feats, err := chromedp.Run(bctx, chromedp.Evaluate[[]drawn](`(() => { const m = window.hexnet.map, r = m.getCanvas().getBoundingClientRect();
		return m.queryRenderedFeatures({layers: ['hotspots']}).map(f => { const p = m.project(f.geometry.coordinates);
			return {X: p.x + r.left, Y: p.y + r.top, Address: f.properties.address}; }); })()`))
	if err != nil {
		fail("listing drawn hotspots", err)
	}
	var pick drawn
	best := 0
	for _, f := range feats {
		if n := witnessedBy(base, f.Address); n > best {
			pick, best = f, n
		}
	}
	if best == 0 {
		t.Fatalf("none of the %d hotspots drawn has witnesses (the network's best has %d)", len(feats), witnesses)
	}
	if err := chromedp.Do(bctx,
		chromedp.MouseClickXY(pick.X, pick.Y),
		chromedp.WaitVisible(`#panel [data-testid="hotspot-name"]`),
		void(chromedp.Poll[bool](`document.querySelectorAll('#witness-table tr').length > 1`, chromedp.WithPollingTimeout(20*time.Second))),
		chromedp.Sleep(500*time.Millisecond),
	); err != nil {
		fail("clicking hotspot "+pick.Address, err)
	}
	name, err := chromedp.Run(bctx, chromedp.Text(`#panel [data-testid="hotspot-name"]`))
	if err != nil {
		fail("reading the panel", err)
	}
	t.Logf("clicked %s (%d witnesses), panel shows %s", pick.Address, best, name)
	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		fail("screenshot", err)
	}
	dir := filepath.Join("..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "devnet-map.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	colours, nonBG, err := analyse(shot)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("devnet screenshot: %d distinct colours, %.1f%% of the map area differs from the background", colours, 100*nonBG)
	if colours < 50 || nonBG < 0.01 {
		t.Fatalf("devnet screenshot looks blank: %d colours, %.3f non-background", colours, nonBG)
	}
}

// witnessedBy counts the witness edges of a hotspot's beacons.
func witnessedBy(base, addr string) int {
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if !getJSON(base+"/api/v1/hotspots/"+addr+"/witnesses.geojson", &fc) {
		return 0
	}
	n := 0
	for _, f := range fc.Features {
		if f.Properties["direction"] == "witnessed_by" {
			n++
		}
	}
	return n
}

func getJSON(url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(v) == nil
}
