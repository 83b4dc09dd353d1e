package exporter

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// WriteText publishes what client_golang's encoder writes for the same Collector, byte for byte
// (families in the same order, series in the same order within each), also for label values
// that need escaping or are not valid UTF-8, for several executors of several applications in a
// row (the encoded labels of one are never reused for the next) and with the Kubernetes labels.
func TestWriteTextMatchesEncoder(t *testing.T) {
	store := NewStore()
	for i, name := range []string{`quote"back\slash`, "new\nline", "bad\xffutf8"} {
		tg := Target{Key: "driver-" + name, Source: SourceKubernetes, Namespace: "ns", Pod: "pod-" + name}
		execs := []ExecutorSnapshot{
			{ID: "1", Host: "10.0.0.1", RunningTasks: 2, AddTime: t0},
			{ID: "2", Host: `h"2`, IdleFor: 3 * time.Second, Holds: HoldsCache, RDDBlocks: 4, AddTime: t0},
			{ID: "3\\", Host: "10.0.0.3", IdleFor: time.Second, Holds: HoldsShuffle, ShuffleWrite: 9},
		}
		store.Set(&TargetSnapshot{Target: tg, Up: true, AppID: "app-" + string(rune('a'+i)), AppName: name, SparkVersion: "3.5.9",
			App: &AppSnapshot{Config: NewAppConfig(map[string]string{"spark.dynamicAllocation.enabled": "true",
				"spark.master": "spark://m:7077"}, "3.5.9"), PendingTasks: i, Executors: execs, StartTime: t0,
				Stale: map[string]bool{PartStageHistory: true}},
			Errors: map[sparkapi.Reason]uint64{sparkapi.ReasonTimeout: 2}})
	}
	reg := prometheus.NewPedanticRegistry()
	c, err := NewCollector(reg, store, CollectorOptions{KubernetesLabels: true, PerExecutor: true, PollInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := expfmt.NewEncoder(&want, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	var got bytes.Buffer
	if err := c.WriteText(&got); err != nil {
		t.Fatal(err)
	}
	// The registry sorts families by name, series and their labels by name; WriteText keeps the
	// order of Metrics(), of the targets and of the label names. Compare the series as parsed.
	if a, b := parsedSeries(t, got.Bytes()), parsedSeries(t, want.Bytes()); a != b {
		t.Errorf("WriteText differs from client_golang's encoding:\n%s", lineDiff([]byte(b), []byte(a)))
	}
	if !strings.Contains(got.String(), `app_name="quote\"back\\slash"`) || !strings.Contains(got.String(), `app_name="new\nline"`) {
		t.Errorf("label values not escaped:\n%s", got.String())
	}
}

// parsedSeries parses an exposition and lists its series, one line each (name, HELP, TYPE,
// labels sorted by name, value), sorted.
func parsedSeries(t *testing.T, b []byte) string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parsing: %v\n%s", err, b)
	}
	var lines []string
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ls := m.GetLabel()
			pairs := make([]string, 0, len(ls))
			for _, l := range ls {
				pairs = append(pairs, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(pairs)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			lines = append(lines, fmt.Sprintf("%s %s %q {%s} %g", name, mf.GetType(), mf.GetHelp(), strings.Join(pairs, ","), v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
