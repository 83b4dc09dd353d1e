package closedloop

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Row is one sample of the run, taken every Config.Tick. Counts read from a source that had
// nothing to say (no decision yet, no driver yet) are -1.
type Row struct {
	// Time is the wall-clock time of the sample; T is seconds since the run started.
	Time time.Time
	T    float64
	// Phase is the job's latest event: a job name while it runs, "pause", "done".
	Phase string

	// Ground truth from the driver's REST API, read by the harness itself.
	Pending     int // tasks of ACTIVE stages not started yet
	Running     int // tasks running now
	Executors   int // live executors (driver row excluded)
	Busy        int // executors running at least one task
	FailedTasks int // task attempts failed so far (sum over the application's jobs)

	// The Spark driver's own DRA gauges (shadow mode, DRA on in the application).
	DriverTarget    int // ExecutorAllocationManager numberTargetExecutors
	DriverMaxNeeded int // ExecutorAllocationManager numberMaxNeededExecutors

	// The scaler's latest decision (its /decisions view).
	DecisionTime time.Time
	Target       int
	TargetDelta  int
	MaxNeeded    int
	Desired      int
	RampStep     int
	Idle         int // executors the decision counts idle (timed out or not)
	Remove       int // executors the decision chose for removal
	ObsPending   int // pending tasks in the observation the decision used
	ObsAge       float64
	// PendingRequests are the executors the scaler asked for that have not registered;
	// CancelledRequests the requests it cancelled before they registered, in total.
	PendingRequests   int
	CancelledRequests int

	// The emulated KEDA + HPA and the worker pool.
	Replicas int // the HPA's replica count
	Workers  int // Spark Worker processes running
	// WorkersReady are the workers the master lists ALIVE (pods ready); in the shadow run the
	// whole pool, started before the application.
	WorkersReady int
}

var csvHeader = []string{
	"t_seconds", "phase", "pending_tasks", "running_tasks", "executors", "busy_executors", "failed_tasks",
	"driver_target", "driver_max_needed", "decision_t_seconds", "target", "target_delta", "max_needed",
	"desired", "ramp_step", "idle_executors", "remove", "observation_pending", "observation_age_seconds",
	"replicas", "workers", "pending_requests", "cancelled_requests", "workers_ready",
}

// WriteCSV writes rows as timeline.csv: a header, then one line per row. start anchors the
// decision times.
func WriteCSV(w io.Writer, start time.Time, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	i := strconv.Itoa
	for _, r := range rows {
		dt := ""
		if !r.DecisionTime.IsZero() {
			dt = f(r.DecisionTime.Sub(start).Seconds())
		}
		rec := []string{f(r.T), r.Phase, i(r.Pending), i(r.Running), i(r.Executors), i(r.Busy), i(r.FailedTasks),
			i(r.DriverTarget), i(r.DriverMaxNeeded), dt, i(r.Target), i(r.TargetDelta), i(r.MaxNeeded),
			i(r.Desired), i(r.RampStep), i(r.Idle), i(r.Remove), i(r.ObsPending), f(r.ObsAge),
			i(r.Replicas), i(r.Workers), i(r.PendingRequests), i(r.CancelledRequests), i(r.WorkersReady)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// TickLine is the one line per tick the demo prints.
func TickLine(r Row) string {
	return fmt.Sprintf("t=%6.1fs %-12s backlog=%3d running=%2d target=%2d desired=%2d replicas=%2d executors=%2d idle=%2d",
		r.T, r.Phase, r.Pending, r.Running, r.Target, r.Desired, r.Replicas, r.Executors, r.Idle)
}
