package scaler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The conformance harness runs the scenarios of docs/spark-dra.md §10 (Spark's
// ExecutorAllocationManagerSuite and ExecutorMonitorSuite, in the JSON DSL of
// spark-dra-scenarios.json) against the engine. DRA_SCENARIOS names another
// file; by default it is testdata/spark-dra-scenarios.json at the repository
// root (testdata/SOURCE.md).

type scenarioFile []scenario

// The types below mirror the file's format (docs/spark-dra.md §10.1) field
// for field: decoding refuses unknown fields and mistyped values, so a typo
// in a scenario fails the run instead of turning into a zero.
type scenario struct {
	Name             string                     `json:"name"`
	SourceTest       string                     `json:"source_test"`
	SourceFile       string                     `json:"source_file"`
	Note             string                     `json:"note"`
	Config           map[string]json.RawMessage `json:"config"`
	ClockStartMS     int64                      `json:"clock_start_ms"`
	ResourceProfiles map[string]struct {
		ExecutorCores     int            `json:"executor_cores"`
		TaskCPUs          int            `json:"task_cpus"`
		ExecutorResources map[string]int `json:"executor_resources"`
		TaskResources     map[string]int `json:"task_resources"`
		TasksPerExecutor  int            `json:"tasks_per_executor"`
	} `json:"resource_profiles"`
	Events       []step `json:"events"`
	Expectations []step `json:"expectations"`
}

// step is an event or an expectation; they share one seq order.
type step struct {
	Seq      int                        `json:"seq"`
	TMS      int64                      `json:"t_ms"` // the scenario clock at this step, as written (informative)
	Note     string                     `json:"note"`
	Kind     string                     `json:"kind"`
	Args     map[string]json.RawMessage `json:"args"`
	Field    string                     `json:"field"`
	Value    json.RawMessage            `json:"value"`
	Op       string                     `json:"op"`
	RP       *int                       `json:"rp"`
	Executor string                     `json:"executor"`
	Deadline string                     `json:"deadline"`
}

// eventArgs are every argument an event may carry, typed; eventKinds lists
// each kind's required ones (an argument not listed there is refused).
type eventArgs struct {
	MS          *int64   `json:"ms"`
	ID          *string  `json:"id"`
	IDs         []string `json:"ids"`
	Stage       *int     `json:"stage"`
	Attempt     *int     `json:"attempt"`
	Tasks       *int     `json:"tasks"`
	RP          *int     `json:"rp"`
	TaskID      *int     `json:"task_id"`
	Index       *int     `json:"index"`
	Executor    *string  `json:"executor"`
	Speculative *bool    `json:"speculative"`
	Reason      *string  `json:"reason"`
	RDD         *int     `json:"rdd"`
	Split       *int     `json:"split"`
	Level       *string  `json:"level"`
	Job         *int     `json:"job"`
	Stages      []struct {
		Stage     int  `json:"stage"`
		ShuffleID *int `json:"shuffle_id"`
	} `json:"stages"`
	ShuffleID *int `json:"shuffle_id"`
}

// eventKinds: kind → required arguments, optional ones after a "?".
var eventKinds = map[string][]string{
	"construct": {}, "advance_clock": {"ms"}, "set_clock": {"ms"},
	"known_add": {"id"}, "known_remove": {"id"},
	"stage_submitted": {"stage", "attempt", "tasks", "rp"}, "stage_completed": {"stage", "attempt"},
	"task_start":                  {"stage", "attempt", "index", "executor", "speculative", "?task_id"},
	"task_end":                    {"stage", "attempt", "index", "executor", "speculative", "reason", "?task_id"},
	"speculative_task_submitted":  {"stage", "attempt", "index"},
	"unschedulable_taskset_added": {"stage", "attempt"}, "unschedulable_taskset_removed": {"stage", "attempt"},
	"executor_added": {"id", "rp"}, "executor_removed": {"id", "?reason"},
	"add_executors_to_target": {"rp"}, "do_update_request": {}, "update_and_sync": {},
	"adjust_requested_executors": {}, "schedule": {}, "remove_executors": {"ids", "rp"},
	"on_scheduler_backlogged": {}, "on_scheduler_queue_empty": {}, "reset": {},
	"block_updated": {"executor", "rdd", "split", "level"}, "unpersist_rdd": {"rdd"},
	"job_start": {"job", "stages"}, "job_end": {"job"}, "shuffle_cleaned": {"shuffle_id"},
	"executors_killed": {"ids"},
}

// checkEvent refuses an unknown kind, a missing or unexpected argument and a
// mistyped value.
func checkEvent(s step) error {
	want, ok := eventKinds[s.Kind]
	if !ok {
		return fmt.Errorf("unknown event kind %q", s.Kind)
	}
	allowed := map[string]bool{}
	for _, k := range want {
		opt := strings.HasPrefix(k, "?")
		k = strings.TrimPrefix(k, "?")
		allowed[k] = true
		if _, has := s.Args[k]; !has && !opt {
			return fmt.Errorf("%s: argument %q missing", s.Kind, k)
		}
	}
	for k := range s.Args {
		if !allowed[k] {
			return fmt.Errorf("%s: unexpected argument %q", s.Kind, k)
		}
	}
	raw, err := json.Marshal(s.Args)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var a eventArgs
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("%s: %w", s.Kind, err)
	}
	return nil
}

func (s step) isEvent() bool { return s.Kind != "" }

func scenarioPath(t testing.TB) string {
	if p := os.Getenv("DRA_SCENARIOS"); p != "" {
		return p
	}
	// The test runs in scaler/; the file is at the repository root.
	return filepath.Join("..", "testdata", "spark-dra-scenarios.json")
}

func loadScenarios(t testing.TB) scenarioFile {
	path := scenarioPath(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the DRA scenarios (set DRA_SCENARIOS to override): %v", err)
	}
	f, err := decodeScenarios(raw)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return f
}

// decodeScenarios decodes a scenario file strictly: unknown fields, mistyped
// values, unknown event kinds and missing or unexpected event arguments are
// errors naming the scenario and step.
func decodeScenarios(raw []byte) (scenarioFile, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f scenarioFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the scenario list")
	}
	for _, sc := range f {
		for _, ev := range sc.Events {
			if ev.Kind == "" {
				return nil, fmt.Errorf("scenario %s seq %d: an event without a kind", sc.Name, ev.Seq)
			}
			if err := checkEvent(ev); err != nil {
				return nil, fmt.Errorf("scenario %s seq %d: %w", sc.Name, ev.Seq, err)
			}
		}
		for _, ex := range sc.Expectations {
			if ex.Kind != "" || ex.Field == "" || len(ex.Value) == 0 {
				return nil, fmt.Errorf("scenario %s seq %d: an expectation needs a field and a value, and no kind", sc.Name, ex.Seq)
			}
		}
	}
	return f, nil
}

// failure is one expectation that did not hold.
type failure struct {
	scenario string
	seq      int
	field    string
	want     string
	got      string
}

func TestConformance(t *testing.T) {
	scenarios := loadScenarios(t)
	passed, failed, checked := 0, 0, 0
	for _, sc := range scenarios {
		fails, n := runScenario(sc)
		checked += n
		if len(fails) == 0 {
			passed++
			continue
		}
		failed++
		for _, f := range fails {
			t.Errorf("%s seq=%d field=%s want=%s got=%s", f.scenario, f.seq, f.field, f.want, f.got)
		}
	}
	fmt.Printf("conformance: %d passed, %d failed\n", passed, failed)
	fmt.Printf("(%d scenarios, %d expectations checked, from %s)\n", len(scenarios), checked, scenarioPath(t))
	if len(scenarios) == 0 {
		t.Fatal("no scenarios")
	}
}

// harness is the state of one scenario run.
type harness struct {
	sc         scenario
	cfg        Config
	m          *Manager
	constructE bool
	clockNS    int64
	known      map[string]bool
	updates    map[int][2]int // rp → (delta, old target); never cleared, as in Spark's suite
	lastDelta  int
	removed    []string
}

func (h *harness) now() time.Time { return fromNanos(h.clockNS) }

func msToNS(ms int64) int64 {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	if ms < math.MinInt64/int64(time.Millisecond) {
		return math.MinInt64
	}
	return ms * int64(time.Millisecond)
}

func configProps(raw map[string]json.RawMessage) map[string]string {
	props := map[string]string{}
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			props[k] = s
			continue
		}
		props[k] = strings.TrimSpace(string(v)) // numbers and booleans as written
	}
	return props
}

func (h *harness) construct() {
	monitorSuite := strings.Contains(h.sc.SourceFile, "ExecutorMonitorSuite")
	parse := ParseConfig
	if monitorSuite {
		// The monitor suite builds an ExecutorMonitor on its own: no allocation-manager checks.
		parse = func(props map[string]string) (Config, error) {
			c, err := ParseProperties(props)
			return c, errors.Join(err, c.ValidateMonitor())
		}
	}
	cfg, err := parse(configProps(h.sc.Config))
	h.cfg = cfg
	if err != nil {
		h.constructE = true
		h.m = nil
		return
	}
	slots := map[int]int{}
	for id, rp := range h.sc.ResourceProfiles {
		n, _ := strconv.Atoi(id)
		slots[n] = rp.TasksPerExecutor
	}
	opts := ManagerOptions{TasksPerExecutor: slots}
	if monitorSuite {
		opts.MonitorOnly = true
		// The monitor suite's client knows only the executors it was told of.
		opts.ExecutorActive = func(id string) bool { return h.known[id] }
	} else {
		// The allocation-manager suite's client reports every executor active.
		opts.ExecutorActive = func(string) bool { return true }
	}
	h.m = newManager(cfg, opts)
}

func runScenario(sc scenario) (fails []failure, checked int) {
	h := &harness{sc: sc, clockNS: msToNS(sc.ClockStartMS), known: map[string]bool{}, updates: map[int][2]int{}}
	steps := append(append([]step{}, sc.Events...), sc.Expectations...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Seq < steps[j].Seq })
	hasConstruct := slices.ContainsFunc(sc.Events, func(s step) bool { return s.Kind == "construct" })
	if !hasConstruct {
		h.construct()
	}
	for _, s := range steps {
		if s.isEvent() {
			if err := h.apply(s); err != nil {
				fails = append(fails, failure{sc.Name, s.Seq, "event " + s.Kind, "applied", err.Error()})
			}
			continue
		}
		checked++
		if f, ok := h.check(s); !ok {
			fails = append(fails, f)
		}
	}
	return fails, checked
}

// Argument helpers. decodeScenarios has checked every argument's presence
// and type, so these cannot meet a missing or mistyped one.
func (s step) int(key string) int {
	var n json.Number
	_ = json.Unmarshal(s.Args[key], &n)
	v, _ := n.Int64()
	return int(v)
}

func (s step) int64(key string) int64 {
	var n json.Number
	_ = json.Unmarshal(s.Args[key], &n)
	v, _ := n.Int64()
	return v
}

func (s step) str(key string) string {
	var v string
	if err := json.Unmarshal(s.Args[key], &v); err != nil {
		return strings.Trim(string(s.Args[key]), `"`)
	}
	return v
}

func (s step) boolean(key string) bool {
	var v bool
	_ = json.Unmarshal(s.Args[key], &v)
	return v
}

func (s step) strs(key string) []string {
	var v []string
	_ = json.Unmarshal(s.Args[key], &v)
	return v
}

func (s step) attempt() StageAttempt {
	return StageAttempt{StageID: s.int("stage"), AttemptID: s.int("attempt")}
}

var storageLevels = map[string]StorageLevel{
	"NONE": StorageNone, "MEMORY_ONLY": StorageMemoryOnly,
	"MEMORY_AND_DISK": StorageMemoryAndDisk, "DISK_ONLY": StorageDiskOnly,
}

func (h *harness) apply(s step) error {
	now := h.now()
	if s.Kind == "construct" {
		h.construct()
		return nil
	}
	switch s.Kind {
	case "advance_clock":
		h.clockNS = addSat(h.clockNS, msToNS(s.int64("ms")))
		return nil
	case "set_clock":
		h.clockNS = msToNS(s.int64("ms"))
		return nil
	case "known_add":
		h.known[s.str("id")] = true
		return nil
	case "known_remove":
		delete(h.known, s.str("id"))
		return nil
	}
	m := h.m
	if m == nil {
		return fmt.Errorf("no manager (construction failed)")
	}
	switch s.Kind {
	case "stage_submitted":
		m.StageSubmitted(now, s.attempt(), s.int("tasks"), s.int("rp"))
	case "stage_completed":
		m.StageCompleted(now, s.attempt())
	case "task_start":
		m.TaskStart(now, s.attempt(), s.int("index"), s.str("executor"), s.boolean("speculative"))
	case "task_end":
		reason := map[string]TaskEndReason{"success": TaskSuccess, "killed": TaskKilled, "failed": TaskFailed}[s.str("reason")]
		m.TaskEnd(now, s.attempt(), s.int("index"), s.str("executor"), s.boolean("speculative"), reason)
	case "speculative_task_submitted":
		m.SpeculativeTaskSubmitted(now, s.attempt(), s.int("index"))
	case "unschedulable_taskset_added":
		m.UnschedulableTaskSetAdded(now, s.attempt())
	case "unschedulable_taskset_removed":
		m.UnschedulableTaskSetRemoved(now, s.attempt())
	case "executor_added":
		m.ExecutorAdded(now, s.str("id"), s.int("rp"))
	case "executor_removed":
		m.ExecutorRemoved(now, s.str("id"), s.str("reason"))
	case "add_executors_to_target":
		rp := s.int("rp")
		p := m.profileOf(rp)
		if p == nil {
			return fmt.Errorf("no target for ResourceProfile %d", rp)
		}
		old := p.target
		h.lastDelta = m.alloc.addExecutors(p, m.maxNeededFor(p), m)
		if h.lastDelta != 0 {
			h.updates[rp] = [2]int{h.lastDelta, old}
		}
	case "do_update_request":
		for rp, u := range h.updates {
			if p := m.profileOf(rp); p != nil {
				p.remember(u[0], u[1])
			}
		}
		m.alloc.doUpdateRequest(nanos(now))
	case "update_and_sync":
		h.lastDelta = m.alloc.updateAndSync(nanos(now), m)
	case "adjust_requested_executors":
		h.lastDelta = m.alloc.updateAndSync(0, m)
	case "schedule":
		m.Schedule(now)
	case "remove_executors":
		var refs []ExecutorRef
		for _, id := range s.strs("ids") {
			refs = append(refs, ExecutorRef{ID: id, ResourceProfileID: s.int("rp")})
		}
		h.removed = slices.Clone(m.RemoveExecutors(now, refs))
	case "on_scheduler_backlogged":
		m.backlogged(nanos(now))
	case "on_scheduler_queue_empty":
		m.queueEmpty()
	case "reset":
		m.Reset(now)
	case "block_updated":
		level, ok := storageLevels[s.str("level")]
		if !ok {
			return fmt.Errorf("unknown storage level %q", s.str("level"))
		}
		m.RDDBlockUpdated(now, s.str("executor"), s.int("rdd"), s.int("split"), level)
	case "unpersist_rdd":
		m.UnpersistRDD(now, s.int("rdd"))
	case "job_start":
		var raw []struct {
			Stage     int  `json:"stage"`
			ShuffleID *int `json:"shuffle_id"`
		}
		if err := json.Unmarshal(s.Args["stages"], &raw); err != nil {
			return err
		}
		stages := make([]JobStage, len(raw))
		for i, r := range raw {
			stages[i] = JobStage{StageID: r.Stage, ShuffleID: -1}
			if r.ShuffleID != nil {
				stages[i].ShuffleID = *r.ShuffleID
			}
		}
		m.JobStart(now, s.int("job"), stages)
	case "job_end":
		m.JobEnd(now, s.int("job"))
	case "shuffle_cleaned":
		m.ShuffleCleaned(now, s.int("shuffle_id"))
	case "executors_killed":
		m.monitor.executorsKilled(s.strs("ids"))
	default:
		return fmt.Errorf("unknown event kind %q", s.Kind)
	}
	return nil
}

// got computes the value of an expectation field now.
func (h *harness) got(s step) (any, error) {
	if s.Field == "construct_error" {
		return h.constructE, nil
	}
	if s.Field == "last_delta" {
		return h.lastDelta, nil
	}
	if s.Field == "removed" {
		return orEmpty(h.removed), nil
	}
	m := h.m
	if m == nil {
		return nil, fmt.Errorf("no manager")
	}
	rp := DefaultResourceProfileID
	if s.RP != nil {
		rp = *s.RP
	}
	switch s.Field {
	case "target":
		return m.Target(rp), nil
	case "to_add":
		return m.NumExecutorsToAdd(rp), nil
	case "max_needed":
		return m.MaxNeeded(rp), nil
	case "add_time":
		if _, ok := m.AddTime(); ok {
			return "SET", nil
		}
		return "NOT_SET", nil
	case "add_time_ms":
		if m.alloc.addTime == notSet {
			return "NOT_SET", nil
		}
		return m.alloc.addTime / 1e6, nil
	case "pending_to_remove":
		return orEmpty(m.PendingRemoval()), nil
	case "pending_to_remove_count", "pending_removal_count":
		return len(m.PendingRemoval()), nil
	case "decommissioning":
		return orEmpty(m.Decommissioning()), nil
	case "decommissioning_count":
		return len(m.Decommissioning()), nil
	case "executor_count":
		return m.ExecutorCount(), nil
	case "executor_count_rp":
		return m.ExecutorCountFor(rp), nil
	case "rp_of":
		p, _ := m.ExecutorProfile(s.Executor)
		return p, nil
	case "is_idle":
		return m.IsIdle(s.Executor), nil
	case "timed_out_at":
		when := h.clockNS
		cfg := h.cfg
		switch s.Deadline {
		case "", "now":
		case "idle":
			when = addSat(addSat(when, int64(cfg.ExecutorIdleTimeout)), 1)
		case "storage":
			when = addSat(addSat(when, int64(cfg.CachedExecutorIdleTimeout)), 1)
		case "shuffle":
			when = addSat(addSat(when, int64(cfg.ShuffleTrackingTimeout)), 1)
		default:
			return nil, fmt.Errorf("unknown deadline %q", s.Deadline)
		}
		return orEmpty(m.monitor.timedOutAt(when)), nil
	case "timed_out":
		var pairs [][]any
		for _, r := range m.TimedOutExecutors(h.now()) {
			pairs = append(pairs, []any{r.ID, r.ResourceProfileID})
		}
		if pairs == nil {
			pairs = [][]any{}
		}
		return pairs, nil
	case "timed_out_ids":
		var ids []string
		for _, r := range m.TimedOutExecutors(h.now()) {
			ids = append(ids, r.ID)
		}
		return orEmpty(ids), nil
	case "timed_out_count":
		return len(m.TimedOutExecutors(h.now())), nil
	case "running_tasks":
		return m.RunningTasks(rp), nil
	case "request_total_executors_calls":
		return m.alloc.requestCalls, nil
	case "metric.numberExecutorsKilledByDriver":
		return m.RemovalCounters().KilledByDriver, nil
	case "metric.numberExecutorsExitedUnexpectedly":
		return m.RemovalCounters().ExitedUnexpectedly, nil
	case "metric.numberExecutorsGracefullyDecommissioned":
		return m.RemovalCounters().GracefullyDecommissioned, nil
	case "metric.numberExecutorsDecommissionUnfinished":
		return m.RemovalCounters().DecommissionUnfinished, nil
	}
	return nil, fmt.Errorf("unknown field %q", s.Field)
}

func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// normalize turns a Go value or decoded JSON into a comparable JSON form.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	_ = dec.Decode(&out)
	return out
}

func (h *harness) check(s step) (failure, bool) {
	f := failure{scenario: h.sc.Name, seq: s.Seq, field: s.Field, want: string(s.Value)}
	gotV, err := h.got(s)
	if err != nil {
		f.got = "error: " + err.Error()
		return f, false
	}
	gb, _ := json.Marshal(gotV)
	f.got = string(gb)
	dec := json.NewDecoder(bytes.NewReader(s.Value))
	dec.UseNumber()
	var want any
	_ = dec.Decode(&want)
	got := normalize(gotV)
	op := s.Op
	if op == "" {
		op = "eq"
		if s.Field == "timed_out_at" {
			op = "set_eq"
		}
	}
	var ok bool
	switch op {
	case "eq":
		ok = reflect.DeepEqual(got, want)
	case "set_eq":
		ok = sameSet(got, want)
	case "contains", "not_contains":
		ok = containsAll(got, []any{want}) == (op == "contains")
	case "contains_all":
		w, _ := want.([]any)
		ok = containsAll(got, w)
	case "contains_none":
		w, _ := want.([]any)
		ok = true
		for _, x := range w {
			if containsAll(got, []any{x}) {
				ok = false
			}
		}
	default:
		f.got = "unknown op " + op
		return f, false
	}
	return f, ok
}

func keyOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func sameSet(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if !aok || !bok {
		return reflect.DeepEqual(a, b)
	}
	ka, kb := make([]string, len(as)), make([]string, len(bs))
	for i := range as {
		ka[i] = keyOf(as[i])
	}
	for i := range bs {
		kb[i] = keyOf(bs[i])
	}
	sort.Strings(ka)
	sort.Strings(kb)
	return slices.Equal(ka, kb)
}

func containsAll(got any, want []any) bool {
	gs, ok := got.([]any)
	if !ok {
		return false
	}
	have := map[string]bool{}
	for _, g := range gs {
		have[keyOf(g)] = true
	}
	for _, w := range want {
		if !have[keyOf(w)] {
			return false
		}
	}
	return true
}

// A typo in a scenario fails the decoding, naming it, instead of running as a zero.
func TestScenarioDecodingIsStrict(t *testing.T) {
	const ok = `[{"name":"s","source_test":"t","source_file":"f","config":{},"clock_start_ms":0,
		"events":[{"seq":1,"t_ms":0,"kind":"stage_submitted","args":{"stage":0,"attempt":0,"tasks":3,"rp":0}}],
		"expectations":[{"seq":2,"t_ms":0,"field":"target","value":1}]}]`
	if _, err := decodeScenarios([]byte(ok)); err != nil {
		t.Fatalf("the valid file: %v", err)
	}
	for name, c := range map[string]struct{ old, new, want string }{
		"unknown scenario field": {`"config":{}`, `"config":{},"clok_start_ms":0`, `unknown field "clok_start_ms"`},
		"unknown step field":     {`"field":"target"`, `"field":"target","oops":1`, `unknown field "oops"`},
		"mistyped step field":    {`"seq":2`, `"seq":"2"`, `cannot unmarshal string`},
		"mistyped argument":      {`"tasks":3`, `"tasks":"3"`, `cannot unmarshal string`},
		"unknown argument":       {`"tasks":3`, `"tasks":3,"taks":3`, `unexpected argument "taks"`},
		"missing argument":       {`"tasks":3,`, ``, `argument "tasks" missing`},
		"unknown kind":           {`"kind":"stage_submitted"`, `"kind":"stage_submited"`, `unknown event kind "stage_submited"`},
		"expectation w/o value":  {`,"value":1`, ``, `needs a field and a value`},
	} {
		bad := strings.Replace(ok, c.old, c.new, 1)
		if bad == ok {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		_, err := decodeScenarios([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}
