package devnet

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/ingest"
)

// Summary is what a devnet run did, read from the network side (PoC
// verdicts, router billing, ledger epochs, trust flags), never from the
// simulator's own counters. Its JSON is the --summary-json file.
type Summary struct {
	Hotspots   int             `json:"hotspots"`
	Devices    int             `json:"devices"`
	SimSeconds float64         `json:"sim_seconds"`
	Beacons    Tally           `json:"beacons"`
	Witnesses  Tally           `json:"witnesses"`
	Packets    Packets         `json:"packets"`
	DC         DCSummary       `json:"dc"`
	Epochs     []EpochSummary  `json:"epochs"`
	Groups     map[Kind]*Group `json:"groups"`
	// Members is every hotspot's line of its group: what it earned and
	// what the gaming detector thinks of it at the end.
	Members []Member `json:"members"`
}

// Member is one hotspot's earnings and trust at the end of a run.
type Member struct {
	Address  string  `json:"address"`
	Kind     Kind    `json:"kind"`
	Reward   uint64  `json:"reward"`
	DTReward uint64  `json:"dt_reward"`
	Flagged  bool    `json:"flagged"` // at any time
	Trust    float64 `json:"trust"`
	Reason   string  `json:"reason"`
	Evidence string  `json:"evidence"`
	// FirstFlag is why it was first flagged, if ever: reason: evidence.
	FirstFlag string `json:"first_flag,omitempty"`
}

// Tally counts verdicts: total, valid, and invalid by reason.
type Tally struct {
	Total   uint64            `json:"total"`
	Valid   uint64            `json:"valid"`
	Invalid map[string]uint64 `json:"invalid"`
}

// Packets are the router's and the LNS's counters.
type Packets struct {
	UplinksHeard   uint64            `json:"uplinks_heard"`
	DeliveredToLNS uint64            `json:"delivered_to_lns"`
	JoinsAccepted  uint64            `json:"joins_accepted"`
	DownlinksSent  uint64            `json:"downlinks_sent"`
	Dropped        map[string]uint64 `json:"dropped"`
}

// DCSummary is the data credits the router charged.
type DCSummary struct {
	Charged uint64 `json:"charged"`
}

// EpochSummary is one closed reward epoch.
type EpochSummary struct {
	Epoch      uint64 `json:"epoch"`
	MerkleRoot string `json:"merkle_root"`
	Entries    uint64 `json:"entries"`
	Total      uint64 `json:"total"`
}

// Group is what one kind of hotspot earned: PoC (beacon + witness) tokens,
// data-transfer tokens, and how many of its members were ever flagged.
type Group struct {
	Count    int    `json:"count"`
	Reward   uint64 `json:"reward"`
	DTReward uint64 `json:"dt_reward"`
	Flagged  int    `json:"flagged"`
}

// WriteFile writes the summary as indented JSON.
func (s *Summary) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("devnet: summary: %w", err)
	}
	return nil
}

// pocTally counts PoC verdicts as the oracle publishes them.
type pocTally struct {
	mu        sync.Mutex
	beacons   Tally
	witnesses Tally
}

func newPoCTally() *pocTally {
	return &pocTally{beacons: Tally{Invalid: map[string]uint64{}}, witnesses: Tally{Invalid: map[string]uint64{}}}
}

func (t *pocTally) add(r ingest.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !r.WitnessOnly {
		t.beacons.Total++
		if r.Reason == poc.ReasonNone {
			t.beacons.Valid++
		} else {
			t.beacons.Invalid[r.Reason.String()]++
		}
	}
	for _, w := range r.Witnesses {
		t.witnesses.Total++
		if w.Reason == poc.ReasonNone {
			t.witnesses.Valid++
		} else {
			t.witnesses.Invalid[w.Reason.String()]++
		}
	}
}

func (t *pocTally) snapshot() (Tally, Tally) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cp := func(x Tally) Tally {
		y := x
		y.Invalid = make(map[string]uint64, len(x.Invalid))
		for k, v := range x.Invalid {
			y.Invalid[k] = v
		}
		return y
	}
	return cp(t.beacons), cp(t.witnesses)
}

// summary reads the network side's state into a Summary.
func (d *Devnet) summary() *Summary {
	b, w := d.tally.snapshot()
	s := &Summary{
		Hotspots:   len(d.plans),
		Devices:    len(d.devices),
		SimSeconds: d.clk.Now().Sub(d.start).Seconds(),
		Beacons:    b,
		Witnesses:  w,
		Packets:    d.packets(),
		Groups:     map[Kind]*Group{},
	}
	s.DC.Charged = d.dcCharged()
	kindOf := map[identity.PublicKey]Kind{}
	member := map[identity.PublicKey]*Member{}
	for _, k := range Kinds {
		s.Groups[k] = &Group{}
	}
	s.Members = make([]Member, len(d.plans))
	for i, p := range d.plans {
		pk := p.key.Public()
		kindOf[pk] = p.kind
		s.Groups[p.kind].Count++
		tr := d.node.PoC().Trust().Score(pk)
		s.Members[i] = Member{Address: pk.String(), Kind: p.kind, Flagged: tr.EverFlagged, Trust: tr.Score, Reason: tr.Reason.String(),
			Evidence: strings.Join(tr.Evidence, "; ")}
		if f := tr.FirstFlag; f != nil {
			s.Members[i].FirstFlag = f.Reason.String() + ": " + strings.Join(f.Evidence, "; ")
		}
		member[pk] = &s.Members[i]
	}
	l := d.node.Ledger()
	for _, e := range l.Epochs() {
		root, entries, err := l.Manifest(e.Epoch)
		if err != nil {
			continue
		}
		es := EpochSummary{Epoch: e.Epoch, MerkleRoot: hex.EncodeToString(root.GetRoot()), Entries: root.GetEntries(), Total: root.GetEmitted()}
		s.Epochs = append(s.Epochs, es)
		for _, m := range entries {
			pk, err := identity.PublicKeyFromBytes(m.GetHotspot())
			if err != nil {
				continue
			}
			k, ok := kindOf[pk]
			if !ok {
				continue
			}
			s.Groups[k].Reward += m.GetBeacon() + m.GetWitness()
			s.Groups[k].DTReward += m.GetDataTransfer()
			member[pk].Reward += m.GetBeacon() + m.GetWitness()
			member[pk].DTReward += m.GetDataTransfer()
		}
	}
	sort.Slice(s.Epochs, func(i, j int) bool { return s.Epochs[i].Epoch < s.Epochs[j].Epoch })
	for k, n := range d.flaggedByKind() {
		s.Groups[k].Flagged = n
	}
	return s
}

// flaggedByKind counts, per kind, the hotspots the network flagged at any time.
func (d *Devnet) flaggedByKind() map[Kind]int {
	out := map[Kind]int{}
	flagged := d.node.PoC().Flagged()
	for _, p := range d.plans {
		if flagged[p.key.Public()] {
			out[p.kind]++
		}
	}
	return out
}
