package exporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// Sizes of the load the issue sets: 500 drivers with 100 executors and 20 active stages each.
const (
	benchDrivers   = 500
	benchExecutors = 100
	benchStages    = 20
)

// benchFleet serves the drivers from recorded payloads on one loopback listener and returns one
// driver state per target.
func benchFleet(b *testing.B) (*Poller, *Store, []*driver) {
	b.Helper()
	fleet := &sparkfake.Fleet{}
	for i := range benchDrivers {
		fleet.Drivers = append(fleet.Drivers, sparkfake.Generate(i, benchExecutors, benchStages))
	}
	srv := httptest.NewServer(fleet)
	b.Cleanup(srv.Close)
	client := &sparkapi.Client{HTTP: &http.Client{Transport: NewTransport(64)}, MaxBodyBytes: 32 << 20}
	store := NewStore()
	p := NewPoller(PollerOptions{Client: client, Interval: time.Second, RequestTimeout: 5 * time.Second,
		MaxConcurrent: 64, Logger: discardLogger()}, store)
	drivers := make([]*driver, benchDrivers)
	for i := range drivers {
		t, err := ParseDriverURL(fmt.Sprintf("%s/d/%d", srv.URL, i))
		if err != nil {
			b.Fatal(err)
		}
		drivers[i] = newDriver(t)
	}
	return p, store, drivers
}

// BenchmarkPollCycle measures one full poll cycle of 500 drivers (each: /stages, /executors,
// /jobs over loopback HTTP, decode, observe). The first cycle, which also reads /applications
// and /environment, runs before the timer.
func BenchmarkPollCycle(b *testing.B) {
	p, store, drivers := benchFleet(b)
	p.pollAll(context.Background(), drivers)
	if n := upCount(store); n != benchDrivers {
		b.Fatalf("%d of %d drivers up", n, benchDrivers)
	}
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		p.pollAll(context.Background(), drivers)
	}
	// Fake drivers run in this process too: the figure is an upper bound of the exporter's own.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N*benchDrivers), "cpu-ms/driver-poll")
}

// processCPU is the CPU time (user + system) this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRenderMetrics measures one /metrics response for 500 drivers (about 250,000 series
// with per-executor metrics on), as text and gzip-compressed (what Prometheus asks for).
func BenchmarkRenderMetrics(b *testing.B) {
	for _, perExecutor := range []bool{true, false} {
		for _, gz := range []bool{false, true} {
			b.Run(fmt.Sprintf("per_executor=%v/gzip=%v", perExecutor, gz), func(b *testing.B) {
				p, store, drivers := benchFleet(b)
				p.pollAll(context.Background(), drivers)
				c, err := NewCollector(prometheus.NewRegistry(), store, CollectorOptions{PerExecutor: perExecutor})
				if err != nil {
					b.Fatal(err)
				}
				h := NewRouter(MetricsHandler(c, prometheus.NewRegistry(), discardLogger()), "/metrics",
					func() bool { return true })
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				var size int
				b.ResetTimer()
				for b.Loop() {
					w := &countingWriter{header: http.Header{}}
					h.ServeHTTP(w, req)
					size = w.n
				}
				b.ReportMetric(float64(size), "bytes/response")
			})
		}
	}
}

type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

func upCount(st *Store) int {
	n := 0
	for _, s := range st.Snapshots() {
		if s.Up {
			n++
		}
	}
	return n
}
