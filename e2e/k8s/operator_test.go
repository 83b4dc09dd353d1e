//go:build e2e_k8s

package k8se2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
// It asserts: the application reaches COMPLETED; executor pods peak above initialExecutors
// (Spark's DRA asked for more) and within maxExecutors, and none is left at the end; the
// exporter discovered the driver pod and reported it (spark_up 1 with the pod's namespace and
// name, and spark_dra_executors between 1 and the pods' peak). It merges sparkapplication_state, executor_pods_peak and exporter_discovered into
// e2e/out/operator-summary.json (make e2e-reliable writes the reliable_tracking_* keys there).
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
	var notes []string
	t.Cleanup(func() {
		detail["timings"] = timings
		detail["notes"] = notes
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
	var app *unstructured.Unstructured
	objs := s.applyExampleExcept(ctx, "manifests/examples/spark-operator", func(o *unstructured.Unstructured) bool {
		if o.GetKind() != "SparkApplication" {
			return false
		}
		if o.GetName() == "pagerank" {
			app = o.DeepCopy()
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
	set := func(v any, path ...string) {
		if err := unstructured.SetNestedField(app.Object, v, path...); err != nil {
			t.Fatal(err)
		}
	}
	unstructured.RemoveNestedField(app.Object, "spec", "mainClass")
	set("Python", "spec", "type")
	set("3", "spec", "pythonVersion")
	set("local:///opt/spark/examples/src/main/python/pagerank.py", "spec", "mainApplicationFile")
	set([]any{"/opt/spark/data/mllib/pagerank_data.txt", "10"}, "spec", "arguments")
	set("apache/spark:"+rt.Version, "spec", "image")
	set(rt.Version, "spec", "sparkVersion")
	set(int64(initialExecutors), "spec", "dynamicAllocation", "initialExecutors")
	set(int64(maxExecutors), "spec", "dynamicAllocation", "maxExecutors")
	set(s.Server, "spec", "sparkConf", "spark.kubernetes.driver.master")
	set("6", "spec", "sparkConf", "spark.default.parallelism")
	set("false", "spec", "sparkConf", "spark.ui.showConsoleProgress")
	set("512m", "spec", "driver", "memory")
	set("512m", "spec", "executor", "memory")
	set(int64(1), "spec", "executor", "cores")
	minExecutors, _, _ := unstructured.NestedInt64(app.Object, "spec", "dynamicAllocation", "minExecutors")
	if b, err := json.MarshalIndent(app.Object, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(s.LogDir, "sparkapplication.json"), b, 0o644)
	}

	// From here on, times are seconds since the SparkApplication was applied (before: since the
	// stack was ready).
	clock = time.Now()
	executors := countPods(ctx, s, sparkNS, "spark-role=executor,sparkoperator.k8s.io/app-name="+app.GetName(), clock)
	states := &stateLog{clock: clock}
	go watchLoop(ctx, func(ctx context.Context) (watch.Interface, error) {
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
	var discovered struct {
		sync.Mutex
		at    float64
		appID string
		// maxExecutors is the most spark_dra_executors the exporter reported for the app.
		maxExecutors float64
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
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
			n, _ := sumGauge(text, "spark_dra_executors", `app_id="`+ids[0]+`"`)
			discovered.Lock()
			if discovered.appID == "" {
				discovered.at, discovered.appID = since(), ids[0]
			}
			discovered.maxExecutors = max(discovered.maxExecutors, n)
			discovered.Unlock()
		}
	}()

	var final string
	s.WaitUntil("SparkApplication "+app.GetName()+" COMPLETED or FAILED", 15*time.Minute, func() error {
		o, err := s.Dynamic.Resource(sparkApplicationGVR).Namespace(sparkNS).Get(ctx, app.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, _, _ := unstructured.NestedString(o.Object, "status", "applicationState", "state")
		switch st {
		case "COMPLETED", "FAILED", "SUBMISSION_FAILED", "FAILING":
			final = st
			if st == "FAILING" {
				return errNotYet
			}
			msg, _, _ := unstructured.NestedString(o.Object, "status", "applicationState", "errorMessage")
			if msg != "" {
				notes = append(notes, "operator's errorMessage: "+msg)
			}
			return nil
		}
		return fmt.Errorf("state %q", st)
	})
	timings["application_ended"] = since()
	result["sparkapplication_state"] = final
	detail["states"] = states.list()
	if final != "COMPLETED" {
		t.Errorf("SparkApplication ended %s, want COMPLETED (states %v; driver log %s)", final, states.list(), s.Kubelet.LogPath(sparkNS, driverPod))
	}

	// Executors: none left once the driver has stopped them.
	if err := s.Poll("no executor pod left", 120*time.Second, func() error {
		if n := len(executors.Live()); n != 0 {
			return fmt.Errorf("%d executor pods", n)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	stopWatch()
	peak := executors.Max()
	result["executor_pods_peak"] = peak
	detail["executor_pods_timeline"] = executors.Timeline()
	detail["executor_exit_codes"] = exitCodes(s.Kubelet, "") // the only application on this stack
	notes = append(notes, "executor pods go when the application ends: with shuffle tracking on, PageRank's iterations keep shuffles referenced, so Spark's DRA pins the executors that wrote them (what the exporter reports holds=\"shuffle\")")
	if peak <= int32(initialExecutors) || peak <= int32(minExecutors) || peak > maxExecutors {
		t.Errorf("executor pods peaked at %d, want above initialExecutors %d (and minExecutors %d) up to maxExecutors %d: %v",
			peak, initialExecutors, minExecutors, maxExecutors, executors.Timeline())
	}

	discovered.Lock()
	found, at, appID, exporterMax := discovered.appID != "", discovered.at, discovered.appID, discovered.maxExecutors
	discovered.Unlock()
	result["exporter_discovered"] = found
	detail["exporter_executors_peak"] = exporterMax
	if found {
		timings["exporter_discovered"] = at
		detail["app_id"] = appID
		if exporterMax < 1 || exporterMax > float64(peak) {
			t.Errorf("the exporter reported at most %v executors (spark_dra_executors) for %s, executor pods peaked at %d", exporterMax, appID, peak)
		}
	} else {
		t.Errorf("the exporter never reported spark_up 1 for pod %s/%s (log %s)", sparkNS, driverPod, filepath.Join(s.LogDir, "spark-dra-exporter.log"))
	}
	t.Logf("state %s, executor pods peak %d (timeline %v), exporter discovered %v at %.1fs; timings %v",
		final, peak, executors.Timeline(), found, at, timings)
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
