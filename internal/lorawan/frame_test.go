package lorawan

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	lw "github.com/brocaar/lorawan"
)

func hx(t testing.TB, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

func TestParseRejects(t *testing.T) {
	z := func(n int) string { return strings.Repeat("00", n) }
	cases := []struct {
		name, hex string
		want      error
	}{
		{"empty", "", ErrTooShort},
		{"data MHDR only", "40", ErrTooShort},
		{"data 11 bytes", "40" + z(10), ErrTooShort},
		{"data short of FOpts", "40040302010f0000" + z(4), ErrTooShort},
		{"data FOpts len 3, 14 bytes", "4004030201030000aabb" + z(4), ErrTooShort},
		{"FPort 0 with FOpts and payload", "4004030201010000ff00aa" + z(4), ErrMalformed},
		{"join-request 22", "00" + z(21), ErrTooShort},
		{"join-request 24", "00" + z(23), ErrMalformed},
		{"join-accept 16", "20" + z(15), ErrTooShort},
		{"join-accept 18", "20" + z(17), ErrMalformed},
		{"join-accept 34", "20" + z(33), ErrMalformed},
		{"rejoin 18", "c000" + z(16), ErrTooShort},
		{"rejoin type 1 of 19", "c001" + z(17), ErrTooShort},
		{"rejoin type 0 of 24", "c000" + z(22), ErrMalformed},
		{"rejoin type 3", "c003" + z(17), ErrMalformed},
		{"over 255 bytes", "e0" + z(255), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(hx(t, c.hex))
			if !errors.Is(err, c.want) || f != nil {
				t.Errorf("Parse = %v, %v; want %v", f, err, c.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name, hex string
		check     func(t *testing.T, f *Frame)
	}{
		{"proprietary MHDR only", "e0", func(t *testing.T, f *Frame) {
			if f.MType != Proprietary || len(f.FRMPayload) != 0 {
				t.Errorf("%+v", f)
			}
		}},
		{"beacon", "e0" + strings.Repeat("ab", 51), func(t *testing.T, f *Frame) {
			if len(f.FRMPayload) != 51 || f.FRMPayload[0] != 0xab {
				t.Errorf("payload %x", f.FRMPayload)
			}
		}},
		{"data without FPort", "a00403020133070001020311223344", func(t *testing.T, f *Frame) {
			if f.MType != ConfirmedDataDown || f.HasFPort || f.FCnt != 7 || !f.FCtrl.ACK() || !f.FCtrl.FPending() ||
				!bytes.Equal(f.FOpts, []byte{1, 2, 3}) || f.DevAddr != (DevAddr{1, 2, 3, 4}) || f.MIC != (MIC{0x11, 0x22, 0x33, 0x44}) {
				t.Errorf("%+v", f)
			}
		}},
		{"data FPort but empty payload", "4004030201000100" + "05" + "00000000", func(t *testing.T, f *Frame) {
			if !f.HasFPort || f.FPort != 5 || len(f.FRMPayload) != 0 || f.FCnt != 1 {
				t.Errorf("%+v", f)
			}
		}},
		{"join-accept with CFList", "20" + strings.Repeat("11", 32), func(t *testing.T, f *Frame) {
			if f.MType != JoinAccept || len(f.FRMPayload) != 28 {
				t.Errorf("%+v", f)
			}
		}},
		{"rejoin type 1", "c001" + "0102030405060708" + "1112131415161718" + "0000" + "aabbccdd", func(t *testing.T, f *Frame) {
			if f.MType != RejoinRequest || f.JoinEUI.String() != "0807060504030201" || f.DevEUI.String() != "1817161514131211" {
				t.Errorf("%+v", f)
			}
		}},
		{"major 1 kept", "41" + "04030201000000" + "00000000", func(t *testing.T, f *Frame) {
			if f.Major != 1 {
				t.Errorf("Major = %d", f.Major)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := hx(t, c.hex)
			f, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			in[0] ^= 0xff // the frame owns its bytes
			if f.Raw[0] == in[0] {
				t.Error("Raw aliases the input")
			}
			c.check(t, f)
		})
	}
}

func TestPeekWrongTypes(t *testing.T) {
	jr := hx(t, "00040302010403020105040302050403022d106a990e12")
	if _, err := PeekDevAddr(jr); !errors.Is(err, ErrWrongType) {
		t.Errorf("PeekDevAddr(join-request) err = %v", err)
	}
	if _, err := PeekFCnt(jr); !errors.Is(err, ErrWrongType) {
		t.Errorf("PeekFCnt(join-request) err = %v", err)
	}
	data := hx(t, "400403020180010001a694642615d6c3b582")
	if _, _, err := PeekJoinEUIs(data); !errors.Is(err, ErrWrongType) {
		t.Errorf("PeekJoinEUIs(data) err = %v", err)
	}
	if _, err := PeekDevAddr(data[:11]); !errors.Is(err, ErrTooShort) {
		t.Errorf("PeekDevAddr(short) err = %v", err)
	}
	if _, _, err := PeekJoinEUIs(jr[:22]); !errors.Is(err, ErrTooShort) {
		t.Errorf("PeekJoinEUIs(short) err = %v", err)
	}
	if _, err := PeekMType(nil); !errors.Is(err, ErrTooShort) {
		t.Errorf("PeekMType(nil) err = %v", err)
	}
	if m, err := PeekMType(data); err != nil || m != UnconfirmedDataUp {
		t.Errorf("PeekMType = %v, %v", m, err)
	}
	f, _ := Parse(jr)
	if _, err := f.DataMIC(Key{}, 0); !errors.Is(err, ErrWrongType) {
		t.Errorf("DataMIC(join-request) err = %v", err)
	}
	if _, err := f.DecryptJoinAccept(Key{}); !errors.Is(err, ErrWrongType) {
		t.Errorf("DecryptJoinAccept(join-request) err = %v", err)
	}
	d, _ := Parse(data)
	if _, err := d.DataMIC(Key{}, 2); !errors.Is(err, ErrBadParam) {
		t.Errorf("DataMIC with a counter not ending in FCnt: err = %v", err)
	}
	if _, err := d.JoinRequestMIC(Key{}); !errors.Is(err, ErrWrongType) {
		t.Errorf("JoinRequestMIC(data) err = %v", err)
	}
}

func TestMTypeStrings(t *testing.T) {
	want := []string{"JoinRequest", "JoinAccept", "UnconfirmedDataUp", "UnconfirmedDataDown",
		"ConfirmedDataUp", "ConfirmedDataDown", "RejoinRequest", "Proprietary"}
	for i, w := range want {
		if got := MType(i).String(); got != w {
			t.Errorf("MType(%d) = %s, want %s", i, got, w)
		}
		// Same names as brocaar's, which LoRaWAN tools print.
		if got := lw.MType(i).String(); got != w {
			t.Errorf("brocaar MType(%d) = %s", i, got)
		}
	}
	if MType(9).String() != "MType(9)" {
		t.Error("unknown MType string")
	}
}

func TestParseKey(t *testing.T) {
	if _, err := ParseKey(strings.Repeat("0", 31)); !errors.Is(err, ErrBadKey) {
		t.Error("31 digits accepted")
	}
	if _, err := ParseKey(strings.Repeat("g", 32)); !errors.Is(err, ErrBadKey) {
		t.Error("non-hex accepted")
	}
	k, err := ParseKey("000102030405060708090a0b0c0d0E0F")
	if err != nil || k.String() != "000102030405060708090a0b0c0d0e0f" {
		t.Errorf("ParseKey = %s, %v", k, err)
	}
}

// FuzzParse feeds arbitrary bytes to Parse and every follow-up operation:
// none may panic, and an accepted frame must agree with the peeks and with
// brocaar's own MIC where brocaar can re-encode the frame.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0xe0})
	f.Add(hx(f, "400403020180010001a694642615d6c3b582"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Parse(b)
		if err != nil {
			if fr != nil {
				t.Fatal("frame with error")
			}
			return
		}
		if !bytes.Equal(fr.Raw, b) || fr.MType != MType(b[0]>>5) {
			t.Fatal("Raw or MType differs from input")
		}
		if fr.MType != Proprietary && !bytes.Equal(fr.MIC[:], b[len(b)-4:]) {
			t.Fatal("MIC is not the last 4 bytes")
		}
		var k Key
		switch {
		case fr.MType.IsData():
			a, err := PeekDevAddr(b)
			if err != nil || a != fr.DevAddr {
				t.Fatalf("PeekDevAddr = %v, %v; Parse %v", a, err, fr.DevAddr)
			}
			if len(fr.FOpts) != fr.FCtrl.FOptsLen() {
				t.Fatal("FOpts length")
			}
			if _, err := fr.DecryptFRMPayload(SessionKeys{}, uint32(fr.FCnt)); err != nil {
				t.Fatal(err)
			}
			ours, err := fr.DataMIC(k, uint32(fr.FCnt))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fr.DataMIC11(k, k, uint32(fr.FCnt), 0, 0, 0); err != nil {
				t.Fatal(err)
			}
			var phy lw.PHYPayload
			if phy.UnmarshalBinary(bytes.Clone(b)) != nil {
				return
			}
			if re, err := phy.MarshalBinary(); err != nil || !bytes.Equal(re, b) {
				return // brocaar cannot re-encode this one faithfully
			}
			if fr.Uplink() {
				err = phy.SetUplinkDataMIC(lw.LoRaWAN1_0, 0, 0, 0, lw.AES128Key(k), lw.AES128Key(k))
			} else {
				err = phy.SetDownlinkDataMIC(lw.LoRaWAN1_0, 0, lw.AES128Key(k))
			}
			if err == nil && MIC(phy.MIC) != ours {
				t.Fatalf("MIC %s, brocaar %x", ours, phy.MIC)
			}
		case fr.MType == JoinRequest:
			j, d, err := PeekJoinEUIs(b)
			if err != nil || j != fr.JoinEUI || d != fr.DevEUI {
				t.Fatal("PeekJoinEUIs disagrees")
			}
			fr.ValidJoinRequestMIC(k)
		case fr.MType == JoinAccept:
			ja, err := fr.DecryptJoinAccept(k)
			if err != nil {
				t.Fatal(err)
			}
			ja.ValidMIC(k)
		}
	})
}
