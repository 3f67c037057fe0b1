package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hexnet/hexnet/maps/live"
)

func startHub(t *testing.T, cfg live.Config) (*live.Hub, string) {
	t.Helper()
	h, err := live.New(cfg, live.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		cancel()
		<-done
		h.Close()
		srv.Close()
	})
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitClients(t *testing.T, h *live.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.Stats().Clients != n {
		if time.Now().After(deadline) {
			t.Fatalf("clients %d, want %d", h.Stats().Clients, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type got struct {
	Type     string
	Hotspots []string
	Data     map[string]any
}

func read(t *testing.T, c *websocket.Conn) got {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var g got
	if err := c.ReadJSON(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

func ev(typ, hotspot string, lat, lng float64, seq int) live.Event {
	return live.Event{Type: typ, At: time.Unix(1_700_000_000, 0).UTC(), Hotspots: []string{hotspot},
		Points: []live.Point{{Lat: lat, Lng: lng}}, Data: map[string]any{"seq": seq}}
}

func TestFilters(t *testing.T) {
	h, url := startHub(t, live.Config{})
	all := dial(t, url)
	box := dial(t, url+"?bbox=4,52,5,53")
	hs := dial(t, url)
	typed := dial(t, url+"?types=epoch,packet")
	// hs changes its filter with a subscribe message.
	if err := hs.WriteJSON(map[string]any{"type": "subscribe", "hotspots": []string{"B"}}); err != nil {
		t.Fatal(err)
	}
	// A bad subscribe message is answered with an error event, the old filter stays.
	if err := hs.WriteJSON(map[string]any{"type": "subscribe", "bbox": []float64{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if g := read(t, hs); g.Type != "error" {
		t.Fatalf("bad subscribe: %+v", g)
	}
	waitClients(t, h, 4)
	h.Publish(ev(live.TypeBeacon, "A", 52.5, 4.5, 1)) // inside bbox, hotspot A
	h.Publish(ev(live.TypeWitness, "B", 10, 10, 2))   // outside bbox, hotspot B
	h.Publish(ev(live.TypePacket, "A", 10, 10, 3))
	h.Publish(live.Event{Type: live.TypeEpoch, Data: map[string]any{"seq": 4}}) // epochs pass bbox filters
	want := map[*websocket.Conn][]float64{all: {1, 2, 3, 4}, box: {1, 4}, hs: {2}, typed: {3, 4}}
	for c, seqs := range want {
		for _, s := range seqs {
			if g := read(t, c); g.Data["seq"] != s {
				t.Fatalf("got seq %v, want %v", g.Data["seq"], s)
			}
		}
	}
	// Nothing more for hs: the next event it sees is the one it asked for.
	h.Publish(ev(live.TypeBeacon, "B", 0, 0, 5))
	if g := read(t, hs); g.Data["seq"] != 5.0 {
		t.Fatalf("hs got %+v", g)
	}
	if _, _, err := websocket.DefaultDialer.Dial(url+"?bbox=1,2", nil); err == nil {
		t.Fatal("bad bbox accepted")
	}
}

func TestSlowClientIsDisconnectedAndNeverSlowsIngest(t *testing.T) {
	h, url := startHub(t, live.Config{ClientBuffer: 8, QueueSize: 1 << 14, WriteTimeout: 5 * time.Second})
	fast := dial(t, url)
	slow := dial(t, url) // never reads until it has been kicked
	waitClients(t, h, 2)

	const n = 3000
	pad := strings.Repeat("x", 16<<10) // 48 MB in all: more than any socket buffer
	// The fast client keeps up; the publisher stays at most 4 events ahead of
	// it (less than its buffer), so only the stalled client can overflow.
	acks := make(chan int, n)
	go func() {
		defer close(acks)
		for i := 0; i < n; i++ {
			_ = fast.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := fast.ReadMessage(); err != nil {
				return
			}
			acks <- i
		}
	}()
	got := 0
	for i := 0; i < n; i++ {
		for i-got >= 4 {
			if _, ok := <-acks; !ok {
				t.Fatalf("fast client lost after %d of %d events (stats %+v)", got, n, h.Stats())
			}
			got++
		}
		if !h.Publish(live.Event{Type: live.TypePacket, Hotspots: []string{"A"}, Data: map[string]any{"seq": i, "pad": pad}}) {
			t.Fatalf("publish %d dropped: the queue should never back up behind a slow client", i)
		}
	}
	for range acks {
		got++
	}
	if got != n {
		t.Fatalf("fast client got %d of %d events", got, n)
	}
	st := h.Stats()
	if st.SlowDisconnects != 1 || st.Clients != 1 {
		t.Fatalf("stats after burst: %+v", st)
	}
	// The slow client, reading at last, finds the close frame with the reason.
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != live.CloseReasonSlow {
			t.Fatalf("slow client: %v, want close 1008 %q", err, live.CloseReasonSlow)
		}
		break
	}
}

func TestCloseSaysGoingAway(t *testing.T) {
	h, url := startHub(t, live.Config{})
	c := dial(t, url)
	waitClients(t, h, 1)
	h.Close()
	h.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after Close: %v", err)
	}
	if h.Publish(live.Event{Type: live.TypeBeacon}) {
		t.Fatal("publish after close accepted")
	}
	if _, _, err := websocket.DefaultDialer.Dial(url, nil); err == nil {
		t.Fatal("dial after close accepted")
	}
}

func TestParseSubscribe(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{`{"type":"subscribe"}`, true},
		{`{"type":"subscribe","bbox":[4,52,5,53],"hotspots":["a"],"types":["beacon"]}`, true},
		{`{"type":"subscribe","bbox":[5,52,4,53]}`, false},
		{`{"type":"subscribe","bbox":[-181,0,0,0]}`, false},
		{`{"type":"unsubscribe"}`, false},
		{`{`, false},
		{`null`, false},
	}
	for _, c := range cases {
		f, err := live.ParseSubscribe([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.in, err)
		}
		if err != nil && !errors.Is(err, live.ErrBadFilter) {
			t.Errorf("%s: error not ErrBadFilter: %v", c.in, err)
		}
		if err == nil && f == nil {
			t.Errorf("%s: nil filter", c.in)
		}
	}
}

func FuzzParseSubscribe(f *testing.F) {
	f.Add([]byte(`{"type":"subscribe","bbox":[4,52,5,53],"hotspots":["a,b"],"types":["beacon"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		flt, err := live.ParseSubscribe(data)
		if err != nil {
			return
		}
		ev := live.Event{Type: "beacon", Hotspots: []string{"a"}, Points: []live.Point{{Lat: 52.5, Lng: 4.5}}}
		_ = flt.Match(&ev)
		b, _ := json.Marshal(flt)
		_ = b
	})
}

func FuzzParseBBox(f *testing.F) {
	f.Add("4.5,52.1,5.3,52.6")
	f.Add("-180,-90,180,90")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := live.ParseBBox(s)
		if err != nil {
			return
		}
		if b[0] > b[2] || b[1] > b[3] || b[0] < -180 || b[3] > 90 {
			t.Fatalf("accepted bad bbox %v from %q", *b, s)
		}
	})
}
