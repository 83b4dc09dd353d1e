package dashboards

import (
	"fmt"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// OverviewUID is the Grafana UID of the Spark DRA overview dashboard.
const OverviewUID = "spark-dra-overview"

// appLabels are the labels that identify one Spark application.
const appLabels = "namespace, app_name, app_id"

// appLegend names an application in legends.
const appLegend = "{{app_name}} {{app_id}}"

// overview builds the "Spark DRA overview" dashboard: demand, executors and what idle capacity
// costs, per application.
func overview(cfg Config) (*dashboard.DashboardBuilder, []Query) {
	b := &board{uid: OverviewUID}
	sel := matchers(cfg.ExporterSelector, `namespace=~"$namespace"`, `app_name=~"$application"`)

	d := dashboard.NewDashboardBuilder("Spark DRA overview").
		Uid(OverviewUID).
		Description("Spark Dynamic Resource Allocation per application: backlog, executors by state, and what idle executors cost. Data: spark-dra-exporter (and spark-dra-scaler for the DRA target).").
		Tags([]string{"spark", "sparkdra"}).
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(datasourceVariable()).
		WithVariable(labelVariable("namespace", "namespace", "spark_dra_pending_tasks", cfg.ExporterSelector, "Namespace")).
		WithVariable(labelVariable("application", "app_name", "spark_dra_pending_tasks",
			matchers(cfg.ExporterSelector, `namespace=~"$namespace"`), "Application"))

	d = demandRow(d, b, sel)
	d = executorsRow(d, b, cfg, sel)
	d = idleRow(d, b, cfg, sel)
	d = exporterRow(d, b, cfg)
	return d, b.queries
}

func demandRow(d *dashboard.DashboardBuilder, b *board, sel string) *dashboard.DashboardBuilder {
	const tasks, backlog, failures = "Pending and running tasks", "Backlog duration", "Failed and completed tasks per second"
	return d.WithRow(dashboard.NewRowBuilder("Demand")).
		WithPanel(timeSeries(tasks,
			"Tasks of submitted stages not yet started (pending) and tasks running now, speculative copies included (running). DRA sizes the application from their sum.",
			"short").
			WithTarget(b.target(tasks, "A", fmt.Sprintf("sum by (%s) (spark_dra_pending_tasks{%s})", appLabels, sel), "pending "+appLegend, RequiresSparkdra)).
			WithTarget(b.target(tasks, "B", fmt.Sprintf("sum by (%s) (spark_dra_running_tasks{%s})", appLabels, sel), "running "+appLegend, RequiresSparkdra))).
		WithPanel(timeSeries(backlog,
			"How long pending tasks have waited without a break. DRA asks for more executors once this passes spark.dynamicAllocation.schedulerBacklogTimeout (1s by default), and again every sustainedSchedulerBacklogTimeout.",
			"s").
			WithTarget(b.target(backlog, "A", fmt.Sprintf("max by (%s) (spark_dra_backlog_duration_seconds{%s})", appLabels, sel), appLegend, RequiresSparkdra))).
		WithPanel(timeSeries(failures,
			"Task attempts that failed per second (killed ones excluded) and tasks that finished successfully per second, from the executors' counters. "+
				"Failed attempts are retried (spark.task.maxFailures): they cost executor time and keep the backlog up. The alert SparkTasksFailing fires on a high failed share.",
			"ops").
			WithTarget(b.target(failures, "A", fmt.Sprintf("sum by (%s) (rate(spark_app_tasks_failed_total{%s}[$__rate_interval]))", appLabels, sel), "failed "+appLegend, RequiresSparkdra)).
			WithTarget(b.target(failures, "B", fmt.Sprintf("sum by (%s) (rate(spark_app_tasks_completed_total{%s}[$__rate_interval]))", appLabels, sel), "completed "+appLegend, RequiresSparkdra)))
}

func executorsRow(d *dashboard.DashboardBuilder, b *board, cfg Config, sel string) *dashboard.DashboardBuilder {
	const sizes, states = "Max needed vs DRA target vs actual executors", "Executors by state"
	const removals, leaving = "Executor removals by reason (driver)", "Executors leaving (driver)"
	soSel := matchers(cfg.ScalerSelector, `scaledobject_namespace=~"$namespace"`)
	return d.WithRow(dashboard.NewRowBuilder("Executors")).
		WithPanel(timeSeries(sizes,
			"Max needed: ceil((pending + running) × executorAllocationRatio / tasks per executor), the most DRA would ever ask for now. "+
				"DRA target: numExecutorsTarget of spark-dra-scaler, one line per ScaledObject (a ScaledObject may serve several applications). "+
				"For applications that run Spark's own DRA, DRA target (driver) is the driver's own numberTargetExecutors, read from its /metrics/json. "+
				"Actual: executors alive now. maxExecutors: the application's spark.dynamicAllocation.maxExecutors, when set.",
			"short").
			WithTarget(b.target(sizes, "A", fmt.Sprintf("max by (%s) (spark_dra_max_needed_executors{%s})", appLabels, sel), "max needed "+appLegend, RequiresSparkdra)).
			WithTarget(b.target(sizes, "B", fmt.Sprintf("max by (scaledobject_namespace, scaledobject) (spark_dra_scaler_target_executors{%s})", soSel), "DRA target {{scaledobject_namespace}}/{{scaledobject}}", RequiresSparkdra)).
			WithTarget(b.target(sizes, "C", fmt.Sprintf("sum by (%s) (spark_dra_executors{%s})", appLabels, sel), "actual "+appLegend, RequiresSparkdra)).
			WithTarget(b.target(sizes, "E", fmt.Sprintf("max by (%s) (spark_dra_driver_target_executors{%s})", appLabels, sel), "DRA target (driver) "+appLegend, RequiresSparkdra)).
			// Spark's default maxExecutors is Int.MaxValue: leave that out, it would flatten the chart.
			WithTarget(b.target(sizes, "D", fmt.Sprintf("max by (%s) (spark_dra_config_max_executors{%s}) < 2147483647", appLabels, sel), "maxExecutors "+appLegend, RequiresSparkdra))).
		WithPanel(stacked(timeSeries(states,
			"busy: running tasks. shuffle_active: no task, but holds shuffle output of a running job (Spark does not count it idle). "+
				"idle: removable after executorIdleTimeout. idle_cache: held by cachedExecutorIdleTimeout. "+
				"idle_shuffle, idle_cache_shuffle: kept because they hold shuffle data (shuffle tracking on and no external shuffle service; "+
				"Apache Celeborn does not change that: see Settings warnings).",
			"short")).
			WithTarget(b.target(states, "A", fmt.Sprintf("sum by (%s, state) (spark_dra_executors{%s})", appLabels, sel), "{{app_name}} {{state}}", RequiresSparkdra))).
		WithPanel(timeSeries(removals,
			"Executors the application lost per minute, by reason, as its driver counts them (applications running Spark's own DRA): "+
				"killed_by_driver (DRA released an idle executor), decommissioned (gracefully), decommission_unfinished, "+
				"exited_unexpectedly (the executor died: OOM kill, node loss, pod eviction; the alert SparkExecutorsExitedUnexpectedly fires on these).",
			"opm").
			WithTarget(b.target(removals, "A", fmt.Sprintf("sum by (%s, reason) (rate(spark_dra_driver_executors_removed_total{%s}[$__rate_interval])) * 60", appLabels, sel), "{{app_name}} {{reason}}", RequiresSparkdra))).
		WithPanel(timeSeries(leaving,
			"Executors the driver has asked to remove that are not gone yet (pending removal), and executors being decommissioned, as the driver's allocation manager counts them (applications running Spark's own DRA).",
			"short").
			WithTarget(b.target(leaving, "A", fmt.Sprintf("max by (%s) (spark_dra_driver_executors_pending_to_remove{%s})", appLabels, sel), "pending removal "+appLegend, RequiresSparkdra)).
			WithTarget(b.target(leaving, "B", fmt.Sprintf("max by (%s) (spark_dra_driver_decommissioning_executors{%s})", appLabels, sel), "decommissioning "+appLegend, RequiresSparkdra))).
		WithPanel(requestedPanel(b, soSel))
}

// requestedPanel shows what spark-dra-scaler asked for against what registered: the executors
// still starting (pending) and the requests it cancelled before they registered.
func requestedPanel(b *board, soSel string) *timeseries.PanelBuilder {
	const title = "Requested vs live executors (spark-dra-scaler)"
	by := "scaledobject_namespace, scaledobject"
	legend := " {{scaledobject_namespace}}/{{scaledobject}}"
	return timeSeries(title,
		"Requested: the executor count spark-dra-scaler answers (desired). Live: executors in its latest observation. "+
			"Pending: executors asked for by earlier answers that have not registered yet; a gap that lasts is executor start-up "+
			"(scheduling, image pull, JVM start). Cancelled: requests dropped before they registered; only requests older than "+
			"executorIdleTimeout are cancelled, as Spark's Kubernetes allocator does (docs/scaler.md).",
		"short").
		WithTarget(b.target(title, "A", fmt.Sprintf("max by (%s) (spark_dra_scaler_desired_executors{%s})", by, soSel), "requested"+legend, RequiresSparkdra)).
		WithTarget(b.target(title, "B", fmt.Sprintf("max by (%s) (spark_dra_scaler_live_executors{%s})", by, soSel), "live"+legend, RequiresSparkdra)).
		WithTarget(b.target(title, "C", fmt.Sprintf("max by (%s) (spark_dra_scaler_pending_executors{%s})", by, soSel), "pending"+legend, RequiresSparkdra)).
		WithTarget(b.target(title, "D", fmt.Sprintf("sum by (%s) (increase(spark_dra_scaler_cancelled_requests_total{%s}[$__rate_interval]))", by, soSel), "cancelled"+legend, RequiresSparkdra))
}

func idleRow(d *dashboard.DashboardBuilder, b *board, cfg Config, sel string) *dashboard.DashboardBuilder {
	const total, perApp, longest = "Idle executor-seconds", "Idle executor-seconds by application and state", "Longest-idle executors"
	const warnings = "Settings warnings"
	step := time.Duration(cfg.IdleCostResolution)
	// Integrate the number of idle executors over the range: a subquery samples it every step
	// and sum_over_time × step gives executor-seconds. Series of finished applications are
	// stale, not extended, so an application counts only while it lived.
	integral := func(by string) string {
		return fmt.Sprintf("sum by (%s) (sum_over_time((sum by (%s) (spark_dra_executors{%s, state=~\"idle.*\"}))[$__range:%s])) * %g",
			by, by, sel, cfg.IdleCostResolution, step.Seconds())
	}
	idleDesc := fmt.Sprintf("Executor-seconds spent idle over the dashboard's time range: what idle capacity costs. "+
		"Idle executors are sampled every %s and summed (resolution ±%s per idle spell). "+
		"Includes executors kept for cache or shuffle data; shuffle_active executors are not idle.", cfg.IdleCostResolution, cfg.IdleCostResolution)
	return d.WithRow(dashboard.NewRowBuilder("Idle capacity")).
		WithPanel(singleStat(total, idleDesc, "s").
			WithTarget(b.target(total, "A", fmt.Sprintf("sum(%s)", integral(appLabels)), "", RequiresSparkdra).Instant())).
		WithPanel(barGauge(perApp, idleDesc, "s").
			WithTarget(b.target(perApp, "A", integral(appLabels+", state"), "{{app_name}} {{app_id}} {{state}}", RequiresSparkdra).Instant())).
		WithPanel(tablePanel(longest,
			"Executors with no running task, longest idle first, and what keeps them: holds = none (removable after executorIdleTimeout), cache, shuffle or cache_shuffle.").
			WithTarget(b.tableTarget(longest, "A",
				fmt.Sprintf("topk(20, max by (%s, executor_id, holds) (spark_executor_idle_duration_seconds{%s}))", appLabels, sel))).
			Unit("s")).
		WithPanel(tablePanel(warnings,
			"Applications whose settings Spark warns about (spark_dra_config_warning, one row per reason). "+
				"shuffle_tracking_with_other_mechanism: shuffle tracking is on although Celeborn's ShuffleDataIO or shuffle-block decommissioning keeps the shuffle safe, "+
				"so Spark keeps idle executors that ran shuffle map tasks for nothing (alert SparkDRANeedlessShufflePinning: turn tracking off). "+
				"shuffle_tracking_with_remote_shuffle_manager: the same with Celeborn's shuffle manager but without its ShuffleDataIO. "+
				"initial_executors_below_min, executor_instances_below_min: Spark ignores the setting.").
			WithTarget(b.tableTarget(warnings, "A",
				fmt.Sprintf("max by (%s, reason) (spark_dra_config_warning{%s})", appLabels, sel))))
}

// exporterRow shows which drivers the exporter can read. A driver that never answered has no
// application labels yet (docs/metrics.md): only its target key, driver, names it.
func exporterRow(d *dashboard.DashboardBuilder, b *board, cfg Config) *dashboard.DashboardBuilder {
	const polled, errs, failing, duration = "Drivers polled", "Driver poll errors by reason",
		"Drivers whose latest poll failed", "Poll duration vs poll interval"
	es := cfg.ExporterSelector
	return d.WithRow(dashboard.NewRowBuilder("Exporter")).
		WithPanel(tablePanel(polled,
			"Every driver the exporter polls (driver = URL, namespace/pod, or master/proxy/appId) and whether its latest poll read everything (1) or failed (0). "+
				"A driver that never answered shows here before it has an application. The alert SparkDriverUnreachable fires for applications whose driver keeps failing.").
			Span(halfWidth).
			WithTarget(b.tableTarget(polled, "A", fmt.Sprintf("min by (driver) (spark_dra_exporter_scrape_success{%s})", es))).
			SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Value")})).
		WithPanel(timeSeries(errs,
			"Failed polls per second: timeout, connection (driver gone), not_found (application finished), forbidden/unauthorized (UI ACLs), http_status, decode, too_large, credentials, starting (the driver UI still starting up), metrics_json (the driver's /metrics/json).",
			"ops").
			WithTarget(b.target(errs, "A", fmt.Sprintf("sum by (driver, reason) (rate(spark_dra_exporter_scrape_errors_total{%s}[$__rate_interval]))", es), "{{driver}} {{reason}}", RequiresSparkdra))).
		WithPanel(timeSeries(failing,
			fmt.Sprintf("Share of the drivers each exporter polls whose latest poll failed. At %g or more for %s SparkDRAExporterPollErrors fires: "+
				"a problem of the exporter (network policy, credentials, RBAC) rather than of one application.", cfg.PollErrorRatio, cfg.PollErrorsFor),
			"percentunit").
			Max(1).
			WithTarget(b.target(failing, "A", fmt.Sprintf("1 - avg by (job, instance) (spark_dra_exporter_scrape_success{%s})", es), "{{instance}}", RequiresSparkdra)).
			Thresholds(dashboard.NewThresholdsConfigBuilder().
				Mode(dashboard.ThresholdsModeAbsolute).
				Steps([]dashboard.Threshold{{Color: "green"}, {Value: ptr(cfg.PollErrorRatio), Color: "red"}})).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))).
		WithPanel(timeSeries(duration,
			fmt.Sprintf("How long the latest poll of each driver took (all its REST requests), against --spark.poll-interval. "+
				"A driver whose poll takes longer is polled less often than configured; for %s SparkDRAExporterPollOverrun fires.", cfg.PollOverrunFor),
			"s").
			WithTarget(b.target(duration, "A", fmt.Sprintf("max by (driver) (spark_dra_exporter_scrape_duration_seconds{%s})", es), "{{driver}}", RequiresSparkdra)).
			WithTarget(b.target(duration, "B", fmt.Sprintf("max(spark_dra_exporter_poll_interval_seconds{%s})", es), "poll interval", RequiresSparkdra)))
}
