package scaler

import (
	"math"
	"slices"
	"strings"
	"time"
)

// DefaultResourceProfileID is the id of Spark's default ResourceProfile.
const DefaultResourceProfileID = 0

// UnknownResourceProfileID marks an executor seen (through a task or block
// event) before its ExecutorAdded event told its ResourceProfile.
const UnknownResourceProfileID = -1

// notSet is the EAM's NOT_SET for addTime (Long.MaxValue).
const notSet = math.MaxInt64

// epoch is the zero of the engine's nanosecond clock. Time before it reads
// negative; time.Time.Sub saturates, which gives the saturating nanoTime
// Spark's ManualClock has (docs/spark-dra.md §10 note on em_pending_removal).
var epoch = time.Unix(0, 0)

// nanos converts a wall-clock instant into the engine's clock reading.
func nanos(t time.Time) int64 { return int64(t.Sub(epoch)) }

// fromNanos is the inverse of nanos.
func fromNanos(n int64) time.Time { return epoch.Add(time.Duration(n)) }

// addSat adds two clock values, saturating at the int64 bounds.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// demand is what the allocator reads about the application for one
// ResourceProfile: task counts from the listener (event layer) or from an
// observation (observation layer), executor counts from the monitor.
type demand interface {
	pendingTasks(rp int) int
	pendingSpeculativeTasks(rp int) int
	runningTasks(rp int) int
	unschedulableTaskSets(rp int) int
	executorCount(rp int) int
	pendingRemovalCount(rp int) int
	decommissioningCount(rp int) int
}

// profileState is the EAM's per-ResourceProfile state: the entries of
// numExecutorsTargetPerResourceProfileId and numExecutorsToAddPerResourceProfileId
// (docs/spark-dra.md §2), plus the update remembered for doUpdateRequest.
type profileState struct {
	id               int
	tasksPerExecutor int
	target           int
	toAdd            int
	// pending update of this round (Spark's TargetNumUpdates).
	updated   bool
	updDelta  int
	updOldTgt int
	// pace is what PolicyPaced learns (policy.go).
	pace paceState
}

// allocator is the EAM core shared by Manager and Engine.
type allocator struct {
	cfg     Config
	initial int
	// profiles sorted by id; the default profile is always present.
	profiles []profileState
	// tasksPerExecutor of ResourceProfiles not yet seen by a stage.
	profileSlots map[int]int
	addTime      int64 // notSet when no backlog timer is armed
	// backlogSince is when the add timer was last armed from NOT_SET: the
	// start of the current backlog (notSet when none). Spark keeps no such
	// field; it is what the exporter's backlog duration measures.
	backlogSince int64
	initializing bool
	// requestCalls counts requestTotalExecutors calls the real EAM would
	// make to the cluster manager (never made here).
	requestCalls int
}

func newAllocator(cfg Config, profileSlots map[int]int) allocator {
	a := allocator{
		cfg:          cfg,
		initial:      cfg.InitialExecutors(),
		profileSlots: profileSlots,
		addTime:      notSet,
		backlogSince: notSet,
		initializing: true,
	}
	a.ensureProfile(DefaultResourceProfileID)
	// EAM.start() asks the cluster manager for the initial target once.
	a.requestCalls = 1
	return a
}

// tasksPerExecutorFor returns the task slots of ResourceProfile rp
// (docs/spark-dra.md §1.3): the default profile uses the config, others the
// slots given at construction, 1 when unknown.
func (a *allocator) tasksPerExecutorFor(rp int) int {
	if rp == DefaultResourceProfileID {
		return a.cfg.TasksPerExecutor()
	}
	if n, ok := a.profileSlots[rp]; ok && n > 0 {
		return n
	}
	return 1
}

// profile returns the state of rp, nil if the EAM has no target for it yet.
func (a *allocator) profile(rp int) *profileState {
	for i := range a.profiles {
		if a.profiles[i].id == rp {
			return &a.profiles[i]
		}
	}
	return nil
}

// ensureProfile creates the target entry of rp at the initial number, as
// onStageSubmitted does for a profile seen the first time, and reports
// whether it was new.
func (a *allocator) ensureProfile(rp int) bool {
	if a.profile(rp) != nil {
		return false
	}
	a.profiles = append(a.profiles, profileState{
		id: rp, tasksPerExecutor: a.tasksPerExecutorFor(rp), target: a.initial, toAdd: 1,
	})
	slices.SortFunc(a.profiles, func(x, y profileState) int { return x.id - y.id })
	return true
}

// onSchedulerBacklogged arms the add timer if it is not armed
// (docs/spark-dra.md §3).
func (a *allocator) onSchedulerBacklogged(now int64) {
	if a.addTime == notSet {
		a.addTime = addSat(now, int64(a.cfg.SchedulerBacklogTimeout))
		a.backlogSince = now
	}
}

// onSchedulerQueueEmpty clears the add timer and resets every ramp step.
func (a *allocator) onSchedulerQueueEmpty() {
	a.addTime = notSet
	a.backlogSince = notSet
	for i := range a.profiles {
		a.profiles[i].toAdd = 1
	}
}

// backlogBroke applies what Spark did in a gap of the backlog that the
// observations missed (the exporter restarted spark_dra_backlog_duration_seconds
// at the new stages' submission: the old stages had completed before the
// new ones were submitted). Spark's listener saw the queue empty
// (onSchedulerQueueEmpty: add timer cleared, ramp step back to 1), and its
// schedule() tick in the gap found nothing pending or running, so
// updateAndSyncNumExecutorsTarget lowered every target to
// max(0, minExecutors) (docs/spark-dra.md §3, §5). Running tasks of stages
// that stayed active through the gap are not known here and are taken as
// none. The caller re-arms the timer at the new backlog's start.
func (a *allocator) backlogBroke() {
	a.onSchedulerQueueEmpty()
	if a.initializing {
		return
	}
	for i := range a.profiles {
		p := &a.profiles[i]
		if p.target > a.cfg.MinExecutors {
			p.target = a.cfg.MinExecutors
		}
	}
}

// maxNeeded is maxNumExecutorsNeededPerResourceProfile (docs/spark-dra.md §4).
func (a *allocator) maxNeeded(p *profileState, d demand) int {
	pendingSpec := d.pendingSpeculativeTasks(p.id)
	total := d.pendingTasks(p.id) + pendingSpec + d.runningTasks(p.id)
	tpe := p.tasksPerExecutor
	ratio := a.cfg.ExecutorAllocationRatio
	n := int(math.Ceil(float64(total) * ratio / float64(tpe)))
	if tpe > 1 && n == 1 && pendingSpec > 0 {
		// A speculative copy must run on another executor (SPARK-30392).
		n = 2
	}
	if u := d.unschedulableTaskSets(p.id); u > 0 {
		// Executors excluded on failure leave task sets unschedulable:
		// ask for more than we have (SPARK-31418).
		n = max(n, d.executorCount(p.id)+int(math.Ceil(float64(u)*ratio/float64(tpe))))
	}
	return n
}

// totalMaxNeeded sums maxNeeded over every profile with a target, as the
// numberMaxNeededExecutors gauge does (docs/spark-dra.md §7).
func (a *allocator) totalMaxNeeded(d demand) int {
	n := 0
	for i := range a.profiles {
		n += a.maxNeeded(&a.profiles[i], d)
	}
	return n
}

// totalTarget sums the targets over profiles (numberTargetExecutors).
func (a *allocator) totalTarget() int {
	n := 0
	for i := range a.profiles {
		n += a.profiles[i].target
	}
	return n
}

// totalToAdd sums the ramp steps over profiles (numberExecutorsToAdd).
func (a *allocator) totalToAdd() int {
	n := 0
	for i := range a.profiles {
		n += a.profiles[i].toAdd
	}
	return n
}

// addExecutors raises the target of p towards need by the ramp step
// (addExecutors, docs/spark-dra.md §5) and returns the change.
func (a *allocator) addExecutors(p *profileState, need int, d demand) int {
	old := p.target
	if old >= a.cfg.MaxExecutors {
		p.toAdd = 1
		return 0
	}
	// Don't ramp up to executors we already have (target < live executors).
	t := max(old, d.executorCount(p.id)) + p.toAdd
	need = a.pacedNeed(p, need, d)
	if a.rampsToNeed(p) {
		t = need
	}
	t = min(t, need)
	t = max(min(t, a.cfg.MaxExecutors), a.cfg.MinExecutors)
	p.target = t
	delta := t - old
	if delta == 0 {
		p.toAdd = 1
	}
	return delta
}

// remember records a target change for the next doUpdateRequest
// (Spark's updatesNeeded map entry).
func (p *profileState) remember(delta, old int) {
	p.updated, p.updDelta, p.updOldTgt = true, delta, old
}

// updateAndSync is updateAndSyncNumExecutorsTarget (docs/spark-dra.md §5):
// lowers targets to what is needed, or raises them by the ramp step when the
// add timer is due, then applies the changes. It returns the summed change.
func (a *allocator) updateAndSync(now int64, d demand) int {
	if a.cfg.Policy.paces() {
		a.pace(now, d)
	}
	if a.initializing {
		return 0
	}
	for i := range a.profiles {
		p := &a.profiles[i]
		need := a.maxNeeded(p, d)
		old := p.target
		if need < p.target {
			// Lower the target; nothing is killed here (idle timeouts do that).
			p.target = max(need, a.cfg.MinExecutors)
			p.toAdd = 1
			if delta := p.target - old; delta != 0 {
				p.remember(delta, old)
			}
		} else if a.addTime != notSet && now >= a.addTime {
			if delta := a.addExecutors(p, need, d); delta != 0 {
				p.remember(delta, old)
			}
		}
	}
	return a.doUpdateRequest(now)
}

// doUpdateRequest applies the remembered changes (docs/spark-dra.md §5): a
// profile that grew doubles its ramp step when the whole step was granted
// (else restarts at 1) and re-arms the add timer for the sustained timeout.
// sparkdra's cluster-manager call always succeeds, as in Spark's testing
// mode; it is counted in requestCalls outside testing.
func (a *allocator) doUpdateRequest(now int64) int {
	sum, any := 0, false
	for i := range a.profiles {
		p := &a.profiles[i]
		if !p.updated {
			continue
		}
		any = true
		p.updated = false
		if p.updDelta > 0 {
			if p.updDelta == p.toAdd {
				p.toAdd *= 2
			} else {
				p.toAdd = 1
			}
			a.addTime = addSat(now, int64(a.cfg.SustainedSchedulerBacklogTimeout))
		}
		sum += p.updDelta
	}
	if any && !a.cfg.Testing {
		a.requestCalls++
	}
	return sum
}

// reset is the EAM's reset() (docs/spark-dra.md §5): the add timer is due at
// once, every target is back at the initial number and every step at 1.
// initializing is left as it is (Spark 3.x/4.x).
func (a *allocator) reset() {
	a.addTime = 0
	for i := range a.profiles {
		a.profiles[i].target = a.initial
		a.profiles[i].toAdd = 1
	}
}

// removalCandidate is a timed-out executor offered to chooseRemovals.
type removalCandidate struct {
	id string
	rp int
}

// compareIDs orders executor ids as Spark's timedOutExecutors does: as
// strings ("10" before "2", SPARK-38019).
func compareIDs(a, b string) int { return strings.Compare(a, b) }

// RemovalVerdict says why an executor offered for removal was or was not chosen.
type RemovalVerdict uint8

// Removal verdicts, following removeExecutors' checks (docs/spark-dra.md §5.1).
const (
	// RemovalChosen: removing it keeps the count at or above max(min, target).
	RemovalChosen RemovalVerdict = iota
	// RemovalKeptForMinExecutors: removing it would go below minExecutors.
	RemovalKeptForMinExecutors
	// RemovalKeptForTarget: removing it would go below the current target.
	RemovalKeptForTarget
	// RemovalUnknownProfile: its ResourceProfile is not known yet.
	RemovalUnknownProfile
)

// String names the verdict for logs and /decisions.
func (v RemovalVerdict) String() string {
	switch v {
	case RemovalChosen:
		return "chosen"
	case RemovalKeptForMinExecutors:
		return "kept: minExecutors floor"
	case RemovalKeptForTarget:
		return "kept: target floor"
	case RemovalUnknownProfile:
		return "kept: unknown ResourceProfile"
	}
	return "unknown"
}

// chooseRemovals applies removeExecutors' floors (docs/spark-dra.md §5.1) to
// candidates, in order, and writes each candidate's verdict into verdicts
// (same length). Per profile, the running count starts at executors minus
// those already pending removal or decommissioning; a candidate is chosen
// only if one fewer stays at or above minExecutors and the target.
func (a *allocator) chooseRemovals(cands []removalCandidate, verdicts []RemovalVerdict, d demand) int {
	chosen := 0
	// remaining per profile, computed lazily; profiles are few, so a small
	// linear table avoids a map.
	type rem struct{ rp, n int }
	var buf [8]rem
	table := buf[:0]
	for i, c := range cands {
		if c.rp == UnknownResourceProfileID {
			verdicts[i] = RemovalUnknownProfile
			continue
		}
		j := -1
		for k := range table {
			if table[k].rp == c.rp {
				j = k
				break
			}
		}
		if j < 0 {
			table = append(table, rem{c.rp, d.executorCount(c.rp) - d.pendingRemovalCount(c.rp) - d.decommissioningCount(c.rp)})
			j = len(table) - 1
		}
		target := 0
		if p := a.profile(c.rp); p != nil {
			target = p.target
		}
		switch {
		case table[j].n-1 < a.cfg.MinExecutors:
			verdicts[i] = RemovalKeptForMinExecutors
		case table[j].n-1 < target:
			verdicts[i] = RemovalKeptForTarget
		default:
			verdicts[i] = RemovalChosen
			table[j].n--
			chosen++
		}
	}
	return chosen
}
