package hotspot

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/hexnet/hexnet/internal/beacon"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

// maxEntropyAge is how old the latest entropy may be for the agent to beacon
// with it (the verifier accepts reports within 180 s of their entropy).
const maxEntropyAge = 120 * time.Second

// onEntropy keeps the latest entropy signed by the entropy oracle.
func (a *Agent) onEntropy(b []byte) {
	var e wire.Entropy
	if err := wire.Unmarshal(b, &e); err != nil {
		a.log.Warn("entropy rejected", "err", err)
		return
	}
	if a.entropyKey == nil || !bytes.Equal(e.GetSigner(), a.entropyKey[:]) {
		a.log.Warn("entropy rejected", "err", "not signed by the configured entropy oracle")
		return
	}
	if err := identity.Verify(&e, *a.entropyKey); err != nil {
		a.log.Warn("entropy rejected", "err", err)
		return
	}
	a.mu.Lock()
	if a.entropy == nil || e.GetTimestamp() >= a.entropy.GetTimestamp() {
		a.entropy = &e
	}
	a.mu.Unlock()
}

// beaconLoop transmits one beacon per UTC-aligned interval.
func (a *Agent) beaconLoop(ctx context.Context) {
	if a.cfg.PoC.Disabled {
		return
	}
	sched := newBeaconSchedule(a.cfg.PoC.BeaconInterval, a.rng)
	for {
		now := a.clk.Now()
		a.mu.Lock()
		last := a.lastBeacon
		a.mu.Unlock()
		at := sched.next(now, last)
		select {
		case <-ctx.Done():
			return
		case <-a.clk.After(at.Sub(now)):
		}
		err := a.sendBeacon(ctx)
		if err == nil {
			a.mu.Lock()
			a.lastBeacon = sched.bucket(at)
			a.mu.Unlock()
			continue
		}
		a.log.Info("no beacon this time", "reason", err)
		// Try again a little later in the same bucket.
		select {
		case <-ctx.Done():
			return
		case <-a.clk.After(a.cfg.PoC.BeaconInterval / 60):
		}
	}
}

// Reasons a beacon is not sent.
var (
	errNoRegion  = errors.New("region unknown")
	errNoEntropy = errors.New("no fresh entropy")
)

// sendBeacon builds a beacon from the latest entropy, transmits it, and after
// the forwarder's TX_ACK OK queues the signed BeaconReport.
func (a *Agent) sendBeacon(ctx context.Context) error {
	region := a.currentRegion()
	if region == wire.Region_REGION_UNKNOWN {
		return errNoRegion
	}
	a.mu.Lock()
	ent := a.entropy
	a.mu.Unlock()
	now := a.clk.Now()
	if ent == nil || now.Sub(time.Unix(ent.GetTimestamp(), 0)) > maxEntropyAge {
		return errNoEntropy
	}
	local := make([]byte, beacon.LocalSize)
	_, _ = rand.Read(local)
	gain := a.antennaGain()
	bc, err := beacon.Build(ent.GetData(), ent.GetTimestamp(), local, region, gain)
	if err != nil {
		return err
	}
	dr, err := gwmp.LoRaDataRate(bc.SF, bc.BandwidthKHz)
	if err != nil {
		return err
	}
	power := bc.TxPowerDBm
	if power < 0 {
		power = 0
	}
	tx := gwmp.TXPK{Imme: true, Powe: uint8(power), Modu: gwmp.ModulationLoRa, DatR: dr, CodR: "4/5"}
	tx.SetFreqHz(bc.Frequency)
	tx.SetData(bc.Frame())
	txErr, err := a.fwd.transmit(ctx, tx, txAckTimeout)
	if err != nil {
		return err
	}
	if !txErr.OK() {
		return errors.New("forwarder refused beacon: " + string(txErr))
	}
	rep := &wire.BeaconReport{
		Entropy:          ent.GetData(),
		EntropyTimestamp: ent.GetTimestamp(),
		LocalEntropy:     local,
		Data:             bc.Payload,
		Frequency:        bc.Frequency,
		DataRate:         bc.DataRate,
		TxPowerDbm:       bc.TxPowerDBm,
		TimestampMs:      uint64(a.clk.Now().UnixMilli()),
		Region:           region,
	}
	if a.hooks.Beacon != nil {
		a.hooks.Beacon(rep)
	}
	if err := a.enqueue([]topicMsg{{wire.PoCTopic(wire.Partition(rep.Data)), rep}}); err != nil {
		return err
	}
	a.stats.beaconsSent.Add(1)
	a.mu.Lock()
	a.lastBeaconAt = now
	a.mu.Unlock()
	return nil
}
