package exporter

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// ReasonMetricsJSON is the spark_dra_exporter_scrape_errors_total reason of a poll whose /metrics/json could
// not be read or had no ExecutorAllocationManager source. Such a poll still succeeds: only the
// spark_dra_driver_* series are left out of it.
const ReasonMetricsJSON sparkapi.Reason = "metrics_json"

// readAllocation reads the driver's own allocation manager state from /metrics/json. Only
// applications that run Spark's own DRA register that source (read asks only for those, once
// their settings are known). The registry's keys start with namespace (spark.metrics.namespace),
// or the application id when that is unset or not known yet (docs/spark-rest.md §5.1).
func (d *driver) readAllocation(ctx context.Context, deps pollDeps, namespace string) (*sparkapi.AllocationMetrics, error) {
	prefix := namespace
	if prefix == "" {
		prefix = d.app.ID
	}
	rctx, cancel := context.WithTimeout(ctx, deps.timeout)
	defer cancel()
	return deps.client.GetAllocationMetrics(rctx, d.target.BaseURL, prefix)
}

// driverGauge maps one ExecutorAllocationManager gauge to its series.
type driverGauge struct {
	source string // sparkapi.EAM… name
	def    metricDef
}

// The driver's own DRA state (ExecutorAllocationManagerSource.scala in Spark; docs/spark-dra.md
// "Metrics"), published for applications running Spark's own DRA. Each gauge is summed by Spark
// over ResourceProfiles; a gauge the driver does not list (numberDecommissioningExecutors in older
// Spark versions) is left out.
var (
	driverNote = " Read from the driver's /metrics/json (ExecutorAllocationManager source) at each poll; only for applications running Spark's own DRA."

	driverGauges = []driverGauge{
		{sparkapi.EAMTargetExecutors, metricDef{"spark_dra_driver_target_executors",
			"The driver's own DRA target: executors Spark's ExecutorAllocationManager wants now (numberTargetExecutors)." + driverNote,
			prometheus.GaugeValue, scopeApp, nil}},
		{sparkapi.EAMMaxNeededExecutors, metricDef{"spark_dra_driver_max_needed_executors",
			"Executors the driver's allocation manager needs for its pending and running tasks, before the min/max bounds (numberMaxNeededExecutors)." + driverNote,
			prometheus.GaugeValue, scopeApp, nil}},
		{sparkapi.EAMExecutorsToAdd, metricDef{"spark_dra_driver_executors_to_add",
			"Executors the driver's allocation manager will add at its next ramp-up step (numberExecutorsToAdd)." + driverNote,
			prometheus.GaugeValue, scopeApp, nil}},
		{sparkapi.EAMExecutorsPendingToRemove, metricDef{"spark_dra_driver_executors_pending_to_remove",
			"Executors the driver asked to remove that are not gone yet (numberExecutorsPendingToRemove)." + driverNote,
			prometheus.GaugeValue, scopeApp, nil}},
		{sparkapi.EAMAllExecutors, metricDef{"spark_dra_driver_executors",
			"Executors the driver's allocation manager tracks, those pending removal or decommissioning included (numberAllExecutors)." + driverNote,
			prometheus.GaugeValue, scopeApp, nil}},
		{sparkapi.EAMDecommissioningExecutors, metricDef{"spark_dra_driver_decommissioning_executors",
			"Executors being decommissioned (numberDecommissioningExecutors; not listed by older Spark versions)." + driverNote,
			prometheus.GaugeValue, scopeApp, nil}},
	}

	mDriverRemoved = metricDef{"spark_dra_driver_executors_removed_total",
		"Executors the application lost since its driver started, by reason: decommissioned (gracefully, numberExecutorsGracefullyDecommissioned), decommission_unfinished (numberExecutorsDecommissionUnfinished), killed_by_driver (DRA's idle release, numberExecutorsKilledByDriver), exited_unexpectedly (numberExecutorsExitedUnexpectedly)." + driverNote,
		prometheus.CounterValue, scopeApp, []string{"reason"}}

	// driverRemovalReasons maps the removal counters to their reason label, in publication order.
	driverRemovalReasons = []struct{ source, reason string }{
		{sparkapi.EAMGracefullyDecommissioned, "decommissioned"},
		{sparkapi.EAMDecommissionUnfinished, "decommission_unfinished"},
		{sparkapi.EAMKilledByDriver, "killed_by_driver"},
		{sparkapi.EAMExitedUnexpectedly, "exited_unexpectedly"},
	}
)

// driverMetrics lists the metricDefs of the driver's DRA state, in publication order.
func driverMetrics() []metricDef {
	out := make([]metricDef, 0, len(driverGauges)+1)
	for _, g := range driverGauges {
		out = append(out, g.def)
	}
	return append(out, mDriverRemoved)
}

// allocation emits the driver's own DRA state; nothing when it was not read.
func (e emitter) allocation(m *sparkapi.AllocationMetrics, l []string) {
	if m == nil {
		return
	}
	for _, g := range driverGauges {
		if v, ok := m.Gauges[g.source]; ok {
			e.emit(g.def, v, l)
		}
	}
	for _, r := range driverRemovalReasons {
		if v, ok := m.Counters[r.source]; ok {
			e.emit(mDriverRemoved, v, l, r.reason)
		}
	}
}
