package router

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/gwmpfwd"
	"github.com/hexnet/hexnet/router/lns"
	"github.com/hexnet/hexnet/router/routes"
)

// chanPub forwards every publish to a channel.
type chanPub chan [2][]byte

func (c chanPub) Publish(topic string, b []byte) error {
	c <- [2][]byte{[]byte(topic), append([]byte(nil), b...)}
	return nil
}

func waitMsg(t *testing.T, c chanPub, what string) (string, []byte) {
	t.Helper()
	select {
	case m := <-c:
		return string(m[0]), m[1]
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	return "", nil
}

// TestEndToEnd runs signed PacketUps through the router, over real Semtech
// UDP sockets to the basic LNS: a join-request is answered by a join-accept
// PacketDown to the best hotspot, then a confirmed data uplink is decrypted
// at the LNS and acknowledged; three copies with max_copies 2 charge two.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lnsPub := make(chanPub, 16)
	srv, err := lns.New(lns.Config{Listen: "127.0.0.1:0", DedupWindow: 50 * time.Millisecond},
		lns.Deps{Publisher: lnsPub, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Run(ctx)
	lnsAddr := srv.Addr(ctx)
	if err := srv.PutDevice(lns.Device{DevEUI: devEUI.String(), JoinEUI: joinEUI.String(), AppKey: appKey.String()}); err != nil {
		t.Fatal(err)
	}

	downs := make(chanPub, 16)
	e := newEnv(t, Config{}, func(d *Deps) {
		d.Clock = clock.Real{}
		d.Dial = gwmpfwd.Dialer(clock.Real{}, log)
		d.Publisher = downs
		d.Logger = log
	})
	e.addRoute("r", "payer", 2, func(r *routes.Route) {
		r.Destinations = []routes.Destination{{Protocol: routes.ProtocolGWMP, Address: lnsAddr.String()}}
	})
	if err := e.dc.Credit("payer", 100); err != nil {
		t.Fatal(err)
	}
	go e.r.Run(ctx)

	// Join: hotspot 2 hears it best, but only the first two copies are bought.
	rssi := []float32{-100, -90, -40}
	tmst := []uint32{10_000_000, 20_000_000, 30_000_000}
	jr := joinFrame(t, 77)
	for i := range 3 {
		topic, b := up(t, e.keys[i], jr, rssi[i], tmst[i])
		e.r.Handle(topic, b)
		time.Sleep(5 * time.Millisecond) // copies arrive in order
	}
	topic, b := waitMsg(t, downs, "join-accept")
	if topic != wire.DownTopic(string(e.keys[2].Address())) {
		t.Fatalf("join-accept went to %s, want the best hotspot", topic)
	}
	pd := new(wire.PacketDown)
	if err := wire.Unmarshal(b, pd); err != nil {
		t.Fatal(err)
	}
	if err := identity.Verify(pd, e.routerK.Public()); err != nil {
		t.Fatal(err)
	}
	if pd.Rx1.Tmst != tmst[2]+5_000_000 || pd.Rx2.Tmst != tmst[2]+6_000_000 || pd.Rx2.Frequency != 869_525_000 {
		t.Fatalf("join-accept windows rx1 %+v rx2 %+v", pd.Rx1, pd.Rx2)
	}
	f, err := lorawan.Parse(pd.Payload)
	if err != nil || f.MType != lorawan.JoinAccept {
		t.Fatalf("downlink is not a join-accept: %v", err)
	}
	ja, err := f.DecryptJoinAccept(appKey)
	if err != nil || !ja.ValidMIC(appKey) {
		t.Fatalf("join-accept: %v", err)
	}
	keys, err := lorawan.DeriveSessionKeys10(appKey, ja.JoinNonce, ja.NetID, 77)
	if err != nil {
		t.Fatal(err)
	}
	if bal := e.dc.Balance("payer"); bal != 100-2*DefaultJoinCost {
		t.Fatalf("balance after join %d, want %d", bal, 100-2*DefaultJoinCost)
	}

	// Confirmed data uplink with the session keys.
	plain := []byte("hello hexnet")
	phy, err := lorawan.BuildData(lorawan.DataParams{MType: lorawan.ConfirmedDataUp, DevAddr: ja.DevAddr, FCnt: 0,
		HasFPort: true, FPort: 10, FRMPayload: plain}, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		topic, b := up(t, e.keys[i], phy, rssi[2-i], tmst[i]+100_000_000)
		e.r.Handle(topic, b)
	}
	ltopic, lb := waitMsg(t, lnsPub, "decoded uplink")
	var got lns.Uplink
	if err := json.Unmarshal(lb, &got); err != nil {
		t.Fatal(err)
	}
	if ltopic != "hexnet/lns/"+devEUI.String()+"/up" || string(got.Data) != string(plain) || got.FPort != 10 || !got.Confirmed || len(got.Rx) != 2 {
		t.Fatalf("uplink at LNS: %s %+v", ltopic, got)
	}
	if got.Rx[0].GatewayEUI != gwmpfwd.GatewayEUI(e.keys[0].Public()).String() {
		t.Fatalf("gateway EUI %s", got.Rx[0].GatewayEUI)
	}
	// The ACK goes to hotspot 0, the best copy this time, 1 s after its copy.
	topic, b = waitMsg(t, downs, "ack downlink")
	if topic != wire.DownTopic(string(e.keys[0].Address())) {
		t.Fatalf("ack went to %s", topic)
	}
	pd = new(wire.PacketDown)
	_ = wire.Unmarshal(b, pd)
	if pd.Rx1.Tmst != tmst[0]+100_000_000+1_000_000 {
		t.Fatalf("ack rx1 %+v", pd.Rx1)
	}
	af, err := lorawan.Parse(pd.Payload)
	if err != nil || !af.FCtrl.ACK() || !af.ValidDataMIC(keys.NwkSKey, 0) {
		t.Fatalf("ack frame: %v %+v", err, af)
	}
	if bal := e.dc.Balance("payer"); bal != 100-2*DefaultJoinCost-2*dc.Cost(len(phy)) {
		t.Fatalf("balance after data %d", bal)
	}
}
