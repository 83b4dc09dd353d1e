package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// handlerTransport serves requests with in-process handlers chosen by host. It stands in for
// the network inside a synctest bubble, where idle keep-alive connections would keep fake time
// from advancing; the real HTTP path is covered by the golden and bad-driver tests.
type handlerTransport map[string]http.Handler

func (h handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	h[r.URL.Host].ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// countingHandler counts the polls of a driver (its /executors requests).
type countingHandler struct {
	h  http.Handler
	mu sync.Mutex
	n  int
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/executors") {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

func (c *countingHandler) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// The poll loops run on their interval in fake time: each driver is polled once per second, a
// driver that hangs only times out its own polls, the backlog duration follows the clock, and a
// removed target's series go.
func TestPollerLoops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		good := &countingHandler{h: sparkfake.Generate(1, 4, 1)}
		hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		client := &sparkapi.Client{HTTP: &http.Client{Transport: handlerTransport{"good": good, "hang": hang}},
			MaxBodyBytes: 1 << 20}
		store := NewStore()
		p := NewPoller(PollerOptions{Client: client, Interval: time.Second, RequestTimeout: 300 * time.Millisecond,
			MaxConcurrent: 4, Logger: discardLogger()}, store)
		ctx, cancel := context.WithCancel(t.Context())
		updates := make(chan TargetUpdate)
		done := make(chan struct{})
		go func() { p.Run(ctx, 1, updates); close(done) }()
		goodT := Target{Key: "good", Source: SourceStatic, BaseURL: mustURL(t, "http://good")}
		hangT := Target{Key: "hang", Source: SourceStatic, BaseURL: mustURL(t, "http://hang")}
		updates <- TargetUpdate{Source: SourceStatic, Targets: []Target{goodT, hangT}}
		synctest.Wait()
		if !p.Synced() || good.count() != 1 || store.Len() != 1 {
			t.Fatalf("after start: synced %v, good polled %d, stored %d", p.Synced(), good.count(), store.Len())
		}
		time.Sleep(300 * time.Millisecond) // fake time: the hanging driver's request deadline
		synctest.Wait()
		if s := snapshotOf(store, "hang"); s == nil || s.Up || s.Errors[sparkapi.ReasonTimeout] != 1 {
			t.Fatalf("hanging driver: %+v", s)
		}
		time.Sleep(10*time.Second - 300*time.Millisecond)
		synctest.Wait()
		if good.count() != 11 {
			t.Errorf("good driver polled %d times in 10 s, want 11", good.count())
		}
		if s := snapshotOf(store, "good"); !s.Up || s.App.BacklogFor != 10*time.Second {
			t.Errorf("good driver: up %v backlog %v, want 10s", s.Up, s.App.BacklogFor)
		}
		updates <- TargetUpdate{Source: SourceStatic, Targets: []Target{goodT}}
		synctest.Wait()
		if snapshotOf(store, "hang") != nil {
			t.Error("removed target still in the store")
		}
		cancel()
		<-done
		if store.Len() != 0 {
			t.Errorf("%d targets left after shutdown", store.Len())
		}
	})
}

func snapshotOf(st *Store, key string) *TargetSnapshot {
	for _, s := range st.Snapshots() {
		if s.Target.Key == key {
			return s
		}
	}
	return nil
}

// A response that does not decode is logged at warn with the request that failed and what came
// back; a driver that is not listening yet only at debug (it fails every poll while it starts).
func TestPollFailureLog(t *testing.T) {
	drv := sparkfake.Generate(1, 2, 1)
	html := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/executors") {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>Spark is starting</body></html>"))
			return
		}
		drv.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(html)
	defer srv.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connection refused

	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := NewPoller(PollerOptions{Client: testClient(), Interval: time.Second, RequestTimeout: 5 * time.Second,
		MaxConcurrent: 2, Logger: logger}, NewStore())
	p.pollOnce(context.Background(), newDriver(staticTarget(t, srv, "")))
	p.pollOnce(context.Background(), newDriver(staticTarget(t, gone, "")))

	out := logs.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Fatalf("want one warn line (the decode failure), got %d:\n%s", n, out)
	}
	for _, want := range []string{"level=WARN", "reason=decode", "/api/v1/applications/app-20261121120000-0001/executors",
		"text/html", "<html><body>Spark is starting"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %q:\n%s", want, out)
		}
	}
}

// Drivers that arrive together are polled together once, then in groups spread over the
// interval: with g groups, the k-th driver (by key) (k mod g)/g of an interval later, every
// interval from then on.
func TestPollerSpreadsPolls(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		group int
		want  map[string][]time.Duration
	}{
		{1, map[string][]time.Duration{
			"a": {0, 1000 * ms, 2000 * ms, 3000 * ms},
			"b": {0, 1250 * ms, 2250 * ms, 3250 * ms},
			"c": {0, 1500 * ms, 2500 * ms, 3500 * ms},
			"d": {0, 1750 * ms, 2750 * ms, 3750 * ms},
		}},
		{2, map[string][]time.Duration{
			"a": {0, 1000 * ms, 2000 * ms, 3000 * ms},
			"b": {0, 1500 * ms, 2500 * ms, 3500 * ms},
			"c": {0, 1000 * ms, 2000 * ms, 3000 * ms},
			"d": {0, 1500 * ms, 2500 * ms, 3500 * ms},
		}},
		{pollGroup, map[string][]time.Duration{
			"a": {0, 1000 * ms, 2000 * ms, 3000 * ms},
			"b": {0, 1000 * ms, 2000 * ms, 3000 * ms},
			"c": {0, 1000 * ms, 2000 * ms, 3000 * ms},
			"d": {0, 1000 * ms, 2000 * ms, 3000 * ms},
		}},
	} {
		t.Run(fmt.Sprintf("group=%d", tc.group), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var mu sync.Mutex
				polls := map[string][]time.Duration{}
				hosts := handlerTransport{}
				var targets []Target
				for _, h := range []string{"d", "a", "c", "b"} {
					drv := sparkfake.Generate(1, 2, 1)
					hosts[h] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasSuffix(r.URL.Path, "/executors") {
							mu.Lock()
							polls[h] = append(polls[h], time.Since(start))
							mu.Unlock()
						}
						drv.ServeHTTP(w, r)
					})
					targets = append(targets, Target{Key: h, Source: SourceStatic, BaseURL: mustURL(t, "http://"+h)})
				}
				client := &sparkapi.Client{HTTP: &http.Client{Transport: hosts}, MaxBodyBytes: 1 << 20}
				p := NewPoller(PollerOptions{Client: client, Interval: time.Second, RequestTimeout: time.Second,
					MaxConcurrent: 4, Logger: discardLogger()}, NewStore())
				p.spreadGroup = tc.group
				ctx, cancel := context.WithCancel(t.Context())
				updates := make(chan TargetUpdate)
				done := make(chan struct{})
				go func() { p.Run(ctx, 1, updates); close(done) }()
				updates <- TargetUpdate{Source: SourceStatic, Targets: targets}
				time.Sleep(3900 * time.Millisecond)
				synctest.Wait()
				cancel()
				<-done
				for h, want := range tc.want {
					if got := polls[h]; !slices.Equal(got, want) {
						t.Errorf("driver %s polled at %v, want %v", h, got, want)
					}
				}
			})
		})
	}
}
