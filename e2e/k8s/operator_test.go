//go:build e2e_k8s

package k8se2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/e2e/celebornstandin"
	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// sparkApplicationGVR is the kubeflow spark-operator's SparkApplication.
var sparkApplicationGVR = schema.GroupVersionResource{Group: "sparkoperator.k8s.io", Version: "v1beta2", Resource: "sparkapplications"}

// operatorRBAC is the test's stand-in for the spark-operator Helm chart's RBAC: a ServiceAccount
// bound to cluster-admin. The chart's narrower rules are not what this test checks; the token
// (not the stack's EC client keys) is what matters, since the operator's spark-submit talks to the
// API server through fabric8.
const operatorRBAC = `apiVersion: v1
kind: Namespace
metadata: {name: spark-operator}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: spark-operator, namespace: spark-operator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: spark-operator-e2e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: spark-operator, namespace: spark-operator}]
`

// TestSparkOperator runs manifests/examples/spark-operator's PageRank SparkApplication on the
// real kubeflow spark-operator (v2, built by e2e/operator/build.sh, $SPARKDRA_OPERATOR_BIN),
// out of cluster against the stack with the process kubelet (no KEDA: nothing scales Spark
// from outside here, Spark's own DRA does). The operator runs PySpark's spark-submit in
// cluster mode; the driver pod creates and deletes its executor pods. The exporter runs as the
// base deploys it (Kubernetes discovery, the base's RBAC through a ServiceAccount token).
//
// The example is applied with these changes, each one because the process kubelet needs it:
//   - PySpark's own PageRank (examples/src/main/python/pagerank.py, type Python) on the graph
//     PySpark ships (data/mllib/pagerank_data.txt, the same path as in the image) instead of
//     the Scala SparkPageRank: the PyPI package has no spark-examples jar;
//   - image apache/spark:<PySpark's version>, which the process kubelet runs from the venv;
//   - spark.kubernetes.driver.master: the stack's API server (no kubernetes.default.svc here);
//   - lean JVMs (512m, 1 core each, maxExecutors 3) and spark.default.parallelism 6, so each
//     shuffle stage has a backlog of tasks for DRA to grow on with this small graph.
//
// It asserts, for PageRank (shuffle tracking on): the application reaches COMPLETED; executor
// pods peak above initialExecutors (Spark's DRA asked for more) and within maxExecutors, and
// none is left at the end; the exporter discovered the driver pod and reported it (spark_up 1
// with the pod's namespace and name, spark_dra_executors between 1 and the pods' peak,
// spark_dra_shuffle_pins_executors 1, no config warning). Then the Celeborn variant runs with the
// Apache Celeborn STAND-IN (e2e/celebornstandin) and tracking off: Spark must accept DRA without
// a shuffle service or tracking (COMPLETED), and the exporter reports no pinning and no warning.
// It merges sparkapplication_state, executor_pods_peak and exporter_discovered (PageRank's) and
// the details of both runs (key sparkapplication) into e2e/out/operator-summary.json, where make
// e2e-reliable writes its reliable_tracking_* keys.
func TestSparkOperator(t *testing.T) {
	opBin := os.Getenv("SPARKDRA_OPERATOR_BIN")
	if opBin == "" {
		t.Fatal("SPARKDRA_OPERATOR_BIN is not set: run `make e2e-operator`, which builds the spark-operator (e2e/operator/build.sh)")
	}
	ko, err := DefaultKubeletOptions()
	if err != nil {
		t.Fatal(err)
	}
	rt := ko.Runtimes[""]
	s := StartStack(t, Options{Kubelet: ko, WithoutKEDA: true})
	ctx := t.Context()
	clock := time.Now()
	since := func() float64 { return round1(time.Since(clock).Seconds()) }

	result := map[string]any{"sparkapplication_state": "", "executor_pods_peak": 0, "exporter_discovered": false}
	detail := map[string]any{"spark_version": rt.Version, "stack_ready_seconds": round1(s.readySeconds)}
	timings := map[string]float64{}
	t.Cleanup(func() {
		detail["timings"] = timings
		detail["passed"] = !t.Failed()
		result["sparkapplication"] = detail
		mergeOperatorSummary(t, result)
	})

	// The operator's CRDs (server-side apply: the SparkApplication CRD is ~780 KB, too big for
	// the last-applied annotation of a client-side apply).
	crds, err := filepath.Glob(filepath.Join(filepath.Dir(opBin), "..", "crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("the operator's CRDs not found next to %s: %v", opBin, err)
	}
	s.InstallCRDs(ctx, crds)
	timings["crds_established"] = since()

	// The example minus its SparkApplications (applied below, adjusted) and what applyExample
	// leaves out.
	var app, celeborn *unstructured.Unstructured
	objs := s.applyExampleExcept(ctx, "manifests/examples/spark-operator", func(o *unstructured.Unstructured) bool {
		if o.GetKind() != "SparkApplication" {
			return false
		}
		switch o.GetName() {
		case "pagerank":
			app = o.DeepCopy()
		case "pagerank-celeborn":
			celeborn = o.DeepCopy()
		}
		return true
	})
	if app == nil {
		t.Fatal("no SparkApplication pagerank in manifests/examples/spark-operator")
	}

	exporter := s.startExporter(ctx, objs, nil)
	timings["exporter_ready"] = since()

	// The operator, out of cluster, with its ServiceAccount's token.
	if _, err := s.Apply(ctx, []byte(operatorRBAC), ""); err != nil {
		t.Fatal(err)
	}
	kc := s.ServiceAccountKubeconfig(ctx, "spark-operator", "spark-operator")
	u, err := url.Parse(s.Server)
	if err != nil {
		t.Fatal(err)
	}
	jh, err := javaHome()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	probe := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s.StartProcess("spark-operator", opBin, []string{
		"KUBECONFIG=" + kc, "SPARK_HOME=" + rt.SparkHome, "JAVA_HOME=" + jh,
		"PATH=" + strings.Join(rt.PathDirs, ":") + ":" + os.Getenv("PATH"),
		"KUBERNETES_SERVICE_HOST=" + u.Hostname(), "KUBERNETES_SERVICE_PORT=" + u.Port(),
		"SPARK_LOCAL_IP=127.0.0.1", "JAVA_TOOL_OPTIONS=-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
	}, "controller", "start", "--kubeconfig="+kc, "--namespaces="+sparkNS, "--leader-election=false",
		"--enable-ui-service=false", "--health-probe-bind-address="+probe, "--metrics-bind-address=0",
		"--controller-threads=2", "--zap-log-level=info", "--zap-encoder=console")
	s.WaitUntil("spark-operator /readyz", 120*time.Second, func() error {
		return httpOK(plainClient, "http://"+probe+"/readyz", "")
	})
	timings["operator_ready"] = since()

	// The example, adjusted only as the process kubelet needs (see the test's doc).
	const initialExecutors, maxExecutors = 1, 3
	adjust(t, app, s, rt, initialExecutors, maxExecutors, "10")
	minExecutors, _, _ := unstructured.NestedInt64(app.Object, "spec", "dynamicAllocation", "minExecutors")
	r := runOperatorApp(t, s, app, exporter)
	result["sparkapplication_state"] = r.State
	result["executor_pods_peak"] = r.ExecutorPodsPeak
	result["exporter_discovered"] = r.ExporterDiscovered
	detail["pagerank"] = r
	if r.State != "COMPLETED" {
		t.Errorf("SparkApplication %s ended %s, want COMPLETED (states %v; driver log %s)", app.GetName(), r.State, r.States, s.Kubelet.LogPath(sparkNS, app.GetName()+"-driver"))
	}
	if r.ExecutorPodsPeak <= initialExecutors || r.ExecutorPodsPeak <= int32(minExecutors) || r.ExecutorPodsPeak > maxExecutors {
		t.Errorf("executor pods peaked at %d, want above initialExecutors %d (and minExecutors %d) up to maxExecutors %d: %v",
			r.ExecutorPodsPeak, initialExecutors, minExecutors, maxExecutors, r.ExecutorPodsTimeline)
	}
	if r.ExecutorPodsRemovedWhileRunning == 0 {
		r.Notes = append(r.Notes, "no executor pod went while the application ran: each ran tasks in every PageRank iteration (executorIdleTimeout 60 s) and, with shuffle tracking on, held shuffle output; they went when the driver stopped")
	}
	if r.ExporterDiscovered {
		// Shuffle tracking on, no shuffle service, no Celeborn: Spark pins executors that ran
		// shuffle map tasks, and nothing is configured needlessly.
		if r.ShufflePins != 1 || len(r.ConfigWarnings) != 0 {
			t.Errorf("exporter: spark_dra_shuffle_pins_executors %v, config warnings %v; want 1 and none", r.ShufflePins, r.ConfigWarnings)
		}
	}

	// The Celeborn variant with the Apache Celeborn STAND-IN (e2e/celebornstandin: Celeborn's
	// ShuffleDataIO class name, local-disk shuffle, reports reliable storage; Celeborn's servers
	// cannot run here): shuffle tracking off, so Spark must accept dynamic allocation without a
	// shuffle service or tracking because the plugin reports reliable storage. Changed beyond
	// the PageRank changes: the stand-in's jar on the driver's and executors' class path instead
	// of deps.jars (Celeborn's client is not here), and no spark.shuffle.manager (the stand-in
	// has no shuffle manager: Spark's sort shuffle manager runs the plugin).
	if celeborn == nil {
		t.Fatal("no SparkApplication pagerank-celeborn in manifests/examples/spark-operator")
	}
	jar, err := celebornstandin.BuildJar(ctx, rt.SparkHome, filepath.Dir(os.Getenv("SPARKDRA_K8S_BIN")))
	if err != nil {
		t.Fatal(err)
	}
	adjust(t, celeborn, s, rt, initialExecutors, maxExecutors, "3")
	unstructured.RemoveNestedField(celeborn.Object, "spec", "deps")
	unstructured.RemoveNestedField(celeborn.Object, "spec", "sparkConf", "spark.shuffle.manager")
	for k, v := range celebornstandin.Conf(jar) {
		if err := unstructured.SetNestedField(celeborn.Object, v, "spec", "sparkConf", k); err != nil {
			t.Fatal(err)
		}
	}
	if tracking, _, _ := unstructured.NestedBool(celeborn.Object, "spec", "dynamicAllocation", "shuffleTrackingEnabled"); tracking {
		t.Fatal("pagerank-celeborn turns shuffle tracking on: the example should turn it off")
	}
	rc := runOperatorApp(t, s, celeborn, exporter)
	detail["pagerank_celeborn_standin"] = rc
	if rc.State != "COMPLETED" {
		t.Errorf("SparkApplication %s ended %s, want COMPLETED: Spark should accept DRA with tracking off and reliable shuffle storage (states %v; driver log %s)",
			celeborn.GetName(), rc.State, rc.States, s.Kubelet.LogPath(sparkNS, celeborn.GetName()+"-driver"))
	}
	if rc.ExecutorPodsPeak < 1 {
		t.Errorf("%s: no executor pod", celeborn.GetName())
	}
	if !rc.ExporterDiscovered {
		t.Errorf("%s: the exporter never discovered the driver", celeborn.GetName())
	} else if rc.ShufflePins != 0 || len(rc.ConfigWarnings) != 0 {
		t.Errorf("%s: exporter spark_dra_shuffle_pins_executors %v, config warnings %v; want 0 and none (tracking off, reliable storage)", celeborn.GetName(), rc.ShufflePins, rc.ConfigWarnings)
	}
	timings["total"] = since()
}

// operatorApp is what TestSparkOperator saw of one SparkApplication; seconds since its apply.
type operatorApp struct {
	State                           string         `json:"state"`
	States                          []Phase        `json:"states"`
	ExecutorPodsPeak                int32          `json:"executor_pods_peak"`
	ExecutorPodsTimeline            []ReplicaPoint `json:"executor_pods_timeline"`
	ExecutorPodsRemovedWhileRunning int            `json:"executor_pods_removed_while_running"`
	ExecutorExitCodes               map[string]int `json:"executor_exit_codes"`
	ExporterDiscovered              bool           `json:"exporter_discovered"`
	ExporterDiscoveredSeconds       float64        `json:"exporter_discovered_seconds"`
	AppID                           string         `json:"app_id"`
	// ExporterExecutorsPeak is the most spark_dra_executors the exporter reported for the app.
	ExporterExecutorsPeak float64 `json:"exporter_executors_peak"`
	// ShufflePins is spark_dra_shuffle_pins_executors as last reported; ConfigWarnings the
	// reasons of spark_dra_config_warning ever reported.
	ShufflePins    float64  `json:"shuffle_pins"`
	ConfigWarnings []string `json:"config_warnings"`
	EndedSeconds   float64  `json:"ended_seconds"`
	Notes          []string `json:"notes,omitempty"`
}

// adjust changes a SparkApplication of the example only as the process kubelet needs (see
// TestSparkOperator's doc): PySpark's pagerank.py for iterations, the venv's image tag, the
// stack's API server, lean JVMs.
func adjust(t *testing.T, app *unstructured.Unstructured, s *Stack, rt kubelet.Runtime, initialExecutors, maxExecutors int64, iterations string) {
	set := func(v any, path ...string) {
		if err := unstructured.SetNestedField(app.Object, v, path...); err != nil {
			t.Fatal(err)
		}
	}
	unstructured.RemoveNestedField(app.Object, "spec", "mainClass")
	set("Python", "spec", "type")
	set("3", "spec", "pythonVersion")
	set("local:///opt/spark/examples/src/main/python/pagerank.py", "spec", "mainApplicationFile")
	set([]any{"/opt/spark/data/mllib/pagerank_data.txt", iterations}, "spec", "arguments")
	set("apache/spark:"+rt.Version, "spec", "image")
	set(rt.Version, "spec", "sparkVersion")
	set(initialExecutors, "spec", "dynamicAllocation", "initialExecutors")
	set(maxExecutors, "spec", "dynamicAllocation", "maxExecutors")
	set(s.Server, "spec", "sparkConf", "spark.kubernetes.driver.master")
	set("6", "spec", "sparkConf", "spark.default.parallelism")
	set("false", "spec", "sparkConf", "spark.ui.showConsoleProgress")
	set("512m", "spec", "driver", "memory")
	set("512m", "spec", "executor", "memory")
	set(int64(1), "spec", "executor", "cores")
}

// runOperatorApp applies app, waits (bounded) for the operator's terminal state and for every
// executor pod to go, and returns what it saw, the exporter polled every 500 ms meanwhile.
func runOperatorApp(t *testing.T, s *Stack, app *unstructured.Unstructured, exporter string) *operatorApp {
	t.Helper()
	ctx := t.Context()
	if b, err := json.MarshalIndent(app.Object, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(s.LogDir, "sparkapplication-"+app.GetName()+".json"), b, 0o644)
	}
	r := &operatorApp{}
	exitsBefore := len(s.Kubelet.Exits())
	clock := time.Now()
	since := func() float64 { return round1(time.Since(clock).Seconds()) }
	executors := countPods(ctx, s, sparkNS, "spark-role=executor,sparkoperator.k8s.io/app-name="+app.GetName(), clock)
	states := &stateLog{clock: clock}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchLoop(watchCtx, func(ctx context.Context) (watch.Interface, error) {
		return s.Dynamic.Resource(sparkApplicationGVR).Namespace(sparkNS).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + app.GetName()})
	}, func(ev watch.Event) {
		if o, ok := ev.Object.(*unstructured.Unstructured); ok {
			st, _, _ := unstructured.NestedString(o.Object, "status", "applicationState", "state")
			states.add(st)
		}
	})
	if _, err := s.applyOne(ctx, app, sparkNS); err != nil {
		t.Fatalf("apply SparkApplication: %v", err)
	}
	t.Logf("SparkApplication %s/%s applied", sparkNS, app.GetName())

	// The exporter, polled until the application ends: it must find the driver pod (the
	// operator names it <app>-driver) and report it up.
	driverPod := app.GetName() + "-driver"
	metricsURL := "http://" + exporter + "/metrics"
	var mu sync.Mutex
	warnings := map[string]bool{}
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
			text, err := scrape(metricsURL)
			if err != nil {
				continue
			}
			ids := labelValues(text, "spark_up", "app_id", `pod="`+driverPod+`"`, `namespace="`+sparkNS+`"`)
			v, ok := gauge(text, "spark_up", `pod="`+driverPod+`"`, `namespace="`+sparkNS+`"`)
			if !ok || v != 1 || len(ids) == 0 {
				continue
			}
			id := `app_id="` + ids[0] + `"`
			n, _ := sumGauge(text, "spark_dra_executors", id)
			pins, havePins := gauge(text, "spark_dra_shuffle_pins_executors", id)
			mu.Lock()
			if !r.ExporterDiscovered {
				r.ExporterDiscovered, r.ExporterDiscoveredSeconds, r.AppID = true, since(), ids[0]
			}
			r.ExporterExecutorsPeak = max(r.ExporterExecutorsPeak, n)
			if havePins {
				r.ShufflePins = pins
			}
			for _, w := range labelValues(text, "spark_dra_config_warning", "reason", id) {
				warnings[w] = true
			}
			mu.Unlock()
		}
	}()

	s.WaitUntil("SparkApplication "+app.GetName()+" COMPLETED or FAILED", 15*time.Minute, func() error {
		o, err := s.Dynamic.Resource(sparkApplicationGVR).Namespace(sparkNS).Get(ctx, app.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, _, _ := unstructured.NestedString(o.Object, "status", "applicationState", "state")
		switch st {
		case "COMPLETED", "FAILED", "SUBMISSION_FAILED":
			r.State = st
			if msg, _, _ := unstructured.NestedString(o.Object, "status", "applicationState", "errorMessage"); msg != "" {
				r.Notes = append(r.Notes, "operator's errorMessage: "+msg)
			}
			return nil
		}
		return fmt.Errorf("state %q", st)
	})
	r.EndedSeconds = since()

	// Executors: none left once the driver has stopped them.
	if err := s.Poll("no executor pod of "+app.GetName()+" left", 120*time.Second, func() error {
		if n := len(executors.Live()); n != 0 {
			return fmt.Errorf("%d executor pods", n)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	stopWatch()
	r.States = states.list()
	r.ExecutorPodsPeak = executors.Max()
	r.ExecutorPodsTimeline = executors.Timeline()
	r.ExecutorExitCodes = map[string]int{} // the processes that ended during this run, drivers left out
	for _, e := range s.Kubelet.Exits()[exitsBefore:] {
		if !strings.HasSuffix(e.Pod, "-driver") {
			r.ExecutorExitCodes[strconv.Itoa(e.ExitCode)]++
		}
	}
	// Whether DRA released an executor while the application ran, or they all went when the
	// driver stopped them: falls of the count more than 5 s before its last change.
	if tl := r.ExecutorPodsTimeline; len(tl) > 0 {
		for i := 1; i < len(tl); i++ {
			if tl[i].Replicas < tl[i-1].Replicas && tl[i].Seconds < tl[len(tl)-1].Seconds-5 {
				r.ExecutorPodsRemovedWhileRunning++
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for w := range warnings {
		r.ConfigWarnings = append(r.ConfigWarnings, w)
	}
	sort.Strings(r.ConfigWarnings)
	if !r.ExporterDiscovered {
		t.Errorf("the exporter never reported spark_up 1 for pod %s/%s (log %s)", sparkNS, driverPod, filepath.Join(s.LogDir, "spark-dra-exporter.log"))
	} else if r.ExporterExecutorsPeak < 1 || r.ExporterExecutorsPeak > float64(r.ExecutorPodsPeak) {
		t.Errorf("the exporter reported at most %v executors (spark_dra_executors) for %s, executor pods peaked at %d", r.ExporterExecutorsPeak, r.AppID, r.ExecutorPodsPeak)
	}
	t.Logf("%s: state %s at %.1fs, executor pods peak %d (timeline %v), exporter discovered %v at %.1fs (executors peak %v, shuffle pins %v, warnings %v)",
		app.GetName(), r.State, r.EndedSeconds, r.ExecutorPodsPeak, r.ExecutorPodsTimeline, r.ExporterDiscovered, r.ExporterDiscoveredSeconds, r.ExporterExecutorsPeak, r.ShufflePins, r.ConfigWarnings)
	return r
}

// stateLog records each change of a SparkApplication's state, seconds since clock.
type stateLog struct {
	mu     sync.Mutex
	clock  time.Time
	states []Phase
}

func (l *stateLog) add(st string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.states); st == "" || (n > 0 && l.states[n-1].Name == st) {
		return
	}
	l.states = append(l.states, Phase{round1(time.Since(l.clock).Seconds()), st})
}

func (l *stateLog) list() []Phase {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Phase(nil), l.states...)
}

// mergeOperatorSummary merges fields into e2e/out/operator-summary.json, keeping the keys other
// tiers wrote (make e2e-reliable's reliable_tracking_on/off).
func mergeOperatorSummary(t *testing.T, fields map[string]any) {
	path := filepath.Join(OutDir(), "operator-summary.json")
	all := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &all); err != nil {
			t.Errorf("%s: %v (not overwritten)", path, err)
			return
		}
	}
	for k, v := range fields {
		all[k] = v
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		t.Error(err)
		return
	}
	if err := os.MkdirAll(OutDir(), 0o755); err != nil {
		t.Error(err)
		return
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("summary: %s", path)
}
