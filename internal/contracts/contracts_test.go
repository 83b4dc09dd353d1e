package contracts

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	doc := "# C\n\n## 1. Exporter\n\n| metric | type | meaning |\n|---|---|---|\n" +
		"| `a_b`, `a_c` | gauge (1) | x |\n| `d_total` | counter, label `reason` | y |\n\ntext `not_a_metric`\n\n" +
		"## 2. Scaler\n\n| metric | type |\n|---|---|\n| `h_seconds` | histogram | z |\n\n| key | meaning |\n|---|---|\n| `k` | v |\n"
	ms, err := Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+":"+m.Type+":"+m.Section[:5])
	}
	want := []string{"a_b:gauge:## 1.", "a_c:gauge:## 1.", "d_total:counter:## 1.", "h_seconds:histogram:## 2."}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if s := In(ms, "## 2. ")[0].Series(); !slices.Equal(s, []string{"h_seconds_bucket", "h_seconds_sum", "h_seconds_count"}) {
		t.Errorf("histogram series %v", s)
	}
	if _, err := Parse(strings.NewReader("| metric | type |\n|---|---|\n| no name | gauge |\n")); err == nil {
		t.Error("a row without a name accepted")
	}
}

// The repository's own contracts parse, and every table the tests rely on is there.
func TestRepositoryContracts(t *testing.T) {
	ms, err := Load("../../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{ExporterMetrics, ExporterSelf, ScalerSelf, OtherSeries} {
		if len(In(ms, h)) == 0 {
			t.Errorf("no metrics under %q", h)
		}
	}
}

func TestSame(t *testing.T) {
	doc := []Metric{{Name: "a", Type: "gauge"}, {Name: "b", Type: "counter"}, {Name: "c", Type: "gauge"}}
	got := Same(doc, map[string]string{"a": "gauge", "b": "gauge", "d": "gauge"})
	want := []string{"b is documented as a counter but is a gauge", "c (gauge) is documented but not in the code", "d is not documented"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
