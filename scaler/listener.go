package scaler

// StageAttempt identifies one attempt of a stage, as Spark's listener does.
type StageAttempt struct {
	StageID   int
	AttemptID int
}

// JobStage is one stage of a starting job: its id and, for a shuffle-map
// stage, the shuffle it writes (ShuffleID < 0 for a result stage).
type JobStage struct {
	StageID   int
	ShuffleID int
}

// TaskEndReason is the part of a SparkListenerTaskEnd reason the EAM uses.
type TaskEndReason uint8

// Task end reasons (docs/spark-dra.md §3, onTaskEnd).
const (
	// TaskSuccess: the task finished.
	TaskSuccess TaskEndReason = iota
	// TaskKilled: the task was killed on purpose (e.g. its speculative
	// copy won); it will not be re-run (SPARK-30511).
	TaskKilled
	// TaskFailed: any other failure; the task will be resubmitted (SPARK-8366).
	TaskFailed
)

// stageState is the listener's state for one stage attempt; each field is
// one of the EAM listener's maps, a nil map or false flag meaning "no entry".
type stageState struct {
	rp           int
	registered   bool // in resourceProfileIdToStageAttempt
	hasNumTasks  bool
	numTasks     int
	hasRunning   bool
	running      int
	taskIndices  map[int]struct{} // started non-speculative indices
	specIndices  map[int]struct{} // running speculative indices
	pendingSpec  map[int]struct{} // submitted, not started speculative indices
	unschedulabl bool
}

func (s *stageState) pending() int {
	if !s.hasNumTasks {
		return 0
	}
	return s.numTasks - len(s.taskIndices)
}

func (s *stageState) unused() bool {
	return !s.hasRunning && !s.hasNumTasks && s.pendingSpec == nil && s.taskIndices == nil && s.specIndices == nil
}

// listener is the EAM's ExecutorAllocationListener state (docs/spark-dra.md
// §2–§3). Stage attempts stay registered with their ResourceProfile until
// they are unused: completed and without running tasks.
type listener struct {
	stages map[StageAttempt]*stageState
}

func newListener() listener { return listener{stages: map[StageAttempt]*stageState{}} }

func (l *listener) stage(sa StageAttempt) *stageState {
	s, ok := l.stages[sa]
	if !ok {
		s = &stageState{rp: UnknownResourceProfileID}
		l.stages[sa] = s
	}
	return s
}

// dropIfUnused is removeStageFromResourceProfileIfUnused plus forgetting an
// attempt nothing refers to any more.
func (l *listener) dropIfUnused(sa StageAttempt) {
	s, ok := l.stages[sa]
	if !ok || !s.unused() {
		return
	}
	if s.unschedulabl {
		// Still in the unschedulable set: keep the entry for that, but it no
		// longer counts towards its profile.
		s.registered = false
		return
	}
	delete(l.stages, sa)
}

func (l *listener) hasPendingTasks() bool {
	for _, s := range l.stages {
		if s.registered && (s.pending() > 0 || len(s.pendingSpec) > 0) {
			return true
		}
	}
	return false
}

// queueEmptyAfterStageCompleted is onStageCompleted's test: no attempt has
// a task count, pending speculative or running speculative entry.
func (l *listener) queueEmptyAfterStageCompleted() bool {
	for _, s := range l.stages {
		if s.hasNumTasks || s.pendingSpec != nil || s.specIndices != nil {
			return false
		}
	}
	return true
}

func (l *listener) pendingTasks(rp int) int {
	n := 0
	for _, s := range l.stages {
		if s.registered && s.rp == rp {
			n += s.pending()
		}
	}
	return n
}

func (l *listener) pendingSpeculativeTasks(rp int) int {
	n := 0
	for _, s := range l.stages {
		if s.registered && s.rp == rp {
			n += len(s.pendingSpec)
		}
	}
	return n
}

func (l *listener) runningTasks(rp int) int {
	n := 0
	for _, s := range l.stages {
		if s.registered && s.rp == rp {
			n += s.running
		}
	}
	return n
}

func (l *listener) unschedulableTaskSets(rp int) int {
	n := 0
	for _, s := range l.stages {
		if s.registered && s.rp == rp && s.unschedulabl {
			n++
		}
	}
	return n
}

func addIndex(m *map[int]struct{}, i int) {
	if *m == nil {
		*m = map[int]struct{}{}
	}
	(*m)[i] = struct{}{}
}
