package node

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hexnet/hexnet/router"
)

// TestPurchaseFeedFullIsCounted: a purchase that finds the explorer's feed
// full is dropped without blocking the router, and counted.
func TestPurchaseFeedFullIsCounted(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})
	f := &mapsFeed{log: slog.New(slog.NewTextHandler(io.Discard, nil)), packets: make(chan router.Purchase, 1), droppedMetric: c}
	for range 3 {
		f.purchase(router.Purchase{DC: 1})
	}
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 2 || f.dropped.Load() != 2 || len(f.packets) != 1 {
		t.Errorf("dropped metric %v, count %d, queued %d; want 2, 2, 1", got, f.dropped.Load(), len(f.packets))
	}
}
