package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hexnet/hexnet/internal/lorawan"
)

const lorawanUsage = `usage: hexnet lorawan decode HEX|BASE64 [--nwkskey K] [--appskey K] [--appkey K]

Decodes one LoRaWAN PHYPayload and prints one JSON object on stdout.

The frame is hex when it is an even number of hex digits, else base64
(padded or not). Keys are 32 hex digits; flags may come before or after the
frame, as --flag K or --flag=K.

  --nwkskey K   LoRaWAN 1.0.x NwkSKey: checks a data frame's MIC and decrypts
                an FPort 0 payload (MAC commands)
  --appskey K   AppSKey: decrypts a data frame's payload when FPort > 0
  --appkey K    AppKey: checks a join-request's MIC; decrypts a join-accept
                and checks its MIC

Fields, always all present for the frame's type:
  every frame    mtype: JoinRequest, JoinAccept, UnconfirmedDataUp,
                 UnconfirmedDataDown, ConfirmedDataUp, ConfirmedDataDown,
                 RejoinRequest or Proprietary
  data           dev_addr, fcnt, fport, fopts_hex, frm_payload_hex, mic_hex
  join-request   join_eui, dev_eui, dev_nonce, mic_hex
  join-accept    frm_payload_hex, mic_hex: with --appkey the decrypted
                 payload (JoinNonce|NetID|DevAddr|DLSettings|RxDelay|CFList)
                 and decrypted MIC; without it the encrypted bytes as on air
  rejoin-request frm_payload_hex (bytes between MHDR and MIC), mic_hex
  proprietary    frm_payload_hex (every byte after MHDR)
  mic_ok         a JSON boolean, present when a key for the MIC was given
                 (--nwkskey for data, --appkey for join-request/accept)

dev_addr, join_eui, dev_eui and dev_nonce are hex MSB-first; payloads, FOpts
and MIC are hex in wire order; fcnt (the 16 bits on air) and fport are
decimal. fport is null when the frame has no FPort, and frm_payload_hex is ""
when the payload is empty. frm_payload_hex is decrypted when the key for its
FPort was given (FPort 0: --nwkskey, else --appskey), uplink and downlink
alike. The data MIC is the LoRaWAN 1.0.x one, computed with the FCnt's upper
16 bits taken as 0; a MIC mismatch is not an error (exit 0, mic_ok false).
Join-accept MICs are checked the 1.0 way (no OptNeg).

Exit status: 0 on success; 1 for a bad frame or key; 2 for bad usage.
`

// lorawanKeys are the optional keys of lorawan decode.
type lorawanKeys struct {
	nwkSKey, appSKey, appKey *lorawan.Key
}

// runLorawan runs `hexnet lorawan ...` and returns the exit code.
func runLorawan(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, lorawanUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, lorawanUsage)
		return 0
	case "decode":
		return runLorawanDecode(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "hexnet lorawan: unknown command %q (want decode)\n", args[0])
	return 2
}

func runLorawanDecode(args []string, stdout, stderr io.Writer) int {
	var (
		frameArg *string
		keys     lorawanKeys
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			for _, rest := range args[i+1:] {
				if frameArg != nil {
					fmt.Fprintln(stderr, "hexnet lorawan decode: more than one frame given")
					return 2
				}
				frameArg = &rest
			}
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if frameArg != nil {
				fmt.Fprintln(stderr, "hexnet lorawan decode: more than one frame given")
				return 2
			}
			frameArg = &args[i]
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var dst **lorawan.Key
		switch name {
		case "h", "help":
			fmt.Fprint(stdout, lorawanUsage)
			return 0
		case "nwkskey":
			dst = &keys.nwkSKey
		case "appskey":
			dst = &keys.appSKey
		case "appkey":
			dst = &keys.appKey
		default:
			fmt.Fprintf(stderr, "hexnet lorawan decode: unknown flag %s\n", a)
			return 2
		}
		if !hasVal {
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "hexnet lorawan decode: flag --%s needs a key\n", name)
				return 2
			}
			i++
			val = args[i]
		}
		k, err := lorawan.ParseKey(val)
		if err != nil {
			fmt.Fprintf(stderr, "hexnet lorawan decode: --%s: key must be 32 hex digits\n", name)
			return 1
		}
		*dst = &k
	}
	if frameArg == nil {
		fmt.Fprintln(stderr, "hexnet lorawan decode: no frame given (want HEX or BASE64)")
		return 2
	}
	raw, err := decodeFrameArg(*frameArg)
	if err != nil {
		fmt.Fprintf(stderr, "hexnet lorawan decode: %v\n", err)
		return 1
	}
	out, err := decodeFrame(raw, keys)
	if err != nil {
		fmt.Fprintf(stderr, "hexnet lorawan decode: %v\n", err)
		return 1
	}
	b, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(stderr, "hexnet lorawan decode: %v\n", err)
		return 1
	}
	b = append(b, '\n')
	if _, err := stdout.Write(b); err != nil {
		return 1
	}
	return 0
}

// errEmptyFrame: the frame argument is empty.
var errEmptyFrame = errors.New("empty frame")

// decodeFrameArg reads the frame: an even number of hex digits is hex,
// anything else base64 (padded when its length is a multiple of 4, else
// unpadded). The choice is made once, from the form.
func decodeFrameArg(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errEmptyFrame
	}
	if len(s)%2 == 0 && isHex(s) {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("bad hex: %w", err)
		}
		return b, nil
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex and not base64: %w", err)
	}
	if len(b) == 0 {
		return nil, errEmptyFrame
	}
	return b, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// JSON shapes, one per frame kind; field order is output order.
type (
	dataJSON struct {
		MType      string `json:"mtype"`
		DevAddr    string `json:"dev_addr"`
		FCnt       uint16 `json:"fcnt"`
		FPort      *uint8 `json:"fport"`
		FOptsHex   string `json:"fopts_hex"`
		FRMPayload string `json:"frm_payload_hex"`
		MICHex     string `json:"mic_hex"`
		MICOK      *bool  `json:"mic_ok,omitempty"`
	}
	joinRequestJSON struct {
		MType    string `json:"mtype"`
		JoinEUI  string `json:"join_eui"`
		DevEUI   string `json:"dev_eui"`
		DevNonce string `json:"dev_nonce"`
		MICHex   string `json:"mic_hex"`
		MICOK    *bool  `json:"mic_ok,omitempty"`
	}
	payloadJSON struct { // join-accept and rejoin-request
		MType      string `json:"mtype"`
		FRMPayload string `json:"frm_payload_hex"`
		MICHex     string `json:"mic_hex"`
		MICOK      *bool  `json:"mic_ok,omitempty"`
	}
	proprietaryJSON struct {
		MType      string `json:"mtype"`
		FRMPayload string `json:"frm_payload_hex"`
	}
)

// decodeFrame parses raw and shapes it for output, decrypting and checking
// MICs with whichever keys were given.
func decodeFrame(raw []byte, keys lorawanKeys) (any, error) {
	f, err := lorawan.Parse(raw)
	if err != nil {
		return nil, err
	}
	mt := f.MType.String()
	switch {
	case f.MType.IsData():
		out := dataJSON{
			MType:    mt,
			DevAddr:  f.DevAddr.String(),
			FCnt:     f.FCnt,
			FOptsHex: hex.EncodeToString(f.FOpts),
			MICHex:   f.MIC.String(),
		}
		payload := f.FRMPayload
		if f.HasFPort {
			port := f.FPort
			out.FPort = &port
			k := keys.appSKey
			if port == 0 {
				k = keys.nwkSKey
			}
			if k != nil {
				payload, err = lorawan.EncryptFRMPayload(*k, f.Uplink(), f.DevAddr, uint32(f.FCnt), f.FRMPayload)
				if err != nil {
					return nil, err
				}
			}
		}
		out.FRMPayload = hex.EncodeToString(payload)
		if keys.nwkSKey != nil {
			ok := f.ValidDataMIC(*keys.nwkSKey, uint32(f.FCnt))
			out.MICOK = &ok
		}
		return out, nil
	case f.MType == lorawan.JoinRequest:
		out := joinRequestJSON{
			MType:    mt,
			JoinEUI:  f.JoinEUI.String(),
			DevEUI:   f.DevEUI.String(),
			DevNonce: fmt.Sprintf("%04x", f.DevNonce),
			MICHex:   f.MIC.String(),
		}
		if keys.appKey != nil {
			ok := f.ValidJoinRequestMIC(*keys.appKey)
			out.MICOK = &ok
		}
		return out, nil
	case f.MType == lorawan.JoinAccept:
		out := payloadJSON{MType: mt, FRMPayload: hex.EncodeToString(f.FRMPayload), MICHex: f.MIC.String()}
		if keys.appKey != nil {
			ja, err := f.DecryptJoinAccept(*keys.appKey)
			if err != nil {
				return nil, err
			}
			ok := ja.ValidMIC(*keys.appKey)
			out.FRMPayload, out.MICHex, out.MICOK = hex.EncodeToString(ja.Payload), ja.MIC.String(), &ok
		}
		return out, nil
	case f.MType == lorawan.RejoinRequest:
		return payloadJSON{MType: mt, FRMPayload: hex.EncodeToString(f.FRMPayload), MICHex: f.MIC.String()}, nil
	default:
		return proprietaryJSON{MType: mt, FRMPayload: hex.EncodeToString(f.FRMPayload)}, nil
	}
}
