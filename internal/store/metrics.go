package store

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector exports a handful of Pebble metrics, read once per scrape.
type collector struct {
	db          *DB
	diskUsage   *prometheus.Desc
	compactions *prometheus.Desc
	compactDebt *prometheus.Desc
	flushes     *prometheus.Desc
	walBytes    *prometheus.Desc
	readAmp     *prometheus.Desc
	memtable    *prometheus.Desc
	cacheHits   *prometheus.Desc
	cacheMisses *prometheus.Desc
}

// Collector returns a Prometheus collector of the DB's Pebble metrics
// (hexnet_store_*). Register it on the process's registry; after Close it
// reports nothing.
func (db *DB) Collector() prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("hexnet_store_"+name, help, nil, nil)
	}
	return &collector{
		db:          db,
		diskUsage:   d("disk_usage_bytes", "Bytes on disk used by the database (tables, WAL, manifest)."),
		compactions: d("compactions_total", "Compactions run since the database was opened."),
		compactDebt: d("compaction_debt_bytes", "Estimated bytes that compactions still need to rewrite."),
		flushes:     d("flushes_total", "Memtable flushes since the database was opened."),
		walBytes:    d("wal_bytes_written_total", "Bytes written to the write-ahead log since open."),
		readAmp:     d("read_amplification", "Current read amplification (sstables or sublevels a read may visit)."),
		memtable:    d("memtable_bytes", "Bytes allocated by memtables."),
		cacheHits:   d("block_cache_hits_total", "Block cache hits."),
		cacheMisses: d("block_cache_misses_total", "Block cache misses."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.diskUsage, c.compactions, c.compactDebt, c.flushes,
		c.walBytes, c.readAmp, c.memtable, c.cacheHits, c.cacheMisses} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := c.db.Metrics()
	if m == nil {
		return
	}
	g := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
		ch <- prometheus.MustNewConstMetric(d, t, v)
	}
	g(c.diskUsage, prometheus.GaugeValue, float64(m.DiskSpaceUsage()))
	g(c.compactions, prometheus.CounterValue, float64(m.Compact.Count))
	g(c.compactDebt, prometheus.GaugeValue, float64(m.Compact.EstimatedDebt))
	g(c.flushes, prometheus.CounterValue, float64(m.Flush.Count))
	g(c.walBytes, prometheus.CounterValue, float64(m.WAL.BytesWritten))
	g(c.readAmp, prometheus.GaugeValue, float64(m.ReadAmp()))
	g(c.memtable, prometheus.GaugeValue, float64(m.MemTable.Size))
	g(c.cacheHits, prometheus.CounterValue, float64(m.BlockCache.Hits))
	g(c.cacheMisses, prometheus.CounterValue, float64(m.BlockCache.Misses))
}
