// Package ingest is the PoC oracle's pipeline from MQTT to verdicts
// (DESIGN.md §4–§5): it admits reports (server receive time, size, decoding,
// onboarding, signature, duplicate hash), persists each accepted report
// durably before Handle returns (so the QoS 1 acknowledgement that follows
// loses nothing), joins beacons with their witnesses by beacon data, runs
// poc/verify on each group when its witness window closes, and stores,
// indexes and publishes every verdict with its reward units, feeding the
// reciprocity history, the density map and the reward accumulator.
//
// Admission batches itself: concurrent Handle calls queue behind one leader
// that checks all their signatures in one batch verification and commits all
// accepted reports in one synced store batch (group commit), then hands the
// lead to the next waiting call.
//
// Store layout (relative to Deps.Store):
//
//	s/<bucket><report hash>                  → expiry ‖ receive time ‖ payload (accepted, not yet judged)
//	s/<bucket><report hash>                  → expiry (judged; the dedup set until expiry)
//	t/<receive time>/<result id>             → result record (replayed at start, in time order)
//	h/<hotspot key>/<^receive time>/<id><b|w> → ""  (per-hotspot index, newest first)
//
// The dedup set's keys lead with the 5-minute bucket of the receive time
// (4 bytes, big endian), so that expired hashes go a bucket at a time in one
// range deletion, and a sweep reads only the keys it deletes, not the set.
// An earlier layout (d/<report hash>) is moved into this one at start.
package ingest

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/density"
	"github.com/hexnet/hexnet/poc/rewards"
	"github.com/hexnet/hexnet/poc/verify"
)

// Sentinel errors.
var (
	// ErrRejected wraps every rejection returned by Handle; RejectError
	// carries the reason. A rejected report is acknowledged and forgotten.
	ErrRejected = errors.New("ingest: report rejected")
	// ErrStore is returned by Handle when the report could not be persisted;
	// the caller should not acknowledge it, so that it is redelivered.
	ErrStore = errors.New("ingest: store failure")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("ingest: closed")
	// ErrMissingDep is returned by New when a required dependency is nil.
	ErrMissingDep = errors.New("ingest: missing dependency")
)

// RejectError is a rejection with its reason.
type RejectError struct {
	Reason poc.Reason
	Err    error // detail, may be nil
}

func (e *RejectError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("ingest: report rejected: %s: %v", e.Reason, e.Err)
	}
	return "ingest: report rejected: " + e.Reason.String()
}

// Unwrap makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Unwrap() error { return ErrRejected }

// ReasonOf returns the reason of a Handle error (ReasonNone for nil, and
// ReasonUnknownError for a store failure).
func ReasonOf(err error) poc.Reason {
	var re *RejectError
	switch {
	case err == nil:
		return poc.ReasonNone
	case errors.As(err, &re):
		return re.Reason
	}
	return poc.ReasonUnknownError
}

// Deps are the pipeline's collaborators.
type Deps struct {
	// Store is the pipeline's key space (required).
	Store *store.Space
	// Registry says which hotspots are onboarded and asserted (required).
	Registry verify.Registry
	// Verifier applies the rules (required). Build it with History below and
	// without a Scale: the pipeline applies the density scale itself, after
	// counting the beaconer as interactive.
	Verifier *verify.Verifier
	// History is the reciprocity and schedule history the Verifier reads
	// (required); the pipeline records every verdict into it and rebuilds
	// it from the stored results at start.
	History *verify.MemHistory
	// Density is the live density map (optional; nil: every scale is 1).
	Density *density.Map
	// Rewards receives the units of every verdict per epoch (optional).
	Rewards *rewards.Accumulator
	// Trust is the gaming detector (optional; poc/trust.Tracker): after the
	// baseline rules, a flagged hotspot's valid verdicts take its
	// suspected_* reason (and earn no units); it observes every stored and
	// replayed result. The trust multiplier of hotspots that are not
	// flagged applies to their epoch totals at the epoch's close
	// (rewards.Weighted), not here.
	Trust Trust
	// Keys caches expanded hotspot keys (optional; default a cache of
	// Config.KeyCacheSize).
	Keys *identity.KeyCache
	// Clock stamps receive times and closes windows (default the real clock).
	Clock clock.Clock
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Metrics receives the pipeline's metrics (optional).
	Metrics prometheus.Registerer
}

// Trust is what the pipeline asks of the gaming detector and tells it.
type Trust interface {
	// Suspect returns the suspected_* reason of a hotspot flagged now, else
	// ReasonNone.
	Suspect(pk identity.PublicKey) poc.Reason
	// Observe receives every stored result in verdict order, and at start
	// every result replayed from the store.
	Observe(r Result)
}

// suspectTTL and suspectMax bound the signers checked alone after a bad
// signature (identity.Suspects).
const (
	suspectTTL = 10 * time.Minute
	suspectMax = 4096
)

// item is one admitted report.
type item struct {
	hash    [32]byte
	at      time.Time
	payload []byte
	rep     verify.Report

	// admission hand-off
	wake chan struct{}
	lead bool
	err  error
}

// Pipeline is the ingest pipeline.
type Pipeline struct {
	cfg    Config
	deps   Deps
	vcfg   verify.Config
	clock  clock.Clock
	log    *slog.Logger
	m      *metrics
	queue  chan *item
	wakeup chan struct{}

	// admission
	amu     sync.Mutex
	waitq   []*item
	leading bool
	closed  atomic.Bool
	backlog atomic.Bool

	ifmu     sync.Mutex
	inflight map[[32]byte]struct{} // hashes of rounds being committed
	recent   *recent               // hashes admitted within DedupTTL, in memory (nil: off)
	suspects *identity.Suspects    // signers with a recent bad signature, checked alone
	slots    chan struct{}         // admission rounds in progress (at most 2)

	// verifier state, guarded by wmu
	wmu      sync.Mutex
	groups   map[string]*group
	held     map[[32]byte]struct{}
	due      dueHeap
	gen      uint64
	waiting  int
	closedG  map[string]closedInfo
	closedQ  []closedEntry
	subs     []func(Result)
	recBuf   []byte
	lastSwep time.Time
	dropFrom atomic.Int64 // oldest receive time (ns) dropped from the queue since the last reload

	sweepMu   sync.Mutex
	swept     uint32    // dedup buckets before it are deleted
	lastPrune time.Time // of the results past ResultRetention

	ready   chan struct{}
	runMu   sync.Mutex
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New builds a pipeline; it starts nothing.
func New(cfg Config, deps Deps) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Registry == nil || deps.Verifier == nil || deps.History == nil {
		return nil, ErrMissingDep
	}
	if deps.Keys == nil {
		deps.Keys = identity.NewKeyCache(cfg.KeyCacheSize)
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	m, err := newMetrics(deps.Metrics)
	if err != nil {
		return nil, fmt.Errorf("ingest: metrics: %w", err)
	}
	var rec *recent
	if cfg.DedupFilterBits > 0 {
		rec = newRecent(cfg.DedupFilterBits, cfg.DedupTTL)
	}
	p := &Pipeline{
		cfg: cfg, deps: deps, vcfg: deps.Verifier.Config(), clock: deps.Clock, log: deps.Logger, m: m,
		recent:   rec,
		suspects: identity.NewSuspects(suspectTTL, suspectMax),
		queue:    make(chan *item, cfg.QueueSize),
		wakeup:   make(chan struct{}, 1),
		groups:   map[string]*group{},
		held:     map[[32]byte]struct{}{},
		inflight: map[[32]byte]struct{}{},
		slots:    make(chan struct{}, 2),
		closedG:  map[string]closedInfo{},
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
	}
	p.dropFrom.Store(math.MaxInt64)
	return p, nil
}

// OnResult registers fn to receive every result after it is stored, in
// verdict order, on the verifier's goroutine (fn must not block for long;
// hand off to a queue for slow work). Register before Run.
func (p *Pipeline) OnResult(fn func(Result)) {
	p.wmu.Lock()
	p.subs = append(p.subs, fn)
	p.wmu.Unlock()
}

func (p *Pipeline) reject(reason poc.Reason, err error) error {
	p.m.rejected[reason].Inc()
	return &RejectError{Reason: reason, Err: err}
}

// Handle admits one report received on topic (hexnet/v1/poc/{p}). It
// returns nil once the report is durably persisted and queued toward the
// verifier, a *RejectError (errors.Is ErrRejected) for a report that is
// refused with a counted reason (oversize, malformed, invalid_pubkey,
// invalid_region, gateway_not_found, not_asserted, bad_signature,
// duplicate), or an error wrapping ErrStore when persistence failed (do
// not acknowledge). It is safe for concurrent use, and concurrent calls
// share one signature batch and one synced write.
func (p *Pipeline) Handle(topic string, payload []byte) error {
	now := p.clock.Now()
	p.m.received.Inc()
	if p.closed.Load() {
		return ErrClosed
	}
	if len(payload) > p.cfg.MaxReportSize {
		return p.reject(poc.ReasonOversize, fmt.Errorf("%d bytes", len(payload)))
	}
	rep, reason, err := verify.Decode(payload)
	if reason != poc.ReasonNone || err != nil {
		if reason == poc.ReasonNone {
			reason = poc.ReasonMalformed
		}
		return p.reject(reason, err)
	}
	it := &item{at: now, payload: append([]byte(nil), payload...), rep: rep, wake: make(chan struct{}, 1)}
	it.hash = sha256.Sum256(payload)

	p.amu.Lock()
	p.waitq = append(p.waitq, it)
	if p.leading {
		p.amu.Unlock()
		<-it.wake
		if !it.lead {
			return it.err
		}
	} else {
		p.leading = true
		p.amu.Unlock()
	}
	// At most two rounds between taking their reports and the end of their
	// commit: one verifying while the other waits for its fsync. Meanwhile
	// new calls queue, so rounds grow with the load instead of running one
	// report at a time.
	p.slots <- struct{}{}
	// Let calls that are runnable (woken by the last commit, or just
	// arrived) queue before the round is cut: on one core they run only
	// when the leader yields, and a round of one forfeits batch
	// verification and group commit.
	runtime.Gosched()
	p.amu.Lock()
	n := min(len(p.waitq), p.cfg.MaxBatch)
	batch := make([]*item, n)
	copy(batch, p.waitq)
	rest := copy(p.waitq, p.waitq[n:])
	clear(p.waitq[rest:])
	p.waitq = p.waitq[:rest]
	p.amu.Unlock()

	p.admit(batch)
	return it.err
}

// handoff passes the lead to the oldest waiting call, or ends it.
func (p *Pipeline) handoff() {
	p.amu.Lock()
	if len(p.waitq) > 0 {
		next := p.waitq[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		p.leading = false
	}
	p.amu.Unlock()
}

// admit checks, persists and queues one round of reports; it sets each
// item's err and wakes every item but the first (the leader's own). It
// hands the lead to the next round once its checks are done, so that the
// next round verifies signatures while this one waits for its fsync
// (Pebble coalesces the concurrent synced commits); reports of a round in
// flight are in p.inflight for the next round's duplicate check.
func (p *Pipeline) admit(batch []*item) {
	handed := false
	defer func() {
		<-p.slots
		if !handed {
			p.handoff()
		}
		for _, it := range batch[1:] {
			it.wake <- struct{}{}
		}
	}()
	p.m.batch.Observe(float64(len(batch)))

	// Onboarding first: it is a map lookup, and a flood from unknown keys
	// then costs no signature check.
	live := make([]*item, 0, len(batch))
	for _, it := range batch {
		h, ok := p.deps.Registry.Hotspot(it.rep.Signer)
		switch {
		case !ok:
			it.err = p.reject(poc.ReasonGatewayNotFound, nil)
		case !h.Asserted():
			it.err = p.reject(poc.ReasonNotAsserted, nil)
		default:
			live = append(live, it)
		}
	}
	if len(live) == 0 {
		return
	}

	// One batch verification for the round; each report's signature is
	// checked exactly once.
	// A signer with a recent bad signature is checked alone, so that
	// another one does not spoil the batch.
	now := p.clock.Now()
	bv := identity.NewBatch(len(live))
	checked := live[:0:0]
	valid := make([]bool, 0, len(live))
	var batched []int // indexes into checked of the entries in bv
	for _, it := range live {
		ek, err := p.deps.Keys.Get(it.rep.Signer)
		if err != nil {
			it.err = p.reject(poc.ReasonInvalidPubkey, err)
			continue
		}
		msg, err := identity.SigningBytes(it.rep.Signed())
		if err != nil {
			it.err = p.reject(poc.ReasonMalformed, err)
			continue
		}
		if p.suspects.Has(it.rep.Signer, now) {
			p.m.alone.Inc()
			valid = append(valid, ek.Verify(msg, it.rep.Signed().GetSignature()))
		} else {
			bv.AddExpanded(ek, msg, it.rep.Signed().GetSignature())
			batched = append(batched, len(checked))
			valid = append(valid, false)
		}
		checked = append(checked, it)
	}
	if len(batched) > 0 {
		_, bvalid := bv.Verify()
		for n, i := range batched {
			valid[i] = bvalid[n]
		}
	}
	for i, it := range checked {
		if !valid[i] {
			p.suspects.Add(it.rep.Signer, now)
		}
	}

	// Duplicates by hash: within the round and against the persisted set.
	b, err := p.deps.Store.NewBatch()
	if err != nil {
		p.storeFail(checked, err)
		return
	}
	defer b.Close()
	accepted := checked[:0:0]
	seen := make(map[[32]byte]struct{}, len(checked))
	var kbuf [seenKeyLen]byte
	for i, it := range checked {
		if !valid[i] {
			it.err = p.reject(poc.ReasonBadSignature, nil)
			continue
		}
		if _, dup := seen[it.hash]; dup {
			it.err = p.reject(poc.ReasonDuplicate, nil)
			continue
		}
		seen[it.hash] = struct{}{}
		p.ifmu.Lock()
		_, dup := p.inflight[it.hash]
		p.ifmu.Unlock()
		if dup {
			it.err = p.reject(poc.ReasonDuplicate, nil)
			continue
		}
		if p.recent == nil || p.recent.mayContain(it.hash) {
			dup, err := p.isDuplicate(it.hash, now)
			if err != nil {
				it.err = fmt.Errorf("%w: %w", ErrStore, err)
				continue
			}
			if dup {
				it.err = p.reject(poc.ReasonDuplicate, nil)
				continue
			}
		}
		// One entry per report: its dedup expiry, and until the verdict
		// shrinks it to that expiry, the report itself.
		v := make([]byte, pendingHeader+len(it.payload))
		binary.BigEndian.PutUint64(v, uint64(p.dedupExpiry(it.at)))
		binary.BigEndian.PutUint64(v[8:], uint64(it.at.UnixNano()))
		copy(v[pendingHeader:], it.payload)
		_ = b.Set(seenKey(kbuf[:0], it.at, &it.hash), v)
		if p.recent != nil {
			p.recent.add(it.hash, now) // before the commit: a failed one leaves a false positive, never a miss
		}
		accepted = append(accepted, it)
	}
	if len(accepted) == 0 {
		return
	}
	p.ifmu.Lock()
	for _, it := range accepted {
		p.inflight[it.hash] = struct{}{}
	}
	p.ifmu.Unlock()
	handed = true
	p.handoff()
	err = b.CommitSync()
	p.ifmu.Lock()
	for _, it := range accepted {
		delete(p.inflight, it.hash)
	}
	p.ifmu.Unlock()
	if err != nil {
		p.storeFail(accepted, err)
		return
	}
	p.m.accepted.Add(float64(len(accepted)))
	for _, it := range accepted {
		it.payload = nil // persisted; the verifier needs only the decoded report
		select {
		case p.queue <- it:
		default:
			p.m.dropped.WithLabelValues(DropQueueFull).Inc()
			p.noteDrop(it.at)
			p.backlog.Store(true)
		}
	}
	select {
	case p.wakeup <- struct{}{}:
	default:
	}
}

func (p *Pipeline) storeFail(items []*item, err error) {
	p.log.Error("poc ingest: persist failed", "err", err, "reports", len(items))
	for _, it := range items {
		it.err = fmt.Errorf("%w: %w", ErrStore, err)
	}
}

// pendingHeader is the expiry and receive time before a pending report's payload.
const pendingHeader = 16

// dedupExpiry is when the hash of a report received at is forgotten.
func (p *Pipeline) dedupExpiry(at time.Time) int64 { return at.Add(p.cfg.DedupTTL).UnixNano() }

// seenBucket is the width of a bucket of the dedup set. It is fixed, not
// derived from DedupTTL, so that a changed TTL does not reinterpret the
// stored keys.
const seenBucket = 5 * time.Minute

// seenKeyLen is the length of a dedup key: "s/", bucket, hash.
const seenKeyLen = 2 + 4 + 32

// bucketOf is the dedup bucket of a receive time.
func bucketOf(t time.Time) uint32 {
	ns := t.UnixNano()
	if ns < 0 {
		return 0
	}
	return uint32(ns / int64(seenBucket))
}

// bucketKey is the first key of bucket b.
func bucketKey(b uint32) []byte { return binary.BigEndian.AppendUint32([]byte("s/"), b) }

// seenEnd bounds the dedup set's keys.
var seenEnd = []byte("s0")

// seenKey appends the dedup key of a report received at with hash to dst.
func seenKey(dst []byte, at time.Time, hash *[32]byte) []byte {
	return bucketSeenKey(dst, bucketOf(at), hash)
}

// bucketSeenKey appends the key of hash in bucket b to dst.
func bucketSeenKey(dst []byte, b uint32, hash *[32]byte) []byte {
	dst = append(dst, "s/"...)
	dst = binary.BigEndian.AppendUint32(dst, b)
	return append(dst, hash[:]...)
}

// isDuplicate reports whether hash is in the persisted dedup set and not
// expired. It looks in every bucket that can hold an unexpired entry,
// newest first (a redelivery is usually recent): DedupTTL/5 min + 1 reads
// at most, and only for a hash the in-memory filter may have seen. A
// pending report is always a duplicate.
func (p *Pipeline) isDuplicate(hash [32]byte, now time.Time) (bool, error) {
	k := make([]byte, 0, seenKeyLen)
	oldest := bucketOf(now.Add(-p.cfg.DedupTTL))
	for b := bucketOf(now); ; b-- {
		k = bucketSeenKey(k[:0], b, &hash)
		v, err := p.deps.Store.Get(k)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return false, err
		case len(v) != 8:
			return true, nil // pending, or not ours: refuse rather than admit twice
		case int64(binary.BigEndian.Uint64(v)) > now.UnixNano():
			return true, nil
		}
		if b <= oldest {
			return false, nil
		}
	}
}

// noteDrop remembers the oldest receive time of a report dropped from the
// full queue: the reload that follows reads the dedup set from its bucket on.
func (p *Pipeline) noteDrop(at time.Time) {
	ns := at.UnixNano()
	for {
		cur := p.dropFrom.Load()
		if ns >= cur || p.dropFrom.CompareAndSwap(cur, ns) {
			return
		}
	}
}

// Run recovers the persisted state (Recover), then judges windows as they
// close until ctx ends or Close is called, and sweeps the dedup set and the
// density map every SweepInterval.
func (p *Pipeline) Run(ctx context.Context) error {
	p.runMu.Lock()
	if p.running || p.closed.Load() {
		p.runMu.Unlock()
		return errors.New("ingest: already run or closed")
	}
	p.running = true
	ctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	p.runMu.Unlock()
	defer close(p.done)
	defer cancel()

	if err := p.Recover(); err != nil {
		return err
	}
	close(p.ready)
	tick := p.clock.After(p.cfg.TickInterval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wakeup:
		case <-tick:
			tick = p.clock.After(p.cfg.TickInterval)
		}
		if err := p.Flush(); err != nil {
			p.log.Error("poc ingest: flush", "err", err)
		}
	}
}

// Ready is closed once Run has recovered the persisted state; subscribe to
// the report topics after it.
func (p *Pipeline) Ready() <-chan struct{} { return p.ready }

// Close stops Run and refuses further reports. It is idempotent.
func (p *Pipeline) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.runMu.Lock()
	cancel, running := p.cancel, p.running
	p.runMu.Unlock()
	if running {
		cancel()
		<-p.done
	}
	return nil
}

// Flush moves every queued report into its group and judges every group
// whose window has closed on the clock, storing and publishing the results.
// Run calls it; the simulator and tests may call it directly.
//
// The dedup sweep that falls due runs after the verdicts, outside the
// verifier's lock: it touches only expired buckets, which no verdict and no
// admission writes.
func (p *Pipeline) Flush() error {
	now, sweep, err := p.flush()
	if err != nil || !sweep {
		return err
	}
	if err := p.sweep(now); err != nil {
		p.log.Warn("poc ingest: dedup sweep", "err", err)
	}
	if err := p.prune(now); err != nil {
		p.log.Warn("poc ingest: result retention", "err", err)
	}
	return nil
}

// flush is Flush's work under the verifier's lock; it reports whether a
// sweep is due.
func (p *Pipeline) flush() (time.Time, bool, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	now := p.clock.Now()
	var out []verdict
	if p.backlog.Swap(false) {
		from := p.dropFrom.Swap(math.MaxInt64)
		p.drainLocked(now, &out)
		if err := p.reloadLocked(now, &out, bucketOf(time.Unix(0, from))); err != nil {
			return now, false, err
		}
	}
	p.drainLocked(now, &out)
	p.closeDueLocked(now, &out)
	if err := p.commitLocked(out); err != nil {
		return now, false, err
	}
	if now.Sub(p.lastSwep) < p.cfg.SweepInterval {
		return now, false, nil
	}
	p.lastSwep = now
	if p.deps.Density != nil {
		p.deps.Density.Expire(now)
	}
	return now, true, nil
}

func (p *Pipeline) drainLocked(now time.Time, out *[]verdict) {
	for {
		select {
		case it := <-p.queue:
			p.joinLocked(it, now, out)
		default:
			return
		}
	}
}

// sweep drops the dedup buckets whose every hash has expired (a bucket's
// reports were all received more than DedupTTL ago) with one range
// deletion. It reads the keys of those buckets only, not the live set, and
// stops short of the oldest one holding a pending report: a report waiting
// for its verdict keeps its entry, whatever its age.
func (p *Pipeline) sweep(now time.Time) error {
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	cut := bucketOf(now.Add(-p.cfg.DedupTTL)) // buckets before it have expired
	if cut <= p.swept {
		return nil
	}
	it, err := p.deps.Store.NewIter(bucketKey(p.swept), bucketKey(cut))
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.Value()
		if err != nil {
			_ = it.Close()
			return err
		}
		if k := it.Key(); len(k) == seenKeyLen && len(v) > pendingHeader {
			cut = binary.BigEndian.Uint32(k[2:])
			break
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if cut <= p.swept {
		return nil
	}
	b, err := p.deps.Store.NewBatch()
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.DeleteRange(bucketKey(p.swept), bucketKey(cut)); err != nil {
		return err
	}
	if err := b.Commit(false); err != nil {
		return err
	}
	p.swept = cut
	return nil
}

// pruneEvery is how often, on the clock, results past ResultRetention are
// deleted.
const pruneEvery = time.Hour

// prune deletes the results received before now - ResultRetention, at most
// once every pruneEvery, in one batch of range deletions: one for the
// results (kept in time order) and, per hotspot that has older entries, one
// for those in its index (newest first, so they are its last keys). A
// query that meets an index entry whose result is gone skips it.
func (p *Pipeline) prune(now time.Time) error {
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	if p.cfg.ResultRetention <= 0 || now.Sub(p.lastPrune) < pruneEvery {
		return nil
	}
	cutoff := now.Add(-p.cfg.ResultRetention).UnixNano()
	if cutoff <= 0 {
		return nil
	}
	b, err := p.deps.Store.NewBatch()
	if err != nil {
		return err
	}
	defer b.Close()
	end := binary.BigEndian.AppendUint64([]byte("t/"), uint64(cutoff))
	it, err := p.deps.Store.NewIter([]byte("t/"), end)
	if err != nil {
		return err
	}
	old := it.First()
	if err := it.Close(); err != nil {
		return err
	}
	if old {
		_ = b.DeleteRange([]byte("t/"), end)
	}
	// Per hotspot: its entries older than the cutoff have ^time above
	// ^cutoff, at the end of its range.
	hi, err := p.deps.Store.NewIter([]byte("h/"), []byte("h0"))
	if err != nil {
		return err
	}
	hotspots := 0
	for ok := hi.First(); ok; {
		k := hi.Key()
		if len(k) < 2+32 {
			ok = hi.Next()
			continue
		}
		pk := append([]byte(nil), k[:2+32]...)
		lo := binary.BigEndian.AppendUint64(append([]byte(nil), pk...), ^uint64(cutoff)+1)
		next := prefixEnd(pk)
		if hi.SeekGE(lo) && bytes.Compare(hi.Key(), next) < 0 {
			_ = b.DeleteRange(lo, next)
			hotspots++
		}
		ok = hi.SeekGE(next) // next is never nil: pk starts with "h/"
	}
	if err := hi.Close(); err != nil {
		return err
	}
	if b.Len() > 0 {
		if err := b.Commit(false); err != nil {
			return err
		}
		p.log.Info("poc ingest: deleted results past retention", "hotspots", hotspots,
			"before", time.Unix(0, cutoff).UTC())
	}
	p.lastPrune = now
	return nil
}

// migrateResults moves results of the earlier layout (r/<id> → record,
// t/<time><id> → "") into their time keys, 10,000 to a synced batch, then
// deletes the r/ keys.
func (p *Pipeline) migrateResults() error {
	probe, err := p.deps.Store.NewIter([]byte("r/"), []byte("r0"))
	if err != nil {
		return err
	}
	found := probe.First()
	if err := probe.Close(); err != nil || !found {
		return err
	}
	it, err := p.deps.Store.NewIter([]byte("t/"), []byte("t0"))
	if err != nil {
		return err
	}
	defer it.Close()
	b, err := p.deps.Store.NewBatch()
	if err != nil {
		return err
	}
	defer func() { b.Close() }()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		v, err := it.Value()
		if err != nil {
			return err
		}
		if len(k) != 2+8+32 || len(v) > 0 {
			continue
		}
		rec, err := p.deps.Store.Get(append([]byte("r/"), k[10:]...))
		if err != nil {
			p.log.Warn("poc ingest: move results: missing result", "id", fmt.Sprintf("%x", k[10:]), "err", err)
			continue
		}
		_ = b.Set(k, rec)
		if n++; n%10_000 == 0 {
			if err := b.CommitSync(); err != nil {
				return fmt.Errorf("ingest: move results: %w", err)
			}
			if b, err = p.deps.Store.NewBatch(); err != nil {
				return err
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	_ = b.DeleteRange([]byte("r/"), []byte("r0"))
	if err := b.CommitSync(); err != nil {
		return fmt.Errorf("ingest: move results: %w", err)
	}
	p.log.Info("poc ingest: moved results to their time keys", "results", n)
	return nil
}

// migrateLegacy moves the dedup set of the earlier layout (d/<report hash>,
// same values) into the bucketed one, pending reports included, in one
// synced batch; a judged entry's bucket is that of its expiry less DedupTTL.
func (p *Pipeline) migrateLegacy() error {
	b, err := p.deps.Store.NewBatch()
	if err != nil {
		return err
	}
	defer b.Close()
	var kbuf [seenKeyLen]byte
	n := 0
	err = p.deps.Store.Iterate([]byte("d/"), func(k, v []byte) error {
		if len(k) != 2+32 || len(v) < 8 {
			return nil
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64(v))).Add(-p.cfg.DedupTTL)
		if len(v) > pendingHeader {
			at = time.Unix(0, int64(binary.BigEndian.Uint64(v[8:])))
		}
		n++
		return b.Set(seenKey(kbuf[:0], at, (*[32]byte)(k[2:])), v)
	})
	if err != nil {
		return fmt.Errorf("ingest: migrate dedup set: %w", err)
	}
	if n == 0 {
		return nil
	}
	if err := b.DeleteRange([]byte("d/"), []byte("d0")); err != nil {
		return err
	}
	if err := b.CommitSync(); err != nil {
		return fmt.Errorf("ingest: migrate dedup set: %w", err)
	}
	p.log.Info("poc ingest: moved the dedup set to the bucketed layout", "entries", n)
	return nil
}

// Recover rebuilds the in-memory state from the store: it replays the
// results of the last ReplayWindow into the reciprocity history and the
// density map (and the current epoch's units into the accumulator), then
// reloads every persisted report not yet judged into its group. Run calls
// it first.
func (p *Pipeline) Recover() error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	now := p.clock.Now()
	if err := p.migrateLegacy(); err != nil {
		return err
	}
	if err := p.migrateResults(); err != nil {
		return err
	}
	if err := p.replayLocked(now); err != nil {
		return err
	}
	var out []verdict
	if err := p.reloadLocked(now, &out, 0); err != nil {
		return err
	}
	if err := p.commitLocked(out); err != nil {
		return err
	}
	return p.loadRecent(now)
}

// loadRecent puts the persisted dedup set into the in-memory filter and
// arms it; reports admitted meanwhile went into it directly.
func (p *Pipeline) loadRecent(now time.Time) error {
	if p.recent == nil || p.recent.armed.Load() {
		return nil
	}
	err := p.deps.Store.Iterate([]byte("s/"), func(k, v []byte) error {
		if len(k) != seenKeyLen || (len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= now.UnixNano()) {
			return nil // expired (a pending report stays in until judged)
		}
		p.recent.add([32]byte(k[6:]), now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("ingest: dedup filter: %w", err)
	}
	p.recent.armed.Store(true)
	return nil
}

func (p *Pipeline) replayLocked(now time.Time) error {
	from := make([]byte, 2+8)
	copy(from, "t/")
	binary.BigEndian.PutUint64(from[2:], uint64(max(now.Add(-p.cfg.ReplayWindow).UnixNano(), 0)))
	it, err := p.deps.Store.NewIter(from, []byte("t0"))
	if err != nil {
		return fmt.Errorf("ingest: replay: %w", err)
	}
	defer it.Close()
	current := p.epoch(now)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 2+8+32 {
			continue
		}
		v, err := it.Value()
		if err != nil {
			return fmt.Errorf("ingest: replay: %w", err)
		}
		r, err := decodeRecord(v)
		if err != nil {
			p.log.Warn("poc ingest: replay: bad result", "err", err)
			continue
		}
		p.deps.History.Record(r.Result)
		if p.deps.Trust != nil {
			p.deps.Trust.Observe(*r)
		}
		p.touch(r)
		if r.Epoch == current {
			p.credit(r)
		}
		n++
	}
	if n > 0 {
		p.log.Info("poc ingest: replayed results", "results", n)
	}
	return it.Close()
}

// reloadLocked loads persisted, unjudged reports not already held,
// reading the dedup set from bucket from on.
func (p *Pipeline) reloadLocked(now time.Time, out *[]verdict, from uint32) error {
	var items []*item
	it, err := p.deps.Store.NewIter(bucketKey(from), seenEnd)
	if err != nil {
		return fmt.Errorf("ingest: reload: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		v, err := it.Value()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("ingest: reload: %w", err)
		}
		if len(k) != seenKeyLen || len(v) <= pendingHeader {
			continue // judged
		}
		h := [32]byte(k[6:])
		if _, ok := p.held[h]; ok {
			continue
		}
		rep, _, err := verify.Decode(v[pendingHeader:])
		if err != nil {
			p.log.Warn("poc ingest: reload: undecodable pending report", "err", err)
			continue
		}
		items = append(items, &item{hash: h, at: time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC(), rep: rep})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("ingest: reload: %w", err)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	for _, it := range items {
		p.joinLocked(it, now, out)
	}
	p.m.recov.Add(float64(len(items)))
	return nil
}

// epoch is the reward epoch of t.
func (p *Pipeline) epoch(t time.Time) uint64 {
	ns := t.UnixNano()
	if ns < 0 {
		return 0
	}
	return uint64(ns / int64(p.cfg.EpochLength))
}

// interactive reports whether r makes its beaconer interactive (HIP-17 as
// in DESIGN.md Appendix A): a valid beacon with at least one valid witness.
func interactive(r *Result) bool {
	if r.WitnessOnly || r.Reason != poc.ReasonNone {
		return false
	}
	for _, w := range r.Witnesses {
		if w.Reason == poc.ReasonNone {
			return true
		}
	}
	return false
}

// touch counts an interactive beaconer in the density map.
func (p *Pipeline) touch(r *Result) {
	if p.deps.Density == nil || !interactive(r) {
		return
	}
	h, ok := p.deps.Registry.Hotspot(r.Beaconer)
	if !ok || !h.Asserted() {
		return
	}
	if err := p.deps.Density.Touch(r.Beaconer, h.Location, r.ReceivedAt); err != nil {
		p.log.Warn("poc ingest: density touch", "hotspot", r.Beaconer.String(), "err", err)
	}
}

// credit adds r's units to the accumulator.
func (p *Pipeline) credit(r *Result) {
	if p.deps.Rewards == nil || r.WitnessOnly {
		return
	}
	if r.Units > 0 {
		p.deps.Rewards.AddBeacon(r.Epoch, r.Beaconer, r.Units)
	}
	for _, w := range r.Witnesses {
		if w.Units > 0 {
			p.deps.Rewards.AddWitness(r.Epoch, w.Witness, w.Units)
		}
	}
}

// dueHeap orders group deadlines.
type dueEntry struct {
	at  time.Time
	key string
	gen uint64
}

type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

var _ heap.Interface = (*dueHeap)(nil)
