package externalscaler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Run ticks every Options.Tick (and right after a new ScaledObject is
// registered) until ctx ends. Each tick decides as of its scheduled instant
// on the tick grid (onGrid), not the moment the ticker happened to fire.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	start := s.opts.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		s.Tick(ctx, onGrid(start, s.opts.Now(), s.opts.Tick))
	}
}

// onGrid snaps now down to the grid of ticks that started at start. A
// ticker fires a little after each period, by a varying amount; DRA's add
// deadlines are set one sustainedSchedulerBacklogTimeout after the tick that
// added (docs/spark-dra.md §5), and with Spark's default 1 s timeouts and a
// 1 s tick a deadline would often land a hair after the next firing and
// slip a whole tick: adds every 2 s instead of every 1 s. On the grid, the
// deadline and the next tick coincide, as they do at Spark's own 100 ms
// schedule. now before start, or a non-positive tick, is returned as is.
func onGrid(start, now time.Time, tick time.Duration) time.Time {
	if tick <= 0 || now.Before(start) {
		return now
	}
	return start.Add(now.Sub(start).Truncate(tick))
}

// Tick makes one round of decisions as of now: it forgets ScaledObjects no
// RPC asked about for ForgetAfter (and the per-address sources no remaining
// ScaledObject uses), reads each distinct source once, steps
// every engine, marks scale-down victims before a lower decision is
// published, then publishes all decisions and updates health.
func (s *Server) Tick(ctx context.Context, now time.Time) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	objs := s.collect(now)
	groups := map[string][]*object{}
	for _, o := range objs {
		groups[o.cfg.PrometheusAddress] = append(groups[o.cfg.PrometheusAddress], o)
	}
	for addr := range s.sources {
		if _, used := groups[addr]; !used {
			delete(s.sources, addr) // its last ScaledObject was forgotten or changed address
		}
	}
	snaps := s.fetchAll(ctx, now, groups)
	healthy := true
	var ds []decided
	for addr, group := range groups {
		for _, o := range group {
			rec := s.decide(o, snaps[addr], now)
			ds = append(ds, decided{o, rec})
			healthy = healthy && rec.unavailable == nil
		}
	}
	s.markAll(ctx, ds, now)
	for _, d := range ds {
		d.o.latest.Store(d.rec)
		s.metrics.record(d.rec)
	}
	s.setHealth(healthy)
	s.publish()
}

// decided is a decision not yet published.
type decided struct {
	o   *object
	rec *DecisionRecord
}

// markParallelism bounds the ScaledObjects marked at the same time.
const markParallelism = 8

// markBackoff is how long marking pauses for a ScaledObject after it failed,
// so an unreachable API server cannot stall every tick.
const markBackoff = time.Minute

// markAll marks the victims of every decision that needs it, concurrently
// (at most markParallelism at once), before any of them is published.
func (s *Server) markAll(ctx context.Context, ds []decided, now time.Time) {
	if s.opts.Marker == nil {
		return
	}
	sem := make(chan struct{}, markParallelism)
	var wg sync.WaitGroup
	for _, d := range ds {
		if d.rec.unavailable != nil || !s.mustMark(d.o, d.rec) || now.Before(d.o.markPausedUntil) {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s.mark(ctx, d.o, d.rec, now)
		})
	}
	wg.Wait()
}

// collect returns the tracked objects, dropping the forgotten ones.
func (s *Server) collect(now time.Time) []*object {
	cutoff := now.Add(-s.opts.ForgetAfter).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	objs := make([]*object, 0, len(s.objects))
	for k, o := range s.objects {
		if o.lastSeen.Load() < cutoff {
			delete(s.objects, k)
			s.metrics.forget(k)
			s.metrics.cancelled.DeleteLabelValues(k.Name, k.Namespace)
			continue
		}
		objs = append(objs, o)
	}
	s.metrics.scaledObjects.Set(float64(len(s.objects)))
	return objs
}

type fetched struct {
	snap *Snapshot
	err  error
}

// fetchAll reads every source in use, concurrently, once.
func (s *Server) fetchAll(ctx context.Context, now time.Time, groups map[string][]*object) map[string]fetched {
	out := make(map[string]fetched, len(groups))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for addr := range groups {
		src, err := s.source(addr)
		if err != nil {
			out[addr] = fetched{err: err}
			continue
		}
		wg.Go(func() {
			snap, err := src.Fetch(ctx, now)
			mu.Lock()
			out[addr] = fetched{snap: snap, err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func (s *Server) source(addr string) (Source, error) {
	if addr == "" {
		if s.opts.DefaultSource == nil {
			return nil, errors.New("no data source configured (--prometheus.url or --exporter.url)")
		}
		return s.opts.DefaultSource, nil
	}
	if src := s.sources[addr]; src != nil {
		return src, nil
	}
	if s.opts.SourceFor == nil {
		return nil, fmt.Errorf("prometheusAddress %s: this scaler takes no per-ScaledObject Prometheus", addr)
	}
	src, err := s.opts.SourceFor(addr)
	if err != nil {
		return nil, err
	}
	s.sources[addr] = src
	return src, nil
}

// decide runs one ScaledObject's step on its source's snapshot.
func (s *Server) decide(o *object, f fetched, now time.Time) *DecisionRecord {
	if f.err != nil {
		return failedRecord(o.key, &o.cfg, now, unavailable("query", "reading observations: %v", f.err))
	}
	obs, info, err := f.snap.Observe(o.cfg.Selector)
	if err != nil {
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			ue = unavailable("stale", "%v", err)
		}
		return failedRecord(o.key, &o.cfg, now, ue)
	}
	if age := now.Sub(info.SampleTime); age > s.opts.Staleness {
		return failedRecord(o.key, &o.cfg, now, unavailable("stale",
			"observation is %s old (bound %s); applications %v", age.Round(time.Millisecond), s.opts.Staleness, info.Apps))
	}
	d := o.engine.Step(&obs, now)
	rec := newRecord(o.key, &o.cfg, &obs, info, &d, o.engine.CancelledRequests(), now)
	s.metrics.decisions.Inc()
	return rec
}

// mustMark: a scale-down is coming (executors chosen for removal, or the
// desired count below the published one).
func (s *Server) mustMark(o *object, rec *DecisionRecord) bool {
	if len(rec.Remove) > 0 {
		return true
	}
	prev := o.latest.Load()
	return prev != nil && prev.unavailable == nil && rec.Desired < prev.Desired
}

// mark sets pod deletion costs for rec before it is published; unchanged
// plans are not sent again.
func (s *Server) mark(ctx context.Context, o *object, rec *DecisionRecord, now time.Time) {
	costs := DeletionCosts(rec)
	if o.markedPods == nil || !maps.Equal(costs, o.markedCosts) {
		mctx, cancel := context.WithTimeout(ctx, s.opts.MarkTimeout)
		pods, err := s.opts.Marker.MarkVictims(mctx, o.key, costs)
		cancel()
		if err != nil {
			s.metrics.errors.WithLabelValues("mark").Inc()
			s.opts.Logger.Warn("marking scale-down victims failed; the ReplicaSet chooses on its own; retrying later",
				"scaledobject", o.key.String(), "retry_after", markBackoff, "err", err)
			o.markedCosts, o.markedPods = nil, nil
			o.markPausedUntil = now.Add(markBackoff)
			return
		}
		o.markedCosts, o.markedPods = costs, pods
	}
	rec.Marked = true
	for i := range rec.Executors {
		x := &rec.Executors[i]
		x.Pod = o.markedPods[x.Host]
		if c, ok := costs[x.Host]; ok && x.Pod != "" {
			x.DeletionCost = &c
		}
	}
}

// publish wakes every StreamIsActive waiting for new decisions.
func (s *Server) publish() {
	s.pubMu.Lock()
	close(s.pubCh)
	s.pubCh = make(chan struct{})
	s.pubMu.Unlock()
}

func (s *Server) published() <-chan struct{} {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.pubCh
}
