package exporter

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Labels Spark puts on driver pods (docs/spark-rest.md §8.1).
const (
	podLabelAppID   = "spark-app-selector"
	podLabelAppName = "spark-app-name"
	// uiPortName is the name Spark gives the UI port of the driver (Service and container).
	uiPortName = "spark-ui"
	// defaultUIPort is spark.ui.port's default.
	defaultUIPort = 4040
)

// KubernetesDiscoverer finds Spark driver pods with a client-go shared informer per namespace.
// A pod is a target while it is Running with an IP; the UI port is the container port named
// spark-ui, else 4040.
type KubernetesDiscoverer struct {
	Client kubernetes.Interface
	// Namespaces to watch; empty means all.
	Namespaces []string
	// LabelSelector chooses driver pods (default spark-role=driver).
	LabelSelector string
	// Resync is the informers' resync period (0: none).
	Resync time.Duration
	Logger *slog.Logger
}

// Run starts the informers and sends the targets after the first sync and on every pod change.
func (k KubernetesDiscoverer) Run(ctx context.Context, updates chan<- TargetUpdate) {
	namespaces := k.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	var stores []cache.Store
	var synced []cache.InformerSynced
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(k.Client, k.Resync, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = k.LabelSelector }))
		inf := f.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(handler); err != nil {
			k.Logger.Error("kubernetes discovery", "err", err)
			return
		}
		stores = append(stores, inf.GetStore())
		synced = append(synced, inf.HasSynced)
		f.Start(ctx.Done())
		defer f.Shutdown()
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	sel, err := labels.Parse(k.LabelSelector)
	if err != nil {
		k.Logger.Error("kubernetes discovery: label selector", "err", err)
		return
	}
	for {
		select {
		case updates <- TargetUpdate{Source: SourceKubernetes, Targets: podTargets(stores, sel)}:
		case <-ctx.Done():
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func podTargets(stores []cache.Store, sel labels.Selector) []Target {
	var out []Target
	for _, st := range stores {
		for _, obj := range st.List() {
			pod, ok := obj.(*corev1.Pod)
			if !ok || !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			if t, ok := PodTarget(pod); ok {
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// PodTarget returns the target of a driver pod, or false while the pod is not Running with an
// IP or is being deleted.
func PodTarget(pod *corev1.Pod) (Target, bool) {
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return Target{}, false
	}
	port := defaultUIPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == uiPortName && p.ContainerPort > 0 {
				port = int(p.ContainerPort)
			}
		}
	}
	u := &url.URL{Scheme: "http", Host: net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port))}
	return Target{
		Key:       pod.Namespace + "/" + pod.Name,
		Source:    SourceKubernetes,
		BaseURL:   u,
		AppID:     pod.Labels[podLabelAppID],
		AppName:   pod.Labels[podLabelAppName],
		Namespace: pod.Namespace,
		Pod:       pod.Name,
	}, true
}
