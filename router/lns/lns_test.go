package lns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/lorawan"
)

type capPub chan []byte

func (c capPub) Publish(_ string, b []byte) error { c <- b; return nil }

var (
	nwk  = lorawan.Key{1}
	app  = lorawan.Key{2}
	addr = lorawan.DevAddr{0x26, 0, 0, 1}
)

func abpFrame(t *testing.T, fcnt uint32, data string) []byte {
	b, err := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, DevAddr: addr, FCnt: fcnt,
		HasFPort: true, FPort: 2, FRMPayload: []byte(data)}, lorawan.SessionKeys{NwkSKey: nwk, AppSKey: app})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestABPCountersAndWebhook: ABP uplinks over a real UDP socket are
// decrypted, a replayed counter is refused, the 16-bit counter rolls into
// 32 bits, and every uplink reaches MQTT and the webhook.
func TestABPCountersAndWebhook(t *testing.T) {
	hooks := make(chan []byte, 8)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		hooks <- buf.Bytes()
	}))
	defer hs.Close()
	pub := make(capPub, 8)
	s, err := New(Config{Listen: "127.0.0.1:0", DedupWindow: 20 * time.Millisecond, WebhookURL: hs.URL}, Deps{Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	la := s.Addr(ctx)
	if err := s.PutDevice(Device{DevEUI: "0102030405060708", DevAddr: addr.String(), NwkSKey: nwk.String(), AppSKey: app.String(),
		FCntUp: 0xfffe, HasUp: true}); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, la)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	push := func(phy []byte) {
		rx := gwmp.RXPK{Tmst: 1, Stat: gwmp.CRCOK, Modu: gwmp.ModulationLoRa, CodR: "4/5", RSSI: -80, LSNR: 7}
		rx.SetFreqHz(868_100_000)
		rx.DatR, _ = gwmp.ParseDataRate("SF7BW125")
		rx.SetData(phy)
		b, err := (&gwmp.PushData{Header: gwmp.Header{Version: 2, Token: 9}, GatewayEUI: gwmp.EUI{1}, RXPK: []gwmp.RXPK{rx}}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil || buf[3] != byte(gwmp.TypePushAck) || n != 4 {
			t.Fatalf("no PUSH_ACK: %v", err)
		}
	}
	expect := func(fcnt uint32, data string) {
		t.Helper()
		select {
		case b := <-pub:
			var u Uplink
			_ = json.Unmarshal(b, &u)
			if u.FCnt != fcnt || string(u.Data) != data || len(u.Rx) != 1 || u.Rx[0].RSSI != -80 {
				t.Fatalf("uplink %+v, want fcnt %d %q", u, fcnt, data)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no uplink for fcnt %d", fcnt)
		}
		select {
		case <-hooks:
		case <-time.After(5 * time.Second):
			t.Fatal("no webhook call")
		}
	}
	push(abpFrame(t, 0xffff, "a"))
	expect(0xffff, "a")
	push(abpFrame(t, 0x10000, "b")) // on air 0x0000: rolls over to 32 bits
	expect(0x10000, "b")
	push(abpFrame(t, 0xffff, "replay"))
	push(abpFrame(t, 0x10001, "c"))
	expect(0x10001, "c") // the replay never showed up
	d, _ := s.Device("0102030405060708")
	if d.FCntUp != 0x10001 {
		t.Fatalf("FCntUp %x", d.FCntUp)
	}
}

func TestDeviceAPI(t *testing.T) {
	s, _ := New(Config{}, Deps{})
	srv := httptest.NewServer(s.Handler(""))
	defer srv.Close()
	put := func(path, body string) int {
		req, _ := http.NewRequest("PUT", srv.URL+path, bytes.NewBufferString(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := put("/devices/0102030405060708", `{"dev_eui":"0102030405060708","join_eui":"0000000000000001","app_key":"000102030405060708090A0B0C0D0E0F"}`); c != 200 {
		t.Fatalf("put %d", c)
	}
	if c := put("/devices/0102030405060708", `{"dev_eui":"0102030405060708"}`); c != 400 {
		t.Fatalf("device without keys: %d", c)
	}
	if c := put("/devices/0102030405060709", `{"dev_eui":"0102030405060708","app_key":"000102030405060708090a0b0c0d0e0f","join_eui":"0000000000000001"}`); c != 400 {
		t.Fatalf("path mismatch: %d", c)
	}
	resp, err := http.Post(srv.URL+"/devices/0102030405060708/queue", "application/json", bytes.NewBufferString(`{"f_port":1,"data":"AQI="}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("enqueue %v %v", err, resp.StatusCode)
	}
	d, err := s.Device("0102030405060708")
	if err != nil || len(d.Queue) != 1 || d.AppKey != "000102030405060708090a0b0c0d0e0f" {
		t.Fatalf("%+v %v", d, err)
	}
	if err := s.Enqueue("0102030405060708", QueueItem{FPort: 0}); !errors.Is(err, ErrInvalidDevice) {
		t.Fatal("fport 0 accepted")
	}
}

// FuzzDatagram: arbitrary datagrams and device JSON never panic the LNS.
func FuzzDatagram(f *testing.F) {
	f.Add([]byte{2, 0, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8}, []byte(`{"dev_eui":"0102030405060708","dev_addr":"26000001","nwk_s_key":"01000000000000000000000000000000","app_s_key":"02000000000000000000000000000000"}`))
	f.Add([]byte(`{}`), []byte(`{"dev_eui":"x"}`))
	s, err := New(Config{DedupWindow: time.Nanosecond}, Deps{})
	if err != nil {
		f.Fatal(err)
	}
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close()
	s.conn = conn
	f.Fuzz(func(t *testing.T, dgram, dev []byte) {
		if d, err := decodeDevice(dev); err == nil {
			_ = s.PutDevice(*d)
		}
		s.datagram(dgram, from)
		s.mu.Lock()
		var gs []*frameGroup
		for h, g := range s.pending {
			gs = append(gs, g)
			delete(s.pending, h)
		}
		s.mu.Unlock()
		for _, g := range gs {
			s.handle(g)
		}
	})
}
