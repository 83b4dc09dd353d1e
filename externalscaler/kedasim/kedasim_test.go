package kedasim_test

import (
	"context"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/externalscaler"
	"github.com/sparkdra/sparkdra/externalscaler/internal/bufgrpc"
	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

var t0 = time.Unix(1_500_000_000, 0)

// loop wires a workload, spark-dra-scaler (real gRPC over bufconn) and the
// KEDA + HPA emulation, one second per step: the workload moves, the
// scaler ticks, KEDA and the HPA act, and the workload follows the new
// replica count (the ReplicaSet honouring the scaler's deletion costs).
type loop struct {
	t     *testing.T
	w     *workload
	srv   *externalscaler.Server
	sim   *kedasim.Sim
	clock *kedasim.FakeClock
	steps []kedasim.Step
}

var draMeta = map[string]string{
	"scalerAddress":                                            "spark-dra-scaler:9090",
	"selector":                                                 `app_name="etl"`,
	"spark.dynamicAllocation.minExecutors":                     "0",
	"spark.dynamicAllocation.maxExecutors":                     "20",
	"spark.dynamicAllocation.schedulerBacklogTimeout":          "1s",
	"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout": "1s",
	"spark.dynamicAllocation.executorIdleTimeout":              "10s",
}

func newLoop(t *testing.T, w *workload, so kedasim.ScaledObject) *loop {
	t.Helper()
	clock := &kedasim.FakeClock{T: t0}
	srv, err := externalscaler.NewServer(externalscaler.Options{DefaultSource: w, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	conn := bufgrpc.Serve(t, srv.Register)
	so.Name, so.Namespace, so.Metadata = "workers", "spark", draMeta
	sim, err := kedasim.New(conn, clock, so)
	if err != nil {
		t.Fatal(err)
	}
	// KEDA's first GetMetricSpec registers the ScaledObject before the
	// first tick.
	if _, err := sim.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &loop{t: t, w: w, srv: srv, sim: sim, clock: clock}
}

// run advances n seconds.
func (l *loop) run(n int, each func(sec int)) {
	l.t.Helper()
	for range n {
		l.clock.Advance(time.Second)
		now := l.clock.Now()
		l.w.advance(now)
		l.srv.Tick(l.t.Context(), now)
		st, err := l.sim.Step(l.t.Context())
		if err != nil {
			l.t.Fatal(err)
		}
		for _, r := range st.Reads {
			if r.Err != nil {
				l.t.Fatalf("t=%v: read failed: %v", now.Sub(t0), r.Err)
			}
		}
		l.steps = append(l.steps, st)
		var costs map[string]int32
		if rec := l.srv.Decision(externalscaler.ObjectKey{Namespace: "spark", Name: "workers"}); rec != nil {
			costs = externalscaler.DeletionCosts(rec)
		}
		l.w.resize(int(st.Replicas), costs, st.By)
		if each != nil {
			each(int(now.Sub(t0) / time.Second))
		}
	}
}

// replicas returns the replica count after each second.
func (l *loop) replicas() []int32 {
	out := make([]int32, len(l.steps))
	for i, s := range l.steps {
		out[i] = s.Replicas
	}
	return out
}

func TestDRATimelineThroughKEDAAndHPA(t *testing.T) {
	w := &workload{}
	w.submit(40, 30*time.Second)
	l := newLoop(t, w, kedasim.ScaledObject{MinReplicaCount: 0, MaxReplicaCount: 20,
		PollingInterval: time.Second, HPASyncPeriod: time.Second, CooldownPeriod: 30 * time.Second,
		Behavior: ptr(kedasim.ExactBehavior())})
	l.run(150, nil)
	reps := l.replicas()
	t.Logf("replicas per second: %v", reps)

	// Nothing before the backlog timeout (1 s after the backlog began at t=1).
	if reps[0] != 0 {
		t.Errorf("t=1s: %d replicas before the backlog timeout, want 0", reps[0])
	}
	// The first add at the backlog timeout: KEDA activates 0 → 1.
	if reps[1] != 1 || l.steps[1].By != "keda-activate" {
		t.Errorf("t=2s: %d replicas by %q, want 1 by keda-activate", reps[1], l.steps[1].By)
	}
	// Then one step per sustainedSchedulerBacklogTimeout, each twice the
	// previous (1, 2, 4, 8), until maxExecutors (20).
	var steps []int32
	for i := 1; i < len(reps) && reps[i] < 20; i++ {
		if d := reps[i+1] - reps[i]; d != 0 {
			steps = append(steps, d)
		}
	}
	if want := []int32{2, 4, 8, 5}; !equal(steps, want) {
		t.Errorf("ramp steps after the first add: %v, want %v (doubling, capped at maxExecutors 20)", steps, want)
	}
	// Release: executors go only once idle for executorIdleTimeout (10 s),
	// and the first release comes right then.
	if len(w.removed) == 0 {
		t.Fatal("no executor was ever released")
	}
	var last removal
	for _, r := range w.removed {
		if r.by == "keda-deactivate" {
			last = r
			continue // the HPA keeps one replica; KEDA removes it after the cooldown
		}
		// One tick for the scaler to see the timeout, one HPA sync to act.
		if r.idle < 10*time.Second || r.idle > 12*time.Second {
			t.Errorf("executor %s removed at t=%v after %v idle, want within [10s, 12s]", r.id, r.at.Sub(t0), r.idle)
		}
	}
	// No executor is released while tasks are still pending.
	for i, st := range l.steps {
		if st.Replicas < st.Before && i < 30 {
			t.Errorf("t=%ds: replicas dropped %d → %d while the job's backlog lasts", i+1, st.Before, st.Replicas)
		}
	}
	// Back to zero: the HPA keeps max(minReplicaCount, 1) = 1; KEDA removes
	// it once IsActive has been false for the cooldown (30 s).
	if reps[len(reps)-1] != 0 || last.id == "" {
		t.Fatalf("end: %d replicas, want 0 by keda-deactivate", reps[len(reps)-1])
	}
	lastActive := t0
	for _, st := range l.steps {
		for _, r := range st.Reads {
			if r.Active {
				lastActive = st.Time
			}
		}
	}
	if got := last.at.Sub(lastActive); got != 30*time.Second {
		t.Errorf("deactivated %v after the last active read, want the 30s cooldown", got)
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

func TestShuffleHoldersAreKept(t *testing.T) {
	w := &workload{shuffle: true}
	w.submit(20, 2*time.Second) // short tasks: the first executors run them all
	l := newLoop(t, w, kedasim.ScaledObject{MinReplicaCount: 0, MaxReplicaCount: 20,
		PollingInterval: time.Second, HPASyncPeriod: time.Second, CooldownPeriod: 30 * time.Second,
		Behavior: ptr(kedasim.ExactBehavior())})
	holders := func() int {
		n := 0
		for _, x := range w.execs {
			if x.holds == "shuffle" {
				n++
			}
		}
		return n
	}
	l.run(60, func(sec int) {
		if h := holders(); len(w.execs) < h {
			t.Fatalf("t=%ds: %d executors for %d shuffle holders", sec, len(w.execs), h)
		}
	})
	held := holders()
	t.Logf("replicas per second: %v; %d shuffle holders, %d released", l.replicas(), held, len(w.removed))
	if held == 0 || len(w.removed) == 0 {
		t.Fatalf("scenario did not produce both shuffle holders (%d) and released executors (%d)", held, len(w.removed))
	}
	for _, r := range w.removed {
		if r.holds != "" {
			t.Errorf("executor %s holding %s removed at t=%v while shuffle tracking says it is held", r.id, r.holds, r.at.Sub(t0))
		}
	}
	if got := int(l.sim.Replicas()); got != held {
		t.Errorf("while shuffle output is held: %d replicas, want the %d holders", got, held)
	}
	// The job that used the shuffle ends and its output is cleaned: the
	// holders have long been idle, so they go at once (down to the HPA's
	// minimum of 1, then KEDA's cooldown).
	w.releaseShuffle()
	l.run(2, nil)
	if got := l.sim.Replicas(); got != 1 {
		t.Errorf("after the shuffle release: %d replicas, want 1", got)
	}
}

func TestDefaultHPABehaviorDelaysTheRelease(t *testing.T) {
	// Without the recommended behavior the HPA's 300 s scale-down window
	// holds the highest recent recommendation: DRA's release comes 300 s
	// late.
	w := &workload{}
	w.submit(12, 20*time.Second)
	l := newLoop(t, w, kedasim.ScaledObject{MinReplicaCount: 1, MaxReplicaCount: 20,
		PollingInterval: time.Second, HPASyncPeriod: 15 * time.Second, InitialReplicas: 1})
	var desiredDrop, replicaDrop time.Time
	prev := 0
	l.run(420, func(int) {
		rec := l.srv.Decision(externalscaler.ObjectKey{Namespace: "spark", Name: "workers"})
		if rec != nil && rec.Desired < prev && desiredDrop.IsZero() {
			desiredDrop = l.clock.Now()
		}
		if rec != nil {
			prev = rec.Desired
		}
		if st := l.steps[len(l.steps)-1]; st.Replicas < st.Before && replicaDrop.IsZero() {
			replicaDrop = st.Time
		}
	})
	if desiredDrop.IsZero() || replicaDrop.IsZero() {
		t.Fatalf("no release: desired dropped at %v, replicas at %v", desiredDrop, replicaDrop)
	}
	if lag := replicaDrop.Sub(desiredDrop); lag < 300*time.Second {
		t.Errorf("replicas dropped %v after the desired count, want at least the 300s stabilization window", lag)
	}
}

func TestPushActivation(t *testing.T) {
	// pollingInterval 30 s: without push, activation would wait for the poll.
	w := &workload{}
	l := newLoop(t, w, kedasim.ScaledObject{MinReplicaCount: 0, MaxReplicaCount: 20, PollingInterval: 30 * time.Second,
		HPASyncPeriod: time.Second, CooldownPeriod: 30 * time.Second, Behavior: ptr(kedasim.ExactBehavior())})
	if err := l.sim.WatchPush(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.run(3, nil) // no demand: the stream says false (consumed by these Steps), replicas stay 0
	if r := l.sim.Replicas(); r != 0 {
		t.Fatalf("%d replicas without demand", r)
	}
	w.submit(5, 20*time.Second)
	for range 5 { // the backlog timeout passes, DRA adds: IsActive turns true
		l.clock.Advance(time.Second)
		w.advance(l.clock.Now())
		l.srv.Tick(t.Context(), l.clock.Now())
		if rec := l.srv.Decision(externalscaler.ObjectKey{Namespace: "spark", Name: "workers"}); rec.Desired > 0 {
			break
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The stream's first message (false, no demand) may still be in flight when the Steps
	// above drained it; KEDA ignores a false, so wait, bounded by ctx, for the true.
	for {
		v, err := l.sim.AwaitPush(ctx)
		if err != nil {
			t.Fatalf("no true pushed: %v", err)
		}
		if v {
			break
		}
	}
	st, err := l.sim.Step(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Polled || !st.Pushed || st.By != "keda-push-activate" || st.Replicas != 1 {
		t.Errorf("step %+v, want activation by push before any poll", st)
	}
}
