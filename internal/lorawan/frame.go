package lorawan

import (
	"bytes"
	"encoding/binary"
	"fmt"

	lw "github.com/brocaar/lorawan"
)

// MaxFrameSize is the largest PHYPayload a LoRa radio carries.
const MaxFrameSize = 255

// Minimum (or exact) PHYPayload sizes per message type.
const (
	JoinRequestSize      = 23 // MHDR + JoinEUI + DevEUI + DevNonce + MIC
	JoinAcceptSize       = 17 // MHDR + 12-byte payload + MIC, without CFList
	JoinAcceptCFListSize = 33 // with the 16-byte CFList
	MinDataSize          = 12 // MHDR + FHDR without FOpts + MIC
	RejoinType02Size     = 19 // MHDR + type + NetID + DevEUI + RJcount0 + MIC
	RejoinType1Size      = 24 // MHDR + type + JoinEUI + DevEUI + RJcount1 + MIC
)

// FCtrl is the frame-control byte of a data frame.
type FCtrl uint8

// ADR reports the adaptive-data-rate bit.
func (c FCtrl) ADR() bool { return c&0x80 != 0 }

// ADRACKReq reports the ADRACKReq bit (uplink); RFU on downlink.
func (c FCtrl) ADRACKReq() bool { return c&0x40 != 0 }

// ACK reports the acknowledgement bit.
func (c FCtrl) ACK() bool { return c&0x20 != 0 }

// FPending reports the frame-pending bit (downlink); ClassB on uplink.
func (c FCtrl) FPending() bool { return c&0x10 != 0 }

// FOptsLen is the number of FOpts bytes.
func (c FCtrl) FOptsLen() int { return int(c & 0x0f) }

// Frame is a parsed PHYPayload. Which fields are set depends on MType:
// data frames set DevAddr, FCtrl, FCnt, FPort/HasFPort, FOpts, FRMPayload
// and MIC; join-requests set JoinEUI, DevEUI, DevNonce and MIC; join-accepts
// set FRMPayload (the encrypted bytes between MHDR and MIC) and MIC (still
// encrypted); rejoin-requests set FRMPayload (bytes between MHDR and MIC),
// DevEUI, and MIC; proprietary frames set only FRMPayload (all bytes after
// MHDR: they have no MIC that LoRaWAN defines). Slices alias Raw.
type Frame struct {
	MType      MType
	Major      uint8
	DevAddr    DevAddr
	FCtrl      FCtrl
	FCnt       uint16 // the 16 bits on air; see FullFCnt
	FPort      uint8
	HasFPort   bool
	FOpts      []byte // wire order, encrypted in 1.1
	FRMPayload []byte // wire order, as on air (encrypted)
	MIC        MIC
	JoinEUI    EUI64
	DevEUI     EUI64
	DevNonce   uint16
	Raw        []byte // the whole PHYPayload (a private copy)
}

// Uplink reports whether the frame travels from device to network.
func (f *Frame) Uplink() bool { return f.MType.IsUplink() }

// signed returns the bytes a MIC covers: everything but the MIC.
func (f *Frame) signed() []byte { return f.Raw[:len(f.Raw)-4] }

// checkLength validates b's length for its message type, so that nothing
// after it indexes out of range.
func checkLength(b []byte) (MType, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty frame", ErrTooShort)
	}
	if len(b) > MaxFrameSize {
		return 0, fmt.Errorf("%w: %d bytes, max %d", ErrMalformed, len(b), MaxFrameSize)
	}
	mt := MType(b[0] >> 5)
	switch mt {
	case JoinRequest:
		if len(b) < JoinRequestSize {
			return mt, fmt.Errorf("%w: join-request of %d bytes, want %d", ErrTooShort, len(b), JoinRequestSize)
		}
		if len(b) != JoinRequestSize {
			return mt, fmt.Errorf("%w: join-request of %d bytes, want %d", ErrMalformed, len(b), JoinRequestSize)
		}
	case JoinAccept:
		if len(b) < JoinAcceptSize {
			return mt, fmt.Errorf("%w: join-accept of %d bytes, want %d or %d", ErrTooShort, len(b), JoinAcceptSize, JoinAcceptCFListSize)
		}
		if len(b) != JoinAcceptSize && len(b) != JoinAcceptCFListSize {
			return mt, fmt.Errorf("%w: join-accept of %d bytes, want %d or %d", ErrMalformed, len(b), JoinAcceptSize, JoinAcceptCFListSize)
		}
	case RejoinRequest:
		if len(b) < RejoinType02Size {
			return mt, fmt.Errorf("%w: rejoin-request of %d bytes", ErrTooShort, len(b))
		}
		want := RejoinType02Size
		switch b[1] {
		case 0, 2:
		case 1:
			want = RejoinType1Size
		default:
			return mt, fmt.Errorf("%w: rejoin type %d", ErrMalformed, b[1])
		}
		if len(b) < want {
			return mt, fmt.Errorf("%w: rejoin-request type %d of %d bytes, want %d", ErrTooShort, b[1], len(b), want)
		}
		if len(b) != want {
			return mt, fmt.Errorf("%w: rejoin-request type %d of %d bytes, want %d", ErrMalformed, b[1], len(b), want)
		}
	case Proprietary:
		// MHDR alone is a valid (empty) proprietary frame.
	default: // data
		if len(b) < MinDataSize {
			return mt, fmt.Errorf("%w: data frame of %d bytes, want at least %d", ErrTooShort, len(b), MinDataSize)
		}
		if n := MinDataSize + FCtrl(b[5]).FOptsLen(); len(b) < n {
			return mt, fmt.Errorf("%w: data frame of %d bytes with %d FOpts bytes, want at least %d", ErrTooShort, len(b), FCtrl(b[5]).FOptsLen(), n)
		}
	}
	return mt, nil
}

// Parse decodes any PHYPayload. It validates lengths per message type first
// (join-request 23 bytes, join-accept 17 or 33, rejoin-request 19 or 24, data
// 12 + FOptsLen or more, proprietary 1 or more, none over 255), then decodes
// with brocaar/lorawan, and never panics. Errors wrap ErrTooShort or
// ErrMalformed.
func Parse(b []byte) (f *Frame, err error) {
	mt, err := checkLength(b)
	if err != nil {
		return nil, err
	}
	raw := bytes.Clone(b)
	f = &Frame{MType: mt, Major: raw[0] & 0x03, Raw: raw}
	if mt == Proprietary {
		f.FRMPayload = raw[1:]
		return f, nil
	}
	defer func() {
		// Last resort: the lengths are checked above, but the library is
		// not ours.
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrMalformed, r)
		}
	}()
	var phy lw.PHYPayload
	if err := phy.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	copy(f.MIC[:], phy.MIC[:])
	switch pl := phy.MACPayload.(type) {
	case *lw.MACPayload:
		f.DevAddr = DevAddr(pl.FHDR.DevAddr)
		f.FCtrl = FCtrl(raw[5])
		f.FCnt = uint16(pl.FHDR.FCnt)
		for _, o := range pl.FHDR.FOpts {
			if dp, ok := o.(*lw.DataPayload); ok {
				f.FOpts = dp.Bytes
			}
		}
		if pl.FPort != nil {
			f.HasFPort, f.FPort = true, *pl.FPort
		}
		for _, p := range pl.FRMPayload {
			if dp, ok := p.(*lw.DataPayload); ok {
				f.FRMPayload = dp.Bytes
			}
		}
		if len(f.FOpts) != f.FCtrl.FOptsLen() {
			return nil, fmt.Errorf("%w: FOpts length mismatch", ErrMalformed)
		}
	case *lw.JoinRequestPayload:
		f.JoinEUI, f.DevEUI = EUI64(pl.JoinEUI), EUI64(pl.DevEUI)
		f.DevNonce = uint16(pl.DevNonce)
	case *lw.DataPayload: // join-accept, encrypted
		f.FRMPayload = raw[1 : len(raw)-4]
	case *lw.RejoinRequestType02Payload:
		f.DevEUI = EUI64(pl.DevEUI)
		f.FRMPayload = raw[1 : len(raw)-4]
	case *lw.RejoinRequestType1Payload:
		f.JoinEUI, f.DevEUI = EUI64(pl.JoinEUI), EUI64(pl.DevEUI)
		f.FRMPayload = raw[1 : len(raw)-4]
	default:
		return nil, fmt.Errorf("%w: unexpected payload %T", ErrMalformed, pl)
	}
	return f, nil
}

// PeekMType returns the message type of a PHYPayload without decoding it.
func PeekMType(b []byte) (MType, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty frame", ErrTooShort)
	}
	return MType(b[0] >> 5), nil
}

// PeekDevAddr returns the DevAddr of a data frame without a full decode or
// any allocation; it checks the frame's length like Parse does.
func PeekDevAddr(b []byte) (DevAddr, error) {
	var a DevAddr
	mt, err := checkLength(b)
	if err != nil {
		return a, err
	}
	if !mt.IsData() {
		return a, fmt.Errorf("%w: %s has no DevAddr", ErrWrongType, mt)
	}
	reverse(a[:], b[1:5])
	return a, nil
}

// PeekJoinEUIs returns the JoinEUI and DevEUI of a join-request without a
// full decode or any allocation.
func PeekJoinEUIs(b []byte) (joinEUI, devEUI EUI64, err error) {
	mt, err := checkLength(b)
	if err != nil {
		return joinEUI, devEUI, err
	}
	if mt != JoinRequest {
		return joinEUI, devEUI, fmt.Errorf("%w: %s is not a join-request", ErrWrongType, mt)
	}
	reverse(joinEUI[:], b[1:9])
	reverse(devEUI[:], b[9:17])
	return joinEUI, devEUI, nil
}

// PeekFCnt returns the 16-bit FCnt of a data frame without a full decode.
func PeekFCnt(b []byte) (uint16, error) {
	mt, err := checkLength(b)
	if err != nil {
		return 0, err
	}
	if !mt.IsData() {
		return 0, fmt.Errorf("%w: %s has no FCnt", ErrWrongType, mt)
	}
	return binary.LittleEndian.Uint16(b[6:8]), nil
}
