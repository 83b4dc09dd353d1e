package externalscaler

import (
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
	// called once per distinct address while a ScaledObject uses it (the
	// Source is dropped with the last one). It must not carry the default
	// source's credentials: the address is chosen by whoever writes the
	// ScaledObject. Nil makes such ScaledObjects unavailable.
	SourceFor func(address string) (Source, error)
	// AllowedAddresses are the --prometheus.allowed-address rules: a
	// prometheusAddress no rule allows makes the ScaledObject invalid
	// (InvalidTriggerError). None refuses every prometheusAddress.
	AllowedAddresses AddressRules
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
	sources map[string]Source // by prometheusAddress in use, owned by Tick
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

// Marking reports whether scale-down victims are marked (Options.Marker set).
func (s *Server) Marking() bool { return s.opts.Marker != nil }

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
	if err == nil && cfg.PrometheusAddress != "" {
		if aerr := s.opts.AllowedAddresses.Check(cfg.PrometheusAddress); aerr != nil {
			err = fmt.Errorf("%s %q: %w", KeyPrometheusAddress, cfg.PrometheusAddress, aerr)
		}
	}
	if err != nil {
		s.metrics.errors.WithLabelValues("invalid_metadata").Inc()
		return nil, &InvalidTriggerError{Key: key, Err: err}
	}
	eng, err := scaler.NewEngine(cfg.Spark)
	if err != nil {
		return nil, &InvalidTriggerError{Key: key, Err: err}
	}
	eng.SetExecutorsPerReplica(cfg.ExecutorsPerReplica)
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
