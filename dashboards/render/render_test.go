package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

var (
	t0     = time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	window = RunInfo{From: t0, To: t0.Add(10 * time.Minute), ScrapeInterval: time.Second}
)

// fakeProm answers the Prometheus HTTP API: every range query with one series ramping from 0
// to 10 over the window, every instant query with one sample, except queries containing one of
// empty, which return nothing. It records the queries.
type fakeProm struct {
	empty   []string
	queries []string
	marks   map[string][]float64 // query substring → timestamps of its samples
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	f.queries = append(f.queries, q)
	result := []map[string]any{}
	isEmpty := false
	for _, e := range f.empty {
		isEmpty = isEmpty || strings.Contains(q, e)
	}
	var marks []float64
	for k, ts := range f.marks {
		if strings.Contains(q, k) {
			marks = ts
		}
	}
	metric := map[string]string{"app_name": "pagerank", "app_id": "app-1", "state": "busy", "driver": "d", "scaledobject": "so", "scaledobject_namespace": "ns"}
	switch {
	case isEmpty:
	case strings.HasSuffix(r.URL.Path, "/query_range"):
		var vals [][2]any
		switch {
		case marks != nil:
			for _, ts := range marks {
				vals = append(vals, [2]any{ts, "1"})
			}
		default:
			for i := 0; i <= 10; i++ {
				vals = append(vals, [2]any{float64(t0.Add(time.Duration(i) * time.Minute).Unix()), fmt.Sprint(i)})
			}
		}
		result = append(result, map[string]any{"metric": metric, "values": vals})
	default:
		result = append(result, map[string]any{"metric": metric, "value": [2]any{float64(window.To.Unix()), "42"}})
	}
	typ := "vector"
	if strings.HasSuffix(r.URL.Path, "/query_range") {
		typ = "matrix"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": typ, "result": result}})
}

func fakeAPI(t *testing.T, f *fakeProm) promv1.API {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

func dashboards(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("../spark-dra-*.json")
	if err != nil || len(paths) < 2 {
		t.Fatalf("dashboards %v (%v)", paths, err)
	}
	return paths
}

// TestRenderDrawsEveryPanel draws the committed dashboards from a Prometheus that has data for
// every query: one PNG per dashboard, as tall as its grid, every panel reported with data, no
// Grafana variable left in any query.
func TestRenderDrawsEveryPanel(t *testing.T) {
	f := &fakeProm{}
	out := t.TempDir()
	if d := os.Getenv("RENDER_TEST_OUT"); d != "" {
		out = d // to look at the drawing
	}
	report, err := Render(t.Context(), fakeAPI(t, f), dashboards(t), window, out)
	if err != nil {
		t.Fatal(err)
	}
	if p := Check(report); len(p) > 0 {
		t.Errorf("problems with data everywhere: %v", p)
	}
	panels := 0
	for _, path := range dashboards(t) {
		d, err := LoadDashboard(path)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, p := range d.Panels {
			rows = max(rows, p.GridPos.Y+p.GridPos.H)
			if p.Type != "row" {
				panels++
			}
		}
		file, err := os.Open(filepath.Join(out, d.UID+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(file)
		file.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", d.UID, err)
		}
		if b := img.Bounds(); b.Dx() != 24*colWidth || b.Dy() != (rows+2)*rowHeight {
			t.Errorf("%s.png is %dx%d, want %dx%d", d.UID, b.Dx(), b.Dy(), 24*colWidth, (rows+2)*rowHeight)
		}
	}
	if len(report) != panels {
		t.Errorf("%d panels reported, want %d", len(report), panels)
	}
	for _, q := range f.queries {
		if strings.Contains(q, "$") && !strings.Contains(q, `"$1"`) {
			t.Errorf("query still holds a Grafana variable: %s", q)
		}
	}
}

// TestCheckFlagsPanelsWithoutData: a panel whose queries return nothing is a problem, unless it
// needs kube-state-metrics or is listed as rightly empty.
func TestCheckFlagsPanelsWithoutData(t *testing.T) {
	f := &fakeProm{empty: []string{"spark_dra_pending_tasks", "spark_dra_running_tasks", "kube_pod_status_phase", "spark_dra_exporter_scrape_errors_total"}}
	report, err := Render(t.Context(), fakeAPI(t, f), dashboards(t), window, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	problems := Check(report)
	want := []string{"spark-dra-overview/Pending and running tasks: no data"}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("Check = %q, want %q (the Pending pods panel needs kube-state-metrics; poll errors may be empty)", problems, want)
	}
}

// TestAnnotationMarks: an annotation marks where its expression starts returning samples, once
// per contiguous stretch.
func TestAnnotationMarks(t *testing.T) {
	step := 2 * time.Second
	ts := func(s int) float64 { return float64(t0.Add(time.Duration(s) * time.Second).Unix()) }
	f := &fakeProm{marks: map[string][]float64{"> 0": {ts(10), ts(12), ts(14), ts(100)}}}
	q := Querier{API: fakeAPI(t, f), Window: Window{From: t0, To: t0.Add(10 * time.Minute), Step: step}, Scrape: time.Second}
	got, err := q.Marks(t.Context(), Annotation{Name: "Scale up", Expr: "x - x offset 1m > 0"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{ts(10), ts(100)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("marks %v, want %v", got, want)
	}
}

func TestConcreteAndLegend(t *testing.T) {
	w := Window{From: t0, To: t0.Add(5 * time.Minute), Step: 2 * time.Second}
	got := Concrete(`sum_over_time(x{namespace=~"$namespace", app_name=~"${application}"}[$__range:30s]) + rate(y[$__rate_interval]) + label_replace(z, "a", "$1", "b", "(.*)")`, w, time.Second)
	want := `sum_over_time(x{namespace=~".*", app_name=~".*"}[300s:30s]) + rate(y[4s]) + label_replace(z, "a", "$1", "b", "(.*)")`
	if got != want {
		t.Errorf("Concrete =\n%s\nwant\n%s", got, want)
	}
	if got := Legend("desired {{scaledobject_namespace}}/{{ scaledobject }}", map[string]string{"scaledobject_namespace": "spark", "scaledobject": "w"}); got != "desired spark/w" {
		t.Errorf("Legend = %q", got)
	}
	if got := Legend("", map[string]string{"__name__": "up", "job": "x", "instance": "i"}); got != "{instance=i, job=x}" {
		t.Errorf("Legend without format = %q", got)
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{12, "short", "12"}, {2.5, "short", "2.5"}, {0.5, "percentunit", "50%"}, {0.25, "ops", "0.25/s"},
		{42, "s", "42 s"}, {0.005, "s", "5 ms"}, {600, "s", "10.0 min"}, {3 * 3600, "s", "3.0 h"},
	} {
		if got := formatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("formatValue(%v, %s) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}
