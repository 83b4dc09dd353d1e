package exporter

import (
	"bytes"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenDrivers starts three drivers: two serving Spark's own REST fixtures (3.x history
// payloads, all executors idle) and one live Spark 4.0 driver with a backlog, busy executors and
// idle ones holding cache and shuffle output.
func goldenDrivers(t *testing.T) []*driver {
	spark3 := httptest.NewServer(fixtureDriver{t: t, files: map[string]string{
		"/applications": "limit_app_list_json_expectation.json",
		"/applications/app-20200706201101-0003/environment": "multiple_resource_profiles_expectation.json",
		"/applications/app-20200706201101-0003/stages":      "stage_list_json_expectation.json",
		"/applications/app-20200706201101-0003/executors":   "executor_node_excludeOnFailure_expectation.json",
		"/applications/app-20200706201101-0003/jobs":        "succeeded_failed_job_list_json_expectation.json",
	}})
	t.Cleanup(spark3.Close)
	peak := httptest.NewServer(fixtureDriver{t: t, files: map[string]string{
		"/applications": "application_list_json_expectation.json",
		"/applications/application_1628109047826_1317105/environment": "multiple_resource_profiles_expectation.json",
		"/applications/application_1628109047826_1317105/stages":      "stage_list_with_peak_metrics_expectation.json",
		"/applications/application_1628109047826_1317105/executors":   "executor_resource_information_expectation.json",
	}})
	t.Cleanup(peak.Close)
	live := httptest.NewServer(sparkfake.Generate(7, 8, 2))
	t.Cleanup(live.Close)
	// Server ports vary per run: the driver keys (labels) are fixed names instead.
	var out []*driver
	for i, srv := range []*httptest.Server{spark3, peak, live} {
		tg := staticTarget(t, srv, "")
		tg.Key = "driver-" + string(rune('a'+i))
		out = append(out, newDriver(tg))
	}
	return out
}

// The full exposition after two polls five seconds apart, against a committed golden file.
func TestGoldenMetrics(t *testing.T) {
	drivers := goldenDrivers(t)
	store := NewStore()
	reg := prometheus.NewPedanticRegistry()
	c, err := NewCollector(reg, store, CollectorOptions{PerExecutor: true})
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	pollInto(t, store, clock, time.Second, drivers...)
	clock.Step(5 * time.Second)
	pollInto(t, store, clock, time.Second, drivers...)

	got := exposition(t, reg)
	compareGolden(t, filepath.Join("testdata", "metrics.golden"), got)

	// The fast writer serving /metrics publishes exactly what the collector sends.
	var text bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if a, b := sortedLines(text.Bytes()), sortedLines(got); a != b {
		t.Errorf("WriteText differs from the gathered exposition:\n%s", lineDiff([]byte(b), []byte(a)))
	}

	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./exporter -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the exposition; diff with -update and review:\n%s", path, lineDiff(want, got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got []byte) string {
	count := func(b []byte) map[string]int {
		m := map[string]int{}
		for _, l := range bytes.Split(b, []byte("\n")) {
			m[string(l)]++
		}
		return m
	}
	w, g := count(want), count(got)
	var out bytes.Buffer
	for _, l := range bytes.Split(want, []byte("\n")) {
		if g[string(l)] == 0 {
			out.WriteString("- " + string(l) + "\n")
		}
	}
	for _, l := range bytes.Split(got, []byte("\n")) {
		if w[string(l)] == 0 {
			out.WriteString("+ " + string(l) + "\n")
		}
	}
	return out.String()
}

func sortedLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
