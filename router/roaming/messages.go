package roaming

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The JSON messages below are the subset of LoRaWAN Backend Interfaces
// (TS002-1.1) passive roaming that the router uses, with the spec's field
// names: PRStartReq/PRStartAns (fNS → hNS, stateless fNS, one uplink copy
// per request) and XmitDataReq/XmitDataAns (hNS → fNS, a later class-A
// downlink). Frequencies are MHz floats, byte strings hex, RecvTime ISO 8601.

// Message types used.
const (
	MsgPRStartReq  = "PRStartReq"
	MsgPRStartAns  = "PRStartAns"
	MsgXmitDataReq = "XmitDataReq"
	MsgXmitDataAns = "XmitDataAns"
)

// Result codes used (TS002 Table 24).
const (
	ResultSuccess                = "Success"
	ResultUnknownSender          = "UnknownSender"
	ResultUnknownReceiver        = "UnknownReceiver"
	ResultMalformedRequest       = "MalformedRequest"
	ResultInvalidProtocolVersion = "InvalidProtocolVersion"
	ResultFrameSizeError         = "FrameSizeError"
	ResultXmitFailed             = "XmitFailed"
)

// ProtocolVersion is the Backend Interfaces version we speak.
const ProtocolVersion = "1.1"

// HexBytes is a byte string as hex text ("0x" prefix accepted on input).
type HexBytes []byte

// MarshalText writes lower-case hex.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText reads hex, with or without "0x".
func (h *HexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(strings.TrimPrefix(string(b), "0x"))
	if err != nil {
		return fmt.Errorf("hex: %w", err)
	}
	*h = v
	return nil
}

// Base is the BasePayload every message carries.
type Base struct {
	ProtocolVersion string `json:"ProtocolVersion"`
	SenderID        string `json:"SenderID"`
	ReceiverID      string `json:"ReceiverID"`
	TransactionID   uint32 `json:"TransactionID"`
	MessageType     string `json:"MessageType"`
}

// Result is the Result object of answers.
type Result struct {
	ResultCode  string `json:"ResultCode"`
	Description string `json:"Description,omitempty"`
}

// GWInfo is a GWInfoElement.
type GWInfo struct {
	ID        HexBytes `json:"ID,omitempty"`
	RFRegion  string   `json:"RFRegion,omitempty"`
	RSSI      *int     `json:"RSSI,omitempty"`
	SNR       *float64 `json:"SNR,omitempty"`
	Lat       *float64 `json:"Lat,omitempty"`
	Lon       *float64 `json:"Lon,omitempty"`
	ULToken   HexBytes `json:"ULToken,omitempty"`
	DLAllowed bool     `json:"DLAllowed,omitempty"`
}

// ULMetaData is the uplink metadata of PRStartReq.
type ULMetaData struct {
	DevEUI   HexBytes  `json:"DevEUI,omitempty"`
	DevAddr  HexBytes  `json:"DevAddr,omitempty"`
	DataRate *int      `json:"DataRate,omitempty"`
	ULFreq   *float64  `json:"ULFreq,omitempty"`
	RecvTime time.Time `json:"RecvTime"`
	RFRegion string    `json:"RFRegion,omitempty"`
	GWCnt    *int      `json:"GWCnt,omitempty"`
	GWInfo   []GWInfo  `json:"GWInfo,omitempty"`
}

// DLMetaData is the downlink metadata of PRStartAns and XmitDataReq.
type DLMetaData struct {
	DLFreq1   *float64 `json:"DLFreq1,omitempty"`
	DLFreq2   *float64 `json:"DLFreq2,omitempty"`
	RXDelay1  *int     `json:"RXDelay1,omitempty"`
	ClassMode string   `json:"ClassMode,omitempty"`
	DataRate1 *int     `json:"DataRate1,omitempty"`
	DataRate2 *int     `json:"DataRate2,omitempty"`
	GWInfo    []GWInfo `json:"GWInfo,omitempty"`
}

// PRStartReq is sent by the fNS for an uplink of a roaming device.
type PRStartReq struct {
	Base
	PHYPayload HexBytes   `json:"PHYPayload"`
	ULMetaData ULMetaData `json:"ULMetaData"`
}

// PRStartAns answers PRStartReq; with Success it may carry a downlink
// (PHYPayload + DLMetaData) to send in sync.
type PRStartAns struct {
	Base
	Result     Result      `json:"Result"`
	PHYPayload HexBytes    `json:"PHYPayload,omitempty"`
	Lifetime   *int        `json:"Lifetime,omitempty"`
	DLMetaData *DLMetaData `json:"DLMetaData,omitempty"`
}

// XmitDataReq carries a downlink from the hNS.
type XmitDataReq struct {
	Base
	PHYPayload HexBytes    `json:"PHYPayload,omitempty"`
	FRMPayload HexBytes    `json:"FRMPayload,omitempty"`
	DLMetaData *DLMetaData `json:"DLMetaData,omitempty"`
}

// XmitDataAns answers XmitDataReq.
type XmitDataAns struct {
	Base
	Result Result `json:"Result"`
}

// decodeStrict decodes JSON into v; trailing data is an error. Unknown
// fields are accepted (the spec has many optional ones we do not use).
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("roaming: marshal: %w", err)
	}
	return b, nil
}
