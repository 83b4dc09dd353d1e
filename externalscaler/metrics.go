package externalscaler

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// selfMetrics are spark-dra-scaler's own metrics (docs/contracts.md §2).
type selfMetrics struct {
	desired, target, maxNeeded, live, removable, replicas, age, pending *prometheus.GaugeVec
	cancelled                                                           *prometheus.CounterVec
	decisions                                                           prometheus.Counter
	errors                                                              *prometheus.CounterVec
	queryDuration                                                       *prometheus.HistogramVec
	scaledObjects                                                       prometheus.Gauge
}

var soLabels = []string{"scaledobject", "scaledobject_namespace"}

func newSelfMetrics() *selfMetrics {
	g := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, soLabels)
	}
	m := &selfMetrics{
		desired:   g("spark_dra_scaler_desired_executors", "Desired executors of the latest decision: the value GetMetrics answers."),
		target:    g("spark_dra_scaler_target_executors", "DRA's target (numExecutorsTarget) of the latest decision."),
		maxNeeded: g("spark_dra_scaler_max_needed_executors", "DRA's maxNumExecutorsNeeded of the latest decision."),
		live:      g("spark_dra_scaler_live_executors", "Executors in the observation of the latest decision."),
		removable: g("spark_dra_scaler_removable_executors", "Timed-out executors chosen for removal by the latest decision."),
		replicas:  g("spark_dra_scaler_desired_replicas", "ceil(desired executors / executorsPerReplica) of the latest decision."),
		age:       g("spark_dra_scaler_observation_age_seconds", "Age of the observation the latest decision used."),
		pending: g("spark_dra_scaler_pending_executors",
			"Executors asked for by earlier answers that have not registered yet (requested minus live), as of the latest decision."),
		cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spark_dra_scaler_cancelled_requests_total",
			Help: "Executors asked for and cancelled (answered fewer) before they registered; only requests older than executorIdleTimeout are cancelled."},
			soLabels),
		decisions: prometheus.NewCounter(prometheus.CounterOpts{Name: "spark_dra_scaler_decisions_total",
			Help: "Decisions made: one per ScaledObject per tick with a usable observation."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spark_dra_scaler_errors_total",
			Help: "Failures by reason: stale (observation missing, down or too old), query (data source unreachable), invalid_metadata, mark (pod deletion costs not set)."},
			[]string{"reason"}),
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spark_dra_scaler_prometheus_query_duration_seconds",
			Help: "Latency of the Prometheus HTTP API queries, by query (series, sample_times).", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10)},
			[]string{"query"}),
		scaledObjects: prometheus.NewGauge(prometheus.GaugeOpts{Name: "spark_dra_scaler_scaledobjects",
			Help: "ScaledObjects the scaler tracks."}),
	}
	for _, r := range []string{"stale", "query", "invalid_metadata", "mark"} {
		m.errors.WithLabelValues(r)
	}
	return m
}

func (m *selfMetrics) register(r prometheus.Registerer) error {
	var errs []error
	for _, c := range []prometheus.Collector{m.desired, m.target, m.maxNeeded, m.live, m.removable, m.replicas, m.age,
		m.pending, m.cancelled, m.decisions, m.errors, m.queryDuration, m.scaledObjects} {
		errs = append(errs, r.Register(c))
	}
	return errors.Join(errs...)
}

func (m *selfMetrics) gauges() []*prometheus.GaugeVec {
	return []*prometheus.GaugeVec{m.desired, m.target, m.maxNeeded, m.live, m.removable, m.replicas, m.age, m.pending}
}

// record publishes a decision's gauges; an unusable one removes them (no
// decision is shown as absent, not as a zero) and counts the error.
func (m *selfMetrics) record(r *DecisionRecord) {
	k := r.ScaledObject
	if r.unavailable != nil {
		if r.unavailable.Reason != "query" { // counted once per failed query
			m.errors.WithLabelValues(r.unavailable.Reason).Inc()
		}
		m.forget(k)
		return
	}
	set := func(g *prometheus.GaugeVec, v float64) { g.WithLabelValues(k.Name, k.Namespace).Set(v) }
	set(m.desired, float64(r.Desired))
	set(m.target, float64(r.Target))
	set(m.maxNeeded, float64(r.MaxNeeded))
	set(m.live, float64(r.LiveExecutors))
	set(m.removable, float64(len(r.Remove)))
	set(m.replicas, float64(r.DesiredReplicas))
	set(m.pending, float64(len(r.PendingRequests)))
	m.cancelled.WithLabelValues(k.Name, k.Namespace).Add(float64(r.CancelledRequests))
	if r.Observation != nil {
		set(m.age, r.Observation.AgeSeconds)
	}
}

func (m *selfMetrics) forget(k ObjectKey) {
	for _, g := range m.gauges() {
		g.DeleteLabelValues(k.Name, k.Namespace)
	}
}

// ObserveQuery records one Prometheus query (for PrometheusSource's
// observe callback).
func (s *Server) ObserveQuery(query string, d time.Duration, err error) {
	s.metrics.queryDuration.WithLabelValues(query).Observe(d.Seconds())
	if err != nil {
		s.metrics.errors.WithLabelValues("query").Inc()
	}
}
