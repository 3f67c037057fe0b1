// Package chirpmqtt delivers the router's uplinks to an LNS over MQTT in the
// ChirpStack gateway bridge's conventions, so that a ChirpStack v4 network
// server sees each hotspot as one of its gateways.
//
// Topics (Region is the destination's region, or the packet's region in
// lower case, e.g. "eu868"):
//
//	{region}/gateway/{gatewayId}/event/up      UplinkFrame JSON   (published)
//	{region}/gateway/{gatewayId}/command/down  DownlinkFrame JSON (subscribed)
//	{region}/gateway/{gatewayId}/event/ack     DownlinkTxAck JSON (published)
//
// The gateway ID is the hotspot's virtual gateway EUI (gwmpfwd.GatewayEUI) in
// 16 lower-case hex digits. The uplink's rxInfo.context carries the copy's
// concentrator counter and packet hash; a downlink with delay timing is
// scheduled at context tmst + delay, and its context lets the router pick the
// best hotspot and rebuild both receive windows. Only the first downlink item
// is used (the router builds RX2 itself); the others are acknowledged IGNORED.
// The ack reports OK once the router has signed and published the PacketDown
// to the hotspot, not the hotspot's radio transmission.
package chirpmqtt

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/gwmpfwd"
	"github.com/hexnet/hexnet/router/routes"
)

// Defaults of Config.
const (
	DefaultQoS           = 0
	DefaultCommandQueue  = 256
	DefaultTimeout       = 5 * time.Second
	DefaultMaxGateways   = 100_000
	DefaultClientIDPrefx = "hexnet-router-"
)

// Config tunes a Sender. Zero fields take their defaults.
type Config struct {
	// URL of the LNS's MQTT broker (tcp://host:1883, ssl://..., ws://...).
	// User info in the URL (tcp://user:pass@host:1883) is used as credentials.
	URL string
	// Key, when set, logs in with a hexnet key (the embedded broker) instead
	// of the URL's user info.
	Key *identity.Key
	// Region is the topic prefix; empty uses each packet's region in lower case.
	Region string
	// ClientID of the MQTT session. Default "hexnet-router-" and 8 random hex digits.
	ClientID string
	// QoS of published events and of the command subscription. Default 0,
	// as the gateway bridge.
	QoS byte
	// CommandQueue bounds downlink commands waiting for Run. Default 256.
	CommandQueue int
	// Timeout bounds connecting and each publish. Default 5 s.
	Timeout time.Duration
	// MaxGateways bounds the gateway IDs remembered for downlinks. Default 100000.
	MaxGateways int
}

// Sentinel errors.
var (
	// ErrConfig reports an unusable Config.
	ErrConfig = errors.New("chirpmqtt: bad config")
	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("chirpmqtt: closed")
	// ErrBadUplink reports an uplink whose metadata cannot be expressed.
	ErrBadUplink = errors.New("chirpmqtt: bad uplink")
	// ErrBadCommand reports a malformed downlink command.
	ErrBadCommand = errors.New("chirpmqtt: bad downlink command")
)

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.ClientID = DefaultClientIDPrefx + hex.EncodeToString(b[:])
	}
	if c.CommandQueue <= 0 {
		c.CommandQueue = DefaultCommandQueue
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxGateways <= 0 {
		c.MaxGateways = DefaultMaxGateways
	}
	return c
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.URL == "" {
		return fmt.Errorf("%w: empty URL", ErrConfig)
	}
	if _, err := url.Parse(c.URL); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.QoS > 1 {
		return fmt.Errorf("%w: qos %d (0 or 1)", ErrConfig, c.QoS)
	}
	if strings.ContainsAny(c.Region, "/+#") {
		return fmt.Errorf("%w: region %q", ErrConfig, c.Region)
	}
	return nil
}

type command struct {
	topic   string
	payload []byte
}

// Sender is a delivery.Sender over ChirpStack-style MQTT. Safe for concurrent use.
type Sender struct {
	cfg  Config
	cli  *mqttc.Client
	down func(delivery.Downlink)
	log  *slog.Logger
	cmds chan command

	mu     sync.Mutex
	gws    map[string]identity.PublicKey // gateway ID → hotspot
	closed bool
	once   sync.Once
}

var _ delivery.Sender = (*Sender)(nil)

// Dial connects to the LNS's broker and subscribes to the command topics; it
// starts no goroutine of its own (Run handles the commands). down receives
// downlinks.
func Dial(ctx context.Context, cfg Config, down func(delivery.Downlink), log *slog.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	s := &Sender{cfg: cfg, down: down, log: log.With("component", "chirpmqtt", "lns", redact(cfg.URL)),
		cmds: make(chan command, cfg.CommandQueue), gws: map[string]identity.PublicKey{}}
	u, _ := url.Parse(cfg.URL)
	mc := mqttc.Config{URL: cfg.URL, ClientID: cfg.ClientID, CleanSession: true, ConnectTimeout: cfg.Timeout,
		Logger: log}
	if u.User != nil {
		mc.URL = strings.Replace(cfg.URL, u.User.String()+"@", "", 1)
		mc.Username = u.User.Username()
		mc.Password, _ = u.User.Password()
	}
	mc.Key = cfg.Key
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cli, err := mqttc.Dial(dctx, mc)
	if err != nil {
		return nil, fmt.Errorf("chirpmqtt: %w", err)
	}
	// Subscribe waits for the SUBACK, so no command sent after Dial returns
	// is missed; mqttc renews the subscription after reconnects.
	if err := cli.Subscribe(s.commandFilter(), cfg.QoS, s.onCommand); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("chirpmqtt: subscribe: %w", err)
	}
	s.cli = cli
	return s, nil
}

// Dialer returns a delivery.Dialer for chirpstack_mqtt destinations: the
// destination's Address is the broker URL and its Region the topic prefix;
// base supplies the other settings.
func Dialer(base Config, log *slog.Logger) delivery.Dialer {
	return func(d routes.Destination, down func(delivery.Downlink)) (delivery.Sender, error) {
		cfg := base
		cfg.URL, cfg.Region = d.Address, d.Region
		cfg.ClientID = "" // one session per destination
		return Dial(context.Background(), cfg, down, log)
	}
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}

func (s *Sender) commandFilter() string {
	r := s.cfg.Region
	if r == "" {
		r = "+"
	}
	return r + "/gateway/+/command/down"
}

// RegionTopic is the topic prefix of a wire region: its name in lower case ("eu868").
func RegionTopic(r wire.Region) string { return strings.ToLower(r.String()) }

// GatewayID is the hotspot's gateway ID in topics and JSON.
func GatewayID(pk identity.PublicKey) string {
	e := gwmpfwd.GatewayEUI(pk)
	return hex.EncodeToString(e[:])
}

// Run handles downlink commands until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-s.cmds:
			s.handle(ctx, c)
		}
	}
}

// Close disconnects; idempotent.
func (s *Sender) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var err error
	s.once.Do(func() { err = s.cli.Close() })
	return err
}

// Send publishes one uplink as an UplinkFrame on the hotspot's event/up topic.
func (s *Sender) Send(ctx context.Context, u *delivery.Uplink) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	gw := GatewayID(u.Hotspot)
	if _, ok := s.gws[gw]; !ok && len(s.gws) >= s.cfg.MaxGateways {
		s.gws = map[string]identity.PublicKey{} // forget all rather than grow without bound
	}
	s.gws[gw] = u.Hotspot
	s.mu.Unlock()
	f, err := UplinkFrameOf(u)
	if err != nil {
		return err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("chirpmqtt: marshal: %w", err)
	}
	region := s.cfg.Region
	if region == "" {
		region = RegionTopic(u.Up.Region)
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.cli.Publish(pctx, region+"/gateway/"+gw+"/event/up", s.cfg.QoS, false, b); err != nil {
		return fmt.Errorf("chirpmqtt: publish: %w", err)
	}
	return nil
}

// UplinkFrameOf converts one purchased copy to a gw.UplinkFrame.
func UplinkFrameOf(u *delivery.Uplink) (*UplinkFrame, error) {
	up := u.Up
	dr, err := gwmp.ParseDataRate(up.DataRate)
	if err != nil || !dr.IsLoRa() {
		return nil, fmt.Errorf("%w: data rate %q", ErrBadUplink, up.DataRate)
	}
	cr := codeRates[up.CodingRate]
	if cr == "" {
		cr = "CR_4_5"
	}
	ns := u.ReceivedAt.UTC()
	var idb [4]byte
	_, _ = rand.Read(idb[:])
	f := &UplinkFrame{
		PHYPayload: up.Payload,
		TxInfo: UplinkTxInfo{Frequency: uint32(up.Frequency), Modulation: Modulation{LoRa: &LoRaModulationInfo{
			Bandwidth: uint32(dr.BandwidthKHz()) * 1000, SpreadingFactor: uint32(dr.SF()), CodeRate: cr}}},
		RxInfo: UplinkRxInfo{
			GatewayID: GatewayID(u.Hotspot), UplinkID: binary.BigEndian.Uint32(idb[:]), NsTime: &ns,
			RSSI: int32(up.Rssi), SNR: up.Snr, Context: makeContext(up.Tmst, u.PacketHash), CRCStatus: "CRC_OK",
			Metadata: map[string]string{"region_common_name": up.Region.String(), "hotspot": string(identity.AddressOf(u.Hotspot))},
		},
	}
	if up.ReceivedAtMs != 0 {
		gt := time.UnixMilli(int64(up.ReceivedAtMs)).UTC()
		f.RxInfo.GwTime = &gt
	}
	return f, nil
}

// onCommand is the MQTT handler: it must not block, so it only queues.
func (s *Sender) onCommand(topic string, payload []byte) {
	select {
	case s.cmds <- command{topic: topic, payload: payload}:
	default:
		s.log.Warn("downlink command queue full, dropped", "topic", topic)
	}
}

// parseCommandTopic returns the region and gateway ID of a command/down topic.
func parseCommandTopic(topic string) (region, gw string, err error) {
	p := strings.Split(topic, "/")
	if len(p) != 5 || p[1] != "gateway" || p[3] != "command" || p[4] != "down" || p[0] == "" {
		return "", "", fmt.Errorf("%w: topic %q", ErrBadCommand, topic)
	}
	if b, err := hex.DecodeString(p[2]); err != nil || len(b) != 8 {
		return "", "", fmt.Errorf("%w: gateway id %q", ErrBadCommand, p[2])
	}
	return p[0], strings.ToLower(p[2]), nil
}

// DecodeDownlink parses a DownlinkFrame and checks it: at least one item,
// at most 16, each with a PHYPayload.
func DecodeDownlink(b []byte) (*DownlinkFrame, error) {
	var f DownlinkFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if len(f.Items) == 0 || len(f.Items) > 16 {
		return nil, fmt.Errorf("%w: %d items", ErrBadCommand, len(f.Items))
	}
	for i, it := range f.Items {
		if len(it.PHYPayload) == 0 {
			return nil, fmt.Errorf("%w: item %d has no phyPayload", ErrBadCommand, i)
		}
	}
	return &f, nil
}

// toDownlink converts one DownlinkFrameItem for hotspot pk.
func toDownlink(pk identity.PublicKey, it DownlinkFrameItem) (delivery.Downlink, string, error) {
	tx := it.TxInfo
	d := delivery.Downlink{Hotspot: pk, Payload: it.PHYPayload, Frequency: uint64(tx.Frequency)}
	if tx.Power > 0 {
		d.PowerDBm = uint32(tx.Power)
	}
	lora := tx.Modulation.LoRa
	if lora == nil {
		return d, StatusTxFreq, fmt.Errorf("%w: only LoRa modulation", ErrBadCommand)
	}
	dr, err := gwmp.LoRaDataRate(int(lora.SpreadingFactor), int(lora.Bandwidth/1000))
	if err != nil {
		return d, StatusTxFreq, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	d.DataRate = dr.String()
	switch t := tx.Timing; {
	case t.Delay != nil:
		tmst, hash, hasHash, err := parseContext(tx.Context)
		if err != nil {
			return d, StatusInternalError, err
		}
		if t.Delay.Delay < 0 {
			return d, StatusTooLate, fmt.Errorf("%w: negative delay", ErrBadCommand)
		}
		d.Tmst = tmst + uint32(time.Duration(t.Delay.Delay)/time.Microsecond)
		d.PacketHash, d.HasHash = hash, hasHash
	case t.Immediately != nil:
		d.Immediate = true
	default:
		return d, StatusInternalError, fmt.Errorf("%w: unsupported timing", ErrBadCommand)
	}
	return d, StatusOK, nil
}

// handle turns one command into a downlink for the router and acknowledges it.
func (s *Sender) handle(ctx context.Context, c command) {
	region, gw, err := parseCommandTopic(c.topic)
	if err != nil {
		s.log.Warn("downlink command", "err", err)
		return
	}
	f, err := DecodeDownlink(c.payload)
	if err != nil {
		s.log.Warn("downlink command", "gateway_id", gw, "err", err)
		return
	}
	ack := &DownlinkTxAck{GatewayID: gw, DownlinkID: f.DownlinkID, Items: make([]DownlinkTxAckItem, len(f.Items))}
	for i := range ack.Items {
		ack.Items[i].Status = StatusIgnored
	}
	s.mu.Lock()
	pk, known := s.gws[gw]
	s.mu.Unlock()
	if !known || (f.GatewayID != "" && !strings.EqualFold(f.GatewayID, gw)) {
		ack.Items[0].Status = StatusInternalError
		s.ack(ctx, region, ack)
		return
	}
	d, status, err := toDownlink(pk, f.Items[0])
	if err != nil {
		s.log.Warn("downlink command", "gateway_id", gw, "err", err)
		ack.Items[0].Status = status
		s.ack(ctx, region, ack)
		return
	}
	// The ack says what became of the transmission: an internal error when
	// the router could not pass the downlink on, else the hotspot's own
	// report (its TxAck) when it comes; none comes when it does not, which
	// ChirpStack reads as a timeout.
	d.Done = func(err error) {
		if err != nil {
			ack.Items[0].Status = StatusInternalError
			s.ack(ctx, region, ack)
		}
	}
	d.Ack = func(st wire.TxStatus) {
		ack.Items[0].Status = txAckStatus(st)
		s.ack(ctx, region, ack)
	}
	if s.down == nil {
		d.Done(errors.New("no downlink handler"))
		return
	}
	s.down(d)
}

func (s *Sender) ack(ctx context.Context, region string, a *DownlinkTxAck) {
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.cli.Publish(pctx, region+"/gateway/"+a.GatewayID+"/event/ack", s.cfg.QoS, false, b); err != nil {
		s.log.Warn("publish ack", "gateway_id", a.GatewayID, "err", err)
	}
}

// txAckStatus names a hotspot's TxAck status as gw.TxAckStatus does; a
// missing forwarder or its timeout is an INTERNAL_ERROR to ChirpStack.
func txAckStatus(st wire.TxStatus) string {
	switch st {
	case wire.TxStatus_TX_OK:
		return StatusOK
	case wire.TxStatus_TX_TOO_LATE:
		return StatusTooLate
	case wire.TxStatus_TX_TOO_EARLY:
		return "TOO_EARLY"
	case wire.TxStatus_TX_COLLISION_PACKET:
		return "COLLISION_PACKET"
	case wire.TxStatus_TX_COLLISION_BEACON:
		return "COLLISION_BEACON"
	case wire.TxStatus_TX_FREQ:
		return StatusTxFreq
	case wire.TxStatus_TX_POWER:
		return "TX_POWER"
	case wire.TxStatus_TX_GPS_UNLOCKED:
		return "GPS_UNLOCKED"
	}
	return StatusInternalError
}
