package gwmptest

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/gwmp"
)

// seen is one datagram the test server received.
type seen struct {
	from *net.UDPAddr
	p    gwmp.Packet
}

// server is a tiny GWMP server: it acknowledges PUSH_DATA and PULL_DATA
// (unless told not to) and records everything it receives.
type server struct {
	conn *net.UDPConn
	got  chan seen
	ack  bool
}

// newServer starts a server on 127.0.0.1:0 that stops with the test.
func newServer(t *testing.T, ack bool) *server {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{conn: c, got: make(chan seen, 256), ack: ack}
	var wg sync.WaitGroup
	wg.Go(s.serve)
	t.Cleanup(func() { c.Close(); wg.Wait() })
	return s
}

// serve answers and records datagrams until the socket closes.
func (s *server) serve() {
	buf := make([]byte, gwmp.MaxDatagramSize)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p, err := gwmp.Decode(buf[:n])
		if err != nil {
			continue
		}
		if s.ack {
			var reply gwmp.Packet
			switch p := p.(type) {
			case *gwmp.PushData:
				reply = p.Ack()
			case *gwmp.PullData:
				reply = p.Ack()
			}
			if reply != nil {
				b, _ := reply.MarshalBinary()
				s.conn.WriteToUDP(b, from)
			}
		}
		select {
		case s.got <- seen{from, p}:
		default:
		}
	}
}

// addr returns the server's address.
func (s *server) addr() string { return s.conn.LocalAddr().String() }

// next returns the next received packet of type typ, skipping others.
func (s *server) next(t *testing.T, typ gwmp.Type) seen {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case v := <-s.got:
			if v.p.Type() == typ {
				return v
			}
		case <-deadline:
			t.Fatalf("server received no %s", typ)
		}
	}
}

// send encodes p and sends it to addr.
func (s *server) send(t *testing.T, p gwmp.Packet, to *net.UDPAddr) {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.conn.WriteToUDP(b, to); err != nil {
		t.Fatal(err)
	}
}

// start creates a forwarder, runs it until the test ends and returns it.
func start(t *testing.T, cfg Config) *Forwarder {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Close()
	})
	return f
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

var gw = gwmp.EUI{0xaa, 0x55, 0x5a, 0, 0, 0, 0, 0x42}

// txpk returns a valid downlink.
func txpk(t *testing.T, tmst uint32) gwmp.TXPK {
	dr, err := gwmp.LoRaDataRate(9, 125)
	if err != nil {
		t.Fatal(err)
	}
	x := gwmp.TXPK{Tmst: &tmst, Powe: 14, Modu: gwmp.ModulationLoRa, DatR: dr, CodR: "4/5", IPol: true}
	x.SetFreqHz(868100000)
	x.SetData([]byte{0x60, 1, 2, 3, 4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef})
	return x
}

// rxpk returns a valid uplink.
func rxpk(t *testing.T) gwmp.RXPK {
	dr, err := gwmp.LoRaDataRate(7, 125)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := gwmp.RXPK{Time: &ts, Tmst: 1000, Chan: 1, Stat: gwmp.CRCOK, Modu: gwmp.ModulationLoRa, DatR: dr, CodR: "4/5", RSSI: -60, LSNR: 7.5}
	r.SetFreqHz(868300000)
	r.SetData([]byte{0x40, 4, 3, 2, 1, 0, 1, 0, 1, 0xaa})
	return r
}

func TestForwarderPushPullAndDownlinks(t *testing.T) {
	srv := newServer(t, true)
	f := start(t, Config{
		Server: srv.addr(), GatewayEUI: gw, KeepAlive: -1,
		TxAckError: func(n int, _ *gwmp.PullResp) gwmp.TxError {
			if n == 0 {
				return gwmp.TxErrorTooLate
			}
			return ""
		},
	})
	ctx := context.Background()

	if err := f.Pull(ctx); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	pull := srv.next(t, gwmp.TypePullData)
	if pull.from.String() != f.DownAddr().String() || pull.p.(*gwmp.PullData).GatewayEUI != gw {
		t.Fatalf("PULL_DATA from %v with %+v, want from %v", pull.from, pull.p, f.DownAddr())
	}

	up := []gwmp.RXPK{rxpk(t)}
	stat := &gwmp.Stat{RXNb: 1, RXOK: 1, RXFW: 1, ACKR: 100}
	tok, err := f.Push(ctx, up, stat)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	push := srv.next(t, gwmp.TypePushData)
	pd := push.p.(*gwmp.PushData)
	if push.from.String() != f.UpAddr().String() || push.from.Port == f.DownAddr().Port {
		t.Fatalf("PUSH_DATA from %v, want the upstream socket %v (down %v)", push.from, f.UpAddr(), f.DownAddr())
	}
	if pd.Token != tok || pd.Version != gwmp.Version2 || pd.GatewayEUI != gw || !reflect.DeepEqual(pd.RXPK, up) || !reflect.DeepEqual(pd.Stat, stat) {
		t.Fatalf("server got %+v, want token %#04x and %+v", pd, tok, up)
	}

	// Two downlinks: the first is refused TOO_LATE, the second accepted.
	for i, token := range []uint16{0x1111, 0x2222} {
		srv.send(t, &gwmp.PullResp{Header: gwmp.Header{Version: 2, Token: token}, TXPK: txpk(t, uint32(5000+i))}, pull.from)
	}
	wantErr := []gwmp.TxError{gwmp.TxErrorTooLate, ""}
	for i, token := range []uint16{0x1111, 0x2222} {
		ack := srv.next(t, gwmp.TypeTxAck)
		a := ack.p.(*gwmp.TxAck)
		if a.Token != token || a.GatewayEUI != gw || a.Error != wantErr[i] || ack.from.String() != f.DownAddr().String() {
			t.Fatalf("TX_ACK %d = %+v from %v, want token %#04x error %q", i, a, ack.from, token, wantErr[i])
		}
		select {
		case d := <-f.Downlinks():
			if d.Seq != i || d.Error != wantErr[i] || d.Resp.Token != token || *d.Resp.TXPK.Tmst != uint32(5000+i) || d.At.IsZero() {
				t.Fatalf("downlink %d = %+v", i, d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("downlink %d not delivered", i)
		}
	}

	st := f.Stats()
	want := Stats{PushSent: 1, PushAcked: 1, PullSent: 1, PullAcked: 1, Downlinks: 2, TxAcks: 2}
	if st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
}

func TestForwarderNoAck(t *testing.T) {
	srv := newServer(t, false)
	f := start(t, Config{Server: srv.addr(), GatewayEUI: gw, KeepAlive: -1, AckTimeout: 50 * time.Millisecond})
	if _, err := f.Push(context.Background(), []gwmp.RXPK{rxpk(t)}, nil); !errors.Is(err, ErrNoAck) {
		t.Fatalf("Push without server ack = %v, want ErrNoAck", err)
	}
	if err := f.Pull(context.Background()); !errors.Is(err, ErrNoAck) {
		t.Fatalf("Pull without server ack = %v, want ErrNoAck", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Pull(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull with cancelled ctx = %v", err)
	}
	if st := f.Stats(); st.PushSent != 1 || st.PushAcked != 0 || st.PullSent != 2 || st.PullAcked != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestForwarderKeepalive(t *testing.T) {
	srv := newServer(t, true)
	f := start(t, Config{Server: srv.addr(), GatewayEUI: gw, KeepAlive: 5 * time.Millisecond})
	tokens := map[uint16]bool{}
	for len(tokens) < 3 {
		p := srv.next(t, gwmp.TypePullData).p.(*gwmp.PullData)
		tokens[p.Token] = true
	}
	eventually(t, "keepalive acks", func() bool { return f.Stats().PullAcked >= 3 })
	if st := f.Stats(); st.Unexpected != 0 {
		t.Fatalf("acks of keepalives counted unexpected: %+v", st)
	}
}

func TestForwarderVersion1(t *testing.T) {
	srv := newServer(t, true)
	f := start(t, Config{Server: srv.addr(), GatewayEUI: gw, Version: 1, KeepAlive: -1})
	if err := f.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	pull := srv.next(t, gwmp.TypePullData)
	if pull.p.ProtocolVersion() != 1 {
		t.Fatalf("PULL_DATA version %d", pull.p.ProtocolVersion())
	}
	srv.send(t, &gwmp.PullResp{Header: gwmp.Header{Version: 1}, TXPK: txpk(t, 1)}, pull.from)
	select {
	case d := <-f.Downlinks():
		if d.Resp.Version != 1 {
			t.Fatalf("downlink %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no downlink")
	}
	// The TX_ACK, if any, is sent before delivery.
	if st := f.Stats(); st.TxAcks != 0 {
		t.Fatalf("version 1 forwarder sent %d TX_ACK", st.TxAcks)
	}
}

func TestForwarderRejectsMisroutedAndMalformed(t *testing.T) {
	srv := newServer(t, true)
	f := start(t, Config{Server: srv.addr(), GatewayEUI: gw, KeepAlive: -1})
	if _, err := f.Push(context.Background(), nil, &gwmp.Stat{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A downlink sent to the upstream socket is ignored, as lora_pkt_fwd
	// ignores it.
	srv.send(t, &gwmp.PullResp{Header: gwmp.Header{Version: 2, Token: 9}, TXPK: txpk(t, 1)}, f.UpAddr())
	eventually(t, "misrouted downlink counted", func() bool { return f.Stats().Unexpected == 1 })
	if _, err := srv.conn.WriteToUDP([]byte{2, 0, 1, 3, '{'}, f.DownAddr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "malformed datagram counted", func() bool { return f.Stats().Malformed == 1 })
	select {
	case d := <-f.Downlinks():
		t.Fatalf("misrouted downlink delivered: %+v", d)
	default:
	}
	if st := f.Stats(); st.TxAcks != 0 || st.Downlinks != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	// Raw sends reach the server unchanged.
	if err := f.SendUp([]byte{2, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
}

func TestForwarderLifecycle(t *testing.T) {
	srv := newServer(t, true)
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Server succeeded")
	}
	if _, err := New(Config{Server: srv.addr(), Version: 3}); !errors.Is(err, gwmp.ErrVersion) {
		t.Fatalf("New with version 3 = %v", err)
	}
	f, err := New(Config{Server: srv.addr(), KeepAlive: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	if err := f.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := f.Push(context.Background(), nil, &gwmp.Stat{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close = %v", err)
	}
}
