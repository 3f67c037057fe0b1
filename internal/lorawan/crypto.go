package lorawan

import (
	"bytes"
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	lw "github.com/brocaar/lorawan"
	"github.com/jacobsa/crypto/cmac"
)

// cmacSum returns AES-CMAC(key, parts...) (RFC 4493), using the same CMAC
// implementation brocaar/lorawan uses.
func cmacSum(key Key, parts ...[]byte) [16]byte {
	var out [16]byte
	h, err := cmac.New(key[:])
	if err != nil { // only for a bad key length, which Key rules out
		panic(err)
	}
	for _, p := range parts {
		h.Write(p)
	}
	copy(out[:], h.Sum(nil))
	return out
}

// aesEncrypt returns AES-128-ECB encryption of one block.
func aesEncrypt(key Key, block []byte) [16]byte {
	var out [16]byte
	c, _ := aes.NewCipher(key[:]) // a 16-byte key never fails
	c.Encrypt(out[:], block)
	return out
}

// micBlock is the B0/B1 block of the data-frame MIC: 0x49, four
// version-dependent bytes, Dir, DevAddr (LE), FCnt (LE 32 bits), 0, len(msg).
func micBlock(b14 [4]byte, uplink bool, devAddr DevAddr, fcnt uint32, msgLen int) []byte {
	b := make([]byte, 16)
	b[0] = 0x49
	copy(b[1:5], b14[:])
	if !uplink {
		b[5] = 1
	}
	reverse(b[6:10], devAddr[:])
	binary.LittleEndian.PutUint32(b[10:14], fcnt)
	b[15] = byte(msgLen)
	return b
}

// dataMIC10 is the LoRaWAN 1.0 data MIC over msg (MHDR..FRMPayload).
func dataMIC10(key Key, uplink bool, devAddr DevAddr, fcnt uint32, msg []byte) MIC {
	s := cmacSum(key, micBlock([4]byte{}, uplink, devAddr, fcnt, len(msg)), msg)
	return MIC(s[:4])
}

func micEqual(a, b MIC) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// DataMIC computes the LoRaWAN 1.0.x MIC of a data frame (uplink or
// downlink) with the NwkSKey and the full 32-bit frame counter, whose low 16
// bits must be the frame's FCnt.
func (f *Frame) DataMIC(nwkSKey Key, fcnt uint32) (MIC, error) {
	if !f.MType.IsData() {
		return MIC{}, fmt.Errorf("%w: %s is not a data frame", ErrWrongType, f.MType)
	}
	if uint16(fcnt) != f.FCnt {
		return MIC{}, fmt.Errorf("%w: full FCnt %d does not end in the frame's FCnt %d", ErrBadParam, fcnt, f.FCnt)
	}
	return dataMIC10(nwkSKey, f.Uplink(), f.DevAddr, fcnt, f.signed()), nil
}

// ValidDataMIC reports whether a data frame's MIC verifies (LoRaWAN 1.0.x)
// with the NwkSKey and the full 32-bit frame counter.
func (f *Frame) ValidDataMIC(nwkSKey Key, fcnt uint32) bool {
	m, err := f.DataMIC(nwkSKey, fcnt)
	return err == nil && micEqual(m, f.MIC)
}

// DataMIC11 computes the LoRaWAN 1.1 MIC of a data frame. Uplink: the first
// two bytes come from SNwkSIntKey over B1 (ConfFCnt when ACK is set, TxDR,
// TxCh), the last two from FNwkSIntKey over B0. Downlink: SNwkSIntKey over
// B0 carrying ConfFCnt when ACK is set; fNwkSIntKey, txDR and txCh are unused.
func (f *Frame) DataMIC11(fNwkSIntKey, sNwkSIntKey Key, fcnt, confFCnt uint32, txDR, txCh uint8) (MIC, error) {
	if !f.MType.IsData() {
		return MIC{}, fmt.Errorf("%w: %s is not a data frame", ErrWrongType, f.MType)
	}
	if uint16(fcnt) != f.FCnt {
		return MIC{}, fmt.Errorf("%w: full FCnt %d does not end in the frame's FCnt %d", ErrBadParam, fcnt, f.FCnt)
	}
	if !f.FCtrl.ACK() {
		confFCnt = 0
	}
	var conf [4]byte
	binary.LittleEndian.PutUint16(conf[0:2], uint16(confFCnt))
	msg := f.signed()
	if !f.Uplink() {
		s := cmacSum(sNwkSIntKey, micBlock(conf, false, f.DevAddr, fcnt, len(msg)), msg)
		return MIC(s[:4]), nil
	}
	conf[2], conf[3] = txDR, txCh
	s := cmacSum(sNwkSIntKey, micBlock(conf, true, f.DevAddr, fcnt, len(msg)), msg)
	fm := cmacSum(fNwkSIntKey, micBlock([4]byte{}, true, f.DevAddr, fcnt, len(msg)), msg)
	return MIC{s[0], s[1], fm[0], fm[1]}, nil
}

// JoinRequestMIC computes a join-request's MIC with the AppKey (the NwkKey
// in 1.1): CMAC over MHDR | JoinEUI | DevEUI | DevNonce.
func (f *Frame) JoinRequestMIC(appKey Key) (MIC, error) {
	if f.MType != JoinRequest {
		return MIC{}, fmt.Errorf("%w: %s is not a join-request", ErrWrongType, f.MType)
	}
	s := cmacSum(appKey, f.signed())
	return MIC(s[:4]), nil
}

// ValidJoinRequestMIC reports whether a join-request's MIC verifies.
func (f *Frame) ValidJoinRequestMIC(appKey Key) bool {
	m, err := f.JoinRequestMIC(appKey)
	return err == nil && micEqual(m, f.MIC)
}

// DecryptedJoinAccept is a decrypted join-accept.
type DecryptedJoinAccept struct {
	MHDR       byte
	JoinNonce  uint32 // AppNonce in 1.0, 24 bits
	NetID      NetID
	DevAddr    DevAddr
	DLSettings byte // OptNeg (bit 7, 1.1 only) | RX1DROffset (6..4) | RX2DataRate (3..0)
	RxDelay    uint8
	CFList     []byte // 16 bytes, or nil
	MIC        MIC    // decrypted
	Payload    []byte // decrypted MACPayload (JoinNonce..CFList), wire order
}

// OptNeg reports the 1.1 OptNeg bit of DLSettings.
func (ja *DecryptedJoinAccept) OptNeg() bool { return ja.DLSettings&0x80 != 0 }

// RX1DROffset returns the RX1 data-rate offset of DLSettings.
func (ja *DecryptedJoinAccept) RX1DROffset() int { return int(ja.DLSettings>>4) & 0x07 }

// RX2DataRate returns the RX2 data rate of DLSettings.
func (ja *DecryptedJoinAccept) RX2DataRate() int { return int(ja.DLSettings & 0x0f) }

// parseJoinAcceptPlain reads a decrypted join-accept (payload + MIC).
func parseJoinAcceptPlain(mhdr byte, plain []byte) (*DecryptedJoinAccept, error) {
	if len(plain) != JoinAcceptSize-1 && len(plain) != JoinAcceptCFListSize-1 {
		return nil, fmt.Errorf("%w: join-accept payload of %d bytes", ErrMalformed, len(plain))
	}
	pl := plain[:len(plain)-4]
	ja := &DecryptedJoinAccept{
		MHDR:       mhdr,
		JoinNonce:  uint32(pl[0]) | uint32(pl[1])<<8 | uint32(pl[2])<<16,
		DLSettings: pl[10],
		RxDelay:    pl[11],
		Payload:    pl,
	}
	reverse(ja.NetID[:], pl[3:6])
	reverse(ja.DevAddr[:], pl[6:10])
	if len(pl) > 12 {
		ja.CFList = pl[12:]
	}
	copy(ja.MIC[:], plain[len(plain)-4:])
	return ja, nil
}

// DecryptJoinAccept decrypts a join-accept with the AppKey (1.0; the NwkKey
// or JSEncKey in 1.1). The device side "decrypts" with AES encryption, so
// the network can use AES decryption to encrypt.
func (f *Frame) DecryptJoinAccept(appKey Key) (*DecryptedJoinAccept, error) {
	if f.MType != JoinAccept {
		return nil, fmt.Errorf("%w: %s is not a join-accept", ErrWrongType, f.MType)
	}
	ct := f.Raw[1:]
	if len(ct)%16 != 0 {
		return nil, fmt.Errorf("%w: join-accept of %d bytes", ErrMalformed, len(f.Raw))
	}
	plain := make([]byte, len(ct))
	for i := 0; i < len(ct); i += 16 {
		b := aesEncrypt(appKey, ct[i:i+16])
		copy(plain[i:], b[:])
	}
	return parseJoinAcceptPlain(f.Raw[0], plain)
}

// ComputeMIC returns the LoRaWAN 1.0 join-accept MIC with the AppKey:
// CMAC over MHDR | JoinNonce | NetID | DevAddr | DLSettings | RxDelay | CFList.
func (ja *DecryptedJoinAccept) ComputeMIC(appKey Key) MIC {
	s := cmacSum(appKey, []byte{ja.MHDR}, ja.Payload)
	return MIC(s[:4])
}

// ValidMIC reports whether the 1.0 join-accept MIC verifies with the AppKey.
func (ja *DecryptedJoinAccept) ValidMIC(appKey Key) bool {
	return micEqual(ja.ComputeMIC(appKey), ja.MIC)
}

// ComputeMIC11 returns the LoRaWAN 1.1 (OptNeg) join-accept MIC with the
// JSIntKey: CMAC over JoinReqType | JoinEUI | DevNonce | MHDR | payload, the
// EUI and nonce in wire (little-endian) order.
func (ja *DecryptedJoinAccept) ComputeMIC11(jsIntKey Key, joinReqType byte, joinEUI EUI64, devNonce uint16) MIC {
	pre := make([]byte, 11)
	pre[0] = joinReqType
	reverse(pre[1:9], joinEUI[:])
	binary.LittleEndian.PutUint16(pre[9:11], devNonce)
	s := cmacSum(jsIntKey, pre, []byte{ja.MHDR}, ja.Payload)
	return MIC(s[:4])
}

// EncryptFRMPayload encrypts or decrypts (the same operation) a FRMPayload
// with the LoRaWAN A-block keystream; the input is not modified. Use the
// AppSKey for FPort > 0 and the NwkSKey (1.1: NwkSEncKey) for FPort 0.
func EncryptFRMPayload(key Key, uplink bool, devAddr DevAddr, fcnt uint32, data []byte) ([]byte, error) {
	if len(data) == 0 {
		return []byte{}, nil
	}
	out, err := lw.EncryptFRMPayload(lw.AES128Key(key), uplink, lw.DevAddr(devAddr), fcnt, bytes.Clone(data))
	if err != nil {
		return nil, fmt.Errorf("lorawan: encrypt FRMPayload: %w", err)
	}
	return out, nil
}

// EncryptFOpts encrypts or decrypts LoRaWAN 1.1 FOpts (at most 15 bytes)
// with the NwkSEncKey; aFCntDown selects A-block byte 4 = 2 (downlink with
// FPort > 0, counted by AFCntDown) instead of 1. The input is not modified.
func EncryptFOpts(nwkSEncKey Key, aFCntDown, uplink bool, devAddr DevAddr, fcnt uint32, data []byte) ([]byte, error) {
	if len(data) > 15 {
		return nil, fmt.Errorf("%w: %d FOpts bytes, max 15", ErrBadParam, len(data))
	}
	out, err := lw.EncryptFOpts(lw.AES128Key(nwkSEncKey), aFCntDown, uplink, lw.DevAddr(devAddr), fcnt, bytes.Clone(data))
	if err != nil {
		return nil, fmt.Errorf("lorawan: encrypt FOpts: %w", err)
	}
	return out, nil
}

// SessionKeys are the LoRaWAN 1.0.x session keys of a device.
type SessionKeys struct {
	NwkSKey Key
	AppSKey Key
}

// PayloadKey returns the key that encrypts a FRMPayload on fport: the
// NwkSKey for FPort 0 (MAC commands), the AppSKey otherwise.
func (k SessionKeys) PayloadKey(fport uint8) Key {
	if fport == 0 {
		return k.NwkSKey
	}
	return k.AppSKey
}

// DecryptFRMPayload returns a data frame's decrypted FRMPayload, choosing the
// key by FPort (0: NwkSKey, else AppSKey); fcnt is the full 32-bit counter.
// A frame without FPort has no payload and yields an empty slice.
func (f *Frame) DecryptFRMPayload(keys SessionKeys, fcnt uint32) ([]byte, error) {
	if !f.MType.IsData() {
		return nil, fmt.Errorf("%w: %s is not a data frame", ErrWrongType, f.MType)
	}
	if !f.HasFPort {
		return []byte{}, nil
	}
	return EncryptFRMPayload(keys.PayloadKey(f.FPort), f.Uplink(), f.DevAddr, fcnt, f.FRMPayload)
}

// DeriveSessionKeys10 derives the LoRaWAN 1.0.x session keys from the
// AppKey: key = AES128(AppKey, type | AppNonce | NetID | DevNonce | pad16),
// type 0x01 for the NwkSKey and 0x02 for the AppSKey, numbers little-endian.
func DeriveSessionKeys10(appKey Key, joinNonce uint32, netID NetID, devNonce uint16) (SessionKeys, error) {
	if joinNonce >= 1<<24 {
		return SessionKeys{}, fmt.Errorf("%w: JoinNonce %d exceeds 24 bits", ErrBadParam, joinNonce)
	}
	block := func(typ byte) []byte {
		b := make([]byte, 16)
		b[0] = typ
		b[1], b[2], b[3] = byte(joinNonce), byte(joinNonce>>8), byte(joinNonce>>16)
		reverse(b[4:7], netID[:])
		binary.LittleEndian.PutUint16(b[7:9], devNonce)
		return b
	}
	return SessionKeys{
		NwkSKey: Key(aesEncrypt(appKey, block(0x01))),
		AppSKey: Key(aesEncrypt(appKey, block(0x02))),
	}, nil
}

// SessionKeys11 are the LoRaWAN 1.1 session keys of a device.
type SessionKeys11 struct {
	FNwkSIntKey Key
	SNwkSIntKey Key
	NwkSEncKey  Key
	AppSKey     Key
}

// DeriveSessionKeys11 derives the LoRaWAN 1.1 session keys: network keys
// from the NwkKey (types 0x01 FNwkSIntKey, 0x03 SNwkSIntKey, 0x04
// NwkSEncKey), the AppSKey from the AppKey (type 0x02), each over
// type | JoinNonce | JoinEUI | DevNonce | pad16, little-endian.
func DeriveSessionKeys11(nwkKey, appKey Key, joinNonce uint32, joinEUI EUI64, devNonce uint16) (SessionKeys11, error) {
	if joinNonce >= 1<<24 {
		return SessionKeys11{}, fmt.Errorf("%w: JoinNonce %d exceeds 24 bits", ErrBadParam, joinNonce)
	}
	block := func(typ byte) []byte {
		b := make([]byte, 16)
		b[0] = typ
		b[1], b[2], b[3] = byte(joinNonce), byte(joinNonce>>8), byte(joinNonce>>16)
		reverse(b[4:12], joinEUI[:])
		binary.LittleEndian.PutUint16(b[12:14], devNonce)
		return b
	}
	return SessionKeys11{
		FNwkSIntKey: Key(aesEncrypt(nwkKey, block(0x01))),
		AppSKey:     Key(aesEncrypt(appKey, block(0x02))),
		SNwkSIntKey: Key(aesEncrypt(nwkKey, block(0x03))),
		NwkSEncKey:  Key(aesEncrypt(nwkKey, block(0x04))),
	}, nil
}

// DeriveJSKeys derives the LoRaWAN 1.1 join-server keys from the NwkKey:
// JSEncKey (type 0x05) and JSIntKey (type 0x06) over type | DevEUI | pad16.
func DeriveJSKeys(nwkKey Key, devEUI EUI64) (jsIntKey, jsEncKey Key) {
	block := func(typ byte) []byte {
		b := make([]byte, 16)
		b[0] = typ
		reverse(b[1:9], devEUI[:])
		return b
	}
	return Key(aesEncrypt(nwkKey, block(0x06))), Key(aesEncrypt(nwkKey, block(0x05)))
}
