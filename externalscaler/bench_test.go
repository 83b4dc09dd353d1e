package externalscaler

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// vectorAPI is a v1.API whose Query returns prebuilt vectors, as a
// Prometheus holding nApps applications would: it isolates the scaler's
// own cost (decoding, matching, stepping) from HTTP, and counts queries.
type vectorAPI struct {
	v1.API
	series, times model.Vector
	queries       atomic.Int64
}

func (a *vectorAPI) Query(_ context.Context, q string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	a.queries.Add(1)
	if q == SampleTimesQuery {
		for _, s := range a.times { // sampled at the evaluation time: always fresh
			s.Value = model.SampleValue(float64(ts.UnixMilli()) / 1000)
		}
		return a.times, nil, nil, nil
	}
	return a.series, nil, nil, nil
}

// newVectorAPI builds nApps applications named app-<i>, each with
// execsPerApp executors: half busy, half idle for 30 s.
func newVectorAPI(nApps, execsPerApp int, at time.Time) *vectorAPI {
	a := &vectorAPI{}
	add := func(name string, v float64, kv ...string) {
		m := model.Metric{model.MetricNameLabel: model.LabelValue(name)}
		for i := 0; i+1 < len(kv); i += 2 {
			m[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
		}
		a.series = append(a.series, &model.Sample{Metric: m, Value: model.SampleValue(v)})
	}
	for i := range nApps {
		app := []string{"app_id", fmt.Sprintf("app-%d", i), "app_name", fmt.Sprintf("job-%d", i), "namespace", "spark",
			"job", "spark-dra-exporter", "instance", "exporter:9141"}
		add(famUp, 1, app...)
		add(famPending, float64(i%7), app...)
		add(famRunning, float64(execsPerApp/2), app...)
		add(famBacklog, float64(i%3), app...)
		add(famTasksPerExecutor, 1, app...)
		add(famStagesSubmitted, 3, app...)
		add(famExecutors, float64(execsPerApp), append(slices.Clone(app), "state", "busy")...)
		t := model.Metric{}
		for k := 0; k+1 < len(app); k += 2 {
			t[model.LabelName(app[k])] = model.LabelValue(app[k+1])
		}
		a.times = append(a.times, &model.Sample{Metric: t, Value: model.SampleValue(float64(at.UnixMilli()) / 1000)})
		for e := range execsPerApp {
			ex := append(slices.Clone(app), "executor_id", fmt.Sprint(e+1))
			add(famExecInfo, 1, append(slices.Clone(ex), "host", fmt.Sprintf("10.%d.%d.%d", i/250, i%250, e), "resource_profile_id", "0")...)
			if e%2 == 0 {
				add(famExecRunning, 1, ex...)
			} else {
				add(famExecRunning, 0, ex...)
				add(famExecIdle, 30, append(slices.Clone(ex), "holds", "none")...)
			}
			add(famExecShuffle, 0, ex...)
		}
	}
	return a
}

// benchServer tracks nSO ScaledObjects, each selecting its own application
// by app_name, on one Prometheus.
func benchServer(b *testing.B, nSO int, api *vectorAPI, now *time.Time) *Server {
	b.Helper()
	s, err := NewServer(Options{DefaultSource: NewPrometheusSource(api, nil), Now: func() time.Time { return *now }})
	if err != nil {
		b.Fatal(err)
	}
	for i := range nSO {
		if _, err := s.lookup(soRef(i)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func soRef(i int) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: fmt.Sprintf("so-%d", i), Namespace: "spark", ScalerMetadata: map[string]string{
		"scalerAddress": "spark-dra-scaler:9090", "selector": fmt.Sprintf(`namespace="spark",app_name="job-%d"`, i),
		"spark.dynamicAllocation.maxExecutors": "50"}}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTick: one tick over N ScaledObjects (N applications with 10
// executors each in Prometheus): decode both query results, match every
// selector, step every engine, publish. Reports CPU per tick and
// Prometheus queries per tick.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("scaledobjects=%d", n), func(b *testing.B) {
			now := t0
			api := newVectorAPI(n, 10, now)
			s := benchServer(b, n, api, &now)
			s.Tick(b.Context(), now)
			api.queries.Store(0)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Millisecond) // stays within ForgetAfter whatever b.N
				s.Tick(b.Context(), now)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/tick")
			b.ReportMetric(float64(api.queries.Load())/float64(b.N), "queries/tick")
			if rec := s.Decision(ObjectKey{Namespace: "spark", Name: "so-0"}); rec == nil || rec.Error != "" {
				b.Fatalf("no usable decision: %+v", rec)
			}
		})
	}
}

// BenchmarkGetMetrics: GetMetrics over real gRPC (bufconn) with 1,000
// ScaledObjects tracked, calls spread over all of them, ticks running
// meanwhile; reports the p99 latency.
func BenchmarkGetMetrics(b *testing.B) {
	now := t0
	api := newVectorAPI(1000, 10, now)
	s := benchServer(b, 1000, api, &now)
	s.Tick(b.Context(), now)
	client, _, _ := serve(b, s)
	ctx := b.Context()
	reqs := make([]*pb.GetMetricsRequest, 1000)
	for i := range reqs {
		reqs[i] = &pb.GetMetricsRequest{ScaledObjectRef: soRef(i), MetricName: "s0-" + MetricName}
	}
	// The tick loop runs meanwhile, once a second as in production.
	tickCtx, stopTicks := context.WithCancel(ctx)
	ticksDone := make(chan struct{})
	go func() {
		defer close(ticksDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for k := 1; ; k++ {
			select {
			case <-tickCtx.Done():
				return
			case <-t.C:
				s.Tick(tickCtx, t0.Add(time.Duration(k)*time.Millisecond))
			}
		}
	}()
	defer func() { stopTicks(); <-ticksDone }()
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		start := time.Now()
		if _, err := client.GetMetrics(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

// BenchmarkGetMetricsHandler: the handler alone (no gRPC), 1,000
// ScaledObjects.
func BenchmarkGetMetricsHandler(b *testing.B) {
	now := t0
	s := benchServer(b, 1000, newVectorAPI(1000, 10, now), &now)
	s.Tick(b.Context(), now)
	reqs := make([]*pb.GetMetricsRequest, 1000)
	for i := range reqs {
		reqs[i] = &pb.GetMetricsRequest{ScaledObjectRef: soRef(i), MetricName: MetricName}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.GetMetrics(b.Context(), reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
