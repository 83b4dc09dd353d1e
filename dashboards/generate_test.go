package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root seen from this package's directory.
const repoRoot = ".."

// TestCommittedFilesMatchGenerator fails when a generated file was edited by hand or the
// generator changed without `make dashboards`.
func TestCommittedFilesMatchGenerator(t *testing.T) {
	files, err := Generate(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{OverviewPath, ScalerPath, RulesPath, QueriesPath, OverviewConfigPath, ScalerConfigPath, PrometheusRulePath,
		ChartOverviewPath, ChartScalerPath, ChartRulesPath}
	if len(files) != len(want) {
		t.Errorf("Generate returned %d files, want %d", len(files), len(want))
	}
	for _, p := range want {
		got, ok := files[p]
		if !ok {
			t.Errorf("Generate did not produce %s", p)
			continue
		}
		committed, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%v (run make dashboards)", err)
			continue
		}
		if !bytes.Equal(committed, got) {
			t.Errorf("%s differs from the generator's output: run `make dashboards` and commit the result", p)
		}
	}
}

func TestGenerateRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StaleThreshold = 0
	if _, err := Generate(cfg); err == nil || !strings.Contains(err.Error(), "staleThreshold must be > 0") {
		t.Fatalf("Generate with staleThreshold 0: err = %v, want staleThreshold must be > 0", err)
	}
}

func TestQueriesTextListsEveryQuery(t *testing.T) {
	qs, err := Queries(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	text := string(queriesText(qs))
	for _, q := range qs {
		if !strings.Contains(text, q.Source+"\t") || !strings.Contains(text, "\t"+q.Concrete()+"\n") {
			t.Errorf("queries.txt lacks %s", q.Source)
		}
	}
	if strings.Contains(text, "$namespace") || strings.Contains(text, "$__") {
		t.Errorf("queries.txt still holds Grafana variables")
	}
}

// TestEveryAlertHasARunbookSection checks each alert's annotations and that its runbook_url
// points at a heading of docs/runbook.md.
func TestEveryAlertHasARunbookSection(t *testing.T) {
	runbook, err := os.ReadFile(filepath.Join(repoRoot, "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	rules := Rules(cfg).Groups[0].Rules
	if len(rules) != 15 {
		t.Errorf("%d alerts, want 15", len(rules))
	}
	for _, r := range rules {
		for _, key := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[key] == "" {
				t.Errorf("%s has no %s", r.Alert, key)
			}
		}
		if desc := r.Annotations["description"]; !strings.Contains(desc, "{{ $labels.app_name }}") &&
			!strings.Contains(desc, "{{ $labels.scaledobject }}") && !strings.Contains(desc, "$labels.instance") {
			t.Errorf("%s: description names neither the application, the ScaledObject nor the target", r.Alert)
		}
		if want := cfg.RunbookBaseURL + "#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url = %s, want %s", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !bytes.Contains(runbook, []byte("\n## "+r.Alert+"\n")) {
			t.Errorf("docs/runbook.md has no section \"## %s\"", r.Alert)
		}
		if r.For == nil || r.Labels["severity"] == "" {
			t.Errorf("%s lacks for: or a severity", r.Alert)
		}
	}
}
