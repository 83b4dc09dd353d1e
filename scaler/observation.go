package scaler

import (
	"fmt"
	"time"
)

// Holds says what an idle executor keeps that makes Spark wait longer before
// releasing it: cached RDD blocks (cachedExecutorIdleTimeout) and shuffle
// output (shuffleTracking.timeout). It is a bit set; the exporter publishes
// it as the `holds` label of spark_executor_idle_duration_seconds.
type Holds uint8

// Holds values, and their label spellings (design.md, core metric set).
const (
	HoldsNone         Holds = 0                         // "none"
	HoldsCache        Holds = 1                         // "cache"
	HoldsShuffle      Holds = 2                         // "shuffle"
	HoldsCacheShuffle Holds = HoldsCache | HoldsShuffle // "cache_shuffle"
)

// String returns the label value: none, cache, shuffle or cache_shuffle.
func (h Holds) String() string {
	switch h {
	case HoldsNone:
		return "none"
	case HoldsCache:
		return "cache"
	case HoldsShuffle:
		return "shuffle"
	case HoldsCacheShuffle:
		return "cache_shuffle"
	}
	return fmt.Sprintf("Holds(%d)", uint8(h))
}

// ParseHolds reads a `holds` label value; anything but the four spellings
// of String is an error.
func ParseHolds(s string) (Holds, error) {
	for _, h := range []Holds{HoldsNone, HoldsCache, HoldsShuffle, HoldsCacheShuffle} {
		if s == h.String() {
			return h, nil
		}
	}
	return 0, fmt.Errorf("invalid holds value %q: want none, cache, shuffle or cache_shuffle", s)
}

// Observation is a snapshot of one application (or the sum of the
// applications one ScaledObject serves), as spark-dra-exporter publishes it
// (docs/contracts.md §1). The engine treats all of it as the default
// ResourceProfile.
type Observation struct {
	// PendingTasks: tasks of submitted (ACTIVE) stages not yet started
	// (spark_dra_pending_tasks).
	PendingTasks int
	// PendingSpeculativeTasks: speculative copies submitted but not started
	// (0 when the source cannot tell).
	PendingSpeculativeTasks int
	// RunningTasks: tasks running now, speculative copies included.
	RunningTasks int
	// UnschedulableTaskSets: task sets unschedulable because of executor
	// exclusion (0 when unknown).
	UnschedulableTaskSets int
	// TasksPerExecutor: task slots per executor as observed
	// (spark_dra_tasks_per_executor); 0 means "use the Config's".
	TasksPerExecutor int
	// BacklogDuration: how long PendingTasks > 0 has held without a break
	// (spark_dra_backlog_duration_seconds); 0 when there is no backlog.
	BacklogDuration time.Duration
	// StageSubmitted: some stage has been submitted (ends Spark's
	// initializing phase; spark_dra_stages_submitted > 0).
	StageSubmitted bool
	// Executors: the live executors (the driver excluded), in any order.
	Executors []ExecutorObservation
	// NoApplication: the source selects no running application (they have
	// ended). Pending requests are then dropped without counting them as
	// cancelled: nothing is left to use them.
	NoApplication bool
}

// ExecutorObservation is one live executor in an Observation.
type ExecutorObservation struct {
	// ID is Spark's executor id.
	ID string
	// Host is where the executor runs (its pod IP on Kubernetes); used to
	// map decisions to pods, not by the algorithm.
	Host string
	// RunningTasks: tasks running on it now.
	RunningTasks int
	// IdleDuration: with no running task, time since its last task ended
	// (or since it registered).
	IdleDuration time.Duration
	// Holds: what it keeps (cached blocks, shuffle output).
	Holds Holds
	// ActiveShuffle: it holds shuffle output a still-running job uses; Spark
	// does not count such an executor idle (docs/spark-dra.md §6).
	ActiveShuffle bool
}

// ExecutorState is what the engine concluded about one executor in a Step.
type ExecutorState uint8

// Executor states in a Decision, from busiest to removable.
const (
	// ExecutorBusy: running tasks.
	ExecutorBusy ExecutorState = iota
	// ExecutorShuffleActive: idle, but holds shuffle output of a running job.
	ExecutorShuffleActive
	// ExecutorIdle: idle, its timeout has not passed yet.
	ExecutorIdle
	// ExecutorKeptForMinExecutors: timed out, kept by the minExecutors floor.
	ExecutorKeptForMinExecutors
	// ExecutorKeptForTarget: timed out, kept because the target needs it.
	ExecutorKeptForTarget
	// ExecutorRemove: timed out and chosen for removal.
	ExecutorRemove
)

// String names the state for /decisions and logs.
func (s ExecutorState) String() string {
	switch s {
	case ExecutorBusy:
		return "busy"
	case ExecutorShuffleActive:
		return "shuffle_active"
	case ExecutorIdle:
		return "idle"
	case ExecutorKeptForMinExecutors:
		return "kept_min_executors"
	case ExecutorKeptForTarget:
		return "kept_target"
	case ExecutorRemove:
		return "remove"
	}
	return fmt.Sprintf("ExecutorState(%d)", uint8(s))
}

// ExecutorVerdict explains one executor of a Decision.
type ExecutorVerdict struct {
	ID           string
	Host         string
	State        ExecutorState
	Holds        Holds
	IdleDuration time.Duration
	// Timeout is the idle timeout that applies to it: the maximum of
	// executorIdleTimeout and, for what it holds, cachedExecutorIdleTimeout
	// and shuffleTracking.timeout (Infinite = never).
	Timeout time.Duration
}

// Decision is the outcome of one Engine.Step. Its slices belong to the
// Engine and stay valid until the next Step; copy them to keep them.
type Decision struct {
	// Time is the `now` of the Step.
	Time time.Time
	// Target is DRA's numExecutorsTarget after this tick.
	Target int
	// TargetDelta is the change of Target made by this tick.
	TargetDelta int
	// MaxNeeded is maxNumExecutorsNeeded (uncapped).
	MaxNeeded int
	// NumExecutorsToAdd is the next ramp step.
	NumExecutorsToAdd int
	// Initializing: still before the first stage and the first idle timeout.
	Initializing bool
	// AddTime is when the next add is due; zero when no backlog timer is armed.
	AddTime time.Time
	// LiveExecutors is the number of executors observed.
	LiveExecutors int
	// Remove lists the executors DRA removes now, sorted as Spark sorts them.
	Remove []string
	// Desired is the executor count the scaler reports: max(Target,
	// LiveExecutors − len(Remove)), raised to LiveExecutors + len(Pending)
	// while any pending request is protected (younger than
	// executorIdleTimeout), clamped to [minExecutors, maxExecutors].
	Desired int
	// RemovalHeld: Remove is Spark's choice, but the removals wait because
	// protected requests are pending (a scale-down would cancel those
	// first); Desired does not drop for them yet.
	RemovalHeld bool
	// Pending are the executors asked for by earlier answers and not
	// registered yet, oldest first, as of before this Step's answer.
	Pending []PendingRequest
	// ProtectedRequests counts the Pending ones younger than
	// executorIdleTimeout.
	ProtectedRequests int
	// CancelledRequests counts the pending requests this answer cancelled
	// (all older than executorIdleTimeout).
	CancelledRequests int
	// RequestedExecutors is what this answer asks for: Desired rounded up
	// to whole replicas (SetExecutorsPerReplica).
	RequestedExecutors int
	// Executors explains every observed executor, sorted by id as strings.
	Executors []ExecutorVerdict
}
