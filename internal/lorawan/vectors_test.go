package lorawan

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/lorawan/lorawantest"
)

func key(t *testing.T, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatalf("key %q: %v", s, err)
	}
	return k
}

func devAddrHex(t *testing.T, s string) DevAddr {
	t.Helper()
	var a DevAddr
	copy(a[:], lorawantest.Hex(t, s))
	return a
}

func eui(t *testing.T, s string) EUI64 {
	t.Helper()
	e, err := ParseEUI64(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func num(t *testing.T, v lorawantest.Vector, k string) int64 {
	t.Helper()
	f, ok := v.Inputs[k].(float64)
	if !ok {
		t.Fatalf("%s: input %q is not a number", v.Name, k)
	}
	return int64(f)
}

func str(t *testing.T, v lorawantest.Vector, k string) string {
	t.Helper()
	s, ok := v.Inputs[k].(string)
	if !ok {
		t.Fatalf("%s: input %q is not a string", v.Name, k)
	}
	return s
}

func eqHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s = %x, want %s", what, got, want)
	}
}

// TestVectors asserts every value of every shared vector; a kind nobody
// handles, or an expected value nobody checks, fails the test.
func TestVectors(t *testing.T) {
	vs := lorawantest.Load(t)
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			e := lorawantest.NewExpect(t, v)
			defer e.Done()
			switch v.Kind {
			case "aes_cmac":
				vecCMAC(t, v, e)
			case "uplink_data_1_0", "downlink_data_1_0":
				vecData10(t, v, e)
			case "uplink_data_1_0_fcnt_rollover":
				vecRollover(t, v, e)
			case "uplink_data_1_1", "downlink_data_1_1":
				vecData11(t, v, e)
			case "frm_encrypt":
				vecFRMEncrypt(t, v, e)
			case "data_mic":
				vecDataMIC(t, v, e)
			case "join_request":
				vecJoinRequest(t, v, e)
			case "join_accept_1_0":
				vecJoinAccept10(t, v, e)
			case "join_accept_1_1":
				vecJoinAccept11(t, v, e)
			case "join_accept_1_1_mic":
				vecJoinAccept11MIC(t, v, e)
			case "key_derivation_1_0":
				vecKeys10(t, v, e)
			case "key_derivation_1_0_and_1_1":
				vecKeys11(t, v, e)
			case "airtime":
				vecAirtime(t, v, e)
			default:
				t.Fatalf("vector kind %q has no test", v.Kind)
			}
		})
	}
}

func parseVec(t *testing.T, v lorawantest.Vector) *Frame {
	t.Helper()
	f, err := Parse(lorawantest.Hex(t, v.PHYPayloadHex))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func vecCMAC(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	k := key(t, v.Keys["key"])
	for i := 1; ; i++ {
		n := strconv.Itoa(i)
		msg, ok := v.Inputs["msg_"+n].(string)
		if !ok {
			if i == 1 {
				t.Fatal("no msg_1 input")
			}
			return
		}
		got := cmacSum(k, lorawantest.Hex(t, msg))
		eqHex(t, "cmac_"+n, got[:], e.Str("cmac_"+n))
	}
}

func vecData10(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	f := parseVec(t, v)
	if f.Uplink() != strings.HasPrefix(v.Kind, "uplink") {
		t.Errorf("Uplink() = %v for kind %s", f.Uplink(), v.Kind)
	}
	keys := SessionKeys{NwkSKey: key(t, v.Keys["nwk_s_key"]), AppSKey: key(t, v.Keys["app_s_key"])}
	eqHex(t, "MHDR", f.Raw[:1], e.Str("mhdr"))
	if f.DevAddr.String() != e.Str("devaddr") {
		t.Errorf("DevAddr = %s", f.DevAddr)
	}
	if a, err := PeekDevAddr(f.Raw); err != nil || a != f.DevAddr {
		t.Errorf("PeekDevAddr = %s, %v", a, err)
	}
	fcnt := uint32(e.Int("fcnt"))
	if uint32(f.FCnt) != fcnt {
		t.Errorf("FCnt = %d, want %d", f.FCnt, fcnt)
	}
	if c, err := PeekFCnt(f.Raw); err != nil || uint32(c) != fcnt {
		t.Errorf("PeekFCnt = %d, %v", c, err)
	}
	eqHex(t, "FCtrl", []byte{byte(f.FCtrl)}, e.Str("fctrl"))
	wantFOpts := ""
	if e.Has("fopts_hex") {
		wantFOpts = e.Str("fopts_hex")
	}
	eqHex(t, "FOpts", f.FOpts, wantFOpts)
	if !f.HasFPort || int64(f.FPort) != e.Int("fport") {
		t.Errorf("FPort = %d (present %v)", f.FPort, f.HasFPort)
	}
	plain, err := f.DecryptFRMPayload(keys, fcnt)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "FRMPayload", plain, e.Str("frm_payload_plain_hex"))
	eqHex(t, "MIC", f.MIC[:], e.Str("mic"))
	if got := f.ValidDataMIC(keys.NwkSKey, fcnt); got != e.Bool("mic_valid") {
		t.Errorf("ValidDataMIC = %v", got)
	}
	// A wrong key or counter must fail.
	if f.ValidDataMIC(Key{}, fcnt) || f.ValidDataMIC(keys.NwkSKey, fcnt+0x10000) {
		t.Error("MIC verified with a wrong key or counter")
	}
	// The builder reproduces the frame bit for bit.
	built, err := BuildData(DataParams{
		MType: f.MType, DevAddr: f.DevAddr, FCnt: fcnt,
		ADR: f.FCtrl.ADR(), ADRACKReq: f.FCtrl.ADRACKReq(), ACK: f.FCtrl.ACK(), FPending: f.FCtrl.FPending(),
		FOpts: f.FOpts, HasFPort: f.HasFPort, FPort: f.FPort, FRMPayload: plain,
	}, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, f.Raw) {
		t.Errorf("BuildData = %x, want %x", built, f.Raw)
	}
}

func vecRollover(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	f := parseVec(t, v)
	k := key(t, v.Keys["nwk_s_key"])
	if f.DevAddr.String() != e.Str("devaddr") {
		t.Errorf("DevAddr = %s", f.DevAddr)
	}
	if int64(f.FCnt) != e.Int("fcnt16") {
		t.Errorf("FCnt = %d", f.FCnt)
	}
	if !f.HasFPort || int64(f.FPort) != e.Int("fport") {
		t.Errorf("FPort = %d", f.FPort)
	}
	eqHex(t, "MIC", f.MIC[:], e.Str("mic"))
	if got := f.ValidDataMIC(k, uint32(f.FCnt)); got != e.Bool("mic_valid_with_fcnt16_only") {
		t.Errorf("ValidDataMIC(fcnt16) = %v", got)
	}
	full := uint32(e.Int("mic_valid_with_fcnt32"))
	if !f.ValidDataMIC(k, full) {
		t.Errorf("ValidDataMIC(%d) = false", full)
	}
	// FullFCnt finds the counter from a last one before it, with or
	// without a 16-bit rollover in between.
	for _, last := range []uint32{full - 1, full - 500, full&0xffff0000 - 10} {
		got := FullFCnt(last, f.FCnt)
		if got != full || !FCntInWindow(last, got) {
			t.Errorf("FullFCnt(%d, %d) = %d, want %d", last, f.FCnt, got, full)
		}
	}
}

func vecData11(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	f := parseVec(t, v)
	up := v.Kind == "uplink_data_1_1"
	if f.Uplink() != up {
		t.Errorf("Uplink() = %v", f.Uplink())
	}
	fcnt := uint32(e.Int("fcnt"))
	if uint32(f.FCnt) != fcnt {
		t.Errorf("FCnt = %d", f.FCnt)
	}
	if !f.HasFPort || int64(f.FPort) != e.Int("fport") {
		t.Errorf("FPort = %d", f.FPort)
	}
	app := key(t, v.Keys["app_s_key"])
	plain, err := EncryptFRMPayload(app, up, f.DevAddr, fcnt, f.FRMPayload)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "FRMPayload", plain, e.Str("frm_payload_plain_hex"))
	s := key(t, v.Keys["s_nwk_s_int_key"])
	var mic MIC
	if up {
		fk := key(t, v.Keys["f_nwk_s_int_key"])
		mic, err = f.DataMIC11(fk, s, fcnt, uint32(num(t, v, "conf_fcnt")), uint8(num(t, v, "tx_dr")), uint8(num(t, v, "tx_ch")))
	} else {
		mic, err = f.DataMIC11(Key{}, s, fcnt, 0, 0, 0)
		a4 := e.Int("fopts_a_block_byte4")
		opts, err := EncryptFOpts(key(t, v.Keys["nwk_s_enc_key"]), a4 == 2, false, f.DevAddr, fcnt, f.FOpts)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "FOpts", opts, e.Str("fopts_plain_hex"))
	}
	if err != nil {
		t.Fatal(err)
	}
	want := e.Str("mic")
	eqHex(t, "computed MIC", mic[:], want)
	eqHex(t, "frame MIC", f.MIC[:], want)
}

func vecFRMEncrypt(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	k := key(t, v.Keys["key"])
	a := devAddrHex(t, str(t, v, "devaddr"))
	fcnt := uint32(num(t, v, "fcnt"))
	plain := lorawantest.Hex(t, str(t, v, "plain"))
	for _, c := range []struct {
		name   string
		uplink bool
		fopts  bool
	}{{"uplink_frm", true, false}, {"downlink_frm", false, false}, {"uplink_fopts_a4_01", true, true}, {"downlink_fopts_a4_01", false, true}} {
		var got []byte
		var err error
		if c.fopts {
			got, err = EncryptFOpts(k, false, c.uplink, a, fcnt, plain)
		} else {
			got, err = EncryptFRMPayload(k, c.uplink, a, fcnt, plain)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := e.Str(c.name)
		eqHex(t, c.name, got, want)
		// Encryption is its own inverse, and the input is left alone.
		back, _ := EncryptFRMPayload(k, c.uplink, a, fcnt, got)
		if !c.fopts && !bytes.Equal(back, plain) {
			t.Errorf("%s: decrypt(encrypt) = %x", c.name, back)
		}
	}
	eqHex(t, "plain after use", plain, str(t, v, "plain"))
}

func vecDataMIC(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	k := key(t, v.Keys["key"])
	a := devAddrHex(t, str(t, v, "devaddr"))
	fcnt := uint32(num(t, v, "fcnt"))
	msg := lorawantest.Hex(t, str(t, v, "msg_without_mic"))
	m := dataMIC10(k, true, a, fcnt, msg)
	eqHex(t, "1.0 uplink", m[:], e.Str("mic_1_0_uplink"))
	m = dataMIC10(k, false, a, fcnt, msg)
	eqHex(t, "1.0 downlink", m[:], e.Str("mic_1_0_downlink_dir1"))
	var conf [4]byte
	conf[0], conf[1] = byte(num(t, v, "conf_fcnt")), byte(num(t, v, "conf_fcnt")>>8)
	s := cmacSum(k, micBlock(conf, false, a, fcnt, len(msg)), msg)
	eqHex(t, "1.1 downlink", s[:4], e.Str("mic_1_1_downlink"))
	// Through the Frame API: the message is an uplink.
	f, err := Parse(append(bytes.Clone(msg), 0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	m, err = f.DataMIC(k, fcnt)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "Frame.DataMIC", m[:], e.Str("mic_1_0_uplink"))
	m, err = f.DataMIC11(k, k, fcnt, uint32(num(t, v, "conf_fcnt")), uint8(num(t, v, "tx_dr")), uint8(num(t, v, "tx_ch")))
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "1.1 uplink", m[:], e.Str("mic_1_1_uplink_same_keys"))
}

func vecJoinRequest(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	f := parseVec(t, v)
	if f.MType != JoinRequest {
		t.Fatalf("MType = %s", f.MType)
	}
	k := key(t, v.Keys["app_key"])
	if f.DevEUI.String() != e.Str("dev_eui") || f.JoinEUI.String() != e.Str("join_eui") {
		t.Errorf("EUIs = %s %s", f.JoinEUI, f.DevEUI)
	}
	if j, d, err := PeekJoinEUIs(f.Raw); err != nil || j != f.JoinEUI || d != f.DevEUI {
		t.Errorf("PeekJoinEUIs = %s %s %v", j, d, err)
	}
	if int64(f.DevNonce) != e.Int("dev_nonce") {
		t.Errorf("DevNonce = %d", f.DevNonce)
	}
	eqHex(t, "MIC", f.MIC[:], e.Str("mic"))
	if f.ValidJoinRequestMIC(k) != e.Bool("mic_valid") {
		t.Error("ValidJoinRequestMIC mismatch")
	}
	if f.ValidJoinRequestMIC(Key{}) {
		t.Error("MIC verified with the zero key")
	}
	built, err := BuildJoinRequest(f.JoinEUI, f.DevEUI, f.DevNonce, k)
	if err != nil || !bytes.Equal(built, f.Raw) {
		t.Errorf("BuildJoinRequest = %x, %v; want %x", built, err, f.Raw)
	}
}

func vecJoinAccept10(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	f := parseVec(t, v)
	k := key(t, v.Keys["app_key"])
	ja, err := f.DecryptJoinAccept(k)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "decrypted", append(bytes.Clone(ja.Payload), ja.MIC[:]...), e.Str("decrypted_macpayload_plus_mic_hex"))
	if ja.DevAddr.String() != e.Str("dev_addr") {
		t.Errorf("DevAddr = %s", ja.DevAddr)
	}
	eqHex(t, "DLSettings", []byte{ja.DLSettings}, e.Str("dl_settings"))
	eqHex(t, "JoinNonce wire", ja.Payload[:3], e.Str("join_nonce_wire"))
	eqHex(t, "MIC", ja.MIC[:], e.Str("mic"))
	if ja.NetID.String() != e.Str("net_id") {
		t.Errorf("NetID = %s", ja.NetID)
	}
	if int64(ja.RxDelay) != e.Int("rx_delay") {
		t.Errorf("RxDelay = %d", ja.RxDelay)
	}
	if !ja.ValidMIC(k) || ja.ValidMIC(Key{}) {
		t.Error("join-accept MIC check wrong")
	}
	built, err := BuildJoinAccept(JoinAcceptParams{
		JoinNonce: ja.JoinNonce, NetID: ja.NetID, DevAddr: ja.DevAddr,
		RX1DROffset: uint8(ja.RX1DROffset()), RX2DataRate: uint8(ja.RX2DataRate()),
		RxDelay: ja.RxDelay, CFList: ja.CFList,
	}, k)
	if err != nil || !bytes.Equal(built, f.Raw) {
		t.Errorf("BuildJoinAccept = %x, %v; want %x", built, err, f.Raw)
	}
}

func vecJoinAccept11(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	f := parseVec(t, v)
	k := key(t, v.Keys["js_int_key_and_enc_key"])
	ja, err := f.DecryptJoinAccept(k)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "decrypted", append(bytes.Clone(ja.Payload), ja.MIC[:]...), e.Str("decrypted_macpayload_plus_mic_hex"))
	eqHex(t, "DLSettings", []byte{ja.DLSettings}, e.Str("dl_settings"))
	if !ja.OptNeg() {
		t.Error("OptNeg not set")
	}
	jrt := lorawantest.Hex(t, str(t, v, "join_req_type"))[0]
	m := ja.ComputeMIC11(k, jrt, eui(t, str(t, v, "join_eui")), uint16(num(t, v, "dev_nonce")))
	eqHex(t, "MIC", m[:], e.Str("mic"))
	eqHex(t, "decrypted MIC", ja.MIC[:], hex.EncodeToString(m[:]))
}

func vecJoinAccept11MIC(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	k := key(t, v.Keys["js_int_key"])
	p := lorawantest.Hex(t, str(t, v, "payload_with_mhdr"))
	ja := &DecryptedJoinAccept{MHDR: p[0], Payload: p[1:]}
	dn := lorawantest.Hex(t, str(t, v, "dev_nonce_msb_first"))
	jrt := lorawantest.Hex(t, str(t, v, "join_req_type"))[0]
	// ComputeMIC11 takes MSB-first values and reverses them into the block.
	if got := e.Str("eui_byte_order_in_mic_block"); got != "wire_reversed" {
		t.Fatalf("unexpected byte order %q", got)
	}
	m := ja.ComputeMIC11(k, jrt, eui(t, str(t, v, "join_eui_msb_first")), uint16(dn[0])<<8|uint16(dn[1]))
	eqHex(t, "MIC", m[:], e.Str("mic"))
}

func vecKeys10(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	var nid NetID
	copy(nid[:], lorawantest.Hex(t, str(t, v, "net_id")))
	ks, err := DeriveSessionKeys10(key(t, v.Keys["app_key"]), uint32(num(t, v, "join_nonce")), nid, uint16(num(t, v, "dev_nonce")))
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "AppSKey", ks.AppSKey[:], e.Str("app_s_key"))
	eqHex(t, "NwkSKey", ks.NwkSKey[:], e.Str("nwk_s_key"))
}

func vecKeys11(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	root := key(t, v.Keys["root_key"])
	var nid NetID
	copy(nid[:], lorawantest.Hex(t, str(t, v, "net_id")))
	jn := lorawantest.Hex(t, str(t, v, "join_nonce_msb_first"))
	joinNonce := uint32(jn[0])<<16 | uint32(jn[1])<<8 | uint32(jn[2])
	dn := lorawantest.Hex(t, str(t, v, "dev_nonce_msb_first"))
	devNonce := uint16(dn[0])<<8 | uint16(dn[1])
	legacy, err := DeriveSessionKeys10(root, joinNonce, nid, devNonce)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "legacy AppSKey", legacy.AppSKey[:], e.Str("legacy_app_s_key"))
	eqHex(t, "legacy NwkSKey", legacy.NwkSKey[:], e.Str("legacy_nwk_s_key"))
	ks, err := DeriveSessionKeys11(root, root, joinNonce, eui(t, str(t, v, "join_eui")), devNonce)
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "AppSKey", ks.AppSKey[:], e.Str("app_s_key_1_1"))
	eqHex(t, "FNwkSIntKey", ks.FNwkSIntKey[:], e.Str("f_nwk_s_int_key"))
	eqHex(t, "SNwkSIntKey", ks.SNwkSIntKey[:], e.Str("s_nwk_s_int_key"))
	eqHex(t, "NwkSEncKey", ks.NwkSEncKey[:], e.Str("nwk_s_enc_key"))
	jsInt, jsEnc := DeriveJSKeys(root, eui(t, str(t, v, "dev_eui")))
	eqHex(t, "JSIntKey", jsInt[:], e.Str("js_int_key"))
	eqHex(t, "JSEncKey", jsEnc[:], e.Str("js_enc_key"))
}

var airtimeKey = regexp.MustCompile(`^SF(\d+)BW(\d+)(?:_CR4/(\d))?_(\d+)B_us$`)

func vecAirtime(t *testing.T, v lorawantest.Vector, e *lorawantest.Expect) {
	if _, ok := v.Inputs["sf"]; ok { // one frame, broken down
		sf, bw := int(num(t, v, "sf")), int(num(t, v, "bw_hz")/1000)
		pl, pre := int(num(t, v, "payload_bytes")), int(num(t, v, "preamble_symbols"))
		if v.Inputs["ldro"] != (sf >= 11 && bw == 125) || v.Inputs["cr"] != "4/5" ||
			v.Inputs["crc"] != true || v.Inputs["explicit_header"] != true {
			t.Fatalf("inputs %v outside what this test maps", v.Inputs)
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		tsym := SymbolTime(sf, bw)
		if ms(tsym) != e.Float("tsym_ms") {
			t.Errorf("Tsym = %v", tsym)
		}
		n := payloadSymbols(pl, sf, bw, 1, true, true)
		if int64(n) != e.Int("payload_symbols") {
			t.Errorf("payload symbols = %d", n)
		}
		if got := ms(time.Duration(n) * tsym); got != e.Float("tpayload_ms") {
			t.Errorf("Tpayload = %v ms", got)
		}
		if got := ms(time.Duration(4*pre+17) * tsym / 4); got != e.Float("tpreamble_ms") {
			t.Errorf("Tpreamble = %v ms", got)
		}
		if got := ms(Airtime(pl, sf, bw, 1, pre, true, true)); got != e.Float("tpacket_ms") {
			t.Errorf("Airtime = %v ms", got)
		}
		return
	}
	if v.Inputs["crc"] != true || v.Inputs["explicit_header"] != true || num(t, v, "preamble_symbols") != 8 {
		t.Fatalf("inputs %v outside what this test maps", v.Inputs)
	}
	for k := range v.Expected {
		m := airtimeKey.FindStringSubmatch(k)
		if m == nil {
			t.Errorf("unparsed airtime key %q", k)
			continue
		}
		sf, _ := strconv.Atoi(m[1])
		bw, _ := strconv.Atoi(m[2])
		cr := 1
		if m[3] != "" {
			d, _ := strconv.Atoi(m[3])
			cr = d - 4
		}
		pl, _ := strconv.Atoi(m[4])
		want := time.Duration(e.Int(k)) * time.Microsecond
		if got := Airtime(pl, sf, bw, cr, 8, true, true); got != want {
			t.Errorf("%s: Airtime = %v, want %v", k, got, want)
		}
	}
}
