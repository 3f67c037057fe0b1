package ingest

import (
	"github.com/hexnet/hexnet/poc"
	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons, the values of the reason label of
// hexnet_poc_ingest_dropped_total. A dropped report is not lost: it is
// persisted and reloaded from the store.
const (
	DropQueueFull = "queue_full" // the queue toward the verifier was full
	DropGroupFull = "group_full" // the beacon already has the most witnesses a group holds
)

type metrics struct {
	received prometheus.Counter
	accepted prometheus.Counter
	rejected [256]prometheus.Counter    // by poc.Reason
	verdicts *prometheus.CounterVec     // kind, reason
	verdict  [2][256]prometheus.Counter // [beacon, witness][reason]
	dropped  *prometheus.CounterVec     // reason
	batch    prometheus.Histogram
	waiting  prometheus.Gauge
	groups   prometheus.Gauge
	recov    prometheus.Counter
	alone    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	rej := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hexnet_poc_ingest_rejected_total",
		Help: "PoC reports rejected before persistence, by reason (poc.Reason name).",
	}, []string{"reason"})
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_poc_ingest_received_total", Help: "PoC reports received."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_poc_ingest_accepted_total", Help: "PoC reports accepted and persisted."}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hexnet_poc_verdicts_total",
			Help: "PoC verdicts by kind (beacon, witness) and reason (poc.Reason name; reason_none is valid).",
		}, []string{"kind", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hexnet_poc_ingest_dropped_total",
			Help: "Accepted PoC reports dropped from the in-memory pipeline, by reason; queue_full ones are reloaded from the store.",
		}, []string{"reason"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hexnet_poc_ingest_batch_size", Help: "Reports per admission round (one signature batch, one synced write).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hexnet_poc_ingest_waiting_witnesses", Help: "Witness reports waiting for their beacon."}),
		groups:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "hexnet_poc_ingest_open_groups", Help: "Beacon groups whose window is open."}),
		recov:   prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_poc_ingest_recovered_total", Help: "Persisted unverified reports reloaded from the store."}),
		alone: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_poc_ingest_checked_alone_total",
			Help: "Reports whose signature was checked outside the batch because their signer recently sent a bad one."}),
	}
	for _, r := range poc.Reasons() {
		m.rejected[r] = rej.WithLabelValues(r.String())
		m.verdict[0][r] = m.verdicts.WithLabelValues("beacon", r.String())
		m.verdict[1][r] = m.verdicts.WithLabelValues("witness", r.String())
	}
	for _, d := range []string{DropQueueFull, DropGroupFull} {
		m.dropped.WithLabelValues(d)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.received, m.accepted, rej, m.verdicts, m.dropped, m.batch, m.waiting, m.groups, m.recov, m.alone} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
