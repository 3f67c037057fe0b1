package router

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/gwmpfwd"
	"github.com/hexnet/hexnet/router/routes"
)

const (
	benchHotspots = 1000
	benchCopies   = 3
	benchWindow   = 256 // QoS 1 publishes in flight, in both phases
)

// benchNet is what one BenchmarkRouterEndToEnd setup builds: the embedded
// broker, one MQTT connection per hotspot (each may publish only as itself)
// and the router's key.
type benchNet struct {
	url      string
	routerK  *identity.Key
	hotspots []*identity.Key
	clients  []*mqttc.Client
	onboard  fakeHotspots
}

func setupBenchNet(b *testing.B, ctx context.Context) *benchNet {
	b.Helper()
	n := &benchNet{onboard: fakeHotspots{}}
	n.routerK, _ = identity.Generate()
	n.url = startHexnetBroker(b, n.routerK)
	n.hotspots = make([]*identity.Key, benchHotspots)
	n.clients = make([]*mqttc.Client, benchHotspots)
	var wg sync.WaitGroup
	errs := make(chan error, benchHotspots)
	sem := make(chan struct{}, 32)
	for i := range n.hotspots {
		k, _ := identity.Generate()
		n.hotspots[i] = k
		n.onboard[k.Public()] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := mqttc.Dial(ctx, mqttc.Config{URL: n.url, Key: k, CleanSession: true, Logger: quietLog()})
			if err != nil {
				errs <- err
				return
			}
			n.clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, c := range n.clients {
			_ = c.Close()
		}
	})
	return n
}

// benchMsg is one signed PacketUp copy, ready to publish.
type benchMsg struct {
	hotspot int
	topic   string
	payload []byte
	key     string // LNS-side identity: PHYPayload ‖ gateway EUI
}

// publishAll publishes msgs through their hotspots' connections with
// benchWindow publishes in flight, calling sent(i) just before each publish.
func publishAll(b *testing.B, ctx context.Context, n *benchNet, msgs []benchMsg, sent func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchWindow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				m := msgs[i]
				sent(i)
				if err := n.clients[m.hotspot].Publish(ctx, m.topic, 1, false, m.payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRouterEndToEnd measures the router inside the real path:
// benchHotspots hotspots publish signed PacketUps (benchCopies copies of each
// packet, from three different hotspots) at QoS 1 through the embedded
// broker; the router verifies, dedups, bills (dc.Store on Pebble) and
// delivers every copy (max_copies 3) over Semtech UDP to a local LNS socket
// that records receive times. b.N is the number of packets, so 3·b.N
// PacketUps go through. Metrics:
//
//	uplinks/s  PacketUp copies fully processed per second (published → all received at the LNS)
//	p50-ms     median latency of a copy, publish → LNS receive
//	p99-ms     99th percentile of the same
//	broker/s   the broker alone in the same run: the same connections, window
//	           and messages, publish → a subscriber's receipt (QoS 1)
//
// Run: go test -run '^$' -bench RouterEndToEnd -benchtime 20000x ./router/
func BenchmarkRouterEndToEnd(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := setupBenchNet(b, ctx)

	// Messages: packet i is heard by hotspots i, i+1, i+2.
	msgs := make([]benchMsg, 0, b.N*benchCopies)
	for i := range b.N {
		phy, err := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, DevAddr: devAddr,
			FCnt: uint32(i), HasFPort: true, FPort: 1, FRMPayload: make([]byte, 12)}, lorawan.SessionKeys{NwkSKey: nwkSKey, AppSKey: appSKey})
		if err != nil {
			b.Fatal(err)
		}
		for c := range benchCopies {
			h := (i + c) % benchHotspots
			topic, payload := up(b, n.hotspots[h], phy, float32(-60-c), uint32(i))
			eui := gwmpfwd.GatewayEUI(n.hotspots[h].Public())
			msgs = append(msgs, benchMsg{hotspot: h, topic: topic, payload: payload, key: string(phy) + string(eui[:])})
		}
	}
	index := make(map[string]int, len(msgs))
	for i, m := range msgs {
		index[m.key] = i
	}

	// Phase 1: the broker alone.
	var got atomic.Int64
	allIn := make(chan struct{})
	total := int64(len(msgs))
	sub, err := mqttc.Dial(ctx, mqttc.Config{URL: n.url, Key: n.routerK, ClientID: string(n.routerK.Address()) + "-bench",
		CleanSession: true, Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	// Subscribe returns after the SUBACK, so nothing published later is missed.
	if err := sub.Subscribe(wire.UpFilter, 1, func(string, []byte) {
		if got.Add(1) == total {
			close(allIn)
		}
	}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	publishAll(b, ctx, n, msgs, func(int) {})
	select {
	case <-allIn:
	case <-time.After(60 * time.Second):
		b.Fatalf("broker phase: %d of %d messages arrived", got.Load(), total)
	}
	brokerRate := float64(total) / time.Since(start).Seconds()
	_ = sub.Close()

	// Phase 2: the router.
	lnsConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer lnsConn.Close()
	_ = lnsConn.SetReadBuffer(16 << 20)
	sentAt := make([]int64, len(msgs))
	recvAt := make([]int64, len(msgs))
	var received atomic.Int64
	lnsDone := make(chan struct{}) // closed when every copy arrived
	go func() {
		buf := make([]byte, 65536)
		for {
			k, err := lnsConn.Read(buf)
			if err != nil {
				return
			}
			now := time.Now().UnixNano()
			p, err := gwmp.Decode(buf[:k])
			if err != nil {
				continue
			}
			pd, ok := p.(*gwmp.PushData)
			if !ok {
				continue
			}
			for _, rx := range pd.RXPK {
				i, ok := index[string(rx.Data)+string(pd.GatewayEUI[:])]
				if ok && recvAt[i] == 0 {
					recvAt[i] = now
					if received.Add(1) == total {
						close(lnsDone)
					}
				}
			}
		}
	}()

	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rs, err := routes.Open(db.Prefix("router/").Prefix("routes/"))
	if err != nil {
		b.Fatal(err)
	}
	ledger := dc.NewStore(db.Prefix("router/").Prefix("dc/"))
	if err := ledger.Credit("payer", 1<<40); err != nil {
		b.Fatal(err)
	}
	if err := rs.Put(routes.Route{ID: "bench", OUI: 1, Payer: "payer", MaxCopies: benchCopies, Active: true,
		DevAddrRanges: []routes.DevAddrRange{{Start: 0x48000000, End: 0x480000ff}},
		Destinations:  []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: lnsConn.LocalAddr().String()}}}); err != nil {
		b.Fatal(err)
	}
	r, err := New(Config{RateLimit: 1e6, RateBurst: 1e6, DestQueueSize: 65536}, Deps{Routes: rs, Hotspots: n.onboard, DC: ledger,
		Rewards: dc.NewTransfers(db.Prefix("router/").Prefix("xfer/")), Dial: gwmpfwd.Dialer(clock.Real{}, quietLog()),
		Publisher: &fakePub{}, Key: n.routerK, Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	go r.Run(ctx)
	cli, err := mqttc.Dial(ctx, mqttc.Config{URL: n.url, Key: n.routerK, CleanSession: true, Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	if err := cli.Subscribe(wire.UpFilter, 1, r.Handle); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start = time.Now()
	publishAll(b, ctx, n, msgs, func(i int) { sentAt[i] = time.Now().UnixNano() })
	// Done when every copy reached the LNS or was dropped by the router
	// with a reason; copies lost on the way (UDP) end the wait after a
	// second without progress and are reported as lost.
	processed := func() int64 { return received.Load() + int64(sumDrops(r)) }
	last, lastChange := processed(), time.Now()
	for processed() < total {
		select {
		case <-lnsDone:
		case <-time.After(5 * time.Millisecond):
		}
		if p := processed(); p != last {
			last, lastChange = p, time.Now()
		} else if time.Since(lastChange) > time.Second {
			break
		}
	}
	elapsed := time.Since(start)
	if processed() < total {
		elapsed -= time.Since(lastChange)
	}
	b.StopTimer()
	if d := dropSummary(r); len(d) > 0 {
		b.Logf("router drops: %v", d)
	}

	lat := make([]float64, 0, len(msgs))
	for i := range msgs {
		if recvAt[i] != 0 {
			lat = append(lat, float64(recvAt[i]-sentAt[i])/1e6)
		}
	}
	if len(lat) == 0 {
		b.Fatal("no copy reached the LNS")
	}
	slices.Sort(lat)
	uplinkRate := float64(processed()) / elapsed.Seconds()
	b.ReportMetric(float64(total-processed()), "lost")
	b.ReportMetric(uplinkRate, "uplinks/s")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(brokerRate, "broker/s")
	b.ReportMetric(0, "ns/op")
}

func dropSummary(r *Router) map[Reason]float64 {
	m := map[Reason]float64{}
	for _, reason := range Reasons {
		if v := counterValue(r.m.dropped.WithLabelValues(string(reason))); v > 0 {
			m[reason] = v
		}
	}
	return m
}

func sumDrops(r *Router) float64 {
	var n float64
	for _, v := range dropSummary(r) {
		n += v
	}
	return n
}
