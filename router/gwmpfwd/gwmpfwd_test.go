package gwmpfwd

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
)

// readPacket reads the next datagram the LNS socket receives, or nil after
// wait.
func readPacket(t *testing.T, lns *net.UDPConn, wait time.Duration) (gwmp.Packet, *net.UDPAddr) {
	t.Helper()
	buf := make([]byte, 65536)
	_ = lns.SetReadDeadline(time.Now().Add(wait))
	n, from, err := lns.ReadFromUDP(buf)
	if err != nil {
		return nil, nil
	}
	p, err := gwmp.Decode(buf[:n])
	if err != nil {
		t.Fatalf("router sent a malformed datagram: %v", err)
	}
	return p, from
}

// TestTxAckRelaysTheHotspotsReport: a PULL_RESP from the LNS becomes a
// downlink; the LNS's TX_ACK (same token, same gateway) carries what the
// hotspot reported, and nothing is sent for outcomes Semtech UDP has no
// word for. On real UDP sockets.
func TestTxAckRelaysTheHotspotsReport(t *testing.T) {
	lns, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer lns.Close()
	downs := make(chan delivery.Downlink, 4)
	s, err := New(Config{Address: lns.LocalAddr().String()}, func(d delivery.Downlink) { downs <- d }, clock.Real{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, _ := identity.Generate()
	if _, err := s.gateway(k.Public()); err != nil {
		t.Fatal(err)
	}
	p, gw := readPacket(t, lns, 5*time.Second)
	if _, ok := p.(*gwmp.PullData); !ok {
		t.Fatalf("first datagram %T, want PULL_DATA", p)
	}
	dr, _ := gwmp.LoRaDataRate(9, 125)
	tmst := uint32(5000)
	tx := gwmp.TXPK{Tmst: &tmst, Powe: 14, Modu: gwmp.ModulationLoRa, DatR: dr, CodR: "4/5", IPol: true}
	tx.SetFreqHz(868_100_000)
	tx.SetData([]byte{0x60, 1, 2, 3, 4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef})

	for i, c := range []struct {
		status wire.TxStatus
		want   gwmp.TxError // "" : no TX_ACK
	}{
		{wire.TxStatus_TX_TOO_LATE, gwmp.TxErrorTooLate},
		{wire.TxStatus_TX_OK, gwmp.TxErrorNone},
		{wire.TxStatus_TX_NO_FORWARDER, ""},
	} {
		token := uint16(0x4200 + i)
		b, err := (&gwmp.PullResp{Header: gwmp.Header{Version: gwmp.Version2, Token: token}, TXPK: tx}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lns.WriteToUDP(b, gw); err != nil {
			t.Fatal(err)
		}
		var d delivery.Downlink
		select {
		case d = <-downs:
		case <-time.After(5 * time.Second):
			t.Fatal("no downlink from PULL_RESP")
		}
		if d.Hotspot != k.Public() || d.Ack == nil || d.Frequency != 868_100_000 {
			t.Fatalf("downlink %+v", d)
		}
		// Nothing is acknowledged before the hotspot reports.
		if p, _ := readPacket(t, lns, 100*time.Millisecond); p != nil {
			if _, ok := p.(*gwmp.TxAck); ok {
				t.Fatalf("%v: TX_ACK before the hotspot reported", c.status)
			}
		}
		d.Ack(c.status)
		p, _ := readPacket(t, lns, time.Second)
		for p != nil {
			if _, ok := p.(*gwmp.PullData); !ok { // keepalives may interleave
				break
			}
			p, _ = readPacket(t, lns, time.Second)
		}
		switch ack, ok := p.(*gwmp.TxAck); {
		case c.want == "" && p != nil:
			t.Errorf("%v: got %T %+v, want nothing", c.status, p, p)
		case c.want != "" && !ok:
			t.Errorf("%v: got %T, want TX_ACK %s", c.status, p, c.want)
		case c.want != "" && (ack.Token != token || ack.GatewayEUI != GatewayEUI(k.Public()) || ack.Error != c.want):
			t.Errorf("%v: TX_ACK %+v, want token %x error %s", c.status, ack, token, c.want)
		}
	}
}
