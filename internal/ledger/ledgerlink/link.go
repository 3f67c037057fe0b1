// Package ledgerlink adapts the ledger to the interfaces its consumers
// declared for it: the router's DC ledger, data-transfer rewards and hotspot
// lookups (router, router/dc), the router's route manager (router/routes),
// and PoC's hotspot registry and reward accumulator (poc/verify,
// poc/rewards). Only the hexnet binary needs it; the ledger itself depends
// on none of them.
package ledgerlink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/poc/rewards"
	"github.com/hexnet/hexnet/poc/verify"
	"github.com/hexnet/hexnet/router"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/routes"
)

// idemKey turns a consumer's binary idempotency key into a ledger key
// (prefix ‖ hex, or prefix ‖ SHA-256 hex for long keys).
func idemKey(prefix string, k []byte) string {
	if len(k) <= 100 {
		return prefix + hex.EncodeToString(k)
	}
	h := sha256.Sum256(k)
	return prefix + "h" + hex.EncodeToString(h[:])
}

// RouterDC is the router's dc.Ledger over the ledger; payers are account addresses.
type RouterDC struct{ L *ledger.Ledger }

var _ dc.Ledger = RouterDC{}

// Balance implements dc.Ledger (0 for a payer that is not an address).
func (d RouterDC) Balance(payer string) uint64 {
	pk, err := identity.ParseAddress(payer)
	if err != nil {
		return 0
	}
	return d.L.DCBalance(pk)
}

// Debit implements dc.Ledger: the debit and the data-transfer record are one
// ledger write (ChargeTransfer).
func (d RouterDC) Debit(c dc.Charge) (bool, error) {
	pk, err := identity.ParseAddress(c.Payer)
	if err != nil {
		return false, fmt.Errorf("%w: payer %q is not an address: %v", dc.ErrInsufficientDC, c.Payer, err)
	}
	charged, err := d.L.ChargeTransfer(pk, c.Amount, idemKey("r/", c.Key),
		ledger.Transfer{Epoch: c.Epoch, Hotspot: c.Hotspot, Key: idemKey("dt/", c.Key)})
	switch {
	case err == nil:
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return false, fmt.Errorf("%w: %w", dc.ErrInsufficientDC, err)
	case charged:
		return true, fmt.Errorf("%w: %w", dc.ErrNotRecorded, err)
	}
	return charged, err
}

// Subscribe implements dc.Ledger.
func (d RouterDC) Subscribe(fn func(payer string)) {
	d.L.SubscribeTopUps(func(pk identity.PublicKey) { fn(string(pk.Address())) })
}

// RouterHotspots is the router's Hotspots over the ledger.
type RouterHotspots struct{ L *ledger.Ledger }

var _ router.Hotspots = RouterHotspots{}

// Hotspot implements router.Hotspots.
func (h RouterHotspots) Hotspot(pk identity.PublicKey) (router.HotspotInfo, bool) {
	info, ok := h.L.Hotspot(pk)
	if !ok {
		return router.HotspotInfo{}, false
	}
	return router.HotspotInfo{Owner: string(info.OwnerAddr)}, true
}

// PoCRegistry is PoC's verify.Registry over the ledger.
type PoCRegistry struct{ L *ledger.Ledger }

var _ verify.Registry = PoCRegistry{}

// Hotspot implements verify.Registry.
func (r PoCRegistry) Hotspot(pk identity.PublicKey) (verify.Hotspot, bool) {
	info, ok := r.L.Hotspot(pk)
	if !ok {
		return verify.Hotspot{}, false
	}
	v := verify.Hotspot{Key: pk, Region: info.Region, GainDBiX10: info.Gain}
	if info.Asserted {
		v.Location = h3.Cell(info.Cell)
	}
	return v, true
}

// PumpPoC records PoC's accumulated units of epoch e into the ledger and
// then drops them from the accumulator. Use it as the ledger's BeforeClose:
//
//	var l *ledger.Ledger
//	deps.BeforeClose = func(e uint64) error { return ledgerlink.PumpPoC(l, acc, e, log) }
//	l, err = ledger.New(cfg, deps)
//
// Each hotspot's record is keyed by (epoch, hotspot), so pumping twice
// records once. Hotspots the ledger does not know and units out of bounds
// are logged and skipped; other errors stop the pump (the close waits).
func PumpPoC(l *ledger.Ledger, acc rewards.Ledger, e uint64, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	for _, s := range acc.Epoch(e) {
		key := "poc/" + strconv.FormatUint(e, 10) + "/" + hex.EncodeToString(s.Hotspot[:])
		err := l.RecordPoC(e, s.Hotspot, s.Beacon, s.Witness, key)
		switch {
		case err == nil:
		case errors.Is(err, ledger.ErrUnknownHotspot), errors.Is(err, ledger.ErrBadUnits), errors.Is(err, ledger.ErrEpochClosed):
			log.Warn("poc units not recorded", "epoch", e, "hotspot", s.Hotspot.String(), "error", err)
		default:
			return err
		}
	}
	acc.Forget(e)
	return nil
}

// RouteIDPrefix starts the ID of every route mirrored from a ledger OUI.
const RouteIDPrefix = "oui-"

// RouteOf returns the route of an OUI, or false when the OUI cannot route
// yet (no destination).
func RouteOf(o ledger.OUIInfo) (routes.Route, bool) {
	r := routes.Route{
		ID: RouteIDPrefix + strconv.FormatUint(o.ID, 10), OUI: o.ID, Payer: string(o.PayerAddr),
		MaxCopies: o.MaxCopies, Active: true, Locked: o.Locked,
	}
	for _, d := range o.DevAddrs {
		r.DevAddrRanges = append(r.DevAddrRanges, routes.DevAddrRange{Start: routes.DevAddr(d.Start), End: routes.DevAddr(d.End)})
	}
	for _, p := range o.EUIs {
		r.EUIs = append(r.EUIs, routes.EUIPair{JoinEUI: routes.EUI(p.JoinEUI), DevEUI: routes.EUI(p.DevEUI)})
	}
	for _, d := range o.Destinations {
		r.Destinations = append(r.Destinations, routes.Destination{Protocol: routes.Protocol(d.Protocol), Address: d.Endpoint})
	}
	if r.Validate() != nil {
		return routes.Route{}, false
	}
	return r, true
}

// RouteSync mirrors the ledger's OUIs into the router's route manager
// whenever the journal grows. Routes not starting with RouteIDPrefix (made
// through the admin API) are left alone.
type RouteSync struct {
	l      *ledger.Ledger
	m      routes.Manager
	every  time.Duration
	log    *slog.Logger
	height uint64
	synced bool
}

// NewRouteSync returns a syncer checking every interval (default 1 s). It starts nothing.
func NewRouteSync(l *ledger.Ledger, m routes.Manager, every time.Duration, log *slog.Logger) *RouteSync {
	if every <= 0 {
		every = time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &RouteSync{l: l, m: m, every: every, log: log.With("component", "route_sync")}
}

// Run syncs until ctx ends.
func (s *RouteSync) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		if err := s.SyncOnce(); err != nil {
			s.log.Error("route sync", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SyncOnce brings the routes up to date if the ledger changed since the last sync.
func (s *RouteSync) SyncOnce() error {
	h := s.l.Height()
	if s.synced && h == s.height {
		return nil
	}
	want := map[string]routes.Route{}
	for _, o := range s.l.OUIs() {
		if r, ok := RouteOf(o); ok {
			want[r.ID] = r
		}
	}
	var errs []error
	have := s.m.List()
	existing := map[string]routes.Route{}
	for _, r := range have {
		existing[r.ID] = r
		if !strings.HasPrefix(r.ID, RouteIDPrefix) {
			continue
		}
		if _, ok := want[r.ID]; !ok {
			if err := s.m.Delete(r.ID); err != nil && !routes.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if old, ok := existing[id]; ok && reflect.DeepEqual(old, want[id]) {
			continue
		}
		if err := s.m.Put(want[id]); err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", id, err))
		}
	}
	if len(errs) == 0 {
		s.height, s.synced = h, true
	}
	return errors.Join(errs...)
}
