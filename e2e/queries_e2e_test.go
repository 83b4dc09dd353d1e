//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/sparkdra/sparkdra/dashboards"
)

// queryResult is what one dashboard or alert expression gave against the run's Prometheus.
type queryResult struct {
	q      dashboards.Query
	series int
	err    error
}

// mayBeEmpty lists the dashboard expressions that can rightly return nothing at the end of a
// closed-loop run, with the reason. Everything else must return at least one series.
var mayBeEmpty = map[string]string{
	// The closed loop runs with Spark's own DRA off: the application sets no maxExecutors.
	"spark-dra-overview/Max needed vs DRA target vs actual executors/D": "the application sets no spark.dynamicAllocation.maxExecutors (DRA off)",
	// The driver's own allocation state: only applications running Spark's own DRA have one.
	"spark-dra-overview/Max needed vs DRA target vs actual executors/E": "the application runs with Spark's own DRA off (no /metrics/json allocation source)",
	"spark-dra-overview/Executor removals by reason (driver)/A":         "the application runs with Spark's own DRA off (no /metrics/json allocation source)",
	"spark-dra-overview/Executors leaving (driver)/A":                   "the application runs with Spark's own DRA off (no /metrics/json allocation source)",
	"spark-dra-overview/Executors leaving (driver)/B":                   "the application runs with Spark's own DRA off (no /metrics/json allocation source)",
	// Errors per second by reason: the scaler had no errors in a healthy run.
	"spark-dra-scaler/Errors per second by reason/A": "no scaler errors in a healthy run",
	// The closed loop's application sets nothing Spark warns about.
	"spark-dra-overview/Settings warnings/A": "the application's settings raise no warning",
	// Poll errors: a healthy driver answered every poll.
	"spark-dra-overview/Driver poll errors by reason/A": "no poll errors in a healthy run",
}

// evaluateQueries evaluates every expression of the dashboards and alert rules (with Grafana's
// variables made concrete) over [from, to] as a range query, as a Grafana panel does, against
// the Prometheus at url. A finished application's series end with it, so the window must cover
// the run. Alert expressions only have to evaluate: they return series only while they fire.
func evaluateQueries(ctx context.Context, url string, from, to time.Time) ([]queryResult, error) {
	qs, err := dashboards.Queries(dashboards.DefaultConfig())
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, err
	}
	v1 := promv1.NewAPI(client)
	var out []queryResult
	for _, q := range qs {
		if q.Requires != dashboards.RequiresSparkdra {
			continue // needs a source this tier does not run (kube-state-metrics)
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		val, _, _, err := v1.QueryRange(qctx, q.Concrete(), promv1.Range{Start: from, End: to, Step: 5 * time.Second})
		cancel()
		r := queryResult{q: q, err: err}
		if err == nil {
			switch v := val.(type) {
			case model.Vector:
				r.series = len(v)
			case model.Matrix:
				r.series = len(v)
			case *model.Scalar:
				r.series = 1
			default:
				r.err = fmt.Errorf("unexpected result type %T", val)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// queryProblems returns one line per expression that failed or returned nothing without a
// listed reason, and the count of expressions that returned series.
func queryProblems(results []queryResult) (problems []string, withSeries int) {
	for _, r := range results {
		switch {
		case r.err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", r.q.Source, r.err))
		case r.series > 0:
			withSeries++
		case strings.HasPrefix(r.q.Source, "alert "):
			// not firing: fine
		case mayBeEmpty[r.q.Source] != "":
		default:
			problems = append(problems, fmt.Sprintf("%s returned no series: %s", r.q.Source, r.q.Concrete()))
		}
	}
	return problems, withSeries
}
