package broker

import (
	"bytes"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hexnet/hexnet/internal/broker/token"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

// authHook is the mochi hook that authenticates clients and applies the topic rules.
type authHook struct {
	mqtt.HookBase
	b *Broker
}

// ID names the hook.
func (h *authHook) ID() string { return "hexnet-auth" }

// Provides reports the hook methods implemented.
func (h *authHook) Provides(m byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublishDropped,
		mqtt.OnPublish, mqtt.OnDisconnect}, []byte{m})
}

// OnPublish refuses a hotspot's uplink or PoC report that names another
// hotspot as its signer: a hotspot speaks only for itself. Without this
// check any connected hotspot could publish messages with forged
// signatures in other hotspots' names, and every one of them spoils the
// batch signature check of the messages around it in the router or the
// PoC oracle (the batch falls back to one check per message). With it, a
// bad signature can only be its publisher's own. The message is
// acknowledged and dropped, and counted in
// hexnet_broker_foreign_signer_total. A payload that does not parse, or
// names no signer, passes: the service refuses it as malformed before any
// signature check.
func (h *authHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	own, ok := h.b.hotspotKeys.Load(cl)
	if !ok {
		return pk, nil // a service
	}
	p, err := wire.ParseTopic(pk.TopicName)
	if err != nil || (p.Kind != wire.KindUp && p.Kind != wire.KindPoC) {
		return pk, nil
	}
	signer, err := wire.SignerOf(p.Kind, pk.Payload)
	if err != nil || len(signer) == 0 {
		return pk, nil
	}
	if pub := own.(identity.PublicKey); !bytes.Equal(signer, pub[:]) {
		h.b.foreignSigner.Inc()
		h.b.log.Info("hotspot publish in another hotspot's name refused", "hotspot", string(cl.Properties.Username), "topic", pk.TopicName)
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

// OnDisconnect forgets the key of a hotspot client.
func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.b.hotspotKeys.Delete(cl)
}

// OnPublishDropped counts a message dropped for a client whose queue of
// unread messages (Config.WritesPending) was full. The publisher already
// had its acknowledgement, so this is the one place the loss shows.
func (h *authHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	kind := "hotspot"
	if h.b.isService(string(cl.Properties.Username)) {
		kind = "service"
	}
	h.b.dropped.WithLabelValues(kind).Inc()
	h.b.log.Warn("broker dropped a message for a slow client", "client_id", cl.ID, "kind", kind, "topic", pk.TopicName)
}

// OnConnectAuthenticate accepts a client whose password is a valid token of its username's key.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	b := h.b
	remote := cl.Net.Remote
	user := string(pk.Connect.Username)
	if user == "" {
		b.refuse(ReasonAnonymous, cl.ID, remote, nil)
		return false
	}
	pub, err := token.Verify(user, pk.Connect.Password, b.now(), b.cfg.MaxClockSkew)
	if err != nil {
		b.refuse(reasonOf(err), cl.ID, remote, err)
		return false
	}
	if b.isService(user) {
		b.log.Debug("service connected", "client_id", cl.ID, "service", user)
		return true
	}
	if b.hotspots != nil && !b.hotspots(pub) {
		b.refuse(ReasonUnknownHotspot, cl.ID, remote, nil)
		return false
	}
	if !hotspotClientID(user, cl.ID) {
		b.refuse(ReasonBadClientID, cl.ID, remote, nil)
		return false
	}
	// Mochi publishes a will without an ACL check, so check it here.
	if pk.Connect.WillFlag && !hotspotMayPublish(user, pk.Connect.WillTopic) {
		b.refuse(ReasonBadWill, cl.ID, remote, nil)
		return false
	}
	b.hotspotKeys.Store(cl, pub)
	b.log.Debug("hotspot connected", "client_id", cl.ID, "hotspot", user, "name", identity.Name(pub))
	return true
}

// OnACLCheck applies the topic rules: services may do anything, hotspots
// what hotspotMayPublish and hotspotMayRead allow. Mochi calls it for
// publishes (write), subscription filters and each delivery (read).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if h.b.isService(user) {
		return true
	}
	if write {
		if hotspotMayPublish(user, topic) {
			return true
		}
		h.b.aclDenied.WithLabelValues("publish").Inc()
		h.b.log.Info("hotspot publish refused", "hotspot", user, "topic", topic)
		return false
	}
	if hotspotMayRead(user, topic) {
		return true
	}
	h.b.aclDenied.WithLabelValues("subscribe").Inc()
	h.b.log.Info("hotspot subscription refused", "hotspot", user, "topic", topic)
	return false
}

// hotspotMayPublish reports whether the hotspot with address addr may publish to topic.
func hotspotMayPublish(addr, topic string) bool {
	if addr == "" {
		return false
	}
	p, err := wire.ParseTopic(topic)
	if err != nil {
		return false
	}
	switch p.Kind {
	case wire.KindUp, wire.KindPoC:
		return true
	case wire.KindState, wire.KindTxAck:
		return p.Address == addr
	}
	return false
}

// hotspotMayRead reports whether the hotspot with address addr may subscribe
// to filter (or receive a message on that concrete topic). The only wildcard
// filter allowed is release/+.
func hotspotMayRead(addr, filter string) bool {
	if addr == "" {
		return false
	}
	if filter == wire.ReleaseFilter {
		return true
	}
	if strings.ContainsAny(filter, "+#") {
		return false
	}
	p, err := wire.ParseTopic(filter)
	if err != nil {
		return false
	}
	switch p.Kind {
	case wire.KindEntropy, wire.KindRelease:
		return true
	case wire.KindDown, wire.KindConfig:
		return p.Address == addr
	}
	return false
}
