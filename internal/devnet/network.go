package devnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/radio"
	"github.com/hexnet/hexnet/router/gwmpfwd"
	"github.com/hexnet/hexnet/router/lns"
)

// devnetJoinEUI is the JoinEUI of the device maker's devices.
var devnetJoinEUI = lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0x00, 0x00, 0x01}

// setupOUI creates the device maker's OUI through the ledger (routing its
// JoinEUI to the basic LNS), funds it with data credits, and points the LNS
// at the DevAddr block the ledger allocated.
func (d *Devnet) setupOUI(next func(*identity.Key) uint64) error {
	if d.s.Devices.Count == 0 {
		return nil
	}
	l := d.node.Ledger()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := d.node.Router().LNS()
	addr := srv.Addr(ctx)
	if addr == nil {
		return fmt.Errorf("devnet: the basic LNS did not start")
	}
	submit := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		return l.Submit(b)
	}
	if err := submit(ledger.SignOp(d.ouiKey, &ledgerpb.CreateOUI{Nonce: next(d.ouiKey), Payer: d.ouiKey.Public().Bytes(), MaxCopies: 3,
		Destinations: []*ledgerpb.Destination{{Protocol: "gwmp", Endpoint: addr.String()}}})); err != nil {
		return fmt.Errorf("devnet: create OUI: %w", err)
	}
	var oui ledger.OUIInfo
	for _, o := range l.OUIs() {
		if o.Owner == d.ouiKey.Public() {
			oui = o
		}
	}
	if oui.ID == 0 && len(oui.DevAddrs) == 0 {
		return fmt.Errorf("devnet: the OUI was not created")
	}
	join := binary.BigEndian.Uint64(devnetJoinEUI[:])
	if err := submit(ledger.SignOp(d.ouiKey, &ledgerpb.UpdateOUI{Nonce: next(d.ouiKey), Oui: oui.ID,
		Change: &ledgerpb.UpdateOUI_AddEuis{AddEuis: &ledgerpb.EUIPairs{Pairs: []*ledgerpb.EUIPair{{JoinEui: join, DevEui: 0}}}}})); err != nil {
		return fmt.Errorf("devnet: route JoinEUI: %w", err)
	}
	if err := submit(ledger.SignOp(d.ouiKey, &ledgerpb.BurnForDC{Nonce: next(d.ouiKey), Dc: d.s.Devices.DC})); err != nil {
		return fmt.Errorf("devnet: buy DC: %w", err)
	}
	if err := submit(ledger.SignOp(d.ouiKey, &ledgerpb.DelegateDC{Nonce: next(d.ouiKey), Oui: oui.ID, Dc: d.s.Devices.DC})); err != nil {
		return fmt.Errorf("devnet: delegate DC: %w", err)
	}
	if len(oui.DevAddrs) > 0 {
		srv.SetDevAddrBase(oui.DevAddrs[0].Start)
	}
	return nil
}

// startDevices registers the devices with the LNS and starts them.
func (d *Devnet) startDevices(ctx context.Context, wg *sync.WaitGroup, reg *lorawan.Region, rng *mrand.Rand) error {
	s := d.s
	if s.Devices.Count == 0 {
		return nil
	}
	srv := d.node.Router().LNS()
	cLat, cLng, r := s.Hotspots.CenterLat, s.Hotspots.CenterLng, s.Hotspots.RadiusM
	if len(s.Hotspots.Coords) > 0 {
		cLat, cLng, r = s.Hotspots.Coords[0][0], s.Hotspots.Coords[0][1], 2000
	}
	for i := 0; i < s.Devices.Count; i++ {
		var devEUI lorawan.EUI64
		binary.BigEndian.PutUint64(devEUI[:], 0x70b3d57ed0010000+uint64(i))
		var appKey lorawan.Key
		k := seededKey(s.Seed, fmt.Sprintf("appkey-%d", i)).Seed()
		copy(appKey[:], k)
		if err := srv.PutDevice(lns.Device{DevEUI: hex.EncodeToString(devEUI[:]), JoinEUI: hex.EncodeToString(devnetJoinEUI[:]), AppKey: hex.EncodeToString(appKey[:])}); err != nil {
			return fmt.Errorf("devnet: register device: %w", err)
		}
		lat, lng := inDisk(rng, cLat, cLng, r*0.8)
		id := "device-" + hex.EncodeToString(devEUI[:])
		dev := &device{
			id: id, devEUI: devEUI, joinEUI: devnetJoinEUI, appKey: appKey, region: reg, medium: d.medium, clk: d.clk,
			rng:      mrand.New(mrand.NewPCG(s.Seed, uint64(i)+7000)),
			node:     &radio.Node{ID: id, Lat: lat, Lng: lng, HeightM: 1.5},
			interval: s.Devices.UplinkInterval, gps: rng.Float64() < s.Devices.GPSShare, moving: rng.Float64() < s.Devices.MovingShare,
			cLat: lat, cLng: lng, radiusM: 300 + rng.Float64()*1200, speed: s.Devices.SpeedMps, sf: 7 + rng.IntN(4),
			rx: make(chan []byte, 8),
		}
		d.devices = append(d.devices, dev)
		wg.Add(1)
		go func() { defer wg.Done(); dev.run(ctx) }()
	}
	return nil
}

// mapperBridge is the device maker's integration: it receives the basic
// LNS's webhook, decodes the GPS devices' payloads, and posts each position
// with the hotspots that heard it to the explorer's mapper ingest.
type mapperBridge struct {
	ingestURL func() string     // the explorer's ingest URL, known once the network listens
	hotspots  map[string]string // gateway EUI (as the router presents it to LNSs) → hotspot address
	client    *http.Client
	srv       *http.Server
	ln        net.Listener
}

func newMapperBridge(ingestURL func() string, plans []*hotspotPlan) (*mapperBridge, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devnet: mapper bridge: %w", err)
	}
	b := &mapperBridge{ingestURL: ingestURL, hotspots: map[string]string{}, client: &http.Client{Timeout: 5 * time.Second}, ln: ln}
	for _, p := range plans {
		eui := gwmpfwd.GatewayEUI(p.key.Public())
		b.hotspots[hex.EncodeToString(eui[:])] = string(p.key.Address())
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.handle), ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *mapperBridge) url() string { return "http://" + b.ln.Addr().String() + "/uplink" }
func (b *mapperBridge) close()      { b.srv.Close() }

func (b *mapperBridge) handle(w http.ResponseWriter, r *http.Request) {
	var up lns.Uplink
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&up); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	if up.FPort != 2 {
		return // not a GPS payload
	}
	lat, lng, alt, acc, err := decodeGPS(up.Data)
	if err != nil {
		return
	}
	type heard struct {
		Address string  `json:"address"`
		RSSI    float64 `json:"rssi"`
		SNR     float64 `json:"snr"`
	}
	point := struct {
		DevEUI   string    `json:"dev_eui"`
		Lat      float64   `json:"lat"`
		Lng      float64   `json:"lng"`
		Alt      float64   `json:"alt"`
		Accuracy float64   `json:"accuracy"`
		Time     time.Time `json:"time"`
		Hotspots []heard   `json:"hotspots"`
	}{DevEUI: up.DevEUI, Lat: lat, Lng: lng, Alt: alt, Accuracy: acc}
	for _, rx := range up.Rx {
		if a, ok := b.hotspots[rx.GatewayEUI]; ok {
			point.Hotspots = append(point.Hotspots, heard{Address: a, RSSI: float64(rx.RSSI), SNR: rx.SNR})
		}
		if point.Time.IsZero() {
			point.Time = rx.Time
		}
	}
	body, _ := json.Marshal(point)
	resp, err := b.client.Post(b.ingestURL(), "application/json", bytes.NewReader(body))
	if err == nil {
		resp.Body.Close()
	}
}

// metric sums a counter family of the node's registry, optionally by one label.
func (d *Devnet) metric(name, label string) (float64, map[string]float64) {
	fams, err := d.node.Registry().Gather()
	if err != nil {
		return 0, nil
	}
	by := map[string]float64{}
	var total float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			v := counterValue(m)
			total += v
			if label != "" {
				for _, l := range m.GetLabel() {
					if l.GetName() == label {
						by[l.GetValue()] += v
					}
				}
			}
		}
	}
	return total, by
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return 0
}

// packets reads the router's and the LNS's counters.
func (d *Devnet) packets() Packets {
	p := Packets{Dropped: map[string]uint64{}}
	heard, _ := d.metric("hexnet_router_uplinks_total", "")
	_, delivered := d.metric("hexnet_router_delivered_total", "result")
	_, down := d.metric("hexnet_router_downlinks_total", "result")
	_, dropped := d.metric("hexnet_router_dropped_total", "reason")
	p.UplinksHeard = uint64(heard)
	p.DeliveredToLNS = uint64(delivered["ok"])
	p.DownlinksSent = uint64(down["ok"])
	for k, v := range dropped {
		if v > 0 {
			p.Dropped[k] = uint64(v)
		}
	}
	if r := d.node.Router(); r != nil && r.LNS() != nil {
		p.JoinsAccepted = r.LNS().Stats().JoinsAccepted
	}
	return p
}

// dcCharged is the data credits the router debited from payers.
func (d *Devnet) dcCharged() uint64 {
	v, _ := d.metric("hexnet_router_dc_debited_total", "")
	return uint64(v)
}
