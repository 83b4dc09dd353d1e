package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Series is one series a target returned: its legend and its points (unix seconds, value).
type Series struct {
	Name   string
	Labels map[string]string
	Points [][2]float64
}

// PanelData is what a panel's queries returned.
type PanelData struct {
	Panel  Panel
	Series []Series
	// Errors are query errors, one per failing target.
	Errors []string
}

// Querier runs PromQL over a window.
type Querier struct {
	API    promv1.API
	Window Window
	// Scrape is the scrape interval of the run (for $__rate_interval).
	Scrape time.Duration
}

// Panel evaluates every target of p: range queries for time series, instant queries at the
// window's end for stats, bar gauges and tables (what Grafana does with instant targets).
func (q Querier) Panel(ctx context.Context, p Panel) PanelData {
	out := PanelData{Panel: p}
	for _, t := range p.Targets {
		expr := Concrete(t.Expr, q.Window, q.Scrape)
		ss, err := q.run(ctx, expr, t.Instant || p.Type != "timeseries")
		if err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("%s: %v", t.RefID, err))
			continue
		}
		for _, s := range ss {
			s.Name = Legend(t.LegendFormat, s.Labels)
			out.Series = append(out.Series, s)
		}
	}
	return out
}

// Marks evaluates an annotation query over the window: the times at which it returned a sample.
func (q Querier) Marks(ctx context.Context, a Annotation) ([]float64, error) {
	ss, err := q.run(ctx, Concrete(a.Expr, q.Window, q.Scrape), false)
	if err != nil {
		return nil, err
	}
	seen := map[float64]bool{}
	var ts []float64
	for _, s := range ss {
		for i, p := range s.Points {
			// A decision stays visible for the lookback of its expression: mark where it starts.
			if i > 0 && p[0]-s.Points[i-1][0] <= q.Window.Step.Seconds()+0.001 {
				continue
			}
			if !seen[p[0]] {
				seen[p[0]] = true
				ts = append(ts, p[0])
			}
		}
	}
	sort.Float64s(ts)
	return ts, nil
}

func (q Querier) run(ctx context.Context, expr string, instant bool) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var val model.Value
	var err error
	if instant {
		val, _, _, err = q.API.Query(ctx, expr, q.Window.To)
	} else {
		val, _, _, err = q.API.QueryRange(ctx, expr, promv1.Range{Start: q.Window.From, End: q.Window.To, Step: q.Window.Step})
	}
	if err != nil {
		return nil, err
	}
	labels := func(m model.Metric) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[string(k)] = string(v)
		}
		return out
	}
	var out []Series
	switch v := val.(type) {
	case model.Matrix:
		for _, s := range v {
			ser := Series{Labels: labels(s.Metric)}
			for _, p := range s.Values {
				ser.Points = append(ser.Points, [2]float64{float64(p.Timestamp) / 1000, float64(p.Value)})
			}
			out = append(out, ser)
		}
	case model.Vector:
		for _, s := range v {
			out = append(out, Series{Labels: labels(s.Metric), Points: [][2]float64{{float64(s.Timestamp) / 1000, float64(s.Value)}}})
		}
	case *model.Scalar:
		out = append(out, Series{Labels: map[string]string{}, Points: [][2]float64{{float64(v.Timestamp) / 1000, float64(v.Value)}}})
	default:
		return nil, fmt.Errorf("unexpected result type %T", val)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].Labels) < fmt.Sprint(out[j].Labels) })
	return out, nil
}

// NeedsKubeStateMetrics reports whether every query of p reads kube-state-metrics series, which
// the e2e runs do not have.
func NeedsKubeStateMetrics(p Panel) bool {
	if len(p.Targets) == 0 {
		return false
	}
	for _, t := range p.Targets {
		if !strings.Contains(t.Expr, "kube_") {
			return false
		}
	}
	return true
}
