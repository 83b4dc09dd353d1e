package exporter

import (
	"math"
	"sort"
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// Poll is what one poll of a driver read, for one application.
type Poll struct {
	Config AppConfig
	// ActiveStages are the stage attempts listed with status ACTIVE.
	ActiveStages []sparkapi.StageData
	// FinishedStages counts stage attempts listed COMPLETE or FAILED; -1 when not read in this
	// poll (the Observer asks for it only while no stage has been seen, see NeedFinishedStages).
	FinishedStages int
	// Executors is /executors: the live executors and the driver row.
	Executors []sparkapi.ExecutorSummary
	// RunningJobs counts jobs with status RUNNING; -1 when not read (only read when shuffle
	// output pins executors).
	RunningJobs int
	// CachedRDDs is /storage/rdd; nil when not read (only read when the external shuffle
	// service serves disk-persisted RDD blocks, AppConfig.DiskCachePins false).
	CachedRDDs []sparkapi.RDDStorageInfo
	// Allocation is the driver's own allocation manager state from /metrics/json; nil when the
	// application does not run Spark's own DRA or the read failed (AllocationErr says why).
	Allocation    *sparkapi.AllocationMetrics
	AllocationErr error
	// LeftStages are the stage attempts with pending tasks at the previous poll that have left
	// the ACTIVE list, read only when the backlog may have broken in between (stageboundary.go).
	LeftStages []sparkapi.StageData
	// historyPending: the finished-stage list was needed (NeedFinishedStages) but not read in
	// this poll.
	historyPending bool
}

// memoryBlockHolders returns the ids of the executors holding an RDD block at a level that does
// not use disk, from /storage/rdd; nil when it was not read.
func memoryBlockHolders(rdds []sparkapi.RDDStorageInfo) map[string]bool {
	if rdds == nil {
		return nil
	}
	out := map[string]bool{}
	for _, r := range rdds {
		for _, b := range r.Partitions {
			if !sparkapi.LevelUsesDisk(b.StorageLevel) {
				for _, id := range b.Executors {
					out[id] = true
				}
			}
		}
	}
	return out
}

// cachePins reports whether an executor's cached RDD blocks keep it, as Spark's
// ExecutorMonitor decides (onBlockUpdated; docs/spark-dra.md §6): any RDD block does
// (rddBlocks > 0, in memory or on disk), except that when the external shuffle service serves
// RDD blocks (fetchFromShuffleSvc, AppConfig.DiskCachePins false) only blocks whose current
// level does not use disk do: those are read from /storage/rdd's per-block levels and
// executors (memHolders; nil when not read: then any block counts, never under-reporting).
// memoryUsed is not used: it also counts broadcast pieces, and every stage's task binary is a
// broadcast, so an executor that merely ran a task has memoryUsed > 0.
func cachePins(e sparkapi.ExecutorSummary, p Poll, memHolders map[string]bool) bool {
	if e.RDDBlocks <= 0 {
		return false
	}
	if p.Config.DiskCachePins || memHolders == nil {
		return true
	}
	return memHolders[e.ID]
}

// Observer keeps, for one application, what the REST API does not: when each executor went
// idle, since when the backlog has lasted, how many stages were submitted. Its zero value is
// ready; it is not safe for concurrent use (one poll loop owns it).
//
// Accuracy: the REST API has no "last task ended" time, so an executor is known idle only at a
// poll. An executor whose cumulative totalTasks changed since the previous poll was busy in
// between, and counts as idle from this poll. Idle and backlog durations are therefore
// under-estimated by up to one poll interval, never over-estimated: the exporter never makes an
// executor look removable earlier than Spark would.
type Observer struct {
	executors    map[string]*executorTrack
	backlogSince time.Time
	finished     int
	historyRead  bool // the finished-stage list has been counted once
	active       map[stageKey]struct{}
	// stages with pending tasks at the previous poll, and its time (stageboundary.go)
	backlogStages map[stageKey]struct{}
	lastPoll      time.Time
	tasks         taskCounter
}

type executorTrack struct {
	totalTasks int
	busy       bool
	idleSince  time.Time
}

type stageKey struct{ stage, attempt int }

// NeedFinishedStages reports whether the next poll should count finished stages: until the list
// has been read once (later stages are counted from the active list across polls).
func (o *Observer) NeedFinishedStages() bool {
	return !o.historyRead
}

// Reset forgets everything (the driver now runs another application).
func (o *Observer) Reset() { *o = Observer{} }

// Observe folds one poll taken at now into the state and returns the application's snapshot.
func (o *Observer) Observe(p Poll, now time.Time) *AppSnapshot {
	snap := &AppSnapshot{Config: p.Config}
	for _, s := range p.ActiveStages {
		if s.Status != "" && s.Status != sparkapi.StageActive {
			continue
		}
		snap.PendingTasks += max(0, s.NumTasks-s.NumCompletedIndices-s.NumActiveTasks)
		snap.RunningTasks += s.NumActiveTasks
	}
	if since := o.backlogRestart(p, now); !since.IsZero() && snap.PendingTasks > 0 {
		o.backlogSince = since
	}
	o.rememberBacklogStages(p.ActiveStages, now)
	snap.BacklogFor = o.observeBacklog(snap.PendingTasks > 0, now)
	snap.StagesSubmitted = o.observeStages(p)
	snap.TasksPerExecutor = p.Config.DRA.TasksPerExecutor()
	snap.MaxNeededExecutors = maxNeeded(snap.PendingTasks+snap.RunningTasks, p.Config.DRA.ExecutorAllocationRatio,
		snap.TasksPerExecutor)
	snap.Executors = o.observeExecutors(p, now)
	snap.Tasks = o.tasks.observe(p.Executors)
	snap.Driver = p.Allocation
	return snap
}

// maxNeeded is Spark's maxNumExecutorsNeeded without speculation and unschedulable task sets,
// which the REST API does not show: ceil(tasks * ratio / tasksPerExecutor).
func maxNeeded(tasks int, ratio float64, tasksPerExecutor int) int {
	if tasks <= 0 || tasksPerExecutor <= 0 {
		return 0
	}
	return int(math.Ceil(float64(tasks) * ratio / float64(tasksPerExecutor)))
}

func (o *Observer) observeBacklog(backlogged bool, now time.Time) time.Duration {
	if !backlogged {
		o.backlogSince = time.Time{}
		return 0
	}
	if o.backlogSince.IsZero() {
		o.backlogSince = now
	}
	return now.Sub(o.backlogSince)
}

// observeStages counts submitted stage attempts: the finished ones last counted, plus those seen
// active that have left the active list since, plus the active ones.
func (o *Observer) observeStages(p Poll) int {
	current := make(map[stageKey]struct{}, len(p.ActiveStages))
	for _, s := range p.ActiveStages {
		current[stageKey{s.StageID, s.AttemptID}] = struct{}{}
	}
	if p.FinishedStages >= 0 {
		o.finished, o.historyRead = p.FinishedStages, true
	} else {
		for k := range o.active {
			if _, still := current[k]; !still {
				o.finished++
			}
		}
	}
	o.active = current
	return o.finished + len(current)
}

func (o *Observer) observeExecutors(p Poll, now time.Time) []ExecutorSnapshot {
	if o.executors == nil {
		o.executors = make(map[string]*executorTrack)
	}
	seen := make(map[string]struct{}, len(p.Executors))
	out := make([]ExecutorSnapshot, 0, len(p.Executors))
	var memHolders map[string]bool
	if !p.Config.DiskCachePins {
		memHolders = memoryBlockHolders(p.CachedRDDs)
	}
	for _, e := range p.Executors {
		if e.ID == sparkapi.DriverExecutorID || !e.IsActive {
			continue
		}
		seen[e.ID] = struct{}{}
		idleSince := o.track(e, now)
		out = append(out, executorSnapshot(e, p, memHolders, idleSince, now))
	}
	for id := range o.executors {
		if _, ok := seen[id]; !ok {
			delete(o.executors, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// track updates the executor's idle-since and returns it (zero while busy).
func (o *Observer) track(e sparkapi.ExecutorSummary, now time.Time) time.Time {
	t, known := o.executors[e.ID]
	switch {
	case e.ActiveTasks > 0:
		if !known {
			t = &executorTrack{}
			o.executors[e.ID] = t
		}
		t.busy, t.idleSince = true, time.Time{}
	case !known:
		t = &executorTrack{idleSince: now}
		// Never ran a task: idle since it registered, as Spark's ExecutorMonitor counts it.
		if e.TotalTasks == 0 && e.AddTime != nil && !e.AddTime.IsZero() && e.AddTime.Before(now) {
			t.idleSince = e.AddTime.Time
		}
		o.executors[e.ID] = t
	case t.busy || e.TotalTasks != t.totalTasks:
		// Ran tasks since the previous poll: idle from now.
		t.busy, t.idleSince = false, now
	}
	t.totalTasks = e.TotalTasks
	return t.idleSince
}

func executorSnapshot(e sparkapi.ExecutorSummary, p Poll, memHolders map[string]bool, idleSince, now time.Time) ExecutorSnapshot {
	cache := cachePins(e, p, memHolders)
	// Spark pins an executor from the first successful shuffle map task it ran (onTaskEnd) until
	// the ContextCleaner removes that shuffle. The REST API shows the first (totalShuffleWrite
	// > 0, cumulative) but not the second, so an executor stays "shuffle" after the driver
	// cleaned its shuffles (docs/contracts.md, "What an executor holds").
	shuffle := p.Config.ShufflePins && e.TotalShuffleWrite > 0
	s := ExecutorSnapshot{
		ID:            e.ID,
		Host:          e.Host(),
		RunningTasks:  e.ActiveTasks,
		Holds:         holdsOf(cache, shuffle),
		ShuffleActive: shuffle && e.ActiveTasks == 0 && p.RunningJobs > 0,
		RDDBlocks:     e.RDDBlocks,
		MemoryUsed:    e.MemoryUsed,
		DiskUsed:      e.DiskUsed,
		ShuffleWrite:  e.TotalShuffleWrite,
	}
	if e.AddTime != nil {
		s.AddTime = e.AddTime.Time
	}
	if e.ResourceProfileID != nil {
		s.ResourceProfileID = *e.ResourceProfileID
	}
	if e.ActiveTasks == 0 {
		s.IdleFor = now.Sub(idleSince)
	}
	return s
}
