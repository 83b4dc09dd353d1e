package victims

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/sparkdra/sparkdra/externalscaler"
)

// fakeCluster is client-go's fake clientsets with a ScaledObject targeting
// Deployment spark/spark-worker, whose /scale answers selector app=worker
// (the fake dynamic client has no /scale of its own: a reactor serves it).
func fakeCluster(t *testing.T, pods ...*corev1.Pod) (*fake.Clientset, *dynfake.FakeDynamicClient) {
	t.Helper()
	objs := make([]runtime.Object, len(pods))
	for i, p := range pods {
		objs[i] = p
	}
	kube := fake.NewClientset(objs...)
	so := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": map[string]any{"name": "workers", "namespace": "spark"},
		"spec":     map[string]any{"scaleTargetRef": map[string]any{"name": "spark-worker"}},
	}}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{ScaledObjectResource: "ScaledObjectList"}, so)
	dyn.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" || a.(k8stesting.GetAction).GetName() != "spark-worker" {
			return false, nil, nil
		}
		return true, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "autoscaling/v1", "kind": "Scale",
			"metadata": map[string]any{"name": "spark-worker", "namespace": "spark"},
			"status":   map[string]any{"replicas": int64(4), "selector": "app=worker"},
		}}, nil
	})
	return kube, dyn
}

func pod(name, ip string, labels map[string]string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "spark", Labels: labels, Annotations: annotations},
		Status:     corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning},
	}
}

func costOf(t *testing.T, kube *fake.Clientset, name string) (string, bool) {
	t.Helper()
	p, err := kube.CoreV1().Pods("spark").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.Annotations[DeletionCostAnnotation]
	return v, ok
}

func patches(kube *fake.Clientset) int {
	n := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == "patch" {
			n++
		}
	}
	return n
}

func TestMarkVictims(t *testing.T) {
	worker := map[string]string{"app": "worker"}
	kube, dyn := fakeCluster(t,
		pod("w-remove-1", "10.0.0.1", worker, nil),
		pod("w-remove-2", "10.0.0.2", worker, nil),
		pod("w-busy", "10.0.0.3", worker, nil),
		pod("w-shuffle", "10.0.0.4", worker, nil),
		pod("w-idle", "10.0.0.5", worker, map[string]string{DeletionCostAnnotation: "1000"}),
		pod("w-empty", "10.0.0.6", worker, nil),
		pod("driver", "10.0.0.9", map[string]string{"app": "driver"}, nil),
	)
	m := NewMarker(kube, dyn)
	so := externalscaler.ObjectKey{Namespace: "spark", Name: "workers"}
	costs := map[string]int32{
		"10.0.0.1": externalscaler.CostRemove, "10.0.0.2": externalscaler.CostRemove + 1,
		"10.0.0.3": externalscaler.CostKeep, "10.0.0.4": externalscaler.CostKeep, "10.0.0.5": externalscaler.CostIdle,
	}
	pods, err := m.MarkVictims(t.Context(), so, costs)
	if err != nil {
		t.Fatal(err)
	}
	if pods["10.0.0.1"] != "w-remove-1" || pods["10.0.0.4"] != "w-shuffle" || len(pods) != 5 {
		t.Errorf("pods by host = %v", pods)
	}
	for name, want := range map[string]string{
		"w-remove-1": "-1000", "w-remove-2": "-999", "w-busy": "1000", "w-shuffle": "1000",
		"w-idle": "0", "w-empty": "-2000",
	} {
		if got, _ := costOf(t, kube, name); got != want {
			t.Errorf("%s: cost %q, want %q", name, got, want)
		}
	}
	if _, ok := costOf(t, kube, "driver"); ok {
		t.Error("a pod outside the /scale selector was marked")
	}
	first := patches(kube)
	if first != 6 {
		t.Errorf("%d patches, want 6 (every worker pod)", first)
	}

	// The same plan again: nothing changes, nothing is patched.
	if _, err := m.MarkVictims(t.Context(), so, costs); err != nil {
		t.Fatal(err)
	}
	if n := patches(kube) - first; n != 0 {
		t.Errorf("%d patches for an unchanged plan, want 0", n)
	}

	// The busy executor finished and was chosen: only its pod changes.
	costs["10.0.0.3"] = externalscaler.CostRemove + 2
	if _, err := m.MarkVictims(t.Context(), so, costs); err != nil {
		t.Fatal(err)
	}
	if n := patches(kube) - first; n != 1 {
		t.Errorf("%d patches after one change, want 1", n)
	}
	if got, _ := costOf(t, kube, "w-busy"); got != "-998" {
		t.Errorf("w-busy: cost %q, want -998", got)
	}
}

func TestMarkVictimsUnknownScaledObject(t *testing.T) {
	kube, dyn := fakeCluster(t)
	_, err := NewMarker(kube, dyn).MarkVictims(t.Context(), externalscaler.ObjectKey{Namespace: "spark", Name: "nope"}, nil)
	if err == nil {
		t.Fatal("want an error for a missing ScaledObject")
	}
}

func TestScaleTarget(t *testing.T) {
	so := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"scaleTargetRef": map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "spark-s-app-0"}}}}
	gvr, name, err := ScaleTarget(so)
	if err != nil || gvr != (schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}) || name != "spark-s-app-0" {
		t.Errorf("ScaleTarget = %v %q %v", gvr, name, err)
	}
	if _, _, err := ScaleTarget(&unstructured.Unstructured{Object: map[string]any{}}); err == nil {
		t.Error("want an error without scaleTargetRef")
	}
}
