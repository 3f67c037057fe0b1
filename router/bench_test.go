package router

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/loadgen"
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
// broker, one MQTT connection per hotspot (each may publish only as itself;
// internal/loadgen publishers, so that 1,000 hotspots' clients do not run
// in the measured process as 5,000 paho goroutines) and the router's key.
type benchNet struct {
	url      string
	routerK  *identity.Key
	hotspots []*identity.Key
	clients  []*loadgen.Publisher
	onboard  fakeHotspots
}

func setupBenchNet(b *testing.B, ctx context.Context) *benchNet {
	b.Helper()
	n := &benchNet{onboard: fakeHotspots{}}
	n.routerK, _ = identity.Generate()
	n.url = startHexnetBroker(b, n.routerK)
	n.hotspots = make([]*identity.Key, benchHotspots)
	n.clients = make([]*loadgen.Publisher, benchHotspots)
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
			addr := strings.TrimPrefix(n.url, "tcp://")
			c, err := loadgen.Dial(ctx, addr, string(k.Address()), string(k.Address()), broker.Password(k, time.Now()))
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
				if err := n.clients[m.hotspot].PublishWait(ctx, m.topic, m.payload); err != nil {
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
//	           and messages, publish → a subscriber's receipt (QoS 1); the
//	           faster of two passes
//
// Run: go test -run '^$' -bench RouterEndToEnd -benchtime 40000x ./router/
// (120,000 copies a phase; at 20000x the broker phase lasts under 2 s and
// its rate, the ratio's denominator, swings by a fifth from run to run).
func BenchmarkRouterEndToEnd(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := setupBenchNet(b, ctx)

	msgs := benchPackets(b, n, b.N, 0)

	// Phase 1: the broker alone, twice; the faster pass is the ratio's
	// denominator (a pass slowed by the VM would flatter the router).
	total := int64(len(msgs))
	brokerRate := 0.0
	for pass := range 2 {
		var got atomic.Int64
		allIn := make(chan struct{})
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
			b.Fatalf("broker pass %d: %d of %d messages arrived", pass, got.Load(), total)
		}
		brokerRate = max(brokerRate, float64(total)/time.Since(start).Seconds())
		_ = sub.Close()
	}

	// Phase 2: the router.
	lns := startBenchLNS(b, msgs)
	r := startBenchRouter(b, ctx, n, lns.addr())
	sentAt := make([]int64, len(msgs))
	recvAt := lns.recvAt
	received := &lns.received
	lnsDone := lns.done

	b.ResetTimer()
	start := time.Now()
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

// benchLNS is a UDP socket standing in for an LNS: it records when each
// copy (PHYPayload ‖ gateway EUI) first arrives.
type benchLNS struct {
	conn     *net.UDPConn
	recvAt   []int64
	received atomic.Int64
	done     chan struct{} // closed when every copy arrived
}

func startBenchLNS(b *testing.B, msgs []benchMsg) *benchLNS {
	b.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadBuffer(16 << 20)
	index := make(map[string]int, len(msgs))
	for i, m := range msgs {
		index[m.key] = i
	}
	l := &benchLNS{conn: conn, recvAt: make([]int64, len(msgs)), done: make(chan struct{})}
	total := int64(len(msgs))
	go func() {
		// Up to 64 datagrams per read (recvmmsg), each stamped with the
		// batch's receive time.
		pc := ipv4.NewPacketConn(conn)
		msgs := make([]ipv4.Message, 64)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{make([]byte, 2048)}
		}
		for {
			k, err := pc.ReadBatch(msgs, 0)
			if err != nil {
				return
			}
			now := time.Now().UnixNano()
			for _, m := range msgs[:k] {
				eui, datas, ok := scanPushData(m.Buffers[0][:m.N])
				if !ok {
					continue
				}
				for _, data := range datas {
					i, ok := index[string(data)+string(eui)]
					if ok && l.recvAt[i] == 0 {
						l.recvAt[i] = now
						if l.received.Add(1) == total {
							close(l.done)
						}
					}
				}
			}
		}
	}()
	return l
}

// scanPushData picks the gateway EUI and every rxpk "data" out of a
// PUSH_DATA datagram without a JSON decoder: the stand-in LNS shares the
// router's cores, so it should cost them as little as it can (a real LNS
// runs elsewhere). TestScanPushData checks it against gwmp.Decode.
func scanPushData(b []byte) (eui []byte, datas [][]byte, ok bool) {
	if len(b) < 12 || (b[0] != gwmp.Version1 && b[0] != gwmp.Version2) || b[3] != byte(gwmp.TypePushData) {
		return nil, nil, false
	}
	eui, body := b[4:12], b[12:]
	const field = `"data":"`
	for {
		i := bytes.Index(body, []byte(field))
		if i < 0 {
			return eui, datas, len(datas) > 0
		}
		body = body[i+len(field):]
		j := bytes.IndexByte(body, '"')
		if j < 0 {
			return nil, nil, false
		}
		d, err := base64.StdEncoding.DecodeString(string(body[:j]))
		if err != nil {
			return nil, nil, false
		}
		datas = append(datas, d)
		body = body[j:]
	}
}

func (l *benchLNS) addr() string { return l.conn.LocalAddr().String() }

// startBenchRouter starts a router (Pebble-backed routes and DC, one route
// delivering every copy over Semtech UDP to lnsAddr) subscribed to the
// broker.
func startBenchRouter(b *testing.B, ctx context.Context, n *benchNet, lnsAddr string) *Router {
	b.Helper()
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
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
		Destinations:  []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: lnsAddr}}}); err != nil {
		b.Fatal(err)
	}
	r, err := New(Config{RateLimit: 1e6, RateBurst: 1e6, DestQueueSize: 65536}, Deps{Routes: rs, Hotspots: n.onboard, DC: ledger,
		Dial:      gwmpfwd.Dialer(clock.Real{}, quietLog()),
		Publisher: &fakePub{}, Key: n.routerK, Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(rctx) }()
	// As hexnet serve runs it: a persistent session, handlers in order,
	// each uplink acknowledged once delivered (HandleDeferred).
	cli, err := mqttc.Dial(ctx, mqttc.Config{URL: n.url, Key: n.routerK, ClientID: string(n.routerK.Address()) + "-router",
		Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.SubscribeDeferred(wire.UpFilter, 1, r.HandleDeferred); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cli.Close()
		cancel()
		_ = r.Close()
		<-done
		_ = db.Close()
	})
	return r
}

// benchPackets builds packets signed PacketUps, benchCopies copies of each
// (packet i is heard by hotspots i, i+1, i+2), FCnt from fcnt0.
func benchPackets(b *testing.B, n *benchNet, packets, fcnt0 int) []benchMsg {
	b.Helper()
	msgs := make([]benchMsg, 0, packets*benchCopies)
	for i := range packets {
		phy, err := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, DevAddr: devAddr,
			FCnt: uint32(fcnt0 + i), HasFPort: true, FPort: 1, FRMPayload: make([]byte, 12)}, lorawan.SessionKeys{NwkSKey: nwkSKey, AppSKey: appSKey})
		if err != nil {
			b.Fatal(err)
		}
		for c := range benchCopies {
			h := (i + c) % benchHotspots
			topic, payload := up(b, n.hotspots[h], phy, float32(-60-c), uint32(fcnt0+i))
			eui := gwmpfwd.GatewayEUI(n.hotspots[h].Public())
			msgs = append(msgs, benchMsg{hotspot: h, topic: topic, payload: payload, key: string(phy) + string(eui[:])})
		}
	}
	return msgs
}

// BenchmarkRouterPaced measures latency below saturation: the same path as
// BenchmarkRouterEndToEnd, with copies offered at a fixed rate for 3 s (each
// sub-benchmark runs its load once, whatever b.N). Latency runs from each
// copy's scheduled send time (so a publisher falling behind counts against
// it, not for it) to the LNS's receipt. Metrics: offered/s, uplinks/s
// achieved, p50-ms, p99-ms.
//
// Run: go test -run '^$' -bench RouterPaced -benchtime 1x ./router/
func BenchmarkRouterPaced(b *testing.B) {
	for _, rate := range []int{1000, 4000, 7000, 10000} {
		b.Run(fmt.Sprintf("offered=%d", rate), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := setupBenchNet(b, ctx)
			msgs := benchPackets(b, n, rate, 0) // rate packets · 3 copies = 3 s of copies at rate/s
			lns := startBenchLNS(b, msgs)
			r := startBenchRouter(b, ctx, n, lns.addr())
			sched := make([]int64, len(msgs))
			b.ResetTimer()
			start := time.Now()
			interval := float64(time.Second) / float64(rate)
			for i := range sched {
				sched[i] = start.UnixNano() + int64(float64(i)*interval)
			}
			publishAll(b, ctx, n, msgs, func(i int) {
				if d := time.Until(time.Unix(0, sched[i])); d > 0 {
					time.Sleep(d)
				}
			})
			total := int64(len(msgs))
			deadline := time.After(30 * time.Second)
		wait:
			for lns.received.Load()+int64(sumDrops(r)) < total {
				select {
				case <-lns.done:
				case <-deadline:
					break wait
				case <-time.After(5 * time.Millisecond):
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			lat := make([]float64, 0, len(msgs))
			last := int64(0)
			for i, at := range lns.recvAt {
				if at != 0 {
					lat = append(lat, float64(at-sched[i])/1e6)
					last = max(last, at)
				}
			}
			if len(lat) == 0 {
				b.Fatal("no copy reached the LNS")
			}
			if last > 0 {
				elapsed = time.Duration(last - start.UnixNano())
			}
			slices.Sort(lat)
			b.ReportMetric(float64(rate), "offered/s")
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "uplinks/s")
			b.ReportMetric(lat[len(lat)/2], "p50-ms")
			b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
			b.ReportMetric(float64(total-int64(len(lat))), "lost")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestScanPushData: the bench LNS's scanner finds what gwmp.Decode finds in
// PUSH_DATA datagrams with one and with several rxpk, and refuses others.
func TestScanPushData(t *testing.T) {
	eui := gwmp.EUI{1, 2, 3, 4, 5, 6, 7, 8}
	for _, datas := range [][][]byte{{[]byte("one")}, {[]byte("a"), {0xff, 0x00, 0x10}, make([]byte, 255)}} {
		pd := &gwmp.PushData{Header: gwmp.Header{Version: gwmp.Version2, Token: 7}, GatewayEUI: eui}
		dr, err := gwmp.LoRaDataRate(7, 125)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range datas {
			pd.RXPK = append(pd.RXPK, gwmp.RXPK{Data: d, Size: uint16(len(d)), Freq: 868.1, Chan: 1, Stat: 1,
				Modu: "LORA", DatR: dr, CodR: "4/5", RSSI: -60, LSNR: 5})
		}
		b, err := gwmp.Encode(pd)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := gwmp.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		gotEUI, got, ok := scanPushData(b)
		if !ok || !bytes.Equal(gotEUI, eui[:]) || len(got) != len(dec.(*gwmp.PushData).RXPK) {
			t.Fatalf("scan %v %x %d", ok, gotEUI, len(got))
		}
		for i, rx := range dec.(*gwmp.PushData).RXPK {
			if !bytes.Equal(got[i], rx.Data) {
				t.Errorf("rxpk %d: %x, decoder %x", i, got[i], rx.Data)
			}
		}
	}
	pull, _ := gwmp.Encode(&gwmp.PullData{Header: gwmp.Header{Version: gwmp.Version2}, GatewayEUI: eui})
	if _, _, ok := scanPushData(pull); ok {
		t.Error("PULL_DATA scanned as PUSH_DATA")
	}
}
