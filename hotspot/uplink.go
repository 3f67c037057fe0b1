package hotspot

import (
	"github.com/hexnet/hexnet/internal/beacon"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/wire"
)

// onPush turns a PUSH_DATA's frames into signed reports and queues them
// durably; only then is the PUSH_ACK sent.
func (a *Agent) onPush(p *gwmp.PushData) error {
	if len(p.RXPK) == 0 {
		return nil
	}
	region := a.currentRegion()
	now := uint64(a.clk.Now().UnixMilli())
	msgs := make([]topicMsg, 0, len(p.RXPK))
	for i := range p.RXPK {
		rx := &p.RXPK[i]
		a.stats.uplinksReceived.Add(1)
		if rx.Stat != gwmp.CRCOK {
			a.stats.uplinksBadCRC.Add(1)
			continue
		}
		if rx.Modu != gwmp.ModulationLoRa {
			continue
		}
		var gpsUs uint64
		if rx.Tmms != nil {
			gpsUs = *rx.Tmms * 1000
		}
		rssi := float32(rx.RSSI)
		if rx.RSSIS != nil {
			rssi = float32(*rx.RSSIS)
		}
		data := []byte(rx.Data)
		if payload, err := beacon.PayloadFromFrame(data); err == nil {
			w := &wire.WitnessReport{
				Data:        append([]byte(nil), payload...),
				Rssi:        rssi,
				Snr:         float32(rx.LSNR),
				Frequency:   rx.FreqHz(),
				DataRate:    rx.DatR.String(),
				Tmst:        rx.Tmst,
				GpsTimeUs:   gpsUs,
				TimestampMs: now,
				Region:      region,
			}
			if a.hooks.Witness != nil && !a.hooks.Witness(w) {
				continue
			}
			msgs = append(msgs, topicMsg{wire.PoCTopic(wire.Partition(w.Data)), w})
			a.stats.witnessesSent.Add(1)
			continue
		}
		up := &wire.PacketUp{
			Payload:      append([]byte(nil), data...),
			Tmst:         rx.Tmst,
			GpsTimeUs:    gpsUs,
			Rssi:         rssi,
			Snr:          float32(rx.LSNR),
			Frequency:    rx.FreqHz(),
			DataRate:     rx.DatR.String(),
			Region:       region,
			ReceivedAtMs: now,
			CodingRate:   rx.CodR,
		}
		msgs = append(msgs, topicMsg{wire.UpTopic(wire.Partition(up.Payload)), up})
		a.stats.uplinksForwarded.Add(1)
	}
	return a.enqueue(msgs)
}
