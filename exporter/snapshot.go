package exporter

import (
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// Holds says what an executor with no running task keeps that delays its release under
// Spark's rules (design.md, "What an executor holds"). It is the `holds` label value.
type Holds string

// The values of Holds.
const (
	HoldsNone         Holds = "none"
	HoldsCache        Holds = "cache"
	HoldsShuffle      Holds = "shuffle"
	HoldsCacheShuffle Holds = "cache_shuffle"
)

func holdsOf(cache, shuffle bool) Holds {
	switch {
	case cache && shuffle:
		return HoldsCacheShuffle
	case cache:
		return HoldsCache
	case shuffle:
		return HoldsShuffle
	}
	return HoldsNone
}

// ExecutorState is the `state` label of spark_dra_executors.
type ExecutorState string

// The executor states, in the order they are published.
const (
	StateBusy             ExecutorState = "busy"
	StateShuffleActive    ExecutorState = "shuffle_active"
	StateIdle             ExecutorState = "idle"
	StateIdleCache        ExecutorState = "idle_cache"
	StateIdleShuffle      ExecutorState = "idle_shuffle"
	StateIdleCacheShuffle ExecutorState = "idle_cache_shuffle"
)

// ExecutorStates lists every ExecutorState; all of them are published, zeros included, so a
// dashboard's series do not come and go.
var ExecutorStates = []ExecutorState{
	StateBusy, StateShuffleActive, StateIdle, StateIdleCache, StateIdleShuffle, StateIdleCacheShuffle,
}

// ExecutorSnapshot is one live executor (the driver row excluded) as of one poll.
type ExecutorSnapshot struct {
	ID                string
	Host              string // host part of hostPort: the pod IP on Kubernetes
	ResourceProfileID int    // 0 when the driver does not report it (before Spark 3.1)
	RunningTasks      int
	// IdleFor is how long the executor has had no running task (valid when RunningTasks == 0):
	// since the poll that first saw it idle, or since it registered if it never ran a task.
	IdleFor time.Duration
	Holds   Holds
	// ShuffleActive: holds shuffle output while a job is running that may read it (as far as the
	// REST API tells; see docs/metrics.md). Spark does not count such an executor idle.
	ShuffleActive bool
	RDDBlocks     int
	MemoryUsed    int64     // bytes of storage memory used by cached blocks
	DiskUsed      int64     // bytes of disk used by cached blocks
	ShuffleWrite  int64     // bytes of shuffle output written since registration (cumulative)
	AddTime       time.Time // when it registered; zero when the driver did not say
}

// State is the executor's spark_dra_executors state.
func (e ExecutorSnapshot) State() ExecutorState {
	switch {
	case e.RunningTasks > 0:
		return StateBusy
	case e.ShuffleActive:
		return StateShuffleActive
	}
	switch e.Holds {
	case HoldsCache:
		return StateIdleCache
	case HoldsShuffle:
		return StateIdleShuffle
	case HoldsCacheShuffle:
		return StateIdleCacheShuffle
	}
	return StateIdle
}

// AppSnapshot is what one successful poll of an application shows, with the state the
// Observer carried across polls folded in.
type AppSnapshot struct {
	Config             AppConfig
	PendingTasks       int
	RunningTasks       int
	BacklogFor         time.Duration // 0 when PendingTasks == 0
	StagesSubmitted    int
	TasksPerExecutor   int
	MaxNeededExecutors int
	Executors          []ExecutorSnapshot // sorted by ID as Spark sorts them: as strings
	// Driver is the driver's own allocation manager state (its /metrics/json); nil when not
	// read (Spark's own DRA off, or the read failed).
	Driver *sparkapi.AllocationMetrics
	// Stale says, per part (PartStageHistory, PartDriverMetrics), whether the series that
	// depend on it lack this poll's data (not read yet, or its read failed).
	Stale map[string]bool
	// Tasks counts the application's finished tasks (taskCounter).
	Tasks taskCounts
	// StartTime is when the application started; zero when the driver did not say.
	StartTime time.Time
}

// StateCounts counts the executors per state, in the order of ExecutorStates.
func (a *AppSnapshot) StateCounts() [6]int {
	var n [6]int
	for _, e := range a.Executors {
		for i, s := range ExecutorStates {
			if e.State() == s {
				n[i]++
				break
			}
		}
	}
	return n
}

// TargetSnapshot is the latest state of one polled driver. Snapshots are immutable once stored.
type TargetSnapshot struct {
	Target Target
	// Up is true when the latest poll read everything it needed.
	Up bool
	// AppID, AppName and SparkVersion identify the application: from the driver once it has
	// answered, from discovery (Kubernetes labels, the standalone master) before that; empty
	// when unknown.
	AppID, AppName, SparkVersion string
	// App is the application's state; nil unless Up.
	App *AppSnapshot
	// PollDuration is how long the latest poll took.
	PollDuration time.Duration
	// Errors counts failed polls by reason since the target was first seen.
	Errors map[sparkapi.Reason]uint64
}
