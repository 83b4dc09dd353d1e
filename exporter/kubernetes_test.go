package exporter

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func driverPod(ns, name, ip string, phase corev1.PodPhase, uiPort int32) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
			"spark-role": "driver", "spark-app-selector": "spark-" + name, "spark-app-name": name}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "spark-kubernetes-driver"}}},
		Status: corev1.PodStatus{Phase: phase, PodIP: ip},
	}
	if uiPort != 0 {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "driver-rpc-port", ContainerPort: 7078},
			{Name: "spark-ui", ContainerPort: uiPort}}
	}
	return p
}

// nextTargets waits (bounded) for the next update and returns "key=url app" strings.
func nextTargets(t *testing.T, ch <-chan TargetUpdate) []string {
	t.Helper()
	select {
	case u := <-ch:
		var out []string
		for _, tg := range u.Targets {
			out = append(out, tg.Key+"="+tg.BaseURL.String()+" "+tg.AppID+" "+tg.Namespace+"/"+tg.Pod)
		}
		return out
	case <-time.After(10 * time.Second):
		t.Fatal("no discovery update within 10s")
		return nil
	}
}

// waitTargets reads updates until one equals want (the informer may send intermediate ones).
func waitTargets(t *testing.T, ch <-chan TargetUpdate, want ...string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got := nextTargets(t, ch)
		if equalStrings(got, want) {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("targets %v, want %v", got, want)
		default:
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Driver pods appearing, becoming Running, changing IP and being deleted, through client-go's
// fake clientset and a real shared informer.
func TestKubernetesDiscovery(t *testing.T) {
	cs := fake.NewClientset(
		driverPod("spark", "etl", "10.1.0.5", corev1.PodRunning, 0),
		driverPod("spark", "pending", "", corev1.PodPending, 0),
		driverPod("other", "skipped", "10.2.0.1", corev1.PodRunning, 0),
	)
	exec := driverPod("spark", "etl-exec-1", "10.1.0.9", corev1.PodRunning, 0)
	exec.Labels["spark-role"] = "executor"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := cs.CoreV1().Pods("spark").Create(ctx, exec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ch := make(chan TargetUpdate)
	d := KubernetesDiscoverer{Client: cs, Namespaces: []string{"spark"}, LabelSelector: "spark-role=driver", Logger: discardLogger()}
	go d.Run(ctx, ch)

	waitTargets(t, ch, "spark/etl=http://10.1.0.5:4040 spark-etl spark/etl")

	pods := cs.CoreV1().Pods("spark")
	if _, err := pods.Create(ctx, driverPod("spark", "ml", "10.1.0.7", corev1.PodRunning, 4041), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, ch, "spark/etl=http://10.1.0.5:4040 spark-etl spark/etl", "spark/ml=http://10.1.0.7:4041 spark-ml spark/ml")

	p := driverPod("spark", "pending", "10.1.0.8", corev1.PodRunning, 0)
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, ch, "spark/etl=http://10.1.0.5:4040 spark-etl spark/etl", "spark/ml=http://10.1.0.7:4041 spark-ml spark/ml",
		"spark/pending=http://10.1.0.8:4040 spark-pending spark/pending")

	moved := driverPod("spark", "etl", "10.1.3.3", corev1.PodRunning, 0)
	if _, err := pods.UpdateStatus(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, ch, "spark/etl=http://10.1.3.3:4040 spark-etl spark/etl", "spark/ml=http://10.1.0.7:4041 spark-ml spark/ml",
		"spark/pending=http://10.1.0.8:4040 spark-pending spark/pending")

	for _, name := range []string{"etl", "pending"} {
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitTargets(t, ch, "spark/ml=http://10.1.0.7:4041 spark-ml spark/ml")
}

func TestPodTargetSkipsTerminating(t *testing.T) {
	p := driverPod("ns", "d", "10.0.0.1", corev1.PodRunning, 0)
	now := metav1.Now()
	p.DeletionTimestamp = &now
	if _, ok := PodTarget(p); ok {
		t.Error("terminating pod is a target")
	}
}
