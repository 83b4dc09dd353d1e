package externalscaler

import (
	"fmt"
	"math"
	"time"

	"github.com/sparkdra/sparkdra/scaler"
)

// ObjectKey names a ScaledObject.
type ObjectKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (k ObjectKey) String() string { return k.Namespace + "/" + k.Name }

// DecisionRecord is one ScaledObject's latest decision as /decisions shows
// it, and what the RPCs answer from. It is immutable once published.
type DecisionRecord struct {
	ScaledObject ObjectKey `json:"scaledObject"`
	// Time is the tick that produced it.
	Time time.Time `json:"time"`
	// Error, when set, is why no decision could be made (the RPCs answer
	// codes.Unavailable with it); the decision fields are then zero.
	Error string `json:"error,omitempty"`
	// Observation summarises what the decision used.
	Observation *ObservationRecord `json:"observation,omitempty"`

	Target            int       `json:"target"`
	TargetDelta       int       `json:"targetDelta"`
	MaxNeeded         int       `json:"maxNeeded"`
	NumExecutorsToAdd int       `json:"rampStep"`
	Initializing      bool      `json:"initializing"`
	AddTime           time.Time `json:"addTime,omitzero"`
	LiveExecutors     int       `json:"liveExecutors"`
	// Desired is the GetMetrics value: max(target, live − removable),
	// clamped to [minExecutors, maxExecutors].
	Desired             int `json:"desired"`
	ExecutorsPerReplica int `json:"executorsPerReplica"`
	// DesiredReplicas is ceil(desired / executorsPerReplica).
	DesiredReplicas int `json:"desiredReplicas"`
	// Remove lists the executors chosen for removal, in Spark's order.
	Remove []string `json:"remove"`
	// RemovalHeld: the removals wait because protected requests are
	// pending (docs/scaler.md, "Requested executors are not thrown away").
	RemovalHeld bool `json:"removalHeld,omitempty"`
	// RequestedExecutors is what this answer asks for: desiredReplicas ×
	// executorsPerReplica.
	RequestedExecutors int `json:"requestedExecutors"`
	// PendingRequests are the executors asked for by earlier answers that
	// have not registered yet, oldest first.
	PendingRequests []PendingRequestRecord `json:"pendingRequests"`
	// ProtectedRequests counts the pending requests younger than
	// executorIdleTimeout: they are not cancelled.
	ProtectedRequests int `json:"protectedRequests"`
	// CancelledRequests counts the requests this decision cancelled (all
	// older than executorIdleTimeout); CancelledRequestsTotal since the
	// ScaledObject was first seen by this scaler process.
	CancelledRequests      int    `json:"cancelledRequests"`
	CancelledRequestsTotal uint64 `json:"cancelledRequestsTotal"`
	// Executors explains every executor: its state and why it is kept.
	Executors []ExecutorRecord `json:"executors"`
	// Marked says whether pod deletion costs were set for this decision.
	Marked bool `json:"marked"`

	unavailable *UnavailableError
}

// ObservationRecord is the observation behind a decision.
type ObservationRecord struct {
	Applications           []string  `json:"applications"`
	SampleTime             time.Time `json:"sampleTime"`
	AgeSeconds             float64   `json:"ageSeconds"`
	PendingTasks           int       `json:"pendingTasks"`
	RunningTasks           int       `json:"runningTasks"`
	BacklogDurationSeconds float64   `json:"backlogDurationSeconds"`
	TasksPerExecutor       int       `json:"tasksPerExecutor"`
	StageSubmitted         bool      `json:"stageSubmitted"`
}

// PendingRequestRecord is one executor asked for and not registered yet.
type PendingRequestRecord struct {
	// Since is the decision that first asked for it.
	Since      time.Time `json:"since"`
	AgeSeconds float64   `json:"ageSeconds"`
	// Protected: younger than executorIdleTimeout, so not cancelled.
	Protected bool `json:"protected"`
}

// ExecutorRecord explains one executor of a decision.
type ExecutorRecord struct {
	ID                  string  `json:"id"`
	Host                string  `json:"host"`
	State               string  `json:"state"`
	Reason              string  `json:"reason"`
	Holds               string  `json:"holds"`
	IdleDurationSeconds float64 `json:"idleDurationSeconds"`
	// TimeoutSeconds is the idle timeout that applies; -1 for never.
	TimeoutSeconds float64 `json:"timeoutSeconds"`
	// Pod and DeletionCost are filled in when victims are marked.
	Pod          string `json:"pod,omitempty"`
	DeletionCost *int32 `json:"deletionCost,omitempty"`
}

// newRecord copies what the RPCs and /decisions need out of d (whose slices
// belong to the engine).
func newRecord(key ObjectKey, tc *TriggerConfig, obs *scaler.Observation, info ObservationInfo,
	d *scaler.Decision, cancelledTotal uint64, now time.Time) *DecisionRecord {
	r := &DecisionRecord{
		ScaledObject: key, Time: now,
		Observation: &ObservationRecord{
			Applications: info.Apps, SampleTime: info.SampleTime, AgeSeconds: now.Sub(info.SampleTime).Seconds(),
			PendingTasks: obs.PendingTasks, RunningTasks: obs.RunningTasks,
			BacklogDurationSeconds: obs.BacklogDuration.Seconds(), TasksPerExecutor: obs.TasksPerExecutor,
			StageSubmitted: obs.StageSubmitted,
		},
		Target: d.Target, TargetDelta: d.TargetDelta, MaxNeeded: d.MaxNeeded, NumExecutorsToAdd: d.NumExecutorsToAdd,
		Initializing: d.Initializing, AddTime: d.AddTime, LiveExecutors: d.LiveExecutors,
		Desired: d.Desired, ExecutorsPerReplica: tc.ExecutorsPerReplica, DesiredReplicas: tc.DesiredReplicas(d.Desired),
		Remove:      append([]string{}, d.Remove...),
		Executors:   make([]ExecutorRecord, len(d.Executors)),
		RemovalHeld: d.RemovalHeld, RequestedExecutors: d.RequestedExecutors,
		PendingRequests:   make([]PendingRequestRecord, len(d.Pending)),
		ProtectedRequests: d.ProtectedRequests, CancelledRequests: d.CancelledRequests,
		CancelledRequestsTotal: cancelledTotal,
	}
	for i, p := range d.Pending {
		r.PendingRequests[i] = PendingRequestRecord{Since: p.Since, AgeSeconds: p.Age.Seconds(), Protected: p.Protected}
	}
	for i, v := range d.Executors {
		r.Executors[i] = ExecutorRecord{
			ID: v.ID, Host: v.Host, State: v.State.String(), Reason: reason(&v), Holds: v.Holds.String(),
			IdleDurationSeconds: v.IdleDuration.Seconds(), TimeoutSeconds: timeoutSeconds(v.Timeout),
		}
		if d.RemovalHeld && v.State == scaler.ExecutorRemove {
			r.Executors[i].Reason = "timed out and chosen for removal; waits while requests younger than executorIdleTimeout are pending"
		}
	}
	return r
}

func failedRecord(key ObjectKey, tc *TriggerConfig, now time.Time, err *UnavailableError) *DecisionRecord {
	return &DecisionRecord{ScaledObject: key, Time: now, Error: err.Error(), ExecutorsPerReplica: tc.ExecutorsPerReplica,
		unavailable: err, Remove: []string{}, Executors: []ExecutorRecord{}, PendingRequests: []PendingRequestRecord{}}
}

func timeoutSeconds(d time.Duration) float64 {
	if d >= scaler.Infinite || d < 0 {
		return -1
	}
	return d.Seconds()
}

// reason explains a verdict in words for people reading /decisions.
func reason(v *scaler.ExecutorVerdict) string {
	switch v.State {
	case scaler.ExecutorBusy:
		return "running tasks"
	case scaler.ExecutorShuffleActive:
		return "holds shuffle output a running job uses"
	case scaler.ExecutorIdle:
		if v.Timeout >= scaler.Infinite {
			return fmt.Sprintf("idle %s, holds %s: never times out", v.IdleDuration.Round(time.Second), v.Holds)
		}
		return fmt.Sprintf("idle %s of its %s timeout", v.IdleDuration.Round(time.Second), v.Timeout)
	case scaler.ExecutorKeptForMinExecutors:
		return "timed out, kept to stay at minExecutors"
	case scaler.ExecutorKeptForTarget:
		return "timed out, kept because the target needs it"
	case scaler.ExecutorRemove:
		return "timed out and chosen for removal"
	}
	return v.State.String()
}

// value returns the GetMetrics value (desired executors) and whether the
// record is usable.
func (r *DecisionRecord) value() (float64, bool) {
	if r == nil || r.unavailable != nil {
		return math.NaN(), false
	}
	return float64(r.Desired), true
}
