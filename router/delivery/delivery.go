// Package delivery defines what the router hands to an LNS destination and
// what comes back: Uplink (one purchased copy with its radio metadata),
// Downlink (a frame the LNS wants transmitted) and the Sender that carries
// them over one protocol (router/gwmpfwd for Semtech UDP, and others).
package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/routes"
)

// Uplink is one purchased copy of a packet, as delivered to a destination.
type Uplink struct {
	// PacketHash is SHA-256 of the PHYPayload; copies of one packet share it.
	PacketHash [32]byte
	// Hotspot is the key of the hotspot that heard this copy.
	Hotspot identity.PublicKey
	// Up is the verified PacketUp (payload and rx metadata); read only.
	Up *wire.PacketUp
	// MType is the LoRaWAN message type.
	MType lorawan.MType
	// ReceivedAt is the router's clock when the copy arrived.
	ReceivedAt time.Time
	// RouteID and OUI name the route that bought the copy.
	RouteID string
	OUI     uint64
}

// Downlink is a frame an LNS asked to transmit through one of the router's
// virtual gateways. The router picks the hotspot that actually transmits it.
type Downlink struct {
	// Hotspot is the virtual gateway the LNS addressed.
	Hotspot identity.PublicKey
	// PacketHash names the uplink this downlink answers, when HasHash.
	PacketHash [32]byte
	HasHash    bool
	// Payload is the PHYPayload to transmit.
	Payload []byte
	// Tmst is the concentrator counter of the addressed gateway at which to
	// transmit (µs); ignored when Immediate.
	Tmst      uint32
	Immediate bool
	// Frequency (Hz), DataRate ("SF12BW125") and PowerDBm (0 = default) of the window the LNS chose.
	Frequency uint64
	DataRate  string
	PowerDBm  uint32
	// Done, when set, is called once with the router's verdict: nil when
	// the downlink was signed and published to a hotspot, else why not.
	// Senders use it to answer their LNS (ChirpStack event/ack, roaming
	// XmitDataAns). It may run on the goroutine that passed the downlink.
	Done func(err error)
	// Ack, when set, is called at most once with what the hotspot reported
	// of the transmission (its signed TxAck), if that arrives within the
	// router's AckTimeout; senders relay it to their LNS (Semtech TX_ACK).
	Ack func(status wire.TxStatus)
}

// Sender delivers uplinks to one destination and reports its downlinks
// through the callback given to the Dialer.
type Sender interface {
	// Run owns the sender's goroutines (socket readers, keepalives) and
	// returns when ctx ends.
	Run(ctx context.Context) error
	// Send delivers one uplink; an error makes the router back off.
	Send(ctx context.Context, up *Uplink) error
	// Close releases sockets; it is idempotent.
	Close() error
}

// Dialer opens a Sender for a destination; downlinks received from it are
// passed to down, from any goroutine.
type Dialer func(dest routes.Destination, down func(Downlink)) (Sender, error)

// ErrUnsupportedProtocol is returned by a Multi dialer for a protocol it has
// no dialer for.
var ErrUnsupportedProtocol = errors.New("delivery: unsupported protocol")

// Multi returns a Dialer that dispatches on the destination's protocol to
// the dialer registered for it (e.g. gwmp, chirpstack_mqtt, http_roaming).
// The map is copied; a nil dialer counts as missing.
func Multi(byProtocol map[routes.Protocol]Dialer) Dialer {
	m := make(map[routes.Protocol]Dialer, len(byProtocol))
	for p, d := range byProtocol {
		if d != nil {
			m[p] = d
		}
	}
	return func(dest routes.Destination, down func(Downlink)) (Sender, error) {
		d, ok := m[dest.Protocol]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedProtocol, dest.Protocol)
		}
		return d(dest, down)
	}
}
