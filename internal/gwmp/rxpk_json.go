package gwmp

import (
	"encoding/base64"
	"math"
	"strconv"
)

// appendJSON appends r exactly as encoding/json marshals it (field order,
// omitempty, number and string forms), without reflection: the router
// encodes a PUSH_DATA for every uplink copy it delivers, and encoding/json
// cost it about 4 µs and a kilobyte of garbage a copy. It returns false
// when a value needs encoding/json's own handling (a NaN or infinite float,
// a string that would need escaping, a time that Time.MarshalJSON refuses);
// the caller then marshals with encoding/json, which also reports the
// error. TestRXPKAppendJSONMatchesEncodingJSON holds it to that.
func (r *RXPK) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, '{')
	if r.Time != nil {
		t, err := r.Time.MarshalJSON()
		if err != nil {
			return b, false
		}
		b = append(b, `"time":`...)
		b = append(b, t...)
		b = append(b, ',')
	}
	if r.Tmms != nil {
		b = append(b, `"tmms":`...)
		b = strconv.AppendUint(b, *r.Tmms, 10)
		b = append(b, ',')
	}
	b = append(b, `"tmst":`...)
	b = strconv.AppendUint(b, uint64(r.Tmst), 10)
	b = append(b, `,"freq":`...)
	var ok bool
	if b, ok = appendJSONFloat(b, r.Freq); !ok {
		return b, false
	}
	b = append(b, `,"chan":`...)
	b = strconv.AppendUint(b, uint64(r.Chan), 10)
	b = append(b, `,"rfch":`...)
	b = strconv.AppendUint(b, uint64(r.RFCh), 10)
	b = append(b, `,"stat":`...)
	b = strconv.AppendInt(b, int64(r.Stat), 10)
	b = append(b, `,"modu":`...)
	if b, ok = appendJSONPlainString(b, string(r.Modu)); !ok {
		return b, false
	}
	b = append(b, `,"datr":`...)
	switch {
	case r.DatR.IsLoRa():
		b = append(b, `"SF`...)
		b = strconv.AppendUint(b, uint64(r.DatR.sf), 10)
		b = append(b, "BW"...)
		b = strconv.AppendUint(b, uint64(r.DatR.bw), 10)
		b = append(b, '"')
	case r.DatR.IsFSK():
		b = strconv.AppendUint(b, uint64(r.DatR.bps), 10)
	default:
		return b, false
	}
	if r.CodR != "" {
		b = append(b, `,"codr":`...)
		if b, ok = appendJSONPlainString(b, r.CodR); !ok {
			return b, false
		}
	}
	b = append(b, `,"rssi":`...)
	b = strconv.AppendInt(b, int64(r.RSSI), 10)
	b = append(b, `,"lsnr":`...)
	if b, ok = appendJSONFloat(b, r.LSNR); !ok {
		return b, false
	}
	if r.RSSIS != nil {
		b = append(b, `,"rssis":`...)
		b = strconv.AppendInt(b, int64(*r.RSSIS), 10)
	}
	if r.RSSIC != nil {
		b = append(b, `,"rssic":`...)
		b = strconv.AppendInt(b, int64(*r.RSSIC), 10)
	}
	if r.FOff != nil {
		b = append(b, `,"foff":`...)
		b = strconv.AppendInt(b, int64(*r.FOff), 10)
	}
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, uint64(r.Size), 10)
	b = append(b, `,"data":"`...)
	b = base64.StdEncoding.AppendEncode(b, r.Data)
	return append(b, `"}`...), true
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONPlainString appends s quoted when it needs no escaping in
// encoding/json (printable ASCII other than ", \, <, > and &).
func appendJSONPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}
