package sparkapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A real Spark 4.1.4 driver's /metrics/json (e2e/testdata/rest/pagerank, while DRA released two
// executors): every ExecutorAllocationManager metric is found under the application id, and
// nothing else is taken (the listener-bus timer named after ExecutorAllocationManager included).
func TestParseAllocationMetricsSpark414(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "metrics_json_spark_4.1.4.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseAllocationMetrics(body, "app-20261121211847-0000")
	if err != nil {
		t.Fatal(err)
	}
	want := &AllocationMetrics{
		Prefix: "app-20261121211847-0000",
		Gauges: map[string]float64{EAMAllExecutors: 2, EAMDecommissioningExecutors: 0, EAMExecutorsPendingToRemove: 2,
			EAMExecutorsToAdd: 1, EAMMaxNeededExecutors: 0, EAMTargetExecutors: 0},
		Counters: map[string]float64{EAMDecommissionUnfinished: 0, EAMExitedUnexpectedly: 0,
			EAMGracefullyDecommissioned: 0, EAMKilledByDriver: 1},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
	// An unknown expected prefix (a namespace with ${…} references) falls back to the only one.
	if m2, err := ParseAllocationMetrics(body, "${spark.app.name}"); err != nil || m2.Prefix != want.Prefix {
		t.Errorf("fallback to the only prefix: %+v, %v", m2, err)
	}
}

func TestParseAllocationMetricsPrefixes(t *testing.T) {
	const reg = `{"version":"4.0.0","gauges":{
	  "glue.driver.ExecutorAllocationManager.executors.numberTargetExecutors":{"value":5},
	  "my.app.driver.ExecutorAllocationManager.executors.numberTargetExecutors":{"value":7},
	  "driver.ExecutorAllocationManager.executors.numberAllExecutors":{"value":1},
	  "xdriver.ExecutorAllocationManager.executors.numberAllExecutors":{"value":9},
	  "glue.driver.ExecutorAllocationManager.executors.sub.name":{"value":9},
	  "glue.driver.BlockManager.memory.maxMem_MB":{"value":"not a number, skipped"},
	  "glue.driver.ExecutorAllocationManager.executors.numberMaxNeededExecutors":{"value":null}},
	 "counters":{"glue.driver.ExecutorAllocationManager.executors.numberExecutorsKilledByDriver":{"count":3}},
	 "histograms":{},"meters":{},"timers":{}}`
	for prefix, want := range map[string]*AllocationMetrics{
		"glue": {Prefix: "glue", Gauges: map[string]float64{EAMTargetExecutors: 5},
			Counters: map[string]float64{EAMKilledByDriver: 3}},
		"my.app": {Prefix: "my.app", Gauges: map[string]float64{EAMTargetExecutors: 7}, Counters: map[string]float64{}},
		"":       {Prefix: "", Gauges: map[string]float64{EAMAllExecutors: 1}, Counters: map[string]float64{}},
	} {
		got, err := ParseAllocationMetrics([]byte(reg), prefix)
		if err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("prefix %q: got %+v, want %+v", prefix, got, want)
		}
	}
	// Several prefixes, none the wanted one: ambiguous.
	if _, err := ParseAllocationMetrics([]byte(reg), "other"); !errors.Is(err, ErrNoAllocationMetrics) {
		t.Errorf("ambiguous prefixes: %v", err)
	}
}

func TestParseAllocationMetricsBad(t *testing.T) {
	for name, body := range map[string]string{
		"no source (DRA off)": `{"gauges":{"app.driver.BlockManager.memory.maxMem_MB":{"value":1}},"counters":{}}`,
		"empty object":        `{}`,
		"not an object":       `[1,2]`,
		"truncated":           `{"gauges":{"a.driver.ExecutorAllocationManager.executors.numberTargetExecutors":{"value":3}`,
		"string value":        `{"gauges":{"a.driver.ExecutorAllocationManager.executors.numberTargetExecutors":{"value":"3"}}}`,
		"html":                `<html><body>Not found</body></html>`,
		"trailing data":       `{"gauges":{}} x`,
	} {
		if m, err := ParseAllocationMetrics([]byte(body), "a"); err == nil {
			t.Errorf("%s: no error, got %+v", name, m)
		}
	}
}

// GetAllocationMetrics reads <base>/metrics/json/ (also behind a proxy prefix) and reports a
// missing servlet as not_found and a bad body as decode.
func TestGetAllocationMetrics(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "metrics_json_spark_4.1.4.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proxy/app-1/metrics/json/":
			_, _ = w.Write(body)
		case "/bad/metrics/json/":
			_, _ = w.Write([]byte(`{"gauges":`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), MaxBodyBytes: 1 << 20}
	base := func(p string) *url.URL {
		u, _ := url.Parse(srv.URL + p)
		return u
	}
	m, err := c.GetAllocationMetrics(context.Background(), base("/proxy/app-1/"), "app-20261121211847-0000")
	if err != nil || m.Counters[EAMKilledByDriver] != 1 {
		t.Fatalf("got %+v, %v", m, err)
	}
	for path, want := range map[string]Reason{"/gone": ReasonNotFound, "/bad": ReasonDecode} {
		_, err := c.GetAllocationMetrics(context.Background(), base(path), "x")
		if ReasonOf(err) != want || !strings.Contains(err.Error(), "/metrics/json/") {
			t.Errorf("%s: %v, want reason %s", path, err, want)
		}
	}
}

// BenchmarkParseAllocationMetrics decodes a real driver's registry (about 15 KB, 90 metrics).
func BenchmarkParseAllocationMetrics(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "metrics_json_spark_4.1.4.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseAllocationMetrics(body, "app-20261121211847-0000"); err != nil {
			b.Fatal(err)
		}
	}
}
