package closedloop

import (
	"time"

	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

// Result is what a run recorded.
type Result struct {
	Mode  Mode
	Start time.Time
	// FirstAnswer is when the driver's REST API first listed the application, asked every
	// 200 ms from the moment the job was started: the reference of the exporter's publish delay.
	FirstAnswer time.Time
	// AppID is the Spark application id.
	AppID string
	Rows  []Row
	// Decisions are every decision of the scaler, read every DecisionLogPeriod while the run
	// sampled (Rows holds only the one current at each sample): DecisionTime, Target,
	// MaxNeeded and the rest of what /decisions says, oldest first.
	Decisions []Row
	// Events are the job's EVENT lines (job starts and ends, pauses, results).
	Events []sparkcluster.Event
	// Prometheus says whether the scaler read Prometheus (else the exporter directly).
	Prometheus bool
	// ReconcileErrors are failures of the worker pool, if any.
	ReconcileErrors []string
}

// JobResult returns the job's "result" event.
func (r *Result) JobResult() (sparkcluster.Event, bool) {
	for _, e := range r.Events {
		if e.Name() == "result" {
			return e, true
		}
	}
	return nil, false
}
