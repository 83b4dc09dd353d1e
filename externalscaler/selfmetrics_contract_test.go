package externalscaler

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/internal/contracts"
)

// collecting is a Registerer that keeps what it is given.
type collecting struct{ cs []prometheus.Collector }

func (c *collecting) Register(x prometheus.Collector) error   { c.cs = append(c.cs, x); return nil }
func (c *collecting) MustRegister(xs ...prometheus.Collector) { c.cs = append(c.cs, xs...) }
func (c *collecting) Unregister(prometheus.Collector) bool    { return false }

// The scaler registers exactly the self-metrics of docs/contracts.md §2, with
// their types, all under spark_dra_scaler_.
func TestSelfMetricsAreTheContracts(t *testing.T) {
	ms, err := contracts.Load("../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := &collecting{}
	if err := newSelfMetrics().register(reg); err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, c := range reg.cs {
		typ := "unknown"
		switch c.(type) {
		case *prometheus.GaugeVec, prometheus.Gauge:
			typ = "gauge"
		case *prometheus.CounterVec, prometheus.Counter:
			typ = "counter"
		case *prometheus.HistogramVec, prometheus.Histogram:
			typ = "histogram"
		}
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			_, s, _ := strings.Cut(d.String(), `fqName: "`)
			name, _, _ := strings.Cut(s, `"`)
			have[name] = typ
			if !strings.HasPrefix(name, "spark_dra_scaler_") {
				t.Errorf("self-metric %s is not under spark_dra_scaler_", name)
			}
		}
	}
	for _, d := range contracts.Same(contracts.In(ms, contracts.ScalerSelf), have) {
		t.Errorf("docs/contracts.md §2: %s", d)
	}
}
