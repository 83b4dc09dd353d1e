//go:build e2e_k8s

package k8se2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"
)

// recordStatefulSetReplicas records every change of a StatefulSet's spec.replicas.
func recordStatefulSetReplicas(ctx context.Context, s *Stack, ns, name string, start time.Time) *replicaRecorder {
	r := &replicaRecorder{start: start}
	go watchLoop(ctx, func(ctx context.Context) (watch.Interface, error) {
		return s.Client.AppsV1().StatefulSets(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(ev watch.Event) {
		d, ok := ev.Object.(*appsv1.StatefulSet)
		if !ok || d.Spec.Replicas == nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.points); n == 0 || r.points[n-1].Replicas != *d.Spec.Replicas {
			r.points = append(r.points, ReplicaPoint{Seconds: round1(time.Since(r.start).Seconds()), Replicas: *d.Spec.Replicas})
		}
	})
	return r
}

// restStage is the part of /stages?details=true the statefulset scenarios read.
type restStage struct {
	StageID           int    `json:"stageId"`
	AttemptID         int    `json:"attemptId"`
	Name              string `json:"name"`
	Status            string `json:"status"`
	NumCompleteTasks  int    `json:"numCompleteTasks"`
	NumFailedTasks    int    `json:"numFailedTasks"`
	NumKilledTasks    int    `json:"numKilledTasks"`
	NumTasks          int    `json:"numTasks"`
	ShuffleWriteBytes int64  `json:"shuffleWriteBytes"`
	Tasks             map[string]struct {
		ExecutorID   string `json:"executorId"`
		Status       string `json:"status"`
		ErrorMessage string `json:"errorMessage"`
		TaskMetrics  *struct {
			ShuffleWriteMetrics struct {
				BytesWritten int64 `json:"bytesWritten"`
			} `json:"shuffleWriteMetrics"`
		} `json:"taskMetrics"`
	} `json:"tasks"`
}

// ScaleInCost is what a StatefulSet's scale-down cost an application whose shuffle output sat on
// the ordinals it removed (the statefulset scenarios' scale_in entry).
type ScaleInCost struct {
	// Decommission: spark.decommission.enabled and block migration (shuffle and RDD blocks) on.
	Decommission bool `json:"decommission"`
	// PeakReplicas and FinalReplicas of the StatefulSet.
	PeakReplicas  int32 `json:"peak_replicas"`
	FinalReplicas int32 `json:"final_replicas"`
	// OccupiedOrdinal is the ordinal whose task slots the job filled while its shuffle was written
	// (so that the shuffle landed on higher ordinals); -1 when not known.
	OccupiedOrdinal int `json:"occupied_ordinal"`
	// ShuffleBytesByOrdinal is the shuffle output each executor pod wrote (bytes, by ordinal)
	// before the scale-in; RemovedOrdinals are the pods the StatefulSet deleted.
	ShuffleBytesByOrdinal map[string]int64 `json:"shuffle_bytes_by_ordinal"`
	RemovedOrdinals       []int            `json:"removed_ordinals"`
	// RemovedShuffleBytes is the shuffle output the removed pods had written.
	RemovedShuffleBytes int64 `json:"removed_shuffle_bytes"`
	// RemoveReasons counts the driver's removeReason (/allexecutors) of the removed executors.
	RemoveReasons map[string]int `json:"remove_reasons"`
	// What reading the held shuffles again (three jobs, one per shuffle) cost: failed and killed
	// tasks (FetchFailedTasks among the failed); StagesRecomputed, the shuffle map stages that
	// ran again because their output was lost (a finished job's stages are forgotten, so a later
	// job recomputes lost map output in new stages, attempt 0, rather than skipping them), with
	// their tasks (MapTasksRecomputed) and names; StageAttemptsRerun, retries of a stage within
	// a job (attemptId > 0, after a FetchFailed); and the time the re-read took.
	TasksFailed        int      `json:"tasks_failed"`
	TasksKilled        int      `json:"tasks_killed"`
	FetchFailedTasks   int      `json:"fetch_failed_tasks"`
	StagesRecomputed   int      `json:"stages_recomputed"`
	MapTasksRecomputed int      `json:"map_tasks_recomputed"`
	StageAttemptsRerun int      `json:"stage_attempts_rerun"`
	RerunStages        []string `json:"rerun_stages,omitempty"`
	RereadSeconds      float64  `json:"reread_seconds"`
}

// statefulSetAllocator is scenario C: the StatefulSet pods allocator with Spark's DRA off
// (manifests/examples/spark-on-kubernetes): the driver creates StatefulSet spark-s-<appId>-0, the
// example's ScaledObject (the application ID filled in) lets KEDA drive it through
// spark-dra-scaler, and a StatefulSet shrinks by deleting its highest ordinals, whatever they run.
//
// The job makes the case that matters happen every time: while its shuffle is written, the
// first executor (ordinal 0) has every task slot filled (ledger.py --occupy-first), so every
// executor holding shuffle output has a higher ordinal. Once all are idle, DRA (in the scaler)
// keeps the holders and lets the others go; the StatefulSet keeps the lowest ordinals instead,
// so holders are removed, and each step leaves an idle non-holder at ordinal 0 that lets the count
// drop again, down to the example's minimum of 1. The job then reads each of its shuffles again,
// and the test records what that cost: without decommissioning Spark recomputes the lost map
// output; with it (decommission true), the removed executors get the pod's preStop hook
// (/opt/decom.sh: SIGPWR) from the process kubelet and migrate their shuffle blocks first.
func statefulSetAllocator(t *testing.T, s *Stack, rt kubelet.Runtime, decommission bool) {
	ctx := t.Context()
	name := "statefulset"
	if decommission {
		name = "statefulset_decommission"
	}
	run := newScenario(t, s, name, rt.Version)
	cost := &ScaleInCost{Decommission: decommission, OccupiedOrdinal: -1}
	run.sum.ScaleIn = cost
	objs := s.applyExample(ctx, "manifests/examples/spark-on-kubernetes")
	var so *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ScaledObject" {
			so = o.DeepCopy()
		}
	}
	if so == nil {
		t.Fatal("the spark-on-kubernetes example has no ScaledObject")
	}
	var minReplicas int64
	switch v, _, _ := unstructured.NestedFieldNoCopy(so.Object, "spec", "minReplicaCount"); n := v.(type) {
	case int64:
		minReplicas = n
	case float64:
		minReplicas = int64(n)
	default:
		t.Fatalf("the example's ScaledObject: minReplicaCount %v (%T)", v, v)
	}
	exporter := s.startExporter(ctx, objs, nil)
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	scalerGRPC, scalerWeb := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	prom := s.startPrometheus("groups: []\n", exporter, scalerWeb)
	s.startFromDeployment(ctx, objs, "spark-dra-scaler", map[string]string{
		"--grpc.listen-address": scalerGRPC, "--web.listen-address": scalerWeb, "--prometheus.url": prom}, true)

	signals := t.TempDir()
	app := "sparkdra-" + strings.ReplaceAll(name, "_", "-")
	run.clock = time.Now()
	conf := map[string]string{
		"spark.kubernetes.allocation.pods.allocator": "statefulset",
		"spark.dynamicAllocation.enabled":            "false",
		"spark.executor.instances":                   "1",
		// The example's ScaledObject says 4 cores per executor: the application must match.
		"spark.executor.cores": "4",
	}
	if decommission {
		// What manifests/README.md tells users to set; shuffle and RDD block migration are on by
		// default once storage decommissioning is, set here anyway to say what is measured.
		for _, k := range []string{"spark.decommission.enabled", "spark.storage.decommission.enabled",
			"spark.storage.decommission.shuffleBlocks.enabled", "spark.storage.decommission.rddBlocks.enabled"} {
			conf[k] = "true"
		}
	}
	submit := s.sparkSubmit(ctx, app, rt, conf, filepath.Join(repoRoot(), "e2e", "jobs", "ledger.py"),
		"--app-name", app, "--signal-dir", signals, "--occupy-first", "4", "--transfers", "240000",
		"--scan-partitions", "16", "--partitions", "1", "--work", "40", "--reread")
	driver := s.driverPodOf(ctx, app, 120*time.Second)
	driverLog := s.Kubelet.LogPath(sparkNS, driver.Name)
	ui := "http://" + driver.Status.PodIP + ":4040"
	var appID string
	s.WaitUntil("the application started", 240*time.Second, func() error {
		e := findEvent(driverLog, "started")
		if e == nil {
			return errNotYet
		}
		appID, _ = e["app_id"].(string)
		return nil
	})
	run.mark("application_started")
	// Executor pods carry the application ID (spark-app-selector); the watch lists those already
	// created first.
	executors := countPods(ctx, s, sparkNS, "spark-role=executor,spark-app-selector="+appID, run.clock)
	sts := "spark-s-" + appID + "-0"
	t.Cleanup(func() {
		run.sum.ExecutorPodsTimeline = executors.Timeline()
		run.sum.ExecutorExitCodes = exitCodes(s.Kubelet, sts+"-")
		n := restarts(s.Kubelet, sts+"-")
		run.sum.ExecutorRestarts = &n
	})
	s.WaitUntil("StatefulSet "+sts, 60*time.Second, func() error {
		_, err := s.Client.AppsV1().StatefulSets(sparkNS).Get(ctx, sts, metav1.GetOptions{})
		return err
	})
	replicas := recordStatefulSetReplicas(ctx, s, sparkNS, sts, run.clock)
	t.Cleanup(func() { run.sum.ReplicasTimeline = replicas.Timeline() })

	// The example's ScaledObject with the application's ID in its two places.
	const placeholder = "spark-0123456789abcdef0123456789abcdef"
	unstructured.SetNestedField(so.Object, sts, "spec", "scaleTargetRef", "name")
	trig, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	for _, tr := range trig {
		md := tr.(map[string]any)["metadata"].(map[string]any)
		md["scalerAddress"] = scalerGRPC
		md["selector"] = strings.ReplaceAll(fmt.Sprint(md["selector"]), placeholder, appID)
	}
	_ = unstructured.SetNestedSlice(so.Object, trig, "spec", "triggers")
	if _, err := s.applyOne(ctx, so, ""); err != nil {
		t.Fatal(err)
	}
	run.phase("ScaledObject applied to " + sts)

	s.WaitUntil("the job's result", 900*time.Second, func() error {
		if findEvent(driverLog, "occupied_released") == nil {
			return errNotYet
		}
		return nil
	})
	res := findEvent(driverLog, "result")
	run.sum.ResultOK, _ = res["ok"].(bool)
	run.mark("result")
	if !run.sum.ResultOK {
		t.Errorf("the job's result differs from the reference: %v", res)
	}
	for _, p := range replicas.Timeline() {
		cost.PeakReplicas = max(cost.PeakReplicas, p.Replicas)
	}
	if cost.PeakReplicas < 2 {
		t.Errorf("the StatefulSet peaked at %d replicas: KEDA never drove it up", cost.PeakReplicas)
	}

	// Which pod holds which shuffle output, before any is removed.
	ordinalOf, err := executorOrdinals(ctx, s, ui, appID, sts)
	if err != nil {
		t.Fatal(err)
	}
	stagesBefore, err := appStages(ui, appID)
	if err != nil {
		t.Fatal(err)
	}
	byOrdinal := map[int]int64{}
	for _, st := range stagesBefore {
		for _, tk := range st.Tasks {
			if tk.TaskMetrics != nil && tk.TaskMetrics.ShuffleWriteMetrics.BytesWritten > 0 {
				o, ok := ordinalOf[tk.ExecutorID]
				if !ok {
					t.Fatalf("executor %s wrote shuffle output but has no pod of %s", tk.ExecutorID, sts)
				}
				byOrdinal[o] += tk.TaskMetrics.ShuffleWriteMetrics.BytesWritten
			}
		}
	}
	cost.ShuffleBytesByOrdinal = map[string]int64{}
	for o, b := range byOrdinal {
		cost.ShuffleBytesByOrdinal[strconv.Itoa(o)] = b
	}
	if ev := findEvent(driverLog, "occupied_released"); ev != nil {
		pods, _ := ev["pods"].([]any)
		if len(pods) == 1 {
			if o, ok := podOrdinal(fmt.Sprint(pods[0]), sts); ok {
				cost.OccupiedOrdinal = o
			}
		}
		if cost.OccupiedOrdinal != 0 {
			t.Errorf("the occupying tasks ran on %v, not on ordinal 0 alone", pods)
		}
	}
	// The premise of the measurement: ordinal 0 holds no shuffle output, others do.
	if len(byOrdinal) == 0 || byOrdinal[0] > 0 {
		t.Fatalf("shuffle output by ordinal %v: want some, none on ordinal 0", byOrdinal)
	}
	run.phase(fmt.Sprintf("shuffle output by ordinal %v", byOrdinal))

	// Idle executors time out; DRA (in the scaler) keeps the holders, the StatefulSet its lowest
	// ordinals, so the count steps down to the minimum and every holder goes.
	live := func() int {
		n := 0
		for name := range executors.Live() {
			if strings.HasPrefix(name, sts+"-") {
				n++
			}
		}
		return n
	}
	s.WaitUntil("the StatefulSet shrinks to its minimum", 600*time.Second, func() error {
		cur := replicas.Timeline()
		if len(cur) == 0 || int64(cur[len(cur)-1].Replicas) != minReplicas || live() != int(minReplicas) {
			return fmt.Errorf("replicas %v, %d live executor pods", cur, live())
		}
		// The removed pods are gone (their processes have ended), not only terminating.
		pods, err := s.Client.CoreV1().Pods(sparkNS).List(ctx, metav1.ListOptions{LabelSelector: "spark-app-selector=" + appID + ",spark-role=executor"})
		if err != nil {
			return err
		}
		if len(pods.Items) != int(minReplicas) {
			return fmt.Errorf("%d executor pods left", len(pods.Items))
		}
		return nil
	})
	cost.FinalReplicas = int32(minReplicas)
	run.mark("scaled_in")
	run.phase("StatefulSet at its minimum")
	for o := int(minReplicas); o < int(cost.PeakReplicas); o++ {
		cost.RemovedOrdinals = append(cost.RemovedOrdinals, o)
		cost.RemovedShuffleBytes += byOrdinal[o]
	}
	if cost.RemovedShuffleBytes == 0 {
		t.Errorf("the scale-in removed ordinals %v, none holding shuffle output (%v)", cost.RemovedOrdinals, byOrdinal)
	}

	// The job reads each of its shuffles once more.
	signal(t, signals, "release")
	s.WaitUntil("the shuffles read again", 600*time.Second, func() error {
		if findEvent(driverLog, "reread") == nil {
			return errNotYet
		}
		return nil
	})
	rr := findEvent(driverLog, "reread")
	if ok, _ := rr["ok"].(bool); !ok {
		run.sum.ResultOK = false
		t.Errorf("the re-read shuffles gave a different result: %v", rr)
	}
	cost.RereadSeconds, _ = rr["seconds"].(float64)
	run.mark("reread")
	ex, err := driverExecutors(ui, appID)
	if err != nil {
		t.Fatal(err)
	}
	run.sum.TasksFailed = failedTasks(ex)
	cost.RemoveReasons = map[string]int{}
	for _, e := range ex {
		if o, ok := ordinalOf[e.ID]; ok && o >= int(minReplicas) {
			cost.RemoveReasons[e.RemoveReason]++
		}
	}
	stages, err := appStages(ui, appID)
	if err != nil {
		t.Fatal(err)
	}
	before := map[[2]int]bool{}
	for _, st := range stagesBefore {
		before[[2]int{st.StageID, st.AttemptID}] = true
	}
	for _, st := range stages {
		if before[[2]int{st.StageID, st.AttemptID}] {
			continue
		}
		if st.AttemptID > 0 {
			cost.StageAttemptsRerun++
		}
		if st.AttemptID > 0 || st.Status != "SKIPPED" && st.ShuffleWriteBytes > 0 {
			cost.StagesRecomputed++
			cost.MapTasksRecomputed += st.NumCompleteTasks
			cost.RerunStages = append(cost.RerunStages, fmt.Sprintf("%d.%d %s (%d tasks)", st.StageID, st.AttemptID, st.Name, st.NumCompleteTasks))
		}
		for _, tk := range st.Tasks {
			switch tk.Status {
			case "FAILED":
				cost.TasksFailed++
				if strings.HasPrefix(tk.ErrorMessage, "FetchFailed") {
					cost.FetchFailedTasks++
				}
			case "KILLED":
				cost.TasksKilled++
			}
		}
	}
	sort.Strings(cost.RerunStages)
	run.note("StatefulSet %d -> %d replicas, removed ordinals %v holding %d of %d shuffle bytes; re-read: %d tasks failed (%d FetchFailed), %d killed, %d map stages (%d tasks) recomputed, %d stage attempts re-run, %.1f s; decommission %v; result ok=%v",
		cost.PeakReplicas, cost.FinalReplicas, cost.RemovedOrdinals, cost.RemovedShuffleBytes, sum64(byOrdinal), cost.TasksFailed,
		cost.FetchFailedTasks, cost.TasksKilled, cost.StagesRecomputed, cost.MapTasksRecomputed, cost.StageAttemptsRerun,
		cost.RereadSeconds, decommission, run.sum.ResultOK)
	if !decommission && cost.StagesRecomputed == 0 {
		// The shuffle output was on the removed pods and nothing migrated it: Spark must have
		// computed it again, or the scenario did not measure what it says.
		t.Errorf("no map stage recomputed after the pods holding %d shuffle bytes were removed: %v", cost.RemovedShuffleBytes, cost.RerunStages)
	}
	signal(t, signals, "finish")
	if code := waitExit(submit, 180*time.Second); code != 0 {
		t.Errorf("spark-submit exited with %d", code)
	}
	run.mark("application_ended")
	deleteDriverPods(ctx, s, app)
}

// appStages reads every stage attempt of an application with its tasks (/stages?details=true).
func appStages(ui, appID string) ([]restStage, error) {
	var stages []restStage
	err := getJSON(ui+"/api/v1/applications/"+appID+"/stages?details=true", &stages)
	return stages, err
}

// executorOrdinals maps the application's executor IDs to the ordinals of the StatefulSet's
// pods they run in, by pod IP (an executor's hostPort is its pod IP).
func executorOrdinals(ctx context.Context, s *Stack, ui, appID, sts string) (map[string]int, error) {
	pods, err := s.Client.CoreV1().Pods(sparkNS).List(ctx, metav1.ListOptions{LabelSelector: "spark-app-selector=" + appID})
	if err != nil {
		return nil, err
	}
	byIP := map[string]int{}
	for _, p := range pods.Items {
		if o, ok := podOrdinal(p.Name, sts); ok && p.Status.PodIP != "" {
			byIP[p.Status.PodIP] = o
		}
	}
	ex, err := driverExecutors(ui, appID)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, e := range ex {
		host, _, _ := strings.Cut(e.HostPort, ":")
		if o, ok := byIP[host]; ok && e.ID != "driver" {
			out[e.ID] = o
		}
	}
	return out, nil
}

// podOrdinal returns the ordinal of pod name of StatefulSet sts (<sts>-<ordinal>).
func podOrdinal(name, sts string) (int, bool) {
	rest, ok := strings.CutPrefix(name, sts+"-")
	if !ok {
		return 0, false
	}
	o, err := strconv.Atoi(rest)
	return o, err == nil
}

func sum64(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// restarts counts the process exits of pods whose name has prefix that the restartPolicy
// restarted.
func restarts(k *kubelet.Kubelet, prefix string) int {
	n := 0
	for _, e := range k.Exits() {
		if strings.HasPrefix(e.Pod, prefix) && e.Restarted {
			n++
		}
	}
	return n
}
