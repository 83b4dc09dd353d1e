package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/sparkdra/sparkdra/internal/contracts"
)

// knownMetrics are the series the dashboards and rules may read, parsed from docs/contracts.md:
// §1 (exporter), the exporter's self-metrics, §2 (scaler self-metrics) and §5 (kube-state-metrics,
// Prometheus' up). A new series is added there, not here.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	ms, err := contracts.Load("../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, h := range []string{contracts.ExporterMetrics, contracts.ExporterSelf, contracts.ScalerSelf, contracts.OtherSeries} {
		sec := contracts.In(ms, h)
		if len(sec) == 0 {
			t.Fatalf("docs/contracts.md: no metrics under %q", h)
		}
		for _, m := range sec {
			for _, s := range m.Series() {
				known[s] = true
			}
		}
	}
	return known
}

// TestEveryQueryParses runs each dashboard and rule expression through Prometheus' own PromQL
// parser and checks that it reads only metrics the contracts define.
func TestEveryQueryParses(t *testing.T) {
	qs, err := Queries(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 30 {
		t.Fatalf("Queries returned %d expressions, want every panel target and rule (>= 30)", len(qs))
	}
	known := knownMetrics(t)
	p := parser.NewParser(parser.Options{})
	seen := map[string]bool{}
	for _, q := range qs {
		if seen[q.Source] {
			t.Errorf("two queries share the source %q", q.Source)
		}
		seen[q.Source] = true
		expr, err := p.ParseExpr(q.Concrete())
		if err != nil {
			t.Errorf("%s: %v\n%s", q.Source, err, q.Concrete())
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && !known[vs.Name] {
				t.Errorf("%s reads %q, which no contract defines", q.Source, vs.Name)
			}
			return nil
		})
		if q.Requires == RequiresSparkdra && strings.Contains(q.Expr, "kube_") {
			t.Errorf("%s reads kube-state-metrics but does not say so in Requires", q.Source)
		}
	}
}

func TestConcreteReplacesGrafanaVariables(t *testing.T) {
	q := Query{Expr: `sum_over_time(x{namespace=~"$namespace", app_name=~"${application}"}[$__range:30s]) + rate(y[$__rate_interval]) + label_replace(z, "a", "$1", "b", "(.*)")`}
	want := `sum_over_time(x{namespace=~".*", app_name=~".*"}[1h:30s]) + rate(y[1m]) + label_replace(z, "a", "$1", "b", "(.*)")`
	if got := q.Concrete(); got != want {
		t.Errorf("Concrete() =\n%s\nwant\n%s", got, want)
	}
}

// TestParserRejectsBrokenQuery shows that the parse test can fail.
func TestParserRejectsBrokenQuery(t *testing.T) {
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(`sum by (app_id) (spark_dra_executors{state=~"idle.*"}[$__range:30s])`); err == nil {
		t.Fatal("an expression with an unreplaced Grafana variable parsed")
	}
}

// dashboardJSON is the part of a Grafana dashboard the structure tests read.
type grafanaDashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+), (\w+)\)$`)

func TestDashboardsStructure(t *testing.T) {
	for path, wantVars := range map[string][]string{
		OverviewPath: {"datasource", "namespace", "application"},
		ScalerPath:   {"datasource", "namespace", "scaledobject"},
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(repoRoot, path))
			if err != nil {
				t.Fatal(err)
			}
			var d grafanaDashboard
			if err := json.Unmarshal(data, &d); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, v := range d.Templating.List {
				names = append(names, v.Name)
				if v.Type != "query" {
					continue
				}
				// label_values(selector, label) is Grafana's, not PromQL; its selector must parse.
				m := labelValuesRE.FindStringSubmatch(v.Query.(string))
				if m == nil {
					t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Query)
					continue
				}
				if _, err := parser.NewParser(parser.Options{}).ParseExpr(Query{Expr: m[1]}.Concrete()); err != nil {
					t.Errorf("variable %s: %v", v.Name, err)
				}
			}
			if strings.Join(names, ",") != strings.Join(wantVars, ",") {
				t.Errorf("variables = %v, want %v", names, wantVars)
			}
			ids, titles := map[int]bool{}, map[string]bool{}
			for _, p := range d.Panels {
				if ids[p.ID] || p.ID == 0 {
					t.Errorf("panel %q: id %d is zero or not unique", p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.Type == "row" {
					continue
				}
				if titles[p.Title] {
					t.Errorf("two panels are titled %q", p.Title)
				}
				titles[p.Title] = true
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q does not use the datasource variable", p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
			}
		})
	}
}

// promtoolTests is the part of a promtool test file TestEveryDashboardQueryIsEvaluated reads.
type promtoolTests struct {
	Tests []struct {
		PromQLExprTest []struct {
			Expr       string `json:"expr"`
			ExpSamples []any  `json:"exp_samples"`
		} `json:"promql_expr_test"`
	} `json:"tests"`
}

// TestEveryDashboardQueryIsEvaluated: each dashboard query has a promtool case in
// rules/tests/dashboards.test.yaml that expects series (make rules-test evaluates them), and no
// case there tests an expression the dashboards no longer use.
func TestEveryDashboardQueryIsEvaluated(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("rules", "tests", "dashboards.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tf promtoolTests
	if err := yaml.Unmarshal(data, &tf); err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, group := range tf.Tests {
		for _, c := range group.PromQLExprTest {
			if len(c.ExpSamples) == 0 {
				t.Errorf("promtool case expects no series: %s", c.Expr)
			}
			tested[c.Expr] = true
		}
	}
	qs, err := Queries(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, q := range qs {
		if strings.HasPrefix(q.Source, "alert ") {
			continue // rules/tests/sparkdra.rules.test.yaml tests the alerts
		}
		used[q.Concrete()] = true
		if !tested[q.Concrete()] {
			t.Errorf("%s has no promtool case in rules/tests/dashboards.test.yaml:\n%s", q.Source, q.Concrete())
		}
	}
	for expr := range tested {
		if !used[expr] {
			t.Errorf("rules/tests/dashboards.test.yaml tests an expression no dashboard uses:\n%s", expr)
		}
	}
}
