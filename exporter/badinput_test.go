package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// misbehaving serves a healthy fake driver until bad is set, then answers /executors with bad.
type misbehaving struct {
	mu   sync.Mutex
	good http.Handler
	bad  http.HandlerFunc
}

func (m *misbehaving) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	bad := m.bad
	m.mu.Unlock()
	if bad != nil && strings.HasSuffix(r.URL.Path, "/executors") {
		bad(w, r)
		return
	}
	m.good.ServeHTTP(w, r)
}

const testMaxBody = 64 << 10

// A driver that answered once and then misbehaves: spark_up 0 with its application's labels, the
// error counter says why, the other series go, nothing panics.
func TestBadDriver(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bad    http.HandlerFunc
		reason sparkapi.Reason
	}{
		{"slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, sparkapi.ReasonTimeout},
		{"not json", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>proxy error</html>")) }, sparkapi.ReasonDecode},
		{"wrong shape", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"id": 3}`)) }, sparkapi.ReasonDecode},
		{"finished (404)", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no such app: app-1", http.StatusNotFound)
		}, sparkapi.ReasonNotFound},
		{"UI ACLs (403)", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `user "bob" is not authorized`, http.StatusForbidden)
		}, sparkapi.ReasonForbidden},
		{"server error", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }, sparkapi.ReasonHTTPStatus},
		{"truncated JSON", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[ { "id" : "1", "hostPort`)) }, sparkapi.ReasonDecode},
		{"connection cut mid-body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte(`[ { "id" : "1"`))
		}, sparkapi.ReasonDecode},
		{"huge body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("[" + strings.Repeat(`{"id":"1"},`, testMaxBody/10) + `{"id":"2"}]`))
		}, sparkapi.ReasonTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &misbehaving{good: sparkfake.Generate(1, 4, 1)}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			d := newDriver(staticTarget(t, hs, ""))
			store := NewStore()
			reg := prometheus.NewPedanticRegistry()
			if _, err := NewCollector(reg, store, CollectorOptions{PerExecutor: true}); err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			deps := pollDeps{client: &sparkapi.Client{HTTP: hs.Client(), MaxBodyBytes: testMaxBody},
				timeout: time.Second, now: clock.Now}
			snap, err := d.poll(context.Background(), deps)
			if err != nil || !snap.Up {
				t.Fatalf("healthy poll: %v", err)
			}
			srv.mu.Lock()
			srv.bad = tc.bad
			srv.mu.Unlock()
			snap, err = d.poll(context.Background(), deps)
			if err == nil || snap.Up || snap.App != nil {
				t.Fatalf("bad poll: up %v err %v", snap.Up, err)
			}
			if got := sparkapi.ReasonOf(err); got != tc.reason || snap.Errors[tc.reason] != 1 {
				t.Fatalf("reason %s (errors %v), want %s: %v", got, snap.Errors, tc.reason, err)
			}
			store.Set(snap)
			want := `
# HELP spark_up ` + mUp.help + `
# TYPE spark_up gauge
spark_up{app_id="app-20261121120000-0001",app_name="etl-1"} 0
# HELP spark_dra_exporter_scrape_errors_total ` + mScrapeErrors.help + `
# TYPE spark_dra_exporter_scrape_errors_total counter
spark_dra_exporter_scrape_errors_total{driver="` + d.target.Key + `",reason="` + string(tc.reason) + `"} 1
`
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spark_up", "spark_dra_exporter_scrape_errors_total"); err != nil {
				t.Error(err)
			}
			if n, err := testutil.GatherAndCount(reg, "spark_dra_pending_tasks", "spark_executor_info"); err != nil || n != 0 {
				t.Errorf("stale series published: %d, %v", n, err)
			}
		})
	}
}

// A driver that vanishes: connection refused, spark_up 0.
func TestVanishedDriver(t *testing.T) {
	hs := httptest.NewServer(sparkfake.Generate(1, 2, 1))
	d := newDriver(staticTarget(t, hs, ""))
	deps := pollDeps{client: testClient(), timeout: time.Second, now: newFakeClock().Now}
	if snap, err := d.poll(context.Background(), deps); err != nil || !snap.Up {
		t.Fatalf("healthy poll: %v", err)
	}
	hs.Close()
	snap, err := d.poll(context.Background(), deps)
	if snap.Up || sparkapi.ReasonOf(err) != sparkapi.ReasonConnection || snap.AppID != "app-20261121120000-0001" {
		t.Fatalf("up %v app %q err %v", snap.Up, snap.AppID, err)
	}
}

// A driver that hangs delays no other: with both polled at once, the healthy one is stored
// while the slow one still waits for its deadline.
func TestSlowDriverDelaysNoOther(t *testing.T) {
	entered := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}))
	defer slow.Close()
	good := httptest.NewServer(sparkfake.Generate(2, 2, 1))
	defer good.Close()
	store := NewStore()
	var order []string
	var mu sync.Mutex
	store.onSet = func(s *TargetSnapshot) {
		mu.Lock()
		order = append(order, s.Target.Key+" up="+strconv.FormatBool(s.Up))
		mu.Unlock()
	}
	p := NewPoller(PollerOptions{Client: testClient(), Interval: time.Second, RequestTimeout: 2 * time.Second,
		MaxConcurrent: 2, Now: newFakeClock().Now}, store)
	slowD, goodD := newDriver(staticTarget(t, slow, "")), newDriver(staticTarget(t, good, ""))
	done := make(chan struct{})
	go func() { p.pollAll(context.Background(), []*driver{slowD, goodD}); close(done) }()
	<-entered
	<-done
	want := []string{goodD.target.Key + " up=true", slowD.target.Key + " up=false"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("store order %v, want %v", order, want)
	}
	if slowD.errors[sparkapi.ReasonTimeout] != 1 {
		t.Errorf("slow driver errors %v", slowD.errors)
	}
}

// Label values from a driver that are not valid UTF-8 do not break the scrape.
func TestInvalidUTF8Labels(t *testing.T) {
	store := NewStore()
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, store, CollectorOptions{PerExecutor: true}); err != nil {
		t.Fatal(err)
	}
	store.Set(&TargetSnapshot{Target: Target{Key: "k", Source: SourceStatic}, Up: true, AppID: "a\xff", AppName: "n\xfe",
		App: &AppSnapshot{Executors: []ExecutorSnapshot{{ID: "1\xff", Host: "h\xff", Holds: HoldsNone}}}})
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
