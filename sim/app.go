package sim

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/scaler"
)

// App is one recorded Spark application, reduced to what the simulator
// needs: its jobs and stages with their recorded task durations, the
// executors it had, its Spark properties, and the timed events to replay.
type App struct {
	ID, Name string
	// Start and End are the application's start and end (epoch ms).
	Start, End int64
	// Conf holds the Spark properties of the environment update.
	Conf map[string]string
	// Jobs in submission order.
	Jobs []*Job
	// Stages by stage id.
	Stages map[int]*Stage
	// Executors the log had, in order of addition.
	Executors []ExecutorSpan
	// ProfileSlots holds the task slots per executor of each resource
	// profile the log added (SparkListenerResourceProfileAdded): the
	// smallest executor amount over task amount of the resources tasks ask
	// for, cores over cpus included.
	ProfileSlots map[int]int
	// Timeline is every kept event with its time (ms), in log order.
	Timeline []Timed
	// Stats says what reading skipped; OutOfOrder counts events whose time
	// went back more than a second (their time is clamped).
	Stats      ReadStats
	OutOfOrder int
	// Orphans counts task events of stages never submitted (skipped).
	Orphans int
}

// Timed is an event and the time it happened (epoch ms, never before the
// previous event's).
type Timed struct {
	At int64
	Event
}

// Job is one Spark job.
type Job struct {
	ID             int
	Submit, End    int64
	Stages         []int
	shuffleOfStage map[int]bool
}

// Stage is one stage, its attempts merged: the task that finished each
// partition last (successful attempts only), its parents and whether it
// writes shuffle output.
type Stage struct {
	ID         int
	Name       string
	NumTasks   int
	Parents    []int
	RP         int
	ShuffleMap bool
	// Cached lists the RDDs of the stage that are persisted: its tasks
	// leave cached blocks on their executors.
	Cached []int
	// Tasks maps the partition index to its successful run.
	Tasks map[int]Task
	// Failed counts task runs that did not succeed (not re-simulated).
	Failed               int
	Submitted, Completed int64
}

// Task is one successful task run.
type Task struct {
	Index          int
	Launch, Finish int64
	Executor       string
}

// Duration is the task's run time as recorded (finish − launch).
func (t Task) Duration() time.Duration { return time.Duration(t.Finish-t.Launch) * time.Millisecond }

// ExecutorSpan is one executor's life in the log (epoch ms); Removed is
// the application end when the log never removed it.
type ExecutorSpan struct {
	ID             string
	Cores          int
	RP             int
	Added, Removed int64
}

// Load reads an event log (Open + ReadEvents + Build).
func Load(path string, strict bool) (*App, error) {
	rc, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return Read(rc, strict)
}

// Read reads and builds an App from event-log lines.
func Read(r io.Reader, strict bool) (*App, error) {
	evs, st, err := ReadEvents(r, strict)
	if err != nil {
		return nil, err
	}
	app, err := Build(evs)
	if err != nil {
		return nil, err
	}
	app.Stats = st
	return app, nil
}

// eventTime returns the time an event carries, 0 when it carries none.
func eventTime(e *Event) int64 {
	switch e.Event {
	case "SparkListenerApplicationStart", "SparkListenerApplicationEnd",
		"SparkListenerExecutorAdded", "SparkListenerExecutorRemoved":
		return e.Timestamp
	case "SparkListenerJobStart":
		return e.SubmissionTime
	case "SparkListenerJobEnd":
		return e.CompletionTime
	case "SparkListenerStageSubmitted":
		if e.StageInfo != nil {
			return e.StageInfo.SubmissionTime
		}
	case "SparkListenerStageCompleted":
		if e.StageInfo != nil {
			return e.StageInfo.CompletionTime
		}
	case "SparkListenerTaskStart":
		if e.TaskInfo != nil {
			return e.TaskInfo.LaunchTime
		}
	case "SparkListenerTaskEnd":
		if e.TaskInfo != nil {
			return e.TaskInfo.FinishTime
		}
	}
	return 0
}

// Build turns events into an App. It needs an application start; task
// events of unknown stages are counted in Orphans and skipped.
func Build(evs []Event) (*App, error) {
	app := &App{Conf: map[string]string{}, Stages: map[int]*Stage{}, ProfileSlots: map[int]int{}}
	jobs := map[int]*Job{}
	execs := map[string]int{}
	var last int64
	started := false
	for i := range evs {
		e := &evs[i]
		at := eventTime(e)
		if at <= 0 {
			at = last
		}
		if at < last {
			if last-at > 1000 {
				app.OutOfOrder++
			}
			at = last
		}
		last = at
		keep := true
		switch e.Event {
		case "SparkListenerApplicationStart":
			app.ID, app.Name, app.Start, started = e.AppID, e.AppName, e.Timestamp, true
		case "SparkListenerApplicationEnd":
			app.End = e.Timestamp
		case "SparkListenerEnvironmentUpdate":
			props, err := e.Properties()
			if err != nil {
				return nil, fmt.Errorf("event %d (%s): %w", i+1, e.Event, err)
			}
			for k, v := range props {
				app.Conf[k] = v
			}
		case "SparkListenerJobStart":
			if e.JobID == nil {
				return nil, fmt.Errorf("event %d (%s): no Job ID", i+1, e.Event)
			}
			j := &Job{ID: *e.JobID, Submit: at, shuffleOfStage: map[int]bool{}}
			parentOf := map[int]bool{}
			for _, si := range e.StageInfos {
				for _, p := range si.ParentIDs {
					parentOf[p] = true
				}
			}
			for _, si := range e.StageInfos {
				j.Stages = append(j.Stages, si.StageID)
				s := app.stage(si)
				if parentOf[si.StageID] {
					s.ShuffleMap = true
					j.shuffleOfStage[si.StageID] = true
				}
			}
			jobs[j.ID] = j
			app.Jobs = append(app.Jobs, j)
		case "SparkListenerJobEnd":
			if e.JobID != nil {
				if j, ok := jobs[*e.JobID]; ok {
					j.End = at
				}
			}
		case "SparkListenerStageSubmitted", "SparkListenerStageCompleted":
			if e.StageInfo == nil {
				return nil, fmt.Errorf("event %d (%s): no Stage Info", i+1, e.Event)
			}
			s := app.stage(*e.StageInfo)
			if e.Event == "SparkListenerStageSubmitted" && s.Submitted == 0 {
				s.Submitted = at
			} else if e.Event == "SparkListenerStageCompleted" {
				s.Completed = at
			}
		case "SparkListenerTaskStart", "SparkListenerTaskEnd":
			if e.StageID == nil || e.TaskInfo == nil {
				return nil, fmt.Errorf("event %d (%s): no Stage ID or Task Info", i+1, e.Event)
			}
			s, ok := app.Stages[*e.StageID]
			if !ok {
				app.Orphans++
				keep = false
				break
			}
			if e.Event == "SparkListenerTaskEnd" {
				s.taskEnd(e)
			}
		case "SparkListenerResourceProfileAdded":
			if e.ResourceProfileID != nil {
				if n := profileSlots(e); n > 0 {
					app.ProfileSlots[*e.ResourceProfileID] = n
				}
			}
		case "SparkListenerExecutorAdded":
			cores, rp := 1, 0
			if e.ExecutorInfo != nil && e.ExecutorInfo.TotalCores > 0 {
				cores, rp = e.ExecutorInfo.TotalCores, e.ExecutorInfo.ResourceProfileID
			}
			execs[e.ExecutorID] = len(app.Executors)
			app.Executors = append(app.Executors, ExecutorSpan{ID: e.ExecutorID, Cores: cores, RP: rp, Added: at, Removed: -1})
		case "SparkListenerExecutorRemoved":
			if k, ok := execs[e.ExecutorID]; ok && app.Executors[k].Removed < 0 {
				app.Executors[k].Removed = at
			}
		}
		if keep {
			app.Timeline = append(app.Timeline, Timed{At: at, Event: *e})
		}
	}
	if !started {
		return nil, errors.New("no SparkListenerApplicationStart event: not a Spark event log, or its start is missing")
	}
	if app.End == 0 {
		app.End = last // in-progress or crashed: the last event ends it
	}
	for k := range app.Timeline {
		// Events before the application start (log start, environment)
		// carry no time of their own.
		app.Timeline[k].At = max(app.Timeline[k].At, app.Start)
	}
	for k := range app.Executors {
		if app.Executors[k].Removed < 0 {
			app.Executors[k].Removed = app.End
		}
	}
	return app, nil
}

// stage returns the stage of si, creating it with si's shape.
func (a *App) stage(si StageInfo) *Stage {
	s, ok := a.Stages[si.StageID]
	if !ok {
		s = &Stage{ID: si.StageID, Name: si.Name, NumTasks: si.NumTasks, Parents: slices.Clone(si.ParentIDs),
			RP: si.RPID, Tasks: map[int]Task{}}
		for _, r := range si.RDDInfo {
			if r.StorageLevel.UseDisk || r.StorageLevel.UseMemory {
				s.Cached = append(s.Cached, r.RDDID)
			}
		}
		a.Stages[si.StageID] = s
	}
	return s
}

// profileSlots is a resource profile's task slots per executor: for each
// resource a task asks for (cpus against the executor's cores), executor
// amount over task amount, the smallest; 0 when it cannot tell.
func profileSlots(e *Event) int {
	slots := 0
	for name, t := range e.TaskResources {
		ex := name
		if name == "cpus" {
			ex = "cores"
		}
		x, ok := e.ExecutorResources[ex]
		if !ok || t.Amount <= 0 || x.Amount <= 0 || math.IsInf(x.Amount/t.Amount, 0) {
			continue
		}
		n := int(math.Min(x.Amount/t.Amount, 1<<20))
		if slots == 0 || n < slots {
			slots = n
		}
	}
	return slots
}

// taskEnd records a successful task run; others are counted.
func (s *Stage) taskEnd(e *Event) {
	ti := e.TaskInfo
	ok := e.TaskEndReason == nil || e.TaskEndReason.Reason == "Success"
	if !ok || ti.Failed || ti.Killed || ti.FinishTime < ti.LaunchTime {
		s.Failed++
		return
	}
	if e.TaskType == "ShuffleMapTask" {
		s.ShuffleMap = true
	}
	s.Tasks[ti.Index] = Task{Index: ti.Index, Launch: ti.LaunchTime, Finish: ti.FinishTime, Executor: ti.ExecutorID}
}

// SlotsPerExecutor is the task slots of the first executor's resource
// profile when the log added a non-default one, else spark.executor.cores
// / spark.task.cpus, with the first executor's cores when
// spark.executor.cores is unset; at least 1.
func (a *App) SlotsPerExecutor() int {
	if len(a.Executors) > 0 && a.Executors[0].RP != 0 && a.ProfileSlots[a.Executors[0].RP] > 0 {
		return a.ProfileSlots[a.Executors[0].RP]
	}
	cores := 0
	if v, err := strconv.Atoi(a.Conf["spark.executor.cores"]); err == nil && v > 0 {
		cores = v
	} else if len(a.Executors) > 0 {
		cores = a.Executors[0].Cores
	}
	cpus := 1
	if v, err := strconv.Atoi(a.Conf["spark.task.cpus"]); err == nil && v > 0 {
		cpus = v
	}
	return max(1, cores/cpus)
}

// Recorded is what the log itself says about the run.
type Recorded struct {
	// MakespanSeconds is application end − start.
	MakespanSeconds float64 `json:"makespan_seconds"`
	// ExecutorSeconds sums each executor's life (added → removed or end).
	ExecutorSeconds float64 `json:"executor_seconds"`
	// MaxExecutors is the most executors alive at once.
	MaxExecutors int `json:"max_executors"`
}

// Recorded measures the recorded run.
func (a *App) Recorded() Recorded {
	r := Recorded{MakespanSeconds: float64(a.End-a.Start) / 1000}
	spans := make([][2]int64, 0, len(a.Executors))
	for _, x := range a.Executors {
		r.ExecutorSeconds += float64(x.Removed-x.Added) / 1000
		spans = append(spans, [2]int64{x.Added, x.Removed})
	}
	r.MaxExecutors = peakConcurrency(spans)
	return r
}

// peakConcurrency is the most spans [start, end) (milliseconds) open at the
// same instant; a span that ends when another starts does not overlap it.
func peakConcurrency(spans [][2]int64) int {
	type edge struct {
		at int64
		d  int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, sp := range spans {
		edges = append(edges, edge{sp[0], 1}, edge{sp[1], -1})
	}
	slices.SortFunc(edges, func(p, q edge) int {
		if c := cmp.Compare(p.at, q.at); c != 0 {
			return c
		}
		return p.d - q.d // ends first
	})
	n, peak := 0, 0
	for _, e := range edges {
		n += e.d
		peak = max(peak, n)
	}
	return peak
}

// TaskSeconds sums the recorded successful task durations.
func (a *App) TaskSeconds() float64 {
	var ms int64
	for _, s := range a.Stages {
		for _, t := range s.Tasks {
			ms += t.Finish - t.Launch
		}
	}
	return float64(ms) / 1000
}

// Skipped says what reading and building skipped, "" when nothing.
func (a *App) Skipped() string {
	var parts []string
	if a.Stats.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d events of classes the simulator does not use", a.Stats.Unknown))
	}
	if a.Stats.Malformed > 0 {
		parts = append(parts, fmt.Sprintf("%d malformed lines", a.Stats.Malformed))
	}
	if a.Stats.Truncated > 0 {
		parts = append(parts, "a truncated last line")
	}
	if a.OutOfOrder > 0 {
		parts = append(parts, fmt.Sprintf("%d events more than 1s out of order (clamped)", a.OutOfOrder))
	}
	if a.Orphans > 0 {
		parts = append(parts, fmt.Sprintf("%d task events of unknown stages", a.Orphans))
	}
	if len(parts) == 0 {
		return ""
	}
	return "skipped " + strings.Join(parts, ", ")
}

// EffectiveConf is the log's Spark properties with spark.executor.cores
// filled in from the executors when the log does not set it, so the
// engine counts the task slots the executors really had.
// When the executors ran under a non-default resource profile the
// re-simulation folds it into the default one: executor cores = its task
// slots, task cpus = 1.
func (a *App) EffectiveConf() map[string]string {
	c := maps.Clone(a.Conf)
	if len(a.Executors) > 0 && a.Executors[0].RP != 0 && a.ProfileSlots[a.Executors[0].RP] > 0 {
		c["spark.executor.cores"] = strconv.Itoa(a.ProfileSlots[a.Executors[0].RP])
		c["spark.task.cpus"] = "1"
		return c
	}
	if _, ok := c["spark.executor.cores"]; !ok && len(a.Executors) > 0 {
		c["spark.executor.cores"] = strconv.Itoa(a.Executors[0].Cores)
	}
	return c
}

// EstimateStartupLatency estimates, from the log, how long the cluster
// took to bring up an executor: from the first request the EAM would
// have made (the application start when initialExecutors > 0, else the
// first stage submission plus schedulerBacklogTimeout) to the first
// ExecutorAdded. It returns false when the log has no executor or no
// stage to tell.
func (a *App) EstimateStartupLatency(cfg scaler.Config) (time.Duration, bool) {
	if len(a.Executors) == 0 {
		return 0, false
	}
	req := a.Start
	if cfg.InitialExecutors() == 0 {
		first := int64(-1)
		for _, s := range a.Stages {
			if s.Submitted > 0 && (first < 0 || s.Submitted < first) {
				first = s.Submitted
			}
		}
		if first < 0 {
			return 0, false
		}
		req = first + cfg.SchedulerBacklogTimeout.Milliseconds()
	}
	added := a.Executors[0].Added
	for _, x := range a.Executors {
		added = min(added, x.Added)
	}
	return time.Duration(max(0, added-req)) * time.Millisecond, true
}

// CancelsPending reports whether the log's cluster manager calls off
// executors asked for and not up yet when Spark lowers its request:
// Kubernetes (pending pods are deleted) and YARN (container requests are
// withdrawn) do; a standalone master (spark://, local-cluster) launches
// what it granted, so do unknown ones. Without spark.master the
// application id tells: YARN's are application_…, Kubernetes' spark-….
func (a *App) CancelsPending() bool {
	if m, ok := a.Conf["spark.master"]; ok {
		return strings.HasPrefix(m, "k8s://") || strings.HasPrefix(m, "yarn")
	}
	return strings.HasPrefix(a.ID, "application_") || strings.HasPrefix(a.ID, "spark-")
}
