//go:build e2e_k8s

package charts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	k8se2e "github.com/sparkdra/sparkdra/e2e/k8s"
)

// prometheusOperatorCRDs stand in for prometheus-operator's ServiceMonitor and PrometheusRule
// CRDs, which no Go module here ships as YAML: the same group, versions and kinds, with an
// open schema. Helm needs the kinds to exist; the chart's tests decode these objects strictly
// into prometheus-operator's Go types (chart_test.go).
const prometheusOperatorCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// TestHelmInstallIntoRealControlPlane installs charts/sparkdra with Helm's Go SDK into the
// e2e-k8s control plane (kube-apiserver, controller-manager, scheduler, KWOK, KEDA), as `helm
// install --create-namespace --wait` does; checks every object of the release exists, both
// Deployments become available, and RBAC grants the service accounts what the binaries use in
// the Spark namespace and nothing elsewhere; upgrades it to a second Spark namespace; and
// uninstalls it, leaving nothing behind.
func TestHelmInstallIntoRealControlPlane(t *testing.T) {
	s := k8se2e.StartStack(t, k8se2e.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if _, err := s.Apply(ctx, []byte(prometheusOperatorCRDs), ""); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("prometheus-operator CRDs served", 30*time.Second, func() error {
		_, err := s.Dynamic.Resource(schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"}).
			Namespace("default").List(ctx, metav1.ListOptions{})
		return err
	})
	s.CreateNamespace(ctx, "spark")
	s.CreateNamespace(ctx, "etl")

	const ns = "sparkdra"
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &s.AdminKubeconfig, ptr(ns)
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	ch := loadChart(t)

	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = "sparkdra", ns, true
	install.Wait, install.Timeout = true, 3*time.Minute
	start := time.Now()
	rel, err := install.RunWithContext(ctx, ch, nil)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("helm install --wait: %s, %v", rel.Info.Status, time.Since(start).Round(time.Millisecond))
	if rel.Info.Status != release.StatusDeployed {
		t.Fatalf("release status %s", rel.Info.Status)
	}
	objs := mustExist(ctx, t, s, rel.Manifest)
	if objs < 15 {
		t.Errorf("the release has %d objects, want the exporter, the scaler, RBAC, monitors, rule, dashboards (>= 15)", objs)
	}
	for _, d := range []string{"spark-dra-exporter", "spark-dra-scaler"} {
		dep, err := s.Client.AppsV1().Deployments(ns).Get(ctx, d, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dep.Status.AvailableReplicas != 1 {
			t.Errorf("Deployment %s: %d available replicas, want 1", d, dep.Status.AvailableReplicas)
		}
	}

	// RBAC: what each binary uses, where the Spark applications run, and not elsewhere.
	for _, c := range []struct {
		sa, ns, verb, group, resource string
		want                          bool
	}{
		{"spark-dra-exporter", "spark", "watch", "", "pods", true},
		{"spark-dra-exporter", "spark", "list", "", "pods", true},
		{"spark-dra-exporter", "spark", "patch", "", "pods", false},
		{"spark-dra-exporter", "default", "list", "", "pods", false},
		{"spark-dra-scaler", "spark", "get", "keda.sh", "scaledobjects", true},
		{"spark-dra-scaler", "spark", "patch", "", "pods", true},
		{"spark-dra-scaler", "spark", "delete", "", "pods", false},
		{"spark-dra-scaler", "etl", "patch", "", "pods", false},
	} {
		if got := allowed(ctx, t, s, ns, c.sa, c.ns, c.verb, c.group, c.resource); got != c.want {
			t.Errorf("%s may %s %s in %s: %v, want %v", c.sa, c.verb, c.resource, c.ns, got, c.want)
		}
	}

	// helm upgrade to a second Spark namespace: the exporter watches it and both are bound there.
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Wait, up.Timeout = ns, true, 3*time.Minute
	vals, err := chartutil.ReadValues([]byte("sparkNamespaces: [spark, etl]"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err = up.RunWithContext(ctx, "sparkdra", ch, vals.AsMap())
	if err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	if rel.Version != 2 || rel.Info.Status != release.StatusDeployed {
		t.Errorf("after upgrade: revision %d, status %s", rel.Version, rel.Info.Status)
	}
	mustExist(ctx, t, s, rel.Manifest)
	if !allowed(ctx, t, s, ns, "spark-dra-scaler", "etl", "patch", "", "pods") {
		t.Error("after the upgrade the scaler may not patch pods in etl")
	}
	dep, err := s.Client.AppsV1().Deployments(ns).Get(ctx, "spark-dra-exporter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := fmt.Sprint(dep.Spec.Template.Spec.Containers[0].Args); !strings.Contains(args, "--kubernetes.namespace=etl") {
		t.Errorf("exporter args after upgrade: %s", args)
	}

	// helm uninstall removes everything the release made.
	manifest := rel.Manifest
	if _, err := action.NewUninstall(cfg).Run("sparkdra"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	s.WaitUntil("every object of the release deleted", time.Minute, func() error {
		for _, doc := range mustSplit(t, manifest) {
			gvr, namespace, name := locate(t, s, doc)
			_, err := s.Dynamic.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				return fmt.Errorf("%s %s/%s still exists", gvr.Resource, namespace, name)
			}
			if !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
}

func ptr[T any](v T) *T { return &v }

// mapper maps kinds to resources through the API server's discovery (fresh each call: the
// CRDs appear during the test).
func mapper(t *testing.T, s *k8se2e.Stack) meta.RESTMapper {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
}

func mustSplit(t *testing.T, manifest string) [][]byte {
	t.Helper()
	docs, err := splitYAML([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// locate maps one manifest document to its resource, namespace and name.
func locate(t *testing.T, s *k8se2e.Stack, doc []byte) (schema.GroupVersionResource, string, string) {
	t.Helper()
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name, Namespace string
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	gv, err := schema.ParseGroupVersion(m.APIVersion)
	if err != nil {
		t.Fatal(err)
	}
	gvk := gv.WithKind(m.Kind)
	mapping, err := mapper(t, s).RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: %v", m.Kind, m.Metadata.Name, err)
	}
	ns := m.Metadata.Namespace
	if mapping.Scope.Name() != "namespace" {
		ns = ""
	}
	return mapping.Resource, ns, m.Metadata.Name
}

// mustExist checks that every object of a release manifest exists in the cluster and returns
// how many there are.
func mustExist(ctx context.Context, t *testing.T, s *k8se2e.Stack, manifest string) int {
	t.Helper()
	docs := mustSplit(t, manifest)
	for _, doc := range docs {
		gvr, ns, name := locate(t, s, doc)
		if _, err := s.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s/%s: %v", gvr.Resource, ns, name, err)
		}
	}
	return len(docs)
}

// allowed asks the API server (SubjectAccessReview) whether ServiceAccount saNS/sa may verb
// resource in namespace ns.
func allowed(ctx context.Context, t *testing.T, s *k8se2e.Stack, saNS, sa, ns, verb, group, resource string) bool {
	t.Helper()
	r, err := s.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + saNS + ":" + sa,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + saNS},
		ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}
