package closedloop

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_500_000_000, 0)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// decisionRow is a sample carrying a scaler decision made at decided seconds.
func decisionRow(s, decided float64, target, delta, obsPending int) Row {
	return Row{Time: at(s), T: s, Pending: obsPending, DecisionTime: at(decided), Target: target,
		TargetDelta: delta, MaxNeeded: 8, ObsPending: obsPending, DriverTarget: -1}
}

func TestFirstRamp(t *testing.T) {
	rows := []Row{
		decisionRow(0, 0, 1, 0, 0),
		{Time: at(0.5), Pending: 12, DecisionTime: at(0), DriverTarget: -1}, // backlog appears
		decisionRow(1.1, 1, 1, 0, 12),
		decisionRow(1.2, 1, 1, 0, 12), // same decision seen twice: counted once
		decisionRow(2.6, 2.5, 2, 1, 12),
		decisionRow(3.6, 3.5, 4, 2, 11),
		decisionRow(4.6, 4.5, 4, 0, 10),
		decisionRow(4.8, 4.7, 4, 0, 10),
		decisionRow(5.6, 5.5, 6, 0, 9),  // an add the sampling missed (its delta is gone): the target rose by 2, clamped by max 6
		decisionRow(6.6, 6.5, 5, -1, 4), // the need fell below the target: the episode ends
		decisionRow(7.6, 7.5, 6, 1, 4),  // a new ramp, not part of the first one
		decisionRow(9.6, 9.5, 7, 1, 5),  // a later episode is not part of the first ramp
	}
	rp := FirstRamp(rows)
	if got, want := rp.FirstAddLatency, 2*time.Second; got != want {
		t.Errorf("FirstAddLatency = %v, want %v", got, want)
	}
	if want := []int{1, 2, 2}; !slices.Equal(rp.Steps, want) {
		t.Errorf("Steps = %v, want %v", rp.Steps, want)
	}
	if rp.PeakTarget != 6 {
		t.Errorf("PeakTarget = %d, want 6", rp.PeakTarget)
	}
}

func TestRampIsSparkLike(t *testing.T) {
	cases := map[string]struct {
		steps     []int
		peak, max int
		want      int
	}{
		"doubling":                  {[]int{1, 2, 4, 8}, 16, 20, -1},
		"clamped then restarts":     {[]int{1, 2, 1, 1, 2}, 8, 8, -1},
		"clamped by max at the end": {[]int{1, 2, 2}, 6, 6, -1},
		"skips a doubling":          {[]int{1, 4}, 6, 6, 1},
		"starts above 1":            {[]int{2}, 3, 6, 0},
		"doubles after a clamp":     {[]int{1, 1, 2}, 5, 6, 2},
		"passes max":                {[]int{1, 2}, 4, 3, 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := RampIsSparkLike(tc.steps, tc.peak, tc.max); got != tc.want {
				t.Errorf("RampIsSparkLike(%v) = %d, want %d", tc.steps, got, tc.want)
			}
		})
	}
}

func TestLongestDeficit(t *testing.T) {
	rows := []Row{
		{Time: at(0), Replicas: 1, Executors: 1},
		{Time: at(1), Replicas: 3, Executors: 1}, // deficit starts
		{Time: at(5), Replicas: 2, Executors: 1}, // the count changed: still short
		{Time: at(9), Replicas: 2, Executors: 2}, // caught up after 8 s
		{Time: at(10), Replicas: 4, Executors: 2},
		{Time: at(13), Replicas: 4, Executors: 3}, // still short at the end: 3 s
	}
	if got, want := LongestDeficit(rows), 8*time.Second; got != want {
		t.Errorf("LongestDeficit = %v, want %v", got, want)
	}
}

func TestFollowLag(t *testing.T) {
	rows := []Row{
		{Time: at(0), Replicas: 1, Executors: 1},
		{Time: at(1), Replicas: 3, Executors: 1},
		{Time: at(4), Replicas: 3, Executors: 2},
		{Time: at(9), Replicas: 3, Executors: 3}, // reached after 8 s
		{Time: at(10), Replicas: 2, Executors: 3},
		{Time: at(12), Replicas: 2, Executors: 2}, // 2 s
	}
	if got, want := FollowLag(rows), 8*time.Second; got != want {
		t.Errorf("FollowLag = %v, want %v", got, want)
	}
}

func TestCompareShadowFindsTheLag(t *testing.T) {
	// The driver's target steps 1→2→4 at 10 s, 11 s, 12 s; the scaler sees the same steps 1.5 s
	// later. One sample at the end disagrees by 2 whatever the lag.
	var rows []Row
	driver := func(s float64) int {
		switch {
		case s < 10:
			return 1
		case s < 11:
			return 2
		default:
			return 4
		}
	}
	for i := 0; i < 40; i++ {
		s := float64(i) * 0.5
		r := Row{Time: at(s), DriverTarget: driver(s), DriverMaxNeeded: 8,
			DecisionTime: at(s), Target: driver(s - 1.5), MaxNeeded: 8}
		if i == 39 {
			r.Target = 6
		}
		rows = append(rows, r)
	}
	sh := CompareShadow(rows, 3*time.Second, 500*time.Millisecond)
	if sh.Lag != 1500*time.Millisecond {
		t.Errorf("Lag = %v, want 1.5s", sh.Lag)
	}
	if sh.MaxGap != 2 {
		t.Errorf("MaxGap = %d, want 2", sh.MaxGap)
	}
	// At lag 1.5 s the last three driver samples have no scaler decision yet that far ahead,
	// so 37 samples compare; 36 agree.
	if sh.Samples != 37 || sh.Agreement != 36.0/37.0 {
		t.Errorf("Samples %d, Agreement %v; want 37, %v", sh.Samples, sh.Agreement, 36.0/37.0)
	}
}

func TestWriteOutputs(t *testing.T) {
	rows := []Row{
		{Time: at(0), T: 0, Phase: "starting", Executors: 1, Replicas: 1, Target: 1, Desired: 1, DriverTarget: -1},
		{Time: at(1), T: 1, Phase: "pagerank", Pending: 12, Executors: 1, Replicas: 1, Target: 1, Desired: 1, DriverTarget: -1,
			DecisionTime: at(1), ObsPending: 12},
		{Time: at(3), T: 3, Phase: "pagerank", Pending: 10, Executors: 1, Replicas: 2, Target: 2, TargetDelta: 1, Desired: 2,
			DriverTarget: -1, DecisionTime: at(2.5), ObsPending: 11, FailedTasks: 0},
		{Time: at(9), T: 9, Phase: "done", Executors: 2, Replicas: 2, Target: 1, Desired: 2, DriverTarget: -1,
			DecisionTime: at(8.5), ObsPending: 0},
	}
	dir := t.TempDir()
	closed := &Result{Mode: ClosedLoop, Start: at(0), Rows: rows}
	s := Summarize(closed, nil, DefaultDRA())
	if err := WriteOutputs(dir, closed, nil, s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"timeline.csv", "chart.svg", "summary.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"first_add_latency_seconds", "ramp_steps", "tasks_failed", "executors_after_idle", "shadow_agreement", "shadow_max_gap"} {
		if _, ok := got[key]; !ok {
			t.Errorf("summary.json lacks %s", key)
		}
	}
	if got["first_add_latency_seconds"] != 1.5 {
		t.Errorf("first_add_latency_seconds = %v, want 1.5", got["first_add_latency_seconds"])
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "timeline.csv"))
	if n := strings.Count(string(csv), "\n"); n != len(rows)+1 {
		t.Errorf("timeline.csv has %d lines, want %d", n, len(rows)+1)
	}
}

func liveRow(s float64, pending, target, live int) Row {
	return Row{Time: at(s), T: s, Pending: pending, Target: target, Executors: live, DriverTarget: -1}
}

func TestDeliveryOf(t *testing.T) {
	rows := []Row{
		liveRow(0, 0, 1, 1),  // no backlog: not counted
		liveRow(1, 10, 4, 1), // 1 of 4 for 1 s
		liveRow(2, 10, 4, 2), // 2 of 4 for 2 s
		liveRow(4, 10, 2, 4), // target dipped: 4 live count as 2 of 2, for 1 s
		liveRow(5, 0, 1, 4),  // backlog over
		liveRow(6, 0, 1, 4),
	}
	d := DeliveryOf(rows, ClosedLoopTarget)
	if d.TargetSeconds != 14 || d.LiveSeconds != 7 || d.Ratio != 0.5 {
		t.Errorf("delivery %+v, want 7 of 14 executor-seconds, 0.5", d)
	}
	if d := DeliveryOf(rows[:1], ClosedLoopTarget); d.Ratio != -1 {
		t.Errorf("no backlog: ratio %v, want -1", d.Ratio)
	}
}

func TestRequestToRegistered(t *testing.T) {
	rr := func(s float64, replicas, live int) Row {
		return Row{Time: at(s), T: s, Replicas: replicas, Executors: live}
	}
	rows := []Row{
		rr(0, 1, 1),
		rr(1, 3, 1),  // two requested at 1 s
		rr(2, 5, 1),  // two more at 2 s
		rr(6, 5, 2),  // the first registers: 5 s
		rr(8, 5, 4),  // the second (7 s) and the third (6 s)
		rr(9, 4, 4),  // the last request is withdrawn
		rr(10, 4, 4), // nothing outstanding
		rr(11, 5, 4), // a new request at 11 s
		rr(20, 5, 5), // registers after 9 s
	}
	got := RequestToRegistered(rows, ClosedLoopRequested)
	want := []time.Duration{5 * time.Second, 7 * time.Second, 6 * time.Second, 9 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("request to registered %v, want %v", got, want)
	}
	if m := Median(got); m != 6.5 {
		t.Errorf("median %v, want 6.5", m)
	}
	if JobSeconds([]Row{{T: 1, Phase: "pagerank"}, {T: 2, Phase: "done"}}) != 2 {
		t.Error("job seconds: want the first done sample")
	}
}

func TestCoverageAndStartUpSplit(t *testing.T) {
	r := func(s float64, target, replicas, ready, live int) Row {
		return Row{Time: at(s), T: s, Pending: 10, Target: target, Replicas: replicas, WorkersReady: ready, Executors: live}
	}
	rows := []Row{
		r(0, 1, 1, 1, 1),
		r(1, 3, 3, 1, 1), // two asked at 1 s
		r(4, 3, 3, 2, 1), // a worker ready after 3 s
		r(5, 3, 3, 3, 2), // another after 4 s; the first executor 1 s after its worker
		r(7, 3, 3, 3, 3), // the second executor 2 s after its worker
		r(8, 3, 3, 3, 3),
	}
	if d := CoverageOf(rows, ClosedLoopTarget, ClosedLoopRequested); d.Ratio != 1 {
		t.Errorf("requested coverage %+v, want 1: every target executor was asked for at once", d)
	}
	// live: 1 of 1 for 1 s, 1 of 3 for 3 s, 1 of 3 for 1 s, 2 of 3 for 2 s, 3 of 3 for 1 s = 12 of 22.
	if d := DeliveryOf(rows, ClosedLoopTarget); d.LiveSeconds != 12 || d.TargetSeconds != 22 {
		t.Errorf("delivery %+v, want 12 of 22 executor-seconds", d)
	}
	ready := RequestToLive(rows, ClosedLoopRequested, WorkersReady)
	if want := []time.Duration{3 * time.Second, 4 * time.Second}; !slices.Equal(ready, want) {
		t.Errorf("request to worker ready %v, want %v", ready, want)
	}
	exec := RequestToLive(rows, WorkersReady, LiveExecutors)
	if want := []time.Duration{1 * time.Second, 2 * time.Second}; !slices.Equal(exec, want) {
		t.Errorf("worker ready to registered %v, want %v", exec, want)
	}
	if reg := RequestToRegistered(rows, ClosedLoopRequested); !slices.Equal(reg, []time.Duration{4 * time.Second, 6 * time.Second}) {
		t.Errorf("request to registered %v, want [4s 6s]: the two parts add up", reg)
	}
}

func TestCompareShadowDecisionsResolvesTheLagFinerThanTheSamples(t *testing.T) {
	// The driver's target changes every 0.7 s; the scaler decides every 0.1 s and sees each
	// change 0.3 s late. Sampled every 0.5 s, the decisions current at the samples can only be
	// shifted by whole samples, and some disagree at every lag; every decision, shifted by 0.3 s,
	// agrees everywhere.
	driver := func(s float64) int { return 1 + int(s/0.7)%5 }
	var rows, ds []Row
	for i := 0; i < 200; i++ {
		s := float64(i) * 0.1
		ds = append(ds, Row{DecisionTime: at(s), Target: driver(s - 0.3), MaxNeeded: 8})
	}
	for i := 0; i < 36; i++ {
		s := float64(i)*0.5 + 0.05
		cur := ds[int(s/0.1)]
		rows = append(rows, Row{Time: at(s), DriverTarget: driver(s), DriverMaxNeeded: 8,
			DecisionTime: cur.DecisionTime, Target: cur.Target, MaxNeeded: 8})
	}
	coarse := CompareShadow(rows, 2*time.Second, 500*time.Millisecond)
	fine := CompareShadowDecisions(rows, ds, 2*time.Second, 100*time.Millisecond)
	if fine.Lag != 300*time.Millisecond || fine.Agreement != 1 {
		t.Errorf("every decision: lag %v, agreement %v; want 300ms, 1", fine.Lag, fine.Agreement)
	}
	if coarse.Agreement >= 0.9 {
		t.Errorf("decisions at the samples only: agreement %v; want < 0.9 (the lag falls between two samples)", coarse.Agreement)
	}
}

func TestPhaseSecondsAddUpToTheJob(t *testing.T) {
	rows := []Row{
		{Time: at(0), T: 0, Phase: "starting"},
		{Time: at(2), T: 2, Phase: "build_links"},
		{Time: at(30), T: 30, Phase: "pause"},
		{Time: at(50), T: 50, Phase: "pagerank"},
		{Time: at(60), T: 60, Phase: "pagerank"},
		{Time: at(90), T: 90, Phase: "done"},
		{Time: at(95), T: 95, Phase: "done"},
	}
	got := PhaseSeconds(rows)
	want := map[string]float64{"starting": 2, "build_links": 28, "pause": 20, "pagerank": 40}
	if !maps.Equal(got, want) {
		t.Errorf("phases %v, want %v", got, want)
	}
	sum := 0.0
	for _, v := range got {
		sum += v
	}
	if sum != JobSeconds(rows) {
		t.Errorf("phases add up to %v, job %v", sum, JobSeconds(rows))
	}
}
