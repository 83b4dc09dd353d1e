package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

func pinsConfig() AppConfig {
	return NewAppConfig(map[string]string{"spark.executor.cores": "2"}, "4.0.1")
}

type execRow struct {
	id                 string
	active, total, rdd int
	shuffleWrite       int64
	addTime            time.Time
}

func executors(rows ...execRow) []sparkapi.ExecutorSummary {
	out := []sparkapi.ExecutorSummary{{ID: "driver", IsActive: true, HostPort: "10.0.0.1:7079"}}
	for _, r := range rows {
		e := sparkapi.ExecutorSummary{ID: r.id, IsActive: true, HostPort: "10.0.0." + r.id + ":7079",
			ActiveTasks: r.active, TotalTasks: r.total, RDDBlocks: r.rdd, TotalShuffleWrite: r.shuffleWrite}
		if r.rdd > 0 {
			e.MemoryUsed = 1 << 20
		}
		if !r.addTime.IsZero() {
			e.AddTime = &sparkapi.Date{Time: r.addTime}
		}
		out = append(out, e)
	}
	return out
}

func stage(id, tasks, done, active int) sparkapi.StageData {
	return sparkapi.StageData{Status: sparkapi.StageActive, StageID: id, NumTasks: tasks,
		NumCompletedIndices: done, NumActiveTasks: active}
}

type wantExec struct {
	idle  time.Duration // -1: busy
	holds Holds
	state ExecutorState
}

// A scripted sequence of polls one second apart: executors go busy, idle, busy between two
// polls (seen only through totalTasks), pick up cache and shuffle output; the backlog starts,
// lasts and breaks. Every duration is exact.
func TestObserverIdleTracking(t *testing.T) {
	clock := newFakeClock()
	registered := t0.Add(-30 * time.Second)
	steps := []struct {
		name      string
		advance   time.Duration
		poll      Poll
		pending   int
		backlog   time.Duration
		maxNeeded int
		stages    int
		want      map[string]wantExec
	}{{
		name: "first poll: 1 busy, 2 never ran a task (idle since it registered), 3 ran tasks before",
		poll: Poll{ActiveStages: []sparkapi.StageData{stage(0, 10, 0, 2)}, FinishedStages: 0, RunningJobs: 1,
			Executors: executors(execRow{id: "1", active: 2, total: 2}, execRow{id: "2", addTime: registered},
				execRow{id: "3", total: 5})},
		pending: 8, backlog: 0, maxNeeded: 5, stages: 1,
		want: map[string]wantExec{
			"1": {-1, HoldsNone, StateBusy},
			"2": {30 * time.Second, HoldsNone, StateIdle},
			"3": {0, HoldsNone, StateIdle},
		},
	}, {
		name:    "one second later: backlog lasts; 3 unchanged",
		advance: time.Second,
		poll: Poll{ActiveStages: []sparkapi.StageData{stage(0, 10, 2, 2)}, FinishedStages: -1, RunningJobs: 1,
			Executors: executors(execRow{id: "1", active: 2, total: 4}, execRow{id: "2", addTime: registered},
				execRow{id: "3", total: 5})},
		pending: 6, backlog: time.Second, maxNeeded: 4, stages: 1,
		want: map[string]wantExec{
			"1": {-1, HoldsNone, StateBusy},
			"2": {31 * time.Second, HoldsNone, StateIdle},
			"3": {time.Second, HoldsNone, StateIdle},
		},
	}, {
		name:    "1 finished its tasks; 3 ran a task between polls (totalTasks moved) and wrote shuffle output; 2 cached a block",
		advance: time.Second,
		poll: Poll{ActiveStages: []sparkapi.StageData{stage(0, 10, 8, 0)}, FinishedStages: -1, RunningJobs: 1,
			Executors: executors(execRow{id: "1", total: 6}, execRow{id: "2", addTime: registered, rdd: 1},
				execRow{id: "3", total: 6, shuffleWrite: 100})},
		pending: 2, backlog: 2 * time.Second, maxNeeded: 1, stages: 1,
		want: map[string]wantExec{
			"1": {0, HoldsNone, StateIdle},
			"2": {32 * time.Second, HoldsCache, StateIdleCache},
			"3": {0, HoldsShuffle, StateShuffleActive},
		},
	}, {
		name:    "stage done, job over: backlog breaks; shuffle no longer active; durations keep counting",
		advance: 2 * time.Second,
		poll: Poll{FinishedStages: -1, RunningJobs: 0,
			Executors: executors(execRow{id: "1", total: 6}, execRow{id: "2", addTime: registered, rdd: 1},
				execRow{id: "3", total: 6, shuffleWrite: 100})},
		pending: 0, backlog: 0, maxNeeded: 0, stages: 1,
		want: map[string]wantExec{
			"1": {2 * time.Second, HoldsNone, StateIdle},
			"2": {34 * time.Second, HoldsCache, StateIdleCache},
			"3": {2 * time.Second, HoldsShuffle, StateIdleShuffle},
		},
	}, {
		name:    "new stage: backlog restarts from zero; 2 was removed; 1 busy again; a running job makes 3 shuffle-active, still idle",
		advance: 500 * time.Millisecond,
		poll: Poll{ActiveStages: []sparkapi.StageData{stage(1, 4, 0, 1)}, FinishedStages: -1, RunningJobs: 1,
			Executors: executors(execRow{id: "1", active: 1, total: 7}, execRow{id: "3", total: 6, shuffleWrite: 100})},
		pending: 3, backlog: 0, maxNeeded: 2, stages: 2,
		want: map[string]wantExec{
			"1": {-1, HoldsNone, StateBusy},
			"3": {2500 * time.Millisecond, HoldsShuffle, StateShuffleActive},
		},
	}, {
		name:    "backlog lasts 1.5 s; 3 has been idle 4 s since it ran a task",
		advance: 1500 * time.Millisecond,
		poll: Poll{ActiveStages: []sparkapi.StageData{stage(1, 4, 0, 1)}, FinishedStages: -1, RunningJobs: 0,
			Executors: executors(execRow{id: "1", active: 1, total: 7}, execRow{id: "3", total: 6, shuffleWrite: 100})},
		pending: 3, backlog: 1500 * time.Millisecond, maxNeeded: 2, stages: 2,
		want: map[string]wantExec{
			"1": {-1, HoldsNone, StateBusy},
			"3": {4 * time.Second, HoldsShuffle, StateIdleShuffle},
		},
	}}
	var o Observer
	for _, st := range steps {
		clock.Step(st.advance)
		st.poll.Config = pinsConfig()
		snap := o.Observe(st.poll, clock.Now())
		if snap.PendingTasks != st.pending || snap.BacklogFor != st.backlog || snap.MaxNeededExecutors != st.maxNeeded ||
			snap.StagesSubmitted != st.stages {
			t.Errorf("%s: pending %d backlog %v maxNeeded %d stages %d, want %d %v %d %d", st.name, snap.PendingTasks,
				snap.BacklogFor, snap.MaxNeededExecutors, snap.StagesSubmitted, st.pending, st.backlog, st.maxNeeded, st.stages)
		}
		if len(snap.Executors) != len(st.want) {
			t.Errorf("%s: %d executors, want %d", st.name, len(snap.Executors), len(st.want))
		}
		for _, e := range snap.Executors {
			w, ok := st.want[e.ID]
			if !ok {
				t.Errorf("%s: unexpected executor %s", st.name, e.ID)
				continue
			}
			idle := e.IdleFor
			if e.RunningTasks > 0 {
				idle = -1
			}
			if idle != w.idle || e.Holds != w.holds || e.State() != w.state {
				t.Errorf("%s: executor %s idle %v holds %s state %s, want %v %s %s", st.name, e.ID, idle, e.Holds,
					e.State(), w.idle, w.holds, w.state)
			}
		}
	}
}

// What pins an executor follows Spark's ExecutorMonitor (design.md, "What an executor holds"):
// shuffle output pins exactly when tracking is on and the external shuffle service off; Celeborn
// only makes that pinning needless.
func TestAppConfigPins(t *testing.T) {
	const (
		manager = "org.apache.spark.shuffle.celeborn.SparkShuffleManager"
		dataIO  = "org.apache.spark.shuffle.celeborn.CelebornShuffleDataIO"
	)
	for _, tc := range []struct {
		name                    string
		props                   map[string]string
		version                 string
		shuffle, disk, needless bool
		reasons                 string
	}{
		{"defaults on 4.x: tracking on", nil, "4.0.1", true, true, false, ""},
		{"defaults on 3.3: tracking off", nil, "3.3.2", false, true, false, ""},
		{"3.3 with tracking on", map[string]string{"spark.dynamicAllocation.shuffleTracking.enabled": "true"}, "3.3.2", true, true, false, ""},
		{"tracking off", map[string]string{"spark.dynamicAllocation.shuffleTracking.enabled": "false"}, "4.0.1", false, true, false, ""},
		{"external shuffle service", map[string]string{"spark.shuffle.service.enabled": "true"}, "4.0.1", false, true, false, ""},
		{"ESS serving RDD blocks", map[string]string{"spark.shuffle.service.enabled": "true",
			"spark.shuffle.service.fetch.rdd.enabled": "true"}, "4.0.1", false, false, false, ""},
		{"Celeborn shuffle manager, tracking by default (3.4)", map[string]string{
			"spark.shuffle.manager": manager}, "3.4.1", true, true, true, "shuffle_tracking_with_remote_shuffle_manager"},
		{"Celeborn shuffle manager on 3.3: tracking off by default", map[string]string{
			"spark.shuffle.manager": manager}, "3.3.2", false, true, false, ""},
		{"Celeborn ShuffleDataIO, tracking by default", map[string]string{
			"spark.shuffle.sort.io.plugin.class": dataIO}, "3.5.3", true, true, true, "shuffle_tracking_with_other_mechanism"},
		{"Celeborn manager and ShuffleDataIO, tracking off", map[string]string{"spark.shuffle.manager": manager,
			"spark.shuffle.sort.io.plugin.class": dataIO, "spark.dynamicAllocation.shuffleTracking.enabled": "false"},
			"3.5.3", false, true, false, ""},
		{"decommission with block migration and tracking", map[string]string{"spark.decommission.enabled": "true",
			"spark.storage.decommission.enabled": "true"}, "4.0.1", true, true, true, "shuffle_tracking_with_other_mechanism"},
		{"decommission without block migration: Spark warns, but the shuffle would be lost", map[string]string{
			"spark.decommission.enabled": "true"}, "4.0.1", true, true, false, "shuffle_tracking_with_other_mechanism"},
		{"decommission, ESS and tracking: Spark warns, nothing pinned", map[string]string{"spark.decommission.enabled": "true",
			"spark.shuffle.service.enabled": "true"}, "4.0.1", false, true, false, "shuffle_tracking_with_other_mechanism"},
	} {
		c := NewAppConfig(tc.props, tc.version)
		var reasons []string
		for _, w := range c.Warnings {
			reasons = append(reasons, w.Reason)
		}
		if c.ShufflePins != tc.shuffle || c.DiskCachePins != tc.disk || c.NeedlessShufflePinning != tc.needless ||
			strings.Join(reasons, ",") != tc.reasons {
			t.Errorf("%s: shuffle pins %v disk cache pins %v needless %v warnings %v, want %v %v %v %q", tc.name,
				c.ShufflePins, c.DiskCachePins, c.NeedlessShufflePinning, reasons, tc.shuffle, tc.disk, tc.needless, tc.reasons)
		}
	}
}

// With the external shuffle service serving RDD blocks, blocks whose level uses disk do not pin
// (ExecutorMonitor: !fetchFromShuffleSvc || !useDisk); blocks in memory still do, and without
// /storage/rdd any block counts (never under-report what keeps an executor).
func TestDiskOnlyCacheWithFetchRDD(t *testing.T) {
	cfg := NewAppConfig(map[string]string{"spark.shuffle.service.enabled": "true",
		"spark.shuffle.service.fetch.rdd.enabled": "true"}, "4.0.1")
	execs := []sparkapi.ExecutorSummary{
		{ID: "1", IsActive: true, RDDBlocks: 4, DiskUsed: 1 << 20, TotalShuffleWrite: 9},
		{ID: "2", IsActive: true, RDDBlocks: 1, MemoryUsed: 1 << 20},
	}
	rdds := []sparkapi.RDDStorageInfo{
		{ID: 3, StorageLevel: "Disk Serialized 1x Replicated", Partitions: []sparkapi.RDDPartitionInfo{
			{BlockName: "rdd_3_0", StorageLevel: "Disk Serialized 1x Replicated", Executors: []string{"1"}}}},
		{ID: 4, StorageLevel: "Disk Memory Deserialized 1x Replicated", Partitions: []sparkapi.RDDPartitionInfo{
			{BlockName: "rdd_4_0", StorageLevel: "Memory Deserialized 1x Replicated", Executors: []string{"2"}},
			{BlockName: "rdd_4_1", StorageLevel: "Disk Memory Deserialized 1x Replicated", Executors: []string{"1"}}}},
	}
	for _, tc := range []struct {
		name     string
		rdds     []sparkapi.RDDStorageInfo
		one, two Holds
	}{
		{"per-block levels", rdds, HoldsNone, HoldsCache},
		{"storage not read", nil, HoldsCache, HoldsCache},
	} {
		var o Observer
		snap := o.Observe(Poll{Config: cfg, Executors: execs, FinishedStages: 0, RunningJobs: -1, CachedRDDs: tc.rdds}, t0)
		if got := [2]Holds{snap.Executors[0].Holds, snap.Executors[1].Holds}; got != [2]Holds{tc.one, tc.two} {
			t.Errorf("%s: holds %v, want %s %s", tc.name, got, tc.one, tc.two)
		}
	}
}
