package externalscaler

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sparkdra/sparkdra/exporter"
)

// The exporter's golden /metrics (exporter/testdata/metrics.golden, written
// by the exporter's own TestGoldenMetrics from Spark's REST fixtures).
const exporterGolden = "../exporter/testdata/metrics.golden"

// Every family the scaler reads is one the exporter publishes, with the type
// the scaler expects: a renamed or retyped exporter metric fails here, in
// the unit tier, not only in the end-to-end tiers.
func TestFamiliesAreTheExporters(t *testing.T) {
	c, err := exporter.NewCollector(prometheus.NewRegistry(), exporter.NewStore(),
		exporter.CollectorOptions{KubernetesLabels: true, PerExecutor: true})
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]string{}
	for _, m := range c.Metrics() {
		published[m.Name] = m.Type
	}
	for _, f := range Families {
		switch typ, ok := published[f]; {
		case !ok:
			t.Errorf("the scaler reads %s, which the exporter does not publish", f)
		case typ != "gauge":
			t.Errorf("%s is a %s, the scaler reads it as a gauge", f, typ)
		}
	}
}

// The exporter's golden /metrics, served over HTTP and read by the scaler's
// ExporterSource, gives a usable observation for every application in it,
// with the exporter's own numbers.
func TestExporterGoldenThroughExporterSource(t *testing.T) {
	golden, err := os.ReadFile(exporterGolden)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		_, _ = w.Write(golden)
	}))
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	snap, err := NewExporterSource(srv.URL+"/metrics", srv.Client()).Fetch(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}

	// What the golden says per application, read independently of the snapshot code.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(golden))
	if err != nil {
		t.Fatal(err)
	}
	perApp := func(fam string) map[string][]*dto.Metric {
		out := map[string][]*dto.Metric{}
		for _, m := range fams[fam].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "app_id" {
					out[l.GetValue()] = append(out[l.GetValue()], m)
				}
			}
		}
		return out
	}
	ups, pending, running, tpe, execs := perApp(famUp), perApp(famPending), perApp(famRunning),
		perApp(famTasksPerExecutor), perApp(famExecInfo)
	if len(ups) < 3 {
		t.Fatalf("the golden holds %d applications, want the 3 of TestGoldenMetrics", len(ups))
	}
	for app := range ups {
		sel, err := ParseSelector(`app_id="` + app + `"`)
		if err != nil {
			t.Fatal(err)
		}
		obs, info, err := snap.Observe(sel)
		if err != nil {
			t.Errorf("%s: no usable observation: %v", app, err)
			continue
		}
		if obs.NoApplication || !slices.Equal(info.Apps, []string{app}) {
			t.Errorf("%s: observed %v (no application %v)", app, info.Apps, obs.NoApplication)
		}
		if !info.SampleTime.Equal(now) {
			t.Errorf("%s: sample time %v, want the fetch's %v", app, info.SampleTime, now)
		}
		for name, got := range map[string]int{famPending: obs.PendingTasks, famRunning: obs.RunningTasks,
			famTasksPerExecutor: obs.TasksPerExecutor} {
			m := map[string]map[string][]*dto.Metric{famPending: pending, famRunning: running, famTasksPerExecutor: tpe}[name][app]
			if len(m) != 1 {
				t.Errorf("%s: %d %s series", app, len(m), name)
				continue
			}
			if want := int(m[0].GetGauge().GetValue()); got != want {
				t.Errorf("%s: %s %d, exporter %d", app, name, got, want)
			}
		}
		if obs.TasksPerExecutor < 1 {
			t.Errorf("%s: tasks per executor %d", app, obs.TasksPerExecutor)
		}
		if len(obs.Executors) != len(execs[app]) {
			t.Errorf("%s: %d executors observed, the exporter lists %d", app, len(obs.Executors), len(execs[app]))
		}
	}
}
