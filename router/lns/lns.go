// Package lns is a basic LoRaWAN network server for device makers who run
// without ChirpStack: LoRaWAN 1.0.x OTAA (AppKey) and ABP, class A, 32-bit
// frame counters, MIC checks, payload decryption, confirmed-uplink ACKs, a
// per-device downlink queue and deduplication across hotspots.
//
// It talks to the router exactly as an external LNS would, as a Semtech UDP
// (GWMP) server: PUSH_DATA → PUSH_ACK, PULL_DATA → PULL_ACK (remembering
// where each gateway listens), PULL_RESP for downlinks. Copies of one frame
// are gathered for DedupWindow, then the frame is handled once; the reply goes
// to the gateway with the best copy. Each decoded uplink, with every gateway's
// rx metadata, is published as JSON (Uplink) on MQTT topic
// "{TopicPrefix}/{dev_eui}/up" and POSTed to the webhook.
package lns

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
)

// Config tunes the LNS.
type Config struct {
	// Listen is the GWMP UDP address. Default "127.0.0.1:1700".
	Listen string
	// Region is the radio region of the devices. Default EU868.
	Region wire.Region
	// NetID goes into join-accepts. Default 000000.
	NetID lorawan.NetID
	// DevAddrBase is the first DevAddr handed out at join; addresses are
	// allocated upwards from it. Default 48000000 (inside a route's range).
	DevAddrBase uint32
	// DedupWindow gathers copies of one frame. Default 200 ms.
	DedupWindow time.Duration
	// TxPowerDBm of downlinks. Default 14.
	TxPowerDBm uint8
	// TopicPrefix of published uplinks. Default "hexnet/lns".
	TopicPrefix string
	// WebhookURL receives each uplink as a JSON POST; empty disables it.
	WebhookURL string
	// WebhookQueue bounds pending webhook posts. Default 256.
	WebhookQueue int
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:1700"
	}
	if c.Region == wire.Region_REGION_UNKNOWN {
		c.Region = wire.Region_EU868
	}
	if c.DevAddrBase == 0 {
		c.DevAddrBase = 0x48000000
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 200 * time.Millisecond
	}
	if c.TxPowerDBm == 0 {
		c.TxPowerDBm = 14
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = "hexnet/lns"
	}
	if c.WebhookQueue == 0 {
		c.WebhookQueue = 256
	}
	return c
}

// Publisher publishes decoded uplinks (MQTT).
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Deps are the LNS's collaborators; all optional.
type Deps struct {
	Store     *store.Space // device persistence; nil keeps devices in memory
	Publisher Publisher
	HTTP      *http.Client
	Clock     clock.Clock
	Logger    *slog.Logger
}

// RxInfo is one gateway's reception of an uplink.
type RxInfo struct {
	GatewayEUI string    `json:"gateway_eui"`
	RSSI       int16     `json:"rssi"`
	SNR        float64   `json:"snr"`
	Tmst       uint32    `json:"tmst"`
	Frequency  uint64    `json:"frequency"`
	DataRate   string    `json:"data_rate"`
	Time       time.Time `json:"time,omitempty"`
}

// Uplink is a decoded uplink as published.
type Uplink struct {
	DevEUI    string   `json:"dev_eui"`
	DevAddr   string   `json:"dev_addr"`
	FCnt      uint32   `json:"f_cnt"`
	FPort     uint8    `json:"f_port"`
	Data      []byte   `json:"data"` // base64
	Confirmed bool     `json:"confirmed"`
	Rx        []RxInfo `json:"rx"`
}

// Server is the LNS. Build with New, run with Run.
type Server struct {
	cfg    Config
	deps   Deps
	clk    clock.Clock
	log    *slog.Logger
	region *lorawan.Region

	mu        sync.Mutex
	conn      *net.UDPConn
	devices   map[lorawan.EUI64]*Device
	gateways  map[gwmp.EUI]*net.UDPAddr
	pending   map[[32]byte]*frameGroup
	nextAddr  uint32
	joinNonce uint32
	webhook   chan []byte
	closed    bool
	ready     chan struct{}

	joinsAccepted, uplinks, downlinks atomic.Uint64
}

// Stats are the LNS's counters since start.
type Stats struct {
	JoinsAccepted uint64 `json:"joins_accepted"`
	Uplinks       uint64 `json:"uplinks"`   // data uplinks accepted (deduplicated)
	Downlinks     uint64 `json:"downlinks"` // join-accepts and data downlinks sent to the router
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{JoinsAccepted: s.joinsAccepted.Load(), Uplinks: s.uplinks.Load(), Downlinks: s.downlinks.Load()}
}

// SetDevAddrBase moves the first DevAddr handed out at join, e.g. to the
// block the ledger allocated to the device maker's OUI after the LNS started.
func (s *Server) SetDevAddrBase(base uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.DevAddrBase = base
	if s.nextAddr < base || s.nextAddr-base >= 1<<20 {
		s.nextAddr = base
	}
}

type frameGroup struct {
	first time.Time
	phy   []byte
	rx    []rxCopy
}

type rxCopy struct {
	eui gwmp.EUI
	pk  gwmp.RXPK
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("lns: closed")

// New builds the server and loads stored devices; it opens no socket.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	reg, err := lorawan.RegionByID(cfg.Region)
	if err != nil {
		return nil, fmt.Errorf("lns: %w", err)
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Server{cfg: cfg, deps: deps, clk: deps.Clock, log: deps.Logger.With("component", "lns"), region: reg,
		devices: map[lorawan.EUI64]*Device{}, gateways: map[gwmp.EUI]*net.UDPAddr{}, pending: map[[32]byte]*frameGroup{},
		nextAddr: cfg.DevAddrBase, webhook: make(chan []byte, cfg.WebhookQueue), ready: make(chan struct{})}
	if deps.Store != nil {
		err := deps.Store.Iterate([]byte("dev/"), func(k, v []byte) error {
			d, err := decodeDevice(v)
			if err != nil {
				return fmt.Errorf("lns: stored device %q: %w", k, err)
			}
			p, _ := d.parse()
			s.devices[p.devEUI] = d
			if p.session && p.devAddr.Uint32() >= s.nextAddr && p.devAddr.Uint32()-s.cfg.DevAddrBase < 1<<20 {
				s.nextAddr = p.devAddr.Uint32() + 1
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if b, err := deps.Store.Get([]byte("join_nonce")); err == nil && len(b) == 4 {
			s.joinNonce = binary.BigEndian.Uint32(b)
		}
	}
	return s, nil
}

// Addr returns the bound UDP address once Run has opened the socket (it
// waits for that), or nil when ctx ends first.
func (s *Server) Addr(ctx context.Context) *net.UDPAddr {
	select {
	case <-s.ready:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conn == nil {
			return nil
		}
		return s.conn.LocalAddr().(*net.UDPAddr)
	case <-ctx.Done():
		return nil
	}
}

// Run opens the UDP socket and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	addr, err := net.ResolveUDPAddr("udp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("lns: listen address: %w", err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("lns: listen: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return ErrClosed
	}
	s.conn = conn
	s.mu.Unlock()
	close(s.ready)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		conn.Close()
		wg.Wait()
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.flushLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.webhookLoop(ctx)
	}()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		s.datagram(buf[:n], from)
	}
}

// Close stops a running server; idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.conn != nil {
		return s.conn.Close()
	}
	return nil
}

func (s *Server) send(to *net.UDPAddr, p gwmp.Packet) {
	b, err := p.MarshalBinary()
	if err != nil {
		s.log.Error("encode", "type", p.Type().String(), "err", err)
		return
	}
	if _, err := s.conn.WriteToUDP(b, to); err != nil {
		s.log.Debug("send", "err", err)
	}
}

func (s *Server) datagram(b []byte, from *net.UDPAddr) {
	p, err := gwmp.Decode(b)
	if err != nil {
		s.log.Debug("malformed datagram", "reason", gwmp.Reason(err), "from", from.String())
		return
	}
	switch p := p.(type) {
	case *gwmp.PullData:
		s.mu.Lock()
		s.gateways[p.GatewayEUI] = from
		s.mu.Unlock()
		s.send(from, &gwmp.PullAck{Header: p.Header})
	case *gwmp.PushData:
		s.send(from, &gwmp.PushAck{Header: p.Header})
		now := s.clk.Now()
		s.mu.Lock()
		for _, rx := range p.RXPK {
			if rx.Stat != gwmp.CRCOK || len(rx.Data) == 0 {
				continue
			}
			h := sha256.Sum256(rx.Data)
			g := s.pending[h]
			if g == nil {
				g = &frameGroup{first: now, phy: append([]byte(nil), rx.Data...)}
				s.pending[h] = g
			}
			if len(g.rx) < 64 {
				g.rx = append(g.rx, rxCopy{eui: p.GatewayEUI, pk: rx})
			}
		}
		s.mu.Unlock()
	}
}

// flushLoop handles frame groups whose dedup window has passed.
func (s *Server) flushLoop(ctx context.Context) {
	tick := s.cfg.DedupWindow / 4
	if tick < time.Millisecond {
		tick = time.Millisecond
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.clk.After(tick):
		}
		now := s.clk.Now()
		var ready []*frameGroup
		s.mu.Lock()
		for h, g := range s.pending {
			if now.Sub(g.first) >= s.cfg.DedupWindow {
				ready = append(ready, g)
				delete(s.pending, h)
			}
		}
		s.mu.Unlock()
		for _, g := range ready {
			s.handle(g)
		}
	}
}

// best returns the copy with the highest RSSI, then SNR.
func (g *frameGroup) best() rxCopy {
	b := g.rx[0]
	for _, c := range g.rx[1:] {
		if c.pk.RSSI > b.pk.RSSI || (c.pk.RSSI == b.pk.RSSI && c.pk.LSNR > b.pk.LSNR) {
			b = c
		}
	}
	return b
}

func (s *Server) handle(g *frameGroup) {
	f, err := lorawan.Parse(g.phy)
	if err != nil {
		s.log.Debug("bad frame", "err", err)
		return
	}
	switch f.MType {
	case lorawan.JoinRequest:
		s.join(f, g)
	case lorawan.UnconfirmedDataUp, lorawan.ConfirmedDataUp:
		s.data(f, g)
	}
}

func (s *Server) persistLocked(d *Device) {
	if s.deps.Store == nil {
		return
	}
	b, err := json.Marshal(d)
	if err == nil {
		err = s.deps.Store.Set([]byte("dev/"+d.DevEUI), b, false)
	}
	if err != nil {
		s.log.Error("persist device", "dev_eui", d.DevEUI, "err", err)
	}
}

func (s *Server) join(f *lorawan.Frame, g *frameGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[f.DevEUI]
	if d == nil {
		s.log.Info("join from unknown device", "dev_eui", f.DevEUI.String())
		return
	}
	p, err := d.parse()
	if err != nil || !p.otaa || p.joinEUI != f.JoinEUI {
		s.log.Info("join refused: not an OTAA device of this JoinEUI", "dev_eui", d.DevEUI)
		return
	}
	if !f.ValidJoinRequestMIC(p.appKey) {
		s.log.Info("join refused: bad MIC", "dev_eui", d.DevEUI)
		return
	}
	for _, n := range d.DevNonces {
		if n == f.DevNonce {
			s.log.Info("join refused: DevNonce replay", "dev_eui", d.DevEUI, "dev_nonce", f.DevNonce)
			return
		}
	}
	s.joinNonce = (s.joinNonce + 1) & 0xffffff
	if s.deps.Store != nil {
		_ = s.deps.Store.Set([]byte("join_nonce"), binary.BigEndian.AppendUint32(nil, s.joinNonce), false)
	}
	var addr lorawan.DevAddr
	if p.session && p.devAddr.Uint32() >= s.cfg.DevAddrBase && p.devAddr.Uint32()-s.cfg.DevAddrBase < 1<<20 {
		addr = p.devAddr // keep the address across re-joins
	} else {
		binary.BigEndian.PutUint32(addr[:], s.nextAddr)
		s.nextAddr++
	}
	keys, err := lorawan.DeriveSessionKeys10(p.appKey, s.joinNonce, s.cfg.NetID, f.DevNonce)
	if err != nil {
		s.log.Error("derive keys", "err", err)
		return
	}
	ja, err := lorawan.BuildJoinAccept(lorawan.JoinAcceptParams{JoinNonce: s.joinNonce, NetID: s.cfg.NetID, DevAddr: addr,
		RX2DataRate: uint8(s.region.RX2DataRate), RxDelay: 1}, p.appKey)
	if err != nil {
		s.log.Error("build join-accept", "err", err)
		return
	}
	d.DevAddr, d.NwkSKey, d.AppSKey = addr.String(), keys.NwkSKey.String(), keys.AppSKey.String()
	d.FCntUp, d.HasUp, d.FCntDown = 0, false, 0
	d.DevNonces = append(d.DevNonces, f.DevNonce)
	if len(d.DevNonces) > maxNonces {
		d.DevNonces = d.DevNonces[len(d.DevNonces)-maxNonces:]
	}
	s.persistLocked(d)
	s.log.Info("joined", "dev_eui", d.DevEUI, "dev_addr", d.DevAddr)
	s.joinsAccepted.Add(1)
	s.downlinkLocked(g, ja, s.region.JoinAccept1Delay)
}

// downlinkLocked sends phy in RX1 of the best copy of g, delay after it.
func (s *Server) downlinkLocked(g *frameGroup, phy []byte, delay time.Duration) {
	s.downlinks.Add(1)
	b := g.best()
	to := s.gateways[b.eui]
	if to == nil {
		s.log.Warn("no PULL_DATA from gateway; downlink dropped", "gateway", b.eui.String())
		return
	}
	tmst := b.pk.Tmst + uint32(delay/time.Microsecond)
	tx := gwmp.TXPK{Tmst: &tmst, Powe: s.cfg.TxPowerDBm, Modu: gwmp.ModulationLoRa, CodR: "4/5", IPol: true}
	freq, err := s.region.RX1Frequency(b.pk.FreqHz())
	if err != nil {
		freq = b.pk.FreqHz()
	}
	tx.SetFreqHz(freq)
	tx.DatR = b.pk.DatR
	if up, err := s.region.DataRateByName(b.pk.DatR.String(), true); err == nil {
		if idx, err := s.region.RX1DataRate(up.Index, 0); err == nil {
			if dr, err := s.region.DataRate(idx); err == nil {
				if d, err := gwmp.ParseDataRate(dr.Name); err == nil {
					tx.DatR = d
				}
			}
		}
	}
	tx.SetData(phy)
	s.send(to, &gwmp.PullResp{Header: gwmp.Header{Version: gwmp.Version2}, TXPK: tx})
}

func (s *Server) data(f *lorawan.Frame, g *frameGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d *Device
	var p parsed
	var full uint32
	for _, cand := range s.devices {
		cp, err := cand.parse()
		if err != nil || !cp.session || cp.devAddr != f.DevAddr {
			continue
		}
		fc := uint32(f.FCnt)
		if cand.HasUp {
			fc = lorawan.FullFCnt(cand.FCntUp, f.FCnt)
		}
		if f.ValidDataMIC(cp.keys.NwkSKey, fc) {
			d, p, full = cand, cp, fc
			break
		}
	}
	if d == nil {
		s.log.Debug("data frame matches no device", "dev_addr", f.DevAddr.String())
		return
	}
	if d.HasUp && (full <= d.FCntUp || !lorawan.FCntInWindow(d.FCntUp, full)) {
		s.log.Info("uplink refused: frame counter replay", "dev_eui", d.DevEUI, "f_cnt", full)
		return
	}
	plain, err := f.DecryptFRMPayload(p.keys, full)
	if err != nil {
		s.log.Info("decrypt", "err", err)
		return
	}
	d.FCntUp, d.HasUp = full, true
	confirmed := f.MType == lorawan.ConfirmedDataUp
	up := Uplink{DevEUI: d.DevEUI, DevAddr: d.DevAddr, FCnt: full, FPort: f.FPort, Data: plain, Confirmed: confirmed}
	for _, c := range g.rx {
		ri := RxInfo{GatewayEUI: c.eui.String(), RSSI: c.pk.RSSI, SNR: c.pk.LSNR, Tmst: c.pk.Tmst,
			Frequency: c.pk.FreqHz(), DataRate: c.pk.DatR.String()}
		if c.pk.Time != nil {
			ri.Time = *c.pk.Time
		}
		up.Rx = append(up.Rx, ri)
	}
	if confirmed || len(d.Queue) > 0 {
		dp := lorawan.DataParams{MType: lorawan.UnconfirmedDataDown, DevAddr: p.devAddr, FCnt: d.FCntDown, ACK: confirmed}
		if len(d.Queue) > 0 {
			q := d.Queue[0]
			d.Queue = d.Queue[1:]
			dp.HasFPort, dp.FPort, dp.FRMPayload = true, q.FPort, q.Data
			if q.Confirmed {
				dp.MType = lorawan.ConfirmedDataDown
			}
			dp.FPending = len(d.Queue) > 0
		}
		phy, err := lorawan.BuildData(dp, p.keys)
		if err != nil {
			s.log.Error("build downlink", "err", err)
		} else {
			d.FCntDown++
			s.downlinkLocked(g, phy, s.region.RX1Delay)
		}
	}
	s.persistLocked(d)
	s.uplinks.Add(1)
	s.publish(up)
}

// publish sends an uplink to MQTT and queues it for the webhook (mu held).
func (s *Server) publish(up Uplink) {
	b, err := json.Marshal(up)
	if err != nil {
		return
	}
	if s.deps.Publisher != nil {
		if err := s.deps.Publisher.Publish(s.cfg.TopicPrefix+"/"+up.DevEUI+"/up", b); err != nil {
			s.log.Warn("publish uplink", "err", err)
		}
	}
	if s.cfg.WebhookURL != "" {
		select {
		case s.webhook <- b:
		default:
			s.log.Warn("webhook queue full; uplink dropped", "dev_eui", up.DevEUI)
		}
	}
}

func (s *Server) webhookLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-s.webhook:
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(b))
			if err != nil {
				continue
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := s.deps.HTTP.Do(req)
			if err != nil {
				s.log.Warn("webhook", "err", err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				s.log.Warn("webhook", "status", resp.StatusCode)
			}
		}
	}
}
