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
			fmt.Sprintf(`{{ $value }} executors of %s have been idle for more than %s but are not released because they hold shuffle data (shuffle tracking without an external or remote shuffle service).`,
				appDescription, cfg.ShuffleIdleThreshold)),
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
	return monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{Name: RuleGroupName, Rules: rules}}}
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
			qs = append(qs, Query{Source: "alert " + r.Alert, Expr: r.Expr.String()})
		}
	}
	return qs
}
