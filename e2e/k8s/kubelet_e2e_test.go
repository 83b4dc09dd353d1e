//go:build e2e_k8s

package k8se2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startSparkStack starts the stack with the process kubelet (DefaultKubeletOptions).
func startSparkStack(t *testing.T) *Stack {
	t.Helper()
	ko, err := DefaultKubeletOptions()
	if err != nil {
		t.Fatal(err)
	}
	// SPARKDRA_K8S_WITHOUT_KEDA=1 leaves KEDA out, for runs of the KEDA-free scenarios only.
	return StartStack(t, Options{Kubelet: ko, WithoutKEDA: os.Getenv("SPARKDRA_K8S_WITHOUT_KEDA") == "1"})
}

// masterStatus is the part of a standalone master's /json/ the tests read.
type masterStatus struct {
	Status       string `json:"status"`
	AliveWorkers int    `json:"aliveworkers"`
	Workers      []struct {
		ID    string `json:"id"`
		Host  string `json:"host"`
		State string `json:"state"`
	} `json:"workers"`
	ActiveApps []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"activeapps"`
}

func getMasterStatus(url string) (*masterStatus, error) {
	resp, err := plainClient.Get(url + "/json/")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var st masterStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("master /json/: %w: %.200s", err, b)
	}
	return &st, nil
}

// runningPod waits for one pod matching selector in namespace to run with an IP.
func (s *Stack) runningPod(ctx context.Context, ns, selector string, timeout time.Duration) *corev1.Pod {
	s.t.Helper()
	var pod *corev1.Pod
	s.WaitUntil("a Running pod "+selector, timeout, func() error {
		l, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		for i := range l.Items {
			p := &l.Items[i]
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("%d pods, none running", len(l.Items))
	})
	return pod
}

// TestProcessKubeletStandalone checks the process kubelet on the real stack with the standalone
// example's master and worker Deployments: both run as real Spark daemons bound to their pod
// IPs; the worker reaches the master through the Service name (the pod's hosts file); scaled to
// zero, the ReplicaSet deletes the worker pod and the kubelet stops its process group and
// removes the pod.
func TestProcessKubeletStandalone(t *testing.T) {
	s := startSparkStack(t)
	ctx := t.Context()
	objs, err := render("manifests/examples/standalone")
	if err != nil {
		t.Fatal(err)
	}
	s.CreateNamespace(ctx, sparkNS)
	for _, o := range objs {
		if o.GetNamespace() == sparkNS && (o.GetKind() == "Deployment" || o.GetKind() == "Service") {
			if _, err := s.applyOne(ctx, o, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	master := s.runningPod(ctx, sparkNS, "app.kubernetes.io/name=spark-master", 60*time.Second)
	if !strings.HasPrefix(master.Status.PodIP, strings.TrimSuffix(s.PodCIDR, "0.0/16")) {
		t.Fatalf("master pod IP %s is outside %s", master.Status.PodIP, s.PodCIDR)
	}
	masterURL := "http://" + master.Status.PodIP + ":8080"
	var st *masterStatus
	s.WaitUntil("the worker registered with the master", 180*time.Second, func() error {
		var err error
		if st, err = getMasterStatus(masterURL); err != nil {
			return err
		}
		if st.Status != "ALIVE" || st.AliveWorkers != 1 {
			return fmt.Errorf("master %s with %d alive workers", st.Status, st.AliveWorkers)
		}
		return nil
	})
	worker := s.runningPod(ctx, sparkNS, workerLabel, 10*time.Second)
	if st.Workers[0].Host != worker.Status.PodIP {
		t.Errorf("the worker registered as %s, its pod IP is %s", st.Workers[0].Host, worker.Status.PodIP)
	}
	if got := s.Kubelet.Running(); len(got) != 2 {
		t.Errorf("running: %v, want the master and the worker", got)
	}

	if _, err := s.Client.AppsV1().Deployments(sparkNS).UpdateScale(ctx, workerName, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: workerName, Namespace: sparkNS}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("the worker pod removed", 90*time.Second, func() error {
		_, err := s.Client.CoreV1().Pods(sparkNS).Get(ctx, worker.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	var found bool
	for _, e := range s.Kubelet.Exits() {
		if e.Pod == worker.Name {
			found = true
			if !e.Deleted {
				t.Errorf("the worker exited by itself: %+v", e)
			}
			t.Logf("worker process: exit code %d after deletion, %s after its start", e.ExitCode, e.Finished.Sub(e.Started).Round(time.Millisecond))
		}
	}
	if !found {
		t.Errorf("no exit recorded for %s: %+v", worker.Name, s.Kubelet.Exits())
	}
}
