//go:build e2e_k8s

package k8se2e

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// deletionCostAnnotation is the annotation a ReplicaSet ranks its pods by when it shrinks.
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// ReplicaPoint is one value of a Deployment's spec.replicas and when it was first seen.
type ReplicaPoint struct {
	// Seconds since the recorder started.
	Seconds  float64 `json:"t"`
	Replicas int32   `json:"replicas"`
}

// replicaRecorder records every change of a Deployment's spec.replicas through a watch.
type replicaRecorder struct {
	mu     sync.Mutex
	start  time.Time
	points []ReplicaPoint
}

func recordReplicas(ctx context.Context, c kubernetes.Interface, ns, name string, start time.Time) *replicaRecorder {
	r := &replicaRecorder{start: start}
	go watchLoop(ctx, func(ctx context.Context) (watch.Interface, error) {
		return c.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(ev watch.Event) {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok || d.Spec.Replicas == nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.points); n == 0 || r.points[n-1].Replicas != *d.Spec.Replicas {
			r.points = append(r.points, ReplicaPoint{Seconds: time.Since(r.start).Seconds(), Replicas: *d.Spec.Replicas})
		}
	})
	return r
}

// Timeline returns the changes recorded so far.
func (r *replicaRecorder) Timeline() []ReplicaPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReplicaPoint(nil), r.points...)
}

// Current returns the latest spec.replicas seen, or -1.
func (r *replicaRecorder) Current() int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.points) == 0 {
		return -1
	}
	return r.points[len(r.points)-1].Replicas
}

// MinSince returns the smallest spec.replicas in force at any moment from t (seconds) on.
func (r *replicaRecorder) MinSince(t float64) int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := int32(-1)
	for i, p := range r.points {
		inForce := p.Seconds >= t || i+1 == len(r.points) || r.points[i+1].Seconds > t
		if inForce && (m < 0 || p.Replicas < m) {
			m = p.Replicas
		}
	}
	return m
}

// podRecord is what the pod recorder knows about one pod.
type podRecord struct {
	Name    string
	IP      string
	Created time.Time
	Running bool
	// Cost is the latest pod-deletion-cost annotation (nil when absent).
	Cost *int64
	// Deleted is when the pod was first seen with a deletion timestamp (or gone); zero while live.
	Deleted time.Time
	// CostsAtDeletion are the costs of every live pod just before this one was deleted.
	CostsAtDeletion map[string]*int64
}

// podRecorder watches the pods matching a label selector.
type podRecorder struct {
	mu   sync.Mutex
	pods map[string]*podRecord
}

func recordPods(ctx context.Context, c kubernetes.Interface, ns, selector string) *podRecorder {
	r := &podRecorder{pods: map[string]*podRecord{}}
	go watchLoop(ctx, func(ctx context.Context) (watch.Interface, error) {
		return c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	}, func(ev watch.Event) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		rec := r.pods[p.Name]
		if rec == nil {
			rec = &podRecord{Name: p.Name, Created: p.CreationTimestamp.Time}
			r.pods[p.Name] = rec
		}
		if p.Status.PodIP != "" {
			rec.IP = p.Status.PodIP
		}
		rec.Running = p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
		if gone := ev.Type == watch.Deleted || p.DeletionTimestamp != nil; gone && rec.Deleted.IsZero() {
			rec.Deleted = time.Now()
			rec.CostsAtDeletion = map[string]*int64{}
			for name, o := range r.pods {
				if o.Deleted.IsZero() || o == rec {
					rec.CostsAtDeletion[name] = o.Cost
				}
			}
			return
		}
		if v, ok := p.Annotations[deletionCostAnnotation]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				rec.Cost = &n
			}
		} else {
			rec.Cost = nil
		}
	})
	return r
}

// Live returns the pods not deleted, Running with an IP, oldest first.
func (r *podRecorder) Live() []executorPod {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []executorPod
	for _, p := range r.pods {
		if p.Deleted.IsZero() && p.Running {
			out = append(out, executorPod{Name: p.Name, IP: p.IP, Created: p.Created})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// DeletedSince returns the records of the pods deleted after t.
func (r *podRecorder) DeletedSince(t time.Time) []podRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []podRecord
	for _, p := range r.pods {
		if !p.Deleted.IsZero() && p.Deleted.After(t) {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// watchLoop runs a watch and hands every event to fn, re-opening the watch when the server ends
// it, until ctx is done.
func watchLoop(ctx context.Context, open func(context.Context) (watch.Interface, error), fn func(watch.Event)) {
	retry := time.NewTicker(500 * time.Millisecond)
	defer retry.Stop()
	for ctx.Err() == nil {
		w, err := open(ctx)
		if err == nil {
			for ev := range w.ResultChan() {
				fn(ev)
			}
			w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-retry.C:
		}
	}
}
