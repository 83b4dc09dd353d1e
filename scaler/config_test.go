package scaler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSparkDuration(t *testing.T) {
	cases := map[string]struct {
		in   string
		unit time.Duration
		want time.Duration
		err  string
	}{
		"seconds suffix":                  {"60s", time.Second, 60 * time.Second, ""},
		"bare number in the key's unit":   {"100", time.Second, 100 * time.Second, ""},
		"bare number in milliseconds":     {"250", time.Millisecond, 250 * time.Millisecond, ""},
		"min suffix":                      {"2min", time.Second, 2 * time.Minute, ""},
		"m suffix":                        {"3m", time.Second, 3 * time.Minute, ""},
		"hours":                           {"1h", time.Second, time.Hour, ""},
		"days":                            {"1d", time.Second, 24 * time.Hour, ""},
		"case and spaces":                 {"  5S ", time.Second, 5 * time.Second, ""},
		"milliseconds truncate to 0 s":    {"500ms", time.Second, 0, ""},
		"1500ms truncates to 1 s":         {"1500ms", time.Second, time.Second, ""},
		"microseconds into ms":            {"2500us", time.Millisecond, 2 * time.Millisecond, ""},
		"negative":                        {"-1s", time.Second, -time.Second, ""},
		"Long.MaxValue ms saturates":      {"9223372036854775807", time.Millisecond, Infinite, ""},
		"huge days saturate":              {"100000000d", time.Second, Infinite, ""},
		"empty":                           {"", time.Second, 0, "failed to parse time string"},
		"fraction":                        {"1.5s", time.Second, 0, "failed to parse time string"},
		"suffix only":                     {"s", time.Second, 0, "failed to parse time string"},
		"unknown suffix":                  {"10x", time.Second, 0, `invalid suffix "x"`},
		"space inside":                    {"1 s", time.Second, 0, "failed to parse time string"},
		"overflowing number":              {"99999999999999999999", time.Second, 0, "out of range"},
		"sec is not a Spark suffix":       {"5sec", time.Second, 0, `invalid suffix "sec"`},
		"error explains the syntax":       {"abc", time.Second, 0, "minutes (m or min)"},
		"plus sign is not Spark's syntax": {"+5s", time.Second, 0, "failed to parse"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSparkDuration(c.in, c.unit)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseSparkDuration(%q) error = %v, want it to contain %q", c.in, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseSparkDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	if c != want {
		t.Fatalf("defaults: got %+v want %+v", c, want)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"min", c.MinExecutors, 0},
		{"max", c.MaxExecutors, 2147483647},
		{"initial", c.InitialExecutors(), 0},
		{"backlog", c.SchedulerBacklogTimeout, time.Second},
		{"sustained falls back to backlog", c.SustainedSchedulerBacklogTimeout, time.Second},
		{"idle", c.ExecutorIdleTimeout, 60 * time.Second},
		{"cached", c.CachedExecutorIdleTimeout, time.Duration(2147483647) * time.Second},
		{"shuffle tracking on by default", c.ShuffleTrackingEnabled, true},
		{"shuffle timeout never", c.ShuffleTrackingTimeout, Infinite},
		{"ratio", c.ExecutorAllocationRatio, 1.0},
		{"tasks per executor", c.TasksPerExecutor(), 1},
	}
	for _, k := range checks {
		if k.got != k.want {
			t.Errorf("%s: got %v want %v", k.name, k.got, k.want)
		}
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := ParseConfig(map[string]string{
		KeyMinExecutors:            "2",
		KeyMaxExecutors:            "20",
		KeyInitialExecutors:        "3",
		KeySchedulerBacklogTimeout: "5s",
		KeyExecutorIdleTimeout:     "2min",
		KeyShuffleTrackingTimeout:  "30s",
		KeyExecutorCores:           "4",
		KeyTaskCPUs:                "2",
		KeyExecutorAllocationRatio: "0.5",
		"selector":                 `app_name="x"`, // not ours: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.SustainedSchedulerBacklogTimeout != 5*time.Second {
		t.Errorf("sustained should fall back to the backlog timeout, got %v", c.SustainedSchedulerBacklogTimeout)
	}
	if c.ExecutorIdleTimeout != 2*time.Minute || c.ShuffleTrackingTimeout != 30*time.Second {
		t.Errorf("timeouts: %v %v", c.ExecutorIdleTimeout, c.ShuffleTrackingTimeout)
	}
	if c.TasksPerExecutor() != 2 || c.InitialExecutors() != 3 {
		t.Errorf("tpe %d initial %d", c.TasksPerExecutor(), c.InitialExecutors())
	}
}

func TestInitialExecutors(t *testing.T) {
	cases := map[string]struct {
		min, initial, instances, want int
	}{
		"falls back to min":               {2, -1, -1, 2},
		"initial above min":               {1, 4, -1, 4},
		"initial below min is ignored":    {3, 1, -1, 3},
		"executor.instances raises it":    {1, 2, 5, 5},
		"executor.instances below others": {1, 4, 2, 4},
	}
	for name, c := range cases {
		cfg := DefaultConfig()
		cfg.MinExecutors, cfg.InitialExecutorsSetting, cfg.ExecutorInstances = c.min, c.initial, c.instances
		if got := cfg.InitialExecutors(); got != c.want {
			t.Errorf("%s: got %d want %d", name, got, c.want)
		}
	}
}

func TestValidateMessages(t *testing.T) {
	cases := map[string]struct {
		props map[string]string
		want  []string
	}{
		"min negative": {map[string]string{KeyMinExecutors: "-1", KeyMaxExecutors: "5"},
			[]string{"spark.dynamicAllocation.minExecutors (-1) and spark.dynamicAllocation.maxExecutors (5) must be positive!"}},
		"max zero": {map[string]string{KeyMaxExecutors: "0"},
			[]string{"spark.dynamicAllocation.maxExecutors cannot be 0!"}},
		"min above max": {map[string]string{KeyMinExecutors: "3", KeyMaxExecutors: "2"},
			[]string{"spark.dynamicAllocation.minExecutors (3) must be less than or equal to spark.dynamicAllocation.maxExecutors (2)!"}},
		"backlog in ms truncates to 0": {map[string]string{KeySchedulerBacklogTimeout: "500ms"},
			[]string{"spark.dynamicAllocation.schedulerBacklogTimeout (0s) must be > 0!"}},
		"sustained zero, no typo": {map[string]string{KeySustainedBacklogTimeout: "0"},
			[]string{"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout (0s) must be > 0!"}},
		"negative idle": {map[string]string{KeyExecutorIdleTimeout: "-5s"},
			[]string{"spark.dynamicAllocation.executorIdleTimeout (-5s): Timeout must be >= 0."}},
		"ratio above 1": {map[string]string{KeyExecutorAllocationRatio: "1.5"},
			[]string{"spark.dynamicAllocation.executorAllocationRatio (1.5) must be > 0 and <= 1.0"}},
		"ratio zero": {map[string]string{KeyExecutorAllocationRatio: "0"},
			[]string{"must be > 0 and <= 1.0"}},
		"cores below task cpus": {map[string]string{KeyExecutorCores: "1", KeyTaskCPUs: "2"},
			[]string{"The number of cores per executor (=1) has to be >= the number of cpus per task = 2."}},
		"no shuffle mechanism": {map[string]string{KeyShuffleTrackingEnabled: "false"},
			[]string{"Dynamic allocation of executors requires one of the following conditions"}},
		"no shuffle mechanism but testing":      {map[string]string{KeyShuffleTrackingEnabled: "false", KeyTesting: "true"}, nil},
		"no shuffle mechanism but ESS":          {map[string]string{KeyShuffleTrackingEnabled: "false", KeyShuffleServiceEnabled: "true"}, nil},
		"no shuffle mechanism but decommission": {map[string]string{KeyShuffleTrackingEnabled: "false", KeyDecommissionEnabled: "true"}, nil},
		"no shuffle mechanism but Celeborn": {map[string]string{KeyShuffleTrackingEnabled: "false",
			KeyShuffleManager: "org.apache.spark.shuffle.celeborn.SparkShuffleManager"}, nil},
		"type errors name key and value": {map[string]string{KeyMinExecutors: "two", KeyShuffleServiceEnabled: "yes", KeyExecutorAllocationRatio: "half"},
			[]string{"spark.dynamicAllocation.minExecutors should be int, but was two",
				"spark.shuffle.service.enabled should be boolean, but was yes",
				"spark.dynamicAllocation.executorAllocationRatio should be double, but was half"}},
		"bad duration names the key": {map[string]string{KeyExecutorIdleTimeout: "1.5min"},
			[]string{"spark.dynamicAllocation.executorIdleTimeout: failed to parse time string \"1.5min\""}},
		"every problem at once": {map[string]string{KeyMinExecutors: "-1", KeyMaxExecutors: "0", KeyExecutorAllocationRatio: "2", KeySchedulerBacklogTimeout: "0s"},
			[]string{"must be positive!", "cannot be 0!", "schedulerBacklogTimeout (0s) must be > 0!",
				"sustainedSchedulerBacklogTimeout (0s) must be > 0!", "must be > 0 and <= 1.0"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig(c.props)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors %q, got none", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var joined interface{ Unwrap() []error }
			if errors.As(err, &joined) && len(c.want) > 1 && len(flatten(err)) < len(c.want) {
				t.Errorf("want %d separate errors, got %d: %v", len(c.want), len(flatten(err)), err)
			}
		})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func TestWarnings(t *testing.T) {
	c := DefaultConfig()
	c.MinExecutors, c.InitialExecutorsSetting = 3, 1
	c.DecommissionEnabled = true
	var msgs []string
	for _, w := range c.Warnings() {
		msgs = append(msgs, w.Reason+": "+w.Message)
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{
		"initial_executors_below_min: spark.dynamicAllocation.initialExecutors less than spark.dynamicAllocation.minExecutors is invalid",
		"shuffle_tracking_with_other_mechanism: You are enabling both shuffle tracking and other DA supported mechanism",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	if got := DefaultConfig().Warnings(); len(got) != 0 {
		t.Errorf("defaults warn: %v", got)
	}
}

// What pins an executor for shuffle, which warnings the settings raise and whether Spark
// accepts them, for every combination of the settings involved (design.md, "What an executor
// holds"; docs/spark-dra.md §1.1 rules 6-7 and §6). Spark's ExecutorMonitor pins exactly when
// tracking is on and the external shuffle service off; Celeborn and decommissioning only decide
// whether that pinning is needless and whether DRA is valid with tracking off.
func TestShufflePinningCombinations(t *testing.T) {
	const (
		manager = "org.apache.spark.shuffle.celeborn.SparkShuffleManager"
		dataIO  = "org.apache.spark.shuffle.celeborn.CelebornShuffleDataIO"
	)
	for _, ess := range []bool{false, true} {
		for _, tracking := range []bool{false, true} {
			for _, celeborn := range []string{"none", "manager", "dataio", "both"} {
				for _, decom := range []bool{false, true} {
					props := map[string]string{
						KeyShuffleServiceEnabled:  strconv.FormatBool(ess),
						KeyShuffleTrackingEnabled: strconv.FormatBool(tracking),
						KeyDecommissionEnabled:    strconv.FormatBool(decom),
					}
					if celeborn == "manager" || celeborn == "both" {
						props[KeyShuffleManager] = manager
					}
					if celeborn == "dataio" || celeborn == "both" {
						props[KeyShuffleIOPlugin] = dataIO
					}
					name := fmt.Sprintf("ess=%v tracking=%v celeborn=%s decommission=%v", ess, tracking, celeborn, decom)
					c, err := ParseConfig(props)

					pins := !ess && tracking // ExecutorMonitor.shuffleTrackingEnabled, nothing else
					off := celeborn != "none"
					// Decommissioning migrates shuffle blocks only with spark.storage.decommission.enabled,
					// which these combinations leave at its default (false).
					needless := pins && off
					valid := ess || tracking || off || decom
					reasons := map[string]bool{}
					for _, w := range c.Warnings() {
						reasons[w.Reason] = true
					}
					sparkWarns := tracking && (decom || celeborn == "dataio" || celeborn == "both")
					managerOnly := pins && celeborn == "manager"

					if c.ShuffleTracking() != pins {
						t.Errorf("%s: ShuffleTracking %v, want %v", name, c.ShuffleTracking(), pins)
					}
					if c.NeedlessShufflePinning() != needless {
						t.Errorf("%s: NeedlessShufflePinning %v, want %v", name, c.NeedlessShufflePinning(), needless)
					}
					if (err == nil) != valid {
						t.Errorf("%s: error %v, want valid=%v", name, err, valid)
					}
					if reasons[WarningTrackingWithOtherMechanism] != sparkWarns {
						t.Errorf("%s: Spark's tracking warning %v, want %v", name, reasons[WarningTrackingWithOtherMechanism], sparkWarns)
					}
					if reasons[WarningTrackingWithRemoteShuffleManager] != managerOnly {
						t.Errorf("%s: remote shuffle manager warning %v, want %v", name,
							reasons[WarningTrackingWithRemoteShuffleManager], managerOnly)
					}
					if needless && len(reasons) == 0 {
						t.Errorf("%s: needless pinning without a warning", name)
					}
					props[KeyStorageDecommission] = "true"
					if c, _ := ParseConfig(props); c.NeedlessShufflePinning() != (pins && (off || decom)) {
						t.Errorf("%s with block migration: NeedlessShufflePinning %v, want %v", name, c.NeedlessShufflePinning(), pins && (off || decom))
					}
					if c.ReliableShuffleStorage != (celeborn == "dataio" || celeborn == "both") {
						t.Errorf("%s: ReliableShuffleStorage %v: only Celeborn's ShuffleDataIO reports reliable storage", name,
							c.ReliableShuffleStorage)
					}
				}
			}
		}
	}
}

func FuzzParseSparkDuration(f *testing.F) {
	for _, s := range []string{"60s", "500ms", "2min", "1h", "1d", "-1", "9223372036854775807", "1.5s", "", "10x", " 3 M "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, unit := range []time.Duration{time.Millisecond, time.Second} {
			d, err := ParseSparkDuration(s, unit)
			if err != nil {
				if !strings.Contains(err.Error(), "time must be specified") {
					t.Fatalf("error without the syntax hint: %v", err)
				}
				continue
			}
			if d%unit != 0 && d != Infinite && d != -Infinite {
				t.Fatalf("%q in %v gave %v, not a whole number of units", s, unit, d)
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add("spark.dynamicAllocation.minExecutors", "1", "spark.dynamicAllocation.executorIdleTimeout", "60s")
	f.Add("spark.dynamicAllocation.executorAllocationRatio", "NaN", "spark.executor.cores", "0")
	f.Add("spark.dynamicAllocation.maxExecutors", "-2147483649", "spark.task.cpus", "3")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		c, err := ParseConfig(map[string]string{k1: v1, k2: v2})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// A config that validates must be usable: engines build and step.
		if c.Validate() != nil {
			t.Fatalf("ParseConfig accepted what Validate rejects: %v", c.Validate())
		}
		e, err := NewEngine(c)
		if err != nil {
			t.Fatal(err)
		}
		d := e.Step(&Observation{PendingTasks: 3, BacklogDuration: time.Hour, StageSubmitted: true}, time.Unix(1_500_000_000, 0))
		if d.Desired < c.MinExecutors || d.Desired > c.MaxExecutors {
			t.Fatalf("desired %d outside [%d, %d]", d.Desired, c.MinExecutors, c.MaxExecutors)
		}
	})
}
