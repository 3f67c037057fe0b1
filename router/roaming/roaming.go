// Package roaming delivers the router's uplinks to a home network server
// (hNS) over LoRaWAN Backend Interfaces (TS002-1.1) HTTP passive roaming,
// with the router as a stateless forwarding network server (fNS).
//
// Supported subset:
//   - For every purchased copy the fNS POSTs a PRStartReq (ProtocolVersion
//     "1.1", SenderID our NetID, ReceiverID the destination's NetID,
//     PHYPayload, ULMetaData with DevAddr or DevEUI, DataRate, ULFreq,
//     RecvTime, RFRegion, GWCnt 1 and one GWInfo carrying an ULToken) to the
//     destination's URL. Copies bought by a route with max_copies > 1 yield
//     one PRStartReq each (GWCnt is always 1).
//   - A PRStartAns with ResultCode Success and a PHYPayload is a downlink in
//     sync: DLMetaData DLFreq1/DataRate1 (RX1, RXDelay1 seconds after the
//     uplink, default 1 s or 5 s for a join-accept) or else DLFreq2/DataRate2
//     (RX2, one second later). Other result codes are logged, not retried.
//   - A later XmitDataReq POSTed to Handler with PHYPayload and DLMetaData
//     (ClassMode "A" or empty, the GWInfo ULToken of the copy to answer) is
//     relayed the same way and answered with XmitDataAns (Success, or
//     MalformedRequest, UnknownSender, UnknownReceiver, FrameSizeError,
//     XmitFailed). FRMPayload, class B/C and PRStop/Profile are not supported.
//
// An ULToken names the hotspot, its concentrator counter, the packet hash
// and the issue time, and is authenticated with an HMAC under a key made at
// New, so an hNS cannot make arbitrary hotspots transmit; tokens expire
// after TokenTTL.
package roaming

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/gwmpfwd"
	"github.com/hexnet/hexnet/router/routes"
)

// Defaults of Config.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultTokenTTL = time.Minute
	// MaxBody bounds request and answer bodies.
	MaxBody = 64 << 10
)

// Config configures roaming.
type Config struct {
	// NetID is our 24-bit NetID in 6 hex digits, sent as SenderID. Required.
	NetID string `toml:"net_id"`
	// Timeout bounds each PRStartReq exchange. Default 3 s.
	Timeout time.Duration `toml:"timeout"`
	// TokenTTL is how long an ULToken is accepted in an XmitDataReq. Default 1 min.
	TokenTTL time.Duration `toml:"token_ttl"`
}

// Sentinel errors.
var (
	ErrConfig  = errors.New("roaming: bad config")
	ErrClosed  = errors.New("roaming: closed")
	ErrHTTP    = errors.New("roaming: http exchange failed")
	ErrAnswer  = errors.New("roaming: malformed answer")
	ErrToken   = errors.New("roaming: invalid ULToken")
	ErrRequest = errors.New("roaming: malformed request")
)

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	c.NetID = strings.ToLower(c.NetID)
	return c
}

// Validate checks the config.
func (c Config) Validate() error {
	if !isNetID(c.NetID) {
		return fmt.Errorf("%w: net_id %q is not 6 hex digits", ErrConfig, c.NetID)
	}
	if c.Timeout < 0 || c.TokenTTL < 0 {
		return fmt.Errorf("%w: negative duration", ErrConfig)
	}
	return nil
}

func isNetID(s string) bool {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	return err == nil && len(b) == 3
}

// Deps are the collaborators; all optional.
type Deps struct {
	HTTP   *http.Client // nil: http.DefaultClient
	Clock  clock.Clock  // nil: real clock
	Logger *slog.Logger // nil: slog.Default()
}

// Roaming holds what the senders of all http_roaming destinations share: our
// NetID, the ULToken key and the hNSs that may send XmitDataReq.
type Roaming struct {
	cfg  Config
	http *http.Client
	clk  clock.Clock
	log  *slog.Logger
	key  [32]byte

	mu     sync.Mutex
	peers  map[string]*Sender // NetID (lower-case hex) → sender
	closed bool
}

// New builds the roaming endpoint; it starts nothing.
func New(cfg Config, deps Deps) (*Roaming, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if deps.HTTP == nil {
		deps.HTTP = http.DefaultClient
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	r := &Roaming{cfg: cfg, http: deps.HTTP, clk: deps.Clock, log: deps.Logger.With("component", "roaming"),
		peers: map[string]*Sender{}}
	if _, err := rand.Read(r.key[:]); err != nil {
		return nil, fmt.Errorf("roaming: token key: %w", err)
	}
	return r, nil
}

// Run returns when ctx ends (senders need no goroutine of their own).
func (r *Roaming) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close forgets every peer; idempotent.
func (r *Roaming) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.peers = map[string]*Sender{}
	return nil
}

// Dialer returns the delivery.Dialer of http_roaming destinations: Address is
// the hNS's URL and NetID its NetID.
func (r *Roaming) Dialer() delivery.Dialer {
	return func(d routes.Destination, down func(delivery.Downlink)) (delivery.Sender, error) {
		u, err := url.Parse(d.Address)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: destination url %q", ErrConfig, d.Address)
		}
		if !isNetID(d.NetID) {
			return nil, fmt.Errorf("%w: destination net_id %q", ErrConfig, d.NetID)
		}
		s := &Sender{r: r, url: d.Address, netID: strings.ToLower(strings.TrimPrefix(d.NetID, "0x")), down: down}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.closed {
			return nil, ErrClosed
		}
		r.peers[s.netID] = s
		return s, nil
	}
}

// token layout: hotspot(32) ‖ tmst(4) ‖ hash(32) ‖ region(1) ‖ mtype(1) ‖
// issued unix ms(8) ‖ mac(16).
const tokenLen = 32 + 4 + 32 + 1 + 1 + 8 + 16

func (r *Roaming) mac(b []byte) []byte {
	m := hmac.New(sha256.New, r.key[:])
	m.Write(b)
	return m.Sum(nil)[:16]
}

func (r *Roaming) makeToken(u *delivery.Uplink) []byte {
	b := make([]byte, 0, tokenLen)
	b = append(b, u.Hotspot[:]...)
	b = binary.BigEndian.AppendUint32(b, u.Up.Tmst)
	b = append(b, u.PacketHash[:]...)
	b = append(b, byte(u.Up.Region), byte(u.MType))
	b = binary.BigEndian.AppendUint64(b, uint64(r.clk.Now().UnixMilli()))
	return append(b, r.mac(b)...)
}

type token struct {
	hotspot identity.PublicKey
	tmst    uint32
	hash    [32]byte
	region  wire.Region
	mtype   lorawan.MType
}

func (r *Roaming) parseToken(b []byte) (token, error) {
	var t token
	if len(b) != tokenLen {
		return t, fmt.Errorf("%w: %d bytes", ErrToken, len(b))
	}
	body := b[:tokenLen-16]
	if !hmac.Equal(r.mac(body), b[tokenLen-16:]) {
		return t, fmt.Errorf("%w: bad mac", ErrToken)
	}
	issued := time.UnixMilli(int64(binary.BigEndian.Uint64(body[70:])))
	if age := r.clk.Now().Sub(issued); age > r.cfg.TokenTTL || age < -time.Minute {
		return t, fmt.Errorf("%w: expired", ErrToken)
	}
	copy(t.hotspot[:], body[:32])
	t.tmst = binary.BigEndian.Uint32(body[32:])
	copy(t.hash[:], body[36:68])
	t.region, t.mtype = wire.Region(body[68]), lorawan.MType(body[69])
	return t, nil
}

// Sender sends PRStartReq to one hNS. Safe for concurrent use.
type Sender struct {
	r     *Roaming
	url   string
	netID string
	down  func(delivery.Downlink)
	txID  uint32
	mu    sync.Mutex
}

var _ delivery.Sender = (*Sender)(nil)

// Run returns when ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close unregisters the hNS; idempotent.
func (s *Sender) Close() error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.peers[s.netID] == s {
		delete(s.r.peers, s.netID)
	}
	return nil
}

func (s *Sender) nextTx() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txID++
	return s.txID
}

// Send posts a PRStartReq for u and relays a downlink in the answer.
func (s *Sender) Send(ctx context.Context, u *delivery.Uplink) error {
	req, reg, err := s.r.prStartReq(u, s.netID, s.nextTx())
	if err != nil {
		return err
	}
	var ans PRStartAns
	if err := s.r.post(ctx, s.url, req, &ans); err != nil {
		return err
	}
	if ans.MessageType != MsgPRStartAns || ans.TransactionID != req.TransactionID {
		return fmt.Errorf("%w: %s #%d for PRStartReq #%d", ErrAnswer, ans.MessageType, ans.TransactionID, req.TransactionID)
	}
	if ans.Result.ResultCode != ResultSuccess {
		s.r.log.Info("PRStartReq refused", "receiver", s.netID, "result", ans.Result.ResultCode, "description", ans.Result.Description)
		return nil
	}
	if len(ans.PHYPayload) == 0 || ans.DLMetaData == nil || s.down == nil {
		return nil
	}
	d, err := downlinkOf(reg, u.MType, token{hotspot: u.Hotspot, tmst: u.Up.Tmst, hash: u.PacketHash}, ans.PHYPayload, ans.DLMetaData)
	if err != nil {
		s.r.log.Warn("PRStartAns downlink", "receiver", s.netID, "err", err)
		return nil
	}
	s.down(d)
	return nil
}

func (r *Roaming) prStartReq(u *delivery.Uplink, receiver string, tx uint32) (*PRStartReq, *lorawan.Region, error) {
	up := u.Up
	reg, err := lorawan.RegionByID(up.Region)
	if err != nil {
		return nil, nil, fmt.Errorf("roaming: region %v: %w", up.Region, err)
	}
	f, err := lorawan.Parse(up.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("roaming: phypayload: %w", err)
	}
	md := ULMetaData{RecvTime: u.ReceivedAt.UTC(), RFRegion: reg.Name, GWCnt: ptr(1)}
	if f.MType == lorawan.JoinRequest {
		md.DevEUI = HexBytes(f.DevEUI[:])
	} else {
		md.DevAddr = HexBytes(f.DevAddr[:])
	}
	if dr, err := reg.DataRateByName(up.DataRate, true); err == nil {
		md.DataRate = ptr(dr.Index)
	}
	md.ULFreq = ptr(float64(up.Frequency) / 1e6)
	eui := gwmpfwd.GatewayEUI(u.Hotspot)
	md.GWInfo = []GWInfo{{ID: HexBytes(eui[:]), RFRegion: reg.Name, RSSI: ptr(int(up.Rssi)), SNR: ptr(float64(up.Snr)),
		ULToken: r.makeToken(u), DLAllowed: true}}
	return &PRStartReq{Base: Base{ProtocolVersion: ProtocolVersion, SenderID: r.cfg.NetID, ReceiverID: receiver,
		TransactionID: tx, MessageType: MsgPRStartReq}, PHYPayload: up.Payload, ULMetaData: md}, reg, nil
}

func ptr[T any](v T) *T { return &v }

func (r *Roaming) post(ctx context.Context, url string, body any, ans any) error {
	b, err := jsonMarshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHTTP, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHTTP, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHTTP, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", ErrHTTP, resp.StatusCode)
	}
	if len(rb) > MaxBody {
		return fmt.Errorf("%w: answer over %d bytes", ErrAnswer, MaxBody)
	}
	if err := decodeStrict(rb, ans); err != nil {
		return fmt.Errorf("%w: %w", ErrAnswer, err)
	}
	return nil
}

// downlinkOf turns a PHYPayload and DLMetaData answering the copy named by
// tok into a delivery.Downlink: RX1 when DLFreq1 is given, else RX2.
func downlinkOf(reg *lorawan.Region, mt lorawan.MType, tok token, phy []byte, md *DLMetaData) (delivery.Downlink, error) {
	d := delivery.Downlink{Hotspot: tok.hotspot, PacketHash: tok.hash, HasHash: true, Payload: phy}
	if len(phy) == 0 || len(phy) > lorawan.MaxFrameSize {
		return d, fmt.Errorf("%w: %d-byte PHYPayload", ErrRequest, len(phy))
	}
	if md.ClassMode != "" && md.ClassMode != "A" {
		return d, fmt.Errorf("%w: class %q", ErrRequest, md.ClassMode)
	}
	delay := time.Second
	if mt == lorawan.JoinRequest {
		delay = 5 * time.Second
	}
	if md.RXDelay1 != nil {
		if *md.RXDelay1 < 0 || *md.RXDelay1 > 15 {
			return d, fmt.Errorf("%w: RXDelay1 %d", ErrRequest, *md.RXDelay1)
		}
		if *md.RXDelay1 > 0 {
			delay = time.Duration(*md.RXDelay1) * time.Second
		}
	}
	freq, dri := md.DLFreq1, md.DataRate1
	if freq == nil {
		freq, dri = md.DLFreq2, md.DataRate2
		delay += time.Second
	}
	if freq == nil || dri == nil || *freq <= 0 || *freq > 10_000 {
		return d, fmt.Errorf("%w: no usable DLFreq/DataRate", ErrRequest)
	}
	dr, err := reg.DataRate(*dri)
	if err != nil || !dr.Downlink {
		return d, fmt.Errorf("%w: data rate %d in %s", ErrRequest, *dri, reg.Name)
	}
	d.Frequency = uint64(*freq*1e6 + 0.5)
	d.DataRate = dr.Name
	d.Tmst = tok.tmst + uint32(delay/time.Microsecond)
	return d, nil
}

// Handler serves XmitDataReq (POST, JSON) from the hNSs of dialed
// destinations and answers XmitDataAns.
func (r *Roaming) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		b, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
		var x XmitDataReq
		if err != nil || len(b) > MaxBody || decodeStrict(b, &x) != nil {
			http.Error(w, "malformed request", http.StatusBadRequest)
			return
		}
		ans := r.xmit(req.Context(), &x)
		out, _ := jsonMarshal(ans)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// xmit handles one decoded XmitDataReq.
func (r *Roaming) xmit(ctx context.Context, x *XmitDataReq) *XmitDataAns {
	ans := &XmitDataAns{Base: Base{ProtocolVersion: ProtocolVersion, SenderID: r.cfg.NetID, ReceiverID: x.SenderID,
		TransactionID: x.TransactionID, MessageType: MsgXmitDataAns}}
	fail := func(code, desc string) *XmitDataAns {
		ans.Result = Result{ResultCode: code, Description: desc}
		return ans
	}
	if x.MessageType != MsgXmitDataReq {
		return fail(ResultMalformedRequest, "MessageType must be XmitDataReq")
	}
	if x.ProtocolVersion != "1.1" && x.ProtocolVersion != "1.0" {
		return fail(ResultInvalidProtocolVersion, "")
	}
	if !strings.EqualFold(strings.TrimPrefix(x.ReceiverID, "0x"), r.cfg.NetID) {
		return fail(ResultUnknownReceiver, "")
	}
	r.mu.Lock()
	peer := r.peers[strings.ToLower(strings.TrimPrefix(x.SenderID, "0x"))]
	r.mu.Unlock()
	if peer == nil || peer.down == nil {
		return fail(ResultUnknownSender, "")
	}
	if len(x.PHYPayload) == 0 || x.DLMetaData == nil {
		return fail(ResultMalformedRequest, "PHYPayload and DLMetaData are required")
	}
	if len(x.PHYPayload) > lorawan.MaxFrameSize {
		return fail(ResultFrameSizeError, "")
	}
	var tok token
	var terr error = fmt.Errorf("%w: none", ErrToken)
	for _, g := range x.DLMetaData.GWInfo {
		if tok, terr = r.parseToken(g.ULToken); terr == nil {
			break
		}
	}
	if terr != nil {
		return fail(ResultMalformedRequest, terr.Error())
	}
	reg, err := lorawan.RegionByID(tok.region)
	if err != nil {
		return fail(ResultMalformedRequest, err.Error())
	}
	d, err := downlinkOf(reg, tok.mtype, tok, x.PHYPayload, x.DLMetaData)
	if err != nil {
		return fail(ResultMalformedRequest, err.Error())
	}
	res := make(chan error, 1)
	d.Done = func(err error) { res <- err }
	peer.down(d)
	select {
	case err := <-res:
		if err != nil {
			return fail(ResultXmitFailed, err.Error())
		}
	case <-ctx.Done():
		return fail(ResultXmitFailed, "timeout")
	case <-time.After(r.cfg.Timeout):
		return fail(ResultXmitFailed, "timeout")
	}
	ans.Result = Result{ResultCode: ResultSuccess}
	return ans
}
