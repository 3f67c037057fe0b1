package router

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

func TestDropReasons(t *testing.T) {
	type tc struct {
		name string
		cfg  Config
		deps func(*Deps)
		// setup prepares routes/balances; send returns the messages, the last one is judged.
		setup func(e *env)
		send  func(e *env) [][2][]byte
		want  Reason
	}
	msg := func(topic string, b []byte) [2][]byte { return [2][]byte{[]byte(topic), b} }
	fund := func(e *env) { e.addRoute("r", "payer", 1, nil); _ = e.dc.Credit("payer", 100) }
	cases := []tc{
		{name: "bad topic", setup: fund, want: ReasonBadTopic, send: func(e *env) [][2][]byte {
			_, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
			return [][2][]byte{msg("hexnet/v1/poc/1", b)}
		}},
		{name: "oversize", setup: fund, want: ReasonOversize, send: func(e *env) [][2][]byte {
			return [][2][]byte{msg(wire.UpTopic(0), make([]byte, wire.MaxMessageSize+1))}
		}},
		{name: "malformed", setup: fund, want: ReasonMalformed, send: func(e *env) [][2][]byte {
			return [][2][]byte{msg(wire.UpTopic(0), []byte{0xff, 0xff, 0xff})}
		}},
		{name: "unsupported mtype", setup: fund, want: ReasonUnsupportedMType, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[0], append([]byte{0xe0}, make([]byte, 20)...), -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "forged signature", setup: fund, want: ReasonBadSignature, send: func(e *env) [][2][]byte {
			phy := dataFrame(t, 1, 4)
			p := &wire.PacketUp{Payload: phy, Rssi: -40}
			_ = e.keys[0].Sign(p)
			p.Rssi = -10 // tampered after signing
			b, _ := wire.Marshal(p)
			return [][2][]byte{msg(wire.UpTopic(wire.Partition(phy)), b)}
		}},
		{name: "not onboarded", setup: fund, want: ReasonNotOnboarded, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[3], dataFrame(t, 1, 4), -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "rate limited", cfg: Config{RateLimit: 0.001, RateBurst: 2}, setup: fund, want: ReasonRateLimited,
			send: func(e *env) [][2][]byte {
				var out [][2][]byte
				for i := 0; i < 3; i++ {
					topic, b := up(t, e.keys[0], dataFrame(t, uint32(i), 4), -50, 1)
					out = append(out, msg(topic, b))
				}
				return out
			}},
		{name: "wrong partition", setup: fund, want: ReasonWrongPartition, send: func(e *env) [][2][]byte {
			phy := dataFrame(t, 1, 4)
			_, b := up(t, e.keys[0], phy, -50, 1)
			return [][2][]byte{msg(wire.UpTopic((wire.Partition(phy)+1)%wire.Partitions), b)}
		}},
		{name: "replay", setup: fund, want: ReasonReplay, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
			return [][2][]byte{msg(topic, b), msg(topic, b)}
		}},
		{name: "bad phypayload", setup: fund, want: ReasonBadPHYPayload, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[0], []byte{0x40, 1, 2, 3}, -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "no route", setup: fund, want: ReasonNoRoute, send: func(e *env) [][2][]byte {
			phy, _ := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, DevAddr: lorawan.DevAddr{0x26, 1, 1, 1}},
				lorawan.SessionKeys{NwkSKey: nwkSKey})
			topic, b := up(t, e.keys[0], phy, -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "no route for join", setup: fund, want: ReasonNoRoute, send: func(e *env) [][2][]byte {
			phy, _ := lorawan.BuildJoinRequest(lorawan.EUI64{9}, devEUI, 1, appKey)
			topic, b := up(t, e.keys[0], phy, -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "route inactive", want: ReasonRouteInactive, setup: func(e *env) {
			e.addRoute("r", "payer", 1, func(r *routes.Route) { r.Active = false })
			_ = e.dc.Credit("payer", 100)
		}, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "route locked", want: ReasonRouteLocked, setup: func(e *env) {
			e.addRoute("r", "payer", 1, func(r *routes.Route) { r.Locked = true })
			_ = e.dc.Credit("payer", 0)
		}, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "session key filter", want: ReasonMICMismatch, setup: func(e *env) {
			e.addRoute("r", "payer", 1, func(r *routes.Route) { r.SessionKeys = []routes.Key128{{0xee}} })
			_ = e.dc.Credit("payer", 100)
		}, send: func(e *env) [][2][]byte {
			topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
			return [][2][]byte{msg(topic, b)}
		}},
		{name: "max copies", setup: fund, want: ReasonMaxCopies, send: func(e *env) [][2][]byte {
			phy := dataFrame(t, 1, 4)
			t1, b1 := up(t, e.keys[0], phy, -50, 1)
			t2, b2 := up(t, e.keys[1], phy, -50, 1)
			return [][2][]byte{msg(t1, b1), msg(t2, b2)}
		}},
		{name: "insufficient dc", want: ReasonInsufficientDC, setup: func(e *env) { e.addRoute("r", "payer", 1, nil) },
			send: func(e *env) [][2][]byte {
				topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
				return [][2][]byte{msg(topic, b)}
			}},
		{name: "billing error", setup: fund, want: ReasonBillingError,
			deps: func(d *Deps) { d.DC = failingDC{d.DC} },
			send: func(e *env) [][2][]byte {
				topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
				return [][2][]byte{msg(topic, b)}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.cfg, c.deps)
			c.setup(e)
			msgs := c.send(e)
			var o Outcome
			for _, m := range msgs {
				o = e.r.Process(string(m[0]), m[1])
			}
			if o.Reason != c.want {
				t.Fatalf("outcome %+v, want reason %q", o, c.want)
			}
			if got := e.dropped(c.want); got != 1 {
				t.Fatalf("counter %s = %v, want 1", c.want, got)
			}
		})
	}
}

func TestLateCopyAndQueueFull(t *testing.T) {
	e := newEnv(t, Config{QueueSize: 1, EnqueueTimeout: -1}, nil)
	e.addRoute("r", "payer", 3, nil)
	_ = e.dc.Credit("payer", 100)
	phy := dataFrame(t, 1, 4)
	t1, b1 := up(t, e.keys[0], phy, -50, 1)
	t2, b2 := up(t, e.keys[1], phy, -50, 1)
	if o := e.r.Process(t1, b1); o.Bought != 1 {
		t.Fatalf("first copy %+v", o)
	}
	e.clk.Advance(DefaultDedupWindow + time.Millisecond)
	if o := e.r.Process(t2, b2); o.Reason != ReasonLateCopy {
		t.Fatalf("late copy %+v", o)
	}
	// Without Run nothing drains the ingress queue of size 1.
	e.r.Handle(t1, b1)
	e.r.Handle(t1, b1)
	if e.dropped(ReasonQueueFull) != 1 {
		t.Fatalf("queue_full = %v", e.dropped(ReasonQueueFull))
	}
	e.r.Handle("nope", b1)
	if e.dropped(ReasonBadTopic) != 1 {
		t.Fatal("bad topic through Handle not counted")
	}
}

// TestHandleBackpressure checks that a full ingress queue makes Handle wait
// (holding back the MQTT acknowledgement) rather than drop: the message is
// processed once the worker drains the queue; only a wait longer than
// EnqueueTimeout drops, with reason queue_full.
func TestHandleBackpressure(t *testing.T) {
	e := newEnv(t, Config{QueueSize: 1, Workers: 1}, nil)
	e.addRoute("r", "payer", 3, nil)
	_ = e.dc.Credit("payer", 100)
	t1, b1 := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
	t2, b2 := up(t, e.keys[0], dataFrame(t, 2, 4), -50, 1)
	e.r.Handle(t1, b1) // fills the queue; nothing drains it yet
	done := make(chan struct{})
	go func() {
		e.r.Handle(t2, b2)
		close(done)
	}()
	waitFor(t, func() bool { return e.clk.Waiters() > 0 }, "Handle to wait on the clock")
	select {
	case <-done:
		t.Fatal("Handle returned while the queue was full")
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.r.Run(ctx)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Handle still blocked after the worker started")
	}
	waitFor(t, func() bool { return counterValue(e.r.m.bought) == 2 }, "both uplinks bought")
	if got := e.dropped(ReasonQueueFull); got != 0 {
		t.Fatalf("queue_full = %v, want 0", got)
	}
	if got := counterValue(e.r.m.queueWaits); got != 1 {
		t.Fatalf("ingress waits = %v, want 1", got)
	}
}

// TestHandleTimeoutDrops checks the bound on the wait: after EnqueueTimeout
// on the router clock the message is dropped and counted.
func TestHandleTimeoutDrops(t *testing.T) {
	e := newEnv(t, Config{QueueSize: 1, Workers: 1, EnqueueTimeout: 500 * time.Millisecond}, nil)
	t1, b1 := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
	var acked atomic.Int32
	ack := func() { acked.Add(1) }
	e.r.HandleDeferred(t1, b1, ack)
	done := make(chan struct{})
	go func() {
		e.r.HandleDeferred(t1, b1, ack)
		close(done)
	}()
	waitFor(t, func() bool { return e.clk.Waiters() > 0 }, "Handle to wait on the clock")
	e.clk.Advance(499 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("Handle gave up before EnqueueTimeout")
	case <-time.After(20 * time.Millisecond):
	}
	e.clk.Advance(time.Millisecond)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Handle did not give up after EnqueueTimeout")
	}
	if got := e.dropped(ReasonQueueFull); got != 1 {
		t.Fatalf("queue_full = %v, want 1", got)
	}
	if n := acked.Load(); n != 1 {
		t.Fatalf("%d acknowledgements, want 1 (the dropped message; the queued one is not done)", n)
	}
	// Close releases a waiting Handle at once, leaving its message
	// unacknowledged for the broker to send again: not a drop.
	done = make(chan struct{})
	go func() {
		e.r.HandleDeferred(t1, b1, ack)
		close(done)
	}()
	waitFor(t, func() bool { return e.clk.Waiters() > 0 }, "Handle to wait again")
	_ = e.r.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release Handle")
	}
	if got, n := e.dropped(ReasonQueueFull), acked.Load(); got != 1 || n != 1 {
		t.Fatalf("after Close: queue_full = %v, acknowledgements %d; want 1 and 1", got, n)
	}
}

// TestAckAfterDelivery: a message is acknowledged once it is done with: a
// dropped one after the pipeline, a bought one only after every destination
// sent it; one still queued when the router stops is never acknowledged, so
// the broker sends it again.
func TestAckAfterDelivery(t *testing.T) {
	e := newEnv(t, Config{Workers: 1}, nil)
	e.addRoute("r", "payer", 1, func(r *routes.Route) {
		r.Destinations = append(r.Destinations, routes.Destination{Protocol: routes.ProtocolGWMP, Address: "slow.lns:1700"})
	})
	_ = e.dc.Credit("payer", 100)
	fast, slow := e.sender("r.lns:1700"), e.sender("slow.lns:1700")
	gate := make(chan struct{})
	slow.gate = gate
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { e.r.Run(ctx); close(stopped) }()

	var acks [3]atomic.Int32
	ack := func(i int) func() { return func() { acks[i].Add(1) } }
	tb, bb := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
	e.r.HandleDeferred(tb, bb, ack(0))
	td, bd := up(t, e.keys[3], dataFrame(t, 2, 4), -50, 1) // keys[3] is not onboarded
	e.r.HandleDeferred(td, bd, ack(1))
	waitFor(t, func() bool { return acks[1].Load() == 1 }, "the dropped message's ack")
	select {
	case <-fast.got:
	case <-time.After(10 * time.Second):
		t.Fatal("bought copy not sent to the first destination")
	}
	if n := acks[0].Load(); n != 0 {
		t.Fatalf("bought message acknowledged %d times before its second destination sent it", n)
	}
	close(gate)
	waitFor(t, func() bool { return acks[0].Load() == 1 }, "the bought message's ack after both sends")

	slow.mu.Lock()
	slow.gate = make(chan struct{}) // never opened
	slow.mu.Unlock()
	t3, b3 := up(t, e.keys[1], dataFrame(t, 3, 4), -50, 1)
	e.r.HandleDeferred(t3, b3, ack(2))
	select {
	case <-fast.got:
	case <-time.After(10 * time.Second):
		t.Fatal("third message not sent to the first destination")
	}
	cancel()
	<-stopped
	if n := acks[2].Load(); n != 0 {
		t.Fatalf("message still queued at stop acknowledged %d times", n)
	}
	if a, b := acks[0].Load(), acks[1].Load(); a != 1 || b != 1 {
		t.Fatalf("acknowledgements %d and %d, want one each", a, b)
	}
}

func TestMultiBuyChargesMaxCopies(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	e.addRoute("r", "payer", 2, nil)
	_ = e.dc.Credit("payer", 1000)
	phy := dataFrame(t, 7, 40) // 13+40 = 53 bytes → 3 DC per copy
	cost := dc.Cost(len(phy))
	if cost != 3 {
		t.Fatalf("cost %d", cost)
	}
	bought := 0
	for i := 0; i < 3; i++ {
		topic, b := up(t, e.keys[i], phy, float32(-100+i), uint32(i))
		bought += e.r.Process(topic, b).Bought
	}
	if bought != 2 {
		t.Fatalf("bought %d copies, want 2", bought)
	}
	if bal := e.dc.Balance("payer"); bal != 1000-2*cost {
		t.Fatalf("balance %d, want %d", bal, 1000-2*cost)
	}
	epoch := uint64(e.clk.Now().Unix()) / uint64(DefaultEpochDuration/time.Second)
	xf, err := e.dc.Transfers(epoch)
	if err != nil {
		t.Fatal(err)
	}
	if len(xf) != 2 || xf[e.keys[0].Public()] != cost || xf[e.keys[1].Public()] != cost {
		t.Fatalf("data transfer records %v", xf)
	}
	// Join-requests cost JoinCost per copy.
	j := joinFrame(t, 1)
	for i := 0; i < 3; i++ {
		topic, b := up(t, e.keys[i], j, -60, 1)
		e.r.Process(topic, b)
	}
	if bal := e.dc.Balance("payer"); bal != 1000-2*cost-2*DefaultJoinCost {
		t.Fatalf("balance after join %d", bal)
	}
}

func TestIdempotentBillingUnderRedelivery(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	e.addRoute("r", "payer", 1, nil)
	_ = e.dc.Credit("payer", 10)
	topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
	if o := e.r.Process(topic, b); o.Bought != 1 {
		t.Fatalf("%+v", o)
	}
	if o := e.r.Process(topic, b); o.Reason != ReasonReplay {
		t.Fatalf("redelivery inside the replay window: %+v", o)
	}
	// Long after: replay and group state are gone, the debit key is not.
	e.clk.Advance(time.Minute)
	e.r.sweep(e.clk.Now())
	e.r.Process(topic, b)
	if bal := e.dc.Balance("payer"); bal != 9 {
		t.Fatalf("balance %d after redelivery, want 9", bal)
	}
}

// unrecordedDC charges through the real store and then reports the data
// transfer as refused, as the ledger does for a closed epoch.
type unrecordedDC struct{ dc.Ledger }

func (u unrecordedDC) Debit(c dc.Charge) (bool, error) {
	ok, err := u.Ledger.Debit(c)
	if err != nil || !ok {
		return ok, err
	}
	return true, fmt.Errorf("%w: epoch closed", dc.ErrNotRecorded)
}

// TestBillingPerPayerAndUnrecordedTransfer: two routes of different payers
// that match the same copy are each charged once (the debit key names the
// payer), and a copy charged without its data-transfer record is still
// bought, and counted.
func TestBillingPerPayerAndUnrecordedTransfer(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	e.addRoute("r", "payer", 1, nil)
	e.addRoute("r2", "payer2", 1, nil)
	_ = e.dc.Credit("payer", 10)
	_ = e.dc.Credit("payer2", 10)
	topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
	if o := e.r.Process(topic, b); o.Bought != 2 {
		t.Fatalf("%+v", o)
	}
	if b1, b2 := e.dc.Balance("payer"), e.dc.Balance("payer2"); b1 != 9 || b2 != 9 {
		t.Fatalf("balances %d and %d, want 9 each", b1, b2)
	}
	epoch := uint64(e.clk.Now().Unix()) / uint64(DefaultEpochDuration/time.Second)
	if xf, err := e.dc.Transfers(epoch); err != nil || xf[e.keys[0].Public()] != 2 {
		t.Fatalf("data transfer %v %v, want 2 DC (one copy to each payer)", xf, err)
	}

	u := newEnv(t, Config{}, func(d *Deps) { d.DC = unrecordedDC{d.DC} })
	u.addRoute("r", "payer", 1, nil)
	_ = u.dc.Credit("payer", 10)
	topic, b = up(t, u.keys[0], dataFrame(t, 1, 4), -50, 1)
	if o := u.r.Process(topic, b); o.Bought != 1 {
		t.Fatalf("charged copy without its record: %+v", o)
	}
	if n := counterValue(u.r.m.unrecorded); n != 1 {
		t.Fatalf("unrecorded counter %v", n)
	}
}

func TestLockAndUnlockOnTopUp(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	e.addRoute("r", "payer", 1, nil)
	e.addRoute("r2", "payer", 1, func(r *routes.Route) {
		r.DevAddrRanges = []routes.DevAddrRange{{Start: 0x50000000, End: 0x50000000}}
	})
	topic, b := up(t, e.keys[0], dataFrame(t, 1, 4), -50, 1)
	if o := e.r.Process(topic, b); o.Reason != ReasonInsufficientDC {
		t.Fatalf("%+v", o)
	}
	for _, id := range []string{"r", "r2"} {
		if rt, _ := e.routes.Get(id); !rt.Locked {
			t.Fatalf("route %s not locked", id)
		}
	}
	topic, b = up(t, e.keys[0], dataFrame(t, 2, 4), -50, 1)
	if o := e.r.Process(topic, b); o.Reason != ReasonRouteLocked {
		t.Fatalf("%+v", o)
	}
	if err := e.dc.Credit("payer", 5); err != nil {
		t.Fatal(err)
	}
	if rt, _ := e.routes.Get("r"); rt.Locked {
		t.Fatal("route still locked after top-up")
	}
	topic, b = up(t, e.keys[0], dataFrame(t, 3, 4), -50, 1)
	if o := e.r.Process(topic, b); o.Bought != 1 {
		t.Fatalf("after top-up %+v", o)
	}
}

func TestDevAddrAndEUIRouting(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	e.addRoute("a", "pa", 1, func(r *routes.Route) {
		r.DevAddrRanges = []routes.DevAddrRange{{Start: 0x48000000, End: 0x4800000f}}
		r.EUIs = []routes.EUIPair{{JoinEUI: 0x42, DevEUI: 0x70b3d57ed0000001}}
	})
	e.addRoute("b", "pb", 1, func(r *routes.Route) {
		r.DevAddrRanges = []routes.DevAddrRange{{Start: 0x48000010, End: 0x480000ff}}
		r.EUIs = []routes.EUIPair{{JoinEUI: 0x43, DevEUI: 0}}
	})
	_ = e.dc.Credit("pa", 100)
	_ = e.dc.Credit("pb", 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.r.Run(ctx)
	expect := func(addr string, phy []byte) {
		t.Helper()
		topic, b := up(t, e.keys[0], phy, -50, 1)
		if o := e.r.Process(topic, b); o.Bought != 1 {
			t.Fatalf("%+v", o)
		}
		select {
		case u := <-e.sender(addr).got:
			if string(u.Up.Payload) != string(phy) {
				t.Fatal("wrong payload delivered")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("nothing delivered to %s", addr)
		}
	}
	expect("b.lns:1700", dataFrame(t, 1, 1)) // 48000010 → b
	expect("a.lns:1700", joinFrame(t, 5))    // exact EUI pair → a
	j, _ := lorawan.BuildJoinRequest(lorawan.EUI64{0, 0, 0, 0, 0, 0, 0, 0x43}, lorawan.EUI64{1}, 1, appKey)
	expect("b.lns:1700", j) // wildcard DevEUI → b
	phy, _ := lorawan.BuildData(lorawan.DataParams{MType: lorawan.ConfirmedDataUp, DevAddr: lorawan.DevAddr{0x48, 0, 0, 1}},
		lorawan.SessionKeys{NwkSKey: nwkSKey})
	expect("a.lns:1700", phy) // 48000001 → a
}

func TestFailingDestinationDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, Config{DestQueueSize: 2}, nil)
	e.sender("one.lns:1").fail = true
	e.addRoute("r", "payer", 1, func(r *routes.Route) {
		r.Destinations = []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: "one.lns:1"},
			{Protocol: routes.ProtocolGWMP, Address: "two.lns:2"}}
	})
	_ = e.dc.Credit("payer", 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.r.Run(ctx); close(done) }()
	for i := 0; i < 10; i++ {
		topic, b := up(t, e.keys[0], dataFrame(t, uint32(i), 1), -50, 1)
		e.r.Process(topic, b)
		select {
		case <-e.sender("two.lns:2").got:
		case <-time.After(5 * time.Second):
			t.Fatalf("healthy destination starved at packet %d", i)
		}
	}
	// The failing destination's queue (2) filled while it backed off on the manual clock.
	if got := counterValue(e.r.m.queueDropped.WithLabelValues("destination")); got < 1 {
		t.Fatalf("failing destination dropped %v, want its bounded queue to overflow", got)
	}
	cancel()
	<-done
	if err := e.r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestDownlinkGoesToBestHotspot(t *testing.T) {
	for _, join := range []bool{false, true} {
		e := newEnv(t, Config{}, nil)
		e.addRoute("r", "payer", 1, nil)
		_ = e.dc.Credit("payer", 100)
		phy := dataFrame(t, 1, 4)
		delay := uint32(1_000_000)
		if join {
			phy, delay = joinFrame(t, 9), 5_000_000
		}
		rssi := []float32{-110, -60, -90}
		tmst := []uint32{1000, 2000, 4_294_000_000} // the third wraps around
		var hash [32]byte
		for i := range 3 {
			topic, b := up(t, e.keys[i], phy, rssi[i], tmst[i])
			e.r.Process(topic, b)
		}
		hash = sha256Sum(phy)
		// The LNS answers through hotspot 0 in RX1.
		e.r.onDownlink(delivery.Downlink{Hotspot: e.keys[0].Public(), PacketHash: hash, HasHash: true,
			Payload: []byte{0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Tmst: tmst[0] + delay, Frequency: 868_100_000, DataRate: "SF7BW125"})
		msgs := e.pub.msgs[wire.DownTopic(string(e.keys[1].Address()))]
		if len(msgs) != 1 {
			t.Fatalf("join=%v: downlinks to best hotspot: %d (all: %v)", join, len(msgs), len(e.pub.msgs))
		}
		pd := new(wire.PacketDown)
		if err := wire.Unmarshal(msgs[0], pd); err != nil {
			t.Fatal(err)
		}
		if err := identity.Verify(pd, e.routerK.Public()); err != nil {
			t.Fatal("downlink not signed by router:", err)
		}
		if pd.Rx1.Tmst != tmst[1]+delay || pd.Rx1.Frequency != 868_100_000 || pd.Rx1.DataRate != "SF7BW125" {
			t.Fatalf("rx1 %+v", pd.Rx1)
		}
		if pd.Rx2 == nil || pd.Rx2.Tmst != tmst[1]+delay+1_000_000 || pd.Rx2.Frequency != 869_525_000 || pd.Rx2.DataRate != "SF12BW125" {
			t.Fatalf("rx2 %+v", pd.Rx2)
		}
	}
}

// TestOnPurchase: every charged copy is reported once, with how it was
// heard and what it cost; copies beyond max_copies and a redelivery long
// after (which charges nothing) are not.
func TestOnPurchase(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	e.addRoute("r", "payer", 2, nil)
	_ = e.dc.Credit("payer", 1000)
	var got []Purchase
	e.r.OnPurchase(func(p Purchase) { got = append(got, p) })
	phy := dataFrame(t, 7, 40)
	var first string
	var firstB []byte
	for i := 0; i < 3; i++ {
		topic, b := up(t, e.keys[i], phy, float32(-100+i), uint32(i))
		if i == 0 {
			first, firstB = topic, b
		}
		e.r.Process(topic, b)
	}
	if len(got) != 2 {
		t.Fatalf("%d purchases, want 2 (max_copies)", len(got))
	}
	for i, p := range got {
		if p.Hotspot != e.keys[i].Public() || p.Join || p.DC != dc.Cost(len(phy)) || p.RSSI != float32(-100+i) || p.At.IsZero() || p.DevAddr == (lorawan.DevAddr{}) {
			t.Errorf("purchase %d: %+v", i, p)
		}
	}
	e.clk.Advance(time.Minute)
	e.r.sweep(e.clk.Now())
	e.r.Process(first, firstB)
	if len(got) != 2 {
		t.Fatalf("a redelivery that charged nothing was reported: %+v", got[2:])
	}
	topic, b := up(t, e.keys[0], joinFrame(t, 1), -60, 9)
	e.r.Process(topic, b)
	if len(got) != 3 || !got[2].Join || got[2].DC != DefaultJoinCost || got[2].DevAddr != (lorawan.DevAddr{}) {
		t.Fatalf("join purchase: %+v", got[2:])
	}
}

// TestTxAckReachesTheSender: a downlink's sender hears the TxAck of the
// hotspot it went to, once; an ack signed by another hotspot or one after
// AckTimeout is not passed on.
func TestTxAckReachesTheSender(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	var got []wire.TxStatus
	e.r.onDownlink(delivery.Downlink{Hotspot: e.keys[0].Public(), Payload: []byte{0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		Tmst: 1000, Frequency: 868_100_000, DataRate: "SF7BW125", Ack: func(st wire.TxStatus) { got = append(got, st) }})
	msgs := e.pub.msgs[wire.DownTopic(string(e.keys[0].Address()))]
	if len(msgs) != 1 {
		t.Fatalf("%d downlinks published", len(msgs))
	}
	pd := new(wire.PacketDown)
	if err := wire.Unmarshal(msgs[0], pd); err != nil {
		t.Fatal(err)
	}
	if e.r.TxAck(e.keys[1].Public(), pd.Id, wire.TxStatus_TX_OK) {
		t.Error("another hotspot's ack was taken")
	}
	if !e.r.TxAck(e.keys[0].Public(), pd.Id, wire.TxStatus_TX_TOO_LATE) {
		t.Fatal("the hotspot's ack was not taken")
	}
	if e.r.TxAck(e.keys[0].Public(), pd.Id, wire.TxStatus_TX_OK) {
		t.Error("a second ack for one downlink was taken")
	}
	if len(got) != 1 || got[0] != wire.TxStatus_TX_TOO_LATE {
		t.Fatalf("sender heard %v, want [TX_TOO_LATE]", got)
	}

	// An ack that comes after AckTimeout finds nothing waiting.
	e.r.onDownlink(delivery.Downlink{Hotspot: e.keys[0].Public(), Payload: []byte{0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		Immediate: true, Frequency: 868_100_000, DataRate: "SF7BW125", Ack: func(st wire.TxStatus) { got = append(got, st) }})
	msgs = e.pub.msgs[wire.DownTopic(string(e.keys[0].Address()))]
	if err := wire.Unmarshal(msgs[len(msgs)-1], pd); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(AckTimeout + time.Second)
	e.r.sweep(e.clk.Now())
	if e.r.TxAck(e.keys[0].Public(), pd.Id, wire.TxStatus_TX_OK) || len(got) != 1 {
		t.Fatalf("a late ack was passed on: %v", got)
	}
}

// TestVerifyBatch: a worker checks the signatures of the uplinks it takes
// together; a forged one in the batch is refused alone, the others pass,
// and decode failures keep their own reasons.
func TestVerifyBatch(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	var jobs []job
	for i := range 5 {
		topic, b := up(t, e.keys[i%len(e.keys)], dataFrame(t, uint32(i), 4), -60, uint32(i))
		jobs = append(jobs, job{topic: topic, payload: b, at: e.clk.Now()})
	}
	// Job 2: a valid message whose signature was made for other bytes.
	forged := new(wire.PacketUp)
	if err := wire.Unmarshal(jobs[2].payload, forged); err != nil {
		t.Fatal(err)
	}
	forged.Rssi = -20
	if b, err := wire.Marshal(forged); err == nil {
		jobs[2].payload = b
	}
	jobs[4].payload = []byte{0xff, 0x01} // not a PacketUp
	e.r.verifyBatch(jobs)
	want := []Reason{"", "", ReasonBadSignature, "", ReasonMalformed}
	for i, j := range jobs {
		if !j.checked || j.reason != want[i] {
			t.Errorf("job %d: checked %v reason %q, want %q", i, j.checked, j.reason, want[i])
		}
		if j.reason == "" && j.pk != e.keys[i%len(e.keys)].Public() {
			t.Errorf("job %d: signer %v", i, j.pk)
		}
	}
}

// TestBatchWait: a worker that took one uplink waits BatchWait (real time,
// not the router's frozen test clock) for more and checks them in one
// batch; without the wait, uplinks arriving apart are checked apart.
func TestBatchWait(t *testing.T) {
	for _, tc := range []struct {
		wait    time.Duration
		batches float64
	}{{time.Second, 1}, {-1, 3}} {
		e := newEnv(t, Config{Workers: 1, BatchWait: tc.wait}, nil)
		e.addRoute("r", "payer", 3, nil)
		_ = e.dc.Credit("payer", 100)
		ctx, cancel := context.WithCancel(context.Background())
		go e.r.Run(ctx)
		for i := range 3 {
			topic, b := up(t, e.keys[i], dataFrame(t, 9, 4), -50, uint32(i))
			e.r.Handle(topic, b)
			time.Sleep(20 * time.Millisecond) // far apart for a worker, far within the wait
		}
		waitFor(t, func() bool { return counterValue(e.r.m.bought) == 3 }, "three copies bought")
		var m dto.Metric
		if err := e.r.m.batch.Write(&m); err != nil {
			t.Fatal(err)
		}
		if h := m.GetHistogram(); h.GetSampleCount() != uint64(tc.batches) || h.GetSampleSum() != 3 {
			t.Errorf("BatchWait %v: %d batches of %v uplinks in all, want %v batches of 3", tc.wait, h.GetSampleCount(), h.GetSampleSum(), tc.batches)
		}
		cancel()
	}
}

// TestBadSignerCheckedAlone: after a bad signature, the signer's next
// uplinks are checked outside the batch (so they cannot spoil it), with the
// same verdicts; the others' stay in the batch.
func TestBadSignerCheckedAlone(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	forge := func(k int, fcnt uint32) job {
		topic, b := up(t, e.keys[k], dataFrame(t, fcnt, 4), -50, fcnt)
		var m wire.PacketUp
		if err := wire.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m.Rssi = -20 // the signature no longer covers the bytes
		b, _ = wire.Marshal(&m)
		return job{topic: topic, payload: b, at: e.clk.Now()}
	}
	good := func(k int, fcnt uint32) job {
		topic, b := up(t, e.keys[k], dataFrame(t, fcnt, 4), -50, fcnt)
		return job{topic: topic, payload: b, at: e.clk.Now()}
	}
	round := func(jobs ...job) []Reason {
		e.r.verifyBatch(jobs)
		var out []Reason
		for _, j := range jobs {
			out = append(out, j.reason)
		}
		return out
	}
	if got := round(good(1, 1), forge(0, 2), good(2, 3)); !slices.Equal(got, []Reason{"", ReasonBadSignature, ""}) {
		t.Fatalf("first round %q", got)
	}
	if n := counterValue(e.r.m.alone); n != 0 {
		t.Fatalf("%v checked alone before any bad signature", n)
	}
	// Signer 0 is now a suspect: its uplinks, good or forged, are checked
	// alone and judged as before.
	if got := round(good(1, 4), forge(0, 5), good(0, 6), good(2, 7)); !slices.Equal(got, []Reason{"", ReasonBadSignature, "", ""}) {
		t.Fatalf("second round %q", got)
	}
	if n := counterValue(e.r.m.alone); n != 2 {
		t.Errorf("checked alone %v, want 2 (signer 0's two uplinks)", n)
	}
	// Ten minutes without a bad signature: back in the batch.
	e.clk.Advance(11 * time.Minute)
	round(good(0, 8))
	if n := counterValue(e.r.m.alone); n != 2 {
		t.Errorf("checked alone %v after the suspicion expired, want 2", n)
	}
}

// BenchmarkVerifyBatchOneForged: batches of 64 uplinks, one of them with a
// forged signature from the same signer each time. "batched" forgets the
// signer (every batch fails and falls back to 64 single checks);
// "isolated" is the router as built (the signer's uplinks are checked
// alone after its first bad signature). ns/uplink is per uplink checked.
//
//	go test -run '^$' -bench VerifyBatchOneForged ./router/
func BenchmarkVerifyBatchOneForged(b *testing.B) {
	e := newEnv(b, Config{}, nil)
	const n = 64
	var tmpl []job
	for i := range n {
		topic, p := up(b, e.keys[i%3], dataFrame(b, uint32(i), 4), -50, uint32(i))
		if i == n/2 {
			var m wire.PacketUp
			_ = wire.Unmarshal(p, &m)
			m.Rssi = -20
			p, _ = wire.Marshal(&m)
		}
		tmpl = append(tmpl, job{topic: topic, payload: p, at: e.clk.Now()})
	}
	for _, mode := range []string{"batched", "isolated"} {
		b.Run(mode, func(b *testing.B) {
			e.r.suspects = identity.NewSuspects(suspectTTL, suspectMax)
			jobs := make([]job, n)
			for b.Loop() {
				if mode == "batched" {
					e.r.suspects = identity.NewSuspects(suspectTTL, 0)
				}
				copy(jobs, tmpl)
				e.r.verifyBatch(jobs)
				if jobs[n/2].reason != ReasonBadSignature || jobs[0].reason != "" {
					b.Fatal("wrong verdicts")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/uplink")
		})
	}
}
