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

	d = scalingAnnotations(d, b, sel)
	d = replicasRow(d, b, cfg, sel)
	d = healthRow(d, b, cfg, sel)
	return d, b.queries
}

func replicasRow(d *dashboard.DashboardBuilder, b *board, cfg Config, sel string) *dashboard.DashboardBuilder {
	const replicas, executors, pending = "Desired vs actual replicas", "Executors: desired, DRA target, live, removable", "Executor and worker pods Pending"
	// KEDA names the HPA of a ScaledObject keda-hpa-<name>; kube-state-metrics reports its
	// current and maximum replicas. Map them onto the scaler's labels and keep the selected
	// ScaledObjects.
	hpaSel := `namespace=~"$namespace", horizontalpodautoscaler=~"keda-hpa-.+"`
	selected := fmt.Sprintf(" and on (%s) spark_dra_scaler_desired_replicas{%s}", soLabels, sel)
	return d.WithRow(dashboard.NewRowBuilder("Replicas")).
		WithPanel(timeSeries(replicas,
			"Desired: ceil(desired executors / executorsPerReplica), what the scaler tells KEDA. "+
				"Actual: current replicas of the HPA KEDA made (keda-hpa-<ScaledObject>), from kube-state-metrics; absent without it. "+
				"A lasting gap means the HPA cannot follow (tolerance, stabilization, policies, min/max) or pods cannot be placed. "+
				fmt.Sprintf("maxReplicaCount: the HPA's maximum; actual on it for %s while desired is at or above it fires SparkDRAHPAMaxedOut.", cfg.HPAMaxedFor),
			"short").
			WithTarget(b.target(replicas, "A", fmt.Sprintf("max by (%s) (spark_dra_scaler_desired_replicas{%s})", soLabels, sel), "desired "+soLegend, RequiresSparkdra)).
			WithTarget(b.target(replicas, "B", hpaMetricBySO("kube_horizontalpodautoscaler_status_current_replicas", hpaSel)+selected, "actual "+soLegend, RequiresKubeStateMetrics)).
			WithTarget(b.target(replicas, "C", hpaMetricBySO("kube_horizontalpodautoscaler_spec_max_replicas", hpaSel)+selected, "maxReplicaCount "+soLegend, RequiresKubeStateMetrics))).
		WithPanel(timeSeries(pending,
			"Pods of the workload each ScaledObject scales (its StatefulSet, or its Deployment's ReplicaSets) that are Pending now, from kube-state-metrics. "+
				"Pods usually wait here while images pull and nodes scale up; "+
				fmt.Sprintf("a pod Pending longer than %s (the executor start-up allowance) fires SparkDRAPodsPending, the usual reason live executors stay below target.", cfg.PodStartupAllowance),
			"short").
			WithTarget(b.target(pending, "A", fmt.Sprintf(`count by (namespace, scaledobject) (%s)`, pendingPodsExpr(sel)), "{{namespace}}/{{scaledobject}}", RequiresKubeStateMetrics))).
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
	const up = "Exporter and scaler targets up"
	return d.WithRow(dashboard.NewRowBuilder("Health")).
		WithPanel(timeSeries(up,
			fmt.Sprintf("Prometheus' up for every spark-dra-exporter (job %s) and spark-dra-scaler (job %s) target: 1 scraped, 0 down. "+
				"SparkDRAExporterDown and SparkDRAScalerDown fire after %s and %s down or absent.", cfg.ExporterJob, cfg.ScalerJob, cfg.ExporterDownFor, cfg.ScalerDownFor),
			"short").
			Max(1).
			WithTarget(b.target(up, "A", fmt.Sprintf(`max by (job, instance) (up{job=~%q})`, cfg.ExporterJob+"|"+cfg.ScalerJob), "{{job}} {{instance}}", RequiresSparkdra))).
		// spark_dra_scaler_decisions_total and _errors_total are the scaler's own counters, not per
		// ScaledObject (docs/contracts.md §2): the two panels show every ScaledObject together.
		WithPanel(timeSeries(decisions, "Decisions the scaler made per second, all ScaledObjects together: one per ScaledObject per tick with a usable observation.", "ops").
			WithTarget(b.target(decisions, "A", fmt.Sprintf("sum(rate(spark_dra_scaler_decisions_total{%s}[$__rate_interval]))", scalerOnly), "all ScaledObjects", RequiresSparkdra))).
		WithPanel(timeSeries(errs,
			"stale: the observation was too old, the scaler answered Unavailable and KEDA's fallback held the size. "+
				"query: the Prometheus HTTP API failed. invalid_metadata: the ScaledObject's trigger metadata is wrong. "+
				"mark: setting pod-deletion-cost failed.",
			"ops").
			WithTarget(b.target(errs, "A", fmt.Sprintf("sum by (reason) (rate(spark_dra_scaler_errors_total{%s}[$__rate_interval]))", scalerOnly), "{{reason}}", RequiresSparkdra))).
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

// scalingAnnotations marks the scaler's scale-up and scale-down decisions: the steps at which a
// ScaledObject's desired executors rose or fell against a minute earlier.
func scalingAnnotations(d *dashboard.DashboardBuilder, b *board, sel string) *dashboard.DashboardBuilder {
	desired := fmt.Sprintf("max by (%s) (spark_dra_scaler_desired_executors{%s})", soLabels, sel)
	change := fmt.Sprintf("%s - max by (%s) (spark_dra_scaler_desired_executors{%s} offset 1m)", desired, soLabels, sel)
	for _, a := range []struct{ name, cmp, color string }{
		{"Scale up", " > 0", "green"},
		{"Scale down", " < 0", "orange"},
	} {
		q := b.target("annotation "+a.name, "A", change+a.cmp, a.name+" "+soLegend+" by {{value}} executors", RequiresSparkdra)
		d = d.Annotation(dashboard.NewAnnotationQueryBuilder().
			Name(a.name).
			Datasource(datasourceRef()).
			Enable(true).
			IconColor(a.color).
			Expr(dropEmptySelectors(change + a.cmp)).
			Target(q.Interval("1m")))
	}
	return d
}

func ptr[T any](v T) *T { return &v }
