package kedasim_test

import (
	"context"
	"sync"
	"testing"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"

	"github.com/sparkdra/sparkdra/externalscaler/internal/bufgrpc"
	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

// fixedScaler is a minimal external scaler answering a settable value; it
// records the calls it receives.
type fixedScaler struct {
	pb.UnimplementedExternalScalerServer
	mu       sync.Mutex
	intValue int64
	value    float64
	target   float64
	calls    []string
}

func (f *fixedScaler) note(c string) { f.mu.Lock(); f.calls = append(f.calls, c); f.mu.Unlock() }

func (f *fixedScaler) set(v float64) { f.mu.Lock(); f.value = v; f.mu.Unlock() }

func (f *fixedScaler) GetMetricSpec(context.Context, *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	f.note("GetMetricSpec")
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{MetricName: "m", TargetSize: 1, TargetSizeFloat: f.target}}}, nil
}

func (f *fixedScaler) GetMetrics(_ context.Context, r *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	f.note("GetMetrics:" + r.MetricName)
	f.mu.Lock()
	defer f.mu.Unlock()
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{MetricName: "other", MetricValue: f.intValue, MetricValueFloat: f.value}}}, nil
}

func (f *fixedScaler) IsActive(context.Context, *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	f.note("IsActive")
	f.mu.Lock()
	defer f.mu.Unlock()
	return &pb.IsActiveResponse{Result: f.value > 0 || f.intValue > 0}, nil
}

func fixed(t *testing.T, f *fixedScaler) grpc.ClientConnInterface {
	t.Helper()
	return bufgrpc.Serve(t, func(g *grpc.Server) { pb.RegisterExternalScalerServer(g, f) })
}

func TestKEDACallPattern(t *testing.T) {
	f := &fixedScaler{intValue: 7, target: 0} // float fields 0: KEDA falls back to the ints
	clock := &kedasim.FakeClock{T: t0}
	sim, err := kedasim.New(fixed(t, f), clock, kedasim.ScaledObject{Name: "so", InitialReplicas: 1, MaxReplicaCount: 50})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sim.Step(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GetMetricSpec", "GetMetrics:m", "IsActive", "GetMetricSpec", "GetMetrics:m", "IsActive"}
	if len(f.calls) != len(want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	for i := range want {
		if f.calls[i] != want[i] {
			t.Fatalf("calls %v, want %v", f.calls, want)
		}
	}
	r := st.Reads[1]
	if r.HPAMetricName != "s0-m" || r.Target != 1 || r.Value != 7 || !r.Active {
		t.Errorf("read %+v, want s0-m target 1 (int) value 7 (int) active", r)
	}
	// Default behavior: +4 pods or +100 % per 15 s from 1 → max(5, 2) = 5.
	if st.Replicas != 5 {
		t.Errorf("replicas %d, want 5 (default scale-up policy)", st.Replicas)
	}
}

func TestHPATolerance(t *testing.T) {
	f := &fixedScaler{value: 20, target: 1}
	clock := &kedasim.FakeClock{T: t0}
	sim, err := kedasim.New(fixed(t, f), clock, kedasim.ScaledObject{Name: "so", InitialReplicas: 20, MaxReplicaCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	step := func(v float64) int32 {
		t.Helper()
		f.set(v)
		clock.Advance(15 * time.Second)
		st, err := sim.Step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Replicas
	}
	if got := step(21); got != 20 { // ratio 1.05: inside the 10 % dead band
		t.Errorf("21 on 20 replicas: %d, want 20 (tolerance)", got)
	}
	if got := step(23); got != 23 { // ratio 1.15
		t.Errorf("23 on 20 replicas: %d, want 23", got)
	}
	// Scale-down: the 300 s window keeps the highest recent recommendation.
	if got := step(10); got != 23 {
		t.Errorf("10 right after 23: %d, want 23 (stabilization window)", got)
	}
	for range 19 {
		step(10)
	}
	if got := sim.Replicas(); got != 10 {
		t.Errorf("after the window: %d, want 10", got)
	}
}
