package manifests

import (
	"fmt"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizations are every kustomization users apply.
var kustomizations = []string{"base", "examples/standalone", "examples/spark-on-kubernetes", "examples/spark-operator"}

// newObject returns an empty Go value for apiVersion/kind, or nil for a kind sparkdra does not ship.
func newObject(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
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
	case "rbac.authorization.k8s.io/v1/Role":
		return &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	case "keda.sh/v1alpha1/ScaledObject":
		return &kedav1alpha1.ScaledObject{}
	case "sparkoperator.k8s.io/v1beta2/SparkApplication":
		// The operator's Go types pin older Kubernetes libraries than this module's; the nested
		// module e2e/operator decodes these strictly into them and checks the operator's CRD
		// schema (make operator-examples).
		return &map[string]any{}
	}
	return nil
}

// rendered is one kustomization's output, decoded.
type rendered struct {
	objects []any
}

// render runs kustomize on dir and strictly decodes every object: unknown or duplicate fields,
// wrong types and unknown kinds are errors. ScaledObjects also pass KEDA's own checks.
func render(dir string) (rendered, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return rendered{}, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out rendered
	var errs []string
	for _, res := range rm.Resources() {
		id := res.CurId().String()
		obj := newObject(res.GetApiVersion(), res.GetKind())
		if obj == nil {
			errs = append(errs, fmt.Sprintf("%s: kind not expected in sparkdra's manifests", id))
			continue
		}
		data, err := res.AsYAML()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		if so, ok := obj.(*kedav1alpha1.ScaledObject); ok {
			if err := validateScaledObject(so); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", id, err))
				continue
			}
		}
		out.objects = append(out.objects, obj)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s:\n%s", dir, strings.Join(errs, "\n"))
	}
	return out, nil
}

// validateScaledObject runs the checks KEDA's admission webhook makes without a cluster.
func validateScaledObject(so *kedav1alpha1.ScaledObject) error {
	if err := kedav1alpha1.CheckReplicaCountBoundsAreValid(so); err != nil {
		return err
	}
	if err := kedav1alpha1.CheckFallbackValid(so); err != nil {
		return err
	}
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		return err
	}
	// Enums and bounds of the CRD schema: TestScaledObjectsMatchKEDACRDSchema.
	return nil
}

// objectsOf returns the rendered objects of type T.
func objectsOf[T any](r rendered) []T {
	var out []T
	for _, o := range r.objects {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func mustRender(t *testing.T, dir string) rendered {
	t.Helper()
	r, err := render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEveryKustomizationRendersAndDecodesStrictly(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			r := mustRender(t, dir)
			if len(r.objects) < 15 {
				t.Errorf("%s rendered %d objects, want the whole base (>= 15)", dir, len(r.objects))
			}
		})
	}
}

func TestRenderRejectsBadManifests(t *testing.T) {
	for dir, want := range map[string]string{
		"testdata/unknown-field":        `unknown field "replica"`,
		"testdata/invalid-scaledobject": "MinReplicaCount=5 must be less than MaxReplicaCount=2",
	} {
		t.Run(dir, func(t *testing.T) {
			_, err := render(dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("render(%s): err = %v, want it to contain %q", dir, err, want)
			}
		})
	}
}
