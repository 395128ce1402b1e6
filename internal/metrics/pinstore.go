package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gateway/fleet"
)

// pinStoreCollector reports the pin store's health at scrape time: an alert
// on gateway_pin_store_write_failing catches a store that cannot write
// before a restart loses the sessions changed since.
type pinStoreCollector struct {
	status                          func() fleet.PinStore
	failures, failing, bytes, write *prometheus.Desc
}

func newPinStoreCollector(status func() fleet.PinStore) *pinStoreCollector {
	name := func(n string) string { return prometheus.BuildFQName(metricsNamespace, "pin_store", n) }
	return &pinStoreCollector{status: status,
		failures: prometheus.NewDesc(name("write_failures_total"),
			"Failed writes of the pin store since the gateway started.", nil, nil),
		failing: prometheus.NewDesc(name("write_failing"),
			"1 while the pin store's last write failed: a restart now would lose the sessions changed since its last write.", nil, nil),
		bytes: prometheus.NewDesc(name("bytes"),
			"Size of the pin store's file as last written.", nil, nil),
		write: prometheus.NewDesc(name("last_write_timestamp_seconds"),
			"When the pin store last wrote successfully (Unix time); 0 if it has not yet.", nil, nil),
	}
}

func (c *pinStoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.failures, c.failing, c.bytes, c.write} {
		ch <- d
	}
}

func (c *pinStoreCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	failing, last := 0.0, 0.0
	if st.Error != "" {
		failing = 1
	}
	if !st.LastWrite.IsZero() {
		last = float64(st.LastWrite.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(st.WriteFailures))
	ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing)
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.write, prometheus.GaugeValue, last)
}
