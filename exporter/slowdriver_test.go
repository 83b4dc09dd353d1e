package exporter

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// slowDriver answers like fake, each request after a delay chosen by its path (fake time inside
// a synctest bubble), and remembers when it first answered.
type slowDriver struct {
	fake  http.Handler
	delay func(r *http.Request) time.Duration

	mu          sync.Mutex
	firstAnswer time.Time
	requests    map[string]int // path?query → count
}

func (s *slowDriver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(s.delay(r)):
	case <-r.Context().Done():
		return
	}
	s.mu.Lock()
	if s.firstAnswer.IsZero() {
		s.firstAnswer = time.Now()
	}
	s.requests[r.URL.Path+"?"+r.URL.RawQuery]++
	s.mu.Unlock()
	s.fake.ServeHTTP(w, r)
}

// A driver answering every request in 2–4 s (a driver sharing two busy cores with starting
// executors) is published within 5 s of its REST API first answering: one poll's requests go
// out together once the application id is known, and the finished-stage history comes with a
// later poll, which says it is stale until then. Read one after the other, as before, the first
// poll took 3+4+2+4+3+3+2+4 = 25 s.
func TestSlowDriverPublishedWithin5s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := sparkfake.Generate(1, 6, 2)
		delays := map[string]time.Duration{
			"/applications": 3 * time.Second, "/environment": 4 * time.Second, "/stages?status=active": 2 * time.Second,
			"/executors": 4 * time.Second, "/jobs?status=running": 3 * time.Second, "/storage/rdd": 3 * time.Second,
			"/metrics/json/": 2 * time.Second, "/stages?status=complete&status=failed": 4 * time.Second,
		}
		slow := &slowDriver{fake: fake, requests: map[string]int{}, delay: func(r *http.Request) time.Duration {
			for suffix, d := range delays {
				path, query, _ := strings.Cut(suffix, "?")
				if strings.HasSuffix(r.URL.Path, path) && r.URL.RawQuery == query {
					return d
				}
			}
			t.Errorf("unexpected request %s", r.URL)
			return 0
		}}
		client := &sparkapi.Client{HTTP: &http.Client{Transport: handlerTransport{"slow": slow}}, MaxBodyBytes: 1 << 20}
		store := NewStore()
		var (
			mu        sync.Mutex
			firstUp   time.Time
			freshFrom time.Time // first snapshot with nothing stale
		)
		store.onSet = func(s *TargetSnapshot) {
			mu.Lock()
			defer mu.Unlock()
			if s.Up && firstUp.IsZero() {
				firstUp = time.Now()
				if s.App.Driver == nil || s.App.Driver.Gauges[sparkapi.EAMTargetExecutors] != 8 {
					t.Errorf("first published poll lacks the driver's target: %+v", s.App.Driver)
				}
				if !s.App.Stale[PartStageHistory] || s.App.StagesSubmitted != 2 {
					t.Errorf("first poll: stage history stale %v, stages submitted %d; want stale, 2 (active only)",
						s.App.Stale[PartStageHistory], s.App.StagesSubmitted)
				}
			}
			if s.Up && freshFrom.IsZero() && !s.App.Stale[PartStageHistory] && !s.App.Stale[PartDriverMetrics] {
				freshFrom = time.Now()
				if s.App.StagesSubmitted != 9 {
					t.Errorf("with the history: %d stages submitted, want 9 (7 finished + 2 active)", s.App.StagesSubmitted)
				}
			}
		}
		p := NewPoller(PollerOptions{Client: client, Interval: time.Second, RequestTimeout: 5 * time.Second,
			MaxConcurrent: 4, Logger: discardLogger()}, store)
		ctx, cancel := context.WithCancel(t.Context())
		updates := make(chan TargetUpdate)
		done := make(chan struct{})
		start := time.Now()
		go func() { p.Run(ctx, 1, updates); close(done) }()
		updates <- TargetUpdate{Source: SourceStatic, Targets: []Target{{Key: "slow", Source: SourceStatic,
			BaseURL: mustURL(t, "http://slow")}}}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		cancel()
		<-done

		mu.Lock()
		defer mu.Unlock()
		if firstUp.IsZero() {
			t.Fatal("never published")
		}
		after := firstUp.Sub(slow.firstAnswer)
		t.Logf("REST API first answered %v after start; published %v after that; nothing stale from %v",
			slow.firstAnswer.Sub(start), after, freshFrom.Sub(start))
		if after > 5*time.Second {
			t.Errorf("published %v after the REST API first answered, want <= 5s", after)
		}
		if freshFrom.IsZero() {
			t.Error("the stage history never came")
		}
		if n := slow.requests["/api/v1/applications/app-20261121120000-0001/stages?status=complete&status=failed"]; n != 1 {
			t.Errorf("finished-stage list read %d times, want once", n)
		}
	})
}

// With every history slot taken (other drivers reading theirs), a poll does not wait: it goes on
// without the finished-stage list and says the history is stale.
func TestStageHistoryWaitsForASlot(t *testing.T) {
	fake := sparkfake.Generate(1, 2, 0)
	slow := &slowDriver{fake: fake, requests: map[string]int{}, delay: func(*http.Request) time.Duration { return 0 }}
	client := &sparkapi.Client{HTTP: &http.Client{Transport: handlerTransport{"d": slow}}, MaxBodyBytes: 1 << 20}
	history := make(chan struct{}, 1)
	deps := pollDeps{client: client, timeout: time.Second, now: newFakeClock().Now, history: history}
	d := newDriver(Target{Key: "d", BaseURL: mustURL(t, "http://d")})
	history <- struct{}{} // taken
	for range 2 {
		snap, err := d.poll(context.Background(), deps)
		if err != nil || !snap.App.Stale[PartStageHistory] || snap.App.StagesSubmitted != 0 {
			t.Fatalf("slot taken: err %v, stale %v, stages %d", err, snap.App.Stale, snap.App.StagesSubmitted)
		}
	}
	<-history // freed
	snap, err := d.poll(context.Background(), deps)
	if err != nil || snap.App.Stale[PartStageHistory] || snap.App.StagesSubmitted != 7 {
		t.Fatalf("slot free: err %v, stale %v, stages %d (want 7 finished)", err, snap.App.Stale, snap.App.StagesSubmitted)
	}
	if len(history) != 0 {
		t.Error("the slot was not given back")
	}
}
