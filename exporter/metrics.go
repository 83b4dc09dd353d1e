package exporter

import "github.com/prometheus/client_golang/prometheus"

// Label names.
const (
	labelAppID     = "app_id"
	labelAppName   = "app_name"
	labelNamespace = "namespace"
	labelPod       = "pod"
	labelExecutor  = "executor_id"
	labelDriver    = "driver"
)

// scope says which labels come before a metric's own: the application's, the executor's
// (application + executor_id), or the polled driver's (the `driver` target key).
type scope int

const (
	scopeApp scope = iota
	scopeExecutor
	scopeDriver
	scopeExporter
)

// MetricInfo describes one metric the Collector publishes: what docs/metrics.md lists.
type MetricInfo struct {
	Name   string
	Type   string   // "gauge" or "counter"
	Labels []string // all label names, in order
	Help   string
}

type metricDef struct {
	name   string
	help   string
	typ    prometheus.ValueType
	scope  scope
	labels []string // beyond the scope's labels
}

// pollNote is appended to the HELP of the metrics whose accuracy depends on the poll interval.
const pollNote = " Read at each poll (--spark.poll-interval); may lag by up to one interval."

// The metrics, in publication order. Names in the contracts of design.md and docs/contracts.md
// §1 must not change.
var (
	mUp = metricDef{"spark_up", "1 if the latest poll of this driver read everything it needs, else 0.",
		prometheus.GaugeValue, scopeApp, nil}
	mAppInfo = metricDef{"spark_app_info", "Application info; always 1.",
		prometheus.GaugeValue, scopeApp, []string{"spark_version"}}
	mPending = metricDef{"spark_dra_pending_tasks",
		"Tasks of submitted (ACTIVE) stages not yet started: numTasks - numCompletedIndices - numActiveTasks, summed." + pollNote,
		prometheus.GaugeValue, scopeApp, nil}
	mRunning = metricDef{"spark_dra_running_tasks", "Tasks running now, speculative copies included." + pollNote,
		prometheus.GaugeValue, scopeApp, nil}
	mBacklog = metricDef{"spark_dra_backlog_duration_seconds",
		"How long pending tasks > 0 has held without a break, 0 when none. Counted from the first poll that saw the backlog, so under-estimated by up to one poll interval. A gap between two polls is seen when the stages with pending tasks all completed before the new ones were submitted: the duration then restarts at the new stages' submission time.",
		prometheus.GaugeValue, scopeApp, nil}
	mStages = metricDef{"spark_dra_stages_submitted",
		"Stage attempts the driver lists as submitted (ACTIVE, COMPLETE, FAILED); > 0 ends Spark's initializing phase. After the first one, counted from the active list across polls: a stage shorter than a poll interval may be missed.",
		prometheus.GaugeValue, scopeApp, nil}
	mTPE = metricDef{"spark_dra_tasks_per_executor", "spark.executor.cores / spark.task.cpus of the application (integer division).",
		prometheus.GaugeValue, scopeApp, nil}
	mMaxNeeded = metricDef{"spark_dra_max_needed_executors",
		"ceil((pending + running tasks) * executorAllocationRatio / tasks per executor), as Spark's maxNumExecutorsNeeded without speculation.",
		prometheus.GaugeValue, scopeApp, nil}
	mExecutors = metricDef{"spark_dra_executors",
		"Executors of the application by state: busy, shuffle_active (no task but shuffle output a running job may read), idle, idle_cache, idle_shuffle, idle_cache_shuffle." + pollNote,
		prometheus.GaugeValue, scopeApp, []string{"state"}}
	mShufflePins = metricDef{"spark_dra_shuffle_pins_executors",
		"1 when Spark keeps executors that ran shuffle map tasks until the shuffle is cleaned or shuffleTracking.timeout passes: spark.dynamicAllocation.shuffleTracking.enabled (default true since 3.4) and no external shuffle service, as Spark's ExecutorMonitor decides; Apache Celeborn does not change it. Else 0.",
		prometheus.GaugeValue, scopeApp, nil}
	mConfigWarning = metricDef{"spark_dra_config_warning",
		"1 per warning the application's settings trigger; absent when none. reason: shuffle_tracking_with_other_mechanism (Spark's own WARN: shuffle tracking on with Celeborn's ShuffleDataIO or shuffle-block decommissioning, so executors are kept needlessly), shuffle_tracking_with_remote_shuffle_manager (sparkdra's: shuffle tracking pins executors while Celeborn's shuffle manager holds the shuffle), initial_executors_below_min, executor_instances_below_min.",
		prometheus.GaugeValue, scopeApp, []string{"reason"}}
	mCfgEnabled = metricDef{"spark_dra_config_enabled", "1 when the application runs Spark's own DRA (spark.dynamicAllocation.enabled and not a local master).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgMin = metricDef{"spark_dra_config_min_executors", "The application's spark.dynamicAllocation.minExecutors (default 0).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgMax = metricDef{"spark_dra_config_max_executors", "The application's spark.dynamicAllocation.maxExecutors (default 2147483647).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgInitial = metricDef{"spark_dra_config_initial_executors", "Initial executors Spark derives: max(minExecutors, initialExecutors, spark.executor.instances).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgRatio = metricDef{"spark_dra_config_executor_allocation_ratio", "The application's spark.dynamicAllocation.executorAllocationRatio (default 1).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgIdle = metricDef{"spark_dra_config_executor_idle_timeout_seconds", "The application's spark.dynamicAllocation.executorIdleTimeout (default 60).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgCachedIdle = metricDef{"spark_dra_config_cached_executor_idle_timeout_seconds",
		"The application's spark.dynamicAllocation.cachedExecutorIdleTimeout (default 2147483647, i.e. never).",
		prometheus.GaugeValue, scopeApp, nil}
	mCfgShuffleTimeout = metricDef{"spark_dra_config_shuffle_tracking_timeout_seconds",
		"The application's spark.dynamicAllocation.shuffleTracking.timeout; +Inf when unset (never).",
		prometheus.GaugeValue, scopeApp, nil}

	mExecInfo = metricDef{"spark_executor_info", "One per live executor (driver row excluded); host is the host part of hostPort (the pod IP on Kubernetes).",
		prometheus.GaugeValue, scopeExecutor, []string{"host", "resource_profile_id"}}
	mExecRunning = metricDef{"spark_executor_running_tasks", "Tasks running on the executor now." + pollNote,
		prometheus.GaugeValue, scopeExecutor, nil}
	mExecIdle = metricDef{"spark_executor_idle_duration_seconds",
		"Per executor with no running task: seconds since it last ran a task, or since it registered if it never did. Idle is seen at polls only: an executor whose totalTasks changed between two polls counts as idle from the later one, so this under-estimates by up to one poll interval. holds: none, cache, shuffle, cache_shuffle.",
		prometheus.GaugeValue, scopeExecutor, []string{"holds"}}
	mExecShuffleActive = metricDef{"spark_executor_shuffle_active",
		"Per executor with no running task: 1 when it holds shuffle output while a job is running that may read it, else 0. The REST API does not say which shuffle a job reads, so any running job counts. Only published when shuffle output pins executors.",
		prometheus.GaugeValue, scopeExecutor, nil}
	mExecRDDBlocks = metricDef{"spark_executor_rdd_blocks", "Per executor with no running task: cached RDD blocks it holds (rddBlocks).",
		prometheus.GaugeValue, scopeExecutor, nil}
	mExecMemory = metricDef{"spark_executor_storage_memory_used_bytes", "Per executor with no running task: storage memory used by its cached blocks (memoryUsed).",
		prometheus.GaugeValue, scopeExecutor, nil}
	mExecDisk = metricDef{"spark_executor_disk_used_bytes", "Per executor with no running task: disk used by its cached blocks (diskUsed).",
		prometheus.GaugeValue, scopeExecutor, nil}
	mExecShuffleWrite = metricDef{"spark_executor_shuffle_write_bytes_total",
		"Per executor with no running task: shuffle output written by its tasks since it registered (totalShuffleWrite); never decreases, even after the shuffle is cleaned.",
		prometheus.CounterValue, scopeExecutor, nil}

	mScrapeSuccess = metricDef{"spark_dra_exporter_scrape_success", "1 if the latest poll of this driver succeeded, else 0; also for drivers whose application is not known yet.",
		prometheus.GaugeValue, scopeDriver, nil}
	mScrapeDuration = metricDef{"spark_dra_exporter_scrape_duration_seconds", "How long the latest poll of this driver took (all its REST requests).",
		prometheus.GaugeValue, scopeDriver, nil}
	mScrapeErrors = metricDef{"spark_dra_exporter_scrape_errors_total",
		"Failed polls of this driver by reason: timeout, connection, starting (the UI answered that Spark is still starting), not_found, forbidden, unauthorized, http_status, decode, too_large, credentials; and metrics_json, polls that succeeded but could not read the driver's own DRA state from /metrics/json (its spark_dra_driver_* series are left out).",
		prometheus.CounterValue, scopeDriver, []string{"reason"}}
	mTargets = metricDef{"spark_dra_exporter_targets", "Drivers being polled, by discovery source (static, kubernetes, standalone).",
		prometheus.GaugeValue, scopeExporter, []string{"source"}}
	mPollInterval = metricDef{"spark_dra_exporter_poll_interval_seconds",
		"The time between the starts of two polls of one driver (--spark.poll-interval); a driver whose poll takes longer is polled less often.",
		prometheus.GaugeValue, scopeExporter, nil}
)

var appMetrics = []metricDef{mUp, mAppInfo, mPending, mRunning, mBacklog, mStages, mTPE, mMaxNeeded, mExecutors,
	mShufflePins, mConfigWarning, mCfgEnabled, mCfgMin, mCfgMax, mCfgInitial, mCfgRatio, mCfgIdle, mCfgCachedIdle, mCfgShuffleTimeout}

var executorMetrics = []metricDef{mExecInfo, mExecRunning, mExecAddTime, mExecIdle, mExecShuffleActive, mExecRDDBlocks,
	mExecMemory, mExecDisk, mExecShuffleWrite}

var selfMetrics = []metricDef{mScrapeSuccess, mScrapeDuration, mScrapeErrors, mTargets, mPollInterval}
