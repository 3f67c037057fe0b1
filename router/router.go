// Package router is hexnet's packet router (DESIGN.md §6): it consumes the
// PacketUps hotspots publish, verifies and rate-limits them, looks up the
// OUI routes that buy each packet, counts multi-buy copies, bills data
// credits idempotently, delivers purchased copies to each route's LNS
// destinations through per-destination queues, and relays the LNS's
// downlinks, signed, to the hotspot whose copy was best.
//
// Pipeline order for each message: size and decode, message type
// (join-request or data uplink), hotspot signature and onboarding,
// per-hotspot rate limit, per-(hotspot, packet) replay limit, PHYPayload
// parse, route lookup (join by EUIs, data by DevAddr, optional session-key
// MIC filter), multi-buy counting per (packet, route), DC debit, delivery.
// Every drop has a Reason, counted in hexnet_router_dropped_total{reason}.
package router

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

// Reason names why an uplink was not bought.
type Reason string

// Drop reasons, one per pipeline step.
const (
	ReasonQueueFull        Reason = "queue_full"        // ingress queue full
	ReasonBadTopic         Reason = "bad_topic"         // not hexnet/v1/up/{p}
	ReasonOversize         Reason = "oversize"          // message over wire.MaxMessageSize
	ReasonMalformed        Reason = "malformed"         // protobuf decode failed or empty payload
	ReasonUnsupportedMType Reason = "unsupported_mtype" // not a join-request or data uplink
	ReasonBadSignature     Reason = "bad_signature"     // signature does not verify
	ReasonNotOnboarded     Reason = "not_onboarded"     // signer is not an onboarded hotspot
	ReasonRateLimited      Reason = "rate_limited"      // hotspot over its token bucket
	ReasonWrongPartition   Reason = "wrong_partition"   // topic partition does not match the payload
	ReasonReplay           Reason = "replay"            // same hotspot sent the same packet again
	ReasonBadPHYPayload    Reason = "bad_phypayload"    // LoRaWAN frame does not parse
	ReasonNoRoute          Reason = "no_route"          // no route buys this DevAddr / EUI pair
	ReasonRouteInactive    Reason = "route_inactive"    // only inactive routes match
	ReasonRouteLocked      Reason = "route_locked"      // only locked routes match
	ReasonMICMismatch      Reason = "mic_mismatch"      // session-key filter: no key verifies the MIC
	ReasonMaxCopies        Reason = "max_copies"        // the route already bought max_copies
	ReasonLateCopy         Reason = "late_copy"         // arrived after the dedup window
	ReasonInsufficientDC   Reason = "insufficient_dc"   // payer cannot pay; its routes lock
	ReasonBillingError     Reason = "billing_error"     // the DC ledger failed
)

// Reasons lists every drop reason (metrics are pre-created for each).
var Reasons = []Reason{ReasonQueueFull, ReasonBadTopic, ReasonOversize, ReasonMalformed,
	ReasonUnsupportedMType, ReasonBadSignature, ReasonNotOnboarded, ReasonRateLimited,
	ReasonWrongPartition, ReasonReplay, ReasonBadPHYPayload, ReasonNoRoute, ReasonRouteInactive,
	ReasonRouteLocked, ReasonMICMismatch, ReasonMaxCopies, ReasonLateCopy, ReasonInsufficientDC,
	ReasonBillingError}

// HotspotInfo is what the router needs to know of an onboarded hotspot.
type HotspotInfo struct {
	// Owner is the owner's account address (informational).
	Owner string
}

// Hotspots answers whether a key belongs to an onboarded hotspot; the ledger implements it.
type Hotspots interface {
	Hotspot(pk identity.PublicKey) (HotspotInfo, bool)
}

// RouteSource is where the router reads routes and locks payers; routes.Service implements it.
type RouteSource interface {
	Table() *routes.Table
	SetPayerLocked(payer string, locked bool) error
}

// Publisher publishes an MQTT message (PacketDown on wire.DownTopic).
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Deps are the router's collaborators. Routes, Hotspots, DC, Dial, Publisher
// and Key are required.
type Deps struct {
	Routes    RouteSource
	Hotspots  Hotspots
	DC        dc.Ledger
	Dial      delivery.Dialer
	Publisher Publisher
	Key       *identity.Key         // router key; signs PacketDowns
	Registry  prometheus.Registerer // nil: metrics not registered
	Clock     clock.Clock           // nil: real clock
	Logger    *slog.Logger          // nil: slog.Default()
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("router: closed")

// Router is the packet router. Build it with New, start it with Run.
type Router struct {
	cfg  Config
	deps Deps
	clk  clock.Clock
	log  *slog.Logger
	m    *metrics
	keys *identity.KeyCache
	// suspects are signers with a recent bad signature, checked alone.
	suspects *identity.Suspects
	limiter  *limiter
	shards   []*shard
	queues   []chan job

	mu      sync.Mutex
	runCtx  context.Context
	wg      sync.WaitGroup
	dests   map[string]*destWorker
	closed  bool
	closeCh chan struct{}

	subs atomic.Pointer[[]func(Purchase)] // OnPurchase consumers

	amu  sync.Mutex
	acks map[string]pendingAck // downlink id → the sender waiting for its TxAck
}

// Purchase is one copy the router bought and charged: the hotspot that
// sold it, how it heard the packet and what the payer paid for it.
type Purchase struct {
	Hotspot identity.PublicKey
	OUI     uint64
	Join    bool            // a join-request (DevAddr is zero)
	DevAddr lorawan.DevAddr // of a data uplink
	RSSI    float32
	SNR     float32
	DC      uint64
	At      time.Time
}

// OnPurchase registers fn to receive every copy charged, once per (packet,
// hotspot): a redelivered message that charges nothing is not reported. It
// is called on the router's pipeline goroutines, so fn must be quick.
func (r *Router) OnPurchase(fn func(Purchase)) {
	for {
		old := r.subs.Load()
		var next []func(Purchase)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if r.subs.CompareAndSwap(old, &next) {
			return
		}
	}
}

type job struct {
	topic   string
	payload []byte
	at      time.Time
	ack     *ackRef // nil: nothing to acknowledge (Process)
	// Set by verifyBatch: the decoded uplink, its signer, and why it was
	// refused before routing (empty: passed decode and signature).
	checked bool
	up      *wire.PacketUp
	mt      lorawan.MType
	part    int
	pk      identity.PublicKey
	reason  Reason
}

// suspectTTL and suspectMax bound the signers checked alone after a bad
// signature (identity.Suspects).
const (
	suspectTTL = 10 * time.Minute
	suspectMax = 4096
)

// verifyBatchMax bounds how many queued uplinks a worker takes at once to
// check their signatures in one batch verification. A batch costs less per
// signature the larger it is (BenchmarkVerify/voi_batch_expanded_*: about
// 17 µs at 16 and 64, 14 µs at 256 here); below saturation BatchWait
// ends a batch long before it fills, so the bound only matters when a
// backlog has formed, and then the cheaper signatures drain it sooner.
const verifyBatchMax = 256

// decode checks a job's topic, size, message and message type.
func decode(j *job) {
	j.checked = true
	t, err := wire.ParseTopic(j.topic)
	if err != nil || t.Kind != wire.KindUp {
		j.reason = ReasonBadTopic
		return
	}
	j.part = t.Partition
	if len(j.payload) > wire.MaxMessageSize {
		j.reason = ReasonOversize
		return
	}
	up := new(wire.PacketUp)
	if err := wire.Unmarshal(j.payload, up); err != nil || len(up.Payload) == 0 {
		j.reason = ReasonMalformed
		return
	}
	mt, err := lorawan.PeekMType(up.Payload)
	if err != nil {
		j.reason = ReasonMalformed
		return
	}
	if mt != lorawan.JoinRequest && mt != lorawan.UnconfirmedDataUp && mt != lorawan.ConfirmedDataUp {
		j.reason = ReasonUnsupportedMType
		return
	}
	j.up, j.mt = up, mt
}

// collect returns first and what else is queued on q or arrives within
// wait (BatchWait, longer under a backlog), up to verifyBatchMax, for one
// signature batch, appended to buf[:0] (the worker's, reused: a fresh
// 256-job slice per batch was most of the router's garbage). The wait runs
// on timer, a real timer rather than the injectable clock: it is
// scheduling, and a test's frozen clock must not hold uplinks back.
func (r *Router) collect(ctx context.Context, q <-chan job, first job, timer *time.Timer, buf []job, wait time.Duration) []job {
	batch := append(buf[:0], first)
	var deadline <-chan time.Time // nil until the queue runs dry
	for len(batch) < verifyBatchMax {
		select {
		case j := <-q:
			batch = append(batch, j)
			continue
		default:
		}
		if deadline == nil {
			if wait <= 0 {
				return batch
			}
			timer.Reset(wait)
			defer timer.Stop()
			deadline = timer.C
		}
		select {
		case j := <-q:
			batch = append(batch, j)
		case <-deadline:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// verifyBatch decodes jobs and checks their signatures in one batch
// verification (an entry is valid in a batch exactly when it is alone).
func (r *Router) verifyBatch(jobs []job) {
	now := r.clk.Now()
	bv := identity.NewBatch(len(jobs))
	idx := make([]int, 0, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		decode(j)
		if j.reason != "" {
			continue
		}
		pk, err := identity.PublicKeyFromBytes(j.up.GetSigner())
		if err != nil {
			j.reason = ReasonBadSignature
			continue
		}
		ek, err := r.keys.Get(pk)
		if err != nil {
			j.reason = ReasonBadSignature
			continue
		}
		msg, err := identity.SigningBytes(j.up)
		if err != nil {
			j.reason = ReasonMalformed
			continue
		}
		j.pk = pk
		if r.suspects.Has(pk, now) {
			// A recent bad signature by this signer: checked alone, so that
			// another one does not spoil the batch.
			r.m.alone.Inc()
			if !ek.Verify(msg, j.up.GetSignature()) {
				j.reason = ReasonBadSignature
				r.suspects.Add(pk, now)
			}
			continue
		}
		bv.AddExpanded(ek, msg, j.up.GetSignature())
		idx = append(idx, i)
	}
	r.m.batch.Observe(float64(len(jobs)))
	if len(idx) == 0 {
		return
	}
	_, valid := bv.Verify()
	for n, i := range idx {
		if !valid[n] {
			jobs[i].reason = ReasonBadSignature
			r.suspects.Add(jobs[i].pk, now)
		}
	}
}

// New builds a router; it starts nothing.
func New(cfg Config, deps Deps) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if deps.Routes == nil || deps.Hotspots == nil || deps.DC == nil || deps.Dial == nil || deps.Publisher == nil || deps.Key == nil {
		return nil, fmt.Errorf("%w: Routes, Hotspots, DC, Dial, Publisher and Key are required", ErrConfig)
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	r := &Router{
		cfg: cfg, deps: deps, clk: deps.Clock, log: deps.Logger.With("component", "router"), m: m,
		keys:     identity.NewKeyCache(4096),
		suspects: identity.NewSuspects(suspectTTL, suspectMax),
		limiter:  newLimiter(cfg.RateLimit, cfg.RateBurst),
		dests:    map[string]*destWorker{},
		acks:     map[string]pendingAck{},
		closeCh:  make(chan struct{}),
	}
	for i := 0; i < cfg.Workers; i++ {
		r.shards = append(r.shards, newShard())
		r.queues = append(r.queues, make(chan job, cfg.QueueSize))
	}
	deps.DC.Subscribe(r.onTopUp)
	return r, nil
}

// onTopUp unlocks a payer's routes as soon as its balance is positive again.
func (r *Router) onTopUp(payer string) {
	if r.deps.DC.Balance(payer) == 0 {
		return
	}
	if err := r.deps.Routes.SetPayerLocked(payer, false); err != nil {
		r.log.Error("unlock routes", "payer", payer, "err", err)
		return
	}
	r.log.Info("routes unlocked after top-up", "payer", payer)
}

// Handle takes one MQTT message from wire.UpFilter (the signature of a
// paho/broker message callback) with nothing to acknowledge: see
// HandleDeferred.
func (r *Router) Handle(topic string, payload []byte) { r.HandleDeferred(topic, payload, nil) }

// HandleDeferred takes one MQTT message from wire.UpFilter (the signature
// of mqttc.DeferredHandler). It copies the payload and queues it for its
// partition's worker, and calls ack (when not nil) once the message is done
// with: dropped with a reason, or bought and sent to (or given up on by)
// every destination that bought it. Until then the broker holds the message
// unacknowledged, so a router that stops or crashes with it queued gets it
// again from the broker on a persistent session; a repeated copy is billed
// once (the debit's idempotency key) and delivered again.
//
// Backpressure: when that queue is full, HandleDeferred blocks for up to
// Config.EnqueueTimeout (default 1 s). While it waits the broker holds the
// message as unacknowledged and, once its window to this client is full,
// stops sending. If the queue stays full for the whole timeout the message
// is dropped, acknowledged and counted as queue_full (and in
// hexnet_router_queue_dropped_total{queue="ingress"}). When the router is
// closed it returns without acknowledging.
func (r *Router) HandleDeferred(topic string, payload []byte, ack func()) {
	r.m.received.Inc()
	t, err := wire.ParseTopic(topic)
	if err != nil || t.Kind != wire.KindUp {
		r.drop(ReasonBadTopic)
		if ack != nil {
			ack()
		}
		return
	}
	j := job{topic: topic, payload: append([]byte(nil), payload...), at: r.clk.Now(), ack: newAckRef(ack)}
	q := r.queues[t.Partition%len(r.queues)]
	select {
	case q <- j:
		return
	default:
	}
	if r.cfg.EnqueueTimeout > 0 {
		r.m.queueWaits.Inc()
		select {
		case q <- j:
			return
		case <-r.clk.After(r.cfg.EnqueueTimeout):
		case <-r.closeCh:
			return // not acknowledged: the broker delivers it again
		}
	}
	r.drop(ReasonQueueFull)
	r.m.queueDropped.WithLabelValues("ingress").Inc()
	j.ack.release()
}

// ackRef acknowledges a message once the pipeline and every destination
// queue it was handed to are done with it. A nil *ackRef does nothing.
type ackRef struct {
	n   atomic.Int32
	ack func()
}

func newAckRef(ack func()) *ackRef {
	if ack == nil {
		return nil
	}
	a := &ackRef{ack: ack}
	a.n.Store(1) // the pipeline's hold
	return a
}

func (a *ackRef) hold() {
	if a != nil {
		a.n.Add(1)
	}
}

func (a *ackRef) release() {
	if a != nil && a.n.Add(-1) == 0 {
		a.ack()
	}
}

func (r *Router) drop(reason Reason) { r.m.dropped.WithLabelValues(string(reason)).Inc() }

// Run starts the workers, destination senders and the sweeper, and returns
// when ctx ends.
func (r *Router) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.runCtx = ctx
	for _, d := range r.dests {
		r.startDestLocked(d)
	}
	r.mu.Unlock()
	for i := range r.queues {
		q := r.queues[i]
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			buf := make([]job, 0, verifyBatchMax)
			last := 0 // the previous batch's size
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-q:
					wait := r.cfg.BatchWait
					if last >= verifyBatchMax/4 { // a backlog: let the batch fill
						wait *= 4
					}
					batch := r.collect(ctx, q, j, timer, buf, wait)
					last = len(batch)
					r.verifyBatch(batch)
					for _, j := range batch {
						r.process(j)
						j.ack.release()
					}
					clear(batch) // let the payloads go before the next batch
				}
			}
		}()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.clk.After(r.cfg.SweepInterval):
				r.sweep(r.clk.Now())
			}
		}
	}()
	select {
	case <-ctx.Done():
	case <-r.closeCh:
		cancel()
	}
	r.wg.Wait()
	r.mu.Lock()
	r.runCtx = nil
	r.mu.Unlock()
	return nil
}

// Close stops Run (if running) and closes all senders; it is idempotent.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.closeCh)
	var senders []delivery.Sender
	for _, d := range r.dests {
		if d.sender != nil {
			senders = append(senders, d.sender)
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, s := range senders {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Outcome is what became of one message: the reason it was dropped, or
// Bought copies (a copy bought by two routes counts twice).
type Outcome struct {
	Reason Reason // empty when Bought > 0
	Bought int
}

// Process runs one message through the pipeline synchronously and returns
// its outcome; Handle's workers use it, and tests call it directly.
func (r *Router) Process(topic string, payload []byte) Outcome {
	r.m.received.Inc()
	return r.process(job{topic: topic, payload: payload, at: r.clk.Now()})
}

func (r *Router) process(j job) Outcome {
	o := r.pipeline(j)
	if o.Reason != "" {
		r.drop(o.Reason)
	}
	r.m.latency.Observe(r.clk.Now().Sub(j.at).Seconds())
	return o
}

func (r *Router) pipeline(j job) Outcome {
	if !j.checked {
		jj := []job{j}
		r.verifyBatch(jj)
		j = jj[0]
	}
	if j.reason != "" {
		return Outcome{Reason: j.reason}
	}
	up, mt, pk := j.up, j.mt, j.pk
	if _, ok := r.deps.Hotspots.Hotspot(pk); !ok {
		return Outcome{Reason: ReasonNotOnboarded}
	}
	if !r.limiter.allow(pk, j.at) {
		return Outcome{Reason: ReasonRateLimited}
	}
	hash := sha256.Sum256(up.Payload)
	if int(hash[0])%wire.Partitions != j.part {
		return Outcome{Reason: ReasonWrongPartition}
	}
	sh := r.shards[j.part%len(r.shards)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	rk := replayKey{hotspot: pk, hash: hash}
	if _, seen := sh.replay[rk]; seen {
		return Outcome{Reason: ReasonReplay}
	}
	sh.replay[rk] = j.at.UnixNano()
	f, err := lorawan.Parse(up.Payload)
	if err != nil {
		return Outcome{Reason: ReasonBadPHYPayload}
	}
	var cands []*routes.Route
	if mt == lorawan.JoinRequest {
		cands = r.deps.Routes.Table().ByEUI(beUint64(f.JoinEUI), beUint64(f.DevEUI))
	} else {
		cands = r.deps.Routes.Table().ByDevAddr(f.DevAddr.Uint32())
	}
	if len(cands) == 0 {
		return Outcome{Reason: ReasonNoRoute}
	}
	g := sh.groups[hash]
	if g == nil {
		g = &group{first: j.at, mtype: mt, bought: map[string]uint32{}}
		sh.groups[hash] = g
	}
	inWindow := j.at.Sub(g.first) <= r.cfg.DedupWindow
	if inWindow {
		g.copies = append(g.copies, copyInfo{hotspot: pk, rssi: up.Rssi, snr: up.Snr, tmst: up.Tmst, region: up.Region})
	}
	var out Outcome
	reason := ReasonNoRoute
	for _, rt := range cands {
		rr := r.buy(rt, f, up, pk, hash, g, inWindow, j.at, j.ack)
		if rr == "" {
			out.Bought++
			continue
		}
		if rank(rr) > rank(reason) {
			reason = rr
		}
	}
	if out.Bought == 0 {
		out.Reason = reason
	}
	return out
}

// rank orders route-level reasons so the most telling one is reported when
// every matching route refuses.
func rank(r Reason) int {
	switch r {
	case ReasonNoRoute:
		return 0
	case ReasonRouteInactive:
		return 1
	case ReasonMICMismatch:
		return 2
	case ReasonRouteLocked:
		return 3
	case ReasonLateCopy:
		return 4
	case ReasonMaxCopies:
		return 5
	case ReasonInsufficientDC:
		return 6
	default:
		return 7
	}
}

func beUint64(e lorawan.EUI64) uint64 {
	var v uint64
	for _, b := range e {
		v = v<<8 | uint64(b)
	}
	return v
}

// buy decides whether route rt buys this copy, bills and delivers it. It
// runs under the shard lock; "" means bought.
func (r *Router) buy(rt *routes.Route, f *lorawan.Frame, up *wire.PacketUp, pk identity.PublicKey,
	hash [32]byte, g *group, inWindow bool, now time.Time, ack *ackRef) Reason {
	if !rt.Active {
		return ReasonRouteInactive
	}
	if len(rt.SessionKeys) > 0 && f.MType != lorawan.JoinRequest {
		ok := false
		for _, k := range rt.SessionKeys {
			if f.ValidDataMIC(lorawan.Key(k), uint32(f.FCnt)) {
				ok = true
				break
			}
		}
		if !ok {
			return ReasonMICMismatch
		}
	}
	if rt.Locked {
		return ReasonRouteLocked
	}
	n := g.bought[rt.ID]
	if n >= rt.MaxCopies {
		return ReasonMaxCopies
	}
	if !inWindow && n > 0 {
		return ReasonLateCopy
	}
	cost := r.cfg.JoinCost
	if f.MType != lorawan.JoinRequest {
		cost = dc.Cost(len(up.Payload))
	}
	// The key names the copy (packet, hotspot) and its payer: a route of
	// another payer buying the same copy is charged on its own.
	key := make([]byte, 0, 64+len(rt.Payer))
	key = append(key, hash[:]...)
	key = append(key, pk[:]...)
	key = append(key, rt.Payer...)
	epoch := uint64(now.Unix()) / uint64(r.cfg.EpochDuration/time.Second)
	charged, err := r.deps.DC.Debit(dc.Charge{Payer: rt.Payer, Amount: cost, Key: key, Epoch: epoch, Hotspot: pk})
	switch {
	case errors.Is(err, dc.ErrInsufficientDC):
		if lerr := r.deps.Routes.SetPayerLocked(rt.Payer, true); lerr != nil {
			r.log.Error("lock routes", "payer", rt.Payer, "err", lerr)
		} else {
			r.log.Warn("routes locked: insufficient data credits", "payer", rt.Payer, "oui", rt.OUI)
		}
		// A top-up may have landed between the debit and the lock.
		if r.deps.DC.Balance(rt.Payer) >= cost {
			r.onTopUp(rt.Payer)
		}
		return ReasonInsufficientDC
	case errors.Is(err, dc.ErrNotRecorded):
		r.log.Warn("copy charged, data transfer not recorded", "hotspot", pk.String(), "epoch", epoch, "err", err)
		r.m.unrecorded.Inc()
	case err != nil:
		r.log.Error("debit", "payer", rt.Payer, "err", err)
		return ReasonBillingError
	}
	g.bought[rt.ID] = n + 1
	r.m.bought.Inc()
	if charged {
		r.m.debited.Add(float64(cost))
		if subs := r.subs.Load(); subs != nil {
			pu := Purchase{Hotspot: pk, OUI: rt.OUI, Join: f.MType == lorawan.JoinRequest, RSSI: up.GetRssi(), SNR: up.GetSnr(), DC: cost, At: now}
			if !pu.Join {
				pu.DevAddr = f.DevAddr
			}
			for _, fn := range *subs {
				fn(pu)
			}
		}
	}
	u := &delivery.Uplink{PacketHash: hash, Hotspot: pk, Up: up, MType: f.MType, ReceivedAt: now, RouteID: rt.ID, OUI: rt.OUI}
	for _, d := range rt.Destinations {
		r.enqueue(d, u, ack)
	}
	return ""
}

// sweep forgets expired groups, replay entries and idle rate buckets.
func (r *Router) sweep(now time.Time) {
	for _, sh := range r.shards {
		sh.mu.Lock()
		for h, g := range sh.groups {
			if now.Sub(g.first) > r.cfg.GroupTTL {
				delete(sh.groups, h)
			}
		}
		for k, at := range sh.replay {
			if now.Sub(time.Unix(0, at)) > r.cfg.ReplayWindow {
				delete(sh.replay, k)
			}
		}
		sh.mu.Unlock()
	}
	r.limiter.sweep(now)
	r.sweepAcks(now)
}

// shard holds the per-packet state of the partitions one worker serves.
type shard struct {
	mu     sync.Mutex
	groups map[[32]byte]*group
	// replay holds each (hotspot, packet)'s first receive time in Unix
	// nanoseconds: a map without pointers, which the garbage collector
	// does not scan (it holds ReplayWindow's worth of copies).
	replay map[replayKey]int64
}

func newShard() *shard {
	return &shard{groups: map[[32]byte]*group{}, replay: map[replayKey]int64{}}
}

type replayKey struct {
	hotspot identity.PublicKey
	hash    [32]byte
}

// group is every copy of one packet.
type group struct {
	first  time.Time
	mtype  lorawan.MType
	copies []copyInfo        // copies inside the dedup window
	bought map[string]uint32 // route ID → copies bought
}

type copyInfo struct {
	hotspot identity.PublicKey
	rssi    float32
	snr     float32
	tmst    uint32
	region  wire.Region
}
