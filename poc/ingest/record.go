package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/verify"
)

// Result is a stored and published verdict: a beacon with its witnesses
// (verify.Result), or a witness without a judged beacon (WitnessOnly: its
// beacon never arrived, beacon_not_found, with a zero Beaconer; or it came
// after the beacon was judged, too_late). Epoch is the reward epoch of the
// beacon's receive time.
type Result struct {
	verify.Result
	ID          [32]byte // SHA-256 of the beacon report (of the witness report when WitnessOnly)
	Epoch       uint64
	WitnessOnly bool
}

// ErrBadRecord is returned when a stored result does not decode.
var ErrBadRecord = errors.New("ingest: bad result record")

const (
	recordVersion  = 1
	witnessRecSize = 32 + 8 + 1 + 1 + 1 + 8 + 8 + 4 + 4 + 8
)

// flags of a record and of a witness entry.
const (
	flagOtherwiseValid = 1 << iota
	flagWitnessOnly
	flagRewarded
)

// appendRecord encodes r: version, flags, id, beaconer, data, receive time,
// reason, scale, units, epoch, then each witness.
func appendRecord(b []byte, r *Result) []byte {
	var flags byte
	if r.OtherwiseValid {
		flags |= flagOtherwiseValid
	}
	if r.WitnessOnly {
		flags |= flagWitnessOnly
	}
	b = append(b, recordVersion, flags)
	b = append(b, r.ID[:]...)
	b = append(b, r.Beaconer[:]...)
	b = append(b, byte(len(r.Data)))
	b = append(b, r.Data...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.ReceivedAt.UnixNano()))
	b = append(b, byte(r.Reason))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Scale))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Units))
	b = binary.BigEndian.AppendUint64(b, r.Epoch)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Witnesses)))
	for i := range r.Witnesses {
		w := &r.Witnesses[i]
		var wf byte
		if w.OtherwiseValid {
			wf |= flagOtherwiseValid
		}
		if w.Rewarded {
			wf |= flagRewarded
		}
		b = append(b, w.Witness[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(w.ReceivedAt.UnixNano()))
		b = append(b, byte(w.Reason), byte(w.Side), wf)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(w.Units))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(w.DistanceM))
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(w.RSSI))
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(w.SNR))
		b = binary.BigEndian.AppendUint64(b, w.Frequency)
	}
	return b
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || len(r.b) < n {
		r.err = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
func (r *reader) time() time.Time {
	return time.Unix(0, int64(r.u64())).UTC()
}

// decodeRecord decodes a stored result; it never panics.
func decodeRecord(b []byte) (*Result, error) {
	rd := &reader{b: b}
	if v := rd.u8(); v != recordVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadRecord, v)
	}
	flags := rd.u8()
	r := &Result{}
	copy(r.ID[:], rd.take(32))
	copy(r.Beaconer[:], rd.take(32))
	r.Data = append([]byte(nil), rd.take(int(rd.u8()))...)
	r.ReceivedAt = rd.time()
	r.Reason = poc.Reason(rd.u8())
	r.Scale = math.Float64frombits(rd.u64())
	r.Units = math.Float64frombits(rd.u64())
	r.Epoch = rd.u64()
	r.OtherwiseValid = flags&flagOtherwiseValid != 0
	r.WitnessOnly = flags&flagWitnessOnly != 0
	n := int(rd.u16())
	if rd.err || len(rd.b) != n*witnessRecSize {
		return nil, fmt.Errorf("%w: length", ErrBadRecord)
	}
	if !r.Reason.Known() {
		return nil, fmt.Errorf("%w: reason %d", ErrBadRecord, r.Reason)
	}
	r.Witnesses = make([]verify.WitnessVerdict, n)
	for i := range r.Witnesses {
		w := &r.Witnesses[i]
		w.Witness = identity.PublicKey(rd.take(32))
		w.ReceivedAt = rd.time()
		w.Reason = poc.Reason(rd.u8())
		w.Side = verify.Side(rd.u8())
		wf := rd.u8()
		w.OtherwiseValid = wf&flagOtherwiseValid != 0
		w.Rewarded = wf&flagRewarded != 0
		w.Units = math.Float64frombits(rd.u64())
		w.DistanceM = math.Float64frombits(rd.u64())
		w.RSSI = math.Float32frombits(rd.u32())
		w.SNR = math.Float32frombits(rd.u32())
		w.Frequency = rd.u64()
		if !w.Reason.Known() || w.Side > verify.SideBeaconer {
			return nil, fmt.Errorf("%w: witness %d", ErrBadRecord, i)
		}
	}
	if rd.err {
		return nil, fmt.Errorf("%w: truncated", ErrBadRecord)
	}
	return r, nil
}
