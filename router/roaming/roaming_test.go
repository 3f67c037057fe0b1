package roaming

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

// TestPassiveRoaming plays the hNS with an httptest server: it checks the
// PRStartReq, answers with a downlink in sync, then sends an XmitDataReq with
// the ULToken it received; forged and expired tokens are refused.
func TestPassiveRoaming(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	r, err := New(Config{NetID: "00003C"}, Deps{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan PRStartReq, 1)
	hns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p PRStartReq
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		reqs <- p
		ans := PRStartAns{Base: Base{ProtocolVersion: "1.1", SenderID: "000013", ReceiverID: p.SenderID, TransactionID: p.TransactionID,
			MessageType: MsgPRStartAns}, Result: Result{ResultCode: ResultSuccess}, PHYPayload: []byte{0x60, 1, 2, 3},
			DLMetaData: &DLMetaData{DLFreq1: ptr(868.1), DataRate1: ptr(5), RXDelay1: ptr(1), ClassMode: "A"}}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	defer hns.Close()
	downs := make(chan delivery.Downlink, 4)
	s, err := r.Dialer()(routes.Destination{Protocol: routes.ProtocolHTTPRoaming, Address: hns.URL, NetID: "000013"},
		func(d delivery.Downlink) {
			downs <- d
			if d.Done != nil {
				d.Done(nil)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hk, _ := identity.Generate()
	phy, _ := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, DevAddr: lorawan.DevAddr{0x78, 0, 0, 1}, FCnt: 3,
		HasFPort: true, FPort: 1, FRMPayload: []byte{1, 2}}, lorawan.SessionKeys{})
	up := &wire.PacketUp{Payload: phy, Tmst: 1_000_000, Rssi: -80, Snr: 6.5, Frequency: 868_300_000, DataRate: "SF9BW125", Region: wire.Region_EU868}
	u := &delivery.Uplink{PacketHash: sha256.Sum256(phy), Hotspot: hk.Public(), Up: up, MType: lorawan.UnconfirmedDataUp, ReceivedAt: clk.Now()}
	if err := s.Send(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	p := <-reqs
	md := p.ULMetaData
	if p.ProtocolVersion != "1.1" || p.SenderID != "00003c" || p.ReceiverID != "000013" || p.MessageType != MsgPRStartReq ||
		!bytes.Equal(p.PHYPayload, phy) || !bytes.Equal(md.DevAddr, []byte{0x78, 0, 0, 1}) || md.DataRate == nil || *md.DataRate != 3 ||
		md.ULFreq == nil || *md.ULFreq != 868.3 || md.RFRegion != "EU868" || *md.GWCnt != 1 || len(md.GWInfo) != 1 ||
		*md.GWInfo[0].RSSI != -80 || !md.GWInfo[0].DLAllowed || len(md.GWInfo[0].ULToken) != tokenLen || !md.RecvTime.Equal(clk.Now()) {
		t.Fatalf("PRStartReq %+v", p)
	}
	d := <-downs
	if d.Hotspot != hk.Public() || !d.HasHash || d.PacketHash != u.PacketHash || d.Tmst != 2_000_000 ||
		d.Frequency != 868_100_000 || d.DataRate != "SF7BW125" {
		t.Fatalf("sync downlink %+v", d)
	}

	tok := md.GWInfo[0].ULToken
	h := r.Handler()
	xmit := func(x XmitDataReq) XmitDataAns {
		b, _ := json.Marshal(x)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b)))
		var a XmitDataAns
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("answer %q: %v", rec.Body.String(), err)
		}
		return a
	}
	base := Base{ProtocolVersion: "1.1", SenderID: "000013", ReceiverID: "00003C", TransactionID: 77, MessageType: MsgXmitDataReq}
	ok := XmitDataReq{Base: base, PHYPayload: []byte{0x60, 9}, DLMetaData: &DLMetaData{DLFreq2: ptr(869.525), DataRate2: ptr(0),
		RXDelay1: ptr(1), ClassMode: "A", GWInfo: []GWInfo{{ULToken: tok}}}}
	a := xmit(ok)
	if a.Result.ResultCode != ResultSuccess || a.MessageType != MsgXmitDataAns || a.TransactionID != 77 || a.ReceiverID != "000013" {
		t.Fatalf("XmitDataAns %+v", a)
	}
	d = <-downs
	if d.Tmst != 3_000_000 || d.Frequency != 869_525_000 || d.DataRate != "SF12BW125" || d.PacketHash != u.PacketHash {
		t.Fatalf("xmit downlink %+v", d)
	}
	forged := append([]byte(nil), tok...)
	forged[0] ^= 1
	for name, c := range map[string]struct {
		mod  func(*XmitDataReq)
		want string
	}{
		"forged token":     {func(x *XmitDataReq) { x.DLMetaData.GWInfo = []GWInfo{{ULToken: forged}} }, ResultMalformedRequest},
		"no token":         {func(x *XmitDataReq) { x.DLMetaData.GWInfo = nil }, ResultMalformedRequest},
		"unknown sender":   {func(x *XmitDataReq) { x.SenderID = "000099" }, ResultUnknownSender},
		"unknown receiver": {func(x *XmitDataReq) { x.ReceiverID = "000001" }, ResultUnknownReceiver},
		"class C":          {func(x *XmitDataReq) { x.DLMetaData.ClassMode = "C" }, ResultMalformedRequest},
		"no payload":       {func(x *XmitDataReq) { x.PHYPayload = nil }, ResultMalformedRequest},
		"oversize":         {func(x *XmitDataReq) { x.PHYPayload = make([]byte, 300) }, ResultFrameSizeError},
		"bad data rate":    {func(x *XmitDataReq) { x.DLMetaData.DataRate2 = ptr(15) }, ResultMalformedRequest},
		"bad version":      {func(x *XmitDataReq) { x.ProtocolVersion = "9" }, ResultInvalidProtocolVersion},
	} {
		x := ok
		md := *ok.DLMetaData
		x.DLMetaData = &md
		c.mod(&x)
		if a := xmit(x); a.Result.ResultCode != c.want {
			t.Errorf("%s: %s, want %s", name, a.Result.ResultCode, c.want)
		}
	}
	clk.Advance(DefaultTokenTTL + time.Second)
	if a := xmit(ok); a.Result.ResultCode != ResultMalformedRequest {
		t.Fatalf("expired token: %s", a.Result.ResultCode)
	}
	select {
	case d := <-downs:
		t.Fatalf("refused request relayed %+v", d)
	default:
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte("{"))))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("malformed body: %d", rec.Code)
	}
}

// TestSendErrors checks that transport failures and bad answers are errors
// (the router backs off) while a refusal by the hNS is not.
func TestSendErrors(t *testing.T) {
	r, _ := New(Config{NetID: "00003c", Timeout: 2 * time.Second}, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	answer := func(w http.ResponseWriter, req *http.Request) {}
	hns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { answer(w, req) }))
	defer hns.Close()
	s, err := r.Dialer()(routes.Destination{Address: hns.URL, NetID: "000013"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := identity.Generate()
	phy, _ := lorawan.BuildData(lorawan.DataParams{MType: lorawan.UnconfirmedDataUp, FCnt: 1}, lorawan.SessionKeys{})
	u := &delivery.Uplink{Hotspot: hk.Public(), Up: &wire.PacketUp{Payload: phy, DataRate: "SF7BW125", Region: wire.Region_EU868, Frequency: 868_100_000}}
	reply := func(tx func(PRStartReq) any) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, req *http.Request) {
			var p PRStartReq
			_ = json.NewDecoder(req.Body).Decode(&p)
			_ = json.NewEncoder(w).Encode(tx(p))
		}
	}
	for name, c := range map[string]struct {
		h    func(http.ResponseWriter, *http.Request)
		fail bool
	}{
		"500":     {func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "x", 500) }, true},
		"garbage": {func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) }, true},
		"wrong tx": {reply(func(p PRStartReq) any {
			return PRStartAns{Base: Base{MessageType: MsgPRStartAns, TransactionID: p.TransactionID + 1}}
		}), true},
		"refused": {reply(func(p PRStartReq) any {
			return PRStartAns{Base: Base{MessageType: MsgPRStartAns, TransactionID: p.TransactionID}, Result: Result{ResultCode: "UnknownDevAddr"}}
		}), false},
	} {
		answer = c.h
		if err := s.Send(context.Background(), u); (err != nil) != c.fail {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, d := range []routes.Destination{{Address: "ftp://x", NetID: "000013"}, {Address: hns.URL, NetID: "13"}} {
		if _, err := r.Dialer()(d, nil); err == nil {
			t.Errorf("dialed %+v", d)
		}
	}
	if err := (Config{NetID: "zz"}).Validate(); err == nil {
		t.Error("bad NetID accepted")
	}
}

func FuzzXmitDataReq(f *testing.F) {
	f.Add([]byte(`{"ProtocolVersion":"1.1","SenderID":"000013","ReceiverID":"00003c","TransactionID":1,"MessageType":"XmitDataReq","PHYPayload":"6001","DLMetaData":{"DLFreq1":868.1,"DataRate1":5,"ClassMode":"A","GWInfo":[{"ULToken":"00"}]}}`))
	r, _ := New(Config{NetID: "00003c"}, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_, _ = r.Dialer()(routes.Destination{Address: "http://127.0.0.1:1", NetID: "000013"}, func(d delivery.Downlink) { d.Done(nil) })
	h := r.Handler()
	f.Fuzz(func(t *testing.T, b []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b)))
		if rec.Code == http.StatusOK {
			var a XmitDataAns
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.Result.ResultCode == ResultSuccess {
				t.Fatalf("answer %q (%v): success without a valid token", rec.Body.String(), err)
			}
		}
	})
}
