package kedasim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/externalscaler"
)

// workload is a simulated Spark standalone cluster behind a Deployment of
// workers, one single-slot executor per worker: what the exporter would
// publish about one application. It stands in for real Spark, which the e2e
// tier runs; here the point is the KEDA + HPA loop around the scaler.
type workload struct {
	now          time.Time
	pending      []time.Duration // durations of tasks not started
	execs        []*executor
	backlogSince time.Time
	stages       int
	nextID       int
	shuffle      bool // finished tasks leave shuffle output on their executor
	removed      []removal
}

type executor struct {
	id, host  string
	busyUntil time.Time // zero when idle
	idleSince time.Time
	holds     string
}

type removal struct {
	at        time.Time
	id, holds string
	idle      time.Duration
	by        string // who lowered the replicas: hpa or keda-deactivate
}

func (w *workload) submit(n int, d time.Duration) {
	w.stages++
	for range n {
		w.pending = append(w.pending, d)
	}
}

// resize follows the Deployment: new pods register an executor at once;
// on scale-down the ReplicaSet removes the pods of lowest deletion cost
// first (costs by pod IP; unknown pods count 0), then the newest.
func (w *workload) resize(replicas int, costs map[string]int32, by string) {
	for len(w.execs) < replicas {
		w.nextID++
		w.execs = append(w.execs, &executor{id: fmt.Sprint(w.nextID), host: fmt.Sprintf("10.0.%d.%d", w.nextID/250, w.nextID%250), idleSince: w.now})
	}
	if len(w.execs) <= replicas {
		return
	}
	slices.SortStableFunc(w.execs, func(a, b *executor) int {
		if c := int(costs[a.host]) - int(costs[b.host]); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	for _, x := range w.execs[:len(w.execs)-replicas] {
		r := removal{at: w.now, id: x.id, holds: x.holds, by: by}
		if x.busyUntil.IsZero() {
			r.idle = w.now.Sub(x.idleSince)
		}
		w.removed = append(w.removed, r)
	}
	w.execs = slices.Clone(w.execs[len(w.execs)-replicas:])
	slices.SortFunc(w.execs, func(a, b *executor) int { return strings.Compare(a.id, b.id) })
}

// advance moves to now: finished tasks free their executor, pending tasks
// start on free executors.
func (w *workload) advance(now time.Time) {
	w.now = now
	for _, x := range w.execs {
		if !x.busyUntil.IsZero() && !now.Before(x.busyUntil) {
			x.idleSince, x.busyUntil = x.busyUntil, time.Time{}
			if w.shuffle {
				x.holds = "shuffle"
			}
		}
	}
	for _, x := range w.execs {
		if len(w.pending) > 0 && x.busyUntil.IsZero() {
			x.busyUntil = now.Add(w.pending[0])
			w.pending = w.pending[1:]
		}
	}
	switch {
	case len(w.pending) == 0:
		w.backlogSince = time.Time{}
	case w.backlogSince.IsZero():
		w.backlogSince = now
	}
}

// releaseShuffle is the job whose shuffle output pinned the executors
// ending: the output is cleaned.
func (w *workload) releaseShuffle() {
	for _, x := range w.execs {
		x.holds = ""
	}
}

func (w *workload) running() int {
	n := 0
	for _, x := range w.execs {
		if !x.busyUntil.IsZero() {
			n++
		}
	}
	return n
}

// exposition is what spark-dra-exporter would serve now.
func (w *workload) exposition() string {
	var b strings.Builder
	l := `app_id="app-1",app_name="etl",namespace="spark"`
	backlog := 0.0
	if !w.backlogSince.IsZero() {
		backlog = w.now.Sub(w.backlogSince).Seconds()
	}
	fmt.Fprintf(&b, "spark_up{%s} 1\nspark_dra_pending_tasks{%s} %d\nspark_dra_running_tasks{%s} %d\n", l, l, len(w.pending), l, w.running())
	fmt.Fprintf(&b, "spark_dra_backlog_duration_seconds{%s} %v\nspark_dra_tasks_per_executor{%s} 1\n", l, backlog, l)
	fmt.Fprintf(&b, "spark_dra_stages_submitted{%s} %d\nspark_dra_executors{%s,state=\"all\"} %d\n", l, w.stages, l, len(w.execs))
	for _, x := range w.execs {
		el := fmt.Sprintf(`%s,executor_id=%q`, l, x.id)
		fmt.Fprintf(&b, "spark_executor_info{%s,host=%q,resource_profile_id=\"0\"} 1\n", el, x.host)
		if !x.busyUntil.IsZero() {
			fmt.Fprintf(&b, "spark_executor_running_tasks{%s} 1\n", el)
			continue
		}
		holds := x.holds
		if holds == "" {
			holds = "none"
		}
		fmt.Fprintf(&b, "spark_executor_running_tasks{%s} 0\n", el)
		fmt.Fprintf(&b, "spark_executor_idle_duration_seconds{%s,holds=%q} %v\n", el, holds, w.now.Sub(x.idleSince).Seconds())
	}
	return b.String()
}

// Fetch implements externalscaler.Source with the real exposition parser.
func (w *workload) Fetch(_ context.Context, now time.Time) (*externalscaler.Snapshot, error) {
	return externalscaler.ParseExposition(strings.NewReader(w.exposition()), now)
}
