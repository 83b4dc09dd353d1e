package sim

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// synth writes a small event log: an application from t=0 (ms offsets from
// base), jobs of stages whose tasks have the given durations, and the
// properties given. It is how the tests state a workload exactly.
type synth struct {
	lines []string
	props map[string]string
}

const base = int64(1_700_000_000_000)

func newSynth(props map[string]string) *synth {
	s := &synth{props: props}
	s.add(`{"Event":"SparkListenerApplicationStart","App Name":"synth","App ID":"app-synth","Timestamp":%d}`, base)
	var kv []string
	for k, v := range props {
		kv = append(kv, fmt.Sprintf("%q:%q", k, v))
	}
	s.add(`{"Event":"SparkListenerEnvironmentUpdate","Spark Properties":{%s}}`, strings.Join(kv, ","))
	s.add(`{"Event":"SparkListenerExecutorAdded","Timestamp":%d,"Executor ID":"1","Executor Info":{"Total Cores":1}}`, base)
	return s
}

func (s *synth) add(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

type synthStage struct {
	id      int
	parents []int
	tasks   []int64 // durations, ms
	cached  bool
}

// job records a job submitted at at (ms) whose stages run back to back on
// executor "1", and returns its end.
func (s *synth) job(id int, at int64, stages ...synthStage) int64 {
	var infos []string
	for _, st := range stages {
		infos = append(infos, stageInfo(st))
	}
	s.add(`{"Event":"SparkListenerJobStart","Job ID":%d,"Submission Time":%d,"Stage Infos":[%s]}`, id, base+at, strings.Join(infos, ","))
	now := at
	for _, st := range stages {
		s.add(`{"Event":"SparkListenerStageSubmitted","Stage Info":%s}`, stageInfo(st))
		for i, d := range st.tasks {
			s.add(`{"Event":"SparkListenerTaskStart","Stage ID":%d,"Stage Attempt ID":0,"Task Info":{"Index":%d,"Launch Time":%d,"Executor ID":"1"}}`,
				st.id, i, base+now)
			s.add(`{"Event":"SparkListenerTaskEnd","Stage ID":%d,"Stage Attempt ID":0,"Task Type":"ShuffleMapTask","Task End Reason":{"Reason":"Success"},"Task Info":{"Index":%d,"Launch Time":%d,"Finish Time":%d,"Executor ID":"1"}}`,
				st.id, i, base+now, base+now+d)
			now += d
		}
		s.add(`{"Event":"SparkListenerStageCompleted","Stage Info":{"Stage ID":%d,"Completion Time":%d}}`, st.id, base+now)
	}
	s.add(`{"Event":"SparkListenerJobEnd","Job ID":%d,"Completion Time":%d}`, id, base+now)
	return now
}

func stageInfo(st synthStage) string {
	ps := make([]string, len(st.parents))
	for i, p := range st.parents {
		ps[i] = fmt.Sprint(p)
	}
	level := `{"Use Disk":false,"Use Memory":false}`
	if st.cached {
		level = `{"Use Disk":true,"Use Memory":true}`
	}
	return fmt.Sprintf(`{"Stage ID":%d,"Stage Attempt ID":0,"Number of Tasks":%d,"Parent IDs":[%s],"RDD Info":[{"RDD ID":%d,"Storage Level":%s}]}`,
		st.id, len(st.tasks), strings.Join(ps, ","), 100+st.id, level)
}

func (s *synth) app(t testing.TB, end int64) *App {
	t.Helper()
	s.add(`{"Event":"SparkListenerApplicationEnd","Timestamp":%d}`, base+end)
	app, err := Read(strings.NewReader(strings.Join(s.lines, "\n")+"\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func run(t *testing.T, app *App, policy string, latency time.Duration, conf map[string]string) Result {
	t.Helper()
	spec, err := ParsePolicy(policy, app.EffectiveConf(), conf)
	if err != nil {
		t.Fatal(err)
	}
	return runWith(t, app, spec, latency, PendingCancel)
}

func runWith(t *testing.T, app *App, spec PolicySpec, latency time.Duration, pending PendingMode) Result {
	t.Helper()
	opt := DefaultOptions()
	opt.StartupLatency, opt.AutoStartupLatency, opt.Pending = latency, false, pending
	r, err := Simulate(app, spec, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tens(n int) []int64 {
	d := make([]int64, n)
	for i := range d {
		d[i] = 10_000
	}
	return d
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// Four 10 s tasks on two one-slot executors: two waves.
func TestStaticSchedulesInWaves(t *testing.T) {
	s := newSynth(nil)
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(4)})
	app := s.app(t, end)
	r := run(t, app, "static:2", 0, nil)
	if !near(r.MakespanSeconds, 20) || !near(r.ExecutorSeconds, 40) || !near(r.IdleExecutorSeconds, 0) ||
		!near(r.LowerBoundExecutorSeconds, 40) || !near(r.CriticalPathSeconds, 10) || r.MaxExecutors != 2 {
		t.Fatalf("%+v", r)
	}
	r = run(t, app, "static:3", 2*time.Second, nil)
	// 2 s start-up, then waves of 3 and 1: 22 s; the third executor idles 10 s.
	if !near(r.MakespanSeconds, 22) || !near(r.ExecutorSeconds, 60) || !near(r.IdleExecutorSeconds, 20) {
		t.Fatalf("%+v", r)
	}
}

// A child stage waits for its parent; the next job keeps its recorded
// distance after the end of the job before it, and the application its
// recorded tail after the last job.
func TestStageDependenciesAndDriverGaps(t *testing.T) {
	s := newSynth(nil)
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(2)}, synthStage{id: 1, parents: []int{0}, tasks: []int64{5000}})
	end = s.job(1, end+30_000, synthStage{id: 2, tasks: []int64{1000}})
	app := s.app(t, end+4000)
	// static:2: stage 0 in 10 s, stage 1 in 5 s, 30 s gap, 1 s job, 4 s tail.
	r := run(t, app, "static:2", 0, nil)
	if !near(r.MakespanSeconds, 50) || !near(r.CriticalPathSeconds, 50) {
		t.Fatalf("%+v", r)
	}
	// static:1: stage 0 takes 20 s.
	if r := run(t, app, "static:1", 0, nil); !near(r.MakespanSeconds, 60) {
		t.Fatalf("%+v", r)
	}
}

// Spark's DRA ramps 1, 3, 7, 8 one second apart (docs/spark-dra.md §5);
// "ramp" goes to 8 at the first add.
func TestDRARampInTheSimulation(t *testing.T) {
	s := newSynth(map[string]string{"spark.dynamicAllocation.enabled": "true"})
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(8)})
	app := s.app(t, end)
	at := func(r Result, sec float64) int {
		n := 0
		for _, p := range r.Series {
			if p.T <= sec {
				n = p.Executors
			}
		}
		return n
	}
	spark := run(t, app, "spark", 0, nil)
	for sec, want := range map[float64]int{0.5: 0, 1: 1, 2: 3, 3: 7, 4: 8} {
		if got := at(spark, sec); got != want {
			t.Fatalf("spark: %d executors at %gs, want %d (series %v)", got, sec, want, spark.Series)
		}
	}
	ramp := run(t, app, "ramp", 0, nil)
	if got := at(ramp, 1); got != 8 {
		t.Fatalf("ramp: %d executors at 1s, want 8", got)
	}
	if !(ramp.MakespanSeconds < spark.MakespanSeconds) {
		t.Fatalf("ramp makespan %v not below spark's %v", ramp.MakespanSeconds, spark.MakespanSeconds)
	}
}

// Shuffle output of a finished job pins Spark's executors (tracking on,
// timeout never); "release" lets them go at the idle timeout when
// decommissioning migrates the output, at the same makespan.
func TestReleaseSavesExecutorSecondsOnIdleShuffleHolders(t *testing.T) {
	s := newSynth(map[string]string{"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.executorIdleTimeout": "10s"})
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(4)}, synthStage{id: 1, parents: []int{0}, tasks: []int64{1000}})
	end = s.job(1, end+200_000, synthStage{id: 2, tasks: []int64{1000}})
	app := s.app(t, end)
	conf := map[string]string{"spark.decommission.enabled": "true", "spark.storage.decommission.enabled": "true"}
	spark := run(t, app, "spark", time.Second, conf)
	release := run(t, app, "release", time.Second, conf)
	// The second job waits for a new executor: backlog timeout + start-up.
	if !near(release.MakespanSeconds, spark.MakespanSeconds+2) {
		t.Fatalf("makespan spark %v, release %v: want 2 s more", spark.MakespanSeconds, release.MakespanSeconds)
	}
	if !(release.ExecutorSeconds < 0.5*spark.ExecutorSeconds) {
		t.Fatalf("executor-seconds spark %v, release %v: want release below half", spark.ExecutorSeconds, release.ExecutorSeconds)
	}
	// Without migration "release" is Spark's DRA.
	if r := run(t, app, "release", time.Second, nil); !near(r.ExecutorSeconds, run(t, app, "spark", time.Second, nil).ExecutorSeconds) {
		t.Fatalf("release without decommissioning differs from spark")
	}
}

// Spark's own log re-simulated under its own settings lands within
// 10% of the recorded makespan and executor-seconds. Its YARN cluster had
// one GPU for the one-GPU profile: one executor (the log has no properties).
func TestSharedLogValidation(t *testing.T) {
	app, err := Load(sparkLog, true)
	if err != nil {
		t.Fatal(err)
	}
	rec := app.Recorded()
	r := run(t, app, "spark", time.Second, map[string]string{"spark.dynamicAllocation.maxExecutors": "1"})
	if e := math.Abs(pct(r.MakespanSeconds, rec.MakespanSeconds)); e > 10 {
		t.Fatalf("makespan %v vs recorded %v: %.1f%% off", r.MakespanSeconds, rec.MakespanSeconds, e)
	}
	if e := math.Abs(pct(r.ExecutorSeconds, rec.ExecutorSeconds)); e > 10 {
		t.Fatalf("executor-seconds %v vs recorded %v: %.1f%% off", r.ExecutorSeconds, rec.ExecutorSeconds, e)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"static:0": "static:N needs a whole number of executors N >= 1",
		"static:x": "static:N needs",
		"fastest":  `policy "fastest": want static:N or one of spark, ramp, paced, release, lean`,
		"":         "want static:N or one of",
	} {
		if _, err := ParsePolicy(spec, nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", spec, err, want)
		}
	}
	_, err := ParsePolicy("spark", nil, map[string]string{"spark.dynamicAllocation.maxExecutors": "0"})
	if err == nil || !strings.Contains(err.Error(), "spark.dynamicAllocation.maxExecutors cannot be 0!") {
		t.Errorf("error %v", err)
	}
}

func TestProgressLines(t *testing.T) {
	s := newSynth(map[string]string{"spark.dynamicAllocation.enabled": "true"})
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(8)})
	app := s.app(t, end)
	spec, _ := ParsePolicy("static:1", app.EffectiveConf(), nil)
	var b strings.Builder
	opt := DefaultOptions()
	opt.Progress = &b
	if _, err := Simulate(app, spec, opt); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n < 5 || !strings.Contains(b.String(), "whatif static:1: simulated 40s (50% of the recorded run's length)") {
		t.Fatalf("%d progress lines:\n%s", n, b.String())
	}
}

// Slow executor start-up (60 s) and a stage of short tasks the four live
// executors finish in 40 s: Spark ramps towards one executor per pending
// task, and on a cluster that launches what it granted the executors
// arrive after the stage and stay (they hold nothing, but the driver works
// on alone past the idle timeout); "paced" has learned the latency and the
// completion rate and does not ask for them.
func TestPacedSkipsExecutorsThatWouldArriveTooLate(t *testing.T) {
	s := newSynth(map[string]string{"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.maxExecutors": "40"})
	long := make([]int64, 4)
	for i := range long {
		long[i] = 120_000
	}
	short := make([]int64, 160)
	for i := range short {
		short[i] = 1000
	}
	end := s.job(0, 0, synthStage{id: 0, tasks: long}, synthStage{id: 1, parents: []int{0}, tasks: short})
	app := s.app(t, end+120_000) // the driver works on alone for two minutes
	conf := app.EffectiveConf()
	sparkSpec, _ := ParsePolicy("spark", conf, nil)
	pacedSpec, _ := ParsePolicy("paced", conf, nil)
	// A standalone master launches what it granted: nothing is called off.
	spark := runWith(t, app, sparkSpec, time.Minute, PendingKeep)
	paced := runWith(t, app, pacedSpec, time.Minute, PendingKeep)
	t.Logf("spark %+v", spark)
	t.Logf("paced %+v", paced)
	if !(paced.ExecutorSeconds < 0.8*spark.ExecutorSeconds) || paced.MakespanSeconds > 1.05*spark.MakespanSeconds {
		t.Fatalf("paced %.0f executor-s in %.0f s, spark %.0f in %.0f s: want 20%% fewer at most 5%% later",
			paced.ExecutorSeconds, paced.MakespanSeconds, spark.ExecutorSeconds, spark.MakespanSeconds)
	}
}

// A later job re-lists an earlier shuffle under a new stage id that ran no
// task (Spark skipped it): it is done at once, and its child runs as soon
// as the job is submitted.
func TestSkippedStageIsDoneAtOnce(t *testing.T) {
	s := newSynth(nil)
	end := s.job(0, 0, synthStage{id: 0, tasks: tens(2)}, synthStage{id: 1, parents: []int{0}, tasks: []int64{2000}})
	// Job 1: stage 2 (skipped, no tasks) and stage 3 (parent 2).
	s.add(`{"Event":"SparkListenerJobStart","Job ID":1,"Submission Time":%d,"Stage Infos":[%s,%s]}`, base+end+5000,
		stageInfo(synthStage{id: 2}), stageInfo(synthStage{id: 3, parents: []int{2}, tasks: []int64{3000}}))
	s.add(`{"Event":"SparkListenerStageSubmitted","Stage Info":%s}`, stageInfo(synthStage{id: 3, parents: []int{2}, tasks: []int64{3000}}))
	s.add(`{"Event":"SparkListenerTaskEnd","Stage ID":3,"Stage Attempt ID":0,"Task Info":{"Index":0,"Launch Time":%d,"Finish Time":%d,"Executor ID":"1"}}`,
		base+end+5000, base+end+8000)
	s.add(`{"Event":"SparkListenerJobEnd","Job ID":1,"Completion Time":%d}`, base+end+8000)
	app := s.app(t, end+8000)
	// static:2: 10 s + 2 s, 5 s of driver gap, 3 s.
	if r := run(t, app, "static:2", 0, nil); !near(r.MakespanSeconds, 20) {
		t.Fatalf("%+v", r)
	}
}

// Two jobs submitted together share a stage: the second waits for the
// first's run of it instead of running it again.
func TestConcurrentJobsShareAStage(t *testing.T) {
	s := newSynth(nil)
	st0 := synthStage{id: 0, tasks: tens(2)}
	st1 := synthStage{id: 1, parents: []int{0}, tasks: []int64{1000}}
	st2 := synthStage{id: 2, parents: []int{0}, tasks: []int64{4000}}
	s.add(`{"Event":"SparkListenerJobStart","Job ID":0,"Submission Time":%d,"Stage Infos":[%s,%s]}`, base, stageInfo(st0), stageInfo(st1))
	s.add(`{"Event":"SparkListenerJobStart","Job ID":1,"Submission Time":%d,"Stage Infos":[%s,%s]}`, base, stageInfo(st0), stageInfo(st2))
	for i := range 2 {
		s.add(`{"Event":"SparkListenerTaskEnd","Stage ID":0,"Task Info":{"Index":%d,"Launch Time":%d,"Finish Time":%d,"Executor ID":"1"}}`, i, base, base+10_000)
	}
	s.add(`{"Event":"SparkListenerTaskEnd","Stage ID":1,"Task Info":{"Index":0,"Launch Time":%d,"Finish Time":%d,"Executor ID":"1"}}`, base+10_000, base+11_000)
	s.add(`{"Event":"SparkListenerTaskEnd","Stage ID":2,"Task Info":{"Index":0,"Launch Time":%d,"Finish Time":%d,"Executor ID":"1"}}`, base+10_000, base+14_000)
	s.add(`{"Event":"SparkListenerJobEnd","Job ID":0,"Completion Time":%d}`, base+11_000)
	s.add(`{"Event":"SparkListenerJobEnd","Job ID":1,"Completion Time":%d}`, base+14_000)
	app := s.app(t, 14_000)
	// Stage 0 once (10 s on two slots), then stages 1 and 2 side by side: 14 s.
	r := run(t, app, "static:2", 0, nil)
	if !near(r.MakespanSeconds, 14) || !near(r.ExecutorSeconds, 28) || !near(r.IdleExecutorSeconds, 28-25) {
		t.Fatalf("%+v", r)
	}
}

func TestPeakConcurrency(t *testing.T) {
	for _, c := range []struct {
		spans [][2]int64
		want  int
	}{
		{nil, 0},
		{[][2]int64{{0, 10}}, 1},
		{[][2]int64{{0, 10}, {10, 20}}, 1}, // one ends as the other starts
		{[][2]int64{{0, 10}, {5, 20}, {6, 7}}, 3},
		{[][2]int64{{0, 10}, {20, 30}, {25, 40}}, 2},
	} {
		if got := peakConcurrency(c.spans); got != c.want {
			t.Errorf("%v: %d, want %d", c.spans, got, c.want)
		}
	}
}
