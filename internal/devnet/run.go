package devnet

import (
	"context"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/node"
	"github.com/hexnet/hexnet/router"
)

// realLatencyBudget is how much wall time the devnet allows a report to
// cross agent, broker and oracle. Under a sped-up clock that wall time is
// many simulated seconds, so the network's timing windows are widened by it
// (each a config value; the production defaults are untouched).
const realLatencyBudget = 100 * time.Millisecond

// tuneNode sets the network's PoC timing for the scenario's clock.
func tuneNode(cfg *node.Config, s *Scenario) {
	slack := time.Duration(float64(realLatencyBudget) * s.Speedup)
	v := &cfg.PoC.Verify
	v.BeaconInterval = s.PoC.BeaconInterval
	v.WitnessLag += slack
	v.WitnessLagAfterFirst += slack
	v.EntropyValidity += slack
	v.MaxClockSkew += slack
	cfg.PoC.Entropy.Interval = s.PoC.EntropyInterval
	if s.PoC.DetectionOff {
		cfg.PoC.Trust.Enforce = false
	}
	in := &cfg.PoC.Ingest
	in.WindowMargin += slack
	in.BeaconWait += 2 * slack
	in.TickInterval = max(in.TickInterval, time.Duration(float64(20*time.Millisecond)*s.Speedup))
	rt := &cfg.Router.Router
	rt.DedupWindow = max(rt.DedupWindow, router.DefaultDedupWindow) + slack
	rt.GroupTTL = max(rt.GroupTTL, router.DefaultGroupTTL) + 4*slack
	rt.ReplayWindow = max(rt.ReplayWindow, router.DefaultReplayWindow) + 4*slack
	cfg.Router.LNS.DedupWindow = max(cfg.Router.LNS.DedupWindow, 200*time.Millisecond) + slack
	if in.DedupTTL < 4*s.PoC.BeaconInterval {
		in.DedupTTL = 4 * s.PoC.BeaconInterval
	}
}

// progressLoop prints a progress line every two seconds until ctx ends.
func (d *Devnet) progressLoop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.printProgress()
			return
		case <-t.C:
			d.printProgress()
		}
	}
}

func (d *Devnet) printProgress() {
	if d.opts.Progress == nil {
		return
	}
	b, w := d.tally.snapshot()
	online := 0
	for _, a := range d.agents {
		if a.Status().BrokerConnected {
			online++
		}
	}
	p := d.packets()
	bInvalid, wInvalid := b.Total-b.Valid, w.Total-w.Valid
	fmt.Fprintf(d.opts.Progress, "devnet %s  sim %s  hotspots %d/%d online  beacons %d (%d invalid)  witnesses %d valid / %d invalid  packets %d heard, %d to LNS, %d joins  DC %d  epochs %d\n",
		d.s.Name, d.clk.Now().Sub(d.start).Truncate(time.Second), online, len(d.agents), b.Total, bInvalid, w.Valid, wInvalid,
		p.UplinksHeard, p.DeliveredToLNS, p.JoinsAccepted, d.dcCharged(), len(d.node.Ledger().Epochs()))
}
