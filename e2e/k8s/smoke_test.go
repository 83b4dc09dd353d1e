//go:build e2e_k8s

package k8se2e

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// constScaler is a KEDA external scaler that answers a value the test sets. It is a test double
// for spark-dra-scaler, used only by TestStackSmoke to show the stack itself (KEDA → adapter →
// aggregator → HPA → Deployment → KWOK) works before any sparkdra component is involved.
type constScaler struct {
	pb.UnimplementedExternalScalerServer
	value atomic.Int64
}

func (c *constScaler) IsActive(context.Context, *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	return &pb.IsActiveResponse{Result: c.value.Load() > 0}, nil
}

func (c *constScaler) GetMetricSpec(context.Context, *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{MetricName: "value", TargetSizeFloat: 1}}}, nil
}

func (c *constScaler) GetMetrics(context.Context, *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{MetricName: "value", MetricValueFloat: float64(c.value.Load())}}}, nil
}

func startConstScaler(t *testing.T) (*constScaler, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	cs := &constScaler{}
	pb.RegisterExternalScalerServer(srv, cs)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return cs, l.Addr().String()
}

// TestStackSmoke brings the stack up, runs a Deployment on the KWOK node and lets KEDA and the
// HPA scale it from 1 to 3 replicas on a constant external metric.
func TestStackSmoke(t *testing.T) {
	s := StartStack(t, Options{})
	ctx := t.Context()
	s.CreateNamespace(ctx, "smoke")
	cs, addr := startConstScaler(t)
	cs.value.Store(1)

	if _, err := s.Apply(ctx, []byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers: [{name: worker, image: registry.invalid/worker:never-pulled}]
`), "smoke"); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("1 worker pod Running", 60*time.Second, func() error { return s.podsRunning(ctx, "smoke", "app=worker", 1) })

	so := fmt.Sprintf(`
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: worker}
spec:
  scaleTargetRef: {name: worker}
  pollingInterval: 5
  minReplicaCount: 1
  maxReplicaCount: 5
  triggers:
  - type: external
    metadata: {scalerAddress: %q}
`, addr)
	if _, err := s.Apply(ctx, []byte(so), "smoke"); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("HPA keda-hpa-worker", 60*time.Second, func() error {
		_, err := s.Client.AutoscalingV2().HorizontalPodAutoscalers("smoke").Get(ctx, "keda-hpa-worker", metav1.GetOptions{})
		return err
	})
	cs.value.Store(3)
	start := time.Now()
	s.WaitUntil("3 worker pods Running", 90*time.Second, func() error { return s.podsRunning(ctx, "smoke", "app=worker", 3) })
	t.Logf("metric 3 → 3 Running pods in %s", time.Since(start).Round(time.Millisecond))
}

// podsRunning returns nil when exactly n pods match selector and all are Running with an IP.
func (s *Stack) podsRunning(ctx context.Context, ns, selector string, n int) error {
	pods, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	running := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			running++
		}
	}
	if running != n || len(pods.Items) != n {
		return fmt.Errorf("%d pods, %d Running, want %d", len(pods.Items), running, n)
	}
	return nil
}
