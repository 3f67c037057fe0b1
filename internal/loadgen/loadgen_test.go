package loadgen

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
)

// TestPublishThroughBroker: pipelined and waited publishes reach a
// subscriber through the embedded broker, Drain sees every PUBACK, a
// refused login is an error, and Close is idempotent.
func TestPublishThroughBroker(t *testing.T) {
	pubKey, _ := identity.Generate()
	subKey, _ := identity.Generate()
	br, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Services: []string{string(pubKey.Address()), string(subKey.Address())}},
		broker.Deps{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = br.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-br.Ready()

	var got atomic.Int64
	sub, err := mqttc.Dial(ctx, mqttc.Config{URL: "tcp://" + br.Addr(), Key: subKey, CleanSession: true, Logger: slog.New(slog.DiscardHandler),
		Subscriptions: []mqttc.Subscription{{Filter: "load/#", QoS: 1, Handler: func(string, []byte) { got.Add(1) }}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	if _, err := Dial(ctx, br.Addr(), "x", string(pubKey.Address()), "wrong"); err == nil {
		t.Fatal("login with a bad password accepted")
	}
	p, err := Dial(ctx, br.Addr(), string(pubKey.Address()), string(pubKey.Address()), broker.Password(pubKey, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	const pipelined, waited = 500, 20
	for i := range pipelined {
		if err := p.Publish(fmt.Sprintf("load/%d", i%7), []byte("payload")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range waited {
		if err := p.PublishWait(ctx, "load/w", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for got.Load() < pipelined+waited {
		select {
		case <-ctx.Done():
			t.Fatalf("subscriber got %d of %d", got.Load(), pipelined+waited)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Publish("load/x", nil); err == nil {
		t.Error("Publish after Close succeeded")
	}
}
