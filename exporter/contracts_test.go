package exporter

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/internal/contracts"
)

// The collector publishes what docs/contracts.md promises: every metric of §1
// with its type, and exactly the self-metrics of "Exporter self-metrics", all
// under the one prefix spark_dra_exporter_ (build_info is registered by the
// binary, from client_golang's version collector).
func TestContracts(t *testing.T) {
	ms, err := contracts.Load("../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCollector(prometheus.NewRegistry(), NewStore(), CollectorOptions{KubernetesLabels: true, PerExecutor: true})
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]string{}
	for _, m := range c.Metrics() {
		published[m.Name] = m.Type
	}
	for _, m := range contracts.In(ms, contracts.ExporterMetrics) {
		if typ, ok := published[m.Name]; !ok || typ != m.Type {
			t.Errorf("contracts §1: %s (%s); the collector publishes it: %v, as %q", m.Name, m.Type, ok, typ)
		}
	}
	self := map[string]string{}
	for _, d := range selfMetrics {
		typ := "gauge"
		if d.typ == prometheus.CounterValue {
			typ = "counter"
		}
		self[d.name] = typ
		if !strings.HasPrefix(d.name, "spark_dra_exporter_") {
			t.Errorf("self-metric %s is not under spark_dra_exporter_", d.name)
		}
	}
	self["spark_dra_exporter_build_info"] = "gauge"
	for _, d := range contracts.Same(contracts.In(ms, contracts.ExporterSelf), self) {
		t.Errorf("docs/contracts.md, exporter self-metrics: %s", d)
	}
}
