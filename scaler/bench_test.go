package scaler

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// bigApp builds a Manager for an application with 1,000 executors and 50
// active stages of 100 tasks each: 1,000 tasks run (one per executor), 4,000
// are pending, and the target has already ramped to maxExecutors = 1,000.
func bigApp(tb testing.TB) (*Manager, time.Time) {
	cfg := DefaultConfig()
	cfg.MaxExecutors = 1000
	m, err := NewManager(cfg, ManagerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	now := t0
	for i := range 1000 {
		m.ExecutorAdded(now, strconv.Itoa(i), DefaultResourceProfileID)
	}
	for s := range 50 {
		m.StageSubmitted(now, StageAttempt{StageID: s}, 100, DefaultResourceProfileID)
		for k := range 20 {
			m.TaskStart(now, StageAttempt{StageID: s}, k, strconv.Itoa(s*20+k), false)
		}
	}
	// Ramp to the maximum, then settle.
	for range 100 {
		now = now.Add(time.Second)
		m.Schedule(now)
	}
	if got := m.Target(DefaultResourceProfileID); got != 1000 {
		tb.Fatalf("target %d after ramp, want 1000", got)
	}
	return m, now
}

// bigObservation is the observation-layer twin: 1,000 executors (800 busy,
// 200 idle, some holding cache, none timed out) and 50 stages' worth of tasks.
func bigObservation() *Observation {
	o := &Observation{PendingTasks: 4000, RunningTasks: 800, BacklogDuration: time.Minute, StageSubmitted: true}
	for i := range 1000 {
		x := ExecutorObservation{ID: strconv.Itoa(i), Host: "10.0.0." + strconv.Itoa(i%250)}
		if i < 800 {
			x.RunningTasks = 1
		} else {
			x.IdleDuration = time.Duration(i-800) * 100 * time.Millisecond
			if i%3 == 0 {
				x.Holds = HoldsCache
			}
		}
		o.Executors = append(o.Executors, x)
	}
	// Sources deliver executors sorted by id as strings (cheapest for Step).
	slices.SortFunc(o.Executors, func(a, b ExecutorObservation) int { return compareIDs(a.ID, b.ID) })
	return o
}

func bigEngine(tb testing.TB) (*Engine, *Observation, time.Time) {
	cfg := DefaultConfig()
	cfg.MaxExecutors = 1000
	e, err := NewEngine(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	obs, now := bigObservation(), t0
	for range 100 {
		now = now.Add(time.Second)
		e.Step(obs, now)
	}
	return e, obs, now
}

// BenchmarkManagerSchedule measures one schedule() tick of the event layer
// in steady state (docs/spark-dra.md §5; Spark ticks every 100 ms).
func BenchmarkManagerSchedule(b *testing.B) {
	m, now := bigApp(b)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Millisecond)
		m.Schedule(now)
	}
}

// BenchmarkEngineStep measures one tick of the observation layer (what the
// live scaler runs per ScaledObject): 1,000 executors re-read each time.
func BenchmarkEngineStep(b *testing.B) {
	e, obs, now := bigEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Millisecond)
		e.Step(obs, now)
	}
}

// BenchmarkEngineStepUnsorted is BenchmarkEngineStep with executors in
// numeric rather than string order, which costs Step a sort.
func BenchmarkEngineStepUnsorted(b *testing.B) {
	e, obs, now := bigEngine(b)
	slices.SortFunc(obs.Executors, func(x, y ExecutorObservation) int {
		a, _ := strconv.Atoi(x.ID)
		c, _ := strconv.Atoi(y.ID)
		return a - c
	})
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Millisecond)
		e.Step(obs, now)
	}
}

// Steady-state ticks allocate nothing (both layers).
func TestTickDoesNotAllocate(t *testing.T) {
	m, now := bigApp(t)
	if n := testing.AllocsPerRun(100, func() { now = now.Add(100 * time.Millisecond); m.Schedule(now) }); n != 0 {
		t.Errorf("Manager.Schedule allocates %.1f times per tick", n)
	}
	e, obs, now2 := bigEngine(t)
	if n := testing.AllocsPerRun(100, func() { now2 = now2.Add(100 * time.Millisecond); e.Step(obs, now2) }); n != 0 {
		t.Errorf("Engine.Step allocates %.1f times per tick", n)
	}
}
