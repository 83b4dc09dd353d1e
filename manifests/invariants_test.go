package manifests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sparkdra/sparkdra/dashboards"
	"github.com/sparkdra/sparkdra/externalscaler"
	"github.com/sparkdra/sparkdra/scaler"
)

// TestBaseContainersAreLockedDown: non-root, read-only root filesystem, no capabilities, no
// privilege escalation, CPU and memory requests, for every container sparkdra runs.
func TestBaseContainersAreLockedDown(t *testing.T) {
	r := mustRender(t, "base")
	deps := objectsOf[*appsv1.Deployment](r)
	if len(deps) != 2 {
		t.Fatalf("base has %d Deployments, want 2 (exporter, scaler)", len(deps))
	}
	for _, d := range deps {
		checkPodHardening(t, d, true)
	}
}

// TestExampleContainersAreNonRoot: Spark's own pods run as Spark's user without capabilities
// and with requests (Spark writes to its work and temp directories, so the root filesystem is
// left writable there).
func TestExampleContainersAreNonRoot(t *testing.T) {
	for _, dir := range kustomizations[1:] {
		for _, d := range objectsOf[*appsv1.Deployment](mustRender(t, dir)) {
			checkPodHardening(t, d, strings.HasPrefix(d.Name, "spark-dra-"))
		}
	}
}

func checkPodHardening(t *testing.T, d *appsv1.Deployment, readOnlyRoot bool) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod must set runAsNonRoot and a non-zero runAsUser", d.Name)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s/%s: no securityContext", d.Name, c.Name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: allowPrivilegeEscalation must be false", d.Name, c.Name)
		}
		if sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s/%s: capabilities must drop ALL and add none", d.Name, c.Name)
		}
		if readOnlyRoot && (sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem) {
			t.Errorf("%s/%s: readOnlyRootFilesystem must be true", d.Name, c.Name)
		}
		req := c.Resources.Requests
		if req.Cpu().IsZero() || req.Memory().IsZero() {
			t.Errorf("%s/%s: CPU and memory requests must be set", d.Name, c.Name)
		}
	}
}

// TestRBACIsLeastPrivilege pins the exact rules: what discovery and deletion-cost marking
// need, nothing more, granted per namespace.
func TestRBACIsLeastPrivilege(t *testing.T) {
	r := mustRender(t, "base")
	want := map[string][]rbacv1.PolicyRule{
		"sparkdra-exporter": {{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}}},
		"sparkdra-scaler": {
			{APIGroups: []string{"keda.sh"}, Resources: []string{"scaledobjects"}, Verbs: []string{"get"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale", "statefulsets/scale"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "patch"}},
		},
	}
	roles := objectsOf[*rbacv1.ClusterRole](r)
	if len(roles) != len(want) {
		t.Errorf("base has %d ClusterRoles, want %d", len(roles), len(want))
	}
	for _, cr := range roles {
		if !reflect.DeepEqual(cr.Rules, want[cr.Name]) {
			t.Errorf("ClusterRole %s rules = %+v, want %+v", cr.Name, cr.Rules, want[cr.Name])
		}
	}
	if crbs := objectsOf[*rbacv1.ClusterRoleBinding](r); len(crbs) > 0 {
		t.Errorf("base grants cluster-wide: %d ClusterRoleBindings", len(crbs))
	}
	sas := map[string]bool{}
	for _, sa := range objectsOf[*corev1.ServiceAccount](r) {
		sas[sa.Namespace+"/"+sa.Name] = true
	}
	for _, rb := range objectsOf[*rbacv1.RoleBinding](r) {
		for _, s := range rb.Subjects {
			if s.Kind != "ServiceAccount" || !sas[s.Namespace+"/"+s.Name] {
				t.Errorf("RoleBinding %s/%s binds %s %s/%s, not a ServiceAccount of the base", rb.Namespace, rb.Name, s.Kind, s.Namespace, s.Name)
			}
		}
	}
	for _, d := range objectsOf[*appsv1.Deployment](r) {
		if sa := d.Namespace + "/" + d.Spec.Template.Spec.ServiceAccountName; !sas[sa] {
			t.Errorf("Deployment %s runs as %s, which the base does not define", d.Name, sa)
		}
	}
}

// TestExporterWatchesWhereItMayList: every --kubernetes.namespace has the exporter's RoleBinding.
func TestExporterWatchesWhereItMayList(t *testing.T) {
	r := mustRender(t, "base")
	bound := map[string]bool{}
	for _, rb := range objectsOf[*rbacv1.RoleBinding](r) {
		if rb.RoleRef.Name == "sparkdra-exporter" {
			bound[rb.Namespace] = true
		}
	}
	var watched int
	for _, a := range containerArgs(t, r, "spark-dra-exporter") {
		if ns, ok := strings.CutPrefix(a, "--kubernetes.namespace="); ok {
			watched++
			if !bound[ns] {
				t.Errorf("exporter watches namespace %s but may not list pods there", ns)
			}
		}
	}
	if watched == 0 {
		t.Error("the base exporter watches no namespace: without --kubernetes.namespace it needs a ClusterRoleBinding")
	}
}

func containerArgs(t *testing.T, r rendered, deployment string) []string {
	t.Helper()
	for _, d := range objectsOf[*appsv1.Deployment](r) {
		if d.Name == deployment {
			return d.Spec.Template.Spec.Containers[0].Args
		}
	}
	t.Fatalf("no Deployment %s", deployment)
	return nil
}

// TestServicesAndMonitorsWire: each Service selects its Deployment's pods on a named port the
// container exposes, each ServiceMonitor selects a Service by a port it has, and the listen
// addresses in the args match the container ports.
func TestServicesAndMonitorsWire(t *testing.T) {
	r := mustRender(t, "base")
	deps := objectsOf[*appsv1.Deployment](r)
	svcs := objectsOf[*corev1.Service](r)
	for _, s := range svcs {
		var dep *appsv1.Deployment
		for _, d := range deps {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				dep = d
			}
		}
		if dep == nil {
			t.Errorf("Service %s selects no Deployment", s.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if !hasContainerPort(dep, p.TargetPort.String(), int32(p.Port)) {
				t.Errorf("Service %s port %s targets %s, which %s does not expose as port %d", s.Name, p.Name, p.TargetPort.String(), dep.Name, p.Port)
			}
		}
	}
	for _, sm := range objectsOf[*monitoringv1.ServiceMonitor](r) {
		sel := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
		var svc *corev1.Service
		for _, s := range svcs {
			if s.Namespace == sm.Namespace && sel.Matches(labels.Set(s.Labels)) {
				svc = s
			}
		}
		if svc == nil {
			t.Errorf("ServiceMonitor %s selects no Service", sm.Name)
			continue
		}
		for _, ep := range sm.Spec.Endpoints {
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
				t.Errorf("ServiceMonitor %s scrapes port %q, which Service %s lacks", sm.Name, ep.Port, svc.Name)
			}
			if sm.Name == "spark-dra-exporter" && !ep.HonorLabels {
				t.Errorf("ServiceMonitor %s must honour the exporter's namespace/pod labels", sm.Name)
			}
		}
	}
	for dep, flag := range map[string]string{
		"spark-dra-exporter": "--web.listen-address=",
		"spark-dra-scaler":   "--grpc.listen-address=",
	} {
		port := flagPort(t, containerArgs(t, r, dep), flag)
		var found bool
		for _, d := range deps {
			found = found || (d.Name == dep && hasContainerPort(d, "", port))
		}
		if !found {
			t.Errorf("%s listens on %d (%s) but exposes no such container port", dep, port, flag)
		}
	}
}

func hasContainerPort(d *appsv1.Deployment, name string, number int32) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if (name == "" || p.Name == name) && (number == 0 || name != "" || p.ContainerPort == number) {
				return true
			}
		}
	}
	return false
}

func flagPort(t *testing.T, args []string, flag string) int32 {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag); ok {
			_, p, _ := strings.Cut(v, ":")
			n, err := strconv.Atoi(p)
			if err != nil {
				t.Fatalf("%s%s: %v", flag, v, err)
			}
			return int32(n)
		}
	}
	t.Fatalf("no %s in %v", flag, args)
	return 0
}

// TestGeneratedMonitoringObjects: the dashboard ConfigMaps are labelled for Grafana's sidecar
// and hold the committed dashboards; the PrometheusRule holds dashboards.Rules.
func TestGeneratedMonitoringObjects(t *testing.T) {
	r := mustRender(t, "base")
	uids := map[string]string{}
	for _, cm := range objectsOf[*corev1.ConfigMap](r) {
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("ConfigMap %s lacks grafana_dashboard: \"1\"", cm.Name)
		}
		for key, body := range cm.Data {
			var d struct {
				UID string `json:"uid"`
			}
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Errorf("ConfigMap %s key %s: %v", cm.Name, key, err)
			}
			uids[d.UID] = key
			committed, err := os.ReadFile(filepath.Join("..", "dashboards", key))
			if err != nil || !bytes.Equal(committed, []byte(body)) {
				t.Errorf("ConfigMap %s key %s differs from dashboards/%s: run make dashboards", cm.Name, key, key)
			}
		}
	}
	for _, uid := range []string{dashboards.OverviewUID, dashboards.ScalerUID} {
		if _, ok := uids[uid]; !ok {
			t.Errorf("no ConfigMap holds dashboard %s", uid)
		}
	}
	rules := objectsOf[*monitoringv1.PrometheusRule](r)
	if len(rules) != 1 || !reflect.DeepEqual(rules[0].Spec, dashboards.Rules(dashboards.DefaultConfig())) {
		t.Errorf("the PrometheusRule does not hold dashboards.Rules(DefaultConfig()): run make dashboards")
	}
}

// triggerKeys are the trigger metadata keys spark-dra-scaler reads: KEDA's scalerAddress, the
// scaler's own (externalscaler.Key*) and Spark's (scaler.Key*). ParseTrigger ignores other keys,
// so a misspelt one would silently fall back to a default: the test rejects it.
var triggerKeys = map[string]bool{
	"scalerAddress":                       true,
	externalscaler.KeySelector:            true,
	externalscaler.KeyPrometheusAddress:   true,
	externalscaler.KeyExecutorsPerReplica: true,
	scaler.KeyPolicy:                      true,
	scaler.KeyEnabled:                     true,
	scaler.KeyMinExecutors:                true,
	scaler.KeyMaxExecutors:                true,
	scaler.KeyInitialExecutors:            true,
	scaler.KeyExecutorAllocationRatio:     true,
	scaler.KeySchedulerBacklogTimeout:     true,
	scaler.KeySustainedBacklogTimeout:     true,
	scaler.KeyExecutorIdleTimeout:         true,
	scaler.KeyCachedExecutorIdle:          true,
	scaler.KeyShuffleTrackingEnabled:      true,
	scaler.KeyShuffleTrackingTimeout:      true,
	scaler.KeyExecutorInstances:           true,
	scaler.KeyShuffleServiceEnabled:       true,
	scaler.KeyShuffleServiceFetchRDD:      true,
	scaler.KeyDecommissionEnabled:         true,
	scaler.KeyDecommissionShuffleBlock:    true,
	scaler.KeyExecutorCores:               true,
	scaler.KeyTaskCPUs:                    true,
	scaler.KeyShuffleManager:              true,
	scaler.KeyShuffleIOPlugin:             true,
}

// TestExampleScaledObjects: each example's ScaledObject reaches the scaler, passes the
// scaler's number through the HPA unchanged, holds its size when the scaler fails, and
// targets the workload the example describes.
func TestExampleScaledObjects(t *testing.T) {
	for dir, wantKind := range map[string]string{
		"examples/standalone":          "Deployment",
		"examples/spark-on-kubernetes": "StatefulSet",
	} {
		t.Run(dir, func(t *testing.T) {
			r := mustRender(t, dir)
			sos := objectsOf[*kedav1alpha1.ScaledObject](r)
			if len(sos) != 1 {
				t.Fatalf("%d ScaledObjects, want 1", len(sos))
			}
			so := sos[0]
			checkTrigger(t, r, so)
			checkBehavior(t, so)
			if f := so.Spec.Fallback; f == nil || f.Behavior != "currentReplicas" || f.FailureThreshold < 1 {
				t.Errorf("fallback = %+v, want behavior currentReplicas after >= 1 failure", f)
			}
			ref := so.Spec.ScaleTargetRef
			if ref.Kind != wantKind || ref.APIVersion != "apps/v1" {
				t.Errorf("scaleTargetRef = %s %s, want apps/v1 %s", ref.APIVersion, ref.Kind, wantKind)
			}
			checkTarget(t, r, so)
		})
	}
}

func checkTrigger(t *testing.T, r rendered, so *kedav1alpha1.ScaledObject) {
	t.Helper()
	if len(so.Spec.Triggers) != 1 {
		t.Fatalf("%d triggers, want 1", len(so.Spec.Triggers))
	}
	tr := so.Spec.Triggers[0]
	if tr.Type != "external-push" || tr.MetricType != autoscalingv2.AverageValueMetricType {
		t.Errorf("trigger type %s metricType %s, want external-push AverageValue", tr.Type, tr.MetricType)
	}
	for k := range tr.Metadata {
		if !triggerKeys[k] {
			t.Errorf("trigger metadata key %q is not one spark-dra-scaler reads", k)
		}
	}
	var scalerAddr string
	for _, s := range objectsOf[*corev1.Service](r) {
		for _, p := range s.Spec.Ports {
			if s.Name == "spark-dra-scaler" && p.Name == "grpc" {
				scalerAddr = s.Name + "." + s.Namespace + ".svc.cluster.local:" + strconv.Itoa(int(p.Port))
			}
		}
	}
	if tr.Metadata["scalerAddress"] != scalerAddr {
		t.Errorf("scalerAddress = %q, want the scaler Service %q", tr.Metadata["scalerAddress"], scalerAddr)
	}
	if _, err := parser.NewParser(parser.Options{}).ParseMetricSelector("{" + tr.Metadata["selector"] + "}"); err != nil {
		t.Errorf("selector %q: %v", tr.Metadata["selector"], err)
	}
	// The scaler's own parser, with Spark's validation of every spark.* value.
	if _, err := externalscaler.ParseTrigger(tr.Metadata); err != nil {
		t.Errorf("spark-dra-scaler rejects the trigger metadata: %v", err)
	}
	perReplica, err1 := strconv.Atoi(tr.Metadata["executorsPerReplica"])
	maxExec, err2 := strconv.Atoi(tr.Metadata["spark.dynamicAllocation.maxExecutors"])
	if err1 != nil || err2 != nil || perReplica < 1 {
		t.Fatalf("executorsPerReplica %q and maxExecutors %q must be integers >= 1", tr.Metadata["executorsPerReplica"], tr.Metadata["spark.dynamicAllocation.maxExecutors"])
	}
	if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount)*perReplica != maxExec {
		t.Errorf("maxReplicaCount × executorsPerReplica must equal spark.dynamicAllocation.maxExecutors (%d)", maxExec)
	}
}

// checkBehavior: tolerance 0 and no stabilization both ways; scale-up can reach
// maxReplicaCount and scale-down can remove everything in one period.
func checkBehavior(t *testing.T, so *kedav1alpha1.ScaledObject) {
	t.Helper()
	adv := so.Spec.Advanced
	if adv == nil || adv.HorizontalPodAutoscalerConfig == nil || adv.HorizontalPodAutoscalerConfig.Behavior == nil {
		t.Fatal("no advanced.horizontalPodAutoscalerConfig.behavior")
	}
	b := adv.HorizontalPodAutoscalerConfig.Behavior
	for name, rules := range map[string]*autoscalingv2.HPAScalingRules{"scaleUp": b.ScaleUp, "scaleDown": b.ScaleDown} {
		if rules == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if rules.Tolerance == nil || !rules.Tolerance.IsZero() {
			t.Errorf("%s.tolerance must be 0", name)
		}
		if rules.StabilizationWindowSeconds == nil || *rules.StabilizationWindowSeconds != 0 {
			t.Errorf("%s.stabilizationWindowSeconds must be 0", name)
		}
		if rules.SelectPolicy == nil || *rules.SelectPolicy != autoscalingv2.MaxChangePolicySelect {
			t.Errorf("%s.selectPolicy must be Max", name)
		}
	}
	if b.ScaleUp == nil || b.ScaleDown == nil {
		return
	}
	if !slices.ContainsFunc(b.ScaleUp.Policies, func(p autoscalingv2.HPAScalingPolicy) bool {
		return p.Type == autoscalingv2.PodsScalingPolicy && p.Value >= *so.Spec.MaxReplicaCount
	}) {
		t.Errorf("scaleUp policies cap the step below maxReplicaCount %d: %+v", *so.Spec.MaxReplicaCount, b.ScaleUp.Policies)
	}
	if !slices.ContainsFunc(b.ScaleDown.Policies, func(p autoscalingv2.HPAScalingPolicy) bool {
		return p.Type == autoscalingv2.PercentScalingPolicy && p.Value >= 100
	}) {
		t.Errorf("scaleDown policies cap the step: %+v", b.ScaleDown.Policies)
	}
}

var statefulSetName = regexp.MustCompile(`^spark-s-(spark-[0-9a-f]+)-0$`)

// checkTarget: the standalone example targets its own worker Deployment, which leaves the
// replica count to the HPA; the Spark-on-Kubernetes example targets the driver's executor
// StatefulSet of the application its selector chooses.
func checkTarget(t *testing.T, r rendered, so *kedav1alpha1.ScaledObject) {
	t.Helper()
	ref := so.Spec.ScaleTargetRef
	switch ref.Kind {
	case "Deployment":
		for _, d := range objectsOf[*appsv1.Deployment](r) {
			if d.Name == ref.Name && d.Namespace == so.Namespace {
				if d.Spec.Replicas != nil {
					t.Errorf("Deployment %s sets replicas: re-applying it would fight the HPA", d.Name)
				}
				return
			}
		}
		t.Errorf("scaleTargetRef %s is not in the example", ref.Name)
	case "StatefulSet":
		m := statefulSetName.FindStringSubmatch(ref.Name)
		if m == nil {
			t.Fatalf("scaleTargetRef %s is not spark-s-<appId>-0", ref.Name)
		}
		if sel := so.Spec.Triggers[0].Metadata["selector"]; !strings.Contains(sel, `app_id="`+m[1]+`"`) {
			t.Errorf("selector %s does not choose application %s, whose StatefulSet is the target", sel, m[1])
		}
	}
}

// TestArgsAreFlagsOfTheBinaries: every --flag in a Deployment's args is declared (as a quoted
// name) in the sources of the binary its command runs, so a renamed flag fails here rather than
// in a crash-looping pod. A binary whose cmd/ package does not exist yet is reported and skipped.
func TestArgsAreFlagsOfTheBinaries(t *testing.T) {
	for _, dir := range kustomizations {
		for _, d := range objectsOf[*appsv1.Deployment](mustRender(t, dir)) {
			c := d.Spec.Template.Spec.Containers[0]
			if len(c.Command) == 0 || !strings.HasPrefix(c.Command[0], "/usr/local/bin/spark-dra-") {
				continue // Spark's own images
			}
			bin := filepath.Base(c.Command[0])
			src := readSources(t, filepath.Join("..", "cmd", bin))
			if src == "" {
				t.Logf("%s: cmd/%s does not exist yet; its flags are not checked", dir, bin)
				continue
			}
			for _, a := range c.Args {
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				if !strings.Contains(src, strconv.Quote(name)) {
					t.Errorf("%s: %s has no flag --%s (args %v)", dir, bin, name, c.Args)
				}
			}
		}
	}
}

// readSources concatenates the non-test Go files of a directory; "" when it has none.
func readSources(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var b strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestStandaloneMasterProxiesApplications: the exporter reads standalone applications through
// the master's reverse proxy, which only exists with spark.ui.reverseProxy=true.
func TestStandaloneMasterProxiesApplications(t *testing.T) {
	r := mustRender(t, "examples/standalone")
	if !slices.ContainsFunc(containerArgs(t, r, "spark-dra-exporter"), func(a string) bool {
		return strings.HasPrefix(a, "--standalone.master-url=http://spark-master.spark.svc:8080")
	}) {
		t.Fatal("the exporter does not read the example's master")
	}
	for _, name := range []string{"spark-master", "spark-worker"} {
		var opts string
		for _, e := range objectsOf[*appsv1.Deployment](r) {
			if e.Name == name {
				for _, v := range e.Spec.Template.Spec.Containers[0].Env {
					if strings.HasSuffix(v.Name, "_OPTS") {
						opts += v.Value
					}
				}
			}
		}
		if !strings.Contains(opts, "-Dspark.ui.reverseProxy=true") {
			t.Errorf("%s runs without spark.ui.reverseProxy=true", name)
		}
	}
}
