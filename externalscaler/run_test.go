package externalscaler

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

// TestRunTicks checks the loop on fake time: a tick per period, and one
// right after a new ScaledObject appears.
func TestRunTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{}
		src.set(backlogged())
		s, err := NewServer(Options{DefaultSource: src, Tick: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()

		synctest.Wait()
		if src.count() != 0 {
			t.Fatalf("%d fetches with no ScaledObject, want 0 (no I/O without work)", src.count())
		}
		start := time.Now()
		if _, err := s.lookup(ref("workers", meta())); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if src.count() != 1 {
			t.Fatalf("%d fetches right after registration, want 1", src.count())
		}
		rec := s.Decision(ObjectKey{Namespace: "spark", Name: "workers"})
		if rec == nil || !rec.Time.Equal(start) {
			t.Fatalf("decision %+v, want one made at registration time", rec)
		}
		time.Sleep(5 * time.Second) // fake time inside the bubble
		synctest.Wait()
		if src.count() != 2 {
			t.Errorf("%d fetches after one period, want 2", src.count())
		}
		if got := s.Decision(ObjectKey{Namespace: "spark", Name: "workers"}).Time.Sub(start); got != 5*time.Second {
			t.Errorf("second decision %v after the first, want 5s", got)
		}
		cancel()
		<-done
	})
}

// TestForget drops ScaledObjects KEDA stopped asking about.
func TestForget(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	src := &fakeSource{}
	src.set(backlogged())
	s := newTestServer(t, src, clock, Options{ForgetAfter: time.Minute})
	if _, err := s.lookup(ref("workers", meta())); err != nil {
		t.Fatal(err)
	}
	s.Tick(t.Context(), clock.Now())
	s.Tick(t.Context(), clock.Advance(61*time.Second))
	if len(s.Decisions()) != 0 {
		t.Errorf("ScaledObject still tracked after ForgetAfter")
	}
}

// TestSourcesPerAddress: one read per distinct source per tick, whatever
// the number of ScaledObjects using it.
func TestSourcesPerAddress(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	def, other := &fakeSource{}, &fakeSource{}
	def.set(backlogged())
	other.set(backlogged())
	built := 0
	s := newTestServer(t, def, clock, Options{AllowedAddresses: mustRules(t, "http://thanos:9090"),
		SourceFor: func(addr string) (Source, error) {
			if addr != "http://thanos:9090" {
				t.Errorf("source for %q", addr)
			}
			built++
			return other, nil
		}})
	for i := range 5 {
		if _, err := s.lookup(ref(fmt.Sprint("default-", i), meta())); err != nil {
			t.Fatal(err)
		}
		if _, err := s.lookup(ref(fmt.Sprint("thanos-", i), meta("prometheusAddress", "http://thanos:9090"))); err != nil {
			t.Fatal(err)
		}
	}
	s.Tick(t.Context(), clock.Now())
	s.Tick(t.Context(), clock.Advance(time.Second))
	if def.count() != 2 || other.count() != 2 || built != 1 {
		t.Errorf("fetches default %d, thanos %d, sources built %d; want 2, 2, 1", def.count(), other.count(), built)
	}
	for _, d := range s.Decisions() {
		if d.Error != "" {
			t.Errorf("%s: %s", d.ScaledObject, d.Error)
		}
	}
}
