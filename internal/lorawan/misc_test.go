package lorawan

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/brocaar/lorawan/airtime"
)

func TestAirtime(t *testing.T) {
	cases := []struct {
		name                string
		pl, sf, bw, cr, pre int
		explicit, crc       bool
		want                time.Duration
	}{
		// Hand-computed from AN1200.13.
		// 10 B SF7BW125 4/5: ceil((80−28+28+16)/28)=4 → 8+4·5=28 sym; (12.25+28)·1.024 ms.
		{"SF7 10B", 10, 7, 125, 1, 8, true, true, 41216 * time.Microsecond},
		// 51 B SF12BW125 4/5, DE=1: ceil((408−48+44)/40)=11 → 63 sym; (12.25+63)·32.768 ms.
		{"SF12 51B beacon", 51, 12, 125, 1, 8, true, true, 2465792 * time.Microsecond},
		// 51 B SF9BW125: ceil((408−36+44)/36)=12 → 68 sym; 80.25·4.096 ms.
		{"SF9 51B beacon", 51, 9, 125, 1, 8, true, true, 328704 * time.Microsecond},
		// Implicit header, no CRC, SF7: ceil((80−28+28−20)/28)=3 → 23 sym; 35.25·1.024.
		{"implicit no CRC", 10, 7, 125, 1, 8, false, false, 36096 * time.Microsecond},
		// Payload term clamps at 0: 0 B SF12 implicit no CRC: 8 sym; 20.25·32.768.
		{"empty clamps", 0, 12, 125, 1, 8, false, false, 663552 * time.Microsecond},
		{"bad sf", 10, 13, 125, 1, 8, true, true, 0},
		{"bad cr", 10, 7, 125, 5, 8, true, true, 0},
		{"bad bw", 10, 7, 0, 1, 8, true, true, 0},
	}
	for _, c := range cases {
		if got := Airtime(c.pl, c.sf, c.bw, c.cr, c.pre, c.explicit, c.crc); got != c.want {
			t.Errorf("%s: Airtime = %v, want %v", c.name, got, c.want)
		}
	}
	// Agree with brocaar's airtime (CRC on, explicit header) across the grid.
	for sf := 7; sf <= 12; sf++ {
		for _, bw := range []int{125, 250, 500} {
			for pl := 0; pl <= 255; pl += 17 {
				for cr := 1; cr <= 4; cr++ {
					want, err := airtime.CalculateLoRaAirtime(pl, sf, bw, 8, airtime.CodingRate(cr), true, sf >= 11 && bw == 125)
					if err != nil {
						t.Fatal(err)
					}
					if got := Airtime(pl, sf, bw, cr, 8, true, true); got != want {
						t.Fatalf("SF%d BW%d %dB CR%d: %v, brocaar %v", sf, bw, pl, cr, got, want)
					}
				}
			}
		}
	}
}

func TestFullFCnt(t *testing.T) {
	cases := []struct {
		last   uint32
		fcnt16 uint16
		want   uint32
		ok     bool
	}{
		{0, 0, 0, true},
		{0, 1, 1, true},
		{10, 10, 10, true},               // retransmission
		{10, 5, 0x10005, false},          // behind: taken as a rollover, far beyond the gap
		{0xfffe, 2, 0x10002, true},       // rollover
		{0x1fff0, 0x0010, 0x20010, true}, // rollover of the second window
		{100, 100 + MaxFCntGap, 100 + MaxFCntGap, true},
		{100, 101 + MaxFCntGap, 101 + MaxFCntGap, false},
		{0xffffffff, 0, 0, false}, // the 32-bit counter wraps: not accepted
	}
	for _, c := range cases {
		got := FullFCnt(c.last, c.fcnt16)
		if got != c.want || FCntInWindow(c.last, got) != c.ok {
			t.Errorf("FullFCnt(%#x, %#x) = %#x (ok %v), want %#x (ok %v)", c.last, c.fcnt16, got, FCntInWindow(c.last, got), c.want, c.ok)
		}
	}
}

func TestBuildDataRoundTrip(t *testing.T) {
	keys := SessionKeys{NwkSKey: Key{1, 2, 3}, AppSKey: Key{4, 5, 6}}
	for _, mt := range []MType{UnconfirmedDataUp, UnconfirmedDataDown, ConfirmedDataUp, ConfirmedDataDown} {
		for _, port := range []uint8{0, 1, 223} {
			p := DataParams{MType: mt, DevAddr: DevAddr{0x26, 1, 2, 3}, FCnt: 0x12345, ACK: true,
				HasFPort: true, FPort: port, FRMPayload: bytes.Repeat([]byte{0xa5}, 40)}
			if port != 0 {
				p.FOpts = []byte{0x02}
			}
			b, err := BuildData(p, keys)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if f.MType != mt || f.DevAddr != p.DevAddr || f.FCnt != 0x2345 || !f.FCtrl.ACK() || f.FPort != port || !bytes.Equal(f.FOpts, p.FOpts) {
				t.Errorf("%s port %d: parsed %+v", mt, port, f)
			}
			if !f.ValidDataMIC(keys.NwkSKey, p.FCnt) || f.ValidDataMIC(keys.NwkSKey, uint32(f.FCnt)) {
				t.Errorf("%s port %d: MIC does not bind the 32-bit counter", mt, port)
			}
			plain, err := f.DecryptFRMPayload(keys, p.FCnt)
			if err != nil || !bytes.Equal(plain, p.FRMPayload) {
				t.Errorf("%s port %d: decrypted %x, %v", mt, port, plain, err)
			}
			// The other key must not decrypt it.
			swapped := SessionKeys{NwkSKey: keys.AppSKey, AppSKey: keys.NwkSKey}
			if other, _ := f.DecryptFRMPayload(swapped, p.FCnt); bytes.Equal(other, p.FRMPayload) {
				t.Errorf("%s port %d: wrong key decrypted", mt, port)
			}
		}
	}
}

func TestBuildRejects(t *testing.T) {
	keys := SessionKeys{}
	bad := []DataParams{
		{MType: JoinRequest},
		{MType: UnconfirmedDataUp, FOpts: make([]byte, 16)},
		{MType: UnconfirmedDataUp, FRMPayload: []byte{1}},
		{MType: UnconfirmedDataUp, HasFPort: true, FPort: 0, FOpts: []byte{2}},
		{MType: UnconfirmedDataUp, HasFPort: true, FPort: 1, FRMPayload: make([]byte, 250)},
	}
	for i, p := range bad {
		if _, err := BuildData(p, keys); err == nil {
			t.Errorf("case %d: BuildData accepted %+v", i, p)
		}
	}
	for i, p := range []JoinAcceptParams{
		{JoinNonce: 1 << 24}, {RX1DROffset: 8}, {RX2DataRate: 16}, {RxDelay: 16}, {CFList: make([]byte, 15)},
	} {
		if _, err := BuildJoinAccept(p, Key{}); !errors.Is(err, ErrBadParam) {
			t.Errorf("case %d: BuildJoinAccept err = %v", i, err)
		}
	}
	if _, err := DeriveSessionKeys10(Key{}, 1<<24, NetID{}, 0); !errors.Is(err, ErrBadParam) {
		t.Error("24-bit JoinNonce overflow accepted")
	}
	if _, err := EncryptFOpts(Key{}, false, true, DevAddr{}, 0, make([]byte, 16)); !errors.Is(err, ErrBadParam) {
		t.Error("16 FOpts bytes accepted")
	}
}

// TestJoinRoundTrip runs an OTAA exchange the way the devnet will: device
// join-request, LNS join-accept with a CFList, device decrypts it, both
// derive the same session keys, and an uplink verifies with them.
func TestJoinRoundTrip(t *testing.T) {
	appKey := Key{0xde, 0xad, 0xbe, 0xef}
	joinEUI, devEUI := EUI64{1, 2, 3, 4, 5, 6, 7, 8}, EUI64{8, 7, 6, 5, 4, 3, 2, 1}
	jrb, err := BuildJoinRequest(joinEUI, devEUI, 0x1234, appKey)
	if err != nil {
		t.Fatal(err)
	}
	jr, err := Parse(jrb)
	if err != nil || !jr.ValidJoinRequestMIC(appKey) || jr.DevNonce != 0x1234 {
		t.Fatalf("join-request %+v, %v", jr, err)
	}
	cf := bytes.Repeat([]byte{0x18}, 15)
	cf = append(cf, 0) // CFList type 0: channel frequencies
	jab, err := BuildJoinAccept(JoinAcceptParams{JoinNonce: 0xabcdef, NetID: NetID{0, 0, 0x13}, DevAddr: DevAddr{0x26, 0, 0, 1},
		RX1DROffset: 2, RX2DataRate: 3, RxDelay: 1, CFList: cf}, appKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(jab) != JoinAcceptCFListSize {
		t.Fatalf("join-accept of %d bytes", len(jab))
	}
	jaf, err := Parse(jab)
	if err != nil {
		t.Fatal(err)
	}
	ja, err := jaf.DecryptJoinAccept(appKey)
	if err != nil || !ja.ValidMIC(appKey) {
		t.Fatalf("join-accept %+v, %v", ja, err)
	}
	if ja.JoinNonce != 0xabcdef || ja.NetID != (NetID{0, 0, 0x13}) || ja.DevAddr != (DevAddr{0x26, 0, 0, 1}) ||
		ja.RX1DROffset() != 2 || ja.RX2DataRate() != 3 || ja.RxDelay != 1 || !bytes.Equal(ja.CFList, cf) || ja.OptNeg() {
		t.Errorf("join-accept fields %+v", ja)
	}
	if bad, _ := jaf.DecryptJoinAccept(Key{}); bad.ValidMIC(Key{}) {
		t.Error("join-accept verified with the wrong key")
	}
	ks, err := DeriveSessionKeys10(appKey, ja.JoinNonce, ja.NetID, jr.DevNonce)
	if err != nil || ks.NwkSKey == ks.AppSKey {
		t.Fatalf("keys %+v, %v", ks, err)
	}
	up, err := BuildData(DataParams{MType: ConfirmedDataUp, DevAddr: ja.DevAddr, FCnt: 0, HasFPort: true, FPort: 2, FRMPayload: []byte("hi")}, ks)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := Parse(up)
	if !f.ValidDataMIC(ks.NwkSKey, 0) {
		t.Error("uplink MIC with derived keys")
	}
}

func BenchmarkParse(b *testing.B) {
	frame := hx(b, "80040302010300000673070ae264d4f7e117d2c0")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeekDevAddr(b *testing.B) {
	frame := hx(b, "80040302010300000673070ae264d4f7e117d2c0")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PeekDevAddr(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidDataMIC(b *testing.B) {
	f, _ := Parse(hx(b, "80040302010300000673070ae264d4f7e117d2c0"))
	k := Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	b.ReportAllocs()
	for b.Loop() {
		if !f.ValidDataMIC(k, 0) {
			b.Fatal("MIC")
		}
	}
}
