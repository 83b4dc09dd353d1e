package scaler

import (
	"slices"
	"time"
)

// Engine runs Spark's DRA on Observations (the observation entry layer):
// one Engine per ScaledObject in the live scaler. Between steps it keeps
// only what Spark keeps between ticks — target, ramp step, add timer,
// initializing — and rebuilds the executor view from each observation, so
// idle and backlog durations come from the exporter, not from memory: a
// restarted Engine never shrinks anything it should keep.
type Engine struct {
	alloc allocator
	obs   *Observation
	tpe   int

	cands    []removalCandidate
	idx      []int // cands[i] ↔ verdicts[idx[i]]
	order    []int // verdict k ↔ obs.Executors[order[k]]
	rverdict []RemovalVerdict
	verdicts []ExecutorVerdict
	remove   []string

	// req tracks the executors asked for and not yet registered
	// (requests.go); unprotected switches the protection off (tests only).
	req         requests
	unprotected bool
	pendingOut  []PendingRequest

	// the previous observation's backlog, to see it restart (backlogBroke).
	prevBacklogged bool
	prevBacklog    time.Duration
}

// NewEngine validates cfg and returns an Engine at Spark's start state.
func NewEngine(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{alloc: newAllocator(cfg, nil), req: requests{unit: 1}}, nil
}

// Config returns the settings the Engine runs with.
func (e *Engine) Config() Config { return e.alloc.cfg }

// demand over the current observation (default ResourceProfile only).

func (e *Engine) pendingTasks(rp int) int {
	if rp != DefaultResourceProfileID {
		return 0
	}
	return max(0, e.obs.PendingTasks)
}

func (e *Engine) pendingSpeculativeTasks(rp int) int {
	if rp != DefaultResourceProfileID {
		return 0
	}
	return max(0, e.obs.PendingSpeculativeTasks)
}

func (e *Engine) runningTasks(rp int) int {
	if rp != DefaultResourceProfileID {
		return 0
	}
	return max(0, e.obs.RunningTasks)
}

func (e *Engine) unschedulableTaskSets(rp int) int {
	if rp != DefaultResourceProfileID {
		return 0
	}
	return max(0, e.obs.UnschedulableTaskSets)
}

func (e *Engine) executorCount(rp int) int {
	if rp != DefaultResourceProfileID {
		return 0
	}
	return len(e.obs.Executors)
}

func (e *Engine) pendingRemovalCount(int) int  { return 0 }
func (e *Engine) decommissioningCount(int) int { return 0 }

// Step advances DRA to now with a fresh observation and returns the
// decision (docs/spark-dra.md §3–§6, mapped onto gauges as in §8):
//
//   - pending tasks arm the add timer at (now − BacklogDuration) +
//     schedulerBacklogTimeout, as Spark's onSchedulerBacklogged would have at
//     the backlog's start; no pending task clears it and resets the ramp step
//     (onSchedulerQueueEmpty);
//   - a submitted stage, or an executor that timed out, ends initializing;
//   - the schedule() tick then runs as in Spark: targets follow maxNeeded,
//     ramping by 1, 2, 4… each sustainedSchedulerBacklogTimeout; timed-out
//     executors (idle past the maximum of the timeouts that apply, not
//     shuffle-busy) are offered to the removal floors in Spark's order.
//
// The engine removes nothing itself; Decision.Remove says what Spark would
// remove now and Decision.Desired what the scaler should report.
// Observation counts below zero are read as zero.
func (e *Engine) Step(obs *Observation, now time.Time) Decision {
	e.obs = obs
	n := nanos(now)
	a := &e.alloc
	if obs.TasksPerExecutor > 0 && obs.TasksPerExecutor != a.profiles[0].tasksPerExecutor {
		a.profiles[0].tasksPerExecutor = obs.TasksPerExecutor
	}
	if obs.StageSubmitted {
		a.initializing = false
	}
	backlogged := obs.PendingTasks > 0 || obs.PendingSpeculativeTasks > 0
	restarted := backlogged && e.prevBacklogged && obs.BacklogDuration < e.prevBacklog
	e.prevBacklogged, e.prevBacklog = backlogged, max(0, obs.BacklogDuration)
	if restarted {
		a.backlogBroke()
	}
	if backlogged {
		a.onSchedulerBacklogged(addSat(n, -int64(max(0, obs.BacklogDuration))))
	} else {
		a.onSchedulerQueueEmpty()
	}

	e.collectTimedOut(n)
	if len(e.cands) > 0 {
		a.initializing = false
	}
	before := a.totalTarget()
	a.updateAndSync(n, e)
	e.rverdict = slices.Grow(e.rverdict[:0], len(e.cands))[:len(e.cands)]
	a.chooseRemovals(e.cands, e.rverdict, e)

	e.remove = e.remove[:0]
	for i, c := range e.cands {
		v := &e.verdicts[e.idx[i]]
		switch e.rverdict[i] {
		case RemovalChosen:
			v.State = ExecutorRemove
			e.remove = append(e.remove, c.id)
		case RemovalKeptForMinExecutors:
			v.State = ExecutorKeptForMinExecutors
		default:
			v.State = ExecutorKeptForTarget
		}
	}

	target := a.totalTarget()
	live := len(obs.Executors)
	desired := max(target, live-len(e.remove))
	// Requested executors are not thrown away (requests.go): while any
	// request is younger than executorIdleTimeout, nothing pending is
	// cancelled and the removals wait, because a ReplicaSet deletes pods
	// that are not ready (and the newest) before any chosen victim.
	if obs.NoApplication {
		e.req.forget()
	}
	e.req.settle(live, n)
	young := e.req.young(n, a.cfg.ExecutorIdleTimeout)
	held := false
	if young > 0 && !e.unprotected {
		held = len(e.remove) > 0
		desired = max(desired, live+len(e.req.pending))
	}
	desired = min(max(desired, a.cfg.MinExecutors), a.cfg.MaxExecutors)
	e.pendingOut = e.pendingOut[:0]
	for _, t := range e.req.pending {
		age := time.Duration(n - t)
		e.pendingOut = append(e.pendingOut, PendingRequest{Since: fromNanos(t), Age: age,
			Protected: age <= a.cfg.ExecutorIdleTimeout && !e.unprotected})
	}
	cancelled := e.req.answer(desired, live, n)
	d := Decision{
		Time:               now,
		Target:             target,
		TargetDelta:        target - before,
		MaxNeeded:          a.totalMaxNeeded(e),
		NumExecutorsToAdd:  a.totalToAdd(),
		Initializing:       a.initializing,
		LiveExecutors:      live,
		Remove:             e.remove,
		Desired:            desired,
		Executors:          e.verdicts,
		RemovalHeld:        held,
		Pending:            e.pendingOut,
		ProtectedRequests:  young,
		CancelledRequests:  cancelled,
		RequestedExecutors: e.req.requested,
	}
	if e.unprotected {
		d.ProtectedRequests = 0
	}
	if a.addTime != notSet {
		d.AddTime = fromNanos(a.addTime)
	}
	return d
}

// collectTimedOut builds one verdict per observed executor, in id order
// (as strings), and the timed-out ones in Spark's order
// (ExecutorMonitor.timedOutExecutors). An observation already sorted by id
// costs one pass; otherwise an index permutation is sorted.
func (e *Engine) collectTimedOut(now int64) {
	cfg := &e.alloc.cfg
	tracking := cfg.ShuffleTracking()
	xs := e.obs.Executors
	e.order = e.order[:0]
	for i := range xs {
		e.order = append(e.order, i)
	}
	if !slices.IsSortedFunc(xs, func(a, b ExecutorObservation) int { return compareIDs(a.ID, b.ID) }) {
		slices.SortFunc(e.order, func(a, b int) int { return compareIDs(xs[a].ID, xs[b].ID) })
	}
	e.verdicts = slices.Grow(e.verdicts[:0], len(xs))[:len(xs)]
	e.cands, e.idx = e.cands[:0], e.idx[:0]
	idle, storage, shuffle := int64(cfg.ExecutorIdleTimeout), int64(cfg.storageTimeout()), int64(cfg.shuffleTimeout())
	for k, i := range e.order {
		x := &xs[i]
		to := executorTimeout(idle, storage, shuffle, x.Holds&HoldsCache != 0, tracking && x.Holds&HoldsShuffle != 0)
		v := ExecutorVerdict{ID: x.ID, Host: x.Host, Holds: x.Holds, Timeout: time.Duration(to)}
		switch {
		case x.RunningTasks > 0:
			v.State = ExecutorBusy
		case tracking && x.ActiveShuffle:
			v.State = ExecutorShuffleActive
			v.IdleDuration = x.IdleDuration
		default:
			v.State = ExecutorIdle
			v.IdleDuration = x.IdleDuration
			idleStart := addSat(now, -int64(max(0, x.IdleDuration)))
			if idleDeadline(idleStart, to) <= now {
				e.cands = append(e.cands, removalCandidate{id: x.ID, rp: DefaultResourceProfileID})
				e.idx = append(e.idx, k)
			}
		}
		e.verdicts[k] = v
	}
}

// State is the Engine's carried-over state, for explanations.
type State struct {
	Target            int
	NumExecutorsToAdd int
	Initializing      bool
	// AddTime is zero when no backlog timer is armed.
	AddTime time.Time
}

// State returns the carried-over state after the last Step.
func (e *Engine) State() State {
	s := State{
		Target:            e.alloc.totalTarget(),
		NumExecutorsToAdd: e.alloc.totalToAdd(),
		Initializing:      e.alloc.initializing,
	}
	if e.alloc.addTime != notSet {
		s.AddTime = fromNanos(e.alloc.addTime)
	}
	return s
}
