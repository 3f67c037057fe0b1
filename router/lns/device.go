package lns

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hexnet/hexnet/internal/lorawan"
)

// Sentinel errors of the device registry.
var (
	// ErrInvalidDevice reports a device that is malformed.
	ErrInvalidDevice = errors.New("lns: invalid device")
	// ErrUnknownDevice reports an unknown DevEUI.
	ErrUnknownDevice = errors.New("lns: unknown device")
	// ErrQueueFull reports a full downlink queue.
	ErrQueueFull = errors.New("lns: downlink queue full")
)

// MaxQueue bounds each device's downlink queue.
const MaxQueue = 16

// Device is one registered end device (LoRaWAN 1.0.x, class A). An OTAA
// device has an AppKey and gets its session at join; an ABP device has
// DevAddr, NwkSKey and AppSKey from the start.
type Device struct {
	DevEUI  string `json:"dev_eui"`            // 16 hex digits
	JoinEUI string `json:"join_eui,omitempty"` // 16 hex digits (OTAA)
	AppKey  string `json:"app_key,omitempty"`  // 32 hex digits (OTAA)
	// Session (ABP: given; OTAA: set by the join).
	DevAddr string `json:"dev_addr,omitempty"` // 8 hex digits
	NwkSKey string `json:"nwk_s_key,omitempty"`
	AppSKey string `json:"app_s_key,omitempty"`
	// FCntUp is the last accepted uplink counter (32 bits); HasUp tells
	// whether any uplink was accepted in this session.
	FCntUp   uint32 `json:"f_cnt_up"`
	HasUp    bool   `json:"has_up"`
	FCntDown uint32 `json:"f_cnt_down"`
	// DevNonces used by past joins (replay protection), newest last.
	DevNonces []uint16 `json:"dev_nonces,omitempty"`
	// Queue of downlinks waiting for the next uplink.
	Queue []QueueItem `json:"queue,omitempty"`
}

// QueueItem is one queued downlink.
type QueueItem struct {
	FPort     uint8  `json:"f_port"`
	Data      []byte `json:"data"` // base64 in JSON
	Confirmed bool   `json:"confirmed,omitempty"`
}

// maxNonces is how many DevNonces a device remembers.
const maxNonces = 64

// parsed holds a device's fields decoded.
type parsed struct {
	devEUI, joinEUI lorawan.EUI64
	appKey          lorawan.Key
	otaa            bool
	devAddr         lorawan.DevAddr
	keys            lorawan.SessionKeys
	session         bool
}

func (d *Device) parse() (parsed, error) {
	var p parsed
	var err error
	bad := func(what string, err error) (parsed, error) {
		return parsed{}, fmt.Errorf("%w: %s: %v", ErrInvalidDevice, what, err)
	}
	if p.devEUI, err = lorawan.ParseEUI64(d.DevEUI); err != nil {
		return bad("dev_eui", err)
	}
	if d.AppKey != "" {
		p.otaa = true
		if p.appKey, err = lorawan.ParseKey(d.AppKey); err != nil {
			return bad("app_key", err)
		}
		if p.joinEUI, err = lorawan.ParseEUI64(d.JoinEUI); err != nil {
			return bad("join_eui", err)
		}
	}
	if d.DevAddr != "" {
		p.session = true
		b, err := lorawan.ParseEUI64("00000000" + d.DevAddr)
		if err != nil || len(d.DevAddr) != 8 {
			return bad("dev_addr", fmt.Errorf("%q is not 8 hex digits", d.DevAddr))
		}
		copy(p.devAddr[:], b[4:])
		if p.keys.NwkSKey, err = lorawan.ParseKey(d.NwkSKey); err != nil {
			return bad("nwk_s_key", err)
		}
		if p.keys.AppSKey, err = lorawan.ParseKey(d.AppSKey); err != nil {
			return bad("app_s_key", err)
		}
	}
	if !p.otaa && !p.session {
		return parsed{}, fmt.Errorf("%w: needs app_key (OTAA) or dev_addr with session keys (ABP)", ErrInvalidDevice)
	}
	if len(d.Queue) > MaxQueue || len(d.DevNonces) > maxNonces {
		return parsed{}, fmt.Errorf("%w: queue or nonce list too long", ErrInvalidDevice)
	}
	return p, nil
}

// decodeDevice parses a device from JSON (unknown fields are errors) and
// normalises its hex fields to lower case.
func decodeDevice(b []byte) (*Device, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var d Device
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDevice, err)
	}
	for _, s := range []*string{&d.DevEUI, &d.JoinEUI, &d.AppKey, &d.DevAddr, &d.NwkSKey, &d.AppSKey} {
		*s = strings.ToLower(*s)
	}
	for _, q := range d.Queue {
		if len(q.Data) > 242 || q.FPort == 0 || q.FPort > 223 {
			return nil, fmt.Errorf("%w: queue item fport %d / %d bytes", ErrInvalidDevice, q.FPort, len(q.Data))
		}
	}
	if _, err := d.parse(); err != nil {
		return nil, err
	}
	return &d, nil
}
