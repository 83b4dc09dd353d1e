package externalscaler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sparkdra/sparkdra/externalscaler/internal/bufgrpc"
	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

// t0 is the fixed start of every test's fake time.
var t0 = time.Unix(1_500_000_000, 0)

// fakeApp is one Spark application as the exporter would publish it.
type fakeApp struct {
	id, name, namespace string
	up                  float64
	pending, running    int
	backlog             float64
	tpe, stages         int
	execs               []fakeExec
}

type fakeExec struct {
	id, host      string
	running       int
	idle          float64
	holds         string
	shuffleActive bool
}

// exposition renders apps in the exporter's text format (docs/contracts.md §1).
func exposition(apps ...fakeApp) string {
	var b strings.Builder
	for _, a := range apps {
		l := fmt.Sprintf(`app_id=%q,app_name=%q,namespace=%q`, a.id, a.name, a.namespace)
		fmt.Fprintf(&b, "spark_up{%s} %v\n", l, a.up)
		fmt.Fprintf(&b, "spark_dra_pending_tasks{%s} %d\n", l, a.pending)
		fmt.Fprintf(&b, "spark_dra_running_tasks{%s} %d\n", l, a.running)
		fmt.Fprintf(&b, "spark_dra_backlog_duration_seconds{%s} %v\n", l, a.backlog)
		fmt.Fprintf(&b, "spark_dra_tasks_per_executor{%s} %d\n", l, max(a.tpe, 1))
		fmt.Fprintf(&b, "spark_dra_stages_submitted{%s} %d\n", l, a.stages)
		fmt.Fprintf(&b, "spark_dra_executors{%s,state=\"busy\"} %d\n", l, len(a.execs))
		for _, x := range a.execs {
			el := fmt.Sprintf(`%s,executor_id=%q`, l, x.id)
			fmt.Fprintf(&b, "spark_executor_info{%s,host=%q,resource_profile_id=\"0\"} 1\n", el, x.host)
			fmt.Fprintf(&b, "spark_executor_running_tasks{%s} %d\n", el, x.running)
			if x.running == 0 {
				h := x.holds
				if h == "" {
					h = "none"
				}
				fmt.Fprintf(&b, "spark_executor_idle_duration_seconds{%s,holds=%q} %v\n", el, h, x.idle)
			}
			sa := 0
			if x.shuffleActive {
				sa = 1
			}
			fmt.Fprintf(&b, "spark_executor_shuffle_active{%s} %d\n", el, sa)
		}
	}
	return b.String()
}

// fakeSource stands in for Prometheus or the exporter: it parses the
// exposition text it is given with the real parser.
type fakeSource struct {
	mu      sync.Mutex
	text    string
	err     error
	age     time.Duration // snapshot sampled this long before now
	fetches int
}

func (f *fakeSource) set(apps ...fakeApp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.text, f.err = exposition(apps...), nil
}

func (f *fakeSource) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches
}

func (f *fakeSource) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSource) Fetch(_ context.Context, now time.Time) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches++
	if f.err != nil {
		return nil, f.err
	}
	return ParseExposition(strings.NewReader(f.text), now.Add(-f.age))
}

// serve starts s on a bufconn gRPC server and returns a KEDA client and a
// health client; everything stops at the end of the test.
func serve(t testing.TB, s *Server) (pb.ExternalScalerClient, healthpb.HealthClient, *grpc.ClientConn) {
	t.Helper()
	conn := bufgrpc.Serve(t, s.Register)
	return pb.NewExternalScalerClient(conn), healthpb.NewHealthClient(conn), conn
}

// newTestServer returns a Server on src with the fake clock c.
func newTestServer(t testing.TB, src Source, c *kedasim.FakeClock, opts Options) *Server {
	t.Helper()
	opts.DefaultSource = src
	opts.Now = c.Now
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ref(name string, meta map[string]string) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: name, Namespace: "spark", ScalerMetadata: meta}
}

func meta(kv ...string) map[string]string {
	m := map[string]string{"scalerAddress": "spark-dra-scaler:9090", "selector": `app_name="etl"`}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
