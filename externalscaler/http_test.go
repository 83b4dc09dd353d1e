package externalscaler

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

// idleApp: no demand, four executors idle for the given seconds; the last
// one holds shuffle output.
func idleApp(idle float64) fakeApp {
	return fakeApp{id: "app-1", name: "etl", namespace: "spark", up: 1, stages: 1, execs: []fakeExec{
		{id: "1", host: "10.0.0.1", idle: idle}, {id: "2", host: "10.0.0.2", idle: idle},
		{id: "3", host: "10.0.0.3", running: 2}, {id: "4", host: "10.0.0.4", idle: idle, holds: "shuffle"},
	}}
}

// TestRestartDoesNotShrink: a fresh scaler (no memory) facing idle
// executors whose timeout has not passed keeps them all.
func TestRestartDoesNotShrink(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	src.set(idleApp(30))
	s := newTestServer(t, src, clock, Options{})
	if _, err := s.lookup(ref("workers", meta())); err != nil {
		t.Fatal(err)
	}
	s.Tick(t.Context(), clock.Now())
	if d := s.Decision(ObjectKey{"spark", "workers"}); d.Desired != 4 || len(d.Remove) != 0 {
		t.Errorf("after a restart: desired %d remove %v, want 4 and none", d.Desired, d.Remove)
	}
	// Their idle time passes the timeout (60 s): 1 and 2 go; 3 is busy and
	// 4 holds shuffle output.
	src.set(idleApp(61))
	s.Tick(t.Context(), clock.Advance(time.Second))
	if d := s.Decision(ObjectKey{"spark", "workers"}); d.Desired != 2 || strings.Join(d.Remove, ",") != "1,2" {
		t.Errorf("after the timeout: desired %d remove %v, want 2 and [1 2]", d.Desired, d.Remove)
	}
}

func TestDecisionsHTTP(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	src.set(idleApp(61))
	reg := prometheus.NewPedanticRegistry()
	s := newTestServer(t, src, clock, Options{Registerer: reg})
	if _, err := s.lookup(ref("workers", meta("executorsPerReplica", "2"))); err != nil {
		t.Fatal(err)
	}
	s.Tick(t.Context(), clock.Now())
	h := s.Handler(reg)
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	w := get("/decisions/spark/workers")
	if w.Code != 200 {
		t.Fatalf("/decisions/spark/workers: %d %s", w.Code, w.Body)
	}
	var rec DecisionRecord
	if err := json.Unmarshal(w.Body.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Desired != 2 || rec.DesiredReplicas != 1 || strings.Join(rec.Remove, ",") != "1,2" ||
		rec.Observation == nil || rec.Observation.Applications[0] != "app-1" || len(rec.Executors) != 4 {
		t.Fatalf("decision %+v", rec)
	}
	byID := map[string]ExecutorRecord{}
	for _, x := range rec.Executors {
		byID[x.ID] = x
	}
	if x := byID["4"]; x.State != "idle" || x.Holds != "shuffle" || x.TimeoutSeconds != -1 || !strings.Contains(x.Reason, "never times out") {
		t.Errorf("shuffle holder explained as %+v", x)
	}
	if x := byID["1"]; x.State != "remove" || x.Host != "10.0.0.1" {
		t.Errorf("victim explained as %+v", x)
	}
	// The JSON decodes back into a record DeletionCosts can use.
	if c := DeletionCosts(&rec); c["10.0.0.1"] != CostRemove || c["10.0.0.4"] != CostKeep || c["10.0.0.3"] != CostKeep {
		t.Errorf("costs from /decisions JSON: %v", c)
	}
	if w := get("/decisions"); w.Code != 200 || !strings.Contains(w.Body.String(), `"name": "workers"`) {
		t.Errorf("/decisions: %d %s", w.Code, w.Body)
	}
	if w := get("/decisions/spark/nope"); w.Code != 404 {
		t.Errorf("unknown: %d", w.Code)
	}
	if w := get("/readyz"); w.Code != 200 {
		t.Errorf("/readyz: %d %s", w.Code, w.Body)
	}
	if n := testutil.ToFloat64(s.metrics.desired.WithLabelValues("workers", "spark")); n != 2 {
		t.Errorf("spark_dra_scaler_desired_executors = %v, want 2", n)
	}
	if w := get("/metrics"); !strings.Contains(w.Body.String(), `spark_dra_scaler_desired_replicas{scaledobject="workers",scaledobject_namespace="spark"} 1`) {
		t.Errorf("/metrics lacks desired_replicas:\n%s", w.Body)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}

	// Data goes stale: /readyz fails, /healthz (liveness) does not, and the
	// per-ScaledObject gauges disappear rather than read zero.
	src.fail(errStale)
	s.Tick(t.Context(), clock.Advance(time.Second))
	if w := get("/readyz"); w.Code != 503 || !strings.Contains(w.Body.String(), "spark/workers") {
		t.Errorf("/readyz when stale: %d %s", w.Code, w.Body)
	}
	if w := get("/healthz"); w.Code != 200 {
		t.Errorf("/healthz when stale: %d", w.Code)
	}
	if n := testutil.CollectAndCount(s.metrics.desired); n != 0 {
		t.Errorf("%d desired_executors series while stale, want none", n)
	}
}

var errStale = &UnavailableError{Reason: "query", Msg: "prometheus unreachable"}

// TestSelfMetricNames: exactly the names of docs/contracts.md §2, with the
// ScaledObject labels it fixes.
func TestSelfMetricNames(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	src.set(idleApp(61))
	reg := prometheus.NewPedanticRegistry()
	s := newTestServer(t, src, clock, Options{Registerer: reg})
	if _, err := s.lookup(ref("workers", meta())); err != nil {
		t.Fatal(err)
	}
	s.Tick(t.Context(), clock.Now())
	s.ObserveQuery(QuerySeries, time.Millisecond, nil)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fams {
		got[f.GetName()] = true
		if strings.HasSuffix(f.GetName(), "_executors") || strings.HasSuffix(f.GetName(), "_replicas") {
			for _, l := range f.GetMetric()[0].GetLabel() {
				if l.GetName() != "scaledobject" && l.GetName() != "scaledobject_namespace" {
					t.Errorf("%s has label %s", f.GetName(), l.GetName())
				}
			}
		}
	}
	want := []string{"spark_dra_scaler_desired_executors", "spark_dra_scaler_target_executors",
		"spark_dra_scaler_max_needed_executors", "spark_dra_scaler_live_executors", "spark_dra_scaler_removable_executors",
		"spark_dra_scaler_desired_replicas", "spark_dra_scaler_observation_age_seconds", "spark_dra_scaler_decisions_total",
		"spark_dra_scaler_errors_total", "spark_dra_scaler_prometheus_query_duration_seconds", "spark_dra_scaler_scaledobjects",
		"spark_dra_scaler_pending_executors", "spark_dra_scaler_cancelled_requests_total"}
	for _, n := range want {
		if !got[n] {
			t.Errorf("missing %s", n)
		}
		delete(got, n)
	}
	for n := range got {
		t.Errorf("metric %s is not in docs/contracts.md §2", n)
	}
}
