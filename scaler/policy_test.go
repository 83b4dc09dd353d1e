package scaler

import (
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	cases := map[string]struct {
		props map[string]string
		want  Policy
	}{
		"absent is spark":        {map[string]string{}, ""},
		"spark":                  {map[string]string{KeyPolicy: "spark"}, PolicySpark},
		"ramp":                   {map[string]string{KeyPolicy: "ramp"}, PolicyRamp},
		"release, trimmed":       {map[string]string{KeyPolicy: " release "}, PolicyRelease},
		"lean, case-insensitive": {map[string]string{KeyPolicy: "LEAN"}, PolicyLean},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseConfig(c.props)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Policy != c.want || cfg.Policy.String() == "" {
				t.Fatalf("policy %q (%s), want %q", cfg.Policy, cfg.Policy, c.want)
			}
		})
	}
}

func TestUnknownPolicyNamesKeyValueAndChoices(t *testing.T) {
	_, err := ParseConfig(map[string]string{KeyPolicy: "fastest"})
	want := `policy ("fastest") must be one of spark, ramp, paced, release, lean`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
}

// Under "ramp" the first add goes straight to the need; under "spark" it
// adds one (docs/spark-dra.md §5), and so does "lean" before it knows the pace.
func TestRampPolicyJumpsToNeed(t *testing.T) {
	for _, c := range []struct {
		policy Policy
		want   []int // target after 1 s, 2 s, 3 s of backlog
	}{
		{PolicySpark, []int{1, 3, 7}},
		{PolicyRamp, []int{20, 20, 20}},
		// Lean knows no pace yet (no executor, none finished): Spark's ramp.
		{PolicyLean, []int{1, 3, 7}},
	} {
		t.Run(string(c.policy), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Policy = c.policy
			m, err := NewManager(cfg, ManagerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m.StageSubmitted(t0, StageAttempt{StageID: 0}, 20, DefaultResourceProfileID)
			e, _ := NewEngine(cfg)
			for i, want := range c.want {
				now := t0.Add(time.Duration(i+1) * time.Second)
				m.Schedule(now)
				obs := m.Observation(now)
				d := e.Step(&obs, now)
				if got := m.TotalTarget(); got != want || d.Target != want {
					t.Fatalf("after %v: manager target %d, engine %d, want %d", now.Sub(t0), got, d.Target, want)
				}
			}
		})
	}
}

// An executor that wrote shuffle output for a job that has ended: Spark
// keeps it for shuffleTracking.timeout (never, by default); "release" lets
// it go at the idle timeout, but only when decommissioning migrates the
// output (docs/spark-dra.md §6).
func TestReleasePolicyFreesFinishedShuffleOnlyWithMigration(t *testing.T) {
	migrate := map[string]string{KeyDecommissionEnabled: "true", KeyStorageDecommission: "true"}
	for _, c := range []struct {
		name    string
		policy  Policy
		props   map[string]string
		removed bool
	}{
		{"spark keeps it", PolicySpark, migrate, false},
		{"release without migration keeps it", PolicyRelease, nil, false},
		{"release without block-manager decommissioning keeps it", PolicyRelease, map[string]string{KeyDecommissionEnabled: "true"}, false},
		{"release with shuffle blocks off keeps it", PolicyRelease, map[string]string{KeyDecommissionEnabled: "true", KeyStorageDecommission: "true", KeyDecommissionShuffleBlock: "false"}, false},
		{"release with migration frees it", PolicyRelease, migrate, true},
		{"lean with migration frees it", PolicyLean, migrate, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			props := map[string]string{KeyPolicy: string(c.policy), KeyExecutorIdleTimeout: "10s"}
			maps.Copy(props, c.props)
			cfg, err := ParseConfig(props)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := NewManager(cfg, ManagerOptions{})
			sa := StageAttempt{StageID: 1}
			m.ExecutorAdded(t0, "1", DefaultResourceProfileID)
			m.JobStart(t0, 7, []JobStage{{StageID: 1, ShuffleID: 3}})
			m.StageSubmitted(t0, sa, 1, DefaultResourceProfileID)
			m.TaskStart(t0, sa, 0, "1", false)
			end := t0.Add(time.Second)
			m.TaskEnd(end, sa, 0, "1", false, TaskSuccess)
			m.StageCompleted(end, sa)
			m.JobEnd(end, 7)
			now := end.Add(11 * time.Second)
			obs := m.Observation(now)
			removed := m.Schedule(now)
			if obs.Executors[0].Holds != HoldsShuffle {
				t.Fatalf("executor holds %v, want shuffle", obs.Executors[0].Holds)
			}
			e, _ := NewEngine(cfg)
			d := e.Step(&obs, now)
			if (len(removed) == 1) != c.removed || (len(d.Remove) == 1) != c.removed {
				t.Fatalf("manager removed %v, engine %v; want removed=%v", removed, d.Remove, c.removed)
			}
		})
	}
}

// Cached blocks: Spark keeps the executor for cachedExecutorIdleTimeout
// (never, by default); "release" lets it go at the idle timeout when
// decommissioning migrates RDD blocks (on by default once block-manager
// decommissioning is).
func TestReleasePolicyFreesCachedBlocksOnlyWithMigration(t *testing.T) {
	for _, c := range []struct {
		name    string
		policy  Policy
		props   map[string]string
		removed bool
	}{
		{"spark keeps it", PolicySpark, map[string]string{KeyDecommissionEnabled: "true", KeyStorageDecommission: "true"}, false},
		{"release without migration keeps it", PolicyRelease, nil, false},
		{"release with rdd blocks off keeps it", PolicyRelease, map[string]string{KeyDecommissionEnabled: "true", KeyStorageDecommission: "true", KeyDecommissionRDDBlocks: "false"}, false},
		{"release with migration frees it", PolicyRelease, map[string]string{KeyDecommissionEnabled: "true", KeyStorageDecommission: "true"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			props := map[string]string{KeyPolicy: string(c.policy), KeyExecutorIdleTimeout: "10s"}
			maps.Copy(props, c.props)
			cfg, err := ParseConfig(props)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := NewManager(cfg, ManagerOptions{})
			m.ExecutorAdded(t0, "1", DefaultResourceProfileID)
			m.RDDBlockUpdated(t0, "1", 4, 0, StorageMemoryOnly)
			now := t0.Add(11 * time.Second)
			obs := m.Observation(now)
			removed := m.Schedule(now)
			e, _ := NewEngine(cfg)
			d := e.Step(&obs, now)
			if (len(removed) == 1) != c.removed || (len(d.Remove) == 1) != c.removed {
				t.Fatalf("manager removed %v, engine %v; want removed=%v", removed, d.Remove, c.removed)
			}
		})
	}
}

// stubDemand is a demand with fixed counts for the default profile.
type stubDemand struct{ pending, running, execs int }

func (s *stubDemand) pendingTasks(int) int            { return s.pending }
func (s *stubDemand) pendingSpeculativeTasks(int) int { return 0 }
func (s *stubDemand) runningTasks(int) int            { return s.running }
func (s *stubDemand) unschedulableTaskSets(int) int   { return 0 }
func (s *stubDemand) executorCount(int) int           { return s.execs }
func (s *stubDemand) pendingRemovalCount(int) int     { return 0 }
func (s *stubDemand) decommissioningCount(int) int    { return 0 }

// "paced" learns the start-up latency (2 executors asked for at 1 s, up at
// 11 s: 10 s) and the completion rate (one task a second since the stage
// arrived), then adds only for the pending tasks the live executors will
// not have finished in 10 s.
func TestPacedLearnsLatencyAndRate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Policy = PolicyPaced
	a := newAllocator(cfg, nil)
	a.initializing = false
	p := &a.profiles[0]
	d := &stubDemand{pending: 100, running: 0}
	sec := func(s float64) int64 { return int64(s * 1e9) }
	a.pace(sec(0), d)
	p.target = 2 // the first adds
	a.pace(sec(1), d)
	d.execs, d.running, d.pending = 2, 2, 98
	a.pace(sec(11), d)
	if p.pace.latency != 10 {
		t.Fatalf("latency %v, want 10", p.pace.latency)
	}
	for i := 12; i <= 71; i++ {
		d.pending--
		a.pace(sec(float64(i)), d)
	}
	// 60 tasks in the 71 s since the work last rose (at 0 s).
	if r := p.pace.rate; math.Abs(r-60.0/71) > 1e-9 {
		t.Fatalf("rate %v, want 60/71", r)
	}
	d.pending = 5
	if got := a.pacedNeed(p, 7, d); got != 2 {
		t.Fatalf("5 pending: need %d, want 2 (the live executors finish them first)", got)
	}
	d.pending = 30
	// 30 − 8.45 = 21.55 tasks left after 10 s: 22 more executors, capped by the need.
	if got := a.pacedNeed(p, 32, d); got != 24 {
		t.Fatalf("30 pending: need %d, want 2 + 22", got)
	}
	// A new stage: the rate is measured afresh.
	d.pending = 200
	a.pace(sec(72), d)
	if p.pace.rate != 0 || a.pacedNeed(p, 40, d) != 40 {
		t.Fatalf("after new work: rate %v, need %d; want 0 and Spark's 40", p.pace.rate, a.pacedNeed(p, 40, d))
	}
	if got := a.pacedNeed(p, 16, d); got != 16 {
		t.Fatalf("need %d, want the need itself when smaller", got)
	}
	a.cfg.Policy = PolicySpark
	if got := a.pacedNeed(p, 7, d); got != 7 {
		t.Fatalf("spark: need %d, want 7", got)
	}
}

// The property test of the two layers (property_test.go) under every
// policy, with decommissioning on half the time so "release" acts.
func TestPropertyRandomHistoriesUnderPolicies(t *testing.T) {
	histories := 120
	if testing.Short() {
		histories = 20
	}
	for seed := range uint64(histories) {
		s := newAppSim(t, seed)
		pr := rand.New(rand.NewPCG(seed, 7))
		s.cfg.Policy = Policies()[pr.IntN(len(Policies()))]
		s.cfg.DecommissionEnabled = pr.IntN(2) == 0
		s.cfg.StorageDecommissionEnabled = pr.IntN(3) > 0
		if err := s.cfg.Validate(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		s.m, _ = NewManager(s.cfg, ManagerOptions{})
		s.e, _ = NewEngine(s.cfg)
		for range 400 {
			s.step()
		}
	}
}
