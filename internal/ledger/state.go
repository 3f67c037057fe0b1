package ledger

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/url"
	"sort"
	"strconv"

	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/wire"
)

// LocationResolution is the H3 resolution of asserted locations.
const LocationResolution = 12

// Limits on the content of one operation.
const (
	maxNameLen        = 64
	maxDestinations   = 8
	maxEndpointLen    = 256
	maxRangesPerOUI   = 64
	maxEUIsPerOp      = 1000
	maxSubmittedBytes = 64 << 10
)

type account struct {
	tokens, dc, nonce uint64
}

type hotspotRec struct {
	owner, maker    identity.PublicKey
	asserted        bool
	cell            uint64
	gain, elevation int32
	region          wire.Region
	onboardedAt     uint64
}

type makerRec struct {
	name    string
	revoked bool
}

type euiKey struct{ join, dev uint64 }

type ouiRec struct {
	id           uint64
	owner, payer identity.PublicKey
	ranges       []*ledgerpb.DevAddrRange
	euis         map[euiKey]struct{}
	maxCopies    uint32
	dests        []*ledgerpb.Destination
}

type epochRec struct {
	root   *ledgerpb.EpochRoot
	height uint64 // journal height of the EpochClose
}

// params are the parts of Config the state machine needs.
type params struct {
	onboardFee, locationFee, ouiFee uint64
	dcPrice                         uint64
	minGain, maxGain                int32
	minElev, maxElev                int32
	pool                            devAddrPool
	maxCopies                       uint32
	maxEUIs                         int
}

// state is the ledger's derived state: a pure function of the journal (plus
// pending, the DC debited by the router and not yet folded into the journal,
// which is a function of the debit log).
type state struct {
	p          params
	genesis    bool
	network    string
	admin      identity.PublicKey
	firstEpoch uint64
	nextEpoch  uint64 // the next epoch to close
	debitSeq   uint64 // debits with seq <= debitSeq are folded into the journal
	accounts   map[identity.PublicKey]*account
	hotspots   map[identity.PublicKey]*hotspotRec
	makers     map[identity.PublicKey]*makerRec
	ouis       map[uint64]*ouiRec
	nextOUI    uint64
	epochs     map[uint64]epochRec
	pending    map[identity.PublicKey]uint64
}

func newState(p params) *state {
	return &state{
		p:        p,
		accounts: map[identity.PublicKey]*account{},
		hotspots: map[identity.PublicKey]*hotspotRec{},
		makers:   map[identity.PublicKey]*makerRec{},
		ouis:     map[uint64]*ouiRec{},
		nextOUI:  1,
		epochs:   map[uint64]epochRec{},
		pending:  map[identity.PublicKey]uint64{},
	}
}

func (s *state) acct(pk identity.PublicKey) *account {
	a := s.accounts[pk]
	if a == nil {
		a = &account{}
		s.accounts[pk] = a
	}
	return a
}

// availableDC is the DC of pk minus the router's unfolded debits.
func (s *state) availableDC(pk identity.PublicKey) uint64 {
	a := s.accounts[pk]
	if a == nil {
		return 0
	}
	p := s.pending[pk]
	if p >= a.dc {
		return 0
	}
	return a.dc - p
}

func (s *state) checkNonce(pk identity.PublicKey, n uint64) error {
	last := uint64(0)
	if a := s.accounts[pk]; a != nil {
		last = a.nonce
	}
	if n <= last {
		return fmt.Errorf("%w: nonce %d, last %d for %s", ErrNonce, n, last, pk)
	}
	return nil
}

func add(a, b uint64) (uint64, error) {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return 0, ErrOverflow
	}
	return s, nil
}

func mul(a, b uint64) (uint64, error) {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return 0, ErrOverflow
	}
	return lo, nil
}

// key parses a public key field that names an actor to be registered or paid.
func key(field string, b []byte) (identity.PublicKey, error) {
	pk, err := identity.PublicKeyFromBytes(b)
	if err != nil {
		return pk, fmt.Errorf("%w: %s: %w", ErrMalformed, field, err)
	}
	if err := pk.Check(); err != nil {
		return pk, fmt.Errorf("%w: %s: %w", ErrMalformed, field, err)
	}
	return pk, nil
}

// verified checks a single-signer operation and returns its signer.
func verified(m identity.Signed, verify bool) (identity.PublicKey, error) {
	pk, err := identity.PublicKeyFromBytes(m.GetSigner())
	if err != nil {
		return pk, fmt.Errorf("%w: signer: %w", ErrMalformed, err)
	}
	if !verify {
		return pk, nil
	}
	if err := identity.Verify(m, pk); err != nil {
		return pk, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return pk, nil
}

// OnboardSigningBytes returns what the owner and the maker sign: the
// deterministic encoding of op with both signature fields empty.
func OnboardSigningBytes(op *ledgerpb.OnboardHotspot) ([]byte, error) {
	c := proto.Clone(op).(*ledgerpb.OnboardHotspot)
	c.OwnerSignature, c.MakerSignature = nil, nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// apply checks op against the state and returns the mutation that applies
// it. Nothing is changed before the returned function is called, so a
// refused operation leaves no trace. verify=false skips signature checks
// (journal replay: the hash chain already vouches for the entries).
func (s *state) apply(op *ledgerpb.Op, height uint64, verify bool) (func(), error) {
	if op == nil || op.GetBody() == nil {
		return nil, fmt.Errorf("%w: empty operation", ErrMalformed)
	}
	if !s.genesis && op.GetGenesis() == nil {
		return nil, fmt.Errorf("%w: no genesis yet", ErrMalformed)
	}
	switch b := op.GetBody().(type) {
	case *ledgerpb.Op_Genesis:
		return s.genesisOp(b.Genesis, height)
	case *ledgerpb.Op_RegisterMaker:
		return s.registerMaker(b.RegisterMaker, verify)
	case *ledgerpb.Op_RevokeMaker:
		return s.revokeMaker(b.RevokeMaker, verify)
	case *ledgerpb.Op_OnboardHotspot:
		return s.onboard(b.OnboardHotspot, height, verify)
	case *ledgerpb.Op_AssertLocation:
		return s.assertLocation(b.AssertLocation, verify)
	case *ledgerpb.Op_TransferHotspot:
		return s.transferHotspot(b.TransferHotspot, verify)
	case *ledgerpb.Op_TransferTokens:
		return s.transferTokens(b.TransferTokens, verify)
	case *ledgerpb.Op_BurnForDc:
		return s.burn(b.BurnForDc, verify)
	case *ledgerpb.Op_DelegateDc:
		return s.delegate(b.DelegateDc, verify)
	case *ledgerpb.Op_CreateOui:
		return s.createOUI(b.CreateOui, verify)
	case *ledgerpb.Op_UpdateOui:
		return s.updateOUI(b.UpdateOui, verify)
	case *ledgerpb.Op_EpochClose:
		return s.epochClose(b.EpochClose, height)
	}
	return nil, fmt.Errorf("%w: unknown operation", ErrMalformed)
}

func (s *state) genesisOp(g *ledgerpb.Genesis, height uint64) (func(), error) {
	if s.genesis || height != 0 {
		return nil, fmt.Errorf("%w: genesis only at height 0", ErrMalformed)
	}
	admin, err := key("admin", g.GetAdmin())
	if err != nil {
		return nil, err
	}
	totals := map[identity.PublicKey]account{}
	for _, a := range g.GetAllocations() {
		pk, err := identity.PublicKeyFromBytes(a.GetAccount())
		if err != nil {
			return nil, fmt.Errorf("%w: allocation: %w", ErrMalformed, err)
		}
		t := totals[pk]
		if t.tokens, err = add(t.tokens, a.GetTokens()); err != nil {
			return nil, err
		}
		if t.dc, err = add(t.dc, a.GetDc()); err != nil {
			return nil, err
		}
		totals[pk] = t
	}
	return func() {
		s.genesis = true
		s.network = g.GetNetwork()
		s.admin = admin
		s.firstEpoch, s.nextEpoch = g.GetFirstEpoch(), g.GetFirstEpoch()
		for pk, t := range totals {
			a := s.acct(pk)
			a.tokens, a.dc = t.tokens, t.dc
		}
	}, nil
}

func (s *state) registerMaker(op *ledgerpb.RegisterMaker, verify bool) (func(), error) {
	signer, err := verified(op, verify)
	if err != nil {
		return nil, err
	}
	if signer != s.admin {
		return nil, fmt.Errorf("%w: %s is not the admin", ErrWrongSigner, signer)
	}
	if err := s.checkNonce(signer, op.GetNonce()); err != nil {
		return nil, err
	}
	mk, err := key("maker", op.GetMaker())
	if err != nil {
		return nil, err
	}
	if len(op.GetName()) > maxNameLen {
		return nil, fmt.Errorf("%w: maker name longer than %d", ErrMalformed, maxNameLen)
	}
	if m := s.makers[mk]; m != nil && !m.revoked {
		return nil, fmt.Errorf("%w: %s", ErrMakerExists, mk)
	}
	return func() {
		s.acct(signer).nonce = op.GetNonce()
		s.makers[mk] = &makerRec{name: op.GetName()}
	}, nil
}

func (s *state) revokeMaker(op *ledgerpb.RevokeMaker, verify bool) (func(), error) {
	signer, err := verified(op, verify)
	if err != nil {
		return nil, err
	}
	if signer != s.admin {
		return nil, fmt.Errorf("%w: %s is not the admin", ErrWrongSigner, signer)
	}
	if err := s.checkNonce(signer, op.GetNonce()); err != nil {
		return nil, err
	}
	mk, err := identity.PublicKeyFromBytes(op.GetMaker())
	if err != nil {
		return nil, fmt.Errorf("%w: maker: %w", ErrMalformed, err)
	}
	m := s.makers[mk]
	if m == nil || m.revoked {
		return nil, fmt.Errorf("%w: %s", ErrUnknownMaker, mk)
	}
	return func() {
		s.acct(signer).nonce = op.GetNonce()
		m.revoked = true
	}, nil
}

func (s *state) onboard(op *ledgerpb.OnboardHotspot, height uint64, verify bool) (func(), error) {
	hs, err := key("hotspot", op.GetHotspot())
	if err != nil {
		return nil, err
	}
	owner, err := key("owner", op.GetOwner())
	if err != nil {
		return nil, err
	}
	mk, err := identity.PublicKeyFromBytes(op.GetMaker())
	if err != nil {
		return nil, fmt.Errorf("%w: maker: %w", ErrMalformed, err)
	}
	if verify {
		b, err := OnboardSigningBytes(op)
		if err != nil {
			return nil, err
		}
		if !owner.Verify(b, op.GetOwnerSignature()) {
			return nil, fmt.Errorf("%w: owner signature", ErrBadSignature)
		}
		if !mk.Verify(b, op.GetMakerSignature()) {
			return nil, fmt.Errorf("%w: maker signature", ErrBadSignature)
		}
	}
	if m := s.makers[mk]; m == nil || m.revoked {
		return nil, fmt.Errorf("%w: %s", ErrUnknownMaker, mk)
	}
	if s.hotspots[hs] != nil {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyOnboarded, hs)
	}
	if err := s.checkNonce(mk, op.GetNonce()); err != nil {
		return nil, err
	}
	if avail := s.availableDC(mk); avail < s.p.onboardFee {
		return nil, fmt.Errorf("%w: maker has %d DC, onboarding costs %d", ErrInsufficientFunds, avail, s.p.onboardFee)
	}
	return func() {
		m := s.acct(mk)
		m.nonce = op.GetNonce()
		m.dc -= s.p.onboardFee
		s.hotspots[hs] = &hotspotRec{owner: owner, maker: mk, onboardedAt: height}
	}, nil
}

// validCell checks an asserted H3 cell and returns its centre.
func validCell(c uint64) (h3.LatLng, error) {
	cell := h3.Cell(c)
	if c == 0 || !cell.IsValid() {
		return h3.LatLng{}, fmt.Errorf("%w: %x is not an H3 cell", ErrInvalidCell, c)
	}
	if r := cell.Resolution(); r != LocationResolution {
		return h3.LatLng{}, fmt.Errorf("%w: resolution %d, want %d", ErrInvalidCell, r, LocationResolution)
	}
	return cell.LatLng(), nil
}

func (s *state) assertLocation(op *ledgerpb.AssertLocation, verify bool) (func(), error) {
	signer, err := verified(op, verify)
	if err != nil {
		return nil, err
	}
	hpk, err := identity.PublicKeyFromBytes(op.GetHotspot())
	if err != nil {
		return nil, fmt.Errorf("%w: hotspot: %w", ErrMalformed, err)
	}
	h := s.hotspots[hpk]
	if h == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownHotspot, hpk)
	}
	if signer != h.owner {
		return nil, fmt.Errorf("%w: %s does not own %s", ErrWrongSigner, signer, hpk)
	}
	if err := s.checkNonce(signer, op.GetNonce()); err != nil {
		return nil, err
	}
	ll, err := validCell(op.GetH3())
	if err != nil {
		return nil, err
	}
	if g := op.GetGain(); g < s.p.minGain || g > s.p.maxGain {
		return nil, fmt.Errorf("%w: %d not in [%d, %d] dBi x 10", ErrGainOutOfBounds, g, s.p.minGain, s.p.maxGain)
	}
	if e := op.GetElevation(); e < s.p.minElev || e > s.p.maxElev {
		return nil, fmt.Errorf("%w: %d not in [%d, %d] m", ErrElevationOutOfBounds, e, s.p.minElev, s.p.maxElev)
	}
	fee := uint64(0)
	if !h.asserted || h.cell != op.GetH3() {
		fee = s.p.locationFee
	}
	if avail := s.availableDC(signer); avail < fee {
		return nil, fmt.Errorf("%w: owner has %d DC, the location fee is %d", ErrInsufficientFunds, avail, fee)
	}
	region := RegionOf(ll.Lat, ll.Lng)
	return func() {
		a := s.acct(signer)
		a.nonce = op.GetNonce()
		a.dc -= fee
		h.asserted, h.cell, h.gain, h.elevation, h.region = true, op.GetH3(), op.GetGain(), op.GetElevation(), region
	}, nil
}

func (s *state) transferHotspot(op *ledgerpb.TransferHotspot, verify bool) (func(), error) {
	signer, err := verified(op, verify)
	if err != nil {
		return nil, err
	}
	hpk, err := identity.PublicKeyFromBytes(op.GetHotspot())
	if err != nil {
		return nil, fmt.Errorf("%w: hotspot: %w", ErrMalformed, err)
	}
	h := s.hotspots[hpk]
	if h == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownHotspot, hpk)
	}
	if signer != h.owner {
		return nil, fmt.Errorf("%w: %s does not own %s", ErrWrongSigner, signer, hpk)
	}
	if err := s.checkNonce(signer, op.GetNonce()); err != nil {
		return nil, err
	}
	to, err := key("new_owner", op.GetNewOwner())
	if err != nil {
		return nil, err
	}
	if to == signer {
		return nil, fmt.Errorf("%w: new owner is the owner", ErrMalformed)
	}
	return func() {
		s.acct(signer).nonce = op.GetNonce()
		h.owner = to
	}, nil
}

// funded returns the signer's account or ErrUnknownAccount, after the signature and nonce checks.
func (s *state) funded(m identity.Signed, nonce uint64, verify bool) (identity.PublicKey, *account, error) {
	signer, err := verified(m, verify)
	if err != nil {
		return signer, nil, err
	}
	a := s.accounts[signer]
	if a == nil {
		return signer, nil, fmt.Errorf("%w: %s", ErrUnknownAccount, signer)
	}
	if err := s.checkNonce(signer, nonce); err != nil {
		return signer, nil, err
	}
	return signer, a, nil
}

func (s *state) transferTokens(op *ledgerpb.TransferTokens, verify bool) (func(), error) {
	signer, from, err := s.funded(op, op.GetNonce(), verify)
	if err != nil {
		return nil, err
	}
	if op.GetAmount() == 0 {
		return nil, fmt.Errorf("%w: zero transfer", ErrBadAmount)
	}
	to, err := key("to", op.GetTo())
	if err != nil {
		return nil, err
	}
	if to == signer {
		return nil, fmt.Errorf("%w: transfer to self", ErrMalformed)
	}
	if from.tokens < op.GetAmount() {
		return nil, fmt.Errorf("%w: %d tokens, transfer of %d", ErrInsufficientFunds, from.tokens, op.GetAmount())
	}
	var toTokens uint64
	if a := s.accounts[to]; a != nil {
		toTokens = a.tokens
	}
	if _, err := add(toTokens, op.GetAmount()); err != nil {
		return nil, fmt.Errorf("%w: recipient balance", err)
	}
	return func() {
		from.nonce = op.GetNonce()
		from.tokens -= op.GetAmount()
		s.acct(to).tokens += op.GetAmount()
	}, nil
}

func (s *state) burn(op *ledgerpb.BurnForDC, verify bool) (func(), error) {
	_, a, err := s.funded(op, op.GetNonce(), verify)
	if err != nil {
		return nil, err
	}
	if op.GetDc() == 0 {
		return nil, fmt.Errorf("%w: zero DC", ErrBadAmount)
	}
	cost, err := mul(op.GetDc(), s.p.dcPrice)
	if err != nil {
		return nil, fmt.Errorf("%w: cost of %d DC", err, op.GetDc())
	}
	if a.tokens < cost {
		return nil, fmt.Errorf("%w: %d tokens, %d DC cost %d", ErrInsufficientFunds, a.tokens, op.GetDc(), cost)
	}
	if _, err := add(a.dc, op.GetDc()); err != nil {
		return nil, fmt.Errorf("%w: DC balance", err)
	}
	return func() {
		a.nonce = op.GetNonce()
		a.tokens -= cost
		a.dc += op.GetDc()
	}, nil
}

func (s *state) delegate(op *ledgerpb.DelegateDC, verify bool) (func(), error) {
	signer, a, err := s.funded(op, op.GetNonce(), verify)
	if err != nil {
		return nil, err
	}
	if op.GetDc() == 0 {
		return nil, fmt.Errorf("%w: zero DC", ErrBadAmount)
	}
	o := s.ouis[op.GetOui()]
	if o == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOUI, op.GetOui())
	}
	if avail := s.availableDC(signer); avail < op.GetDc() {
		return nil, fmt.Errorf("%w: %d DC available, delegation of %d", ErrInsufficientFunds, avail, op.GetDc())
	}
	if o.payer != signer {
		var payerDC uint64
		if p := s.accounts[o.payer]; p != nil {
			payerDC = p.dc
		}
		if _, err := add(payerDC, op.GetDc()); err != nil {
			return nil, fmt.Errorf("%w: payer DC balance", err)
		}
	}
	return func() {
		a.nonce = op.GetNonce()
		if o.payer != signer {
			a.dc -= op.GetDc()
			s.acct(o.payer).dc += op.GetDc()
		}
	}, nil
}

// Destination protocols, named as the router names them.
const (
	ProtocolGWMP           = "gwmp"            // Semtech UDP; endpoint host:port
	ProtocolChirpStackMQTT = "chirpstack_mqtt" // endpoint an MQTT broker URL (tcp://host:1883)
	ProtocolHTTPRoaming    = "http_roaming"    // LoRaWAN Backend Interfaces; endpoint an http(s) URL
)

func (s *state) checkDestinations(ds []*ledgerpb.Destination) error {
	if len(ds) > maxDestinations {
		return fmt.Errorf("%w: %d destinations, at most %d", ErrBadDestination, len(ds), maxDestinations)
	}
	for _, d := range ds {
		ep := d.GetEndpoint()
		if n := len(ep); n == 0 || n > maxEndpointLen {
			return fmt.Errorf("%w: endpoint of %d characters", ErrBadDestination, n)
		}
		switch d.GetProtocol() {
		case ProtocolGWMP:
			host, port, err := net.SplitHostPort(ep)
			p, perr := strconv.Atoi(port)
			if err != nil || host == "" || perr != nil || p <= 0 || p > 65535 {
				return fmt.Errorf("%w: gwmp endpoint %q is not host:port", ErrBadDestination, ep)
			}
		case ProtocolChirpStackMQTT, ProtocolHTTPRoaming:
			u, err := url.Parse(ep)
			if err != nil || u.Host == "" || u.Scheme == "" {
				return fmt.Errorf("%w: %s endpoint %q is not a URL", ErrBadDestination, d.GetProtocol(), ep)
			}
			if d.GetProtocol() == ProtocolHTTPRoaming && u.Scheme != "http" && u.Scheme != "https" {
				return fmt.Errorf("%w: roaming URL scheme %q", ErrBadDestination, u.Scheme)
			}
		default:
			return fmt.Errorf("%w: protocol %q (want %s, %s or %s)", ErrBadDestination, d.GetProtocol(),
				ProtocolGWMP, ProtocolChirpStackMQTT, ProtocolHTTPRoaming)
		}
	}
	return nil
}

func (s *state) checkMaxCopies(n uint32) error {
	if n == 0 || n > s.p.maxCopies {
		return fmt.Errorf("%w: %d not in [1, %d]", ErrBadMaxCopies, n, s.p.maxCopies)
	}
	return nil
}

// usedRanges returns every DevAddr range held by OUIs other than except.
func (s *state) usedRanges(except uint64) []*ledgerpb.DevAddrRange {
	var out []*ledgerpb.DevAddrRange
	for id, o := range s.ouis {
		if id != except {
			out = append(out, o.ranges...)
		}
	}
	return out
}

func (s *state) createOUI(op *ledgerpb.CreateOUI, verify bool) (func(), error) {
	signer, a, err := s.funded(op, op.GetNonce(), verify)
	if err != nil {
		return nil, err
	}
	payer := signer
	if len(op.GetPayer()) > 0 {
		if payer, err = key("payer", op.GetPayer()); err != nil {
			return nil, err
		}
	}
	mc := op.GetMaxCopies()
	if mc == 0 {
		mc = 1
	}
	if err := s.checkMaxCopies(mc); err != nil {
		return nil, err
	}
	if err := s.checkDestinations(op.GetDestinations()); err != nil {
		return nil, err
	}
	if avail := s.availableDC(signer); avail < s.p.ouiFee {
		return nil, fmt.Errorf("%w: %d DC available, the OUI fee is %d", ErrInsufficientFunds, avail, s.p.ouiFee)
	}
	block, err := s.p.pool.allocate(s.usedRanges(0))
	if err != nil {
		return nil, err
	}
	return func() {
		a.nonce = op.GetNonce()
		a.dc -= s.p.ouiFee
		id := s.nextOUI
		s.nextOUI++
		s.ouis[id] = &ouiRec{
			id: id, owner: signer, payer: payer, ranges: []*ledgerpb.DevAddrRange{block},
			euis: map[euiKey]struct{}{}, maxCopies: mc, dests: cloneDests(op.GetDestinations()),
		}
	}, nil
}

func cloneDests(ds []*ledgerpb.Destination) []*ledgerpb.Destination {
	out := make([]*ledgerpb.Destination, len(ds))
	for i, d := range ds {
		out[i] = &ledgerpb.Destination{Protocol: d.GetProtocol(), Endpoint: d.GetEndpoint()}
	}
	return out
}

func (s *state) updateOUI(op *ledgerpb.UpdateOUI, verify bool) (func(), error) {
	signer, err := verified(op, verify)
	if err != nil {
		return nil, err
	}
	o := s.ouis[op.GetOui()]
	if o == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOUI, op.GetOui())
	}
	if signer != o.owner {
		return nil, fmt.Errorf("%w: %s does not own OUI %d", ErrWrongSigner, signer, o.id)
	}
	if err := s.checkNonce(signer, op.GetNonce()); err != nil {
		return nil, err
	}
	var change func()
	switch c := op.GetChange().(type) {
	case *ledgerpb.UpdateOUI_DevaddrRanges:
		rs := c.DevaddrRanges.GetRanges()
		if len(rs) == 0 || len(rs) > maxRangesPerOUI {
			return nil, fmt.Errorf("%w: %d ranges, want 1..%d", ErrMalformed, len(rs), maxRangesPerOUI)
		}
		others := s.usedRanges(o.id)
		kept := make([]*ledgerpb.DevAddrRange, 0, len(rs))
		for i, r := range rs {
			if !s.p.pool.contains(r) {
				return nil, fmt.Errorf("%w: %08x-%08x not in %08x-%08x", ErrRangeOutsidePool, r.GetStart(), r.GetEnd(), s.p.pool.min, s.p.pool.max)
			}
			for _, q := range rs[:i] {
				if overlaps(r, q) {
					return nil, fmt.Errorf("%w: %08x-%08x overlaps %08x-%08x of the same OUI", ErrRangeOverlap, r.GetStart(), r.GetEnd(), q.GetStart(), q.GetEnd())
				}
			}
			for _, q := range others {
				if overlaps(r, q) {
					return nil, fmt.Errorf("%w: %08x-%08x overlaps %08x-%08x of another OUI", ErrRangeOverlap, r.GetStart(), r.GetEnd(), q.GetStart(), q.GetEnd())
				}
			}
			kept = append(kept, &ledgerpb.DevAddrRange{Start: r.GetStart(), End: r.GetEnd()})
		}
		sort.Slice(kept, func(i, j int) bool { return kept[i].GetStart() < kept[j].GetStart() })
		change = func() { o.ranges = kept }
	case *ledgerpb.UpdateOUI_AddEuis:
		ps := c.AddEuis.GetPairs()
		if len(ps) == 0 || len(ps) > maxEUIsPerOp {
			return nil, fmt.Errorf("%w: %d EUI pairs, want 1..%d", ErrMalformed, len(ps), maxEUIsPerOp)
		}
		n := len(o.euis)
		for _, p := range ps {
			if p.GetJoinEui() == 0 && p.GetDevEui() == 0 {
				return nil, fmt.Errorf("%w: EUI pair 0:0", ErrMalformed)
			}
			if _, ok := o.euis[euiKey{p.GetJoinEui(), p.GetDevEui()}]; !ok {
				n++
			}
		}
		if n > s.p.maxEUIs {
			return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyEUIs, n, s.p.maxEUIs)
		}
		change = func() {
			for _, p := range ps {
				o.euis[euiKey{p.GetJoinEui(), p.GetDevEui()}] = struct{}{}
			}
		}
	case *ledgerpb.UpdateOUI_RemoveEuis:
		ps := c.RemoveEuis.GetPairs()
		if len(ps) == 0 || len(ps) > maxEUIsPerOp {
			return nil, fmt.Errorf("%w: %d EUI pairs, want 1..%d", ErrMalformed, len(ps), maxEUIsPerOp)
		}
		change = func() {
			for _, p := range ps {
				delete(o.euis, euiKey{p.GetJoinEui(), p.GetDevEui()})
			}
		}
	case *ledgerpb.UpdateOUI_MaxCopies:
		if err := s.checkMaxCopies(c.MaxCopies); err != nil {
			return nil, err
		}
		change = func() { o.maxCopies = c.MaxCopies }
	case *ledgerpb.UpdateOUI_Destinations:
		ds := c.Destinations.GetDestinations()
		if err := s.checkDestinations(ds); err != nil {
			return nil, err
		}
		change = func() { o.dests = cloneDests(ds) }
	default:
		return nil, fmt.Errorf("%w: OUI update without a change", ErrMalformed)
	}
	return func() {
		s.acct(signer).nonce = op.GetNonce()
		change()
	}, nil
}

func (s *state) epochClose(op *ledgerpb.EpochClose, height uint64) (func(), error) {
	r := op.GetRoot()
	if r == nil || r.GetEpoch() != s.nextEpoch {
		return nil, fmt.Errorf("%w: close of epoch %d, next is %d", ErrMalformed, r.GetEpoch(), s.nextEpoch)
	}
	if op.GetDebitSeq() < s.debitSeq {
		return nil, fmt.Errorf("%w: debit sequence goes back", ErrMalformed)
	}
	credits := map[identity.PublicKey]uint64{}
	for _, e := range op.GetEntries() {
		pk, err := identity.PublicKeyFromBytes(e.GetAccount())
		if err != nil {
			return nil, fmt.Errorf("%w: manifest account: %w", ErrMalformed, err)
		}
		total := credits[pk]
		for _, v := range []uint64{e.GetBeacon(), e.GetWitness(), e.GetDataTransfer(), e.GetOperations(), e.GetOracles()} {
			if total, err = add(total, v); err != nil {
				return nil, err
			}
		}
		credits[pk] = total
	}
	for pk, c := range credits {
		if a := s.accounts[pk]; a != nil {
			if _, err := add(a.tokens, c); err != nil {
				return nil, err
			}
		}
	}
	usage := map[identity.PublicKey]uint64{}
	for _, u := range op.GetUsage() {
		pk, err := identity.PublicKeyFromBytes(u.GetPayer())
		if err != nil {
			return nil, fmt.Errorf("%w: usage payer: %w", ErrMalformed, err)
		}
		if usage[pk], err = add(usage[pk], u.GetDc()); err != nil {
			return nil, err
		}
	}
	root := proto.Clone(r).(*ledgerpb.EpochRoot)
	return func() {
		for pk, c := range credits {
			s.acct(pk).tokens += c
		}
		for pk, u := range usage {
			a := s.acct(pk)
			a.dc -= min(u, a.dc) // debits were checked against the balance; never below zero
			if p := s.pending[pk]; p > u {
				s.pending[pk] = p - u
			} else {
				delete(s.pending, pk)
			}
		}
		s.epochs[root.GetEpoch()] = epochRec{root: root, height: height}
		s.nextEpoch++
		s.debitSeq = op.GetDebitSeq()
	}, nil
}

// errIs reports whether err wraps any of the targets.
func errIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
