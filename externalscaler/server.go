package externalscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sparkdra/sparkdra/scaler"
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	// DefaultSource is read for ScaledObjects without prometheusAddress:
	// a PrometheusSource (--prometheus.url) or an ExporterSource
	// (--exporter.url). Nil makes their observations unavailable.
	DefaultSource Source
	// SourceFor builds the Source for a ScaledObject's prometheusAddress;
	// called once per distinct address. Nil makes such ScaledObjects
	// unavailable.
	SourceFor func(address string) (Source, error)
	// Staleness is the oldest observation a decision may use (default 60s).
	Staleness time.Duration
	// Tick is the period of the decision loop (default 1s).
	Tick time.Duration
	// ForgetAfter drops a ScaledObject no RPC asked about for this long
	// (default 10m; KEDA asks at least every HPA sync, 15 s by default).
	ForgetAfter time.Duration
	// Marker, if set, marks scale-down victims before the desired count
	// drops (nil: off).
	Marker VictimMarker
	// MarkTimeout bounds one ScaledObject's marking (default 10s).
	MarkTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Registerer receives the self-metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Staleness <= 0 {
		o.Staleness = 60 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.ForgetAfter <= 0 {
		o.ForgetAfter = 10 * time.Minute
	}
	if o.MarkTimeout <= 0 {
		o.MarkTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// HealthService is the gRPC health service name the Server reports on (as
// well as the overall "").
const HealthService = "externalscaler.ExternalScaler"

// Server is spark-dra-scaler: KEDA's ExternalScaler gRPC service, one DRA
// engine per ScaledObject advanced by Tick, and the /decisions view.
// RPCs do no I/O: they register a ScaledObject on first sight (parsing its
// metadata) and answer from the latest published decision. Tick (or Run)
// reads the sources, steps the engines, marks victims and publishes.
type Server struct {
	pb.UnimplementedExternalScalerServer

	opts    Options
	metrics *selfMetrics
	health  *health.Server

	mu      sync.RWMutex
	objects map[ObjectKey]*object

	wake chan struct{}

	closeOnce sync.Once
	closing   chan struct{} // closed by Close: open streams end

	pubMu sync.Mutex
	pubCh chan struct{} // closed and replaced at every publish

	streamDone func() // test hook: a StreamIsActive returned

	tickMu  sync.Mutex        // one Tick at a time
	sources map[string]Source // by address, owned by Tick
}

// object is one tracked ScaledObject.
type object struct {
	key      ObjectKey
	meta     map[string]string
	cfg      TriggerConfig
	engine   *scaler.Engine // owned by Tick
	lastSeen atomic.Int64   // unix nanos of the last RPC
	latest   atomic.Pointer[DecisionRecord]

	// owned by Tick: the last marking, to skip unchanged ones.
	markedCosts     map[string]int32
	markedPods      map[string]string
	markPausedUntil time.Time
}

// NewServer returns a Server with opts; the caller serves it with
// RegisterExternalScalerServer (see Register) and runs Run.
func NewServer(opts Options) (*Server, error) {
	opts.defaults()
	s := &Server{
		opts:    opts,
		metrics: newSelfMetrics(),
		health:  health.NewServer(),
		objects: map[ObjectKey]*object{},
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		pubCh:   make(chan struct{}),
		sources: map[string]Source{},
	}
	if opts.Registerer != nil {
		if err := s.metrics.register(opts.Registerer); err != nil {
			return nil, err
		}
	}
	s.setHealth(true)
	return s, nil
}

// Close ends every open StreamIsActive (with codes.Unavailable, so KEDA
// reconnects, to another replica or after a restart); call it before the
// gRPC server's GracefulStop. RPCs keep working.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Health returns the gRPC health server to register next to the scaler:
// NOT_SERVING while any tracked ScaledObject's data is stale or missing.
func (s *Server) Health() *health.Server { return s.health }

func (s *Server) setHealth(ok bool) {
	st := healthpb.HealthCheckResponse_SERVING
	if !ok {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(HealthService, st)
}

// lookup returns the tracked object for ref, registering it (or replacing
// it when its metadata changed). Invalid metadata is an *InvalidTriggerError.
func (s *Server) lookup(ref *pb.ScaledObjectRef) (*object, error) {
	if ref == nil || ref.GetName() == "" {
		return nil, &InvalidTriggerError{Key: ObjectKey{}, Err: errors.New("scaledObjectRef with a name is required")}
	}
	key := ObjectKey{Namespace: ref.GetNamespace(), Name: ref.GetName()}
	now := s.opts.Now().UnixNano()
	s.mu.RLock()
	o := s.objects[key]
	s.mu.RUnlock()
	if o != nil && maps.Equal(o.meta, ref.GetScalerMetadata()) {
		o.lastSeen.Store(now)
		return o, nil
	}
	cfg, err := ParseTrigger(ref.GetScalerMetadata())
	if err != nil {
		s.metrics.errors.WithLabelValues("invalid_metadata").Inc()
		return nil, &InvalidTriggerError{Key: key, Err: err}
	}
	eng, err := scaler.NewEngine(cfg.Spark)
	if err != nil {
		return nil, &InvalidTriggerError{Key: key, Err: err}
	}
	n := &object{key: key, meta: maps.Clone(ref.GetScalerMetadata()), cfg: cfg, engine: eng}
	n.lastSeen.Store(now)
	s.mu.Lock()
	if cur := s.objects[key]; cur != nil && maps.Equal(cur.meta, n.meta) {
		n = cur // registered meanwhile by another RPC
	} else {
		s.objects[key] = n
	}
	count := len(s.objects)
	s.mu.Unlock()
	s.metrics.scaledObjects.Set(float64(count))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return n, nil
}

// InvalidTriggerError is a ScaledObject whose trigger metadata does not
// parse; the gRPC layer answers codes.InvalidArgument with every problem.
type InvalidTriggerError struct {
	Key ObjectKey
	Err error
}

func (e *InvalidTriggerError) Error() string {
	return fmt.Sprintf("ScaledObject %s: invalid trigger metadata: %v", e.Key, e.Err)
}

func (e *InvalidTriggerError) Unwrap() error { return e.Err }

// Run ticks every Options.Tick (and right after a new ScaledObject is
// registered) until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		s.Tick(ctx, s.opts.Now())
	}
}

// Tick makes one round of decisions as of now: it forgets ScaledObjects no
// RPC asked about for ForgetAfter, reads each distinct source once, steps
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
	rec := newRecord(o.key, &o.cfg, &obs, info, &d, now)
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

// Decisions returns the latest decision of every tracked ScaledObject,
// sorted by namespace and name.
func (s *Server) Decisions() []*DecisionRecord {
	s.mu.RLock()
	out := make([]*DecisionRecord, 0, len(s.objects))
	for _, o := range s.objects {
		if r := o.latest.Load(); r != nil {
			out = append(out, r)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].ScaledObject, out[j].ScaledObject
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	return out
}

// Decision returns the latest decision for one ScaledObject, nil if none.
func (s *Server) Decision(key ObjectKey) *DecisionRecord {
	s.mu.RLock()
	o := s.objects[key]
	s.mu.RUnlock()
	if o == nil {
		return nil
	}
	return o.latest.Load()
}
