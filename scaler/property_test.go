package scaler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// appSim drives a Manager with a random but plausible application history:
// executors join and leave, jobs submit one stage each (a shuffle-map or a
// result stage, sometimes re-using an old shuffle), tasks start on free
// slots and end with success, failure or a kill, blocks get cached and
// dropped, shuffles get cleaned, and time moves on. After every event it
// ticks the Manager (Spark's schedule()) and, beside it, an Engine fed with
// the Manager's Observation, and checks the invariants.
type appSim struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	cfg   Config
	m     *Manager
	e     *Engine
	now   time.Time
	tpe   int
	execs map[string]int // alive executor → running tasks
	next  int
	// active stages
	stages   []*simStage
	stageSeq int
	jobSeq   int
	shuffles []int // shuffles written so far
	rdds     int
	events   int
}

type simStage struct {
	sa       StageAttempt
	job      int
	tasks    int
	todo     []int          // indices not started
	running  map[int]string // index → executor
	finished int
}

func randomConfig(rng *rand.Rand) Config {
	c := DefaultConfig()
	c.MinExecutors = rng.IntN(3)
	c.MaxExecutors = c.MinExecutors + 1 + rng.IntN(9)
	c.InitialExecutorsSetting = c.MinExecutors + rng.IntN(c.MaxExecutors-c.MinExecutors+1)
	c.SchedulerBacklogTimeout = time.Duration(1+rng.IntN(2)) * time.Second
	c.SustainedSchedulerBacklogTimeout = time.Duration(1+rng.IntN(3)) * time.Second
	c.ExecutorIdleTimeout = time.Duration(2+rng.IntN(8)) * time.Second
	if rng.IntN(2) == 0 {
		c.CachedExecutorIdleTimeout = time.Duration(5+rng.IntN(25)) * time.Second
	}
	c.ShuffleTrackingEnabled = rng.IntN(3) > 0
	c.ShuffleServiceEnabled = !c.ShuffleTrackingEnabled || rng.IntN(4) == 0
	if rng.IntN(2) == 0 {
		c.ShuffleTrackingTimeout = time.Duration(5+rng.IntN(25)) * time.Second
	}
	c.ExecutorCores = 1 + rng.IntN(2)
	c.ExecutorAllocationRatio = []float64{1, 1, 0.5}[rng.IntN(3)]
	return c
}

func newAppSim(t *testing.T, seed uint64) *appSim {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cfg := randomConfig(rng)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("seed %d: generated an invalid config: %v", seed, err)
	}
	s := &appSim{t: t, seed: seed, rng: rng, cfg: cfg, now: t0, tpe: cfg.TasksPerExecutor(), execs: map[string]int{}}
	s.m, _ = NewManager(cfg, ManagerOptions{})
	s.e, _ = NewEngine(cfg)
	return s
}

func (s *appSim) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d, event %d, config %+v: %s", s.seed, s.events, s.cfg, fmt.Sprintf(format, args...))
}

func (s *appSim) freeExecutor() (string, bool) {
	var free []string
	for id, n := range s.execs {
		if n < s.tpe {
			free = append(free, id)
		}
	}
	if len(free) == 0 {
		return "", false
	}
	slices.Sort(free)
	return free[s.rng.IntN(len(free))], true
}

func (s *appSim) runningTask() (*simStage, int, bool) {
	var cands [][2]int
	for si, st := range s.stages {
		for idx := range st.running {
			cands = append(cands, [2]int{si, idx})
		}
	}
	if len(cands) == 0 {
		return nil, 0, false
	}
	slices.SortFunc(cands, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	c := cands[s.rng.IntN(len(cands))]
	return s.stages[c[0]], c[1], true
}

func (s *appSim) aliveIDs() []string {
	ids := make([]string, 0, len(s.execs))
	for id := range s.execs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// step performs one random event.
func (s *appSim) step() {
	s.events++
	m, now := s.m, s.now
	switch r := s.rng.IntN(100); {
	case r < 12 && len(s.execs) < 12:
		s.next++
		id := strconv.Itoa(s.next)
		s.execs[id] = 0
		m.ExecutorAdded(now, id, DefaultResourceProfileID)
	case r < 15:
		// An idle executor is lost.
		for _, id := range s.aliveIDs() {
			if s.execs[id] == 0 {
				delete(s.execs, id)
				m.ExecutorRemoved(now, id, "lost")
				break
			}
		}
	case r < 25 && len(s.stages) < 3:
		s.jobSeq++
		s.stageSeq++
		st := &simStage{sa: StageAttempt{StageID: s.stageSeq}, job: s.jobSeq, tasks: 1 + s.rng.IntN(20), running: map[int]string{}}
		for i := range st.tasks {
			st.todo = append(st.todo, i)
		}
		stages := []JobStage{{StageID: st.sa.StageID, ShuffleID: -1}}
		if s.rng.IntN(2) == 0 {
			shuffle := st.sa.StageID // a map stage writes shuffle = its stage id
			stages[0].ShuffleID = shuffle
			s.shuffles = append(s.shuffles, shuffle)
		}
		if len(s.shuffles) > 0 && s.rng.IntN(3) == 0 {
			// The job re-uses an old shuffle through a skipped stage.
			old := s.shuffles[s.rng.IntN(len(s.shuffles))]
			stages = append(stages, JobStage{StageID: 100000 + old, ShuffleID: old})
		}
		m.JobStart(now, st.job, stages)
		m.StageSubmitted(now, st.sa, st.tasks, DefaultResourceProfileID)
		s.stages = append(s.stages, st)
	case r < 55:
		// Start a pending task on a free slot.
		for _, st := range s.stages {
			if len(st.todo) == 0 {
				continue
			}
			id, ok := s.freeExecutor()
			if !ok {
				break
			}
			idx := st.todo[0]
			st.todo = st.todo[1:]
			st.running[idx] = id
			s.execs[id]++
			m.TaskStart(now, st.sa, idx, id, false)
			break
		}
	case r < 80:
		st, idx, ok := s.runningTask()
		if !ok {
			break
		}
		id := st.running[idx]
		delete(st.running, idx)
		s.execs[id]--
		reason := TaskSuccess
		switch s.rng.IntN(20) {
		case 0:
			reason = TaskFailed
			st.todo = append(st.todo, idx) // resubmitted
		case 1:
			reason = TaskKilled // its speculative twin won: done
		}
		m.TaskEnd(now, st.sa, idx, id, false, reason)
		if reason != TaskFailed {
			st.finished++
		}
		if st.finished == st.tasks {
			m.StageCompleted(now, st.sa)
			m.JobEnd(now, st.job)
			s.stages = slices.DeleteFunc(s.stages, func(x *simStage) bool { return x == st })
		}
	case r < 86:
		ids := s.aliveIDs()
		if len(ids) == 0 {
			break
		}
		id := ids[s.rng.IntN(len(ids))]
		level := []StorageLevel{StorageMemoryOnly, StorageMemoryAndDisk, StorageNone}[s.rng.IntN(3)]
		m.RDDBlockUpdated(now, id, s.rng.IntN(3), s.rng.IntN(4), level)
	case r < 88:
		m.UnpersistRDD(now, s.rng.IntN(3))
	case r < 90:
		if len(s.shuffles) > 0 {
			i := s.rng.IntN(len(s.shuffles))
			m.ShuffleCleaned(now, s.shuffles[i])
			s.shuffles = slices.Delete(s.shuffles, i, i+1)
		}
	default:
		s.now = s.now.Add(time.Duration(s.rng.IntN(4000)) * time.Millisecond)
	}
	s.tick()
}

// tick runs both layers at the current time and checks the invariants.
func (s *appSim) tick() {
	m, now := s.m, s.now
	obs := m.Observation(now)
	// What was busy or shuffle-busy before the tick must not be removed.
	protected := map[string]string{}
	for _, x := range obs.Executors {
		if x.RunningTasks > 0 {
			protected[x.ID] = "busy"
		} else if x.ActiveShuffle && s.cfg.ShuffleTracking() {
			protected[x.ID] = "holds an active shuffle"
		}
	}
	d := s.e.Step(&obs, now)
	removed := slices.Clone(m.Schedule(now))

	target := m.Target(DefaultResourceProfileID)
	if !m.Initializing() && (target < s.cfg.MinExecutors || target > s.cfg.MaxExecutors) {
		s.fail("target %d outside [%d, %d]", target, s.cfg.MinExecutors, s.cfg.MaxExecutors)
	}
	if len(removed) > 0 {
		left := m.ExecutorCount() - len(m.PendingRemoval())
		if floor := max(s.cfg.MinExecutors, target); left < floor {
			s.fail("removal of %v leaves %d executors, below max(min, target) = %d", removed, left, floor)
		}
	}
	for _, id := range removed {
		if why, ok := protected[id]; ok {
			s.fail("removed executor %s although it %s", id, why)
		}
	}
	// The observation layer agrees with the event layer.
	if d.Target != target {
		s.fail("observation layer target %d, event layer %d", d.Target, target)
	}
	if !slices.Equal(d.Remove, removed) {
		s.fail("observation layer removes %v, event layer %v", d.Remove, removed)
	}
	if d.Desired < max(target, len(obs.Executors)-len(removed)) && d.Desired != s.cfg.MaxExecutors {
		s.fail("desired %d below max(target %d, live %d − removed %d)", d.Desired, target, len(obs.Executors), len(removed))
	}
	// The cluster carries out the removals before the next event.
	for _, id := range removed {
		delete(s.execs, id)
		m.ExecutorRemoved(now, id, "killed by DRA")
	}
}

func TestPropertyRandomHistories(t *testing.T) {
	histories, events := 300, 400
	if testing.Short() {
		histories = 50
	}
	for seed := range uint64(histories) {
		s := newAppSim(t, seed)
		for range events {
			s.step()
		}
	}
}
