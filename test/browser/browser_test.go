// Package browser_test drives headless Chromium against a maps server holding
// a synthetic network: the page must render hexes and hotspots, open a
// hotspot's panel with its witnesses on click, show live activity, fetch
// nothing from outside, and leave a non-blank screenshot in
// test/artifacts/map.png.
package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/api"
	"github.com/hexnet/hexnet/maps/live"
	"github.com/hexnet/hexnet/maps/mapstest"
)

// findChromium returns the browser to drive: $CHROMIUM, or Debian's chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found and CI=true: install the Debian chromium package")
	}
	t.Skip("chromium not found (set CHROMIUM or apt-get install chromium)")
	return ""
}

// startServer serves the maps API and web map over a synthetic network fed
// through the ingest API: aggregator calls for the network's events, HTTP
// POSTs for the mapper points.
func startServer(t *testing.T) (*httptest.Server, *maps.Aggregator, *mapstest.Network) {
	t.Helper()
	n, err := mapstest.Generate(mapstest.Config{Seed: 42, Hotspots: 30, MapperPoints: 300})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := func() time.Time { return n.End }
	hub, err := live.New(live.Config{}, live.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(ctx) }()
	agg, err := maps.New(maps.Config{}, maps.Deps{Store: db.Prefix("maps/"), Now: now, Live: hub})
	if err != nil {
		t.Fatal(err)
	}
	srvAPI, err := api.New(api.Config{}, api.Deps{Agg: agg, Live: hub, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(srvAPI)
	t.Cleanup(func() { srv.Close(); cancel(); <-hubDone })

	mapper := n.Mapper
	n.Mapper = nil // these go through HTTP below
	if err := n.Feed(agg); err != nil {
		t.Fatal(err)
	}
	var ups []api.Uplink
	for _, m := range mapper {
		m := m
		u := api.Uplink{DevEUI: m.DevEUI, Lat: &m.Lat, Lng: &m.Lng, Alt: &m.Alt, Accuracy: &m.Accuracy, Time: &m.At}
		for _, h := range m.Hotspots {
			h := h
			u.Hotspots = append(u.Hotspots, api.UplinkHeard{Address: h.Address, RSSI: &h.RSSI, SNR: &h.SNR})
		}
		ups = append(ups, u)
	}
	body, _ := json.Marshal(ups)
	resp, err := http.Post(srv.URL+"/api/v1/ingest/uplink", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var ir api.IngestResponse
		_ = json.NewDecoder(resp.Body).Decode(&ir)
		for _, r := range ir.Results {
			if r.Status != "accepted" {
				t.Fatalf("mapper ingest: %d: point %d: %s %s %+v", resp.StatusCode, r.Index, r.Reason, r.Detail, r.Hotspots)
			}
		}
		t.Fatalf("mapper ingest: %d", resp.StatusCode)
	}
	return srv, agg, n
}

func TestMapInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short")
	}
	chromium := findChromium(t)
	srv, agg, n := startServer(t)
	names := map[string]string{}
	for _, h := range n.Hotspots {
		names[h.Address] = h.Name
	}

	opts := browserOptions(t, chromium)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	var logMu sync.Mutex
	var logs []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		logMu.Unlock()
	}))
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()

	// Every request the page makes must go to our server (offline map).
	base, _ := url.Parse(srv.URL)
	var reqMu sync.Mutex
	var foreign []string
	_ = chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			u, err := url.Parse(e.Request.URL)
			if err != nil || (u.Scheme != "data" && u.Scheme != "blob" && u.Host != base.Host) {
				reqMu.Lock()
				foreign = append(foreign, e.Request.URL)
				reqMu.Unlock()
			}
		}
	})

	fail := func(step string, err error) {
		t.Helper()
		diag, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({ready: window.hexnet && window.hexnet.ready, res: window.hexnet && window.hexnet.hexRes, notice: document.getElementById('notice').textContent})`))
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("%s: %v\npage state: %s\nchromedp log: %s", step, err, diag, strings.Join(logs, "\n"))
	}
	enableNetwork := chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	})

	const rendered = `(() => { const m = window.hexnet && window.hexnet.map;
		if (!m || !m.loaded() || !m.getLayer('hex-fill')) return false;
		return m.queryRenderedFeatures({layers: ['hex-fill']}).length > 0 &&
		       m.queryRenderedFeatures({layers: ['hotspots']}).length >= 10; })()`
	if err := chromedp.Do(ctx, enableNetwork); err != nil {
		fail("starting the browser", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/?basemap=none"),
		void(chromedp.Poll[bool](rendered, chromedp.WithPollingTimeout(60*time.Second))),
	); err != nil {
		fail("waiting for hexes and hotspots to render", err)
	}

	// Pick a hotspot that has witnesses of its beacons, and click it.
	type pickT struct {
		X, Y    float64
		Address string
	}
	const pick = `(() => { const m = window.hexnet.map, r = m.getCanvas().getBoundingClientRect();
		const fs = m.queryRenderedFeatures({layers: ['hotspots']});
		const p = m.project(fs[0].geometry.coordinates);
		return {X: p.x + r.left, Y: p.y + r.top, Address: fs[0].properties.address}; })()`
	target, err := chromedp.Run(ctx, chromedp.Evaluate[pickT](pick))
	if err != nil {
		fail("locating a hotspot", err)
	}
	edges, err := agg.Edges(target.Address)
	if err != nil {
		t.Fatal(err)
	}
	wantWitnesses := 0
	for _, e := range edges {
		if e.Direction == "witnessed_by" {
			wantWitnesses++
		}
	}
	if wantWitnesses == 0 {
		t.Fatalf("picked hotspot %s has no witnesses; the synthetic network should give every hotspot some", target.Address)
	}
	if err := chromedp.Do(ctx,
		chromedp.MouseClickXY(target.X, target.Y),
		chromedp.WaitVisible(`#panel [data-testid="hotspot-name"]`),
		void(chromedp.Poll[bool](`document.querySelectorAll('#witness-table tr').length > 1`, chromedp.WithPollingTimeout(10*time.Second))),
		void(chromedp.Poll[bool](`window.hexnet.map.queryRenderedFeatures({layers: ['edges']}).length > 0`, chromedp.WithPollingTimeout(10*time.Second))),
	); err != nil {
		fail("clicking a hotspot", err)
	}
	name, err := chromedp.Run(ctx, chromedp.Text(`#panel [data-testid="hotspot-name"]`))
	if err != nil {
		fail("reading the panel", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#witness-table tr').length - 1`))
	if err != nil {
		fail("reading the witness table", err)
	}
	if name != names[target.Address] {
		t.Fatalf("panel shows %q, want %q (%s)", name, names[target.Address], target.Address)
	}
	if rows != wantWitnesses {
		t.Fatalf("witness table has %d rows, want %d", rows, wantWitnesses)
	}

	// Live activity: a beacon published now shows up in the list.
	w := n.Hotspots[1]
	if w.Address == target.Address {
		w = n.Hotspots[2]
	}
	if err := chromedp.Do(ctx, void(chromedp.Poll[bool](`document.getElementById('live-state').classList.contains('on')`,
		chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		fail("live feed connecting", err)
	}
	if err := agg.Beacon(maps.BeaconEvent{Beaconer: target.Address, At: n.End, Valid: true, Reason: "reason_none",
		Witnesses: []maps.WitnessEvent{{Witness: w.Address, RSSI: -104, SNR: 2, DistanceM: 5000, Valid: false, Reason: "too_late"}}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, void(chromedp.Poll[bool](`document.querySelectorAll('#live-list li').length >= 2`, chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		fail("live activity", err)
	}
	liveText, err := chromedp.Run(ctx, chromedp.Text(`#live-list`))
	if err != nil {
		fail("reading live activity", err)
	}
	if !strings.Contains(liveText, "arrived too long after the beacon") || !strings.Contains(liveText, "beacon · "+name) {
		t.Fatalf("live list lacks the beacon and the witness verdict in words: %q", liveText)
	}

	// Screenshot, saved as an artifact and checked for content.
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		fail("settling", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		fail("screenshot", err)
	}
	dir := filepath.Join("..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "map.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	colours, nonBG, err := analyse(shot)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %d bytes: %d distinct colours, %.1f%% of the map area differs from the background", len(shot), colours, 100*nonBG)
	if colours < 50 || nonBG < 0.03 {
		t.Fatalf("screenshot looks blank: %d colours, %.3f non-background", colours, nonBG)
	}
	// Clicking a hex (away from hotspots and lines) opens the hex's panel.
	type hexPick struct {
		X, Y float64
		H3   string
	}
	const findHex = `(() => { const m = window.hexnet.map, r = m.getCanvas().getBoundingClientRect();
		const W = m.getCanvas().clientWidth, H = m.getCanvas().clientHeight;
		for (let y = 10; y < H - 10; y += 3) for (let x = 10; x < W - 10; x += 3) {
			const hx = m.queryRenderedFeatures([x, y], {layers: ['hex-fill']});
			if (!hx.length) continue;
			if (m.queryRenderedFeatures([[x - 12, y - 12], [x + 12, y + 12]], {layers: ['hotspots', 'edges']}).length) continue;
			return {X: x + r.left, Y: y + r.top, H3: hx[0].properties.h3};
		}
		return null; })()`
	if err := chromedp.Do(ctx, chromedp.Click(`#panel-close`),
		void(chromedp.Poll[bool](`document.getElementById('panel').hidden && window.hexnet.map.queryRenderedFeatures({layers: ['edges']}).length === 0`,
			chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		fail("closing the panel", err)
	}
	hp, err := chromedp.Run(ctx, chromedp.Evaluate[*hexPick](findHex))
	if err != nil || hp == nil {
		fail("finding a free spot on a hex", fmt.Errorf("%v (pick %v)", err, hp))
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(hp.X, hp.Y),
		void(chromedp.Poll[bool](fmt.Sprintf(`(document.querySelector('#panel h2') || {}).textContent === 'Hex %s'`, hp.H3),
			chromedp.WithPollingTimeout(10*time.Second)))); err != nil {
		fail("clicking hex "+hp.H3, err)
	}
	hexText, err := chromedp.Run(ctx, chromedp.Text(`#panel`))
	if err != nil {
		fail("reading the hex panel", err)
	}
	if lt := strings.ToLower(hexText); !strings.Contains(lt, "valid witnesses") || !strings.Contains(lt, "mapper coverage") || !strings.Contains(lt, "resolution") {
		t.Fatalf("hex panel: %q", hexText)
	}

	// Mapper RSSI mode draws the mapper coverage hexes.
	if err := chromedp.Do(ctx,
		void(chromedp.Evaluate[bool](`(() => { const s = document.getElementById('mode'); s.value = 'mapper'; s.dispatchEvent(new Event('change')); return true; })()`)),
		void(chromedp.Poll[bool](`window.hexnet.map.queryRenderedFeatures({layers: ['coverage-fill']}).length > 0`, chromedp.WithPollingTimeout(20*time.Second))),
		chromedp.Sleep(300*time.Millisecond),
	); err != nil {
		fail("mapper mode", err)
	}
	if shot2, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "map-mapper.png"), shot2, 0o644)
	}

	reqMu.Lock()
	if len(foreign) > 0 {
		t.Fatalf("the page fetched from outside the server (must work offline): %v", foreign)
	}
	reqMu.Unlock()

	// With a raster base map configured (here by query parameter), the page
	// draws it under the hexes: its tiles are fetched from the tile server.
	var tileMu sync.Mutex
	tiles := 0
	tileSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tileMu.Lock()
		tiles++
		tileMu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = png.Encode(w, solidTile())
	}))
	defer tileSrv.Close()
	tmpl := url.QueryEscape(tileSrv.URL + "/{z}/{x}/{y}.png")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/?tiles="+tmpl),
		void(chromedp.Poll[bool](rendered+` && !!window.hexnet.map.getLayer('basemap') && window.hexnet.map.areTilesLoaded()`, chromedp.WithPollingTimeout(60*time.Second))),
	); err != nil {
		fail("base map", err)
	}
	tileMu.Lock()
	defer tileMu.Unlock()
	if tiles == 0 {
		t.Fatal("no base map tile was requested")
	}
}

// solidTile is a 256×256 tile of one light colour.
func solidTile() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 0xdd, 0xe4, 0xea, 0xff
	}
	return img
}

// void drops an action's value so it can run in chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, tg)
		return chromedp.Void{}, err
	}
}

// analyse counts distinct colours and the share of map-area pixels (left of
// the panel, below the bar) that differ from the background #0e1a24.
func analyse(data []byte) (int, float64, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	b := img.Bounds()
	seen := map[uint32]bool{}
	var total, diff int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r8, g8, b8 := r>>8, g>>8, bl>>8
			seen[r8<<16|g8<<8|b8] = true
			if inMap(b, x, y) {
				total++
				if absd(r8, 0x0e)+absd(g8, 0x1a)+absd(b8, 0x24) > 24 {
					diff++
				}
			}
		}
	}
	return len(seen), float64(diff) / float64(max(total, 1)), nil
}

func inMap(b image.Rectangle, x, y int) bool { return y > 60 && x < b.Max.X-420 }

func absd(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
