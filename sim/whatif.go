package sim

import (
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/sparkdra/sparkdra/scaler"
)

// Options tune a re-simulation.
type Options struct {
	// StartupLatency is the time from the policy asking for an executor to
	// that executor taking tasks (pod scheduling, JVM start, registration).
	StartupLatency time.Duration
	// AutoStartupLatency replaces StartupLatency with the log's own
	// (App.EstimateStartupLatency) when the log tells it.
	AutoStartupLatency bool
	// Pending says whether executors asked for and not up yet can be
	// called off when the target drops: PendingCancel (Kubernetes deletes
	// pending pods, YARN drops container requests), PendingKeep (a
	// standalone master launches what it granted), or PendingAuto: by the
	// log's spark.master (App.CancelsPending).
	Pending PendingMode
	// Tick is the period of the EAM's schedule() (Spark: 100 ms).
	Tick time.Duration
	// Seed seeds the spreading of tasks over free executors (Spark shuffles
	// its resource offers at random).
	Seed uint64
	// Progress, when set, receives a line every tenth of the simulated span.
	Progress io.Writer
}

// PendingMode says what happens to requested executors not up yet when
// the target drops.
type PendingMode uint8

// Pending modes.
const (
	PendingAuto PendingMode = iota
	PendingCancel
	PendingKeep
)

// ParsePendingMode reads auto, cancel or keep.
func ParsePendingMode(s string) (PendingMode, error) {
	switch s {
	case "auto":
		return PendingAuto, nil
	case "cancel":
		return PendingCancel, nil
	case "keep":
		return PendingKeep, nil
	}
	return PendingAuto, fmt.Errorf("pending executors mode %q: want auto, cancel or keep", s)
}

// String is the mode's name.
func (m PendingMode) String() string { return [...]string{"auto", "cancel", "keep"}[min(int(m), 2)] }

// DefaultOptions are the options the command uses unless told otherwise.
func DefaultOptions() Options {
	return Options{StartupLatency: time.Second, AutoStartupLatency: true, Tick: 100 * time.Millisecond, Seed: 1}
}

// Result is what one re-simulation measured. Seconds are simulated time.
type Result struct {
	Policy string `json:"policy"`
	// MakespanSeconds: application start to application end.
	MakespanSeconds float64 `json:"makespan_seconds"`
	// ExecutorSeconds: executors' lives summed (ready → removed or end).
	ExecutorSeconds float64 `json:"executor_seconds"`
	// IdleExecutorSeconds: the part of ExecutorSeconds with no task running.
	IdleExecutorSeconds float64 `json:"idle_executor_seconds"`
	// LowerBoundExecutorSeconds: task-seconds over task slots per executor.
	LowerBoundExecutorSeconds float64 `json:"lower_bound_executor_seconds"`
	// CriticalPathSeconds: the makespan with unlimited executors at once.
	CriticalPathSeconds float64 `json:"critical_path_seconds"`
	// StartupLatencySeconds: the executor start-up latency simulated.
	StartupLatencySeconds float64 `json:"startup_latency_seconds"`
	// CancelsPending: whether requests not up yet were called off when
	// the target dropped.
	CancelsPending bool `json:"cancels_pending"`
	// MaxExecutors: the most executors alive at once.
	MaxExecutors int `json:"max_executors"`
	// ExecutorsStarted: executors that came up.
	ExecutorsStarted int `json:"executors_started"`
	// Series: executors alive and the DRA target over time (seconds since
	// start), one sample per change.
	Series []Sample `json:"series,omitempty"`
}

// Sample is one point of a Result's series.
type Sample struct {
	T         float64 `json:"t"`
	Executors int     `json:"executors"`
	Target    int     `json:"target"`
}

// event kinds of the simulation queue, in the order they apply at one instant.
const (
	evTaskEnd = iota
	evExecutorReady
	evDriver // a job submission or an unpersist, anchored to a job end
	evTick
)

type simEvent struct {
	at   int64 // ms
	kind int
	seq  int
	// payload
	task   *runningTask
	exec   int // request number of evExecutorReady
	action int // index into driver actions
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	if q[i].kind != q[j].kind {
		return q[i].kind < q[j].kind
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type runningTask struct {
	stage *simStage
	index int
	exec  *simExec
}

type simExec struct {
	id        string
	ready     int64
	removed   int64 // -1 while alive
	running   int
	busySince int64
	busy      int64
}

type simStage struct {
	st      *Stage
	todo    []int
	running int
	done    bool
	started bool
}

type simJob struct {
	job       *Job
	stages    []*simStage
	pending   int // stages not done yet
	submitted bool
	ended     bool
}

// driverAction is something the driver program does: submit a job or
// unpersist an RDD, anchor ms after the end of job anchor (-1: app start).
type driverAction struct {
	anchor int // index into app.Jobs, -1 for the application start
	offset int64
	job    int // index into app.Jobs, or -1
	rdd    int // for an unpersist
}

// simulator holds one re-simulation's state.
type simulator struct {
	app       *App
	spec      PolicySpec
	opt       Options
	unlimited bool
	slots     int
	rng       *rand.Rand

	m       *scaler.Manager
	q       eventQueue
	seq     int
	now     int64
	execs   []*simExec
	free    []*simExec // executors with a free slot (one entry per free slot)
	pending []int64    // ready times of requested executors not up yet
	reqs    int
	// inflight counts queued task ends and driver actions: with none, no
	// running task and no stage waiting, a job left can never end.
	inflight int

	actions  []driverAction
	anchored [][]int // job index → actions anchored to its end
	jobs     []*simJob
	jobEnd   []int64
	stages   map[int]*simStage
	queue    []*simStage // stages with tasks to start, in submission order
	cached   map[[2]int]bool
	jobsLeft int
	endTail  int64

	series []Sample
	live   int
	nextPg int
}

// Simulate re-runs the recorded application under spec.
func Simulate(app *App, spec PolicySpec, opt Options) (Result, error) {
	opt.StartupLatency = StartupLatency(app, opt)
	if opt.Pending == PendingAuto {
		opt.Pending = PendingKeep
		if app.CancelsPending() {
			opt.Pending = PendingCancel
		}
	}
	r, err := simulate(app, spec, opt, false)
	if err != nil {
		return Result{}, err
	}
	cp, err := simulate(app, spec, Options{Tick: opt.Tick}, true)
	if err != nil {
		return Result{}, err
	}
	r.CriticalPathSeconds = cp.MakespanSeconds
	r.StartupLatencySeconds = opt.StartupLatency.Seconds()
	r.CancelsPending = opt.Pending == PendingCancel
	r.LowerBoundExecutorSeconds = app.TaskSeconds() / float64(app.SlotsPerExecutor())
	return r, nil
}

// StartupLatency is the latency a re-simulation with opt uses: the log's
// own estimate under AutoStartupLatency (read with the log's settings),
// else, or when the log cannot tell, opt.StartupLatency.
func StartupLatency(app *App, opt Options) time.Duration {
	if !opt.AutoStartupLatency {
		return opt.StartupLatency
	}
	cfg, err := scaler.ParseConfig(app.EffectiveConf())
	if err != nil {
		cfg = scaler.DefaultConfig()
	}
	if d, ok := app.EstimateStartupLatency(cfg); ok {
		return d
	}
	return opt.StartupLatency
}

// MaxSpan bounds the runs the simulator takes on: a recorded application
// or task longer than this is an error (a corrupt log, most likely), and
// so is a re-simulation that has not ended after ten times it.
const MaxSpan = 7 * 24 * time.Hour

func simulate(app *App, spec PolicySpec, opt Options, unlimited bool) (Result, error) {
	if opt.Tick <= 0 {
		opt.Tick = 100 * time.Millisecond
	}
	if err := checkSpans(app); err != nil {
		return Result{}, err
	}
	s := &simulator{
		app: app, spec: spec, opt: opt, unlimited: unlimited, slots: app.SlotsPerExecutor(),
		rng: rand.New(rand.NewPCG(opt.Seed, 0x5eed)), stages: map[int]*simStage{}, cached: map[[2]int]bool{},
	}
	if !spec.IsStatic() && !unlimited {
		m, err := scaler.NewManager(spec.Config, scaler.ManagerOptions{})
		if err != nil {
			return Result{}, err
		}
		s.m = m
		// The slots the Manager counts with are the log's, whatever the conf says.
	}
	s.plan()
	if err := s.run(); err != nil {
		return Result{}, err
	}
	return s.result(), nil
}

// checkSpans rejects applications and tasks longer than MaxSpan.
func checkSpans(app *App) error {
	limit := MaxSpan.Milliseconds()
	if app.End-app.Start > limit {
		return fmt.Errorf("application %s runs %v, longer than the simulator's limit of %v", app.ID,
			time.Duration(app.End-app.Start)*time.Millisecond, MaxSpan)
	}
	for _, st := range app.Stages {
		for _, t := range st.Tasks {
			if t.Finish-t.Launch > limit {
				return fmt.Errorf("stage %d task %d runs %v, longer than the simulator's limit of %v", st.ID, t.Index,
					t.Duration(), MaxSpan)
			}
		}
	}
	return nil
}

// plan anchors every job submission and unpersist to the end of the last
// job that had ended before it in the recorded run, keeping the recorded
// gap: the driver program's own time between actions is replayed, the
// time spent waiting for jobs is simulated.
func (s *simulator) plan() {
	a := s.app
	s.anchored = make([][]int, len(a.Jobs))
	s.jobEnd = make([]int64, len(a.Jobs))
	anchor := func(at int64) (int, int64) {
		best, bestEnd := -1, a.Start
		for i, j := range a.Jobs {
			if j.End > 0 && j.End <= at && j.End >= bestEnd {
				best, bestEnd = i, j.End
			}
		}
		return best, at - bestEnd
	}
	add := func(act driverAction) {
		s.actions = append(s.actions, act)
		k := len(s.actions) - 1
		if act.anchor < 0 {
			s.push(simEvent{at: a.Start + act.offset, kind: evDriver, action: k})
		} else {
			s.anchored[act.anchor] = append(s.anchored[act.anchor], k)
		}
	}
	for i, j := range a.Jobs {
		sj := &simJob{job: j}
		s.jobs = append(s.jobs, sj)
		for _, id := range j.Stages {
			st := s.stages[id]
			if st == nil {
				st = &simStage{st: a.Stages[id]}
				s.stages[id] = st
			}
			sj.stages = append(sj.stages, st)
		}
		an, off := anchor(j.Submit)
		add(driverAction{anchor: an, offset: off, job: i})
	}
	for _, t := range a.Timeline {
		if t.Event.Event == "SparkListenerUnpersistRDD" && t.RDDID != nil {
			an, off := anchor(t.At)
			add(driverAction{anchor: an, offset: off, job: -1, rdd: *t.RDDID})
		}
	}
	s.jobsLeft = len(a.Jobs)
	// The application ends as long after its last job as it did recorded.
	last, lastEnd := -1, a.Start
	for i, j := range a.Jobs {
		if j.End >= lastEnd {
			last, lastEnd = i, j.End
		}
	}
	s.endTail = a.End - lastEnd
	if last < 0 {
		s.endTail = a.End - a.Start
	}
	if s.m != nil {
		s.push(simEvent{at: a.Start, kind: evTick})
	}
	s.now = a.Start
	if s.spec.IsStatic() {
		for range s.spec.Static {
			s.request()
		}
	}
}

func (s *simulator) push(e simEvent) {
	if e.kind == evTaskEnd || e.kind == evDriver {
		s.inflight++
	}
	s.seq++
	e.seq = s.seq
	heap.Push(&s.q, e)
}

func tm(ms int64) time.Time { return time.UnixMilli(ms) }

// run processes events until every job ended and the tail passed.
func (s *simulator) run() error {
	limit := s.app.Start + 10*MaxSpan.Milliseconds()
	if s.m != nil {
		s.sync()
	}
	endAt := int64(-1)
	if s.jobsLeft == 0 {
		endAt = s.app.Start + s.endTail
	}
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEvent)
		if endAt >= 0 && e.at > endAt {
			break
		}
		s.now = e.at
		if e.kind == evTaskEnd || e.kind == evDriver {
			s.inflight--
		}
		if s.now > limit {
			return fmt.Errorf("the re-simulation under %s has not ended after %v of simulated time", s.spec.Name, 10*MaxSpan)
		}
		if e.kind == evDriver && e.action < 0 {
			break // the application ends
		}
		s.progress()
		switch e.kind {
		case evTaskEnd:
			s.taskEnd(e.task)
		case evExecutorReady:
			s.executorReady()
		case evDriver:
			s.driver(s.actions[e.action])
		case evTick:
			s.tick()
			s.push(simEvent{at: e.at + s.opt.Tick.Milliseconds(), kind: evTick})
		}
		s.dispatch()
		if s.jobsLeft > 0 && s.inflight == 0 && len(s.queue) == 0 {
			return fmt.Errorf("the re-simulation under %s is stuck: %d jobs wait for stages that never run "+
				"(a stage's parents missing from the log, or a cycle)", s.spec.Name, s.jobsLeft)
		}
		if endAt < 0 && s.jobsLeft == 0 {
			endAt = s.now + s.endTail
			s.push(simEvent{at: endAt, kind: evDriver, action: -1})
		}
	}
	if endAt < 0 {
		endAt = s.now
	}
	s.now = endAt
	return nil
}

func (s *simulator) progress() {
	if s.opt.Progress == nil {
		return
	}
	span := max(s.app.End-s.app.Start, 1)
	pct := int((s.now - s.app.Start) * 100 / span)
	if pct/10 > s.nextPg {
		s.nextPg = pct / 10
		fmt.Fprintf(s.opt.Progress, "whatif %s: simulated %.0fs (%d%% of the recorded run's length)\n",
			s.spec.Name, float64(s.now-s.app.Start)/1000, pct)
	}
}

// driver carries out a driver action.
func (s *simulator) driver(a driverAction) {
	if a.job < 0 {
		if s.m != nil {
			s.m.UnpersistRDD(tm(s.now), a.rdd)
		}
		return
	}
	j := s.jobs[a.job]
	if s.m != nil {
		var js []scaler.JobStage
		for _, st := range j.stages {
			sh := -1
			if st.st.ShuffleMap {
				sh = st.st.ID
			}
			js = append(js, scaler.JobStage{StageID: st.st.ID, ShuffleID: sh})
		}
		s.m.JobStart(tm(s.now), j.job.ID, js)
	}
	j.submitted = true
	for _, st := range j.stages {
		if !st.done {
			j.pending++
		}
	}
	s.submitReady(j)
	s.maybeEndJob(j, a.job)
}

// submitReady submits the stages of j whose parents are all done.
func (s *simulator) submitReady(j *simJob) {
	for _, st := range j.stages {
		if st.done || st.started {
			continue
		}
		ready := true
		for _, p := range st.st.Parents {
			// A parent outside this job that is not running has its output
			// already (Spark lists every stage a job must compute).
			if ps := s.stages[p]; ps != nil && !ps.done && (ps.started || slices.Contains(j.stages, ps)) {
				ready = false
				break
			}
		}
		if !ready {
			continue
		}
		st.started = true
		idx := make([]int, 0, len(st.st.Tasks))
		for i := range st.st.Tasks {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		st.todo = idx
		if len(idx) == 0 {
			// Nothing recorded ran (a skipped stage): done at once.
			s.stageDone(st)
			continue
		}
		if s.m != nil {
			s.m.StageSubmitted(tm(s.now), scaler.StageAttempt{StageID: st.st.ID}, len(idx), scaler.DefaultResourceProfileID)
		}
		s.queue = append(s.queue, st)
	}
}

func (s *simulator) stageDone(st *simStage) {
	st.done = true
	if s.m != nil && len(st.st.Tasks) > 0 {
		s.m.StageCompleted(tm(s.now), scaler.StageAttempt{StageID: st.st.ID})
	}
	for i, j := range s.jobs {
		if j.ended || j.pending == 0 {
			continue
		}
		if slices.Contains(j.stages, st) {
			j.pending--
			s.submitReady(j)
			s.maybeEndJob(j, i)
		}
	}
}

func (s *simulator) maybeEndJob(j *simJob, idx int) {
	if j.ended || j.pending > 0 {
		return
	}
	if !j.submitted {
		return
	}
	j.ended = true
	s.jobEnd[idx] = s.now
	s.jobsLeft--
	if s.m != nil {
		s.m.JobEnd(tm(s.now), j.job.ID)
	}
	for _, k := range s.anchored[idx] {
		s.push(simEvent{at: s.now + s.actions[k].offset, kind: evDriver, action: k})
	}
}

// dispatch starts queued tasks on free slots, stages in submission order.
func (s *simulator) dispatch() {
	for len(s.queue) > 0 {
		st := s.queue[0]
		for len(st.todo) > 0 {
			var x *simExec
			if !s.unlimited {
				if len(s.free) == 0 {
					return
				}
				k := s.rng.IntN(len(s.free))
				x = s.free[k]
				s.free[k] = s.free[len(s.free)-1]
				s.free = s.free[:len(s.free)-1]
			}
			idx := st.todo[0]
			st.todo = st.todo[1:]
			s.startTask(st, idx, x)
		}
		s.queue = s.queue[1:]
	}
}

func (s *simulator) startTask(st *simStage, idx int, x *simExec) {
	st.running++
	rt := &runningTask{stage: st, index: idx, exec: x}
	if x != nil {
		if x.running == 0 {
			x.busySince = s.now
		}
		x.running++
		if s.m != nil {
			s.m.TaskStart(tm(s.now), scaler.StageAttempt{StageID: st.st.ID}, idx, x.id, false)
		}
	}
	t := st.st.Tasks[idx]
	s.push(simEvent{at: s.now + (t.Finish - t.Launch), kind: evTaskEnd, task: rt})
}

func (s *simulator) taskEnd(rt *runningTask) {
	st, x := rt.stage, rt.exec
	st.running--
	if x != nil {
		x.running--
		if x.running == 0 {
			x.busy += s.now - x.busySince
		}
		if s.m != nil {
			sa := scaler.StageAttempt{StageID: st.st.ID}
			s.m.TaskEnd(tm(s.now), sa, rt.index, x.id, false, scaler.TaskSuccess)
			for _, rdd := range st.st.Cached {
				k := [2]int{rdd, rt.index}
				if !s.cached[k] {
					s.cached[k] = true
					s.m.RDDBlockUpdated(tm(s.now), x.id, rdd, rt.index, scaler.StorageMemoryAndDisk)
				}
			}
		}
		if x.removed < 0 {
			s.free = append(s.free, x)
		}
	}
	if st.running == 0 && len(st.todo) == 0 {
		s.stageDone(st)
	}
}

// request asks the cluster for one executor, up after the start-up latency.
func (s *simulator) request() {
	s.reqs++
	at := s.now + s.opt.StartupLatency.Milliseconds()
	s.pending = append(s.pending, at)
	s.push(simEvent{at: at, kind: evExecutorReady, exec: s.reqs})
}

// executorReady brings up the oldest pending executor, if its request was
// not cancelled meanwhile.
func (s *simulator) executorReady() {
	if len(s.pending) == 0 || s.pending[0] > s.now {
		return // cancelled
	}
	s.pending = s.pending[1:]
	x := &simExec{id: strconv.Itoa(len(s.execs) + 1), ready: s.now, removed: -1}
	s.execs = append(s.execs, x)
	for range s.slots {
		s.free = append(s.free, x)
	}
	s.live++
	if s.m != nil {
		s.m.ExecutorAdded(tm(s.now), x.id, scaler.DefaultResourceProfileID)
	}
	s.sample()
}

// tick is the EAM's schedule(): remove what it chose, then make the
// cluster follow the target (ask for more, or cancel requests not up yet,
// as Spark's Kubernetes allocator deletes pending pods).
func (s *simulator) tick() {
	for _, id := range s.m.Schedule(tm(s.now)) {
		n, _ := strconv.Atoi(id)
		x := s.execs[n-1]
		x.removed = s.now
		s.live--
		s.free = slices.DeleteFunc(s.free, func(f *simExec) bool { return f == x })
		s.m.ExecutorRemoved(tm(s.now), id, "Executor killed by driver.")
	}
	s.sync()
	s.sample()
}

// sync makes live + pending executors follow the target.
func (s *simulator) sync() {
	want := s.m.TotalTarget()
	have := s.live + len(s.pending)
	for ; have < want; have++ {
		s.request()
	}
	for s.opt.Pending != PendingKeep && have > want && len(s.pending) > 0 && have > s.live {
		s.pending = s.pending[:len(s.pending)-1]
		have--
	}
}

func (s *simulator) sample() {
	target := 0
	if s.m != nil {
		target = s.m.TotalTarget()
	} else if s.spec.IsStatic() {
		target = s.spec.Static
	}
	smp := Sample{T: float64(s.now-s.app.Start) / 1000, Executors: s.live, Target: target}
	if n := len(s.series); n > 0 {
		last := s.series[n-1]
		if last.Executors == smp.Executors && last.Target == smp.Target {
			return
		}
		if last.T == smp.T {
			s.series[n-1] = smp
			return
		}
	}
	s.series = append(s.series, smp)
}

func (s *simulator) result() Result {
	r := Result{Policy: s.spec.Name, MakespanSeconds: float64(s.now-s.app.Start) / 1000}
	if s.unlimited {
		return r
	}
	spans := make([][2]int64, 0, len(s.execs))
	for _, x := range s.execs {
		end := x.removed
		if end < 0 {
			end = s.now
			if x.running > 0 {
				x.busy += s.now - x.busySince
			}
		}
		life := end - x.ready
		r.ExecutorSeconds += float64(life) / 1000
		r.IdleExecutorSeconds += float64(life-x.busy) / 1000
		spans = append(spans, [2]int64{x.ready, end})
	}
	r.MaxExecutors = peakConcurrency(spans)
	r.ExecutorsStarted = len(s.execs)
	s.live = 0
	s.sample()
	r.Series = s.series
	return r
}
