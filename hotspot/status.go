package hotspot

import (
	"encoding/json"
	"net/http"
	"time"
)

// Status is the agent's local status, served as JSON at GET /status.
type Status struct {
	Address            string            `json:"address"`
	Name               string            `json:"name"`
	Region             string            `json:"region"`
	Version            string            `json:"version"`
	ForwarderConnected bool              `json:"forwarder_connected"`
	BrokerConnected    bool              `json:"broker_connected"`
	UplinksReceived    uint64            `json:"uplinks_received"`
	UplinksForwarded   uint64            `json:"uplinks_forwarded"`
	UplinksBadCRC      uint64            `json:"uplinks_bad_crc"`
	QueueDepth         uint64            `json:"queue_depth"`
	QueueDropped       uint64            `json:"queue_dropped"`
	BeaconsSent        uint64            `json:"beacons_sent"`
	WitnessesSent      uint64            `json:"witnesses_sent"`
	DownlinksSent      uint64            `json:"downlinks_sent"`
	DownlinksRejected  uint64            `json:"downlinks_rejected"`
	LastBeaconAt       *time.Time        `json:"last_beacon_at"`
	MalformedDatagrams uint64            `json:"malformed_datagrams"`
	MalformedByReason  map[string]uint64 `json:"malformed_by_reason"`
}

// Status returns the agent's current status.
func (a *Agent) Status() Status {
	s := a.statsMessage()
	st := Status{
		Address:            a.addr,
		Name:               a.key.Public().Name(),
		Region:             regionName(a.currentRegion()),
		Version:            a.version,
		ForwarderConnected: a.forwarderConnected(),
		UplinksReceived:    s.UplinksReceived,
		UplinksForwarded:   s.UplinksForwarded,
		UplinksBadCRC:      s.UplinksBadCrc,
		QueueDepth:         s.QueueDepth,
		QueueDropped:       s.QueueDropped,
		BeaconsSent:        s.BeaconsSent,
		WitnessesSent:      s.WitnessesSent,
		DownlinksSent:      s.DownlinksSent,
		DownlinksRejected:  a.stats.rejectedDownlinks.Load(),
		MalformedDatagrams: s.MalformedDatagrams,
		MalformedByReason:  map[string]uint64{},
	}
	a.mu.Lock()
	if a.conn != nil {
		st.BrokerConnected = a.conn.IsConnected()
	}
	if !a.lastBeaconAt.IsZero() {
		t := a.lastBeaconAt.UTC()
		st.LastBeaconAt = &t
	}
	fwd := a.fwd
	a.mu.Unlock()
	if fwd != nil {
		st.MalformedByReason = fwd.malformedByReason()
	}
	return st
}

func (a *Agent) statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(a.Status())
	})
	return mux
}
