package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/loadgen"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

// BenchmarkIngestBroker sends the pool's reports (10 witnesses per beacon)
// end to end: 32 pipelined publishers (internal/loadgen, logged in as
// services) at QoS 1 → the embedded broker → one subscriber, the oracle's
// own client (mqttc, handlers concurrent, the PUBACK after Handle returns),
// calling Handle, which persists each report with a synced group commit
// before it returns; the verifier judges concurrently, its clock at 10×
// real time. reports/s counts witness reports handled. Publishers, broker
// and oracle share the machine's cores.
//
//	go test -run '^$' -bench IngestBroker -benchtime 3s -cpu 2 ./poc/ingest/
func BenchmarkIngestBroker(b *testing.B) {
	bp := getPool(b)
	cfg := DefaultConfig()
	cfg.QueueSize = len(bp.msgs) + 1
	env := newBenchEnv(b, bp, cfg)
	env.p.log = slog.New(slog.DiscardHandler)
	svc := benchKey(1 << 30)
	// The publishers carry the reports of the pool's 22,500 hotspots over 32
	// connections, so they log in as services: the broker lets a hotspot
	// publish only reports it signed itself.
	const publishers = 32
	services := []string{string(svc.Address())}
	for i := range publishers {
		services = append(services, string(benchKey(1<<29+i).Address()))
	}
	br, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Services: services}, broker.Deps{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = br.Run(ctx) }()
	<-br.Ready()
	defer br.Close()

	var handled atomic.Int64
	done := make(chan struct{})
	var doneOnce sync.Once
	var target atomic.Int64
	target.Store(-1)
	// The subscriber is the oracle's own client (mqttc, handlers concurrent,
	// the PUBACK after Handle returns), as hexnet serve runs it.
	credits := make(chan struct{}, 1024)
	handler := func(topic string, payload []byte) {
		_ = env.p.Handle(topic, payload)
		<-credits
		if n := handled.Add(1); n == target.Load() {
			doneOnce.Do(func() { close(done) })
		}
	}
	sub, err := mqttc.Dial(ctx, mqttc.Config{URL: "tcp://" + br.Addr(), Key: svc, ClientID: "poc-oracle",
		CleanSession: true, Concurrent: true, Logger: slog.New(slog.DiscardHandler),
		Subscriptions: []mqttc.Subscription{{Filter: "hexnet/v1/poc/+", QoS: 1, Handler: handler}}})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	// End-to-end flow control: the broker acknowledges publishers at once
	// and drops QoS 1 messages beyond a subscriber's queue (WritesPending,
	// 1024), so publishers hold at most 1024 messages not yet handled.
	pubs := make([]*loadgen.Publisher, publishers)
	for i := range pubs {
		k := benchKey(1<<29 + i)
		pubs[i], err = loadgen.Dial(ctx, br.Addr(), string(k.Address()), string(k.Address()), broker.Password(k, time.Now()))
		if err != nil {
			b.Fatal(err)
		}
		defer pubs[i].Close()
	}
	n := min(b.N, len(bp.msgs))
	target.Store(int64(n))
	var witnesses int
	for _, w := range bp.witness[:n] {
		if w {
			witnesses++
		}
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	b.ResetTimer()
	go func() { // the verifier: 10× real time on the clock
		defer close(flushed)
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			now := time.Now()
			env.clk.Advance(10 * now.Sub(last))
			last = now
			if err := env.p.Flush(); err != nil {
				b.Error(err)
			}
		}
	}()
	var wg sync.WaitGroup
	for i, c := range pubs {
		wg.Go(func() {
			for j := i; j < n; j += publishers {
				select {
				case credits <- struct{}{}:
				default: // out of credit: send what is buffered, then wait
					if err := c.Flush(); err != nil {
						b.Error(err)
						return
					}
					credits <- struct{}{}
				}
				if err := c.Publish(wire.PoCTopic(j%16), bp.msgs[j]); err != nil {
					b.Error(err)
					return
				}
			}
			dctx, dcancel := context.WithTimeout(ctx, 60*time.Second)
			defer dcancel()
			if err := c.Drain(dctx); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("handled %d of %d", handled.Load(), n)
	}
	elapsed := b.Elapsed()
	close(stop)
	<-flushed
	b.StopTimer()
	b.ReportMetric(float64(witnesses)/elapsed.Seconds(), "reports/s")
	b.ReportMetric(0, "ns/op")
}
