// Package sparkfake serves recorded Spark REST payloads for many fake drivers on one listener.
// It stands in for live Spark drivers in the exporter's tests, benchmark and load harness,
// where hundreds of real drivers cannot run; e2e/ runs the exporter against real Spark.
//
// The payloads are built from single objects of Spark's own HistoryServerSuite fixtures
// (templates/, Apache License 2.0, see ../../testdata/spark/SOURCE.md): every field Spark sends
// is kept, and only the counters a scenario needs are changed, so decoding costs what it costs
// against a real driver.
package sparkfake

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.json
var templates embed.FS

// Stage is one ACTIVE stage attempt.
type Stage struct {
	ID, Tasks, CompletedIndices, ActiveTasks int
}

// Executor is one live executor.
type Executor struct {
	ID                      string
	Host                    string
	ActiveTasks, TotalTasks int
	RDDBlocks               int
	MemoryUsed, DiskUsed    int64
	ShuffleWrite            int64
	AddTime                 time.Time
	ResourceProfileID       int
}

// Driver is the state of one fake driver. Change fields between polls to script a scenario;
// call Render after changing them.
type Driver struct {
	AppID, AppName, SparkVersion string
	Props                        map[string]string
	ActiveStages                 []Stage
	// FinishedStages is the history of COMPLETE stage attempts (spark.ui.retainedStages keeps
	// up to 1,000), FinishedJobs of SUCCEEDED jobs; /stages and /jobs list them after the
	// active ones unless a status filter leaves them out.
	FinishedStages int
	FinishedJobs   int
	RunningJobs    int
	Executors      []Executor
	// Allocation sets the ExecutorAllocationManager metrics of /metrics/json/ by Spark's name
	// (numberTargetExecutors, numberExecutorsKilledByDriver, …; unset ones are 0). The source is
	// only listed when Props turn dynamic allocation on, as Spark registers it.
	Allocation map[string]float64
	// MetricsNamespace, when set, replaces the application id in the registry's keys, as
	// spark.metrics.namespace does.
	MetricsNamespace string

	mu                   sync.RWMutex
	payloads             map[string][]byte
	stageItems, jobItems []item
}

// Generate returns a driver running app i with the given numbers of executors (half busy with
// 4 tasks each, the others idle holding cache, shuffle output, both or nothing) and active
// stages (each with 100 tasks, 25 done), on Spark 4.0.1 with dynamic allocation on; its
// allocation manager targets two executors more than it has.
func Generate(i, executors, stages int) *Driver {
	d := &Driver{
		AppID:        fmt.Sprintf("app-20261121120000-%04d", i),
		AppName:      fmt.Sprintf("etl-%d", i),
		SparkVersion: "4.0.1",
		Props: map[string]string{
			"spark.master":                                "spark://master:7077",
			"spark.dynamicAllocation.enabled":             "true",
			"spark.dynamicAllocation.minExecutors":        "1",
			"spark.dynamicAllocation.maxExecutors":        "200",
			"spark.dynamicAllocation.executorIdleTimeout": "30s",
			"spark.executor.cores":                        "4",
			"spark.app.name":                              fmt.Sprintf("etl-%d", i),
		},
		FinishedStages: 7,
		RunningJobs:    1,
		// The allocation manager wants two more than it has, and has released and lost some.
		Allocation: map[string]float64{
			"numberTargetExecutors":             float64(executors + 2),
			"numberMaxNeededExecutors":          float64(stages * 75 / 4),
			"numberExecutorsToAdd":              2,
			"numberAllExecutors":                float64(executors),
			"numberExecutorsKilledByDriver":     5,
			"numberExecutorsExitedUnexpectedly": 1,
		},
	}
	for s := range stages {
		d.ActiveStages = append(d.ActiveStages, Stage{ID: 100 + s, Tasks: 100, CompletedIndices: 25, ActiveTasks: 10})
	}
	base := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for e := range executors {
		x := Executor{ID: strconv.Itoa(e + 1), Host: fmt.Sprintf("10.%d.%d.%d", i/250, i%250, e+1), TotalTasks: 40,
			AddTime: base}
		switch {
		case e%2 == 0:
			x.ActiveTasks, x.TotalTasks = 4, 44
		case e%8 == 1:
			x.RDDBlocks, x.MemoryUsed = 12, 48<<20
		case e%8 == 3:
			x.ShuffleWrite = 512 << 20
		case e%8 == 5:
			x.RDDBlocks, x.MemoryUsed, x.ShuffleWrite = 3, 8<<20, 64<<20
		}
		d.Executors = append(d.Executors, x)
	}
	d.Render()
	return d
}

// Render rebuilds the payloads from the fields.
func (d *Driver) Render() {
	p := make(map[string][]byte)
	p["/applications"] = marshal([]any{d.application()})
	prefix := "/applications/" + d.AppID
	p[prefix+"/environment"] = marshal(d.environment())
	// Stages, newest (highest id) first, and jobs, newest first, as Spark lists them; each item
	// rendered once, a response joins those its status filter keeps.
	var stages, jobs []item
	for _, st := range d.ActiveStages {
		stages = append(stages, item{"ACTIVE", marshalItem(d.stage(st, "ACTIVE"))})
	}
	for i := d.FinishedStages - 1; i >= 0; i-- {
		stages = append(stages, item{"COMPLETE", marshalItem(d.stage(Stage{ID: i, Tasks: 8, CompletedIndices: 8}, "COMPLETE"))})
	}
	for i := range d.RunningJobs {
		jobs = append(jobs, item{"RUNNING", marshalItem(d.job(d.FinishedJobs+d.RunningJobs-1-i, "RUNNING"))})
	}
	for i := d.FinishedJobs - 1; i >= 0; i-- {
		jobs = append(jobs, item{"SUCCEEDED", marshalItem(d.job(i, "SUCCEEDED"))})
	}
	p[prefix+"/executors"] = marshal(d.executors())
	p["/metrics/json/"] = marshal(d.metricsRegistry())
	d.mu.Lock()
	d.payloads, d.stageItems, d.jobItems = p, stages, jobs
	d.mu.Unlock()
}

// item is one element of a list payload, rendered, with its status.
type item struct {
	status string
	body   []byte
}

// The status values Spark's /stages and /jobs accept (StageStatus, JobExecutionStatus; matched
// case-insensitively). Any other value fails the parameter conversion: 404.
var (
	stageStatuses = []string{"ACTIVE", "COMPLETE", "FAILED", "PENDING", "SKIPPED"}
	jobStatuses   = []string{"RUNNING", "SUCCEEDED", "FAILED", "UNKNOWN"}
)

// filterList joins the items whose status is one of statuses (all when none), or reports a
// status value Spark would not accept.
func filterList(items []item, statuses, valid []string) ([]byte, bool) {
	want := map[string]bool{}
	for _, st := range statuses {
		u := strings.ToUpper(st)
		if !slices.Contains(valid, u) {
			return nil, false
		}
		want[u] = true
	}
	var b bytes.Buffer
	b.WriteString("[ ")
	first := true
	for _, it := range items {
		if len(want) > 0 && !want[it.status] {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.Write(it.body)
	}
	b.WriteString(" ]")
	return b.Bytes(), true
}

func (d *Driver) application() map[string]any {
	a := template("application.json")
	a["id"], a["name"] = d.AppID, d.AppName
	at := a["attempts"].([]any)[0].(map[string]any)
	at["completed"], at["appSparkVersion"] = false, d.SparkVersion
	at["endTime"], at["endTimeEpoch"] = "1969-12-31T23:59:59.999GMT", -1
	return a
}

func (d *Driver) environment() map[string]any {
	keys := sortedKeys(d.Props)
	pairs := make([][]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, []string{k, d.Props[k]})
	}
	return map[string]any{
		"runtime":           map[string]any{"javaVersion": "17.0.15", "javaHome": "/usr/lib/jvm/java-17", "scalaVersion": "version 2.13.16"},
		"sparkProperties":   pairs,
		"hadoopProperties":  [][]string{},
		"systemProperties":  [][]string{{"java.version", "17.0.15"}},
		"metricsProperties": [][]string{},
		"classpathEntries":  [][]string{},
		"resourceProfiles":  []any{},
	}
}

// metricsTemplatePrefix is the application id in the keys of templates/metrics.json (a real
// Spark 4.1.4 driver's registry, recorded by e2e/cmd/record).
const metricsTemplatePrefix = "app-20261121211847-0000."

// eamKey marks the keys of the ExecutorAllocationManager source.
const eamKey = "driver.ExecutorAllocationManager.executors."

func (d *Driver) metricsRegistry() map[string]any {
	reg := template("metrics.json")
	ns := cmp.Or(d.MetricsNamespace, d.AppID) + "."
	dra := d.Props["spark.dynamicAllocation.enabled"] == "true"
	for section, field := range map[string]string{"gauges": "value", "counters": "count", "histograms": "", "meters": "", "timers": ""} {
		in, _ := reg[section].(map[string]any)
		out := make(map[string]any, len(in))
		for k, v := range in {
			rest := strings.TrimPrefix(k, metricsTemplatePrefix)
			name, isEAM := strings.CutPrefix(rest, eamKey)
			if isEAM && !dra {
				continue
			}
			if isEAM && field != "" {
				v = map[string]any{field: d.Allocation[name]}
			}
			out[ns+rest] = v
		}
		reg[section] = out
	}
	return reg
}

func (d *Driver) stages() []any {
	out := make([]any, 0, len(d.ActiveStages))
	for _, s := range d.ActiveStages {
		out = append(out, d.stage(s, "ACTIVE"))
	}
	return out
}

func (d *Driver) stage(s Stage, status string) map[string]any {
	m := template("stage.json")
	m["status"], m["stageId"], m["attemptId"] = status, s.ID, 0
	m["numTasks"], m["numActiveTasks"] = s.Tasks, s.ActiveTasks
	m["numCompleteTasks"], m["numCompletedIndices"] = s.CompletedIndices, s.CompletedIndices
	if status == "ACTIVE" {
		delete(m, "completionTime")
	}
	return m
}

func (d *Driver) job(id int, status string) map[string]any {
	m := template("job.json")
	m["jobId"], m["status"] = id, status
	if status == "RUNNING" {
		m["numActiveStages"], m["numCompletedStages"] = len(d.ActiveStages), 0
		delete(m, "completionTime")
	}
	return m
}

func (d *Driver) executors() []any {
	out := make([]any, 0, len(d.Executors)+1)
	drv := template("executor.json")
	drv["id"], drv["hostPort"], drv["totalCores"], drv["maxTasks"] = "driver", "10.0.0.1:7079", 0, 0
	drv["totalTasks"], drv["completedTasks"] = 0, 0
	out = append(out, drv)
	for _, x := range d.Executors {
		m := template("executor.json")
		m["id"], m["hostPort"] = x.ID, x.Host+":7079"
		m["totalCores"], m["maxTasks"] = 4, 4
		m["activeTasks"], m["totalTasks"] = x.ActiveTasks, x.TotalTasks
		m["completedTasks"], m["failedTasks"] = x.TotalTasks-x.ActiveTasks, 0
		m["rddBlocks"], m["memoryUsed"], m["diskUsed"] = x.RDDBlocks, x.MemoryUsed, x.DiskUsed
		m["totalShuffleWrite"] = x.ShuffleWrite
		m["resourceProfileId"] = x.ResourceProfileID
		m["addTime"] = x.AddTime.UTC().Format("2006-01-02T15:04:05.000GMT")
		out = append(out, m)
	}
	return out
}

// ServeHTTP answers /api/v1/... and /metrics/json/ as the driver would; unknown paths get
// Spark's 404 text.
func (d *Driver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/api/v1")
	d.mu.RLock()
	body, ok := d.payloads[key]
	var list []item
	var valid []string
	switch key {
	case "/applications/" + d.AppID + "/stages":
		list, valid, ok = d.stageItems, stageStatuses, true
	case "/applications/" + d.AppID + "/jobs":
		list, valid, ok = d.jobItems, jobStatuses, true
	}
	d.mu.RUnlock()
	if valid != nil {
		body, ok = filterList(list, r.URL.Query()["status"], valid)
	}
	if !ok {
		http.Error(w, "unknown path: "+r.URL.Path, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// Fleet serves many drivers on one listener: driver i under /d/<i>/api/v1/..., so a static
// target URL is http://host:port/d/<i>.
type Fleet struct {
	Drivers []*Driver
}

// ServeHTTP routes /d/<i>/... to driver i.
func (f *Fleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/d/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	idx, path, _ := strings.Cut(rest, "/")
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(f.Drivers) {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + path
	f.Drivers[i].ServeHTTP(w, r2)
}

func template(name string) map[string]any {
	b, err := templates.ReadFile("templates/" + name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// marshalItem renders one element of a list (indented as Spark's writer does at depth one).
func marshalItem(v any) []byte {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// marshal renders like Spark's Jackson writer does (indented), minus its "key" : value spacing.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
