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
// tier. The payloads are a live Spark 4.1 driver's, recorded by the real-Spark tier (Recording):
// the application entry, its environment, and an active stage and executor rows shaped like the
// recorded ones. What the test scripts are the counts and the hosts: the executor list is
// generated from the live pod list so that each executor's hostPort carries its pod's IP, as on
// Kubernetes; a backlog keeps pending plus running tasks at a given demand, then the backlog ends
// and only chosen executors keep running tasks. Everything else (idle times, DRA's steps, the
// victims) is what the exporter and the scaler derive from these payloads.
type DriverStandIn struct {
	AppID, AppName string
	// Props are the application's sparkProperties as /environment lists them.
	Props map[string]string
	// Pods lists the live worker pods (Running, with an IP), in any order.
	Pods func() []executorPod
	// Now is the clock the payloads' timestamps use.
	Now func() time.Time

	rec       *Recording
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

// NewDriverStandIn returns a stand-in serving rec's application, its sparkProperties changed by
// overrides, with one finished stage and no active work.
func NewDriverStandIn(rec *Recording, overrides map[string]string, pods func() []executorPod, now func() time.Time) *DriverStandIn {
	props := map[string]string{}
	if list, ok := rec.Environment["sparkProperties"].([]any); ok {
		for _, kv := range list {
			if pair, ok := kv.([]any); ok && len(pair) == 2 {
				k, _ := pair[0].(string)
				v, _ := pair[1].(string)
				props[k] = v
			}
		}
	}
	for k, v := range overrides {
		props[k] = v
	}
	id, _ := rec.Application["id"].(string)
	name, _ := rec.Application["name"].(string)
	t := now()
	return &DriverStandIn{AppID: id, AppName: name, Props: props, Pods: pods, Now: now, rec: rec,
		start: t, ids: map[string]int{}, nextID: 1, perExec: map[int]*execCounters{}}
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
	v.executors = append(v.executors, clone(d.rec.Driver))
	for _, r := range rows {
		c := d.perExec[r.id]
		x := clone(d.rec.Executor)
		for k, val := range map[string]any{
			"id": strconv.Itoa(r.id), "hostPort": r.pod.IP + ":35000", "isActive": true,
			"totalCores": tpe, "maxTasks": tpe, "activeTasks": r.active, "failedTasks": 0,
			"completedTasks": c.completed, "totalTasks": c.completed + r.active,
			"rddBlocks": 0, "memoryUsed": 0, "diskUsed": 0, "totalShuffleWrite": 0,
			"addTime": c.added.UTC().Format(sparkDate), "executorLogs": map[string]any{},
		} {
			x[k] = val
		}
		v.executors = append(v.executors, x)
	}
	if running+pending > 0 {
		st := clone(d.rec.Stage)
		for k, val := range map[string]any{
			"status": "ACTIVE", "stageId": d.stageID, "attemptId": 0,
			"numTasks": d.completed + running + pending, "numActiveTasks": running,
			"numCompleteTasks": d.completed, "numFailedTasks": 0, "numKilledTasks": 0,
			"numCompletedIndices": d.completed, "submissionTime": d.submitted.UTC().Format(sparkDate),
		} {
			st[k] = val
		}
		v.stages = append(v.stages, st)
	}
	return v
}

// ServeHTTP answers /api/v1/{applications, applications/{id}/{environment, stages,
// executors, allexecutors, jobs}}; anything else is 404 as on a driver.
func (d *DriverStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1"), "/")
	prefix := "/applications/" + d.AppID
	var body any
	switch {
	case path == "/applications":
		body = []map[string]any{d.rec.Application}
	case path == prefix:
		body = d.rec.Application
	case path == prefix+"/environment":
		props := make([][2]string, 0, len(d.Props))
		for k, v := range d.Props {
			props = append(props, [2]string{k, v})
		}
		slices.SortFunc(props, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		env := clone(d.rec.Environment)
		env["sparkProperties"] = props
		body = env
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
			done := clone(d.rec.Stage)
			for k, val := range map[string]any{"status": "COMPLETE", "stageId": 0, "attemptId": 0, "numTasks": 2,
				"numActiveTasks": 0, "numCompleteTasks": 2, "numFailedTasks": 0, "numKilledTasks": 0,
				"numCompletedIndices": 2, "submissionTime": d.start.UTC().Format(sparkDate)} {
				done[k] = val
			}
			stages = append(stages, done)
		}
		body = stages
	case path == prefix+"/jobs":
		v := d.snapshot()
		jobs := []map[string]any{}
		if len(v.stages) > 0 {
			jobs = append(jobs, map[string]any{"jobId": 1, "name": v.stages[0]["name"], "status": "RUNNING",
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
