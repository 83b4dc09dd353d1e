//go:build e2e_k8s

package k8se2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"
)

// retagSpark points every apache/spark image of objs at tag: the process kubelet runs an image
// from the PySpark venv its tag selects (4.1.x by default, 3.5.x from the 3.5 venv).
func retagSpark(objs []*unstructured.Unstructured, tag string) {
	for _, o := range objs {
		cs, found, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if !found {
			continue
		}
		for _, c := range cs {
			m := c.(map[string]any)
			if img, _ := m["image"].(string); strings.HasPrefix(img, "apache/spark:") {
				m["image"] = "apache/spark:" + tag
			}
		}
		_ = unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
	}
}

// executorSnapshots polls a driver's /executors and keeps what each executor (by host) was
// doing at each poll, so a pod's deletion can be checked against the executor's state then.
type executorSnapshots struct {
	mu    sync.Mutex
	snaps []execSnap
}

type execSnap struct {
	at     time.Time
	active map[string]int // host -> activeTasks, live executors only
}

func pollExecutors(ctx context.Context, ui, app string) *executorSnapshots {
	e := &executorSnapshots{}
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			var ex []restExecutor
			if err := getJSON(ui+"/api/v1/applications/"+app+"/executors", &ex); err == nil {
				m := map[string]int{}
				for _, x := range ex {
					if x.ID == "driver" || !x.IsActive {
						continue
					}
					host, _, _ := net.SplitHostPort(x.HostPort)
					m[host] += x.ActiveTasks
				}
				e.mu.Lock()
				e.snaps = append(e.snaps, execSnap{time.Now(), m})
				e.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return e
}

// before returns the last snapshot taken before t.
func (e *executorSnapshots) before(t time.Time) (execSnap, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.snaps) - 1; i >= 0; i-- {
		if e.snaps[i].at.Before(t) {
			return e.snaps[i], true
		}
	}
	return execSnap{}, false
}

// standalone is scenario A: manifests/examples/standalone for real. The master and the workers
// are Spark daemons in pods run by the process kubelet; KEDA drives the worker Deployment through
// spark-dra-scaler, which reads Debian's Prometheus, which scrapes the exporter, which finds the
// applications through the master. The ledger job (a wide scan over 8 partitions, then its
// shuffle stages over 2) runs against the master from a local driver.
func standalone(t *testing.T, s *Stack, rt kubelet.Runtime) {
	ctx := t.Context()
	run := newScenario(t, s, "standalone", rt.Version)
	objs, err := render("manifests/examples/standalone")
	if err != nil {
		t.Fatal(err)
	}
	retagSpark(objs, rt.Version)
	var so *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ScaledObject" {
			so = o.DeepCopy()
		}
	}
	if so == nil {
		t.Fatal("the standalone example has no ScaledObject")
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			s.CreateNamespace(ctx, o.GetName())
		}
	}
	for _, o := range objs {
		if k := o.GetKind(); k == "Namespace" || k == "ScaledObject" || strings.HasPrefix(o.GetAPIVersion(), "monitoring.coreos.com/") ||
			(k == "Deployment" && o.GetNamespace() == "sparkdra") {
			continue
		}
		if _, err := s.applyOne(ctx, o.DeepCopy(), ""); err != nil {
			t.Fatalf("apply %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	// No replicas in the worker Deployment (KEDA owns the count): start it at the ScaledObject's
	// minReplicaCount, 0, as KEDA would.
	if _, err := s.Client.AppsV1().Deployments(sparkNS).UpdateScale(ctx, workerName, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: workerName, Namespace: sparkNS}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("no worker pod", 120*time.Second, func() error { return s.podsRunning(ctx, sparkNS, workerLabel, 0) })
	master := s.runningPod(ctx, sparkNS, "app.kubernetes.io/name=spark-master", 60*time.Second)
	masterUI := "http://" + master.Status.PodIP + ":8080"
	s.WaitUntil("the master alive", 180*time.Second, func() error {
		st, err := getMasterStatus(masterUI)
		if err != nil {
			return err
		}
		if st.Status != "ALIVE" {
			return fmt.Errorf("master %s", st.Status)
		}
		return nil
	})
	run.mark("master_alive")

	// The exporter reads the master at its pod's IP: it runs on this machine, outside the pods'
	// hosts files, so the example's spark-master.spark.svc is replaced by the address it names.
	exporter := s.startExporter(ctx, objs, map[string]string{"--standalone.master-url": masterUI})
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	scalerGRPC, scalerWeb := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	prom := s.startPrometheus("groups: []\n", exporter, scalerWeb)
	s.startFromDeployment(ctx, objs, "spark-dra-scaler", map[string]string{
		"--grpc.listen-address": scalerGRPC, "--web.listen-address": scalerWeb, "--prometheus.url": prom}, true)
	s.WaitUntil("scaler /metrics", 30*time.Second, func() error { _, err := scrape("http://" + scalerWeb + "/metrics"); return err })

	trig, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	for _, tr := range trig {
		tr.(map[string]any)["metadata"].(map[string]any)["scalerAddress"] = scalerGRPC
	}
	_ = unstructured.SetNestedSlice(so.Object, trig, "spec", "triggers")

	run.clock = time.Now()
	replicas := recordReplicas(ctx, s.Client, sparkNS, workerName, run.clock)
	desired := recordDesired(ctx, "http://"+scalerWeb+"/decisions", soName, run.clock)
	pods := recordPods(ctx, s.Client, sparkNS, workerLabel)
	t.Cleanup(func() { run.sum.ReplicasTimeline = replicas.Timeline() })
	if _, err := s.applyOne(ctx, so, ""); err != nil {
		t.Fatal(err)
	}
	run.phase("ScaledObject applied")
	s.WaitUntil("ScaledObject Ready", 90*time.Second, func() error { return s.condition(ctx, scaledObjectGVR, sparkNS, soName, "Ready") })

	// The application: a local driver in client mode (its UI on a free loopback port).
	signals := t.TempDir()
	uiPorts, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	ui := "http://127.0.0.1:" + strconv.Itoa(uiPorts[0])
	jh, err := javaHome()
	if err != nil {
		t.Fatal(err)
	}
	python := filepath.Join(rt.PathDirs[0], "python")
	confs := []string{"spark.driver.host=127.0.0.1", "spark.driver.bindAddress=127.0.0.1", "spark.ui.port=" + strconv.Itoa(uiPorts[0]),
		"spark.port.maxRetries=0", "spark.executor.cores=2", "spark.executor.memory=512m", "spark.driver.memory=512m",
		"spark.dynamicAllocation.enabled=false", "spark.ui.showConsoleProgress=false"}
	args := []string{filepath.Join(repoRoot(), "e2e", "jobs", "ledger.py"), "--master", "spark://" + master.Status.PodIP + ":7077",
		"--app-name", "sparkdra-standalone", "--signal-dir", signals, "--transfers", "240000", "--scan-partitions", "8", "--partitions", "2", "--work", "40"}
	for _, c := range confs {
		args = append(args, "--conf", c)
	}
	driverStart := time.Now()
	driver := s.StartProcess("driver-standalone", python, []string{"JAVA_HOME=" + jh, "SPARK_LOCAL_IP=127.0.0.1",
		"PYSPARK_PYTHON=" + python, "PATH=" + strings.Join(rt.PathDirs, ":") + ":" + os.Getenv("PATH"),
		"JAVA_TOOL_OPTIONS=-XX:+UseSerialGC"}, args...)
	run.phase("driver started")
	var appID string
	s.WaitUntil("the application started", 180*time.Second, func() error {
		e := findEvent(driver.logPath, "started")
		if e == nil {
			return errNotYet
		}
		appID, _ = e["app_id"].(string)
		return nil
	})
	run.mark("application_started")
	snaps := pollExecutors(ctx, ui, appID)

	s.WaitUntil("the job's result", 900*time.Second, func() error {
		if findEvent(driver.logPath, "result") == nil {
			return errNotYet
		}
		return nil
	})
	res := findEvent(driver.logPath, "result")
	run.sum.ResultOK, _ = res["ok"].(bool)
	run.mark("result")
	run.phase(fmt.Sprintf("result: ok=%v", res["ok"]))
	if !run.sum.ResultOK {
		t.Errorf("the job's result differs from the reference: %v", res)
	}
	peak := int32(0)
	for _, p := range replicas.Timeline() {
		peak = max(peak, p.Replicas)
	}
	if peak < 2 {
		t.Errorf("the workers peaked at %d: DRA's ramp never showed", peak)
	}
	// From the activation on (KEDA itself takes a ScaledObject from 0 to 1 when the scaler says
	// it is active), every spec.replicas must be a value the scaler answered: DRA's steps.
	checkSteps(t, replicas.Timeline(), desired.Timeline(), firstAtLeast(replicas.Timeline(), 1)+0.001, firstAtLeast(replicas.Timeline(), peak))

	// The idle executors (the scan's, which hold no shuffle) time out (60 s in the example):
	// the scaler marks their pods cheapest and the ReplicaSet deletes exactly those.
	s.WaitUntil("shuffle held", 60*time.Second, func() error {
		if findEvent(driver.logPath, "shuffle_held") == nil {
			return errNotYet
		}
		return nil
	})
	s.WaitUntil("scale-in after the idle timeout", 300*time.Second, func() error {
		cur := replicas.Current()
		if cur >= peak || len(pods.DeletedSince(driverStart)) == 0 {
			return fmt.Errorf("spec.replicas %d (peak %d)", cur, peak)
		}
		return s.podsRunning(ctx, sparkNS, workerLabel, int(cur))
	})
	run.mark("scaled_in")
	run.phase(fmt.Sprintf("scaled in to %d workers", replicas.Current()))
	victims := pods.DeletedSince(driverStart)
	match := true
	idleRegistered, starting := 0, 0
	isVictim := map[string]bool{}
	for _, v := range victims {
		isVictim[v.Name] = true
	}
	cost := func(c *int64) int64 {
		if c == nil {
			return 0
		}
		return *c
	}
	for _, v := range victims {
		for name, c := range v.CostsAtDeletion {
			if !isVictim[name] && cost(c) <= cost(v.CostsAtDeletion[v.Name]) {
				match = false
				t.Errorf("victim %s (cost %d) was not cheaper than the kept %s (cost %d)", v.Name, cost(v.CostsAtDeletion[v.Name]), name, cost(c))
			}
		}
		snap, ok := snaps.before(v.Deleted)
		switch {
		case !ok:
			match = false
			t.Errorf("no executor snapshot before %s was deleted", v.Name)
		case snap.active[v.IP] != 0:
			match = false
			t.Errorf("victim %s (%s) ran %d tasks when it was deleted", v.Name, v.IP, snap.active[v.IP])
		default:
			if _, known := snap.active[v.IP]; !known {
				// Its executor had not registered yet (JVM still starting): a pending executor,
				// which DRA cancels first when its target falls.
				starting++
				t.Logf("victim %s (%s) had no registered executor in the driver's last snapshot (%s before its deletion)", v.Name, v.IP, v.Deleted.Sub(snap.at).Round(time.Millisecond))
			} else {
				idleRegistered++
			}
		}
	}
	run.sum.VictimsMatch = &match
	run.note("victims: %d worker pods deleted; each was cheaper than every kept pod; in the driver's REST API just before, %d had an idle registered executor and %d an executor not yet registered (still starting: a pending executor, which DRA drops first when its target falls); none was running a task", len(victims), idleRegistered, starting)

	ex, err := driverExecutors(ui, appID)
	if err != nil {
		t.Fatal(err)
	}
	run.sum.TasksFailed = failedTasks(ex)
	if run.sum.TasksFailed != 0 {
		t.Errorf("%d tasks failed", run.sum.TasksFailed)
	}
	signal(t, signals, "release")
	signal(t, signals, "finish")
	if code := waitExit(driver, 180*time.Second); code != 0 {
		t.Errorf("the driver exited with %d", code)
	}
	run.mark("application_ended")
}
