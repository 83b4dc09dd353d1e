package scaler

import (
	"slices"
	"time"
)

// ManagerOptions tunes a Manager beyond Spark's properties.
type ManagerOptions struct {
	// TasksPerExecutor gives the task slots of ResourceProfiles other than
	// the default one (docs/spark-dra.md §1.3); absent profiles get 1.
	TasksPerExecutor map[int]int
	// ExecutorActive is the scheduler backend's isExecutorActive: task-start
	// and block events of inactive executors are ignored (SPARK-26927,
	// SPARK-37688). Nil means "added and not removed", as seen by the Manager.
	ExecutorActive func(id string) bool
	// MonitorOnly builds the Manager for its ExecutorMonitor, as Spark's own
	// monitor tests build an ExecutorMonitor directly: the allocation
	// manager's validation (ExecutorAllocationManager.validateSettings: the
	// shuffle-data mechanism, min/max, backlog timeouts, ratio) is skipped
	// and only the monitor's own checks apply (Config.ValidateMonitor). A
	// configuration with neither the shuffle service nor shuffle tracking
	// then behaves as Spark's monitor does: shuffle output pins nothing and
	// RDD blocks on disk pin (nothing serves them). The allocation side
	// still runs, with whatever settings it was given.
	MonitorOnly bool
}

// Manager is Spark's ExecutorAllocationManager together with its
// ExecutorMonitor, driven by SparkListener events (the event entry layer).
// Each event method takes the event time; Schedule is the EAM's 100 ms tick.
// It replays event logs and runs Spark's own test scenarios. It asks no
// cluster manager for anything: Schedule returns the executors to remove.
type Manager struct {
	alloc    allocator
	listener listener
	monitor  monitor
	active   func(string) bool
	alive    map[string]struct{}
	// removedBuf holds the ids returned by the last Schedule/RemoveExecutors.
	removedBuf []string
	verdicts   []RemovalVerdict
}

// NewManager validates cfg (Config.Validate, or only Config.ValidateMonitor
// with opts.MonitorOnly) and returns a Manager at Spark's start state:
// target = initial executors for the default ResourceProfile, ramp step 1,
// no add timer, initializing.
func NewManager(cfg Config, opts ManagerOptions) (*Manager, error) {
	validate := cfg.Validate
	if opts.MonitorOnly {
		validate = cfg.ValidateMonitor
	}
	if err := validate(); err != nil {
		return nil, err
	}
	return newManager(cfg, opts), nil
}

func newManager(cfg Config, opts ManagerOptions) *Manager {
	m := &Manager{
		alloc:    newAllocator(cfg, opts.TasksPerExecutor),
		listener: newListener(),
		monitor:  newMonitor(cfg),
		alive:    map[string]struct{}{},
	}
	m.active = opts.ExecutorActive
	if m.active == nil {
		m.active = func(id string) bool { _, ok := m.alive[id]; return ok }
	}
	return m
}

// Config returns the settings the Manager runs with.
func (m *Manager) Config() Config { return m.alloc.cfg }

// --- demand, read by the allocator ---

func (m *Manager) pendingTasks(rp int) int { return m.listener.pendingTasks(rp) }
func (m *Manager) pendingSpeculativeTasks(rp int) int {
	return m.listener.pendingSpeculativeTasks(rp)
}
func (m *Manager) runningTasks(rp int) int           { return m.listener.runningTasks(rp) }
func (m *Manager) unschedulableTaskSets(rp int) int  { return m.listener.unschedulableTaskSets(rp) }
func (m *Manager) executorCount(rp int) int          { return m.monitor.rpCount[rp] }
func (m *Manager) pendingRemovalCount(rp int) int    { return m.monitor.pendingRemovalCount(rp) }
func (m *Manager) decommissioningCount(rp int) int   { return m.monitor.decommissioningCount(rp) }
func (m *Manager) backlogged(now int64)              { m.alloc.onSchedulerBacklogged(now) }
func (m *Manager) queueEmpty()                       { m.alloc.onSchedulerQueueEmpty() }
func (m *Manager) maxNeededFor(p *profileState) int  { return m.alloc.maxNeeded(p, m) }
func (m *Manager) profileOf(rp int) *profileState    { return m.alloc.profile(rp) }
func (m *Manager) monitorActive(id string) bool      { return m.active(id) }
func (m *Manager) stage(sa StageAttempt) *stageState { return m.listener.stage(sa) }

// --- listener events (docs/spark-dra.md §3 and §6) ---

// StageSubmitted is SparkListenerStageSubmitted: numTasks partitions of
// ResourceProfile rp. It ends the initializing phase, arms the add timer and
// gives a new ResourceProfile its initial target.
func (m *Manager) StageSubmitted(now time.Time, sa StageAttempt, numTasks, rp int) {
	m.alloc.initializing = false
	s := m.stage(sa)
	s.hasNumTasks, s.numTasks = true, numTasks
	m.backlogged(nanos(now))
	s.rp, s.registered = rp, true
	if m.alloc.ensureProfile(rp) && m.alloc.initial > 0 {
		m.alloc.requestCalls++
	}
}

// StageCompleted is SparkListenerStageCompleted. Running-task counts of the
// attempt are kept: a zombie attempt may still have running tasks.
func (m *Manager) StageCompleted(now time.Time, sa StageAttempt) {
	if s, ok := m.listener.stages[sa]; ok {
		s.hasNumTasks, s.numTasks = false, 0
		s.pendingSpec, s.taskIndices, s.specIndices = nil, nil, nil
		m.listener.dropIfUnused(sa)
	}
	if m.listener.queueEmptyAfterStageCompleted() {
		m.queueEmpty()
	}
}

// TaskStart is SparkListenerTaskStart for task index of sa on executor.
func (m *Manager) TaskStart(now time.Time, sa StageAttempt, index int, executor string, speculative bool) {
	s := m.stage(sa)
	s.hasRunning = true
	s.running++
	if speculative {
		addIndex(&s.specIndices, index)
		delete(s.pendingSpec, index)
	} else {
		addIndex(&s.taskIndices, index)
	}
	if !m.listener.hasPendingTasks() {
		m.queueEmpty()
	}
	m.monitor.taskStart(executor, m.monitorActive(executor), nanos(now))
}

// TaskEnd is SparkListenerTaskEnd. A failed (not killed) non-speculative
// task becomes pending again and re-arms the add timer.
func (m *Manager) TaskEnd(now time.Time, sa StageAttempt, index int, executor string, speculative bool, reason TaskEndReason) {
	if s, ok := m.listener.stages[sa]; ok {
		if s.hasRunning {
			s.running--
			if s.running == 0 {
				s.hasRunning = false
				m.listener.dropIfUnused(sa)
			}
		}
		if speculative {
			delete(s.specIndices, index)
		}
		switch reason {
		case TaskSuccess:
			delete(s.pendingSpec, index)
		case TaskKilled:
		default:
			if !m.listener.hasPendingTasks() {
				m.backlogged(nanos(now))
			}
			if !speculative {
				delete(s.taskIndices, index)
			}
		}
	} else if reason == TaskFailed && !m.listener.hasPendingTasks() {
		m.backlogged(nanos(now))
	}
	m.monitor.taskEnd(executor, sa.StageID, reason == TaskSuccess, nanos(now))
}

// SpeculativeTaskSubmitted is SparkListenerSpeculativeTaskSubmitted.
func (m *Manager) SpeculativeTaskSubmitted(now time.Time, sa StageAttempt, index int) {
	addIndex(&m.stage(sa).pendingSpec, index)
	m.backlogged(nanos(now))
}

// UnschedulableTaskSetAdded is SparkListenerUnschedulableTaskSetAdded.
func (m *Manager) UnschedulableTaskSetAdded(now time.Time, sa StageAttempt) {
	m.stage(sa).unschedulabl = true
	m.backlogged(nanos(now))
}

// UnschedulableTaskSetRemoved is SparkListenerUnschedulableTaskSetRemoved.
func (m *Manager) UnschedulableTaskSetRemoved(now time.Time, sa StageAttempt) {
	if s, ok := m.listener.stages[sa]; ok {
		s.unschedulabl = false
		m.listener.dropIfUnused(sa)
	}
}

// ExecutorAdded is SparkListenerExecutorAdded: the executor is tracked
// with its ResourceProfile and idle from now.
func (m *Manager) ExecutorAdded(now time.Time, id string, rp int) {
	m.alive[id] = struct{}{}
	m.monitor.executorAdded(id, rp, nanos(now))
}

// ExecutorRemoved is SparkListenerExecutorRemoved; reason feeds the
// removal-reason counters.
func (m *Manager) ExecutorRemoved(now time.Time, id, reason string) {
	delete(m.alive, id)
	m.monitor.executorRemoved(id, reason)
}

// RDDBlockUpdated is SparkListenerBlockUpdated for block rdd_<rdd>_<split>
// on executor; level StorageNone means the block was dropped.
func (m *Manager) RDDBlockUpdated(now time.Time, executor string, rdd, split int, level StorageLevel) {
	m.monitor.rddBlockUpdated(executor, m.monitorActive(executor), rdd, split, level)
}

// ShuffleBlockUpdated is SparkListenerBlockUpdated for a shuffle data
// block (e.g. migrated by decommissioning) of shuffle on executor.
func (m *Manager) ShuffleBlockUpdated(now time.Time, executor string, shuffle int) {
	m.monitor.shuffleBlockUpdated(executor, m.monitorActive(executor), shuffle)
}

// UnpersistRDD is SparkListenerUnpersistRDD.
func (m *Manager) UnpersistRDD(now time.Time, rdd int) { m.monitor.unpersistRDD(rdd) }

// JobStart is SparkListenerJobStart with the job's stages (shuffle
// tracking bookkeeping).
func (m *Manager) JobStart(now time.Time, job int, stages []JobStage) {
	m.monitor.jobStart(job, stages)
}

// JobEnd is SparkListenerJobEnd.
func (m *Manager) JobEnd(now time.Time, job int) { m.monitor.jobEnd(job) }

// ShuffleCleaned is the ContextCleaner's notice that shuffle was
// garbage-collected on the driver.
func (m *Manager) ShuffleCleaned(now time.Time, shuffle int) { m.monitor.shuffleCleaned(shuffle) }

// --- the tick ---

// Schedule is the EAM's schedule() tick (docs/spark-dra.md §5): it takes
// the timed-out executors, updates the targets, then removes what the
// floors allow. It returns the executors removed (killed, or decommissioned
// with spark.decommission.enabled), sorted as Spark sorts them; the slice is
// valid until the next call.
func (m *Manager) Schedule(now time.Time) []string {
	n := nanos(now)
	timedOut := m.monitor.timedOutExecutors(n)
	if len(timedOut) > 0 {
		m.alloc.initializing = false
	}
	m.alloc.updateAndSync(n, m)
	if len(timedOut) == 0 {
		return m.removedBuf[:0]
	}
	return m.removeExecutors(timedOut)
}

// ExecutorRef names an executor and its ResourceProfile.
type ExecutorRef struct {
	ID                string
	ResourceProfileID int
}

// RemoveExecutors is the EAM's removeExecutors for the given executors, in
// order: it applies the floors (never below minExecutors, never below the
// target), marks the chosen ones pending removal (or decommissioning) and
// returns them.
func (m *Manager) RemoveExecutors(now time.Time, refs []ExecutorRef) []string {
	cands := make([]removalCandidate, len(refs))
	for i, r := range refs {
		cands[i] = removalCandidate{id: r.ID, rp: r.ResourceProfileID}
	}
	return m.removeExecutors(cands)
}

func (m *Manager) removeExecutors(cands []removalCandidate) []string {
	m.verdicts = slices.Grow(m.verdicts[:0], len(cands))[:len(cands)]
	m.alloc.chooseRemovals(cands, m.verdicts, m)
	m.removedBuf = m.removedBuf[:0]
	for i, c := range cands {
		if m.verdicts[i] == RemovalChosen {
			m.removedBuf = append(m.removedBuf, c.id)
		}
	}
	if len(m.removedBuf) == 0 {
		return m.removedBuf
	}
	// SPARK-21834: the EAM re-asserts the targets after a kill.
	m.alloc.requestCalls++
	if m.alloc.cfg.DecommissionEnabled {
		m.monitor.executorsDecommissioned(m.removedBuf)
	} else {
		m.monitor.executorsKilled(m.removedBuf)
	}
	return m.removedBuf
}

// Reset is the EAM's reset() (docs/spark-dra.md §5): the add timer is due
// at once, targets go back to the initial number and the monitor forgets
// every executor.
func (m *Manager) Reset(now time.Time) {
	m.alloc.reset()
	m.monitor.reset()
}

// --- read-only state, for replays, tests and explanations ---

// Target returns the target executors of ResourceProfile rp (0 if none).
func (m *Manager) Target(rp int) int {
	if p := m.profileOf(rp); p != nil {
		return p.target
	}
	return 0
}

// TotalTarget is numberTargetExecutors: the targets summed over profiles.
func (m *Manager) TotalTarget() int { return m.alloc.totalTarget() }

// NumExecutorsToAdd returns the ramp step of rp (0 if rp has no target).
func (m *Manager) NumExecutorsToAdd(rp int) int {
	if p := m.profileOf(rp); p != nil {
		return p.toAdd
	}
	return 0
}

// MaxNeeded returns maxNumExecutorsNeeded for rp now.
func (m *Manager) MaxNeeded(rp int) int {
	p := m.profileOf(rp)
	if p == nil {
		tmp := profileState{id: rp, tasksPerExecutor: m.alloc.tasksPerExecutorFor(rp)}
		return m.alloc.maxNeeded(&tmp, m)
	}
	return m.maxNeededFor(p)
}

// TotalMaxNeeded is numberMaxNeededExecutors: MaxNeeded summed over the
// profiles that have a target.
func (m *Manager) TotalMaxNeeded() int { return m.alloc.totalMaxNeeded(m) }

// AddTime returns when the next add is due, and false when no backlog timer
// is armed.
func (m *Manager) AddTime() (time.Time, bool) {
	if m.alloc.addTime == notSet {
		return time.Time{}, false
	}
	return fromNanos(m.alloc.addTime), true
}

// Initializing reports whether the EAM is still in its initializing phase.
func (m *Manager) Initializing() bool { return m.alloc.initializing }

// ExecutorCount returns the executors the monitor tracks, all profiles.
func (m *Manager) ExecutorCount() int { return len(m.monitor.executors) }

// ExecutorCountFor returns the executors the monitor tracks for rp.
func (m *Manager) ExecutorCountFor(rp int) int { return m.monitor.rpCount[rp] }

// PendingTasks returns the listener's pending tasks of rp: tasks of
// registered stage attempts not started yet (docs/spark-dra.md §2).
func (m *Manager) PendingTasks(rp int) int { return m.pendingTasks(rp) }

// PendingSpeculativeTasks returns submitted, not started speculative tasks of rp.
func (m *Manager) PendingSpeculativeTasks(rp int) int { return m.pendingSpeculativeTasks(rp) }

// RunningTasks returns the running tasks of rp, speculative copies included.
func (m *Manager) RunningTasks(rp int) int { return m.runningTasks(rp) }

// PendingRemoval returns the ids of executors marked pending removal, sorted.
func (m *Manager) PendingRemoval() []string {
	return m.idsWhere(func(t *tracker) bool { return t.pendingRem })
}

// Decommissioning returns the ids of executors being decommissioned, sorted.
func (m *Manager) Decommissioning() []string {
	return m.idsWhere(func(t *tracker) bool { return t.decomm })
}

func (m *Manager) idsWhere(pred func(*tracker) bool) []string {
	var ids []string
	for id, t := range m.monitor.executors {
		if pred(t) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}

// ExecutorProfile returns the ResourceProfile the monitor recorded for an
// executor (UnknownResourceProfileID if unknown) and whether it is tracked.
func (m *Manager) ExecutorProfile(id string) (int, bool) {
	t, ok := m.monitor.executors[id]
	if !ok {
		return UnknownResourceProfileID, false
	}
	return t.rp, true
}

// IsIdle reports the monitor's isIdle for an executor: no running task and
// no active shuffle.
func (m *Manager) IsIdle(id string) bool {
	t, ok := m.monitor.executors[id]
	return ok && t.isIdle()
}

// TimedOutExecutors returns the production timedOutExecutors() at now.
func (m *Manager) TimedOutExecutors(now time.Time) []ExecutorRef {
	c := m.monitor.timedOutExecutors(nanos(now))
	out := make([]ExecutorRef, len(c))
	for i, x := range c {
		out[i] = ExecutorRef{ID: x.id, ResourceProfileID: x.rp}
	}
	return out
}

// RemovalCounters returns the removal-reason counters.
func (m *Manager) RemovalCounters() RemovalCounters { return m.monitor.counters }

// Observation derives what spark-dra-exporter would publish about this
// application at now, for the default ResourceProfile: task counts,
// backlog duration (since the add timer was armed, while tasks are
// pending), and each executor's running tasks, idle duration and holds.
// It is how replays and tests compare the event and observation layers.
func (m *Manager) Observation(now time.Time) Observation {
	rp := DefaultResourceProfileID
	n := nanos(now)
	o := Observation{
		PendingTasks:            m.pendingTasks(rp),
		PendingSpeculativeTasks: m.pendingSpeculativeTasks(rp),
		RunningTasks:            m.runningTasks(rp),
		UnschedulableTaskSets:   m.unschedulableTaskSets(rp),
		TasksPerExecutor:        m.alloc.tasksPerExecutorFor(rp),
		StageSubmitted:          !m.alloc.initializing,
	}
	if m.alloc.backlogSince != notSet && (o.PendingTasks > 0 || o.PendingSpeculativeTasks > 0) {
		o.BacklogDuration = time.Duration(max(0, n-m.alloc.backlogSince))
	}
	for id, t := range m.monitor.executors {
		if t.pendingRem || t.decomm {
			continue
		}
		e := ExecutorObservation{ID: id, RunningTasks: t.runningTasks, ActiveShuffle: t.activeShuf}
		if t.idleStart >= 0 {
			e.IdleDuration = time.Duration(max(0, n-t.idleStart))
		}
		if len(t.cachedBlocks) > 0 {
			e.Holds |= HoldsCache
		}
		if len(t.shuffleIDs) > 0 {
			e.Holds |= HoldsShuffle
		}
		o.Executors = append(o.Executors, e)
	}
	slices.SortFunc(o.Executors, func(a, b ExecutorObservation) int { return compareIDs(a.ID, b.ID) })
	return o
}
