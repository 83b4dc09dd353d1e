// Package victims marks scale-down victims on Kubernetes: it sets
// controller.kubernetes.io/pod-deletion-cost on the pods of a ScaledObject's
// scale target so the ReplicaSet removes the executors DRA chose (lowest
// cost) and keeps the busy ones and those holding shuffle or cache data
// (high cost). The cost values are externalscaler.Cost*.
//
// How it finds the pods: the ScaledObject (keda.sh/v1alpha1, dynamic
// client) names its scaleTargetRef; the target's /scale subresource gives
// the pod label selector (status.selector); pods are listed with it and
// matched to executors by pod IP (the executor host the exporter
// publishes). A StatefulSet ignores deletion costs and always removes its
// highest ordinals.
//
// RBAC the scaler's ServiceAccount needs, in the namespaces of its
// ScaledObjects:
//
//	keda.sh         scaledobjects                         get
//	apps            deployments/scale, statefulsets/scale get  (and any other target kind's /scale)
//	""              pods                                  list, patch
package victims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/sparkdra/sparkdra/externalscaler"
)

// DeletionCostAnnotation is the annotation the ReplicaSet controller reads.
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// ScaledObjectResource is KEDA's ScaledObject resource.
var ScaledObjectResource = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}

// Marker implements externalscaler.VictimMarker with client-go.
type Marker struct {
	kube    kubernetes.Interface
	dynamic dynamic.Interface
}

var _ externalscaler.VictimMarker = (*Marker)(nil)

// NewMarker marks pods through kube (pods) and dyn (ScaledObjects and
// /scale subresources).
func NewMarker(kube kubernetes.Interface, dyn dynamic.Interface) *Marker {
	return &Marker{kube: kube, dynamic: dyn}
}

// MarkVictims implements externalscaler.VictimMarker: each pod whose IP is
// in costs gets that cost, pods hosting no executor get
// externalscaler.CostNoExecutor; a pod is patched only when its annotation
// differs. Errors of single pods are joined; the others are still patched.
func (m *Marker) MarkVictims(ctx context.Context, so externalscaler.ObjectKey, costs map[string]int32) (map[string]string, error) {
	selector, err := m.podSelector(ctx, so)
	if err != nil {
		return nil, err
	}
	pods, err := m.kube.CoreV1().Pods(so.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing pods of %s (selector %q): %w", so, selector, err)
	}
	names := map[string]string{}
	var errs []error
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		cost, ok := costs[p.Status.PodIP]
		if ok {
			names[p.Status.PodIP] = p.Name
		} else {
			cost = externalscaler.CostNoExecutor
		}
		if err := m.setCost(ctx, p, cost); err != nil {
			errs = append(errs, err)
		}
	}
	return names, errors.Join(errs...)
}

// setCost patches the pod's deletion cost when it differs; cost 0 on a
// pod without the annotation is left unset (0 is the default).
func (m *Marker) setCost(ctx context.Context, p *corev1.Pod, cost int32) error {
	cur, has := p.Annotations[DeletionCostAnnotation]
	want := strconv.Itoa(int(cost))
	if has && cur == want || !has && cost == 0 {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{DeletionCostAnnotation: want}}})
	if _, err := m.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// podSelector reads the ScaledObject's scaleTargetRef and its /scale
// status.selector.
func (m *Marker) podSelector(ctx context.Context, so externalscaler.ObjectKey) (string, error) {
	obj, err := m.dynamic.Resource(ScaledObjectResource).Namespace(so.Namespace).Get(ctx, so.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading ScaledObject %s: %w", so, err)
	}
	gvr, name, err := ScaleTarget(obj)
	if err != nil {
		return "", fmt.Errorf("ScaledObject %s: %w", so, err)
	}
	scale, err := m.dynamic.Resource(gvr).Namespace(so.Namespace).Get(ctx, name, metav1.GetOptions{}, "scale")
	if err != nil {
		return "", fmt.Errorf("reading %s %s/%s/scale: %w", gvr.Resource, so.Namespace, name, err)
	}
	sel, _, _ := unstructured.NestedString(scale.Object, "status", "selector")
	if sel == "" {
		return "", fmt.Errorf("%s %s/%s/scale has no status.selector", gvr.Resource, so.Namespace, name)
	}
	return sel, nil
}

// ScaleTarget returns the resource and name of a ScaledObject's
// spec.scaleTargetRef (apiVersion defaults to apps/v1, kind to Deployment,
// as in KEDA).
func ScaleTarget(so *unstructured.Unstructured) (schema.GroupVersionResource, string, error) {
	ref, ok, _ := unstructured.NestedStringMap(so.Object, "spec", "scaleTargetRef")
	if !ok || ref["name"] == "" {
		return schema.GroupVersionResource{}, "", errors.New("spec.scaleTargetRef.name is missing")
	}
	apiVersion, kind := ref["apiVersion"], ref["kind"]
	if apiVersion == "" {
		apiVersion = "apps/v1"
	}
	if kind == "" {
		kind = "Deployment"
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionResource{}, "", fmt.Errorf("scaleTargetRef.apiVersion %q: %w", apiVersion, err)
	}
	return gv.WithResource(strings.ToLower(kind) + "s"), ref["name"], nil
}
