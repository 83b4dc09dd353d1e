package dashboards

import (
	"fmt"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RuleGroupName is the name of the one rule group sparkdra ships.
const RuleGroupName = "sparkdra"

// appDescription names the application of an alert in its description.
const appDescription = `Spark application {{ $labels.app_name }} ({{ $labels.app_id }}{{ with $labels.namespace }}, namespace {{ . }}{{ end }})`

// soDescription names the ScaledObject of an alert in its description.
const soDescription = `ScaledObject {{ $labels.scaledobject_namespace }}/{{ $labels.scaledobject }}`

// Rules returns sparkdra's alerting rules for cfg, in the shape Prometheus rule files and
// prometheus-operator's PrometheusRule share.
func Rules(cfg Config) monitoringv1.PrometheusRuleSpec {
	es, ss := cfg.ExporterSelector, cfg.ScalerSelector
	secs := func(d model.Duration) string { return fmt.Sprintf("%g", time.Duration(d).Seconds()) }
	app := "namespace, app_name, app_id"
	rules := []monitoringv1.Rule{
		alert(cfg, "SparkDRAExecutorsPinnedByShuffle", "warning", cfg.ShuffleIdleFor,
			fmt.Sprintf(`count by (%s) (spark_executor_idle_duration_seconds{%s} > %s)`, app,
				matchers(es, `holds=~"shuffle|cache_shuffle"`), secs(cfg.ShuffleIdleThreshold)),
			"Idle Spark executors are kept because they hold shuffle data.",
			fmt.Sprintf(`{{ $value }} executors of %s have been idle for more than %s but are not released because they hold shuffle data (shuffle tracking on, no external shuffle service).`,
				appDescription, cfg.ShuffleIdleThreshold)),
		alert(cfg, "SparkDRANeedlessShufflePinning", "warning", cfg.NeedlessPinFor,
			fmt.Sprintf(`(count by (%[1]s) (spark_executor_idle_duration_seconds{%[2]s} > on (%[1]s) group_left max by (%[1]s) (spark_dra_config_executor_idle_timeout_seconds{%[3]s}))) and on (%[1]s) (max by (%[1]s) (spark_dra_config_warning{%[4]s}) == 1) and on (%[1]s) (max by (%[1]s) (spark_dra_shuffle_pins_executors{%[3]s}) == 1)`,
				app, matchers(es, `holds=~"shuffle|cache_shuffle"`), es, matchers(es, `reason=~"shuffle_tracking_with_other_mechanism|shuffle_tracking_with_remote_shuffle_manager"`)),
			"Spark keeps idle executors for shuffle data that is safe without them.",
			fmt.Sprintf(`{{ $value }} executors of %s are idle past spark.dynamicAllocation.executorIdleTimeout and kept only because shuffle tracking is on, although the shuffle data is safe without them (Apache Celeborn, or shuffle-block decommissioning). Set spark.dynamicAllocation.shuffleTracking.enabled=false.`,
				appDescription)),
		alert(cfg, "SparkDRAExecutorsIdleWithCache", "warning", cfg.CacheIdleFor,
			fmt.Sprintf(`count by (%s) (spark_executor_idle_duration_seconds{%s} > %s)`, app,
				matchers(es, `holds="cache"`), secs(cfg.CacheIdleThreshold)),
			"Idle Spark executors are kept because they hold cached data.",
			fmt.Sprintf(`{{ $value }} executors of %s have been idle for more than %s and are kept because they hold cached blocks (spark.dynamicAllocation.cachedExecutorIdleTimeout).`,
				appDescription, cfg.CacheIdleThreshold)),
		alert(cfg, "SparkDRABacklogAtMaxExecutors", "warning", cfg.BacklogFor,
			fmt.Sprintf(`(max by (%[1]s) (spark_dra_backlog_duration_seconds{%[2]s}) >= %[3]s) and on (%[1]s) (sum by (%[1]s) (spark_dra_executors{%[2]s}) >= max by (%[1]s) (spark_dra_config_max_executors{%[2]s}))`,
				app, es, secs(cfg.BacklogThreshold)),
			"A Spark application has a backlog while it runs its maxExecutors.",
			fmt.Sprintf(`%s has had pending tasks for {{ $value | humanizeDuration }} while it already runs spark.dynamicAllocation.maxExecutors executors: DRA cannot add more.`,
				appDescription)),
		alert(cfg, "SparkDRAExecutorsBelowTarget", "warning", cfg.BelowTargetFor,
			fmt.Sprintf(`max by (%[1]s) (spark_dra_scaler_target_executors{%[2]s}) > max by (%[1]s) (spark_dra_scaler_live_executors{%[2]s})`, soLabels, ss),
			"Spark executors stay below the DRA target.",
			fmt.Sprintf(`The Spark applications of %s have had fewer live executors than DRA's target of {{ $value }} for %s: the cluster cannot place them, or the workload does not follow its replica count.`,
				soDescription, cfg.BelowTargetFor)),
		alert(cfg, "SparkTasksFailing", "warning", cfg.FailedTasksFor,
			fmt.Sprintf(`(sum by (%[1]s) (increase(spark_app_tasks_failed_total{%[2]s}[%[3]s])) / (sum by (%[1]s) (increase(spark_app_tasks_failed_total{%[2]s}[%[3]s])) + sum by (%[1]s) (increase(spark_app_tasks_completed_total{%[2]s}[%[3]s])))) > %[4]g and on (%[1]s) sum by (%[1]s) (increase(spark_app_tasks_failed_total{%[2]s}[%[3]s])) >= %[5]d`,
				app, es, cfg.FailedTasksWindow, cfg.FailedTaskRatio, cfg.FailedTasksMin),
			"Many Spark task attempts fail.",
			fmt.Sprintf(`{{ $value | humanizePercentage }} of the task attempts of %s that ended in the last %s failed: tasks are retried (spark.task.maxFailures), so the application runs slower and asks DRA for executors to redo work, and a task failing every attempt fails its job.`,
				appDescription, cfg.FailedTasksWindow)),
		alert(cfg, "SparkExecutorsExitedUnexpectedly", "warning", cfg.ExitedUnexpectedlyFor,
			fmt.Sprintf(`sum by (%s) (increase(spark_dra_driver_executors_removed_total{%s}[%s])) >= %d`, app,
				matchers(es, `reason="exited_unexpectedly"`), cfg.ExitedUnexpectedlyWindow, cfg.ExitedUnexpectedlyThreshold),
			"Spark executors exit unexpectedly.",
			fmt.Sprintf(`{{ $value | printf "%%.0f" }} executors of %s exited unexpectedly in the last %s (the driver's numberExecutorsExitedUnexpectedly): they were not released by DRA nor decommissioned, but died (OOM kill, node loss, eviction), and their tasks and shuffle output must be recomputed.`,
				appDescription, cfg.ExitedUnexpectedlyWindow)),
		alert(cfg, "SparkDriverUnreachable", "warning", cfg.DriverDownFor,
			fmt.Sprintf(`spark_up{%s} == 0`, es),
			"spark-dra-exporter cannot read a Spark driver.",
			fmt.Sprintf(`spark-dra-exporter has failed to poll the REST API of the driver of %s{{ with $labels.pod }} (pod {{ . }}){{ end }} for %s: its backlog and executors are unknown, and a scaler serving it holds its size.`,
				appDescription, cfg.DriverDownFor)),
		alert(cfg, "SparkDRAScalerStale", "critical", cfg.StaleFor,
			fmt.Sprintf(`max by (%[1]s) (spark_dra_scaler_observation_age_seconds{%[2]s}) > %[3]s or sum by (%[1]s) (increase(spark_dra_scaler_errors_total{%[4]s}[5m])) > 0`,
				soLabels, ss, secs(cfg.StaleThreshold), matchers(ss, `reason="stale"`)),
			"spark-dra-scaler decides on stale data.",
			fmt.Sprintf(`spark-dra-scaler has no fresh observation for %s (older than %s, or refused as stale): KEDA's fallback holds the current size and the Spark applications it serves do not scale.`,
				soDescription, cfg.StaleThreshold)),
	}
	rules = append(rules, healthRules(cfg)...)
	return monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{Name: RuleGroupName, Rules: rules}}}
}

// downExpr is true per target of job that is down, and once, without labels beyond job, when
// Prometheus scrapes no target of job at all.
func downExpr(job string) string {
	up := fmt.Sprintf(`up{job=%q}`, job)
	return fmt.Sprintf(`(%s == 0) or absent(%s)`, up, up)
}

// healthRules are the alerts on sparkdra's own health and on what keeps executors from
// following the scaler: exporter and scaler down, polls failing or overrunning across the
// fleet, the HPA at its maximum, executor or worker pods stuck Pending.
func healthRules(cfg Config) []monitoringv1.Rule {
	es, ss := cfg.ExporterSelector, cfg.ScalerSelector
	return []monitoringv1.Rule{
		alert(cfg, "SparkDRAExporterDown", "critical", cfg.ExporterDownFor, downExpr(cfg.ExporterJob),
			"spark-dra-exporter is down or not scraped.",
			fmt.Sprintf(`Prometheus has not scraped spark-dra-exporter (job %s{{ with $labels.instance }}, target {{ . }}{{ end }}) for %s: no Spark application's backlog or executors are known, the dashboards go blank and every scaler reading them holds its ScaledObjects' size.`,
				cfg.ExporterJob, cfg.ExporterDownFor)),
		alert(cfg, "SparkDRAScalerDown", "critical", cfg.ScalerDownFor, downExpr(cfg.ScalerJob),
			"spark-dra-scaler is down or not scraped.",
			fmt.Sprintf(`Prometheus has not scraped spark-dra-scaler (job %s{{ with $labels.instance }}, target {{ . }}{{ end }}) for %s. If the scaler itself is down, KEDA cannot reach the external-push trigger of any sparkdra ScaledObject: their HPAs get no metric and keep the current replica count, and no Spark application scales.`,
				cfg.ScalerJob, cfg.ScalerDownFor)),
		alert(cfg, "SparkDRAExporterPollErrors", "warning", cfg.PollErrorsFor,
			fmt.Sprintf(`count without (driver) (spark_dra_exporter_scrape_success{%[1]s} == 0) / count without (driver) (spark_dra_exporter_scrape_success{%[1]s}) >= %[2]g`,
				es, cfg.PollErrorRatio),
			"spark-dra-exporter fails to poll many Spark drivers.",
			fmt.Sprintf(`{{ $value | humanizePercentage }} of the Spark drivers spark-dra-exporter {{ $labels.instance }} polls failed their latest poll, for %s: a problem of the exporter (network policy, credentials, RBAC, overload) rather than of one application.`,
				cfg.PollErrorsFor)),
		alert(cfg, "SparkDRAExporterPollOverrun", "warning", cfg.PollOverrunFor,
			fmt.Sprintf(`count without (driver) (spark_dra_exporter_scrape_duration_seconds{%[1]s} > ignoring (driver) group_left () spark_dra_exporter_poll_interval_seconds{%[1]s})`, es),
			"Polls of Spark drivers take longer than the poll interval.",
			fmt.Sprintf(`The latest poll of {{ $value }} Spark drivers by spark-dra-exporter {{ $labels.instance }} took longer than --spark.poll-interval, for %s: those drivers are polled less often than configured and the scaler decides on older data.`,
				cfg.PollOverrunFor)),
		alert(cfg, "SparkDRAHPAMaxedOut", "warning", cfg.HPAMaxedFor,
			fmt.Sprintf(`(%[1]s >= %[2]s) and on (%[3]s) (max by (%[3]s) (spark_dra_scaler_desired_replicas{%[4]s}) >= on (%[3]s) %[2]s)`,
				hpaMetricBySO("kube_horizontalpodautoscaler_status_current_replicas", `horizontalpodautoscaler=~"keda-hpa-.+"`),
				hpaMetricBySO("kube_horizontalpodautoscaler_spec_max_replicas", `horizontalpodautoscaler=~"keda-hpa-.+"`),
				soLabels, ss),
			"The HPA of a sparkdra ScaledObject runs at its maximum.",
			fmt.Sprintf(`The HPA of %s has run {{ $value }} replicas, its maxReplicaCount, for %s while spark-dra-scaler asks for at least as many: the Spark applications it serves cannot get more executors.`,
				soDescription, cfg.HPAMaxedFor)),
		alert(cfg, "SparkDRAPodsPending", "warning", cfg.PodStartupAllowance, pendingPodsExpr(ss),
			"Executor or worker pods of a sparkdra ScaledObject stay Pending.",
			fmt.Sprintf(`Pod {{ $labels.namespace }}/{{ $labels.pod }} of the workload {{ $labels.workload }} that ScaledObject {{ $labels.namespace }}/{{ $labels.scaledobject }} scales has been Pending for more than %s, the executor start-up allowance: the cluster cannot place or start it, and the application runs fewer executors than DRA asked for.`,
				cfg.PodStartupAllowance)),
	}
}

// hpaMetricBySO is a kube-state-metrics HPA series with labels scaledobject_namespace and
// scaledobject: KEDA names the HPA of ScaledObject <name> keda-hpa-<name>.
func hpaMetricBySO(metric, sel string) string {
	return fmt.Sprintf(`max by (%s) (label_replace(label_replace(%s{%s}, "scaledobject", "$1", "horizontalpodautoscaler", "keda-hpa-(.+)"), "scaledobject_namespace", "$1", "namespace", "(.*)"))`,
		soLabels, metric, sel)
}

// pendingPodsExpr is 1 per Pending pod of a workload (StatefulSet, or Deployment through its
// ReplicaSet) that the HPA of a sparkdra ScaledObject scales, with labels namespace, pod,
// workload and scaledobject. It joins kube-state-metrics' pod phase, pod and ReplicaSet owners
// and HPA scale target with the scaler's ScaledObjects (sel selects the scaler's series).
func pendingPodsExpr(sel string) string {
	pending := `max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}) == 1`
	podWorkload := `max by (namespace, pod, workload) (label_replace(kube_pod_owner{owner_kind="StatefulSet"}, "workload", "$1", "owner_name", "(.+)")) or ` +
		`max by (namespace, pod, workload) (label_replace(kube_pod_owner{owner_kind="ReplicaSet"}, "replicaset", "$1", "owner_name", "(.+)") * on (namespace, replicaset) group_left (workload) ` +
		`max by (namespace, replicaset, workload) (label_replace(kube_replicaset_owner{owner_kind="Deployment"}, "workload", "$1", "owner_name", "(.+)")))`
	soWorkload := `max by (namespace, workload, scaledobject) (label_replace(label_replace(kube_horizontalpodautoscaler_info{horizontalpodautoscaler=~"keda-hpa-.+", scaletargetref_kind=~"StatefulSet|Deployment"}, "workload", "$1", "scaletargetref_name", "(.+)"), "scaledobject", "$1", "horizontalpodautoscaler", "keda-hpa-(.+)"))`
	sparkdra := fmt.Sprintf(`label_replace(max by (%s) (spark_dra_scaler_desired_replicas{%s}), "namespace", "$1", "scaledobject_namespace", "(.+)")`, soLabels, sel)
	return fmt.Sprintf(`(%s) * on (namespace, pod) group_left (workload) (%s) * on (namespace, workload) group_left (scaledobject) (%s and on (namespace, scaledobject) %s)`,
		pending, podWorkload, soWorkload, sparkdra)
}

// alert builds one alerting rule with its summary, description and runbook_url.
func alert(cfg Config, name, severity string, forDur model.Duration, expr, summary, description string) monitoringv1.Rule {
	f := monitoringv1.Duration(forDur.String())
	return monitoringv1.Rule{
		Alert:  name,
		Expr:   intstr.FromString(dropEmptySelectors(expr)),
		For:    &f,
		Labels: map[string]string{"severity": severity},
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook_url": cfg.RunbookBaseURL + "#" + strings.ToLower(name),
		},
	}
}

// ruleQueries lists the expression of every rule.
func ruleQueries(spec monitoringv1.PrometheusRuleSpec) []Query {
	var qs []Query
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			q := Query{Source: "alert " + r.Alert, Expr: r.Expr.String()}
			if strings.Contains(q.Expr, "kube_") {
				q.Requires = RequiresKubeStateMetrics
			}
			qs = append(qs, q)
		}
	}
	return qs
}
