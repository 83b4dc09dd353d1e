package externalscaler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Source reads the exporter's gauges for every Spark application it knows.
// Fetch is called once per tick per distinct source, whatever the number
// of ScaledObjects that use it; its cost must not depend on them.
type Source interface {
	// Fetch reads a Snapshot as of now. An error means no decision can be
	// made from this source this tick.
	Fetch(ctx context.Context, now time.Time) (*Snapshot, error)
}

// Prometheus query names, the `query` label of
// spark_dra_scaler_prometheus_query_duration_seconds.
const (
	QuerySeries      = "series"
	QuerySampleTimes = "sample_times"
)

// PrometheusSource reads the exporter's gauges from a Prometheus HTTP API
// (Prometheus, Thanos, Mimir) with exactly two instant queries per Fetch,
// evaluated at `now`: every series of the families the scaler uses (one
// selector with a __name__ regex), and timestamp(spark_up) for the
// observation age. Selectors of ScaledObjects are matched locally.
type PrometheusSource struct {
	api v1.API
	// observe, if set, gets each query's name, duration and error.
	observe func(query string, d time.Duration, err error)
}

// NewPrometheusSource reads through api; observe (may be nil) is told the
// outcome of every query.
func NewPrometheusSource(api v1.API, observe func(query string, d time.Duration, err error)) *PrometheusSource {
	return &PrometheusSource{api: api, observe: observe}
}

// SeriesQuery is the PromQL of the "series" query.
var SeriesQuery = `{__name__=~"` + strings.Join(Families, "|") + `"}`

// SampleTimesQuery is the PromQL of the "sample_times" query.
const SampleTimesQuery = "timestamp(" + famUp + ")"

// Fetch runs both queries concurrently and builds the Snapshot.
func (p *PrometheusSource) Fetch(ctx context.Context, now time.Time) (*Snapshot, error) {
	var (
		wg            sync.WaitGroup
		series, times model.Vector
		errS, errT    error
	)
	wg.Go(func() { series, errS = p.query(ctx, QuerySeries, SeriesQuery, now) })
	wg.Go(func() { times, errT = p.query(ctx, QuerySampleTimes, SampleTimesQuery, now) })
	wg.Wait()
	if errS != nil {
		return nil, errS
	}
	if errT != nil {
		return nil, errT
	}
	b := newSnapshotBuilder(now)
	for _, s := range series {
		b.add(string(s.Metric[model.MetricNameLabel]), s.Metric, float64(s.Value))
	}
	for _, s := range times {
		if _, known := b.byKey[appKey(s.Metric)]; known {
			b.setSampleTime(s.Metric, time.UnixMilli(int64(float64(s.Value)*1000)))
		}
	}
	return b.build(), nil
}

func (p *PrometheusSource) query(ctx context.Context, name, q string, now time.Time) (model.Vector, error) {
	start := time.Now()
	v, _, _, err := p.api.Query(ctx, q, now)
	if err == nil {
		if vec, ok := v.(model.Vector); ok {
			if p.observe != nil {
				p.observe(name, time.Since(start), nil)
			}
			return vec, nil
		}
		err = fmt.Errorf("got a %s, want a vector", v.Type())
	}
	if p.observe != nil {
		p.observe(name, time.Since(start), err)
	}
	return nil, fmt.Errorf("prometheus query %s (%s): %w", name, q, err)
}

// ExporterSource reads spark-dra-exporter's /metrics directly (the embedded
// default when no Prometheus is configured): same gauges, sampled at Fetch.
type ExporterSource struct {
	url    string
	client *http.Client
	// MaxBytes bounds the size of a /metrics answer (default 64 MiB).
	MaxBytes int64
}

// NewExporterSource reads the exporter's /metrics at url with client
// (http.DefaultClient if nil).
func NewExporterSource(url string, client *http.Client) *ExporterSource {
	if client == nil {
		client = http.DefaultClient
	}
	return &ExporterSource{url: url, client: client, MaxBytes: 64 << 20}
}

// Fetch GETs the exposition in text format and parses it with
// prometheus/common's expfmt.
func (e *ExporterSource) Fetch(ctx context.Context, now time.Time) (*Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("exporter %s: %w", e.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("exporter %s: HTTP %s", e.url, resp.Status)
	}
	return ParseExposition(io.LimitReader(resp.Body, e.MaxBytes), now)
}

// ParseExposition builds a Snapshot from Prometheus text exposition (what
// the exporter's /metrics serves), as sampled at t.
func ParseExposition(r io.Reader, t time.Time) (*Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing exposition: %w", err)
	}
	b := newSnapshotBuilder(t)
	m := model.Metric{}
	for _, name := range Families {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, mt := range f.GetMetric() {
			clear(m)
			m[model.MetricNameLabel] = model.LabelValue(name)
			for _, lp := range mt.GetLabel() {
				m[model.LabelName(lp.GetName())] = model.LabelValue(lp.GetValue())
			}
			b.add(name, m, sampleValue(mt))
		}
	}
	return b.build(), nil
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}
