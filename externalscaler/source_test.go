package externalscaler

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakePrometheus answers /api/v1/query for the scaler's two queries from
// a fixed exposition, the way Prometheus would after scraping it (job and
// instance labels added, sample timestamps as given). It stands in for a
// real Prometheus, which the e2e tier runs.
type fakePrometheus struct {
	text       string
	sampleTime time.Time
	queries    atomic.Int64
	mu         sync.Mutex
	evalTimes  []string
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.queries.Add(1)
	_ = r.ParseForm()
	f.mu.Lock()
	f.evalTimes = append(f.evalTimes, r.Form.Get("time"))
	f.mu.Unlock()
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	var out []sample
	fams, err := (&expfmtParser{}).parse(f.text)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	switch q := r.Form.Get("query"); q {
	case SeriesQuery:
		for _, s := range fams {
			s.Metric["job"], s.Metric["instance"] = "spark-dra-exporter", "exporter:9141"
			out = append(out, sample{s.Metric, [2]any{1.5e9, fmt.Sprint(s.Value)}})
		}
	case SampleTimesQuery:
		for _, s := range fams {
			if s.Metric["__name__"] != famUp {
				continue
			}
			delete(s.Metric, "__name__")
			s.Metric["job"], s.Metric["instance"] = "spark-dra-exporter", "exporter:9141"
			out = append(out, sample{s.Metric, [2]any{1.5e9, fmt.Sprint(float64(f.sampleTime.UnixMilli()) / 1000)}})
		}
	default:
		http.Error(w, `{"status":"error","errorType":"bad_data","error":"unexpected query"}`, 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": out}})
}

type flatSample struct {
	Metric map[string]string
	Value  float64
}

type expfmtParser struct{}

func (expfmtParser) parse(text string) ([]flatSample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	var out []flatSample
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			lbl := map[string]string{"__name__": name}
			for _, lp := range m.GetLabel() {
				lbl[lp.GetName()] = lp.GetValue()
			}
			out = append(out, flatSample{lbl, sampleValue(m)})
		}
	}
	return out, nil
}

func TestPrometheusSource(t *testing.T) {
	app := backlogged()
	app.execs = append(app.execs, fakeExec{id: "2", host: "10.0.0.2", idle: 75, holds: "shuffle"})
	other := backlogged()
	other.id, other.name = "app-2", "other"
	fp := &fakePrometheus{text: exposition(app, other), sampleTime: t0.Add(-7 * time.Second)}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var observed atomic.Int64
	src := NewPrometheusSource(v1.NewAPI(c), func(q string, _ time.Duration, err error) {
		if err == nil {
			observed.Add(1)
		}
	})
	snap, err := src.Fetch(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if n := fp.queries.Load(); n != 2 {
		t.Errorf("%d queries, want 2", n)
	}
	for _, et := range fp.evalTimes {
		if et != "1500000000" {
			t.Errorf("evaluation time %q, want the tick's now (1500000000)", et)
		}
	}
	if n := observed.Load(); n != 2 {
		t.Errorf("%d queries observed, want 2", n)
	}
	sel, _ := ParseSelector(`app_name="etl",job="spark-dra-exporter"`)
	obs, info, err := snap.Observe(sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Apps) != 1 || info.Apps[0] != "app-1" || !info.SampleTime.Equal(t0.Add(-7*time.Second)) {
		t.Errorf("info %+v", info)
	}
	if obs.PendingTasks != 10 || obs.RunningTasks != 1 || obs.BacklogDuration != 5*time.Second || !obs.StageSubmitted ||
		len(obs.Executors) != 2 {
		t.Fatalf("observation %+v", obs)
	}
	x := obs.Executors[1]
	if x.ID != "2" || x.Host != "10.0.0.2" || x.IdleDuration != 75*time.Second || x.Holds.String() != "shuffle" {
		t.Errorf("executor %+v", x)
	}
}

func TestPrometheusSourceError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"status":"error","errorType":"timeout","error":"query timed out"}`, 503)
	}))
	defer srv.Close()
	c, _ := api.NewClient(api.Config{Address: srv.URL})
	if _, err := NewPrometheusSource(v1.NewAPI(c), nil).Fetch(t.Context(), t0); err == nil ||
		!strings.Contains(err.Error(), "series") && !strings.Contains(err.Error(), "sample_times") {
		t.Errorf("err = %v, want a query error naming the query", err)
	}
}

func TestExporterSource(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		_, _ = w.Write([]byte("# HELP spark_up 1 if ...\n# TYPE spark_up gauge\n" + exposition(backlogged())))
	}))
	defer srv.Close()
	snap, err := NewExporterSource(srv.URL, nil).Fetch(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := ParseSelector(`app_id="app-1"`)
	obs, info, err := snap.Observe(sel)
	if err != nil || obs.PendingTasks != 10 || !info.SampleTime.Equal(t0) {
		t.Errorf("obs %+v info %+v err %v", obs, info, err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("spark_up{app_id=\"a\" 1\n"))
	}))
	defer bad.Close()
	if _, err := NewExporterSource(bad.URL, nil).Fetch(t.Context(), t0); err == nil {
		t.Error("malformed exposition: want an error")
	}
}

func TestObserveSumsSelectedApplications(t *testing.T) {
	a := backlogged()
	b := backlogged()
	b.id, b.pending, b.backlog = "app-2", 4, 9
	b.execs = []fakeExec{{id: "1", host: "10.0.0.7", idle: 3}}
	snap, err := ParseExposition(strings.NewReader(exposition(a, b)), t0)
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := ParseSelector(`app_name="etl"`)
	obs, info, err := snap.Observe(sel)
	if err != nil {
		t.Fatal(err)
	}
	if obs.PendingTasks != 14 || obs.RunningTasks != 2 || obs.BacklogDuration != 9*time.Second || len(info.Apps) != 2 {
		t.Errorf("sum: %+v %+v", obs, info)
	}
	ids := []string{obs.Executors[0].ID, obs.Executors[1].ID}
	if ids[0] != "app-1/1" || ids[1] != "app-2/1" || obs.Executors[1].Host != "10.0.0.7" {
		t.Errorf("executor ids %v, want app-prefixed and unique", ids)
	}
}

func TestObservePerExecutorSeriesOff(t *testing.T) {
	text := exposition(fakeApp{id: "a", name: "etl", namespace: "spark", up: 1, stages: 1})
	text += `spark_dra_executors{app_id="a",app_name="etl",namespace="spark",state="idle"} 3` + "\n"
	snap, _ := ParseExposition(strings.NewReader(text), t0)
	sel, _ := ParseSelector(`app_name="etl"`)
	if _, _, err := snap.Observe(sel); err == nil || !strings.Contains(err.Error(), "no per-executor series") {
		t.Errorf("err = %v, want unavailable: executors counted but not listed", err)
	}
}
