package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReportKeepsProseAndWritesCharts(t *testing.T) {
	s := newSynth(map[string]string{"spark.dynamicAllocation.enabled": "true"})
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(8)})
	app := s.app(t, end+5000)
	dir := t.TempDir()
	out := filepath.Join(dir, "policies.md")
	prose := "# Title\n\nHand-written.\n\n" + BeginGenerated + "\nold\n" + EndGenerated + "\n\nAfter.\n"
	if err := os.WriteFile(out, []byte(prose), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := []Workload{{Name: "synth", Path: "synth.log", App: app}}
	if err := WriteReport(out, filepath.Join(dir, "policies"), ws, nil, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	doc := string(b)
	for _, want := range []string{"# Title\n\nHand-written.", "\n\nAfter.\n", "### Validation", "| synth | ",
		"### Policies × workloads at a start-up latency of 10s", "**Goal: at least 25% fewer executor-seconds",
		"![synth: executors over time](policies/synth.svg)", "| static:1 |", "| lean |"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(doc, "\nold\n") || strings.Count(doc, BeginGenerated) != 1 {
		t.Errorf("generated block not replaced:\n%s", doc)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "policies", "synth.svg"))
	if err != nil || strings.Count(string(svg), "<polyline") != len(ReportPolicies())+1 {
		t.Fatalf("chart: %v\n%s", err, svg)
	}
}
