package externalscaler

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sparkdra/sparkdra/scaler"
)

// Exporter metric families the scaler reads (docs/contracts.md §1).
const (
	famUp               = "spark_up"
	famPending          = "spark_dra_pending_tasks"
	famRunning          = "spark_dra_running_tasks"
	famBacklog          = "spark_dra_backlog_duration_seconds"
	famTasksPerExecutor = "spark_dra_tasks_per_executor"
	famStagesSubmitted  = "spark_dra_stages_submitted"
	famExecutors        = "spark_dra_executors"
	famExecInfo         = "spark_executor_info"
	famExecRunning      = "spark_executor_running_tasks"
	famExecIdle         = "spark_executor_idle_duration_seconds"
	famExecShuffle      = "spark_executor_shuffle_active"
)

// Families lists every exporter metric family an observation is built
// from, in a fixed order.
var Families = []string{famUp, famPending, famRunning, famBacklog, famTasksPerExecutor, famStagesSubmitted,
	famExecutors, famExecInfo, famExecRunning, famExecIdle, famExecShuffle}

// Label names that belong to a series, not to the application
// (isSeriesLabel): __name__, executor_id, host, resource_profile_id, holds,
// state. Everything else (app_id, app_name, namespace, pod, and whatever
// Prometheus attaches: job, instance, cluster…) identifies the application
// and is what a Selector matches.

// Snapshot is one read of a data source: every Spark application it knows,
// with the series the scaler uses. It is immutable once built and safe to
// share between goroutines.
type Snapshot struct {
	// Time is when the source was read: the evaluation time of the
	// Prometheus queries, or the time the exporter answered.
	Time time.Time
	// Apps are the applications, in no particular order.
	Apps []*App

	mu    sync.Mutex
	index map[string]map[string][]*App // label name → value → apps, built on demand
	sawUp bool
}

// candidates returns the applications sel can select: the smallest set
// of those carrying the value of one of sel's equality matchers on a
// non-empty value (from indexes built on first use), else all.
func (s *Snapshot) candidates(sel Selector) []*App {
	best, found := s.Apps, false
	for i := range sel {
		m := &sel[i]
		if m.Type != MatchEqual || m.Value == "" {
			continue
		}
		if c := s.withLabel(m.Name, m.Value); !found || len(c) < len(best) {
			best, found = c, true
		}
	}
	return best
}

func (s *Snapshot) withLabel(name, value string) []*App {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.index = map[string]map[string][]*App{}
	}
	byValue, ok := s.index[name]
	if !ok {
		byValue = map[string][]*App{}
		for _, a := range s.Apps {
			if v := a.Labels[name]; v != "" {
				byValue[v] = append(byValue[v], a)
			}
		}
		s.index[name] = byValue
	}
	return byValue[value]
}

// App is one Spark application in a Snapshot.
type App struct {
	// Labels are the application's identifying labels (no metric name, no
	// executor labels).
	Labels map[string]string
	// SampleTime is when the application's spark_up sample was taken.
	SampleTime time.Time

	up, pending, running, backlog, tpe, stages, executorsByState float64
	has                                                          uint16 // bit per family index
	executors                                                    map[string]*execSample
}

type execSample struct {
	id, host      string
	running, idle float64
	hasIdle       bool
	holds         scaler.Holds
	shuffleActive bool
}

// Label returns the value of an application label, "" when absent.
func (a *App) Label(name string) string { return a.Labels[name] }

// ID returns the application's app_id label.
func (a *App) ID() string { return a.Labels["app_id"] }

func (a *App) hasFamily(i int) bool { return a.has&(1<<i) != 0 }

// snapshotBuilder folds samples of the exporter's families into Apps.
type snapshotBuilder struct {
	snap struct {
		Time time.Time
		Apps []*App
	}
	byKey map[uint64]*App
}

func newSnapshotBuilder(t time.Time) *snapshotBuilder {
	b := &snapshotBuilder{byKey: map[uint64]*App{}}
	b.snap.Time = t
	return b
}

// app returns the App a series belongs to, creating it on first sight.
func (b *snapshotBuilder) app(m model.Metric) *App {
	key := appKey(m)
	if a, ok := b.byKey[key]; ok {
		return a
	}
	a := &App{Labels: make(map[string]string, len(m)), SampleTime: b.snap.Time}
	for n, v := range m {
		if !isSeriesLabel(n) {
			a.Labels[string(n)] = string(v)
		}
	}
	b.byKey[key] = a
	b.snap.Apps = append(b.snap.Apps, a)
	return a
}

// isSeriesLabel: the label belongs to a series, not to the application.
func isSeriesLabel(n model.LabelName) bool {
	switch n {
	case model.MetricNameLabel, "executor_id", "host", "resource_profile_id", "holds", "state":
		return true
	}
	return false
}

// appKey identifies an application by its labels, whatever their order:
// the XOR of a mixed FNV-1a hash of each (name, value) pair, over the
// labels that are not series labels. No sorting and no allocation, which
// matters at tens of thousands of series per tick; 64 bits make a
// collision between two applications of one snapshot negligible.
func appKey(m model.Metric) uint64 {
	var key uint64
	for n, v := range m {
		if isSeriesLabel(n) {
			continue
		}
		h := uint64(14695981039346656037)
		for i := 0; i < len(n); i++ {
			h = (h ^ uint64(n[i])) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211
		for i := 0; i < len(v); i++ {
			h = (h ^ uint64(v[i])) * 1099511628211
		}
		// splitmix64 finaliser, so XOR-ing pairs does not cancel structure
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
		key ^= h
	}
	return key
}

// add folds one sample of family name into the snapshot. Samples of other
// families, and NaN values, are ignored.
func (b *snapshotBuilder) add(name string, m model.Metric, v float64) {
	fi := slices.Index(Families, name)
	if fi < 0 || math.IsNaN(v) {
		return
	}
	a := b.app(m)
	a.has |= 1 << fi
	switch name {
	case famUp:
		a.up = v
	case famPending:
		a.pending = v
	case famRunning:
		a.running = v
	case famBacklog:
		a.backlog = v
	case famTasksPerExecutor:
		a.tpe = v
	case famStagesSubmitted:
		a.stages = v
	case famExecutors:
		a.executorsByState += v
	default:
		b.addExecutor(a, name, m, v)
	}
}

func (b *snapshotBuilder) addExecutor(a *App, name string, m model.Metric, v float64) {
	id := string(m["executor_id"])
	if id == "" {
		return
	}
	if a.executors == nil {
		a.executors = map[string]*execSample{}
	}
	x := a.executors[id]
	if x == nil {
		x = &execSample{id: id}
		a.executors[id] = x
	}
	switch name {
	case famExecInfo:
		x.host = string(m["host"])
	case famExecRunning:
		x.running = v
	case famExecIdle:
		x.idle, x.hasIdle = v, true
		if h, err := scaler.ParseHolds(string(m["holds"])); err == nil {
			x.holds = h
		}
	case famExecShuffle:
		x.shuffleActive = v == 1
	}
}

// setSampleTime records when the application's spark_up was sampled.
func (b *snapshotBuilder) setSampleTime(m model.Metric, t time.Time) {
	b.app(m).SampleTime = t
}

func (b *snapshotBuilder) build() *Snapshot {
	s := &Snapshot{Time: b.snap.Time, Apps: b.snap.Apps}
	for _, a := range s.Apps {
		s.sawUp = s.sawUp || a.hasFamily(0)
	}
	return s
}

// UnavailableError says why no decision can be made from the data: stale,
// missing or failed observations. The gRPC layer answers it with
// codes.Unavailable, never with a zero.
type UnavailableError struct {
	// Reason is the errors_total label: "stale" or "query".
	Reason string
	Msg    string
}

func (e *UnavailableError) Error() string { return e.Msg }

func unavailable(reason, format string, args ...any) *UnavailableError {
	return &UnavailableError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ObservationInfo tells where an Observation came from.
type ObservationInfo struct {
	// Apps are the app_id of the selected applications, sorted.
	Apps []string
	// SampleTime is the oldest spark_up sample among them (the snapshot's
	// time when none was selected).
	SampleTime time.Time
}

// Observe sums the demand of every application sel selects (design.md):
// pending, running and speculative tasks add up, the backlog duration is the
// longest, executors are the union (ids prefixed with "<app_id>/" when
// several applications match, so they stay unique), a stage submitted in
// any of them ends initializing, and tasks per executor is the smallest
// one seen (more executors rather than fewer).
//
// A selected application with spark_up missing or 0, or without its task
// gauges, or whose executors are counted but not listed (per-executor
// series switched off), makes the observation unavailable. Selecting no
// application is "no demand" only when the snapshot holds some spark_up
// series at all; an empty source is unavailable, so a Prometheus or
// exporter that lost its targets never scales anything to zero.
func (s *Snapshot) Observe(sel Selector) (scaler.Observation, ObservationInfo, error) {
	var obs scaler.Observation
	info := ObservationInfo{SampleTime: s.Time}
	var matched []*App
	for _, a := range s.candidates(sel) {
		if sel.Matches(a.Label) {
			matched = append(matched, a)
		}
	}
	if len(matched) == 0 {
		if !s.sawUp {
			return obs, info, unavailable("stale", "the data source has no spark_up series: no exporter data to decide from")
		}
		obs.NoApplication = true
		return obs, info, nil
	}
	slices.SortFunc(matched, func(x, y *App) int { return strings.Compare(x.ID(), y.ID()) })
	for i, a := range matched {
		if err := a.check(); err != nil {
			return obs, info, err
		}
		info.Apps = append(info.Apps, a.ID())
		if i == 0 || a.SampleTime.Before(info.SampleTime) {
			info.SampleTime = a.SampleTime
		}
		a.addTo(&obs, len(matched) > 1)
	}
	return obs, info, nil
}

func (a *App) check() error {
	switch {
	case !a.hasFamily(0):
		return unavailable("stale", "application %s: no %s series", a.ID(), famUp)
	case a.up != 1:
		return unavailable("stale", "application %s: %s is %v (the exporter cannot read its driver)", a.ID(), famUp, a.up)
	case !a.hasFamily(1) || !a.hasFamily(2):
		return unavailable("stale", "application %s: %s or %s missing", a.ID(), famPending, famRunning)
	case a.executorsByState > 0 && len(a.executors) == 0:
		return unavailable("stale", "application %s: %v executors but no per-executor series (needed to choose what to remove)", a.ID(), a.executorsByState)
	}
	return nil
}

func (a *App) addTo(obs *scaler.Observation, prefix bool) {
	obs.PendingTasks += clampInt(a.pending)
	obs.RunningTasks += clampInt(a.running)
	obs.BacklogDuration = max(obs.BacklogDuration, seconds(a.backlog))
	if tpe := clampInt(a.tpe); tpe > 0 && (obs.TasksPerExecutor == 0 || tpe < obs.TasksPerExecutor) {
		obs.TasksPerExecutor = tpe
	}
	obs.StageSubmitted = obs.StageSubmitted || a.stages > 0
	ids := make([]string, 0, len(a.executors))
	for id := range a.executors {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		x := a.executors[id]
		eo := scaler.ExecutorObservation{ID: id, Host: x.host, RunningTasks: clampInt(x.running),
			Holds: x.holds, ActiveShuffle: x.shuffleActive}
		if prefix {
			eo.ID = a.ID() + "/" + id
		}
		if eo.RunningTasks == 0 && x.hasIdle {
			eo.IdleDuration = seconds(x.idle)
		}
		obs.Executors = append(obs.Executors, eo)
	}
}

func clampInt(v float64) int {
	if !(v > 0) {
		return 0
	}
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(v)
}

func seconds(v float64) time.Duration {
	if !(v > 0) {
		return 0
	}
	if v > 1e9 {
		v = 1e9
	}
	return time.Duration(v * float64(time.Second))
}
