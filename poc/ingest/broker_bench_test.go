package ingest

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

// leanPublisher is the bench's load generator for one connection: an MQTT
// 3.1.1 client that pipelines QoS 1 PUBLISH packets through one buffered
// writer and counts the PUBACKs on its own reader, so that the publishing
// side (22,500 hotspots in production, on their own machines) costs the
// shared 2 cores as little as it can. The broker sees the same packets as
// from paho.
type leanPublisher struct {
	conn  net.Conn
	w     *bufio.Writer
	id    uint16
	sent  int
	acked atomic.Int64
	read  chan error
}

func dialLean(b *testing.B, addr string, k *identity.Key) *leanPublisher {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion, cp.CleanSession, cp.Keepalive = "MQTT", 4, true, 60
	cp.ClientIdentifier = string(k.Address())
	cp.UsernameFlag, cp.Username = true, string(k.Address())
	cp.PasswordFlag, cp.Password = true, []byte(broker.Password(k, time.Now()))
	if err := cp.Write(conn); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(conn, 16<<10)
	ack, err := packets.ReadPacket(r)
	if ca, ok := ack.(*packets.ConnackPacket); err != nil || !ok || ca.ReturnCode != 0 {
		b.Fatalf("connack %v %v", ack, err)
	}
	lp := &leanPublisher{conn: conn, w: bufio.NewWriterSize(conn, 16<<10), read: make(chan error, 1)}
	go func() {
		for {
			pk, err := packets.ReadPacket(r)
			if err != nil {
				lp.read <- err
				return
			}
			if _, ok := pk.(*packets.PubackPacket); ok {
				lp.acked.Add(1)
			}
		}
	}()
	b.Cleanup(func() { _ = conn.Close() })
	return lp
}

// publish buffers one QoS 1 PUBLISH; Flush sends what is buffered.
func (lp *leanPublisher) publish(topic string, payload []byte) error {
	pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pp.Qos, pp.TopicName, pp.Payload = 1, topic, payload
	lp.id = lp.id%65535 + 1
	pp.MessageID = lp.id
	lp.sent++
	return pp.Write(lp.w)
}

// drain flushes and waits until the broker acknowledged every PUBLISH.
func (lp *leanPublisher) drain(timeout time.Duration) error {
	if err := lp.w.Flush(); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for lp.acked.Load() < int64(lp.sent) {
		select {
		case err := <-lp.read:
			return err
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d publishes acknowledged", lp.acked.Load(), lp.sent)
		}
	}
	return nil
}

// BenchmarkIngestBroker sends the pool's reports (10 witnesses per beacon)
// end to end: 32 pipelined publishers (leanPublisher, logged in as
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
	pubs := make([]*leanPublisher, publishers)
	for i := range pubs {
		pubs[i] = dialLean(b, br.Addr(), benchKey(1<<29+i))
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
					if err := c.w.Flush(); err != nil {
						b.Error(err)
						return
					}
					credits <- struct{}{}
				}
				if err := c.publish(wire.PoCTopic(j%16), bp.msgs[j]); err != nil {
					b.Error(err)
					return
				}
			}
			if err := c.drain(60 * time.Second); err != nil {
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
