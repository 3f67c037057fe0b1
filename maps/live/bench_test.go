package live_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hexnet/hexnet/maps/live"
)

// BenchmarkBroadcast1000 publishes events to 1,000 WebSocket clients on
// loopback and reports the events delivered per second (events × clients
// actually read by the clients). The publisher stays at most 64 events ahead
// of the slowest reader, so no client is ever kicked.
func BenchmarkBroadcast1000(b *testing.B) {
	const clients = 1000
	h, err := live.New(live.Config{ClientBuffer: 256, QueueSize: 1 << 16}, live.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = h.Run(ctx) }()
	srv := httptest.NewServer(h)
	defer func() { cancel(); h.Close(); srv.Close() }()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var received atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, clients)
	for i := 0; i < clients; i++ {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	for h.Stats().Clients != clients {
		time.Sleep(time.Millisecond)
	}
	ev := live.Event{Type: live.TypeWitness, At: time.Now().UTC(), Hotspots: []string{"14mYiH6zcmbRfRqL9N4L5URe395kYNAmFu5ovWPoFkwrFzx95wZ"},
		Points: []live.Point{{Lat: 52.37, Lng: 4.9}},
		Data:   map[string]any{"witness": "deep-tomato-falcon", "rssi": -104.5, "snr": 2.5, "valid": true, "reason": "reason_none"}}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for int64(i-64)*clients > received.Load() {
			time.Sleep(50 * time.Microsecond)
		}
		if !h.Publish(ev) {
			b.Fatal("publish dropped")
		}
	}
	for received.Load() < int64(b.N)*clients {
		time.Sleep(100 * time.Microsecond)
		if st := h.Stats(); st.SlowDisconnects > 0 {
			b.Fatalf("clients kicked: %+v", st)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(received.Load())/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}
