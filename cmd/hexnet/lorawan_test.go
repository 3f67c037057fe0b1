package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hexnet/hexnet/internal/lorawan/lorawantest"
)

// decodeRun runs `lorawan decode args...` and returns exit code and output.
func decodeRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runLorawan(append([]string{"decode"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// decodeJSON runs a decode that must succeed and returns its one object.
func decodeJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errs := decodeRun(args...)
	if code != 0 || errs != "" {
		t.Fatalf("decode %v: exit %d, stderr %q", args, code, errs)
	}
	if !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout is not one JSON line: %q", out)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	return m
}

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// fieldSets are the exact field sets per frame kind, without mic_ok.
var fieldSets = map[string]string{
	"data":          "dev_addr,fcnt,fopts_hex,fport,frm_payload_hex,mic_hex,mtype",
	"JoinRequest":   "dev_eui,dev_nonce,join_eui,mic_hex,mtype",
	"JoinAccept":    "frm_payload_hex,mic_hex,mtype",
	"Proprietary":   "frm_payload_hex,mtype",
	"RejoinRequest": "frm_payload_hex,mic_hex,mtype",
}

func checkFields(t *testing.T, m map[string]any, kind string, micOK bool) {
	t.Helper()
	want := fieldSets[kind]
	if micOK {
		want = strings.Replace(want, "mic_hex,", "mic_hex,mic_ok,", 1)
	}
	if got := keysOf(m); got != want {
		t.Errorf("fields %s, want %s", got, want)
	}
}

func wantField(t *testing.T, m map[string]any, k string, want any) {
	t.Helper()
	got := m[k]
	if n, ok := got.(json.Number); ok {
		got = n.String()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v (%T), want %v", k, got, m[k], want)
	}
}

var mtypeByMHDR = map[string]string{
	"40": "UnconfirmedDataUp", "60": "UnconfirmedDataDown",
	"80": "ConfirmedDataUp", "a0": "ConfirmedDataDown",
}

// TestDecodeVectors decodes every shared vector that carries a PHYPayload,
// with and without keys, and checks every field.
func TestDecodeVectors(t *testing.T) {
	ran := 0
	for _, v := range lorawantest.Load(t) {
		if v.PHYPayloadHex == "" {
			continue
		}
		ran++
		t.Run(v.Name, func(t *testing.T) {
			x := v.Expected
			phy := v.PHYPayloadHex
			switch v.Kind {
			case "uplink_data_1_0", "downlink_data_1_0":
				m := decodeJSON(t, phy, "--nwkskey", v.Keys["nwk_s_key"], "--appskey", v.Keys["app_s_key"])
				checkFields(t, m, "data", true)
				wantField(t, m, "mtype", mtypeByMHDR[x["mhdr"].(string)])
				wantField(t, m, "dev_addr", x["devaddr"])
				wantField(t, m, "fcnt", x["fcnt"])
				wantField(t, m, "fport", x["fport"])
				fopts := ""
				if s, ok := x["fopts_hex"]; ok {
					fopts = s.(string)
				}
				wantField(t, m, "fopts_hex", fopts)
				wantField(t, m, "frm_payload_hex", x["frm_payload_plain_hex"])
				wantField(t, m, "mic_hex", x["mic"])
				wantField(t, m, "mic_ok", x["mic_valid"])
				// Without keys: no mic_ok, payload as on air.
				m = decodeJSON(t, phy)
				checkFields(t, m, "data", false)
				plainLen := len(x["frm_payload_plain_hex"].(string))
				wantField(t, m, "frm_payload_hex", phy[len(phy)-8-plainLen:len(phy)-8])
				// A wrong NwkSKey: still exit 0, mic_ok false, still decrypts.
				m = decodeJSON(t, "--nwkskey", strings.Repeat("0", 32), "--appskey", v.Keys["app_s_key"], phy)
				wantField(t, m, "mic_ok", false)
				if x["fport"].(float64) > 0 {
					wantField(t, m, "frm_payload_hex", x["frm_payload_plain_hex"])
				}
				// The same frame in base64 decodes the same.
				b, _ := hex.DecodeString(phy)
				m2 := decodeJSON(t, base64.StdEncoding.EncodeToString(b), "--nwkskey", strings.Repeat("0", 32), "--appskey", v.Keys["app_s_key"])
				if fmt.Sprint(m) != fmt.Sprint(m2) {
					t.Errorf("base64 decode %v != hex decode %v", m2, m)
				}
			case "uplink_data_1_0_fcnt_rollover":
				m := decodeJSON(t, "--nwkskey="+v.Keys["nwk_s_key"], phy)
				checkFields(t, m, "data", true)
				wantField(t, m, "mtype", "UnconfirmedDataUp")
				wantField(t, m, "dev_addr", x["devaddr"])
				wantField(t, m, "fcnt", x["fcnt16"])
				wantField(t, m, "fport", x["fport"])
				wantField(t, m, "mic_hex", x["mic"])
				wantField(t, m, "mic_ok", x["mic_valid_with_fcnt16_only"])
			case "uplink_data_1_1", "downlink_data_1_1":
				m := decodeJSON(t, phy, "--appskey", v.Keys["app_s_key"])
				checkFields(t, m, "data", false)
				wantField(t, m, "fcnt", x["fcnt"])
				wantField(t, m, "fport", x["fport"])
				wantField(t, m, "frm_payload_hex", x["frm_payload_plain_hex"])
				wantField(t, m, "mic_hex", x["mic"])
			case "join_request":
				m := decodeJSON(t, "--appkey", v.Keys["app_key"], phy)
				checkFields(t, m, "JoinRequest", true)
				wantField(t, m, "mtype", "JoinRequest")
				wantField(t, m, "join_eui", x["join_eui"])
				wantField(t, m, "dev_eui", x["dev_eui"])
				wantField(t, m, "dev_nonce", fmt.Sprintf("%04x", int(x["dev_nonce"].(float64))))
				wantField(t, m, "mic_hex", x["mic"])
				wantField(t, m, "mic_ok", x["mic_valid"])
				m = decodeJSON(t, phy, "--appkey", strings.Repeat("f", 32))
				wantField(t, m, "mic_ok", false)
			case "join_accept_1_0", "join_accept_1_1":
				k := v.Keys["app_key"]
				if k == "" {
					k = v.Keys["js_int_key_and_enc_key"]
				}
				m := decodeJSON(t, phy, "--appkey", k)
				checkFields(t, m, "JoinAccept", true)
				wantField(t, m, "mtype", "JoinAccept")
				dec := x["decrypted_macpayload_plus_mic_hex"].(string)
				wantField(t, m, "frm_payload_hex", dec[:len(dec)-8])
				wantField(t, m, "mic_hex", x["mic"])
				// 1.1 join-accepts (OptNeg) carry a 1.1 MIC the CLI does not check.
				wantField(t, m, "mic_ok", v.Kind == "join_accept_1_0")
				m = decodeJSON(t, phy)
				checkFields(t, m, "JoinAccept", false)
				wantField(t, m, "frm_payload_hex", phy[2:len(phy)-8])
				wantField(t, m, "mic_hex", phy[len(phy)-8:])
			default:
				t.Fatalf("vector kind %q with a PHYPayload has no CLI test", v.Kind)
			}
		})
	}
	if ran < 10 {
		t.Fatalf("only %d vectors with a PHYPayload", ran)
	}
}

func TestDecodeOtherTypes(t *testing.T) {
	// A 52-byte beacon: Proprietary, every byte after MHDR.
	beacon := "e0" + strings.Repeat("5a", 51)
	m := decodeJSON(t, beacon)
	checkFields(t, m, "Proprietary", false)
	wantField(t, m, "mtype", "Proprietary")
	wantField(t, m, "frm_payload_hex", strings.Repeat("5a", 51))
	m = decodeJSON(t, "e0")
	wantField(t, m, "frm_payload_hex", "")

	// Rejoin-request type 0: 19 bytes.
	rj := "c000" + "030201" + "0807060504030201" + "0100" + "aabbccdd"
	m = decodeJSON(t, rj, "--nwkskey", strings.Repeat("1", 32))
	checkFields(t, m, "RejoinRequest", false)
	wantField(t, m, "mtype", "RejoinRequest")
	wantField(t, m, "frm_payload_hex", rj[2:len(rj)-8])
	wantField(t, m, "mic_hex", "aabbccdd")

	// A data frame without FPort: fport null, empty payload.
	m = decodeJSON(t, "600403020100050011223344", "--appskey", strings.Repeat("1", 32))
	checkFields(t, m, "data", false)
	wantField(t, m, "mtype", "UnconfirmedDataDown")
	if v, ok := m["fport"]; !ok || v != nil {
		t.Errorf("fport = %v (present %v), want null", v, ok)
	}
	wantField(t, m, "fcnt", 5)
	wantField(t, m, "frm_payload_hex", "")
	wantField(t, m, "mic_hex", "11223344")
}

func TestDecodeErrors(t *testing.T) {
	k := strings.Repeat("0", 32)
	okFrame := "400403020180010001a694642615d6c3b582"
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"no frame", nil, 2},
		{"only flags", []string{"--nwkskey", k}, 2},
		{"empty", []string{""}, 1},
		{"blank", []string{"   "}, 1},
		{"bad base64", []string{"!!!!"}, 1},
		{"odd hex is base64, and bad", []string{"abc$"}, 1},
		{"too short data", []string{"4004"}, 1},
		{"data shorter than its FOpts", []string{"40040302010f0000aabbccdd"}, 1},
		{"join-request too short", []string{"00" + strings.Repeat("00", 20)}, 1},
		{"join-request too long", []string{"00" + strings.Repeat("00", 23)}, 1},
		{"join-accept bad length", []string{"20" + strings.Repeat("00", 20)}, 1},
		{"rejoin bad type", []string{"c005" + strings.Repeat("00", 17)}, 1},
		{"too long", []string{"e0" + strings.Repeat("00", 255)}, 1},
		{"short nwkskey", []string{okFrame, "--nwkskey", "0101"}, 1},
		{"non-hex appskey", []string{okFrame, "--appskey", strings.Repeat("z", 32)}, 1},
		{"long appkey", []string{"--appkey=" + k + "00", okFrame}, 1},
		{"flag without value", []string{okFrame, "--nwkskey"}, 2},
		{"unknown flag", []string{okFrame, "--fcnt", "1"}, 2},
		{"two frames", []string{okFrame, okFrame}, 2},
		{"two frames after --", []string{"--", okFrame, okFrame}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := decodeRun(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, errs)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") {
				t.Errorf("stderr %q is not one line", errs)
			}
		})
	}
}

func TestDecodeUsage(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"decode", "--help"}, {"decode", "400403", "-h"}} {
		var out, errb bytes.Buffer
		if code := runLorawan(args, &out, &errb); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(out.String(), "hexnet lorawan decode") || errb.Len() != 0 {
			t.Errorf("%v: usage not on stdout (stdout %q, stderr %q)", args, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := runLorawan(nil, &out, &errb); code != 2 || out.Len() != 0 {
		t.Errorf("no subcommand: exit %d, stdout %q", code, out.String())
	}
	if code := runLorawan([]string{"encode"}, &out, &errb); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

// TestDecodeFrameArg pins the hex-or-base64 rule: decided once, by form.
func TestDecodeFrameArg(t *testing.T) {
	cases := []struct {
		in   string
		want string // hex, or "" for an error
	}{
		{"00ff", "00ff"},
		{"00FF", "00ff"},
		{"AAAA", "aaaa"}, // even hex digits: hex, although valid base64 too
		{"AAA", "0000"},  // odd: base64, unpadded
		{"AAE=", "0001"}, // padded base64
		{"gAQDAgEDAAAGcwcK4mTU9+EX0sA=", "80040302010300000673070ae264d4f7e117d2c0"},
		{"0g", "d2"},    // even but not hex: base64
		{"abc", "69b7"}, // odd hex digits: base64, never hex
		{"AAE", "0001"},
		{"A", ""},
		{"", ""},
	}
	for _, c := range cases {
		b, err := decodeFrameArg(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: decoded %x, want error", c.in, b)
			}
			continue
		}
		if err != nil || hex.EncodeToString(b) != c.want {
			t.Errorf("%q = %x, %v; want %s", c.in, b, err, c.want)
		}
	}
}
