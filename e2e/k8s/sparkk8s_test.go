//go:build e2e_k8s

package k8se2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"

	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"
)

// SparkScenario is one scenario's entry of e2e/out/k8s-spark-summary.json.
type SparkScenario struct {
	Passed       bool   `json:"passed"`
	SparkVersion string `json:"spark_version"`
	// ExecutorPodsTimeline is the number of live executor pods (Running, not being deleted)
	// at each change, seconds since the submission.
	ExecutorPodsTimeline []ReplicaPoint `json:"executor_pods_timeline,omitempty"`
	// ReplicasTimeline is every spec.replicas of the KEDA-driven workload, same clock.
	ReplicasTimeline []ReplicaPoint `json:"replicas_timeline,omitempty"`
	// VictimsMatch (standalone): the pods the ReplicaSet deleted were the lowest-cost ones, and
	// idle executors per the driver's REST API at that moment.
	VictimsMatch *bool `json:"victims_match,omitempty"`
	// TasksFailed is the sum of failedTasks over every executor the application had
	// (/allexecutors), read before it ended.
	TasksFailed int `json:"tasks_failed"`
	// ResultOK: the job's result equals the reference the driver computed in plain Python.
	ResultOK bool `json:"result_ok"`
	// PinnedAlertFired/Resolved (native_dra): SparkDRAExecutorsPinnedByShuffle in the real
	// Prometheus, thresholds lowered by the test rule file.
	PinnedAlertFired    *bool `json:"pinned_alert_fired,omitempty"`
	PinnedAlertResolved *bool `json:"pinned_alert_resolved,omitempty"`
	// Timings in seconds: stack (shared, so the same in every scenario), and the scenario's
	// own marks from its submission.
	Timings map[string]float64 `json:"timings"`
	// Phases are the moments the test saw or changed something, seconds since the submission.
	Phases []Phase `json:"phases"`
	// ExecutorExitCodes counts the exit codes of the executor processes (an executor killed by
	// Spark's DRA may exit 58, a block manager re-registration race inside Spark; 143 is SIGTERM).
	ExecutorExitCodes map[string]int `json:"executor_exit_codes,omitempty"`
	// ExecutorRestarts (statefulset scenarios) counts executor processes the restartPolicy
	// started again (the StatefulSet allocator's pods have restartPolicy Always).
	ExecutorRestarts *int `json:"executor_restarts,omitempty"`
	// ScaleIn (statefulset scenarios): what the StatefulSet's scale-down removed and cost.
	ScaleIn *ScaleInCost `json:"scale_in,omitempty"`
	// Notes say what a reader of the figures needs to know.
	Notes []string `json:"notes,omitempty"`
}

var (
	sparkSummaryMu sync.Mutex
	sparkSummary   = map[string]*SparkScenario{}
)

// writeSparkSummary writes every scenario run so far to e2e/out/k8s-spark-summary.json.
func writeSparkSummary(t *testing.T) {
	sparkSummaryMu.Lock()
	defer sparkSummaryMu.Unlock()
	b, err := json.MarshalIndent(sparkSummary, "", "  ")
	if err != nil {
		t.Error(err)
		return
	}
	if err := os.MkdirAll(OutDir(), 0o755); err != nil {
		t.Error(err)
		return
	}
	p := filepath.Join(OutDir(), "k8s-spark-summary.json")
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("summary: %s", p)
}

// scenarioRun is one scenario in progress: its summary entry and clock.
type scenarioRun struct {
	t     *testing.T
	s     *Stack
	name  string
	sum   *SparkScenario
	clock time.Time
	mu    sync.Mutex
}

func newScenario(t *testing.T, s *Stack, name, version string) *scenarioRun {
	r := &scenarioRun{t: t, s: s, name: name, clock: time.Now(),
		sum: &SparkScenario{SparkVersion: version, Timings: map[string]float64{"stack_ready": round1(s.readySeconds)}}}
	sparkSummaryMu.Lock()
	sparkSummary[name] = r.sum
	sparkSummaryMu.Unlock()
	t.Cleanup(func() {
		r.mu.Lock()
		r.sum.Passed = !t.Failed()
		r.sum.Timings["scenario"] = round1(time.Since(r.clock).Seconds())
		r.mu.Unlock()
		writeSparkSummary(t)
	})
	return r
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func (r *scenarioRun) since() float64 { return round1(time.Since(r.clock).Seconds()) }

func (r *scenarioRun) phase(name string) {
	r.mu.Lock()
	r.sum.Phases = append(r.sum.Phases, Phase{r.since(), name})
	r.mu.Unlock()
	r.t.Logf("%s %.1fs %s", r.name, r.since(), name)
}

func (r *scenarioRun) mark(timing string) {
	r.mu.Lock()
	r.sum.Timings[timing] = r.since()
	r.mu.Unlock()
}

func (r *scenarioRun) note(format string, args ...any) {
	r.mu.Lock()
	r.sum.Notes = append(r.sum.Notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// WithT returns the stack for a subtest: its waits and failures belong to t, and processes it
// starts stop at t's end. The control plane stays the parent's.
func (s *Stack) WithT(t testing.TB) *Stack {
	c := *s
	c.t = t
	return &c
}

// applyExample applies a rendered example of manifests/ (kustomize), leaving out what this
// cluster cannot hold or does not run as objects: prometheus-operator kinds (no operator; the
// test runs Debian's Prometheus itself), the Deployments of namespace sparkdra (the exporter and
// scaler run as local processes with their ServiceAccounts' tokens) and ScaledObjects (a
// scenario applies its own, with the scalerAddress of its local scaler). It returns all the
// rendered objects.
func (s *Stack) applyExample(ctx context.Context, dir string) []*unstructured.Unstructured {
	s.t.Helper()
	return s.applyExampleExcept(ctx, dir, nil)
}

// applyExampleExcept is applyExample leaving out also the objects for which skip is true.
func (s *Stack) applyExampleExcept(ctx context.Context, dir string, skip func(*unstructured.Unstructured) bool) []*unstructured.Unstructured {
	s.t.Helper()
	objs, err := render(dir)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			s.CreateNamespace(ctx, o.GetName())
		}
	}
	for _, o := range objs {
		gv, _ := schema.ParseGroupVersion(o.GetAPIVersion())
		switch {
		case o.GetKind() == "Namespace", gv.Group == "monitoring.coreos.com", o.GetKind() == "ScaledObject",
			o.GetKind() == "Deployment" && o.GetNamespace() == "sparkdra",
			skip != nil && skip(o):
			continue
		}
		if _, err := s.applyOne(ctx, o.DeepCopy(), ""); err != nil {
			s.t.Fatalf("apply %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return objs
}

// containerArgs returns the args of the first container of Deployment ns/name among objs.
func containerArgs(objs []*unstructured.Unstructured, ns, name string) ([]string, error) {
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetNamespace() != ns || o.GetName() != name {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if len(cs) == 0 {
			return nil, fmt.Errorf("%s/%s has no container", ns, name)
		}
		raw, _ := cs[0].(map[string]any)["args"].([]any)
		var args []string
		for _, a := range raw {
			args = append(args, fmt.Sprint(a))
		}
		return args, nil
	}
	return nil, fmt.Errorf("no Deployment %s/%s", ns, name)
}

// startFromDeployment runs the sparkdra command of Deployment sparkdra/<name> (the exporter or
// the scaler) as a local process with the args the rendered example gives it, as the base
// deploys it, except the flags in replace (flag -> new value; "" drops it; a flag not in the
// args is added) and, with a ServiceAccount kubeconfig of sparkdra/<name> (TokenRequest, so
// the base's RBAC is exactly what it gets), --kubernetes.kubeconfig when the command talks to the
// API server. Addresses in replace are loopback ports the caller chose.
func (s *Stack) startFromDeployment(ctx context.Context, objs []*unstructured.Unstructured, name string, replace map[string]string, kube bool) {
	s.t.Helper()
	args, err := containerArgs(objs, "sparkdra", name)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	done := map[string]bool{}
	for _, a := range args {
		flag, _, _ := strings.Cut(a, "=")
		if v, ok := replace[flag]; ok {
			done[flag] = true
			if v != "" {
				out = append(out, flag+"="+v)
			}
			continue
		}
		out = append(out, a)
	}
	keys := make([]string, 0, len(replace))
	for k := range replace {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !done[k] && replace[k] != "" {
			out = append(out, k+"="+replace[k])
		}
	}
	if kube {
		out = append(out, "--kubernetes.kubeconfig="+s.ServiceAccountKubeconfig(ctx, "sparkdra", name))
	}
	s.t.Logf("%s %q", name, out)
	s.StartProcess(name, sparkdraBin(s.t, name), nil, out...)
}

// startExporter runs spark-dra-exporter from the example's Deployment (see startFromDeployment)
// on a free loopback port and returns its address.
func (s *Stack) startExporter(ctx context.Context, objs []*unstructured.Unstructured, replace map[string]string) string {
	s.t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		s.t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	r := map[string]string{"--web.listen-address": addr}
	for k, v := range replace {
		r[k] = v
	}
	args, _ := containerArgs(objs, "sparkdra", "spark-dra-exporter")
	s.startFromDeployment(ctx, objs, "spark-dra-exporter", r, slicesContains(args, "--kubernetes.enabled"))
	s.WaitUntil("exporter /metrics", 30*time.Second, func() error {
		_, err := scrape("http://" + addr + "/metrics")
		return err
	})
	return addr
}

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// prometheusRules returns a rule file holding the alert of dashboards/rules/sparkdra.rules.yaml
// named alert with its threshold and `for` changed (expression text otherwise unchanged): the
// shipped 900 s / 5 m cannot pass in a test.
func prometheusRules(alert, from, to, forDur string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "dashboards", "rules", "sparkdra.rules.yaml"))
	if err != nil {
		return "", err
	}
	var f struct {
		Groups []struct {
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return "", err
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r["alert"] != alert {
				continue
			}
			expr, _ := r["expr"].(string)
			if strings.Count(expr, from) != 1 {
				return "", fmt.Errorf("alert %s: expression %q has no single %q to lower", alert, expr, from)
			}
			r["expr"] = strings.Replace(expr, from, to, 1)
			r["for"] = forDur
			out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "sparkdra-e2e", "interval": "1s", "rules": []any{r}}}})
			return string(out), err
		}
	}
	return "", fmt.Errorf("no alert %s in dashboards/rules/sparkdra.rules.yaml", alert)
}

// startPrometheus runs Debian's prometheus scraping targets every second, with rules, and
// returns its URL.
func (s *Stack) startPrometheus(rules string, targets ...string) string {
	s.t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		s.t.Fatalf("prometheus not found (Debian's package; make e2e-prometheus installs it): %v", err)
	}
	dir := s.t.TempDir()
	ports, err := freePorts(1)
	if err != nil {
		s.t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cfg := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\nscrape_configs:\n"
	for i, tg := range targets {
		// honor_labels as the base's ServiceMonitor sets honorLabels: the driver's namespace and
		// pod labels stay as the exporter wrote them.
		cfg += fmt.Sprintf("  - job_name: t%d\n    honor_labels: true\n    static_configs:\n      - targets: [%q]\n", i, tg)
	}
	for name, body := range map[string]string{"prometheus.yml": cfg, "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(s.LogDir, "prometheus-rules.yaml"), []byte(rules), 0o644)
	s.StartProcess("prometheus", bin, nil, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr, "--log.level=warn")
	u := "http://" + addr
	s.WaitUntil("prometheus ready", 60*time.Second, func() error { return httpOK(plainClient, u+"/-/ready", "") })
	return u
}

// alertState returns the state of alert in Prometheus ("firing", "pending", or "" when
// inactive).
func alertState(promURL, alert string) (string, error) {
	resp, err := plainClient.Get(promURL + "/api/v1/alerts")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", err
	}
	state := ""
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == alert && (state == "" || a.State == "firing") {
			state = a.State
		}
	}
	return state, nil
}

// sparkEvent is one EVENT line a job printed.
type sparkEvent map[string]any

// jobEvents returns the EVENT lines in a pod's log (or any file), in order.
func jobEvents(path string) []sparkEvent {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []sparkEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, "EVENT {")
		if i < 0 {
			continue
		}
		var e sparkEvent
		if json.Unmarshal([]byte(line[i+6:]), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// findEvent returns the last event of kind in path.
func findEvent(path, kind string) sparkEvent {
	var last sparkEvent
	for _, e := range jobEvents(path) {
		if e["event"] == kind {
			last = e
		}
	}
	return last
}

// submitterRBAC is the test's stand-in for the user who runs spark-submit: a ServiceAccount
// with what submission does in namespace spark (Spark 4 creates the driver's Service and
// ConfigMap by server-side apply, hence patch). It is not part of the examples, which grant the
// driver only.
const submitterRBAC = `apiVersion: v1
kind: ServiceAccount
metadata: {name: spark-submitter, namespace: spark}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: spark-submitter, namespace: spark}
rules:
  - apiGroups: [""]
    resources: ["pods", "services", "configmaps", "persistentvolumeclaims", "secrets"]
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: spark-submitter, namespace: spark}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: spark-submitter}
subjects: [{kind: ServiceAccount, name: spark-submitter, namespace: spark}]
`

// sparkSubmit runs spark-submit from runtime rt, cluster mode against the stack's API server, as
// a watched process named name; conf are --conf settings; app and args the Python application.
// It authenticates with a token of ServiceAccount spark/spark-submitter (submitterRBAC; fabric8
// cannot read the stack's EC client keys). The image is apache/spark:<version>, which the
// process kubelet runs from rt.
func (s *Stack) sparkSubmit(ctx context.Context, name string, rt kubelet.Runtime, conf map[string]string, app string, args ...string) *proc {
	s.t.Helper()
	if _, err := s.Apply(ctx, []byte(submitterRBAC), sparkNS); err != nil {
		s.t.Fatal(err)
	}
	kc := s.ServiceAccountKubeconfig(ctx, sparkNS, "spark-submitter")
	base := map[string]string{
		"spark.kubernetes.namespace":                              sparkNS,
		"spark.kubernetes.container.image":                        "apache/spark:" + rt.Version,
		"spark.kubernetes.authenticate.driver.serviceAccountName": "spark-driver",
		"spark.kubernetes.driver.master":                          s.Server,
		"spark.kubernetes.submission.waitAppCompletion":           "true",
		"spark.kubernetes.report.interval":                        "5s",
		"spark.driver.memory":                                     "512m",
		"spark.executor.memory":                                   "512m",
		"spark.executor.cores":                                    "1",
		"spark.ui.showConsoleProgress":                            "false",
	}
	for k, v := range conf {
		base[k] = v
	}
	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	argv := []string{"--master", "k8s://" + s.Server, "--deploy-mode", "cluster", "--name", name}
	for _, k := range keys {
		argv = append(argv, "--conf", k+"="+base[k])
	}
	argv = append(argv, "local://"+app)
	argv = append(argv, args...)
	jh, err := javaHome()
	if err != nil {
		s.t.Fatal(err)
	}
	env := []string{"SPARK_HOME=" + rt.SparkHome, "KUBECONFIG=" + kc, "JAVA_HOME=" + jh,
		"PATH=" + strings.Join(rt.PathDirs, ":") + ":" + os.Getenv("PATH"), "SPARK_LOCAL_IP=127.0.0.1",
		"JAVA_TOOL_OPTIONS=-XX:+UseSerialGC -XX:TieredStopAtLevel=1"}
	return s.StartProcess("spark-submit-"+name, filepath.Join(rt.SparkHome, "bin", "spark-submit"), env, argv...)
}

// driverPodOf waits for the driver pod of application name and returns it once Running.
func (s *Stack) driverPodOf(ctx context.Context, name string, timeout time.Duration) *corev1.Pod {
	s.t.Helper()
	return s.runningPod(ctx, sparkNS, "spark-role=driver,spark-app-name="+name, timeout)
}

// podCounter records the number of live pods (Running with an IP, no deletion timestamp)
// matching a selector at each change, seconds since clock.
type podCounter struct {
	mu       sync.Mutex
	live     map[string]string // name -> IP
	timeline []ReplicaPoint
	clock    time.Time
}

func countPods(ctx context.Context, s *Stack, ns, selector string, clock time.Time) *podCounter {
	c := &podCounter{live: map[string]string{}, clock: clock}
	go watchLoop(ctx, func(ctx context.Context) (watch.Interface, error) {
		return s.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	}, func(ev watch.Event) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		before := len(c.live)
		if ev.Type != watch.Deleted && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			c.live[p.Name] = p.Status.PodIP
		} else {
			delete(c.live, p.Name)
		}
		if n := len(c.live); n != before || len(c.timeline) == 0 {
			c.timeline = append(c.timeline, ReplicaPoint{Seconds: round1(time.Since(c.clock).Seconds()), Replicas: int32(n)})
		}
	})
	return c
}

func (c *podCounter) Timeline() []ReplicaPoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ReplicaPoint(nil), c.timeline...)
}

// Live returns the live pods' IPs by name.
func (c *podCounter) Live() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]string, len(c.live))
	for k, v := range c.live {
		m[k] = v
	}
	return m
}

// Max returns the largest count seen.
func (c *podCounter) Max() int32 {
	var m int32
	for _, p := range c.Timeline() {
		m = max(m, p.Replicas)
	}
	return m
}

// getJSON GETs url and decodes its JSON body into v.
func getJSON(u string, v any) error {
	resp, err := plainClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// restExecutor is the part of /allexecutors the tests read.
type restExecutor struct {
	ID          string `json:"id"`
	HostPort    string `json:"hostPort"`
	IsActive    bool   `json:"isActive"`
	ActiveTasks int    `json:"activeTasks"`
	FailedTasks int    `json:"failedTasks"`
	// RemoveReason is why the driver removed the executor ("" while active).
	RemoveReason string `json:"removeReason"`
}

// driverExecutors reads /api/v1/applications/<app>/allexecutors of a driver UI.
func driverExecutors(ui, app string) ([]restExecutor, error) {
	var ex []restExecutor
	err := getJSON(ui+"/api/v1/applications/"+url.PathEscape(app)+"/allexecutors", &ex)
	return ex, err
}

// failedTasks sums failedTasks over every executor but the driver.
func failedTasks(ex []restExecutor) int {
	n := 0
	for _, e := range ex {
		if e.ID != "driver" {
			n += e.FailedTasks
		}
	}
	return n
}

// driverGauge reads one gauge of the driver's own /metrics/json whose name ends with suffix
// (e.g. ExecutorAllocationManager.executors.numberAllExecutors).
func driverGauge(ui, suffix string) (float64, error) {
	var m struct {
		Gauges map[string]struct {
			Value any `json:"value"`
		} `json:"gauges"`
	}
	if err := getJSON(ui+"/metrics/json/", &m); err != nil {
		return 0, err
	}
	for k, g := range m.Gauges {
		if strings.HasSuffix(k, suffix) {
			switch v := g.Value.(type) {
			case float64:
				return v, nil
			case string:
				return strconv.ParseFloat(v, 64)
			}
		}
	}
	return 0, fmt.Errorf("no gauge *%s in %s/metrics/json/", suffix, ui)
}

// sumGauge sums every sample of metric whose labels contain every matcher.
func sumGauge(text, metric string, matchers ...string) (float64, int) {
	var sum float64
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		ok := true
		for _, m := range matchers {
			if !strings.Contains(line, m) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
			n++
		}
	}
	return sum, n
}

// labelValues returns the values of label in the samples of metric matching every matcher.
func labelValues(text, metric, label string, matchers ...string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		ok := true
		for _, m := range matchers {
			if !strings.Contains(line, m) {
				ok = false
			}
		}
		i := strings.Index(line, label+`="`)
		if !ok || i < 0 {
			continue
		}
		rest := line[i+len(label)+2:]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			out = append(out, rest[:j])
		}
	}
	sort.Strings(out)
	return out
}

// exitCodes counts the exit codes of the processes of pods whose name has prefix, driver pods
// left out.
func exitCodes(k *kubelet.Kubelet, prefix string) map[string]int {
	m := map[string]int{}
	for _, e := range k.Exits() {
		if strings.HasPrefix(e.Pod, prefix) && !strings.HasSuffix(e.Pod, "-driver") {
			m[strconv.Itoa(e.ExitCode)]++
		}
	}
	return m
}

// signal creates the file name in dir (the job's --signal-dir).
func signal(t testing.TB, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitExit waits for a process to exit and returns its exit code (-1 if it did not in time).
func waitExit(p *proc, timeout time.Duration) int {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		if p.cmd.ProcessState != nil {
			return p.cmd.ProcessState.ExitCode()
		}
		return -1
	case <-t.C:
		return -1
	}
}
