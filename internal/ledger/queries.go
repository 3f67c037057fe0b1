package ledger

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
	"github.com/hexnet/hexnet/internal/wire"
)

// AccountInfo is an account's balances.
type AccountInfo struct {
	Address   identity.Address   `json:"address"`
	Tokens    uint64             `json:"tokens"`
	DC        uint64             `json:"dc"`         // available: balance minus PendingDC
	PendingDC uint64             `json:"pending_dc"` // debited by the router, not yet folded
	Nonce     uint64             `json:"nonce"`
	Hotspots  []identity.Address `json:"hotspots"`
	Maker     bool               `json:"maker"`
}

// Account returns an account; ok is false for an account the ledger has never seen.
func (l *Ledger) Account(pk identity.PublicKey) (AccountInfo, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	a := l.st.accounts[pk]
	info := AccountInfo{Address: pk.Address(), Hotspots: []identity.Address{}}
	for hs, h := range l.st.hotspots {
		if h.owner == pk {
			info.Hotspots = append(info.Hotspots, hs.Address())
		}
	}
	sort.Slice(info.Hotspots, func(i, j int) bool { return info.Hotspots[i] < info.Hotspots[j] })
	if m := l.st.makers[pk]; m != nil && !m.revoked {
		info.Maker = true
	}
	if a == nil {
		return info, len(info.Hotspots) > 0 || info.Maker
	}
	info.Tokens, info.Nonce = a.tokens, a.nonce
	info.DC = l.st.availableDC(pk)
	info.PendingDC = l.st.pending[pk]
	return info, true
}

// HotspotInfo is what the network knows of a hotspot; the PoC verifier and
// the router read it.
type HotspotInfo struct {
	Hotspot   identity.PublicKey `json:"-"`
	Address   identity.Address   `json:"address"`
	Name      string             `json:"name"`
	Owner     identity.PublicKey `json:"-"`
	OwnerAddr identity.Address   `json:"owner"`
	Maker     identity.PublicKey `json:"-"`
	MakerAddr identity.Address   `json:"maker"`
	Asserted  bool               `json:"asserted"`
	Cell      h3.Cell            `json:"-"`
	H3        string             `json:"h3,omitempty"` // hex, resolution 12
	Lat       float64            `json:"lat"`
	Lng       float64            `json:"lng"`
	Gain      int32              `json:"gain"`      // dBi x 10
	Elevation int32              `json:"elevation"` // metres
	Region    wire.Region        `json:"-"`
	RegionStr string             `json:"region"`
}

// Hotspot returns an onboarded hotspot. Lat and Lng are the centre of its cell.
func (l *Ledger) Hotspot(pk identity.PublicKey) (HotspotInfo, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	h := l.st.hotspots[pk]
	if h == nil {
		return HotspotInfo{}, false
	}
	info := HotspotInfo{
		Hotspot: pk, Address: pk.Address(), Name: pk.Name(),
		Owner: h.owner, OwnerAddr: h.owner.Address(), Maker: h.maker, MakerAddr: h.maker.Address(),
		Asserted: h.asserted, Gain: h.gain, Elevation: h.elevation, Region: h.region, RegionStr: h.region.String(),
	}
	if h.asserted {
		info.Cell = h3.Cell(h.cell)
		info.H3 = info.Cell.String()
		ll := info.Cell.LatLng()
		info.Lat, info.Lng = ll.Lat, ll.Lng
	}
	return info, true
}

// Hotspots returns every onboarded hotspot, ordered by address.
func (l *Ledger) Hotspots() []HotspotInfo {
	l.mu.RLock()
	keys := make([]identity.PublicKey, 0, len(l.st.hotspots))
	for pk := range l.st.hotspots {
		keys = append(keys, pk)
	}
	l.mu.RUnlock()
	out := make([]HotspotInfo, 0, len(keys))
	for _, pk := range keys {
		if h, ok := l.Hotspot(pk); ok {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// DevAddrRange is an inclusive range of DevAddrs.
type DevAddrRange struct {
	Start uint32 `json:"start"`
	End   uint32 `json:"end"`
}

// EUIPair is a (JoinEUI, DevEUI) pair.
type EUIPair struct {
	JoinEUI uint64 `json:"join_eui"`
	DevEUI  uint64 `json:"dev_eui"`
}

// Destination is an LNS endpoint.
type Destination struct {
	Protocol string `json:"protocol"`
	Endpoint string `json:"endpoint"`
}

// OUIInfo is an OUI's routing data, as the router needs it.
type OUIInfo struct {
	ID           uint64             `json:"id"`
	Owner        identity.PublicKey `json:"-"`
	OwnerAddr    identity.Address   `json:"owner"`
	Payer        identity.PublicKey `json:"-"`
	PayerAddr    identity.Address   `json:"payer"`
	DevAddrs     []DevAddrRange     `json:"devaddr_ranges"`
	EUIs         []EUIPair          `json:"euis"`
	MaxCopies    uint32             `json:"max_copies"`
	Destinations []Destination      `json:"destinations"`
	PayerDC      uint64             `json:"payer_dc"` // available DC of the payer
	Locked       bool               `json:"locked"`   // the payer has no DC: routes are locked
}

func (l *Ledger) ouiInfo(o *ouiRec) OUIInfo {
	info := OUIInfo{
		ID: o.id, Owner: o.owner, OwnerAddr: o.owner.Address(), Payer: o.payer, PayerAddr: o.payer.Address(),
		DevAddrs: []DevAddrRange{}, EUIs: []EUIPair{}, Destinations: []Destination{}, MaxCopies: o.maxCopies,
	}
	for _, r := range o.ranges {
		info.DevAddrs = append(info.DevAddrs, DevAddrRange{r.GetStart(), r.GetEnd()})
	}
	for k := range o.euis {
		info.EUIs = append(info.EUIs, EUIPair{k.join, k.dev})
	}
	sort.Slice(info.EUIs, func(i, j int) bool {
		if info.EUIs[i].JoinEUI != info.EUIs[j].JoinEUI {
			return info.EUIs[i].JoinEUI < info.EUIs[j].JoinEUI
		}
		return info.EUIs[i].DevEUI < info.EUIs[j].DevEUI
	})
	for _, d := range o.dests {
		info.Destinations = append(info.Destinations, Destination{d.GetProtocol(), d.GetEndpoint()})
	}
	info.PayerDC = l.st.availableDC(o.payer)
	info.Locked = info.PayerDC == 0
	return info
}

// OUI returns one OUI.
func (l *Ledger) OUI(id uint64) (OUIInfo, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	o := l.st.ouis[id]
	if o == nil {
		return OUIInfo{}, false
	}
	return l.ouiInfo(o), true
}

// OUIs returns every OUI in id order (the router's route table).
func (l *Ledger) OUIs() []OUIInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]OUIInfo, 0, len(l.st.ouis))
	for _, o := range l.st.ouis {
		out = append(out, l.ouiInfo(o))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// DCBalance returns the DC a payer can still spend.
func (l *Ledger) DCBalance(payer identity.PublicKey) uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.st.availableDC(payer)
}

// EpochInfo summarises a closed epoch.
type EpochInfo struct {
	Epoch   uint64              `json:"epoch"`
	Start   time.Time           `json:"start"`
	End     time.Time           `json:"end"`
	Root    string              `json:"root"` // 64 hex digits
	Entries uint64              `json:"entries"`
	Emitted uint64              `json:"emitted"`
	Signed  *ledgerpb.EpochRoot `json:"-"`
}

func epochInfo(r *ledgerpb.EpochRoot) EpochInfo {
	return EpochInfo{
		Epoch: r.GetEpoch(), Start: time.Unix(r.GetStartUnix(), 0).UTC(), End: time.Unix(r.GetEndUnix(), 0).UTC(),
		Root: fmt.Sprintf("%x", r.GetRoot()), Entries: r.GetEntries(), Emitted: r.GetEmitted(),
		Signed: proto.Clone(r).(*ledgerpb.EpochRoot),
	}
}

// Epochs returns the closed epochs, oldest first.
func (l *Ledger) Epochs() []EpochInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]EpochInfo, 0, len(l.st.epochs))
	for _, e := range l.st.epochs {
		out = append(out, epochInfo(e.root))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Epoch < out[j].Epoch })
	return out
}

// NextEpoch returns the epoch the ledger will close next.
func (l *Ledger) NextEpoch() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.st.nextEpoch
}

// manifestOf returns a closed epoch's manifest, from the cache or the journal.
func (l *Ledger) manifestOf(e uint64) (*manifest, error) {
	l.mu.RLock()
	m := l.trees[e]
	rec, ok := l.st.epochs[e]
	l.mu.RUnlock()
	if m != nil {
		return m, nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownEpoch, e)
	}
	b, err := l.j.get(rec.height)
	if err != nil {
		return nil, err
	}
	op := &ledgerpb.Op{}
	if err := proto.Unmarshal(b, op); err != nil || op.GetEpochClose() == nil {
		return nil, fmt.Errorf("%w: epoch %d at height %d", ErrCorruptJournal, e, rec.height)
	}
	c := op.GetEpochClose()
	tree, err := merkle.BuildEntries(c.GetEntries())
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(tree.Root(), c.GetRoot().GetRoot()) {
		return nil, fmt.Errorf("%w: epoch %d root does not match its manifest", ErrCorruptJournal, e)
	}
	m = &manifest{close: c, tree: tree}
	l.mu.Lock()
	l.cacheManifest(e, m)
	l.mu.Unlock()
	return m, nil
}

// Manifest returns a closed epoch's signed root and its sorted entries.
func (l *Ledger) Manifest(e uint64) (*ledgerpb.EpochRoot, []*ledgerpb.ManifestEntry, error) {
	m, err := l.manifestOf(e)
	if err != nil {
		return nil, nil, err
	}
	return m.close.GetRoot(), m.close.GetEntries(), nil
}

// Proofs returns a proof for every entry of epoch e whose account or hotspot is pk.
func (l *Ledger) Proofs(e uint64, pk identity.PublicKey) ([]*ledgerpb.RewardProof, error) {
	m, err := l.manifestOf(e)
	if err != nil {
		return nil, err
	}
	entries := m.close.GetEntries()
	var out []*ledgerpb.RewardProof
	// entries are sorted by account: find the account's run by binary search
	i := sort.Search(len(entries), func(i int) bool { return bytes.Compare(entries[i].GetAccount(), pk[:]) >= 0 })
	for ; i < len(entries) && bytes.Equal(entries[i].GetAccount(), pk[:]); i++ {
		p, err := l.proofAt(m, i)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		for i, en := range entries {
			if bytes.Equal(en.GetHotspot(), pk[:]) {
				p, err := l.proofAt(m, i)
				if err != nil {
					return nil, err
				}
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s in epoch %d", ErrNotInManifest, pk, e)
	}
	return out, nil
}

func (l *Ledger) proofAt(m *manifest, i int) (*ledgerpb.RewardProof, error) {
	path, err := m.tree.Path(i)
	if err != nil {
		return nil, err
	}
	return &ledgerpb.RewardProof{
		Entry: m.close.GetEntries()[i], Index: uint64(i), Count: uint64(m.tree.Len()),
		Siblings: path, Root: m.close.GetRoot(),
	}, nil
}
