package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

func mqttClient(b *testing.B, addr string, k *identity.Key, id string) mqtt.Client {
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetUsername(string(k.Address())).SetPassword(broker.Password(k, time.Now())).
		SetCleanSession(true).SetOrderMatters(false).SetAutoReconnect(false).SetAutoAckDisabled(true).
		SetCustomOpenConnectionFn(mqttc.OpenConnection) // buffered reads, as the agent's client has
	return mqtt.NewClient(o)
}

// BenchmarkIngestBroker sends the pool's reports (10 witnesses per beacon)
// end to end: 32 paho publishers (as services) at QoS 1 → the embedded broker → one paho
// subscriber (mqttc, handlers concurrent, acknowledgement after Handle
// returns) calling Handle, which persists each report with a synced group commit before the
// PUBACK; the verifier judges concurrently. reports/s counts witness reports
// handled.
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
	credits := make(chan struct{}, 4096)
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
	// 8192), so publishers hold at most 4096 messages not yet handled.
	pubs := make([]mqtt.Client, publishers)
	for i := range pubs {
		pk := benchKey(1<<29 + i)
		pubs[i] = mqttClient(b, br.Addr(), pk, string(pk.Address()))
		if t := pubs[i].Connect(); t.Wait() && t.Error() != nil {
			b.Fatal(t.Error())
		}
		defer pubs[i].Disconnect(100)
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
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			env.clk.Advance(100 * time.Millisecond)
			if err := env.p.Flush(); err != nil {
				b.Error(err)
			}
		}
	}()
	var wg sync.WaitGroup
	for i, c := range pubs {
		wg.Go(func() {
			var toks []mqtt.Token
			for j := i; j < n; j += publishers {
				credits <- struct{}{}
				toks = append(toks, c.Publish(wire.PoCTopic(j%16), 1, false, bp.msgs[j]))
				if len(toks) >= 256 {
					for _, t := range toks {
						t.Wait()
					}
					toks = toks[:0]
				}
			}
			for _, t := range toks {
				t.Wait()
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
