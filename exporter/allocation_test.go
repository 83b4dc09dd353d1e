package exporter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
)

// The driver's own DRA state from /metrics/json: published for applications running Spark's own
// DRA under the application id or spark.metrics.namespace; not asked for when DRA is off; a
// missing or malformed registry leaves the series out, keeps the poll up and counts metrics_json.
func TestDriverAllocation(t *testing.T) {
	type tc struct {
		namespace string // spark.metrics.namespace
		dra       bool
		serve     func(w http.ResponseWriter) bool // overrides /metrics/json/ when it returns true
		want      string                           // expected spark_dra_driver_* lines
		errors    float64                          // metrics_json errors after two polls
		asked     int32                            // /metrics/json/ requests in two polls
	}
	const labels = `{app_id="app-20261121120000-0001",app_name="etl-1"}`
	full := `spark_dra_driver_decommissioning_executors` + labels + ` 0
spark_dra_driver_executors` + labels + ` 4
spark_dra_driver_executors_pending_to_remove` + labels + ` 0
spark_dra_driver_executors_removed_total{app_id="app-20261121120000-0001",app_name="etl-1",reason="decommission_unfinished"} 0
spark_dra_driver_executors_removed_total{app_id="app-20261121120000-0001",app_name="etl-1",reason="decommissioned"} 0
spark_dra_driver_executors_removed_total{app_id="app-20261121120000-0001",app_name="etl-1",reason="exited_unexpectedly"} 1
spark_dra_driver_executors_removed_total{app_id="app-20261121120000-0001",app_name="etl-1",reason="killed_by_driver"} 5
spark_dra_driver_executors_to_add` + labels + ` 2
spark_dra_driver_max_needed_executors` + labels + ` 37
spark_dra_driver_target_executors` + labels + ` 6
`
	stale := func(driverMetrics int) string {
		s := `spark_dra_stale{app_id="app-20261121120000-0001",app_name="etl-1",part="stage_history"} 0
`
		if driverMetrics >= 0 {
			s = `spark_dra_stale{app_id="app-20261121120000-0001",app_name="etl-1",part="driver_metrics"} ` + string(rune('0'+driverMetrics)) + "\n" + s
		}
		return s
	}
	for name, c := range map[string]tc{
		"app id prefix": {dra: true, want: full + stale(0), asked: 2},
		"namespace":     {dra: true, namespace: "etl.prod", want: full + stale(0), asked: 2},
		// The first poll asks before it knows the settings, and drops the answer.
		"dra off": {dra: false, asked: 1, want: stale(-1)},
		"missing": {dra: true, asked: 2, errors: 2, want: stale(1), serve: func(w http.ResponseWriter) bool {
			http.Error(w, "not found", http.StatusNotFound)
			return true
		}},
		"malformed": {dra: true, asked: 2, errors: 2, want: stale(1), serve: func(w http.ResponseWriter) bool {
			_, _ = w.Write([]byte(`{"gauges": {"app-20261121120000-0001.driver.ExecutorAllocationManager.executors.numberTargetExecutors": {"value": `))
			return true
		}},
	} {
		t.Run(name, func(t *testing.T) {
			fake := sparkfake.Generate(1, 4, 2)
			fake.Props["spark.dynamicAllocation.enabled"] = map[bool]string{true: "true", false: "false"}[c.dra]
			if c.namespace != "" {
				fake.Props["spark.metrics.namespace"] = c.namespace
				fake.MetricsNamespace = c.namespace
			}
			fake.Render()
			var asked atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/metrics/json/" {
					asked.Add(1)
					if c.serve != nil && c.serve(w) {
						return
					}
				}
				fake.ServeHTTP(w, r)
			}))
			defer srv.Close()
			store := NewStore()
			reg := prometheus.NewPedanticRegistry()
			if _, err := NewCollector(reg, store, CollectorOptions{}); err != nil {
				t.Fatal(err)
			}
			d := newDriver(staticTarget(t, srv, ""))
			pollInto(t, store, newFakeClock(), time.Second, d)
			pollInto(t, store, newFakeClock(), time.Second, d)
			snap := store.Snapshots()[0]
			if !snap.Up {
				t.Fatalf("poll failed: %+v", snap.Errors)
			}
			if got := float64(snap.Errors[ReasonMetricsJSON]); got != c.errors {
				t.Errorf("metrics_json errors %v, want %v", got, c.errors)
			}
			if asked.Load() != c.asked {
				t.Errorf("/metrics/json/ asked %d times in two polls, want %d", asked.Load(), c.asked)
			}
			var got strings.Builder
			for _, line := range strings.Split(string(exposition(t, reg)), "\n") {
				if strings.HasPrefix(line, "spark_dra_driver_") || strings.HasPrefix(line, "spark_dra_stale{") {
					got.WriteString(line + "\n")
				}
			}
			if got.String() != c.want {
				t.Errorf("driver series:\n%s\nwant:\n%s", got.String(), c.want)
			}
		})
	}
}
