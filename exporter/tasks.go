package exporter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// taskCounter keeps an application's finished task counts across polls. /executors lists only
// live executors, each with its cumulative completedTasks and failedTasks; when an executor goes
// (DRA released it, it died) its counts would leave the sum, so the counter keeps the last counts
// of the executors it no longer sees. Counted from the exporter's first poll of the application:
// executors gone before it are not in the totals.
type taskCounter struct {
	last map[string]taskCounts // live executor id → its counts at the latest poll
	gone taskCounts            // executors no longer listed
}

type taskCounts struct{ completed, failed int64 }

// observe folds one /executors list (the driver row included: in local mode the driver runs the
// tasks) into the totals and returns them.
func (t *taskCounter) observe(execs []sparkapi.ExecutorSummary) taskCounts {
	now := make(map[string]taskCounts, len(execs))
	total := t.gone
	for _, e := range execs {
		c := taskCounts{int64(e.CompletedTasks), int64(e.FailedTasks)}
		now[e.ID] = c
		total.completed += c.completed
		total.failed += c.failed
	}
	for id, c := range t.last {
		if _, live := now[id]; !live {
			t.gone.completed += c.completed
			t.gone.failed += c.failed
			total.completed += c.completed
			total.failed += c.failed
		}
	}
	t.last = now
	return total
}

// Task counters, the application's start and its executors' registration times.
var (
	mTasksCompleted = metricDef{"spark_app_tasks_completed_total",
		"Tasks of the application that finished successfully: completedTasks summed over /executors (driver row included), keeping the counts of executors that have gone since the exporter first polled the application.",
		prometheus.CounterValue, scopeApp, nil}
	mTasksFailed = metricDef{"spark_app_tasks_failed_total",
		"Task attempts of the application that failed (killed ones excluded): failedTasks summed over /executors, keeping the counts of executors that have gone since the exporter first polled the application.",
		prometheus.CounterValue, scopeApp, nil}
	mStartTime = metricDef{"spark_app_start_time_seconds",
		"When the application started (startTime of its attempt in /applications), in seconds since the Unix epoch.",
		prometheus.GaugeValue, scopeApp, nil}
	mExecAddTime = metricDef{"spark_executor_add_time_seconds",
		"When the executor registered with the driver (addTime), in seconds since the Unix epoch.",
		prometheus.GaugeValue, scopeExecutor, nil}
)

// taskMetrics are the application-level ones, in publication order.
var taskMetrics = []metricDef{mTasksCompleted, mTasksFailed, mStartTime}

// tasks emits the task counters and the start time of an application.
func (e emitter) tasks(a *AppSnapshot, l []string) {
	e.emit(mTasksCompleted, float64(a.Tasks.completed), l)
	e.emit(mTasksFailed, float64(a.Tasks.failed), l)
	if !a.StartTime.IsZero() {
		e.emit(mStartTime, unixSeconds(a.StartTime), l)
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// startTime is the start of the application's first listed attempt; zero when not listed.
func startTime(app *sparkapi.ApplicationInfo) time.Time {
	if app == nil || len(app.Attempts) == 0 {
		return time.Time{}
	}
	return app.Attempts[0].StartTime.Time
}
