package charts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// ChartDir is the chart, relative to this module.
const ChartDir = "sparkdra"

// helmOnlyLabels are the labels the chart adds that the kustomize base does not have.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"}

// Render renders the chart with values (nil: the defaults) as `helm install --dry-run` does,
// client-side, into namespace ns, and returns each object's YAML. Values are validated against
// values.schema.json.
func Render(ch *chart.Chart, ns string, values map[string]any) ([][]byte, error) {
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = "sparkdra", ns
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.0", Major: "1", Minor: "36"}
	rel, err := inst.Run(ch, values)
	if err != nil {
		return nil, err
	}
	return splitYAML([]byte(rel.Manifest))
}

// splitYAML returns the non-empty documents of a multi-document YAML stream.
func splitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufioReader(data))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		if len(probe) > 0 {
			docs = append(docs, doc)
		}
	}
}

// newObject returns an empty Go value for apiVersion/kind, nil for a kind the chart must not ship.
func newObject(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	}
	return nil
}

// decodeStrict decodes one object into its Go type: unknown or duplicate fields and wrong types
// are errors.
func decodeStrict(doc []byte) (any, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return nil, err
	}
	obj := newObject(meta.APIVersion, meta.Kind)
	if obj == nil {
		return nil, fmt.Errorf("unexpected kind %s %s", meta.APIVersion, meta.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", meta.Kind, err)
	}
	return obj, nil
}

// objectKey names an object as kind/namespace/name.
func objectKey(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v", m["kind"], md["namespace"], md["name"])
}

// asMaps decodes documents into generic maps keyed by objectKey.
func asMaps(t *testing.T, docs [][]byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		k := objectKey(m)
		if _, dup := out[k]; dup {
			t.Errorf("%s rendered twice", k)
		}
		out[k] = m
	}
	return out
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(ChartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func ciValues(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(ChartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("ci values files %v (%v), want at least 3", files, err)
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = v.AsMap()
	}
	return out
}

// TestCIValuesRenderStrictly renders the chart with every ci/*-values.yaml and decodes each
// object strictly, and checks what each file switches on or off.
func TestCIValuesRenderStrictly(t *testing.T) {
	ch := loadChart(t)
	for name, values := range ciValues(t) {
		t.Run(name, func(t *testing.T) {
			docs, err := Render(ch, "sparkdra", values)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, d := range docs {
				obj, err := decodeStrict(d)
				if err != nil {
					t.Errorf("%v\n%s", err, d)
					continue
				}
				kinds[reflect.TypeOf(obj).Elem().Name()]++
			}
			want := map[string]map[string]int{
				"default-values.yaml": {"ServiceAccount": 2, "Deployment": 2, "Service": 2, "ServiceMonitor": 2,
					"ClusterRole": 2, "RoleBinding": 2, "PrometheusRule": 1, "ConfigMap": 2},
				// Two Spark namespaces, a custom image, extra flags, kube-prometheus-stack labels.
				"custom-values.yaml": {"ServiceAccount": 2, "Deployment": 2, "Service": 2, "ServiceMonitor": 2,
					"ClusterRole": 2, "RoleBinding": 4, "PrometheusRule": 1, "ConfigMap": 2},
				// Every namespace: ClusterRoleBindings; no prometheus-operator, no Grafana sidecar.
				"all-namespaces-values.yaml": {"ServiceAccount": 2, "Deployment": 2, "Service": 2,
					"ClusterRole": 2, "ClusterRoleBinding": 2},
				// The exporter alone (Spark's own DRA, observed only).
				"exporter-only-values.yaml": {"ServiceAccount": 1, "Deployment": 1, "Service": 1, "ServiceMonitor": 1,
					"ClusterRole": 1, "RoleBinding": 1, "PrometheusRule": 1, "ConfigMap": 2},
			}[name]
			if want == nil {
				t.Fatalf("no expectation for %s: add one", name)
			}
			if !reflect.DeepEqual(kinds, want) {
				t.Errorf("rendered %v, want %v", kinds, want)
			}
		})
	}
}

// TestCustomValuesReachTheObjects checks that ci/custom-values.yaml's settings show up where
// they should.
func TestCustomValuesReachTheObjects(t *testing.T) {
	ch := loadChart(t)
	docs, err := Render(ch, "monitoring", ciValues(t)["custom-values.yaml"])
	if err != nil {
		t.Fatal(err)
	}
	objs := asMaps(t, docs)
	var exporter appsv1.Deployment
	mustDecode(t, objs["Deployment/monitoring/spark-dra-exporter"], &exporter)
	c := exporter.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.com/sparkdra:v0.1.0" {
		t.Errorf("image %s", c.Image)
	}
	wantArgs := []string{"--web.listen-address=:9141", "--kubernetes.enabled", "--kubernetes.namespace=etl",
		"--kubernetes.namespace=adhoc", "--kubernetes.label-selector=spark-role=driver", "--spark.poll-interval=2s"}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("exporter args %q, want %q", c.Args, wantArgs)
	}
	var scaler appsv1.Deployment
	mustDecode(t, objs["Deployment/monitoring/spark-dra-scaler"], &scaler)
	wantArgs = []string{"--grpc.listen-address=:9090", "--web.listen-address=:8080",
		"--prometheus.url=http://kube-prometheus-stack-prometheus.monitoring.svc:9090"}
	if got := scaler.Spec.Template.Spec.Containers[0].Args; !reflect.DeepEqual(got, wantArgs) {
		t.Errorf("scaler args %q, want %q (markVictims off)", got, wantArgs)
	}
	for _, ns := range []string{"etl", "adhoc"} {
		for _, name := range []string{"sparkdra-exporter", "sparkdra-scaler"} {
			var rb rbacv1.RoleBinding
			mustDecode(t, objs["RoleBinding/"+ns+"/"+name], &rb)
			if len(rb.Subjects) != 1 || rb.Subjects[0].Namespace != "monitoring" || rb.RoleRef.Name != name {
				t.Errorf("RoleBinding %s/%s: %+v", ns, name, rb)
			}
		}
	}
	for _, k := range []string{"ServiceMonitor/monitoring/spark-dra-exporter", "ServiceMonitor/monitoring/spark-dra-scaler", "PrometheusRule/monitoring/sparkdra"} {
		md := objs[k]["metadata"].(map[string]any)
		if md["labels"].(map[string]any)["release"] != "kube-prometheus-stack" {
			t.Errorf("%s lacks the release label: %v", k, md["labels"])
		}
	}
}

func mustDecode(t *testing.T, m map[string]any, into any) {
	t.Helper()
	if m == nil {
		t.Fatalf("object missing")
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatal(err)
	}
}

// kustomizeBase renders manifests/base with kustomize's Go API.
func kustomizeBase(t *testing.T) [][]byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", "manifests", "base"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := splitYAML(out)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestDefaultsRenderTheKustomizeBase: with its default values, in namespace sparkdra, the chart
// renders the objects manifests/base renders, field for field, except the Namespaces (Helm
// installs into an existing or --create-namespace namespace) and Helm's own labels.
func TestDefaultsRenderTheKustomizeBase(t *testing.T) {
	docs, err := Render(loadChart(t), "sparkdra", nil)
	if err != nil {
		t.Fatal(err)
	}
	helm := asMaps(t, docs)
	for _, m := range helm {
		labels := m["metadata"].(map[string]any)["labels"].(map[string]any)
		for _, l := range helmOnlyLabels {
			if labels[l] == nil {
				t.Errorf("%s lacks Helm's label %s", objectKey(m), l)
			}
			delete(labels, l)
		}
	}
	base := asMaps(t, kustomizeBase(t))
	for k := range base {
		if strings.HasPrefix(k, "Namespace/") {
			delete(base, k)
		}
	}
	var keys []string
	for k := range base {
		keys = append(keys, k)
	}
	for k := range helm {
		if base[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) < 10 {
		t.Fatalf("only %d objects compared", len(keys))
	}
	for _, k := range keys {
		switch b, h := base[k], helm[k]; {
		case h == nil:
			t.Errorf("%s: in the kustomize base, not in the chart", k)
		case b == nil:
			t.Errorf("%s: in the chart, not in the kustomize base", k)
		case !reflect.DeepEqual(b, h):
			bb, _ := yaml.Marshal(b)
			hb, _ := yaml.Marshal(h)
			t.Errorf("%s differs:\n--- kustomize\n%s\n--- helm\n%s", k, bb, hb)
		}
	}
}

// TestSchemaRefusesBadValues: values.schema.json makes Helm refuse values a user gets wrong,
// naming the field.
func TestSchemaRefusesBadValues(t *testing.T) {
	ch := loadChart(t)
	for _, tc := range []struct {
		values string
		want   string
	}{
		{"image: {tag: 5}", "tag"},
		{"exporter: {enabeld: true}", "enabeld"},
		{"scaler: {prometheusURL: prometheus:9090}", "prometheusURL"},
		{"sparkNamespaces: [Spark_Apps]", "sparkNamespaces"},
		{"exporter: {extraArgs: [poll-interval=2s]}", "extraArgs"},
		{"scaler: {serviceMonitor: {interval: often}}", "interval"},
		{"unknown: 1", "unknown"},
	} {
		v, err := chartutil.ReadValues([]byte(tc.values))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Render(ch, "sparkdra", v.AsMap())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %q: err %v, want a schema error naming %s", tc.values, err, tc.want)
		}
	}
}

// TestChartFilesAreGenerated: the dashboards and rules the chart ships are the generated ones
// the kustomize base ships (make dashboards writes both).
func TestChartFilesAreGenerated(t *testing.T) {
	for chartFile, generated := range map[string]string{
		"files/spark-dra-overview.json": "../dashboards/spark-dra-overview.json",
		"files/spark-dra-scaler.json":   "../dashboards/spark-dra-scaler.json",
		"files/sparkdra.rules.yaml":     "../dashboards/rules/sparkdra.rules.yaml",
	} {
		a, err := os.ReadFile(filepath.Join(ChartDir, chartFile))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(generated)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run make dashboards", chartFile, generated)
		}
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
