// Package ledger keeps hexnet's books (DESIGN.md §7): accounts with tokens
// and data credits, makers, hotspots and their asserted locations, OUIs with
// their routes, and reward epochs whose payouts are committed to a Merkle
// root signed by the oracle key.
//
// The ledger is an append-only, hash-chained journal of operations (see
// journal.go) in a KV (Pebble through SpaceKV); every other piece of state is
// derived by replaying it. Users submit signed operations (ledgerpb.Op);
// genesis and epoch closes are written by the ledger itself. PoC and the
// router feed reward units, data-transfer DC and DC debits through
// RecordPoC, RecordDataTransfer and DebitDC, which are idempotent and do not
// write journal entries (see epochs.go); they are folded into the journal
// when an epoch closes.
//
// Closing an epoch is exactly-once: the close is one journal entry (manifest,
// signed root, DC usage) appended atomically, and the state change is its
// replay. A crash before the append leaves the epoch open and it is closed
// again at restart; a crash after it leaves only clean-up (deleting the
// epoch's reward inputs and old debit records), which start-up redoes.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
)

// Deps are the ledger's collaborators.
type Deps struct {
	// Store holds the journal, reward inputs and debit log (required), e.g.
	// SpaceKV(db.Prefix("ledger/")).
	Store KV
	// Oracle signs epoch roots (required).
	Oracle *identity.Key
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Logger receives the ledger's logs (default slog.Default()).
	Logger *slog.Logger
	// BeforeClose, when set, is called (without any ledger lock held) before
	// epoch e is closed, so that a collaborator can record its last inputs
	// for e (e.g. PoC units it accumulates itself). An error postpones the
	// close to the next check.
	BeforeClose func(e uint64) error
}

// Ledger is the network's books. Its methods are safe for concurrent use.
type Ledger struct {
	cfg        Config
	kv         KV
	oracle     *identity.Key
	clock      func() time.Time
	log        *slog.Logger
	operations *identity.PublicKey
	oracles    identity.PublicKey

	mu        sync.RWMutex
	closed    bool
	st        *state
	j         journal
	units     map[uint64]map[identity.PublicKey]*units
	totals    map[uint64]units
	debitNext uint64
	trees     map[uint64]*manifest
	treeOrder []uint64

	beforeClose func(uint64) error
	subsMu      sync.Mutex
	subs        []func(identity.PublicKey)
	hotspotSubs []func(identity.PublicKey)

	// faults, when set by tests, is called at named steps of an epoch close
	// and may fail them: "before_journal", "journal_commit", "after_journal".
	faults func(step string) error
}

// manifest is a closed epoch's entries and tree, cached for proofs.
type manifest struct {
	close *ledgerpb.EpochClose
	tree  *merkle.Tree
}

const treeCacheSize = 4

// New opens the ledger: it replays the journal (writing genesis from cfg when
// the journal is empty) and rebuilds reward inputs and pending debits. It
// starts nothing.
func New(cfg Config, deps Deps) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Oracle == nil {
		return nil, errors.New("ledger: Deps.Store and Deps.Oracle are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	pool, _ := parsePool(cfg.NetID, cfg.BlockSize) // validated
	l := &Ledger{
		cfg: cfg, kv: deps.Store, oracle: deps.Oracle, clock: deps.Clock, beforeClose: deps.BeforeClose,
		log:     deps.Logger.With("component", "ledger"),
		oracles: deps.Oracle.Public(),
		units:   map[uint64]map[identity.PublicKey]*units{},
		totals:  map[uint64]units{},
		trees:   map[uint64]*manifest{},
		st: newState(params{
			onboardFee: cfg.OnboardFeeDC, locationFee: cfg.LocationFeeDC, ouiFee: cfg.OUIFeeDC,
			dcPrice: cfg.DCPrice, minGain: cfg.MinGain, maxGain: cfg.MaxGain,
			minElev: cfg.MinElevation, maxElev: cfg.MaxElevation, pool: pool,
			maxCopies: cfg.MaxCopiesMax, maxEUIs: cfg.MaxEUIsPerOUI,
		}),
	}
	l.j = journal{kv: deps.Store, faults: l.fault}
	if cfg.Operations != "" {
		pk, _ := identity.ParseAddress(cfg.Operations)
		l.operations = &pk
	}
	if cfg.Oracles != "" {
		l.oracles, _ = identity.ParseAddress(cfg.Oracles)
	}
	if err := l.j.replay(func(h uint64, b []byte) error {
		op := &ledgerpb.Op{}
		if err := proto.Unmarshal(b, op); err != nil {
			return err
		}
		mut, err := l.st.apply(op, h, false)
		if err != nil {
			return err
		}
		mut()
		return nil
	}); err != nil {
		return nil, err
	}
	if l.j.next == 0 {
		if err := l.writeGenesis(); err != nil {
			return nil, err
		}
	} else if admin, _ := identity.ParseAddress(cfg.Admin); admin != l.st.admin {
		// genesis is history: the journal's admin stays, whatever the config says now
		l.log.Warn("config admin differs from the journal's genesis; the genesis admin is kept",
			"config_admin", cfg.Admin, "genesis_admin", l.st.admin.String())
	}
	if err := l.loadInputs(); err != nil {
		return nil, err
	}
	if err := l.loadDebits(); err != nil {
		return nil, err
	}
	l.log.Info("ledger opened", "height", l.j.next, "next_epoch", l.st.nextEpoch, "hotspots", len(l.st.hotspots))
	return l, nil
}

func (l *Ledger) fault(step string) error {
	if l.faults == nil {
		return nil
	}
	return l.faults(step)
}

func (l *Ledger) writeGenesis() error {
	admin, _ := identity.ParseAddress(l.cfg.Admin)
	allocs, _ := l.cfg.allocations()
	g := &ledgerpb.Genesis{Admin: admin.Bytes(), FirstEpoch: l.EpochOf(l.clock()), Network: l.cfg.Network}
	for _, a := range allocs {
		g.Allocations = append(g.Allocations, &ledgerpb.Allocation{Account: a.pk.Bytes(), Tokens: a.tokens, Dc: a.dc})
	}
	_, err := l.appendOp(&ledgerpb.Op{Body: &ledgerpb.Op_Genesis{Genesis: g}}, false)
	return err
}

// appendOp checks op, appends it to the journal and applies it. Callers hold mu.
func (l *Ledger) appendOp(op *ledgerpb.Op, verify bool) (uint64, error) {
	mut, err := l.st.apply(op, l.j.next, verify)
	if err != nil {
		return 0, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	h, err := l.j.append(b, nil)
	if err != nil {
		return 0, fmt.Errorf("ledger: journal: %w", err)
	}
	mut()
	return h, nil
}

// DecodeOp decodes submitted operation bytes; it refuses oversized input and
// operations only the ledger writes.
func DecodeOp(b []byte) (*ledgerpb.Op, error) {
	if len(b) > maxSubmittedBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), maxSubmittedBytes)
	}
	op := &ledgerpb.Op{}
	if err := proto.Unmarshal(b, op); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch op.GetBody().(type) {
	case nil:
		return nil, fmt.Errorf("%w: empty operation", ErrMalformed)
	case *ledgerpb.Op_Genesis, *ledgerpb.Op_EpochClose:
		return nil, ErrNotSubmittable
	}
	return op, nil
}

// Submit decodes, checks and applies a signed operation.
func (l *Ledger) Submit(b []byte) error {
	_, err := l.SubmitBytes(b)
	return err
}

// SubmitBytes is Submit returning the journal height of the operation.
func (l *Ledger) SubmitBytes(b []byte) (uint64, error) {
	op, err := DecodeOp(b)
	if err != nil {
		return 0, err
	}
	return l.SubmitOp(op)
}

// SubmitOp checks and applies a signed operation and returns its journal height.
func (l *Ledger) SubmitOp(op *ledgerpb.Op) (uint64, error) {
	switch op.GetBody().(type) {
	case *ledgerpb.Op_Genesis, *ledgerpb.Op_EpochClose:
		return 0, ErrNotSubmittable
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	h, err := l.appendOp(op, true)
	l.mu.Unlock()
	if err == nil {
		l.notifyTopUp(op)
		l.notifyHotspot(op)
	}
	return h, err
}

// SubscribeHotspots registers fn, called with the hotspot after every
// operation that changes it (onboarding, location assertion, transfer). fn
// runs without ledger locks held and may call the ledger.
func (l *Ledger) SubscribeHotspots(fn func(hotspot identity.PublicKey)) {
	l.subsMu.Lock()
	defer l.subsMu.Unlock()
	l.hotspotSubs = append(l.hotspotSubs, fn)
}

func (l *Ledger) notifyHotspot(op *ledgerpb.Op) {
	var raw []byte
	switch b := op.GetBody().(type) {
	case *ledgerpb.Op_OnboardHotspot:
		raw = b.OnboardHotspot.GetHotspot()
	case *ledgerpb.Op_AssertLocation:
		raw = b.AssertLocation.GetHotspot()
	case *ledgerpb.Op_TransferHotspot:
		raw = b.TransferHotspot.GetHotspot()
	default:
		return
	}
	pk, err := identity.PublicKeyFromBytes(raw)
	if err != nil {
		return
	}
	l.subsMu.Lock()
	subs := slices.Clone(l.hotspotSubs)
	l.subsMu.Unlock()
	for _, fn := range subs {
		fn(pk)
	}
}

// SubscribeTopUps registers fn, called with the account after every
// operation that adds data credits to it (a burn, a delegation). fn runs
// without ledger locks held and may call the ledger.
func (l *Ledger) SubscribeTopUps(fn func(payer identity.PublicKey)) {
	l.subsMu.Lock()
	defer l.subsMu.Unlock()
	l.subs = append(l.subs, fn)
}

func (l *Ledger) notifyTopUp(op *ledgerpb.Op) {
	var payer identity.PublicKey
	switch b := op.GetBody().(type) {
	case *ledgerpb.Op_BurnForDc:
		payer, _ = identity.PublicKeyFromBytes(b.BurnForDc.GetSigner())
	case *ledgerpb.Op_DelegateDc:
		o, ok := l.OUI(b.DelegateDc.GetOui())
		if !ok {
			return
		}
		payer = o.Payer
	default:
		return
	}
	l.subsMu.Lock()
	subs := slices.Clone(l.subs)
	l.subsMu.Unlock()
	for _, fn := range subs {
		fn(payer)
	}
}

// Run closes epochs when they are due until ctx ends.
func (l *Ledger) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.CheckInterval)
	defer t.Stop()
	for {
		if _, err := l.CloseDue(); err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			l.log.Error("epoch close failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Close stops the ledger accepting operations and records. It does not close
// the store, which belongs to the caller. A second Close returns nil.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// CloseDue closes every epoch whose end (plus CloseDelay) has passed and
// returns how many it closed.
func (l *Ledger) CloseDue() (int, error) {
	n := 0
	for {
		l.mu.RLock()
		closed, e := l.closed, l.st.nextEpoch
		l.mu.RUnlock()
		if closed {
			return n, ErrClosed
		}
		if l.clock().Before(l.EpochStart(e + 1).Add(l.cfg.CloseDelay)) {
			return n, nil
		}
		if l.beforeClose != nil {
			if err := l.beforeClose(e); err != nil {
				return n, fmt.Errorf("ledger: before closing epoch %d: %w", e, err)
			}
		}
		l.mu.Lock()
		var err error
		switch {
		case l.closed:
			err = ErrClosed
		case l.st.nextEpoch == e: // not closed meanwhile by a concurrent CloseDue
			err = l.closeEpoch(e)
		}
		l.mu.Unlock()
		if err != nil {
			return n, fmt.Errorf("ledger: close epoch %d: %w", e, err)
		}
		n++
	}
}

// closeEpoch closes epoch e (the next one). Callers hold mu.
func (l *Ledger) closeEpoch(e uint64) error {
	start := time.Now()
	c, tree, err := l.buildClose(e)
	if err != nil {
		return err
	}
	if err := l.fault("before_journal"); err != nil {
		return err
	}
	prevSeq := l.st.debitSeq
	h, err := l.appendOp(&ledgerpb.Op{Body: &ledgerpb.Op_EpochClose{EpochClose: c}}, false)
	if err != nil {
		return err
	}
	l.cacheManifest(e, &manifest{close: c, tree: tree})
	l.log.Info("epoch closed", "epoch", e, "height", h, "entries", len(c.Entries),
		"emitted", c.Root.GetEmitted(), "root", fmt.Sprintf("%x", c.Root.GetRoot()), "took", time.Since(start))
	if err := l.fault("after_journal"); err != nil {
		return err
	}
	return l.cleanupEpoch(e, prevSeq)
}

// cleanupEpoch drops the in-memory sums and stored inputs of closed epoch e
// and the debit records folded at or before prevSeq. It is idempotent.
func (l *Ledger) cleanupEpoch(e, prevSeq uint64) error {
	delete(l.units, e)
	delete(l.totals, e)
	b, err := l.kv.NewBatch()
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	prefix := inputKey(e, "")
	n := 0
	if err := l.kv.Iterate(prefix, func(k, _ []byte) error {
		n++
		return b.Delete(append([]byte(nil), k...))
	}); err != nil {
		return err
	}
	if n > 0 {
		if err := b.Commit(false); err != nil {
			return err
		}
	}
	return l.pruneDebits(prevSeq)
}

func (l *Ledger) cacheManifest(e uint64, m *manifest) {
	if _, ok := l.trees[e]; !ok {
		l.treeOrder = append(l.treeOrder, e)
	}
	l.trees[e] = m
	for len(l.treeOrder) > treeCacheSize {
		delete(l.trees, l.treeOrder[0])
		l.treeOrder = l.treeOrder[1:]
	}
}

// Height returns the number of journal entries; it changes with every
// operation, so readers of routes can poll it.
func (l *Ledger) Height() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.j.next
}

// Head returns the hash of the last journal entry.
func (l *Ledger) Head() [32]byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.j.head
}

// Oracle returns the public key that signs epoch roots.
func (l *Ledger) Oracle() identity.PublicKey { return l.oracle.Public() }

// Config returns the ledger's configuration.
func (l *Ledger) Config() Config { return l.cfg }
