//go:build e2e_k8s

package k8se2e

import (
	"context"
	"fmt"
	"path/filepath"
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

// restStage is the part of /stages the statefulset scenario reads.
type restStage struct {
	StageID        int `json:"stageId"`
	AttemptID      int `json:"attemptId"`
	NumFailedTasks int `json:"numFailedTasks"`
	NumKilledTasks int `json:"numKilledTasks"`
	NumTasks       int `json:"numTasks"`
}

// statefulSetAllocator is scenario C: the StatefulSet pods allocator with Spark's DRA off
// (manifests/examples/spark-on-kubernetes): the driver creates StatefulSet spark-s-<appId>-0, the
// example's ScaledObject (the application ID filled in) lets KEDA drive it through
// spark-dra-scaler, and a StatefulSet shrinks by deleting its highest ordinals, whatever they run.
// The test measures what that costs (failed and re-run tasks) with decommissioning as given.
func statefulSetAllocator(t *testing.T, s *Stack, rt kubelet.Runtime, decommission bool) {
	ctx := t.Context()
	name := "statefulset"
	if decommission {
		name = "statefulset_decommission"
	}
	run := newScenario(t, s, name, rt.Version)
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
		"spark.executor.cores":       "4",
		"spark.decommission.enabled": strconv.FormatBool(decommission),
	}
	submit := s.sparkSubmit(ctx, app, rt, conf, filepath.Join(repoRoot(), "e2e", "jobs", "ledger.py"),
		"--app-name", app, "--signal-dir", signals, "--transfers", "240000", "--scan-partitions", "16", "--partitions", "1", "--work", "40", "--reread")
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
	t.Cleanup(func() {
		run.sum.ExecutorPodsTimeline = executors.Timeline()
		run.sum.ExecutorExitCodes = exitCodes(s.Kubelet, "spark-s-")
	})
	sts := "spark-s-" + appID + "-0"
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
		if findEvent(driverLog, "result") == nil {
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
	peak := int32(0)
	for _, p := range replicas.Timeline() {
		peak = max(peak, p.Replicas)
	}
	if peak < 2 {
		t.Errorf("the StatefulSet peaked at %d replicas: KEDA never drove it up", peak)
	}
	// After the wide scan the ledger's stages run on one partition, so one executor holds the
	// shuffle and the others idle past the example's 60 s timeout: DRA keeps the holder, but the
	// StatefulSet shrinks from its highest ordinals, whichever executor they run.
	s.WaitUntil("the StatefulSet shrinks", 300*time.Second, func() error {
		if cur := replicas.Timeline(); len(cur) == 0 || cur[len(cur)-1].Replicas >= peak {
			return fmt.Errorf("replicas %v", cur)
		}
		return nil
	})
	run.mark("scaled_in")
	run.phase("StatefulSet shrank")

	// The job reads the held shuffle once more: lost with a removed holder, Spark re-runs the
	// stages that wrote it.
	signal(t, signals, "release")
	s.WaitUntil("the shuffle read again", 600*time.Second, func() error {
		if findEvent(driverLog, "reread") == nil {
			return errNotYet
		}
		return nil
	})
	rr := findEvent(driverLog, "reread")
	if ok, _ := rr["ok"].(bool); !ok {
		run.sum.ResultOK = false
		t.Errorf("the re-read shuffle gave a different result: %v", rr)
	}
	run.mark("reread")
	ex, err := driverExecutors(ui, appID)
	if err != nil {
		t.Fatal(err)
	}
	run.sum.TasksFailed = failedTasks(ex)
	var stages []restStage
	if err := getJSON(ui+"/api/v1/applications/"+appID+"/stages", &stages); err != nil {
		t.Fatal(err)
	}
	reruns, killed := 0, 0
	for _, st := range stages {
		if st.AttemptID > 0 {
			reruns++
		}
		killed += st.NumKilledTasks
	}
	run.note("StatefulSet peak %d replicas; %d tasks failed, %d killed, %d stage attempts re-run; decommission %v; the job's result ok=%v",
		peak, run.sum.TasksFailed, killed, reruns, decommission, run.sum.ResultOK)
	signal(t, signals, "finish")
	if code := waitExit(submit, 180*time.Second); code != 0 {
		t.Errorf("spark-submit exited with %d", code)
	}
	run.mark("application_ended")
	deleteDriverPods(ctx, s, app)
}
