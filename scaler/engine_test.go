package scaler

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_500_000_000, 0)

func mustEngine(t testing.TB, props map[string]string) *Engine {
	t.Helper()
	cfg, err := ParseConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func busy(n int) []ExecutorObservation {
	out := make([]ExecutorObservation, n)
	for i := range out {
		out[i] = ExecutorObservation{ID: fmt.Sprint(i + 1), RunningTasks: 1}
	}
	return out
}

// A steady backlog ramps the target 1, 2, 4… each sustained timeout, the
// first add one schedulerBacklogTimeout after the backlog appeared, capped by
// maxExecutors (docs/spark-dra.md §5, "Ramp-up facts").
func TestEngineRampUnderSteadyBacklog(t *testing.T) {
	e := mustEngine(t, map[string]string{
		KeyMaxExecutors: "10", KeySchedulerBacklogTimeout: "1s", KeySustainedBacklogTimeout: "2s",
	})
	var adds []int
	var addTimes []time.Duration
	live := 0
	for tick := 0; tick <= 120; tick++ { // 12 s at Spark's 100 ms tick
		now := t0.Add(time.Duration(tick) * 100 * time.Millisecond)
		obs := Observation{
			PendingTasks:    max(0, 100-live),
			RunningTasks:    min(live, 100),
			BacklogDuration: now.Sub(t0),
			StageSubmitted:  true,
			Executors:       busy(live),
		}
		d := e.Step(&obs, now)
		if d.TargetDelta > 0 {
			adds = append(adds, d.TargetDelta)
			addTimes = append(addTimes, now.Sub(t0))
		}
		live = d.Target // executors arrive at once in this test
	}
	if want := []int{1, 2, 4, 3}; !slices.Equal(adds, want) {
		t.Fatalf("adds = %v, want %v (1, 2, 4, then capped by max 10)", adds, want)
	}
	want := []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 7 * time.Second}
	if !slices.Equal(addTimes, want) {
		t.Fatalf("add times = %v, want %v", addTimes, want)
	}
}

// An add is capped by what the tasks need, and the ramp step restarts at 1.
func TestEngineAddCappedByNeed(t *testing.T) {
	e := mustEngine(t, map[string]string{KeyExecutorCores: "2"})
	obs := Observation{PendingTasks: 5, BacklogDuration: 10 * time.Second, StageSubmitted: true}
	d := e.Step(&obs, t0)
	if d.Target != 1 || d.MaxNeeded != 3 {
		t.Fatalf("first add: target %d maxNeeded %d", d.Target, d.MaxNeeded)
	}
	d = e.Step(&obs, t0.Add(time.Second))
	if d.Target != 3 || d.NumExecutorsToAdd != 4 {
		t.Fatalf("second add: target %d toAdd %d, want 3 and 4", d.Target, d.NumExecutorsToAdd)
	}
	d = e.Step(&obs, t0.Add(2*time.Second))
	if d.Target != 3 || d.NumExecutorsToAdd != 1 {
		t.Fatalf("capped add: target %d toAdd %d, want 3 and 1", d.Target, d.NumExecutorsToAdd)
	}
}

// The first add after executors exist starts from them (target < live).
func TestEngineAvoidsRampFromBelowLiveExecutors(t *testing.T) {
	e := mustEngine(t, nil)
	obs := Observation{PendingTasks: 100, RunningTasks: 15, BacklogDuration: 5 * time.Second, StageSubmitted: true, Executors: busy(15)}
	d := e.Step(&obs, t0)
	if d.Target != 16 || d.Desired != 16 {
		t.Fatalf("target %d desired %d, want 16", d.Target, d.Desired)
	}
}

// A restarted scaler (fresh Engine) keeps every executor that is busy or not
// timed out, whatever its own target: desired = max(target, live − removable).
func TestEngineRestartDoesNotShrink(t *testing.T) {
	obs := Observation{RunningTasks: 5, StageSubmitted: true, Executors: busy(5)}
	obs.Executors = append(obs.Executors, ExecutorObservation{ID: "6", IdleDuration: 30 * time.Second})
	e := mustEngine(t, map[string]string{KeyExecutorIdleTimeout: "60s"})
	d := e.Step(&obs, t0)
	if d.Target != 0 || d.Desired != 6 || len(d.Remove) != 0 {
		t.Fatalf("target %d desired %d remove %v; want 0 (no backlog: DRA never raised it), 6, none", d.Target, d.Desired, d.Remove)
	}
}

// No stage yet: DRA is initializing and keeps its initial target.
func TestEngineInitializingKeepsInitialExecutors(t *testing.T) {
	e := mustEngine(t, map[string]string{KeyMinExecutors: "1", KeyInitialExecutors: "3"})
	obs := Observation{Executors: []ExecutorObservation{{ID: "1"}, {ID: "2"}, {ID: "3"}}}
	d := e.Step(&obs, t0)
	if !d.Initializing || d.Target != 3 || d.Desired != 3 {
		t.Fatalf("initializing %v target %d desired %d", d.Initializing, d.Target, d.Desired)
	}
	// An executor idle past its timeout ends initializing; the target then
	// drops to what is needed and idle executors go, down to min.
	for i := range obs.Executors {
		obs.Executors[i].IdleDuration = 61 * time.Second
	}
	d = e.Step(&obs, t0.Add(61*time.Second))
	if d.Initializing || d.Target != 1 || !slices.Equal(d.Remove, []string{"1", "2"}) || d.Desired != 1 {
		t.Fatalf("after timeout: initializing %v target %d remove %v desired %d", d.Initializing, d.Target, d.Remove, d.Desired)
	}
}

// Timed-out executors are offered in Spark's order, ids sorted as strings
// ("10" before "2", SPARK-38019), and the floors keep the last ones.
func TestEngineRemovalOrderIsStringOrder(t *testing.T) {
	e := mustEngine(t, map[string]string{KeyMinExecutors: "1", KeyExecutorIdleTimeout: "60s"})
	obs := Observation{StageSubmitted: true, Executors: []ExecutorObservation{
		{ID: "2", IdleDuration: time.Hour}, {ID: "3", IdleDuration: time.Hour}, {ID: "10", IdleDuration: time.Hour},
	}}
	d := e.Step(&obs, t0)
	if !slices.Equal(d.Remove, []string{"10", "2"}) || d.Desired != 1 {
		t.Fatalf("remove %v desired %d; want [10 2] and 1", d.Remove, d.Desired)
	}
	states := map[string]ExecutorState{}
	for _, v := range d.Executors {
		states[v.ID] = v.State
	}
	if states["3"] != ExecutorKeptForMinExecutors {
		t.Fatalf("executor 3 state %v, want kept for minExecutors", states["3"])
	}
}

// What an executor holds sets its timeout: the maximum of the timeouts that
// apply (Spark 4.x, SPARK-43398); an active shuffle keeps it busy.
func TestEngineHoldsAndTimeouts(t *testing.T) {
	props := map[string]string{
		KeyExecutorIdleTimeout: "60s", KeyCachedExecutorIdle: "120s", KeyShuffleTrackingTimeout: "240s",
	}
	cases := map[string]struct {
		x      ExecutorObservation
		remove bool
		state  ExecutorState
		tmo    time.Duration
	}{
		"nothing held, past idle":       {ExecutorObservation{IdleDuration: 61 * time.Second}, true, ExecutorRemove, 60 * time.Second},
		"nothing held, before idle":     {ExecutorObservation{IdleDuration: 59 * time.Second}, false, ExecutorIdle, 60 * time.Second},
		"cache, past idle only":         {ExecutorObservation{IdleDuration: 90 * time.Second, Holds: HoldsCache}, false, ExecutorIdle, 120 * time.Second},
		"cache, past cached timeout":    {ExecutorObservation{IdleDuration: 121 * time.Second, Holds: HoldsCache}, true, ExecutorRemove, 120 * time.Second},
		"shuffle, past cached timeout":  {ExecutorObservation{IdleDuration: 200 * time.Second, Holds: HoldsShuffle}, false, ExecutorIdle, 240 * time.Second},
		"cache+shuffle uses the max":    {ExecutorObservation{IdleDuration: 239 * time.Second, Holds: HoldsCacheShuffle}, false, ExecutorIdle, 240 * time.Second},
		"shuffle past shuffle timeout":  {ExecutorObservation{IdleDuration: 241 * time.Second, Holds: HoldsShuffle}, true, ExecutorRemove, 240 * time.Second},
		"active shuffle is never idle":  {ExecutorObservation{IdleDuration: time.Hour, Holds: HoldsShuffle, ActiveShuffle: true}, false, ExecutorShuffleActive, 240 * time.Second},
		"busy executor is never idle":   {ExecutorObservation{IdleDuration: time.Hour, RunningTasks: 1}, false, ExecutorBusy, 60 * time.Second},
		"default shuffle timeout never": {ExecutorObservation{IdleDuration: 1000 * time.Hour, Holds: HoldsShuffle}, false, ExecutorIdle, 240 * time.Second},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := props
			if name == "default shuffle timeout never" {
				p = map[string]string{}
				c.tmo = Infinite
			}
			e := mustEngine(t, p)
			c.x.ID = "1"
			d := e.Step(&Observation{StageSubmitted: true, Executors: []ExecutorObservation{c.x}}, t0)
			if (len(d.Remove) == 1) != c.remove || d.Executors[0].State != c.state || d.Executors[0].Timeout != c.tmo {
				t.Fatalf("remove %v state %v timeout %v; want remove=%v state %v timeout %v",
					d.Remove, d.Executors[0].State, d.Executors[0].Timeout, c.remove, c.state, c.tmo)
			}
		})
	}
}

// With an external shuffle service (or tracking off), shuffle data pins
// nothing: only the idle timeout applies.
func TestEngineShuffleIgnoredWithoutTracking(t *testing.T) {
	e := mustEngine(t, map[string]string{KeyShuffleServiceEnabled: "true"})
	d := e.Step(&Observation{StageSubmitted: true, Executors: []ExecutorObservation{
		{ID: "1", IdleDuration: 61 * time.Second, Holds: HoldsShuffle, ActiveShuffle: true},
	}}, t0)
	if !slices.Equal(d.Remove, []string{"1"}) {
		t.Fatalf("remove %v, want [1]", d.Remove)
	}
}

// The backlog timer is derived from the observed backlog duration, so a
// scaler that starts mid-backlog adds at once instead of waiting again.
func TestEngineBacklogFromObservedDuration(t *testing.T) {
	e := mustEngine(t, map[string]string{KeySchedulerBacklogTimeout: "5s"})
	obs := Observation{PendingTasks: 10, BacklogDuration: 4 * time.Second, StageSubmitted: true}
	if d := e.Step(&obs, t0); d.Target != 0 || d.AddTime != t0.Add(time.Second) {
		t.Fatalf("target %d addTime %v; want 0 and t0+1s", d.Target, d.AddTime)
	}
	obs.BacklogDuration = 5 * time.Second
	if d := e.Step(&obs, t0.Add(time.Second)); d.Target != 1 {
		t.Fatalf("target %d, want 1", d.Target)
	}
	// The backlog ends: the timer clears and the ramp step resets.
	obs = Observation{RunningTasks: 1, StageSubmitted: true, Executors: busy(1)}
	if d := e.Step(&obs, t0.Add(2*time.Second)); !d.AddTime.IsZero() || d.NumExecutorsToAdd != 1 {
		t.Fatalf("addTime %v toAdd %d after the backlog", d.AddTime, d.NumExecutorsToAdd)
	}
}

func TestHoldsRoundTrip(t *testing.T) {
	for _, h := range []Holds{HoldsNone, HoldsCache, HoldsShuffle, HoldsCacheShuffle} {
		got, err := ParseHolds(h.String())
		if err != nil || got != h {
			t.Fatalf("ParseHolds(%q) = %v, %v", h.String(), got, err)
		}
	}
	if _, err := ParseHolds("disk"); err == nil {
		t.Fatal("ParseHolds accepted an unknown value")
	}
}
