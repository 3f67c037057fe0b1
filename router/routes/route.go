// Package routes holds the OUI routes of the packet router: which DevAddr
// ranges and (JoinEUI, DevEUI) pairs an organization buys, how many copies,
// who pays, and where the packets go. It provides the route codec, a fast
// immutable lookup Table, a Pebble-backed Service that persists routes and
// swaps tables on change, and an admin HTTP API until the ledger owns routes.
package routes

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Limits on a route, so that a hostile or mistaken route cannot blow up the table.
const (
	MaxRouteSize     = 64 << 10 // encoded bytes
	MaxRanges        = 1024
	MaxEUIs          = 4096
	MaxDestinations  = 8
	MaxSessionKeys   = 256
	MaxCopiesLimit   = 100
	MaxIDLength      = 64
	MaxPayerLength   = 128
	MaxAddressLength = 512
)

// Sentinel errors of the codec and the service.
var (
	// ErrInvalid reports a route that is malformed or breaks a limit.
	ErrInvalid = errors.New("routes: invalid route")
	// ErrNotFound reports an unknown route ID.
	ErrNotFound = errors.New("routes: route not found")
)

// Protocol names how a destination receives packets.
type Protocol string

// Delivery protocols (DESIGN.md §6).
const (
	// ProtocolGWMP is the Semtech UDP packet forwarder protocol; Address is host:port.
	ProtocolGWMP Protocol = "gwmp"
	// ProtocolChirpStackMQTT is the ChirpStack gateway bridge MQTT JSON
	// convention; Address is an MQTT broker URL (tcp://host:1883).
	ProtocolChirpStackMQTT Protocol = "chirpstack_mqtt"
	// ProtocolHTTPRoaming is LoRaWAN Backend Interfaces passive roaming; Address is an http(s) URL.
	ProtocolHTTPRoaming Protocol = "http_roaming"
)

// Destination is one LNS endpoint of a route.
type Destination struct {
	Protocol Protocol `json:"protocol"`
	// Address is host:port (gwmp) or a URL (chirpstack_mqtt, http_roaming).
	Address string `json:"address"`
	// Region is the topic prefix for chirpstack_mqtt (e.g. "eu868"); empty means the packet's region.
	Region string `json:"region,omitempty"`
	// NetID is the receiver's 24-bit NetID in hex for http_roaming.
	NetID string `json:"net_id,omitempty"`
}

// Key identifies the destination for per-destination queues.
func (d Destination) Key() string {
	return string(d.Protocol) + "|" + d.Address + "|" + d.Region + "|" + d.NetID
}

// Validate checks protocol and address.
func (d Destination) Validate() error {
	if len(d.Address) == 0 || len(d.Address) > MaxAddressLength {
		return fmt.Errorf("%w: destination address length %d", ErrInvalid, len(d.Address))
	}
	switch d.Protocol {
	case ProtocolGWMP:
		host, port, err := net.SplitHostPort(d.Address)
		if err != nil || host == "" {
			return fmt.Errorf("%w: gwmp address %q is not host:port", ErrInvalid, d.Address)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("%w: gwmp port %q", ErrInvalid, port)
		}
	case ProtocolChirpStackMQTT, ProtocolHTTPRoaming:
		u, err := url.Parse(d.Address)
		if err != nil || u.Host == "" || u.Scheme == "" {
			return fmt.Errorf("%w: %s address %q is not a URL", ErrInvalid, d.Protocol, d.Address)
		}
		if d.Protocol == ProtocolHTTPRoaming && u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("%w: roaming URL scheme %q", ErrInvalid, u.Scheme)
		}
	default:
		return fmt.Errorf("%w: unknown protocol %q", ErrInvalid, d.Protocol)
	}
	if len(d.Region) > 32 || strings.ContainsAny(d.Region, "/+#") {
		return fmt.Errorf("%w: region %q", ErrInvalid, d.Region)
	}
	if d.NetID != "" {
		if b, err := hex.DecodeString(d.NetID); err != nil || len(b) != 3 {
			return fmt.Errorf("%w: net_id %q is not 6 hex digits", ErrInvalid, d.NetID)
		}
	}
	return nil
}

// DevAddr is a LoRaWAN device address as a number (the big-endian reading of
// its usual hex spelling, "26011234" is 0x26011234). JSON: 8 hex digits.
type DevAddr uint32

// MarshalText writes 8 hex digits.
func (a DevAddr) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%08x", uint32(a))), nil }

// UnmarshalText reads 8 hex digits.
func (a *DevAddr) UnmarshalText(b []byte) error {
	if len(b) != 8 {
		return fmt.Errorf("%w: dev_addr %q is not 8 hex digits", ErrInvalid, b)
	}
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return fmt.Errorf("%w: dev_addr %q", ErrInvalid, b)
	}
	*a = DevAddr(v)
	return nil
}

// EUI is a 64-bit EUI as a number (big-endian reading of its hex spelling).
// JSON: 16 hex digits; "*" is the wildcard, stored as 0.
type EUI uint64

// MarshalText writes 16 hex digits, or "*" for the wildcard 0.
func (e EUI) MarshalText() ([]byte, error) {
	if e == 0 {
		return []byte("*"), nil
	}
	return []byte(fmt.Sprintf("%016x", uint64(e))), nil
}

// UnmarshalText reads 16 hex digits or "*".
func (e *EUI) UnmarshalText(b []byte) error {
	if string(b) == "*" {
		*e = 0
		return nil
	}
	if len(b) != 16 {
		return fmt.Errorf("%w: eui %q is not 16 hex digits", ErrInvalid, b)
	}
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil {
		return fmt.Errorf("%w: eui %q", ErrInvalid, b)
	}
	*e = EUI(v)
	return nil
}

// DevAddrRange is an inclusive range of device addresses.
type DevAddrRange struct {
	Start DevAddr `json:"start"`
	End   DevAddr `json:"end"`
}

// EUIPair matches join-requests by JoinEUI and DevEUI; a DevEUI of 0 ("*")
// matches every DevEUI under the JoinEUI.
type EUIPair struct {
	JoinEUI EUI `json:"join_eui"`
	DevEUI  EUI `json:"dev_eui"`
}

// Key128 is an AES-128 key, JSON as 32 hex digits.
type Key128 [16]byte

// MarshalText writes 32 hex digits.
func (k Key128) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(k[:])), nil }

// UnmarshalText reads 32 hex digits.
func (k *Key128) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("%w: key is not 32 hex digits", ErrInvalid)
	}
	if _, err := hex.Decode(k[:], b); err != nil {
		return fmt.Errorf("%w: key: %v", ErrInvalid, err)
	}
	return nil
}

// Route is what one OUI buys and where it goes. Routes of one payer lock and
// unlock together (insufficient data credits).
type Route struct {
	ID    string `json:"id"`
	OUI   uint64 `json:"oui"`
	Payer string `json:"payer"` // account paying data credits
	// MaxCopies is how many hotspots' copies of one packet the route buys (≥ 1).
	MaxCopies     uint32         `json:"max_copies"`
	DevAddrRanges []DevAddrRange `json:"dev_addr_ranges,omitempty"`
	EUIs          []EUIPair      `json:"euis,omitempty"`
	Destinations  []Destination  `json:"destinations"`
	// SessionKeys, when set, is a filter for data uplinks: a frame matches
	// only when its MIC verifies under one of these NwkSKeys.
	SessionKeys []Key128 `json:"session_keys,omitempty"`
	Active      bool     `json:"active"`
	Locked      bool     `json:"locked"`
}

// Validate checks every field and limit.
func (r *Route) Validate() error {
	if r.ID == "" || len(r.ID) > MaxIDLength || strings.ContainsAny(r.ID, "/ \t\n") {
		return fmt.Errorf("%w: id %q", ErrInvalid, r.ID)
	}
	if r.Payer == "" || len(r.Payer) > MaxPayerLength {
		return fmt.Errorf("%w: payer %q", ErrInvalid, r.Payer)
	}
	if r.MaxCopies == 0 || r.MaxCopies > MaxCopiesLimit {
		return fmt.Errorf("%w: max_copies %d not in 1..%d", ErrInvalid, r.MaxCopies, MaxCopiesLimit)
	}
	if len(r.DevAddrRanges) > MaxRanges || len(r.EUIs) > MaxEUIs || len(r.SessionKeys) > MaxSessionKeys {
		return fmt.Errorf("%w: too many ranges, euis or session keys", ErrInvalid)
	}
	for _, rg := range r.DevAddrRanges {
		if rg.End < rg.Start {
			return fmt.Errorf("%w: range %08x-%08x ends before it starts", ErrInvalid, uint32(rg.Start), uint32(rg.End))
		}
	}
	for _, p := range r.EUIs {
		if p.JoinEUI == 0 && p.DevEUI == 0 {
			return fmt.Errorf("%w: eui pair with both wildcards", ErrInvalid)
		}
	}
	if len(r.Destinations) == 0 || len(r.Destinations) > MaxDestinations {
		return fmt.Errorf("%w: %d destinations, want 1..%d", ErrInvalid, len(r.Destinations), MaxDestinations)
	}
	for _, d := range r.Destinations {
		if err := d.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Decode parses and validates a route from JSON; unknown fields and trailing
// data are errors.
func Decode(b []byte) (*Route, error) {
	if len(b) > MaxRouteSize {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrInvalid, len(b), MaxRouteSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Route
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Encode validates and encodes r as JSON.
func (r *Route) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// Clone returns a deep copy of r.
func (r *Route) Clone() *Route {
	c := *r
	c.DevAddrRanges = append([]DevAddrRange(nil), r.DevAddrRanges...)
	c.EUIs = append([]EUIPair(nil), r.EUIs...)
	c.Destinations = append([]Destination(nil), r.Destinations...)
	c.SessionKeys = append([]Key128(nil), r.SessionKeys...)
	return &c
}
