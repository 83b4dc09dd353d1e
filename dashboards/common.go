package dashboards

import (
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Requirement names a series source beyond sparkdra's own binaries that a query needs.
type Requirement string

const (
	// RequiresSparkdra: the query reads only spark-dra-exporter and spark-dra-scaler series.
	RequiresSparkdra Requirement = ""
	// RequiresKubeStateMetrics: the query reads kube-state-metrics series (HPA status).
	RequiresKubeStateMetrics Requirement = "kube-state-metrics"
)

// Query is one PromQL expression a dashboard panel or an alerting rule evaluates.
type Query struct {
	// Source says where the expression lives, e.g. "spark-dra-overview/Backlog duration/A"
	// or "alert SparkDRAExecutorsPinnedByShuffle".
	Source string
	// Expr is the expression as committed; dashboard expressions may contain Grafana variables.
	Expr string
	// Requires names series sources beyond sparkdra's binaries; empty when none.
	Requires Requirement
}

// grafanaVars is what Concrete substitutes for each Grafana variable: values that select every
// series, and fixed windows.
var grafanaVars = map[string]string{
	"namespace":       ".*",
	"application":     ".*",
	"scaledobject":    ".*",
	"__range":         "1h",
	"__range_s":       "3600",
	"__rate_interval": "1m",
	"__interval":      "30s",
}

var grafanaVarRE = regexp.MustCompile(`\$\{?(\w+)\}?`)

// Concrete returns Expr with its Grafana variables replaced by values that select every series
// ($namespace, $application, $scaledobject → ".*") and fixed windows ($__range → 1h,
// $__rate_interval → 1m, $__interval → 30s), so that Prometheus can parse and evaluate it.
// Unknown variables are left as they are (and then fail to parse).
func (q Query) Concrete() string {
	return grafanaVarRE.ReplaceAllStringFunc(q.Expr, func(m string) string {
		name := grafanaVarRE.FindStringSubmatch(m)[1]
		if v, ok := grafanaVars[name]; ok {
			return v
		}
		return m
	})
}

// dropEmptySelectors turns `metric{}` into `metric`: an empty Config selector leaves them.
func dropEmptySelectors(expr string) string { return strings.ReplaceAll(expr, "{}", "") }

// matchers joins label matchers into a selector body, dropping empty ones.
func matchers(ms ...string) string {
	var out []string
	for _, m := range ms {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// datasourceRef points panels and variables at the dashboard's datasource variable.
func datasourceRef() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// board collects the queries of one dashboard while its panels are built.
type board struct {
	uid     string
	queries []Query
}

// target builds a Prometheus query for a panel and records it.
func (b *board) target(panel, refID, expr, legend string, req Requirement) *prometheus.DataqueryBuilder {
	expr = dropEmptySelectors(expr)
	b.queries = append(b.queries, Query{Source: b.uid + "/" + panel + "/" + refID, Expr: expr, Requires: req})
	q := prometheus.NewDataqueryBuilder().Expr(expr).RefId(refID).Datasource(datasourceRef())
	if legend != "" {
		q = q.LegendFormat(legend)
	}
	return q
}

// tableTarget is target for an instant query whose result a table shows.
func (b *board) tableTarget(panel, refID, expr string) *prometheus.DataqueryBuilder {
	return b.target(panel, refID, expr, "", RequiresSparkdra).Instant().Format(prometheus.PromQueryFormatTable)
}

// datasourceVariable is the "datasource" variable every dashboard starts with.
func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")
}

// labelVariable is a multi-value query variable over label_values(metric{sel}, label), with "All"
// meaning ".*" (so that series without the label match too).
func labelVariable(name, label, metric, sel, title string) *dashboard.QueryVariableBuilder {
	q := "label_values(" + dropEmptySelectors(metric+"{"+sel+"}") + ", " + label + ")"
	return dashboard.NewQueryVariableBuilder(name).
		Label(title).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Datasource(datasourceRef()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}})
}

// legendTable is a table legend at the bottom showing the last and max values.
func legendTable() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementBottom).
		ShowLegend(true).
		Calcs([]string{"lastNotNull", "max"})
}
