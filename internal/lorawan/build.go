package lorawan

import (
	"fmt"

	lw "github.com/brocaar/lorawan"
)

// JoinAcceptParams are the fields of a LoRaWAN 1.0.x join-accept.
type JoinAcceptParams struct {
	JoinNonce   uint32 // AppNonce, 24 bits
	NetID       NetID
	DevAddr     DevAddr
	RX1DROffset uint8  // 0..7
	RX2DataRate uint8  // 0..15
	RxDelay     uint8  // seconds, 0..15 (0 means 1)
	CFList      []byte // nil or 16 bytes
}

// BuildJoinAccept builds and encrypts a LoRaWAN 1.0.x join-accept with the
// AppKey: MIC over the plain message, then AES decryption of payload and MIC.
func BuildJoinAccept(p JoinAcceptParams, appKey Key) ([]byte, error) {
	if p.JoinNonce >= 1<<24 || p.RX1DROffset > 7 || p.RX2DataRate > 15 || p.RxDelay > 15 {
		return nil, fmt.Errorf("%w: join-accept field out of range", ErrBadParam)
	}
	if p.CFList != nil && len(p.CFList) != 16 {
		return nil, fmt.Errorf("%w: CFList of %d bytes, want 16", ErrBadParam, len(p.CFList))
	}
	jp := &lw.JoinAcceptPayload{
		JoinNonce:  lw.JoinNonce(p.JoinNonce),
		HomeNetID:  lw.NetID(p.NetID),
		DevAddr:    lw.DevAddr(p.DevAddr),
		DLSettings: lw.DLSettings{RX1DROffset: p.RX1DROffset, RX2DataRate: p.RX2DataRate},
		RXDelay:    p.RxDelay,
	}
	if p.CFList != nil {
		jp.CFList = &lw.CFList{
			CFListType: lw.CFListType(p.CFList[15]),
			Payload:    &lw.DataPayload{Bytes: append([]byte(nil), p.CFList[:15]...)},
		}
	}
	phy := lw.PHYPayload{
		MHDR:       lw.MHDR{MType: lw.JoinAccept, Major: lw.LoRaWANR1},
		MACPayload: jp,
	}
	// 1.0: OptNeg is clear, so the join type, JoinEUI and DevNonce are unused.
	if err := phy.SetDownlinkJoinMIC(lw.JoinRequestType, lw.EUI64{}, 0, lw.AES128Key(appKey)); err != nil {
		return nil, fmt.Errorf("lorawan: sign join-accept: %w", err)
	}
	if err := phy.EncryptJoinAcceptPayload(lw.AES128Key(appKey)); err != nil {
		return nil, fmt.Errorf("lorawan: encrypt join-accept: %w", err)
	}
	out, err := phy.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("lorawan: marshal join-accept: %w", err)
	}
	return out, nil
}

// DataParams describe a LoRaWAN 1.0.x data frame to build.
type DataParams struct {
	MType      MType // one of the four data types
	DevAddr    DevAddr
	FCnt       uint32 // full counter; its low 16 bits go on air
	ADR        bool
	ADRACKReq  bool
	ACK        bool
	FPending   bool   // ClassB on uplink
	FOpts      []byte // at most 15 bytes of MAC commands (plain in 1.0)
	HasFPort   bool
	FPort      uint8
	FRMPayload []byte // plain; needs HasFPort
}

// BuildData builds a LoRaWAN 1.0.x data frame: it encrypts the FRMPayload
// (NwkSKey for FPort 0, else AppSKey) and signs with the NwkSKey. The router's
// basic LNS uses it for downlinks, the device simulator for uplinks.
func BuildData(p DataParams, keys SessionKeys) ([]byte, error) {
	if !p.MType.IsData() {
		return nil, fmt.Errorf("%w: %s is not a data type", ErrWrongType, p.MType)
	}
	if len(p.FOpts) > 15 {
		return nil, fmt.Errorf("%w: %d FOpts bytes, max 15", ErrBadParam, len(p.FOpts))
	}
	if len(p.FRMPayload) > 0 && !p.HasFPort {
		return nil, fmt.Errorf("%w: FRMPayload without FPort", ErrBadParam)
	}
	if p.HasFPort && p.FPort == 0 && len(p.FOpts) > 0 {
		return nil, fmt.Errorf("%w: FOpts with FPort 0", ErrBadParam)
	}
	mac := &lw.MACPayload{FHDR: lw.FHDR{
		DevAddr: lw.DevAddr(p.DevAddr),
		FCtrl:   lw.FCtrl{ADR: p.ADR, ADRACKReq: p.ADRACKReq, ACK: p.ACK, FPending: p.FPending},
		FCnt:    p.FCnt,
	}}
	if len(p.FOpts) > 0 {
		mac.FHDR.FOpts = []lw.Payload{&lw.DataPayload{Bytes: append([]byte(nil), p.FOpts...)}}
	}
	if p.HasFPort {
		port := p.FPort
		mac.FPort = &port
	}
	if len(p.FRMPayload) > 0 {
		enc, err := EncryptFRMPayload(keys.PayloadKey(p.FPort), p.MType.IsUplink(), p.DevAddr, p.FCnt, p.FRMPayload)
		if err != nil {
			return nil, err
		}
		mac.FRMPayload = []lw.Payload{&lw.DataPayload{Bytes: enc}}
	}
	phy := lw.PHYPayload{
		MHDR:       lw.MHDR{MType: lw.MType(p.MType), Major: lw.LoRaWANR1},
		MACPayload: mac,
	}
	out, err := phy.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("lorawan: marshal data frame: %w", err)
	}
	if len(out) > MaxFrameSize {
		return nil, fmt.Errorf("%w: frame of %d bytes, max %d", ErrBadParam, len(out), MaxFrameSize)
	}
	mic := dataMIC10(keys.NwkSKey, p.MType.IsUplink(), p.DevAddr, p.FCnt, out[:len(out)-4])
	copy(out[len(out)-4:], mic[:])
	return out, nil
}

// BuildJoinRequest builds a join-request signed with the AppKey (the device
// simulator's side of OTAA).
func BuildJoinRequest(joinEUI, devEUI EUI64, devNonce uint16, appKey Key) ([]byte, error) {
	phy := lw.PHYPayload{
		MHDR: lw.MHDR{MType: lw.JoinRequest, Major: lw.LoRaWANR1},
		MACPayload: &lw.JoinRequestPayload{
			JoinEUI:  lw.EUI64(joinEUI),
			DevEUI:   lw.EUI64(devEUI),
			DevNonce: lw.DevNonce(devNonce),
		},
	}
	if err := phy.SetUplinkJoinMIC(lw.AES128Key(appKey)); err != nil {
		return nil, fmt.Errorf("lorawan: sign join-request: %w", err)
	}
	out, err := phy.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("lorawan: marshal join-request: %w", err)
	}
	return out, nil
}
