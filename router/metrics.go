package router

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	received     prometheus.Counter
	dropped      *prometheus.CounterVec
	bought       prometheus.Counter
	debited      prometheus.Counter
	unrecorded   prometheus.Counter
	queueDropped *prometheus.CounterVec
	queueWaits   prometheus.Counter
	delivered    *prometheus.CounterVec
	downlinks    *prometheus.CounterVec
	latency      prometheus.Histogram
	batch        prometheus.Histogram
	alone        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_router_uplinks_total",
			Help: "PacketUp messages received."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexnet_router_dropped_total",
			Help: "PacketUp messages not bought, by reason."}, []string{"reason"}),
		bought: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_router_copies_bought_total",
			Help: "Copies bought by routes."}),
		debited: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_router_dc_debited_total",
			Help: "Data credits debited from payers."}),
		unrecorded: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_router_transfers_unrecorded_total",
			Help: "Copies charged whose data-transfer record the ledger refused (e.g. a closed epoch): their hotspots are not paid for them."}),
		queueDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexnet_router_queue_dropped_total",
			Help: "Items dropped because a bounded queue was full, by queue."}, []string{"queue"}),
		queueWaits: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_router_ingress_waits_total",
			Help: "Messages for which Handle had to wait for room in a full ingress queue (backpressure)."}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexnet_router_delivered_total",
			Help: "Uplinks handed to destinations, by protocol and result."}, []string{"protocol", "result"}),
		downlinks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexnet_router_downlinks_total",
			Help: "Downlinks from LNSs, by result."}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hexnet_router_process_seconds",
			Help: "Time from receipt to the end of the pipeline.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		alone: prometheus.NewCounter(prometheus.CounterOpts{Name: "hexnet_router_signatures_checked_alone_total",
			Help: "Uplinks whose signature was checked outside the batch because their signer recently sent a bad one."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hexnet_router_verify_batch_size",
			Help: "Uplinks whose signatures a worker checked in one batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 7)}),
	}
	for _, r := range Reasons {
		m.dropped.WithLabelValues(string(r))
	}
	for _, q := range []string{"ingress", "destination"} {
		m.queueDropped.WithLabelValues(q)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.dropped, m.bought, m.debited, m.unrecorded, m.queueDropped, m.queueWaits, m.delivered, m.downlinks, m.latency, m.batch, m.alone} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("router: metrics already registered: %w", err)
			}
			return nil, fmt.Errorf("router: register metrics: %w", err)
		}
	}
	return m, nil
}
