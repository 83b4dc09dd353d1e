//go:build e2e_k8s

package k8se2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sparkDate is Spark's REST date format (UTC with a literal "GMT").
const sparkDate = "2006-01-02T15:04:05.000GMT"

// executorPod is a worker pod that hosts one Spark executor.
type executorPod struct {
	Name    string
	IP      string
	Created time.Time
}

// DriverStandIn serves the part of a Spark driver's REST API (/api/v1) that spark-dra-exporter
// polls, for one running application whose executors are the worker pods of the KWOK cluster.
//
// It is a stand-in: KWOK pods run no containers, so no Spark driver or executor exists in this
// tier. Payloads follow Spark's own shapes (the fixtures in shared/testdata/spark and recordings
// of live drivers); the executor list is generated from the live pod list so that each
// executor's hostPort carries its pod's IP, as on Kubernetes. The test scripts the workload: a
// backlog of a given total task demand, then an end to the backlog where only chosen executors
// keep running tasks. Everything else (state, timing, idleness) is what the exporter and
// scaler derive from these payloads.
type DriverStandIn struct {
	AppID, AppName string
	// Props are the application's sparkProperties, as /environment lists them.
	Props map[string]string
	// Pods lists the live worker pods (Running, with an IP), in any order.
	Pods func() []executorPod
	// Now is the clock the payloads' timestamps use.
	Now func() time.Time

	mu        sync.Mutex
	start     time.Time
	ids       map[string]int // pod name → executor id, assigned on first sight
	nextID    int
	demand    int             // pending + running tasks of the active stage
	busyOnly  map[string]bool // when set: only these pods' executors run tasks
	completed int             // tasks finished in the active stage so far
	perExec   map[int]*execCounters
	lastTick  time.Time
	stageID   int
	submitted time.Time
}

type execCounters struct {
	completed int
	added     time.Time
}

// NewDriverStandIn returns a stand-in for application appID with one finished stage and no
// active work.
func NewDriverStandIn(appID, appName string, props map[string]string, pods func() []executorPod, now func() time.Time) *DriverStandIn {
	t := now()
	return &DriverStandIn{AppID: appID, AppName: appName, Props: props, Pods: pods, Now: now,
		start: t, ids: map[string]int{}, nextID: 1, perExec: map[int]*execCounters{}, stageID: 0}
}

// SetBacklog starts (or keeps) an active stage whose pending plus running tasks stay at demand:
// every executor runs tasksPerExecutor tasks and the rest wait, so Spark's backlog is steady.
// demand 0 ends the stage.
func (d *DriverStandIn) SetBacklog(demand int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if demand > 0 && d.demand == 0 {
		d.stageID++
		d.submitted = d.Now()
		d.completed = 0
	}
	d.demand = demand
	d.busyOnly = nil
}

// SetTail ends the backlog: only the executors of the named pods keep running tasks (one
// active stage with no pending task); every other executor goes idle.
func (d *DriverStandIn) SetTail(busyPods []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.busyOnly = map[string]bool{}
	for _, p := range busyPods {
		d.busyOnly[p] = true
	}
	d.demand = 0
}

// ExecutorID returns the executor id the stand-in gave the pod, or "" when it has not seen it.
func (d *DriverStandIn) ExecutorID(pod string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.ids[pod]; ok {
		return strconv.Itoa(id)
	}
	return ""
}

func (d *DriverStandIn) tasksPerExecutor() int {
	cores, err := strconv.Atoi(d.Props["spark.executor.cores"])
	if err != nil || cores < 1 {
		cores = 1
	}
	cpus, err := strconv.Atoi(d.Props["spark.task.cpus"])
	if err != nil || cpus < 1 {
		cpus = 1
	}
	return max(cores/cpus, 1)
}

// view is one consistent state of the application for a request.
type view struct {
	executors []map[string]any
	stages    []map[string]any // active
	running   int
	pending   int
}

func (d *DriverStandIn) snapshot() view {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Now()
	pods := d.Pods()
	sort.Slice(pods, func(i, j int) bool { return pods[i].Created.Before(pods[j].Created) })
	tpe := d.tasksPerExecutor()
	type row struct {
		pod    executorPod
		id     int
		active int
	}
	rows := make([]row, 0, len(pods))
	for _, p := range pods {
		id, ok := d.ids[p.Name]
		if !ok {
			id = d.nextID
			d.nextID++
			d.ids[p.Name] = id
			d.perExec[id] = &execCounters{added: now}
		}
		rows = append(rows, row{pod: p, id: id})
	}
	// Hand out tasks: in a backlog, as many as the demand allows, oldest executors first; in
	// the tail, one executor's worth on each busy pod.
	budget := d.demand
	running := 0
	for i := range rows {
		n := 0
		switch {
		case d.busyOnly != nil:
			if d.busyOnly[rows[i].pod.Name] {
				n = tpe
			}
		default:
			n = min(tpe, budget)
			budget -= n
		}
		rows[i].active = n
		running += n
	}
	pending := max(d.demand-running, 0)
	// Tasks complete as time passes on busy executors (one per executor per second), so the
	// cumulative counters move the way a live driver's do.
	if !d.lastTick.IsZero() {
		secs := int(now.Sub(d.lastTick) / time.Second)
		if secs > 0 {
			for _, r := range rows {
				if r.active > 0 {
					d.perExec[r.id].completed += secs * r.active
					d.completed += secs * r.active
				}
			}
			d.lastTick = d.lastTick.Add(time.Duration(secs) * time.Second)
		}
	} else {
		d.lastTick = now
	}

	v := view{running: running, pending: pending}
	v.executors = append(v.executors, map[string]any{
		"id": "driver", "hostPort": "127.0.0.1:7078", "isActive": true, "totalCores": 0, "maxTasks": 0,
		"activeTasks": 0, "completedTasks": 0, "totalTasks": 0, "failedTasks": 0,
		"addTime": d.start.UTC().Format(sparkDate), "resourceProfileId": 0, "isExcluded": false,
	})
	for _, r := range rows {
		c := d.perExec[r.id]
		v.executors = append(v.executors, map[string]any{
			"id": strconv.Itoa(r.id), "hostPort": r.pod.IP + ":35000", "isActive": true,
			"rddBlocks": 0, "memoryUsed": 0, "diskUsed": 0,
			"totalCores": tpe, "maxTasks": tpe, "activeTasks": r.active, "failedTasks": 0,
			"completedTasks": c.completed, "totalTasks": c.completed + r.active,
			"totalShuffleWrite": 0, "maxMemory": 455501414,
			"addTime": c.added.UTC().Format(sparkDate), "resourceProfileId": 0, "isExcluded": false,
		})
	}
	if running+pending > 0 {
		v.stages = append(v.stages, map[string]any{
			"status": "ACTIVE", "stageId": d.stageID, "attemptId": 0, "name": "map at standin.py:1",
			"numTasks": d.completed + running + pending, "numActiveTasks": running,
			"numCompleteTasks": d.completed, "numFailedTasks": 0, "numKilledTasks": 0,
			"numCompletedIndices": d.completed, "submissionTime": d.submitted.UTC().Format(sparkDate),
			"resourceProfileId": 0,
		})
	}
	return v
}

// ServeHTTP answers /api/v1/{version, applications, applications/{id}/{environment, stages,
// executors, allexecutors, jobs}}; anything else is 404 as on a driver.
func (d *DriverStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1"), "/")
	prefix := "/applications/" + d.AppID
	var body any
	switch {
	case path == "/version":
		body = map[string]string{"spark": "4.1.4"}
	case path == "/applications":
		body = []map[string]any{{"id": d.AppID, "name": d.AppName, "attempts": []map[string]any{{
			"startTime": d.start.UTC().Format(sparkDate), "endTime": "1969-12-31T23:59:59.999GMT",
			"lastUpdated": d.Now().UTC().Format(sparkDate), "duration": 0, "sparkUser": "spark",
			"completed": false, "appSparkVersion": "4.1.4",
		}}}}
	case path == prefix:
		body = map[string]any{"id": d.AppID, "name": d.AppName}
	case path == prefix+"/environment":
		props := make([][2]string, 0, len(d.Props))
		for k, v := range d.Props {
			props = append(props, [2]string{k, v})
		}
		slices.SortFunc(props, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		body = map[string]any{"runtime": map[string]string{"javaVersion": "17", "javaHome": "/opt/java", "scalaVersion": "2.13"},
			"sparkProperties": props, "hadoopProperties": [][2]string{}, "systemProperties": [][2]string{},
			"metricsProperties": [][2]string{}, "classpathEntries": [][2]string{}, "resourceProfiles": []any{}}
	case path == prefix+"/executors" || path == prefix+"/allexecutors":
		body = d.snapshot().executors
	case path == prefix+"/stages":
		v := d.snapshot()
		want := map[string]bool{}
		for _, s := range r.URL.Query()["status"] {
			want[strings.ToUpper(s)] = true
		}
		stages := []map[string]any{}
		if len(want) == 0 || want["ACTIVE"] {
			stages = append(stages, v.stages...)
		}
		if len(want) == 0 || want["COMPLETE"] {
			stages = append(stages, map[string]any{"status": "COMPLETE", "stageId": 0, "attemptId": 0,
				"name": "count at standin.py:0", "numTasks": 2, "numActiveTasks": 0, "numCompleteTasks": 2,
				"numFailedTasks": 0, "numKilledTasks": 0, "numCompletedIndices": 2,
				"submissionTime": d.start.UTC().Format(sparkDate), "resourceProfileId": 0})
		}
		body = stages
	case path == prefix+"/jobs":
		v := d.snapshot()
		jobs := []map[string]any{}
		if len(v.stages) > 0 {
			jobs = append(jobs, map[string]any{"jobId": 1, "name": "map at standin.py:1", "status": "RUNNING",
				"stageIds": []int{v.stages[0]["stageId"].(int)}, "numTasks": v.stages[0]["numTasks"],
				"numActiveTasks": v.running, "numActiveStages": 1, "numCompletedStages": 0, "numFailedStages": 0})
		}
		body = jobs
	default:
		http.Error(w, fmt.Sprintf("unknown path %s", r.URL.Path), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
