package dashboards

import (
	"fmt"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// ScalerUID is the Grafana UID of the spark-dra-scaler dashboard.
const ScalerUID = "spark-dra-scaler"

// soLabels identify one ScaledObject in scaler series.
const soLabels = "scaledobject_namespace, scaledobject"

// soLegend names a ScaledObject in legends.
const soLegend = "{{scaledobject_namespace}}/{{scaledobject}}"

// scaler builds the "Spark DRA scaler" dashboard: per ScaledObject, what the scaler decides and
// whether it can.
func scaler(cfg Config) (*dashboard.DashboardBuilder, []Query) {
	b := &board{uid: ScalerUID}
	sel := matchers(cfg.ScalerSelector, `scaledobject_namespace=~"$namespace"`, `scaledobject=~"$scaledobject"`)

	d := dashboard.NewDashboardBuilder("Spark DRA scaler").
		Uid(ScalerUID).
		Description("spark-dra-scaler per ScaledObject: desired vs actual replicas, decisions, errors, staleness, Prometheus query latency.").
		Tags([]string{"spark", "sparkdra", "keda"}).
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(datasourceVariable()).
		WithVariable(labelVariable("namespace", "scaledobject_namespace", "spark_dra_scaler_desired_executors", cfg.ScalerSelector, "Namespace")).
		WithVariable(labelVariable("scaledobject", "scaledobject", "spark_dra_scaler_desired_executors",
			matchers(cfg.ScalerSelector, `scaledobject_namespace=~"$namespace"`), "ScaledObject"))

	d = replicasRow(d, b, sel)
	d = healthRow(d, b, cfg, sel)
	return d, b.queries
}

func replicasRow(d *dashboard.DashboardBuilder, b *board, sel string) *dashboard.DashboardBuilder {
	const replicas, executors = "Desired vs actual replicas", "Executors: desired, DRA target, live, removable"
	// KEDA names the HPA of a ScaledObject keda-hpa-<name>; kube-state-metrics reports its
	// current replicas. Map it onto the scaler's labels and keep the selected ScaledObjects.
	actual := fmt.Sprintf(`max by (%[1]s) (label_replace(label_replace(kube_horizontalpodautoscaler_status_current_replicas{namespace=~"$namespace", horizontalpodautoscaler=~"keda-hpa-.+"}, "scaledobject", "$1", "horizontalpodautoscaler", "keda-hpa-(.+)"), "scaledobject_namespace", "$1", "namespace", "(.*)")) and on (%[1]s) spark_dra_scaler_desired_replicas{%[2]s}`, soLabels, sel)
	return d.WithRow(dashboard.NewRowBuilder("Replicas")).
		WithPanel(timeSeries(replicas,
			"Desired: ceil(desired executors / executorsPerReplica), what the scaler tells KEDA. "+
				"Actual: current replicas of the HPA KEDA made (keda-hpa-<ScaledObject>), from kube-state-metrics; absent without it. "+
				"A lasting gap means the HPA cannot follow (tolerance, stabilization, policies, min/max) or pods cannot be placed.",
			"short").
			WithTarget(b.target(replicas, "A", fmt.Sprintf("max by (%s) (spark_dra_scaler_desired_replicas{%s})", soLabels, sel), "desired "+soLegend, RequiresSparkdra)).
			WithTarget(b.target(replicas, "B", actual, "actual "+soLegend, RequiresKubeStateMetrics))).
		WithPanel(timeSeries(executors,
			"Desired: what GetMetrics answers, max(DRA target, live − removable) clamped to [minExecutors, maxExecutors]. "+
				"DRA target: numExecutorsTarget. Max needed: maxNumExecutorsNeeded. Live: executors in the latest observation. "+
				"Removable: timed-out executors chosen for removal.",
			"short").
			WithTarget(b.target(executors, "A", fmt.Sprintf("max by (%s) (spark_dra_scaler_desired_executors{%s})", soLabels, sel), "desired "+soLegend, RequiresSparkdra)).
			WithTarget(b.target(executors, "B", fmt.Sprintf("max by (%s) (spark_dra_scaler_target_executors{%s})", soLabels, sel), "DRA target "+soLegend, RequiresSparkdra)).
			WithTarget(b.target(executors, "C", fmt.Sprintf("max by (%s) (spark_dra_scaler_max_needed_executors{%s})", soLabels, sel), "max needed "+soLegend, RequiresSparkdra)).
			WithTarget(b.target(executors, "D", fmt.Sprintf("max by (%s) (spark_dra_scaler_live_executors{%s})", soLabels, sel), "live "+soLegend, RequiresSparkdra)).
			WithTarget(b.target(executors, "E", fmt.Sprintf("max by (%s) (spark_dra_scaler_removable_executors{%s})", soLabels, sel), "removable "+soLegend, RequiresSparkdra)))
}

func healthRow(d *dashboard.DashboardBuilder, b *board, cfg Config, sel string) *dashboard.DashboardBuilder {
	const decisions, errs, age, latency, tracked = "Decisions per second", "Errors per second by reason",
		"Observation age (staleness)", "Prometheus query latency", "ScaledObjects tracked"
	scalerOnly := matchers(cfg.ScalerSelector)
	quantile := func(q float64) string {
		return fmt.Sprintf("histogram_quantile(%g, sum by (le, query) (rate(spark_dra_scaler_prometheus_query_duration_seconds_bucket{%s}[$__rate_interval])))", q, scalerOnly)
	}
	return d.WithRow(dashboard.NewRowBuilder("Health")).
		WithPanel(timeSeries(decisions, "Scaler ticks that produced a decision.", "ops").
			WithTarget(b.target(decisions, "A", fmt.Sprintf("sum by (%s) (rate(spark_dra_scaler_decisions_total{%s}[$__rate_interval]))", soLabels, sel), soLegend, RequiresSparkdra))).
		WithPanel(timeSeries(errs,
			"stale: the observation was too old, the scaler answered Unavailable and KEDA's fallback held the size. "+
				"query: the Prometheus HTTP API failed. invalid_metadata: the ScaledObject's trigger metadata is wrong. "+
				"mark: setting pod-deletion-cost failed.",
			"ops").
			WithTarget(b.target(errs, "A", fmt.Sprintf("sum by (%s, reason) (rate(spark_dra_scaler_errors_total{%s}[$__rate_interval]))", soLabels, sel), soLegend+" {{reason}}", RequiresSparkdra))).
		WithPanel(timeSeries(age,
			fmt.Sprintf("Age of the observation the latest decision used. Above %s the alert SparkDRAScalerStale fires.", cfg.StaleThreshold), "s").
			WithTarget(b.target(age, "A", fmt.Sprintf("max by (%s) (spark_dra_scaler_observation_age_seconds{%s})", soLabels, sel), soLegend, RequiresSparkdra)).
			Thresholds(dashboard.NewThresholdsConfigBuilder().
				Mode(dashboard.ThresholdsModeAbsolute).
				Steps([]dashboard.Threshold{
					{Color: "green"},
					{Value: ptr(time.Duration(cfg.StaleThreshold).Seconds()), Color: "red"},
				})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))).
		WithPanel(timeSeries(latency, "Latency of the scaler's Prometheus HTTP API queries, by query (shared by all ScaledObjects).", "s").
			WithTarget(b.target(latency, "A", quantile(0.5), "p50 {{query}}", RequiresSparkdra)).
			WithTarget(b.target(latency, "B", quantile(0.99), "p99 {{query}}", RequiresSparkdra))).
		WithPanel(singleStat(tracked, "ScaledObjects the scaler tracks.", "short").
			WithTarget(b.target(tracked, "A", fmt.Sprintf("sum(spark_dra_scaler_scaledobjects{%s})", scalerOnly), "", RequiresSparkdra).Instant()))
}

func ptr[T any](v T) *T { return &v }
