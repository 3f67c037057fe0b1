package ingest

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/verify"
)

// maxGroupWitnesses bounds the witnesses held for one beacon (the result
// record counts them in 16 bits); more are dropped (group_full).
const maxGroupWitnesses = 65535

// group is a beacon and its witnesses, joined by beacon data.
type group struct {
	key    string
	beacon *item
	ws     []*item
	gen    uint64
}

// closedInfo remembers a judged beacon for BeaconWait, so that a later
// witness is too_late and a later copy of the beacon a duplicate.
type closedInfo struct {
	beaconer identity.PublicKey
	until    time.Time
}

type closedEntry struct {
	key   string
	until time.Time
}

// verdict is a result with the pending reports it settles.
type verdict struct {
	r       Result
	members []*item
}

func (p *Pipeline) schedule(g *group, at time.Time) {
	p.gen++
	g.gen = p.gen
	heap.Push(&p.due, dueEntry{at: at, key: g.key, gen: g.gen})
}

// joinLocked puts an accepted report into its group.
func (p *Pipeline) joinLocked(it *item, now time.Time, out *[]verdict) {
	if _, ok := p.held[it.hash]; ok {
		return
	}
	key := string(it.rep.Data())
	isBeacon := it.rep.Beacon != nil
	if ci, ok := p.closedG[key]; ok && now.Before(ci.until) {
		reason := poc.ReasonTooLate
		if isBeacon {
			reason = poc.ReasonDuplicate
		}
		*out = append(*out, p.lone(it, ci.beaconer, reason))
		return
	}
	g := p.groups[key]
	if isBeacon {
		switch {
		case g != nil && g.beacon != nil:
			*out = append(*out, p.lone(it, g.beacon.rep.Signer, poc.ReasonDuplicate))
			return
		case g == nil:
			g = &group{key: key}
			p.groups[key] = g
		default:
			p.waiting -= len(g.ws)
		}
		g.beacon = it
		p.schedule(g, it.at.Add(p.vcfg.WitnessLag+p.cfg.WindowMargin))
	} else {
		if g == nil {
			if p.waiting >= p.cfg.MaxWaiting {
				*out = append(*out, p.lone(it, identity.PublicKey{}, poc.ReasonBeaconNotFound))
				return
			}
			g = &group{key: key}
			p.groups[key] = g
			p.schedule(g, it.at.Add(p.cfg.BeaconWait))
		}
		if len(g.ws) >= maxGroupWitnesses {
			p.m.dropped.WithLabelValues(DropGroupFull).Inc()
			*out = append(*out, verdict{members: []*item{it}}) // settle without a result
			return
		}
		g.ws = append(g.ws, it)
		if g.beacon == nil {
			p.waiting++
		}
	}
	p.held[it.hash] = struct{}{}
	p.m.waiting.Set(float64(p.waiting))
	p.m.groups.Set(float64(len(p.groups)))
}

// lone is the result of a report judged without a group: a witness whose
// beacon was already judged (too_late) or never came (beacon_not_found), or
// a second copy of a beacon (duplicate).
func (p *Pipeline) lone(it *item, beaconer identity.PublicKey, reason poc.Reason) verdict {
	r := Result{ID: it.hash, Epoch: p.epoch(it.at)}
	r.Data = append([]byte(nil), it.rep.Data()...)
	r.ReceivedAt = it.at
	r.Reason = reason
	if it.rep.Beacon != nil {
		r.Beaconer = it.rep.Signer
	} else {
		r.WitnessOnly = true
		r.Beaconer = beaconer
		side := verify.SideWitness
		if reason == poc.ReasonBeaconNotFound {
			side = verify.SideBeaconer
		}
		r.Witnesses = []verify.WitnessVerdict{witnessVerdict(it, reason, side)}
	}
	return verdict{r: r, members: []*item{it}}
}

func witnessVerdict(it *item, reason poc.Reason, side verify.Side) verify.WitnessVerdict {
	w := it.rep.Witness
	return verify.WitnessVerdict{
		Witness: it.rep.Signer, ReceivedAt: it.at, Reason: reason, Side: side,
		RSSI: w.GetRssi(), SNR: w.GetSnr(), Frequency: w.GetFrequency(),
	}
}

// closeDueLocked judges every group whose deadline has passed, in deadline
// order, and forgets judged beacons older than BeaconWait.
func (p *Pipeline) closeDueLocked(now time.Time, out *[]verdict) {
	for len(p.due) > 0 && !p.due[0].at.After(now) {
		e := heap.Pop(&p.due).(dueEntry)
		g := p.groups[e.key]
		if g == nil || g.gen != e.gen {
			continue
		}
		delete(p.groups, e.key)
		members := make([]*item, 0, len(g.ws)+1)
		for _, w := range g.ws {
			delete(p.held, w.hash)
			members = append(members, w)
		}
		if g.beacon == nil {
			p.waiting -= len(g.ws)
			r := Result{ID: g.ws[0].hash, Epoch: p.epoch(g.ws[0].at), WitnessOnly: true}
			r.Data = []byte(g.key)
			r.ReceivedAt = g.ws[0].at
			r.Reason = poc.ReasonBeaconNotFound
			for _, w := range g.ws {
				r.Witnesses = append(r.Witnesses, witnessVerdict(w, poc.ReasonBeaconNotFound, verify.SideBeaconer))
			}
			*out = append(*out, verdict{r: r, members: members})
			continue
		}
		delete(p.held, g.beacon.hash)
		members = append(members, g.beacon)
		*out = append(*out, verdict{r: p.judge(g), members: members})
		until := now.Add(p.cfg.BeaconWait)
		p.closedG[g.key] = closedInfo{beaconer: g.beacon.rep.Signer, until: until}
		p.closedQ = append(p.closedQ, closedEntry{key: g.key, until: until})
	}
	i := 0
	for ; i < len(p.closedQ) && !p.closedQ[i].until.After(now); i++ {
		if ci, ok := p.closedG[p.closedQ[i].key]; ok && !ci.until.After(now) {
			delete(p.closedG, p.closedQ[i].key)
		}
	}
	if i > 0 {
		n := copy(p.closedQ, p.closedQ[i:])
		clear(p.closedQ[n:])
		p.closedQ = p.closedQ[:n]
	}
	p.m.waiting.Set(float64(p.waiting))
	p.m.groups.Set(float64(len(p.groups)))
}

// judge verifies a group, records it into the history, applies the gaming
// detector's verdicts (after the baseline rules, so a baseline reason
// wins), counts an interactive beaconer in the density map and computes the
// units with its scale (trust scales them at the epoch's close).
func (p *Pipeline) judge(g *group) Result {
	ws := make([]verify.WitnessIn, len(g.ws))
	for i, w := range g.ws {
		ws[i] = verify.WitnessIn{Report: w.rep.Witness, ReceivedAt: w.at, SignatureValid: true}
	}
	res := p.deps.Verifier.Verify(verify.BeaconIn{Report: g.beacon.rep.Beacon, ReceivedAt: g.beacon.at, SignatureValid: true}, ws)
	r := Result{Result: res, ID: g.beacon.hash, Epoch: p.epoch(res.ReceivedAt)}
	p.deps.History.Record(res)
	p.applyTrust(&r)
	p.touch(&r)
	rescore := p.deps.Trust != nil
	if r.Reason == poc.ReasonNone && p.deps.Density != nil {
		r.Scale, _ = p.deps.Density.Scale(r.Beaconer)
		rescore = true
	}
	if rescore {
		p.units(&r)
	}
	return r
}

// applyTrust is the gaming step, separate from and after the baseline
// rules: a flagged beaconer's valid beacon takes its reason (and so do its
// valid witnesses, side beaconer); a flagged witness's valid verdict takes
// its own reason.
func (p *Pipeline) applyTrust(r *Result) {
	if p.deps.Trust == nil {
		return
	}
	if reason := p.deps.Trust.Suspect(r.Beaconer); reason != poc.ReasonNone && r.Reason == poc.ReasonNone {
		r.Reason = reason
		for i := range r.Witnesses {
			if w := &r.Witnesses[i]; w.Reason == poc.ReasonNone {
				w.Reason, w.Side = reason, verify.SideBeaconer
			}
		}
	}
	for i := range r.Witnesses {
		w := &r.Witnesses[i]
		if w.Reason != poc.ReasonNone {
			continue
		}
		if wr := p.deps.Trust.Suspect(w.Witness); wr != poc.ReasonNone {
			w.Reason, w.Side = wr, verify.SideWitness
		}
	}
}

// units picks the rewarded witnesses (the first MaxRewardedWitnesses valid,
// in arrival order) and sets HIP-15 units times r.Scale. Trust multipliers
// apply to the epoch's totals at its close.
func (p *Pipeline) units(r *Result) {
	n := 0
	for i := range r.Witnesses {
		w := &r.Witnesses[i]
		w.Rewarded, w.Units = false, 0
		if w.Reason == poc.ReasonNone {
			n++
			w.Rewarded = n <= p.vcfg.MaxRewardedWitnesses
		}
	}
	r.Units = 0
	if r.Reason != poc.ReasonNone {
		return
	}
	bu, wu := p.vcfg.Rewards.ScaledUnits(r.Rewarded(), r.Scale)
	r.Units = bu
	for i := range r.Witnesses {
		if r.Witnesses[i].Rewarded {
			r.Witnesses[i].Units = wu
		}
	}
}

// Result keys: a result is stored under its receive time, so that the
// replay at start reads them in one sequential pass.
func timeKey(at time.Time, id [32]byte) []byte {
	k := make([]byte, 0, 2+8+32)
	k = append(k, "t/"...)
	k = binary.BigEndian.AppendUint64(k, uint64(max(at.UnixNano(), 0)))
	return append(k, id[:]...)
}

// Roles in the per-hotspot index.
const (
	roleBeacon  = 'b'
	roleWitness = 'w'
)

func hotspotKey(pk identity.PublicKey, at time.Time, id [32]byte, role byte) []byte {
	k := make([]byte, 0, 2+32+8+32+1)
	k = append(k, "h/"...)
	k = append(k, pk[:]...)
	k = binary.BigEndian.AppendUint64(k, ^uint64(max(at.UnixNano(), 0)))
	k = append(k, id[:]...)
	return append(k, role)
}

// commitLocked stores the verdicts and, in the same synced batch, shrinks
// the entries of the reports they settle to their dedup expiry; then it
// credits units and publishes.
func (p *Pipeline) commitLocked(out []verdict) error {
	if len(out) == 0 {
		return nil
	}
	b, err := p.deps.Store.NewBatch()
	if err != nil {
		return fmt.Errorf("ingest: results: %w", err)
	}
	defer b.Close()
	dk := make([]byte, 0, seenKeyLen)
	var exp [8]byte
	for i := range out {
		v := &out[i]
		for _, it := range v.members {
			binary.BigEndian.PutUint64(exp[:], uint64(p.dedupExpiry(it.at)))
			_ = b.Set(seenKey(dk[:0], it.at, &it.hash), exp[:])
		}
		if v.r.Data == nil { // settled without a result (group_full)
			continue
		}
		r := &v.r
		p.recBuf = appendRecord(p.recBuf[:0], r)
		_ = b.Set(timeKey(r.ReceivedAt, r.ID), p.recBuf)
		if !r.WitnessOnly {
			_ = b.Set(hotspotKey(r.Beaconer, r.ReceivedAt, r.ID, roleBeacon), nil)
		}
		for j := range r.Witnesses {
			_ = b.Set(hotspotKey(r.Witnesses[j].Witness, r.ReceivedAt, r.ID, roleWitness), nil)
		}
	}
	if err := b.CommitSync(); err != nil {
		// The reports stay persisted and are judged again after a restart.
		return fmt.Errorf("ingest: results: %w", err)
	}
	for i := range out {
		r := &out[i].r
		if r.Data == nil {
			continue
		}
		p.credit(r)
		if p.deps.Trust != nil {
			p.deps.Trust.Observe(*r)
		}
		if !r.WitnessOnly {
			p.m.verdict[0][r.Reason].Inc()
		}
		for j := range r.Witnesses {
			p.m.verdict[1][r.Witnesses[j].Reason].Inc()
		}
		for _, fn := range p.subs {
			fn(*r)
		}
	}
	return nil
}
