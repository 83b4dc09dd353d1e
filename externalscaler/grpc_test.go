package externalscaler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

func wantCode(t *testing.T, err error, code codes.Code, substrs ...string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
	for _, s := range substrs {
		if !strings.Contains(status.Convert(err).Message(), s) {
			t.Errorf("message %q does not mention %q", status.Convert(err).Message(), s)
		}
	}
}

func TestMetadataErrors(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	client, _, _ := serve(t, newTestServer(t, &fakeSource{}, clock, Options{}))
	cases := map[string]struct {
		meta map[string]string
		want []string
	}{
		"selector missing": {map[string]string{"scalerAddress": "x:1"}, []string{"selector is required"}},
		"selector syntax":  {meta("selector", `app_name~"x"`), []string{"selector", "expected =, !=, =~ or !~"}},
		"selector regexp":  {meta("selector", `app_name=~"("`), []string{"invalid regular expression"}},
		"selector matches everything": {meta("selector", `app_name=~".*"`),
			[]string{"at least one matcher must not match the empty string"}},
		"executorsPerReplica": {meta("executorsPerReplica", "0"), []string{"executorsPerReplica (0) must be >= 1"}},
		"prometheusAddress":   {meta("prometheusAddress", "prometheus:9090"), []string{"prometheusAddress", "http://"}},
		"spark min above max": {meta("spark.dynamicAllocation.minExecutors", "5", "spark.dynamicAllocation.maxExecutors", "2"),
			[]string{"spark.dynamicAllocation.minExecutors (5) must be less than or equal to spark.dynamicAllocation.maxExecutors (2)"}},
		"every problem named": {map[string]string{"executorsPerReplica": "x", "spark.dynamicAllocation.executorIdleTimeout": "soon",
			"spark.dynamicAllocation.executorAllocationRatio": "2"},
			[]string{"selector is required", `executorsPerReplica "x": not an integer`, "spark.dynamicAllocation.executorIdleTimeout",
				"spark.dynamicAllocation.executorAllocationRatio"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			_, err := client.GetMetricSpec(ctx, ref("so", c.meta))
			wantCode(t, err, codes.InvalidArgument, c.want...)
			_, err = client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref("so", c.meta), MetricName: MetricName})
			wantCode(t, err, codes.InvalidArgument, c.want...)
			_, err = client.IsActive(ctx, ref("so", c.meta))
			wantCode(t, err, codes.InvalidArgument, c.want...)
		})
	}
}

func TestMetricSpec(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	client, _, _ := serve(t, newTestServer(t, &fakeSource{}, clock, Options{}))
	for meta, want := range map[*map[string]string]float64{
		ptr(meta()): 1, ptr(meta("executorsPerReplica", "4")): 4,
	} {
		resp, err := client.GetMetricSpec(t.Context(), ref("so", *meta))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.MetricSpecs) != 1 {
			t.Fatalf("got %d specs, want 1", len(resp.MetricSpecs))
		}
		ms := resp.MetricSpecs[0]
		if ms.MetricName != "spark-dra-executors" || ms.TargetSizeFloat != want || ms.TargetSize != int64(want) {
			t.Errorf("spec = %v, want spark-dra-executors target %v", ms, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// backlogged: 10 pending tasks for 5 s, one busy executor, a stage submitted.
func backlogged() fakeApp {
	return fakeApp{id: "app-1", name: "etl", namespace: "spark", up: 1, pending: 10, running: 1, backlog: 5, stages: 1,
		execs: []fakeExec{{id: "1", host: "10.0.0.1", running: 1}}}
}

func TestValuesAndActivity(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	s := newTestServer(t, src, clock, Options{Staleness: 30 * time.Second})
	client, health, _ := serve(t, s)
	ctx := t.Context()
	so := ref("workers", meta())

	value := func() (float64, bool, error) {
		t.Helper()
		m, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: so, MetricName: MetricName})
		if err != nil {
			return 0, false, err
		}
		a, err2 := client.IsActive(ctx, so)
		if err2 != nil {
			t.Fatalf("GetMetrics answered but IsActive failed: %v", err2)
		}
		if len(m.MetricValues) != 1 || m.MetricValues[0].MetricName != MetricName {
			t.Fatalf("metric values %v", m.MetricValues)
		}
		return m.MetricValues[0].MetricValueFloat, a.Result, nil
	}
	serving := func() healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: HealthService})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}

	// Before any tick: known ScaledObject, no decision yet.
	_, _, err := value()
	wantCode(t, err, codes.Unavailable, "no decision yet")

	src.set(backlogged())
	s.Tick(ctx, clock.Now())
	v, active, err := value()
	if err != nil {
		t.Fatal(err)
	}
	// Backlog older than schedulerBacklogTimeout (1s): the first add raises
	// the target to the live count (1) plus 1, as Spark's addExecutors does.
	if v != 2 || !active {
		t.Errorf("backlogged: value %v active %v, want 2 true", v, active)
	}
	if got := serving(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health %v, want SERVING", got)
	}

	// One executor live, two asked for: one pending, protected, in /decisions.
	if d := s.Decision(ObjectKey{"spark", "workers"}); d.RequestedExecutors != 2 || len(d.PendingRequests) != 0 {
		t.Errorf("first decision: requested %d pending %v, want 2 and none yet (pending counts from the next tick)", d.RequestedExecutors, d.PendingRequests)
	}

	// The sustained timeout passes: the ramp adds 1 (the first add added
	// 2, not 1, so the step restarts at 1), then 2, 4…
	clock.Advance(time.Second)
	s.Tick(ctx, clock.Now())
	if v, _, _ := value(); v != 3 {
		t.Errorf("after the sustained timeout: value %v, want 3", v)
	}
	if d := s.Decision(ObjectKey{"spark", "workers"}); len(d.PendingRequests) != 1 || !d.PendingRequests[0].Protected ||
		d.PendingRequests[0].AgeSeconds != 1 || d.ProtectedRequests != 1 {
		t.Errorf("after the sustained timeout: pending %+v protected %d, want one request 1 s old, protected", d.PendingRequests, d.ProtectedRequests)
	}

	// The driver cannot be read: Unavailable, never a zero, and NOT_SERVING.
	down := backlogged()
	down.up = 0
	src.set(down)
	clock.Advance(time.Second)
	s.Tick(ctx, clock.Now())
	_, _, err = value()
	wantCode(t, err, codes.Unavailable, "spark_up is 0")
	if got := serving(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health %v, want NOT_SERVING", got)
	}

	// The source fails.
	src.fail(errors.New("connection refused"))
	clock.Advance(time.Second)
	s.Tick(ctx, clock.Now())
	_, _, err = value()
	wantCode(t, err, codes.Unavailable, "connection refused")

	// The observation is older than the staleness bound.
	src.set(backlogged())
	src.age = 31 * time.Second
	clock.Advance(time.Second)
	s.Tick(ctx, clock.Now())
	_, _, err = value()
	wantCode(t, err, codes.Unavailable, "old (bound 30s)")

	// Fresh again: the engine kept its ramp (target 3 → 5).
	src.age = 0
	s.Tick(ctx, clock.Now())
	if v, _, err := value(); err != nil || v != 5 {
		t.Errorf("fresh again: value %v (%v), want 5", v, err)
	}
	if got := serving(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health %v, want SERVING", got)
	}

	// The application ended and the source still has other applications:
	// no demand, desired 0, inactive.
	other := backlogged()
	other.id, other.name = "app-2", "other"
	src.set(other)
	clock.Advance(time.Second)
	s.Tick(ctx, clock.Now())
	if v, active, err := value(); err != nil || v != 0 || active {
		t.Errorf("no selected application: value %v active %v err %v, want 0 false nil", v, active, err)
	}

	// An empty source (the exporter lost every driver, or Prometheus its
	// targets) is not "no demand".
	src.set()
	clock.Advance(time.Second)
	s.Tick(ctx, clock.Now())
	_, _, err = value()
	wantCode(t, err, codes.Unavailable, "no spark_up series")
}

func TestGetMetricsName(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	src.set(backlogged())
	s := newTestServer(t, src, clock, Options{})
	client, _, _ := serve(t, s)
	so := ref("workers", meta())
	if _, err := client.GetMetricSpec(t.Context(), so); err != nil {
		t.Fatal(err)
	}
	s.Tick(t.Context(), clock.Now())
	for _, name := range []string{"spark-dra-executors", "s0-spark-dra-executors", "S12-Spark-DRA-Executors"} {
		if _, err := client.GetMetrics(t.Context(), &pb.GetMetricsRequest{ScaledObjectRef: so, MetricName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := client.GetMetrics(t.Context(), &pb.GetMetricsRequest{ScaledObjectRef: so, MetricName: "queue-length"})
	wantCode(t, err, codes.NotFound, "queue-length")
}

func TestStreamMetricSpecUnimplemented(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	client, _, _ := serve(t, newTestServer(t, &fakeSource{}, clock, Options{}))
	st, err := client.StreamMetricSpec(t.Context(), ref("so", meta()))
	if err == nil {
		_, err = st.Recv()
	}
	wantCode(t, err, codes.Unimplemented)
}

func TestStreamIsActive(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	idle := fakeApp{id: "app-1", name: "etl", namespace: "spark", up: 1, stages: 1}
	src.set(idle)
	s := newTestServer(t, src, clock, Options{})
	done := make(chan struct{})
	s.streamDone = func() { close(done) }
	client, _, _ := serve(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// KEDA asks for the metric spec first; that registers the ScaledObject.
	if _, err := client.GetMetricSpec(ctx, ref("workers", meta())); err != nil {
		t.Fatal(err)
	}
	stream, err := client.StreamIsActive(ctx, ref("workers", meta()))
	if err != nil {
		t.Fatal(err)
	}
	tick := func(apps ...fakeApp) {
		src.set(apps...)
		s.Tick(ctx, clock.Advance(time.Second))
	}
	recv := func(want bool) {
		t.Helper()
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.Result != want {
			t.Fatalf("streamed %v, want %v", m.Result, want)
		}
	}
	// The stream may open before or after the first tick; the first
	// decision is sent either way.
	tick(idle)
	recv(false)
	tick(backlogged()) // transition → true
	recv(true)
	tick(backlogged()) // no transition: nothing sent
	tick(backlogged())
	// The busy executor is gone and there is no demand, but the executors
	// asked for are younger than executorIdleTimeout (60 s): still active.
	tick(idle)
	clock.Advance(60 * time.Second)
	tick(idle) // the requests are past the timeout: cancelled → false
	recv(false)
	cancel()
	_, err = stream.Recv()
	wantCode(t, err, codes.Canceled)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("StreamIsActive did not return after the client cancelled")
	}
}

func TestCloseEndsStreams(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	src.set(backlogged())
	s := newTestServer(t, src, clock, Options{})
	client, _, _ := serve(t, s)
	if _, err := client.GetMetricSpec(t.Context(), ref("workers", meta())); err != nil {
		t.Fatal(err)
	}
	s.Tick(t.Context(), clock.Now())
	stream, err := client.StreamIsActive(t.Context(), ref("workers", meta()))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || !m.Result {
		t.Fatalf("first message %v %v, want true", m, err)
	}
	s.Close()
	_, err = stream.Recv()
	wantCode(t, err, codes.Unavailable, "shutting down")
}
