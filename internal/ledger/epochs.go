package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
)

// Reward inputs.
//
// PoC and the router record units with RecordPoC and RecordDataTransfer. Each
// record is stored under
//
//	"i/" ‖ epoch (8 bytes big-endian) ‖ idempotency key → kind (1) ‖ hotspot (32) ‖ a (8) ‖ b (8)
//
// (kind 'p': a, b = beacon and witness micro-units; kind 'd': a = DC) and
// summed per hotspot in memory; a key already stored is accepted again without
// effect. Records are written without fsync: a power cut can lose the last
// few milliseconds of them (a process crash cannot). At start-up the sums of
// open epochs are rebuilt from the records and records of closed epochs are
// deleted.
//
// Units are float64 at the interface and kept as integer micro-units (×10^6,
// rounded) so that the close is exact and deterministic; a record carries at
// most MaxUnitsPerRecord units of each kind.
var inputPrefix = []byte("i/")

// MaxUnitsPerRecord bounds the beacon or witness units of one PoC record.
const MaxUnitsPerRecord = 1_000_000

const microUnits = 1_000_000

const maxIdempotencyKey = 256

type units struct {
	beacon, witness, dc uint64
}

func inputKey(epoch uint64, key string) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte(nil), inputPrefix...), epoch)
	return append(k, key...)
}

func toMicro(u float64) (uint64, error) {
	if math.IsNaN(u) || u < 0 || u > MaxUnitsPerRecord {
		return 0, fmt.Errorf("%w: %v not in [0, %d]", ErrBadUnits, u, MaxUnitsPerRecord)
	}
	return uint64(math.Round(u * microUnits)), nil
}

func checkIdemKey(key string) error {
	if n := len(key); n == 0 || n > maxIdempotencyKey {
		return fmt.Errorf("%w: idempotency key of %d bytes (want 1..%d)", ErrMalformed, n, maxIdempotencyKey)
	}
	return nil
}

// EpochOf returns the epoch containing t: epochs are EpochLength long and
// aligned on the Unix epoch, so every component computes the same number.
func (l *Ledger) EpochOf(t time.Time) uint64 {
	ns := t.UnixNano()
	if ns < 0 {
		return 0
	}
	return uint64(ns / int64(l.cfg.EpochLength))
}

// EpochStart returns the start of epoch e.
func (l *Ledger) EpochStart(e uint64) time.Time {
	return time.Unix(0, int64(e)*int64(l.cfg.EpochLength)).UTC()
}

// RecordPoC records a hotspot's beacon and witness reward units for an epoch.
// It is idempotent on key: a repeated key is accepted and ignored.
func (l *Ledger) RecordPoC(epoch uint64, hotspot identity.PublicKey, beaconUnits, witnessUnits float64, key string) error {
	b, err := toMicro(beaconUnits)
	if err != nil {
		return err
	}
	w, err := toMicro(witnessUnits)
	if err != nil {
		return err
	}
	return l.record(epoch, hotspot, 'p', b, w, key)
}

// RecordDataTransfer records the DC of the packets bought from a hotspot in an
// epoch. It is idempotent on key.
func (l *Ledger) RecordDataTransfer(epoch uint64, hotspot identity.PublicKey, dc uint64, key string) error {
	return l.record(epoch, hotspot, 'd', dc, 0, key)
}

func (l *Ledger) record(epoch uint64, hotspot identity.PublicKey, kind byte, a, b uint64, key string) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	k, v, err := l.inputLocked(epoch, hotspot, kind, a, b, key)
	if err != nil {
		return err
	}
	if _, err := l.kv.Get(k); err == nil {
		return nil // already recorded
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := l.kv.Set(k, v, false); err != nil {
		return err
	}
	l.addUnits(epoch, hotspot, kind, a, b)
	return nil
}

// inputLocked checks a reward input against the open epochs, the hotspots
// and the epoch's totals, and returns its key and value.
func (l *Ledger) inputLocked(epoch uint64, hotspot identity.PublicKey, kind byte, a, b uint64, key string) (k, v []byte, err error) {
	if epoch < l.st.nextEpoch {
		return nil, nil, fmt.Errorf("%w: %d (next to close is %d)", ErrEpochClosed, epoch, l.st.nextEpoch)
	}
	if now := l.EpochOf(l.clock()); epoch > now {
		return nil, nil, fmt.Errorf("%w: %d (now %d)", ErrFutureEpoch, epoch, now)
	}
	if l.st.hotspots[hotspot] == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownHotspot, hotspot)
	}
	total := l.totals[epoch]
	if _, err = add(total.beacon, kindA(kind, 'p', a)); err != nil {
		return nil, nil, err
	}
	if _, err = add(total.witness, kindA(kind, 'p', b)); err != nil {
		return nil, nil, err
	}
	if _, err = add(total.dc, kindA(kind, 'd', a)); err != nil {
		return nil, nil, err
	}
	v = make([]byte, 0, 1+32+16)
	v = append(v, kind)
	v = append(v, hotspot[:]...)
	v = binary.BigEndian.AppendUint64(v, a)
	v = binary.BigEndian.AppendUint64(v, b)
	return inputKey(epoch, key), v, nil
}

func kindA(kind, want byte, v uint64) uint64 {
	if kind == want {
		return v
	}
	return 0
}

// addUnits adds a record to the in-memory sums (checked for overflow by the
// caller through the epoch totals, which bound every per-hotspot sum).
func (l *Ledger) addUnits(epoch uint64, hotspot identity.PublicKey, kind byte, a, b uint64) {
	m := l.units[epoch]
	if m == nil {
		m = map[identity.PublicKey]*units{}
		l.units[epoch] = m
	}
	u := m[hotspot]
	if u == nil {
		u = &units{}
		m[hotspot] = u
	}
	t := l.totals[epoch]
	switch kind {
	case 'p':
		u.beacon += a
		u.witness += b
		t.beacon += a
		t.witness += b
	case 'd':
		u.dc += a
		t.dc += a
	}
	l.totals[epoch] = t
}

// loadInputs rebuilds the sums of open epochs and deletes records of closed ones.
func (l *Ledger) loadInputs() error {
	b, err := l.kv.NewBatch()
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	stale := 0
	err = l.kv.Iterate(inputPrefix, func(k, v []byte) error {
		if len(k) < len(inputPrefix)+8 || len(v) != 1+32+16 {
			return fmt.Errorf("%w: reward input %x", ErrCorruptJournal, k)
		}
		epoch := binary.BigEndian.Uint64(k[len(inputPrefix):])
		if epoch < l.st.nextEpoch {
			stale++
			return b.Delete(append([]byte(nil), k...))
		}
		var hs identity.PublicKey
		copy(hs[:], v[1:33])
		l.addUnits(epoch, hs, v[0], binary.BigEndian.Uint64(v[33:]), binary.BigEndian.Uint64(v[41:]))
		return nil
	})
	if err != nil {
		return err
	}
	if stale > 0 {
		return b.Commit(false)
	}
	return nil
}

// DC debits.
//
// The router calls DebitDC once per purchased packet copy. A debit is not a
// journal entry: it is written to a debit log,
//
//	"d/" ‖ idempotency key → seq (8) ‖ DC (8) ‖ payer (32)
//
// (without fsync, like reward inputs), and counted in memory as the payer's
// pending DC, which is subtracted from its available balance at once. Each
// epoch close folds all pending debits into the EpochClose operation as a
// per-payer usage list with the highest folded seq, so the journal carries
// the DC spent and a debit is folded exactly once: after a restart, debits
// with seq above the journal's folded seq are pending again, the others are
// not. Folded records are kept one more epoch (so a late retry of the same
// key is still recognised) and then deleted. A debit that would take a payer
// below zero is refused with ErrInsufficientFunds: the router locks the
// payer's routes until it is topped up (no overdraft).
var debitPrefix = []byte("d/")

func debitKey(key string) []byte { return append(append([]byte(nil), debitPrefix...), key...) }

// DebitDC charges amount DC to payer once per idempotency key; a repeated
// key is accepted without a second charge.
func (l *Ledger) DebitDC(payer identity.PublicKey, amount uint64, key string) error {
	_, err := l.ChargeDC(payer, amount, key)
	return err
}

// ChargeDC is DebitDC reporting whether this call charged (false for a
// repeated key). A repeated key is recognised whatever the balance.
func (l *Ledger) ChargeDC(payer identity.PublicKey, amount uint64, key string) (bool, error) {
	return l.charge(payer, amount, key, nil)
}

// Transfer is the data-transfer record of a purchased copy: its DC, added
// to Hotspot's total of Epoch, under idempotency key Key.
type Transfer struct {
	Epoch   uint64
	Hotspot identity.PublicKey
	Key     string
}

// ChargeTransfer is ChargeDC for a purchased copy: in the same atomic write
// as the debit it records amount as the data transfer t. A crash keeps both
// or neither, and a repeated debit key repeats neither. A record the ledger
// refuses (ErrEpochClosed, ErrFutureEpoch, ErrUnknownHotspot) does not stop
// the debit: that error comes back with charged=true.
func (l *Ledger) ChargeTransfer(payer identity.PublicKey, amount uint64, key string, t Transfer) (bool, error) {
	if err := checkIdemKey(t.Key); err != nil {
		return false, err
	}
	return l.charge(payer, amount, key, &t)
}

func (l *Ledger) charge(payer identity.PublicKey, amount uint64, key string, t *Transfer) (bool, error) {
	if amount == 0 {
		return false, fmt.Errorf("%w: zero debit", ErrBadAmount)
	}
	if err := checkIdemKey(key); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, ErrClosed
	}
	k := debitKey(key)
	if _, err := l.kv.Get(k); err == nil {
		return false, nil // already charged
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if avail := l.st.availableDC(payer); avail < amount {
		return false, fmt.Errorf("%w: payer %s has %d DC, debit of %d", ErrInsufficientFunds, payer, avail, amount)
	}
	seq := l.debitNext + 1
	v := make([]byte, 0, 48)
	v = binary.BigEndian.AppendUint64(v, seq)
	v = binary.BigEndian.AppendUint64(v, amount)
	v = append(v, payer[:]...)
	var recErr error
	var ik, iv []byte
	if t != nil {
		ik, iv, recErr = l.inputLocked(t.Epoch, t.Hotspot, 'd', amount, 0, t.Key)
	}
	if ik == nil {
		if err := l.kv.Set(k, v, false); err != nil {
			return false, err
		}
	} else {
		b, err := l.kv.NewBatch()
		if err != nil {
			return false, err
		}
		defer func() { _ = b.Close() }()
		if err := b.Set(k, v); err != nil {
			return false, err
		}
		if err := b.Set(ik, iv); err != nil {
			return false, err
		}
		if err := b.Commit(false); err != nil {
			return false, err
		}
		l.addUnits(t.Epoch, t.Hotspot, 'd', amount, 0)
	}
	l.debitNext = seq
	l.st.pending[payer] += amount
	return true, recErr
}

// loadDebits rebuilds the pending DC from the debit log.
func (l *Ledger) loadDebits() error {
	l.debitNext = l.st.debitSeq
	return l.kv.Iterate(debitPrefix, func(k, v []byte) error {
		if len(v) != 48 {
			return fmt.Errorf("%w: debit record %x", ErrCorruptJournal, k)
		}
		seq := binary.BigEndian.Uint64(v)
		l.debitNext = max(l.debitNext, seq)
		if seq > l.st.debitSeq {
			var p identity.PublicKey
			copy(p[:], v[16:])
			l.st.pending[p] += binary.BigEndian.Uint64(v[8:])
		}
		return nil
	})
}

// pruneDebits deletes debit records folded at or before seq.
func (l *Ledger) pruneDebits(seq uint64) error {
	b, err := l.kv.NewBatch()
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	n := 0
	err = l.kv.Iterate(debitPrefix, func(k, v []byte) error {
		if len(v) == 48 && binary.BigEndian.Uint64(v) <= seq {
			n++
			return b.Delete(append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil || n == 0 {
		return err
	}
	return b.Commit(false)
}

// mulDiv returns a*b/c rounded down, for b <= c (so the result is <= a).
func mulDiv(a, b, c uint64) uint64 {
	if c == 0 || b == 0 {
		return 0
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return a
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// share returns the basis-point share bp of total.
func share(total uint64, bp uint32) uint64 { return mulDiv(total, uint64(bp), 10_000) }

// buildClose computes the close of epoch e: the manifest, its tree and the
// signed root, and the folded DC usage. It changes nothing.
//
// Payout rule: each pool (beacon 6 %, witness 24 %, data transfer 50 %,
// operations 7 %, oracles 7 % of TokensPerEpoch by default) is split in
// proportion to units (beacon and witness micro-units; DC for data transfer),
// rounding down. A hotspot's data-transfer reward is capped at the token value
// of its DC (DC × DCPrice), so DC bought cheaply cannot drain the pool.
// Rounding dust, the capped remainder, the 6 % not scheduled and the pools of
// an epoch without units are not emitted (kept). Rewards are paid to the
// hotspot's owner at the close. The operations share goes to Operations and
// the oracles share to Oracles (default: the oracle key's address).
func (l *Ledger) buildClose(e uint64) (*ledgerpb.EpochClose, *merkle.Tree, error) {
	cfg := l.cfg
	em := cfg.TokensPerEpoch
	beaconPool, witnessPool, dataPool := share(em, cfg.BeaconBP), share(em, cfg.WitnessBP), share(em, cfg.DataBP)
	tot := l.totals[e]
	var entries []*ledgerpb.ManifestEntry
	emitted := uint64(0)
	for hs, u := range l.units[e] {
		h := l.st.hotspots[hs]
		if h == nil {
			continue
		}
		me := &ledgerpb.ManifestEntry{
			Account: h.owner.Bytes(),
			Hotspot: hs.Bytes(),
			Beacon:  mulDiv(beaconPool, u.beacon, tot.beacon),
			Witness: mulDiv(witnessPool, u.witness, tot.witness),
		}
		data := mulDiv(dataPool, u.dc, tot.dc)
		if hi, capped := bits.Mul64(u.dc, cfg.DCPrice); hi == 0 && data > capped {
			data = capped
		}
		me.DataTransfer = data
		if me.Beacon == 0 && me.Witness == 0 && me.DataTransfer == 0 {
			continue
		}
		emitted += me.Beacon + me.Witness + me.DataTransfer // each pool is at most em, so no overflow
		entries = append(entries, me)
	}
	if ops := share(em, cfg.OperationsBP); ops > 0 && l.operations != nil {
		entries = append(entries, &ledgerpb.ManifestEntry{Account: l.operations.Bytes(), Operations: ops})
		emitted += ops
	}
	if orc := share(em, cfg.OraclesBP); orc > 0 {
		entries = append(entries, &ledgerpb.ManifestEntry{Account: l.oracles.Bytes(), Oracles: orc})
		emitted += orc
	}
	sort.Slice(entries, func(i, j int) bool {
		if c := bytes.Compare(entries[i].Account, entries[j].Account); c != 0 {
			return c < 0
		}
		return bytes.Compare(entries[i].Hotspot, entries[j].Hotspot) < 0
	})
	tree, err := merkle.BuildEntries(entries)
	if err != nil {
		return nil, nil, err
	}
	root := &ledgerpb.EpochRoot{
		Epoch:     e,
		StartUnix: l.EpochStart(e).Unix(),
		EndUnix:   l.EpochStart(e + 1).Unix(),
		Root:      tree.Root(),
		Entries:   uint64(len(entries)),
		Emitted:   emitted,
	}
	if err := l.oracle.Sign(root); err != nil {
		return nil, nil, err
	}
	var usage []*ledgerpb.DCUsage
	for p, dc := range l.st.pending {
		if dc > 0 {
			usage = append(usage, &ledgerpb.DCUsage{Payer: p.Bytes(), Dc: dc})
		}
	}
	sort.Slice(usage, func(i, j int) bool { return bytes.Compare(usage[i].Payer, usage[j].Payer) < 0 })
	return &ledgerpb.EpochClose{Root: root, Entries: entries, Usage: usage, DebitSeq: l.debitNext}, tree, nil
}
