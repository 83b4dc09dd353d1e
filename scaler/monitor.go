package scaler

import (
	"math"
	"slices"
)

// StorageLevel is the storage level of an RDD block update, as far as the
// ExecutorMonitor cares (docs/spark-dra.md §6, "block updated").
type StorageLevel uint8

// Storage levels of RDD block updates.
const (
	// StorageNone means the block was removed (an invalid level).
	StorageNone StorageLevel = iota
	// StorageMemoryOnly is MEMORY_ONLY (and its serialized/replicated variants).
	StorageMemoryOnly
	// StorageMemoryAndDisk is MEMORY_AND_DISK (and variants).
	StorageMemoryAndDisk
	// StorageDiskOnly is DISK_ONLY (and variants).
	StorageDiskOnly
)

func (l StorageLevel) valid() bool   { return l != StorageNone }
func (l StorageLevel) useDisk() bool { return l == StorageMemoryAndDisk || l == StorageDiskOnly }

// RemovalCounters are the ExecutorMonitor's removal-reason counters
// (ExecutorAllocationManagerSource, docs/spark-dra.md §6–§7).
type RemovalCounters struct {
	// GracefullyDecommissioned: decommissioning executors that finished it.
	GracefullyDecommissioned int
	// DecommissionUnfinished: decommissioning executors lost before finishing.
	DecommissionUnfinished int
	// KilledByDriver: executors removed after DRA asked to kill them.
	KilledByDriver int
	// ExitedUnexpectedly: every other removal.
	ExitedUnexpectedly int
}

// DecommissionFinishedReason is the removal reason Spark gives an executor
// that finished decommissioning gracefully.
const DecommissionFinishedReason = "Finished decommissioning"

// decommissionReasonPrefix starts Spark's ExecutorDecommission loss messages.
const decommissionReasonPrefix = "Executor decommission"

// tracker is the monitor's per-executor state (ExecutorMonitor.Tracker).
type tracker struct {
	rp           int
	runningTasks int
	idleStart    int64 // -1 while busy
	timeoutAt    int64 // math.MaxInt64 when busy or never
	cachedBlocks map[int]map[int]struct{}
	shuffleIDs   map[int]struct{} // nil unless shuffle tracking is on
	activeShuf   bool
	pendingRem   bool
	decomm       bool
}

func (t *tracker) isIdle() bool { return t.idleStart >= 0 && !t.activeShuf }

// monitor is Spark's ExecutorMonitor (docs/spark-dra.md §6): per-executor
// idle tracking, cached blocks, shuffle tracking with active-job bookkeeping,
// and the timed-out list.
type monitor struct {
	idleTimeout, storageTimeout, shuffleTimeout int64
	fetchFromShuffleSvc, shuffleTracking        bool

	executors map[string]*tracker
	rpCount   map[int]int

	shuffleToActiveJobs map[int][]int
	stageToShuffle      map[int]int
	jobToStages         map[int][]int

	counters RemovalCounters

	// timedOut caches the last timedOutExecutors() answer; it is recomputed
	// when the clock passes nextTimeout or when state changed (dirty).
	timedOut    []removalCandidate
	nextTimeout int64
	dirty       bool
}

func newMonitor(cfg Config) monitor {
	return monitor{
		idleTimeout:         int64(cfg.ExecutorIdleTimeout),
		storageTimeout:      int64(cfg.storageTimeout()),
		shuffleTimeout:      int64(cfg.shuffleTimeout()),
		fetchFromShuffleSvc: cfg.ShuffleServiceEnabled && cfg.ShuffleServiceFetchRDDEnabled,
		shuffleTracking:     cfg.ShuffleTracking(),
		executors:           map[string]*tracker{},
		rpCount:             map[int]int{},
		shuffleToActiveJobs: map[int][]int{},
		stageToShuffle:      map[int]int{},
		jobToStages:         map[int][]int{},
		nextTimeout:         math.MinInt64,
	}
}

// executorTimeout is the idle timeout that applies to an executor: the
// maximum of the idle timeout and, when it holds them, the cached-blocks and
// shuffle timeouts (Spark 4.x, SPARK-43398; docs/spark-dra.md §6).
func executorTimeout(idle, storage, shuffle int64, cached, shuffles bool) int64 {
	t := idle
	if cached {
		t = max(t, storage)
	}
	if shuffles {
		t = max(t, shuffle)
	}
	return t
}

// idleDeadline adds a timeout to an idle start; an overflow means never.
func idleDeadline(idleStart, timeout int64) int64 {
	d := idleStart + timeout
	if timeout > 0 && d < idleStart {
		return math.MaxInt64
	}
	return d
}

// updateTimeout recomputes t's deadline (Tracker.updateTimeout).
func (m *monitor) updateTimeout(t *tracker) {
	if t.idleStart < 0 {
		t.timeoutAt = math.MaxInt64
	} else {
		to := executorTimeout(m.idleTimeout, m.storageTimeout, m.shuffleTimeout,
			len(t.cachedBlocks) > 0, t.shuffleIDs != nil && len(t.shuffleIDs) > 0)
		t.timeoutAt = idleDeadline(t.idleStart, to)
	}
	m.dirty = true
}

// updateRunningTasks is Tracker.updateRunningTasks: an executor becomes idle
// (from now) when its last task ends, busy when one starts.
func (m *monitor) updateRunningTasks(t *tracker, delta int, now int64) {
	t.runningTasks = max(0, t.runningTasks+delta)
	if t.runningTasks == 0 {
		t.idleStart = now
	} else {
		t.idleStart = -1
	}
	m.updateTimeout(t)
}

// ensureTracked is ensureExecutorIsTracked: it creates the tracker, and
// fixes up the ResourceProfile of an executor first seen without one.
func (m *monitor) ensureTracked(id string, rp int) *tracker {
	t, ok := m.executors[id]
	if !ok {
		t = &tracker{rp: rp, idleStart: -1, timeoutAt: math.MaxInt64}
		if m.shuffleTracking {
			t.shuffleIDs = map[int]struct{}{}
		}
		m.executors[id] = t
		m.rpCount[rp]++
		m.dirty = true
		return t
	}
	if t.rp == UnknownResourceProfileID && rp != UnknownResourceProfileID {
		t.rp = rp
		m.rpCount[rp]++
		m.rpCount[UnknownResourceProfileID]--
		m.dirty = true
	}
	return t
}

func (m *monitor) executorAdded(id string, rp int, now int64) {
	t := m.ensureTracked(id, rp)
	m.updateRunningTasks(t, 0, now)
}

func (m *monitor) executorRemoved(id, reason string) {
	t, ok := m.executors[id]
	if !ok {
		return
	}
	delete(m.executors, id)
	m.rpCount[t.rp]--
	switch {
	case t.decomm:
		if reason == DecommissionFinishedReason || hasPrefix(reason, decommissionReasonPrefix) {
			m.counters.GracefullyDecommissioned++
		} else {
			m.counters.DecommissionUnfinished++
		}
	case t.pendingRem:
		m.counters.KilledByDriver++
	default:
		m.counters.ExitedUnexpectedly++
	}
	m.dirty = true
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func (m *monitor) taskStart(executor string, active bool, now int64) {
	if !active {
		// Late event for an executor the scheduler no longer has (SPARK-26927).
		return
	}
	t := m.ensureTracked(executor, UnknownResourceProfileID)
	m.updateRunningTasks(t, 1, now)
}

func (m *monitor) taskEnd(executor string, stage int, success bool, now int64) {
	t, ok := m.executors[executor]
	if !ok {
		return
	}
	if m.shuffleTracking && success {
		if shuffle, ok := m.stageToShuffle[stage]; ok {
			m.addShuffle(t, shuffle)
		}
	}
	m.updateRunningTasks(t, -1, now)
}

// addShuffle records shuffle output on t (Tracker.addShuffle): a new id
// makes the executor shuffle-busy until the next job end corrects it.
func (m *monitor) addShuffle(t *tracker, id int) {
	if _, ok := t.shuffleIDs[id]; ok {
		return
	}
	t.shuffleIDs[id] = struct{}{}
	t.activeShuf = true
	m.dirty = true
}

func (m *monitor) rddBlockUpdated(executor string, active bool, rdd, split int, level StorageLevel) {
	if !active {
		return // SPARK-37688
	}
	t := m.ensureTracked(executor, UnknownResourceProfileID)
	if level.valid() && (!m.fetchFromShuffleSvc || !level.useDisk()) {
		had := len(t.cachedBlocks) > 0
		if t.cachedBlocks == nil {
			t.cachedBlocks = map[int]map[int]struct{}{}
		}
		blocks := t.cachedBlocks[rdd]
		if blocks == nil {
			blocks = map[int]struct{}{}
			t.cachedBlocks[rdd] = blocks
		}
		blocks[split] = struct{}{}
		if !had {
			m.updateTimeout(t)
		}
		return
	}
	if blocks, ok := t.cachedBlocks[rdd]; ok {
		delete(blocks, split)
		if len(blocks) == 0 {
			delete(t.cachedBlocks, rdd)
			if len(t.cachedBlocks) == 0 {
				m.updateTimeout(t)
			}
		}
	}
}

func (m *monitor) shuffleBlockUpdated(executor string, active bool, shuffle int) {
	if !active {
		return
	}
	t := m.ensureTracked(executor, UnknownResourceProfileID)
	if m.shuffleTracking {
		m.addShuffle(t, shuffle)
	}
}

func (m *monitor) unpersistRDD(rdd int) {
	for _, t := range m.executors {
		delete(t.cachedBlocks, rdd)
		if len(t.cachedBlocks) == 0 {
			m.updateTimeout(t)
		}
	}
}

// updateActiveShuffles is Tracker.updateActiveShuffles.
func (m *monitor) updateActiveShuffles(t *tracker, ids []int) {
	had := t.activeShuf
	t.activeShuf = false
	for _, id := range ids {
		if _, ok := t.shuffleIDs[id]; ok {
			t.activeShuf = true
			break
		}
	}
	if had && t.isIdle() {
		m.updateTimeout(t)
	}
	if had != t.activeShuf {
		m.dirty = true
	}
}

func (m *monitor) jobStart(job int, stages []JobStage) {
	if !m.shuffleTracking {
		return
	}
	var shuffles, shuffleStages []int
	reused := false
	for _, s := range stages {
		if s.ShuffleID < 0 {
			continue
		}
		shuffles = append(shuffles, s.ShuffleID)
		shuffleStages = append(shuffleStages, s.StageID)
		jobs, ok := m.shuffleToActiveJobs[s.ShuffleID]
		if ok {
			// A shuffle re-used by a new job makes its holders busy again.
			reused = true
		}
		m.shuffleToActiveJobs[s.ShuffleID] = append(jobs, job)
		m.stageToShuffle[s.StageID] = s.ShuffleID
	}
	if reused {
		for _, t := range m.executors {
			if !t.activeShuf {
				m.updateActiveShuffles(t, shuffles)
			}
		}
	}
	m.jobToStages[job] = shuffleStages
}

func (m *monitor) jobEnd(job int) {
	if !m.shuffleTracking {
		return
	}
	update := false
	var active []int
	for shuffle, jobs := range m.shuffleToActiveJobs {
		jobs = slices.DeleteFunc(jobs, func(j int) bool { return j == job })
		m.shuffleToActiveJobs[shuffle] = jobs
		if len(jobs) > 0 {
			active = append(active, shuffle)
		} else {
			update = true
		}
	}
	if update {
		for _, t := range m.executors {
			if t.activeShuf {
				m.updateActiveShuffles(t, active)
			}
		}
	}
	for _, s := range m.jobToStages[job] {
		delete(m.stageToShuffle, s)
	}
	delete(m.jobToStages, job)
}

// shuffleCleaned forgets a shuffle the driver garbage-collected
// (ContextCleaner → ShuffleCleanedEvent, only with tracking).
func (m *monitor) shuffleCleaned(id int) {
	if !m.shuffleTracking {
		return
	}
	delete(m.shuffleToActiveJobs, id)
	for _, t := range m.executors {
		if _, ok := t.shuffleIDs[id]; !ok {
			continue
		}
		delete(t.shuffleIDs, id)
		if len(t.shuffleIDs) == 0 {
			t.activeShuf = false
			if t.isIdle() {
				m.updateTimeout(t)
			}
		}
		m.dirty = true
	}
}

func (m *monitor) executorsKilled(ids []string) {
	for _, id := range ids {
		if t, ok := m.executors[id]; ok {
			t.pendingRem = true
		}
	}
	m.dirty = true
}

func (m *monitor) executorsDecommissioned(ids []string) {
	for _, id := range ids {
		if t, ok := m.executors[id]; ok {
			t.decomm = true
		}
	}
	m.dirty = true
}

// timedOutExecutors is the production timedOutExecutors(): idle executors
// whose deadline passed, not pending removal, not shuffle-busy, not
// decommissioning, sorted by id as strings. The slice is owned by the
// monitor and valid until the next call. In steady state (no change, clock
// before the next deadline) it returns the cached answer without work.
func (m *monitor) timedOutExecutors(now int64) []removalCandidate {
	if !m.dirty && now < m.nextTimeout {
		return m.timedOut
	}
	m.dirty = false
	next := int64(math.MaxInt64)
	m.timedOut = m.timedOut[:0]
	for id, t := range m.executors {
		if t.pendingRem || t.activeShuf || t.decomm {
			continue
		}
		if t.timeoutAt > now {
			next = min(next, t.timeoutAt)
			continue
		}
		m.timedOut = append(m.timedOut, removalCandidate{id: id, rp: t.rp})
	}
	slices.SortFunc(m.timedOut, func(a, b removalCandidate) int { return compareIDs(a.id, b.id) })
	m.nextTimeout = next
	return m.timedOut
}

// timedOutAt is the test-only timedOutExecutors(when) of Spark's monitor
// suite: idle executors whose deadline is at or before when, pending
// removal included (docs/spark-dra.md §10).
func (m *monitor) timedOutAt(when int64) []string {
	var ids []string
	for id, t := range m.executors {
		if t.isIdle() && t.timeoutAt <= when {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}

func (m *monitor) count(rp int, pred func(*tracker) bool) int {
	n := 0
	for _, t := range m.executors {
		if t.rp == rp && pred(t) {
			n++
		}
	}
	return n
}

func (m *monitor) pendingRemovalCount(rp int) int {
	return m.count(rp, func(t *tracker) bool { return t.pendingRem })
}

func (m *monitor) decommissioningCount(rp int) int {
	return m.count(rp, func(t *tracker) bool { return t.decomm })
}

// reset forgets every executor (ExecutorMonitor.reset).
func (m *monitor) reset() {
	clear(m.executors)
	clear(m.rpCount)
	m.timedOut = m.timedOut[:0]
	m.nextTimeout = math.MinInt64
	m.dirty = true
}
