// Package kedasim emulates what KEDA and the Kubernetes HPA do with an
// external scaler's answers, so tests can drive spark-dra-scaler (or any
// KEDA external scaler) through real gRPC and see the replica count a
// cluster would set, step by step, without a cluster.
//
// It is a stand-in for KEDA's operator and metrics adapter plus the HPA
// controller (kube-controller-manager), which cannot run in `go test`. It
// follows KEDA v2.21 and Kubernetes 1.36 as described in docs/keda.md:
//
//   - KEDA's call pattern on every metric read: GetMetricSpec, then
//     GetMetrics with the metric name KEDA shows the HPA as `s0-<name>`
//     with the `s0-` prefix stripped again, then IsActive. A value is
//     metricValueFloat when > 0, else metricValue; NaN, ±Inf and negatives
//     count as 0; several values add up. The target is targetSizeFloat when
//     > 0, else targetSize.
//   - KEDA's scale loop every PollingInterval: activation 0 → max(min, 1)
//     when IsActive is true, and → 0 when inactive for CooldownPeriod with
//     MinReplicaCount 0.
//   - The HPA every HPASyncPeriod while replicas > 0: the AverageValue
//     formula (usage / (target × replicas) outside the tolerance →
//     ceil(usage / target), else no change), the stabilization windows
//     (lowest recent recommendation for scale-up, highest for scale-down),
//     the rate policies (Pods / Percent per period, selectPolicy Max, Min
//     or Disabled, counted from the scale events in each period), and the
//     [max(minReplicaCount, 1), maxReplicaCount] clamp.
//   - A failed read changes nothing (KEDA's fallback with behavior
//     currentReplicas, or an HPA that cannot compute a metric).
//   - With WatchPush (type external-push), a streamed `true` activates at
//     the next Step without waiting for the polling interval.
//
// Time comes from a Clock (a fake one in unit tests, the wall clock in an
// end-to-end run); nothing here sleeps, and only WatchPush starts a goroutine. Each Step does
// whatever is due at Clock.Now() and returns what it saw and set.
//
// Typical use:
//
//	sim, err := kedasim.New(conn, clock, kedasim.ScaledObject{
//		Name: "workers", Namespace: "spark", Metadata: meta,
//		MinReplicaCount: 0, MaxReplicaCount: 20,
//		PollingInterval: time.Second, HPASyncPeriod: time.Second,
//		Behavior: ptr(kedasim.ExactBehavior(20)),
//	})
//	for … { advance the clock; st, err := sim.Step(ctx); use st.Replicas }
package kedasim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
)

// Clock gives the time; *FakeClock or WallClock.
type Clock interface{ Now() time.Time }

// WallClock is the real clock.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// FakeClock is a manually advanced clock, safe for concurrent use (the
// scaler's goroutines may read it). Set T when constructing it; afterwards
// use Advance and Now only.
type FakeClock struct {
	mu sync.Mutex
	T  time.Time
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.T
}

// Advance moves the fake time forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.T = c.T.Add(d)
	return c.T
}

// PolicyType is an HPA scaling policy type.
type PolicyType string

// HPA policy types.
const (
	Pods    PolicyType = "Pods"
	Percent PolicyType = "Percent"
)

// SelectPolicy chooses among the policies of one direction.
type SelectPolicy string

// HPA select policies.
const (
	SelectMax      SelectPolicy = "Max"
	SelectMin      SelectPolicy = "Min"
	SelectDisabled SelectPolicy = "Disabled"
)

// Policy is one HPA scaling policy: at most Value pods (or Value percent)
// of change per Period.
type Policy struct {
	Type   PolicyType
	Value  int32
	Period time.Duration
}

// Rules are the HPA scaling rules of one direction.
type Rules struct {
	StabilizationWindow time.Duration
	// Tolerance is the dead band of the usage ratio (0.1 = ±10 %, the
	// Kubernetes default; behavior.*.tolerance since 1.35).
	Tolerance    float64
	SelectPolicy SelectPolicy
	Policies     []Policy
}

// Behavior is the HPA's spec.behavior.
type Behavior struct{ ScaleUp, ScaleDown Rules }

// DefaultBehavior is what the HPA does when the ScaledObject sets no
// behavior: scale-up without stabilization, at most +4 pods or +100 % per
// 15 s; scale-down after a 300 s window, up to 100 % per 15 s; 10 %
// tolerance both ways.
func DefaultBehavior() Behavior {
	return Behavior{
		ScaleUp: Rules{Tolerance: 0.1, SelectPolicy: SelectMax, Policies: []Policy{
			{Pods, 4, 15 * time.Second}, {Percent, 100, 15 * time.Second}}},
		ScaleDown: Rules{StabilizationWindow: 300 * time.Second, Tolerance: 0.1, SelectPolicy: SelectMax,
			Policies: []Policy{{Percent, 100, 15 * time.Second}}},
	}
}

// ExactBehavior is the behavior docs/scaler.md recommends, under which the
// replica count follows the scaler's number at each sync: no tolerance, no
// stabilization, and scale-up policies that do not cap the step. A Percent
// policy alone would: its limit counts from the replica count at the start
// of the period, so +1000 % per 15 s allows 1 → 11 and no further within
// those 15 s; hence also a Pods policy of 10000 (the HPA's maxReplicas
// clamps anyway). Scale-down: 100 % per 15 s.
func ExactBehavior() Behavior {
	return Behavior{
		ScaleUp: Rules{SelectPolicy: SelectMax, Policies: []Policy{
			{Percent, 1000, 15 * time.Second}, {Pods, 10000, 15 * time.Second}}},
		ScaleDown: Rules{SelectPolicy: SelectMax, Policies: []Policy{{Percent, 100, 15 * time.Second}}},
	}
}

// ScaledObject is the part of a KEDA ScaledObject (and of the HPA KEDA
// makes from it) the emulation uses. Zero durations take KEDA's and
// Kubernetes' defaults.
type ScaledObject struct {
	Name, Namespace string
	// Metadata is the trigger's metadata map, sent as scalerMetadata.
	Metadata map[string]string
	// MinReplicaCount may be 0 (KEDA then does 0↔1); MaxReplicaCount
	// defaults to 100.
	MinReplicaCount, MaxReplicaCount int32
	// PollingInterval of KEDA's scale loop (default 30 s).
	PollingInterval time.Duration
	// CooldownPeriod before scaling to 0 (default 300 s).
	CooldownPeriod time.Duration
	// HPASyncPeriod of the HPA controller (default 15 s).
	HPASyncPeriod time.Duration
	// Behavior of the HPA; nil means DefaultBehavior.
	Behavior *Behavior
	// InitialReplicas is the target's replica count at the start.
	InitialReplicas int32
}

// Read is one KEDA metric read: GetMetricSpec, GetMetrics, IsActive.
type Read struct {
	// HPAMetricName is the name the HPA sees, s0-<metricName>.
	HPAMetricName string
	Target        float64
	Value         float64
	Active        bool
	// Err is the first failed RPC of the read (its gRPC status).
	Err error
}

// Step is what one call of Sim.Step did.
type Step struct {
	Time time.Time
	// Before and Replicas are the replica counts before and after the step.
	Before, Replicas int32
	// Polled: KEDA's scale loop ran; Synced: the HPA ran; Pushed: a `true`
	// from StreamIsActive (WatchPush) arrived since the previous Step.
	Polled, Synced, Pushed bool
	// Reads are the metric reads made, in order (poll first, then sync).
	Reads []Read
	// By says who changed the replicas: "keda-push-activate",
	// "keda-activate", "keda-deactivate", "hpa", or "" for no change.
	By string
	// HPA details, when Synced: the raw proposal, after stabilization, and
	// after the rate policies and the clamp.
	Proposal, Stabilized, Limited int32
}

type event struct {
	t      time.Time
	change int32 // > 0 up, < 0 down
}

type recommendation struct {
	t time.Time
	n int32
}

// Sim is one emulated ScaledObject with its HPA and scale target.
type Sim struct {
	client pb.ExternalScalerClient
	clock  Clock
	so     ScaledObject
	b      Behavior

	replicas           int32
	nextPoll, nextSync time.Time
	lastActive         time.Time
	recs               []recommendation
	ups, downs         []event
	history            []Step

	push        chan bool // messages of the StreamIsActive stream (WatchPush)
	pushPending bool      // a true received by AwaitPush, for the next Step
}

// New emulates so against the external scaler reachable through conn.
func New(conn grpc.ClientConnInterface, clock Clock, so ScaledObject) (*Sim, error) {
	if so.Name == "" {
		return nil, errors.New("kedasim: ScaledObject name is required")
	}
	if so.MaxReplicaCount == 0 {
		so.MaxReplicaCount = 100
	}
	if so.MinReplicaCount < 0 || so.MinReplicaCount > so.MaxReplicaCount {
		return nil, fmt.Errorf("kedasim: minReplicaCount %d must be in [0, maxReplicaCount %d]", so.MinReplicaCount, so.MaxReplicaCount)
	}
	if so.PollingInterval <= 0 {
		so.PollingInterval = 30 * time.Second
	}
	if so.CooldownPeriod <= 0 {
		so.CooldownPeriod = 300 * time.Second
	}
	if so.HPASyncPeriod <= 0 {
		so.HPASyncPeriod = 15 * time.Second
	}
	b := DefaultBehavior()
	if so.Behavior != nil {
		b = *so.Behavior
	}
	now := clock.Now()
	return &Sim{client: pb.NewExternalScalerClient(conn), clock: clock, so: so, b: b,
		replicas: so.InitialReplicas, nextPoll: now, nextSync: now, lastActive: now}, nil
}

// Replicas is the target's current replica count.
func (s *Sim) Replicas() int32 { return s.replicas }

// SetReplicas changes the replica count from outside (someone edited the
// target); it is not an HPA scale event.
func (s *Sim) SetReplicas(n int32) { s.replicas = n }

// History returns every Step so far.
func (s *Sim) History() []Step { return s.history }

// Step runs what is due at Clock.Now(): KEDA's scale loop when its
// polling interval has passed, then the HPA sync when its period has
// passed and replicas > 0. The error is a context error only; failed reads
// are in Step.Reads.
func (s *Sim) Step(ctx context.Context) (Step, error) {
	now := s.clock.Now()
	st := Step{Time: now, Before: s.replicas}
	if s.drainPush() {
		st.Pushed = true
		s.lastActive = now
		if s.replicas == 0 {
			s.replicas = max(s.so.MinReplicaCount, 1)
			st.By = "keda-push-activate"
		}
	}
	if !now.Before(s.nextPoll) {
		st.Polled = true
		s.nextPoll = now.Add(s.so.PollingInterval)
		r := s.read(ctx)
		st.Reads = append(st.Reads, r)
		s.scaleLoop(now, r, &st)
	}
	if !now.Before(s.nextSync) {
		s.nextSync = now.Add(s.so.HPASyncPeriod)
		if s.replicas > 0 {
			st.Synced = true
			r := s.read(ctx)
			st.Reads = append(st.Reads, r)
			if r.Err == nil {
				s.hpa(now, r, &st)
			}
		}
	}
	st.Replicas = s.replicas
	s.history = append(s.history, st)
	return st, ctx.Err()
}

// WatchPush emulates a trigger of type external-push: it opens
// StreamIsActive and, until ctx ends, hands its messages to the next Step.
// As in KEDA, a `true` activates at once (0 → max(min, 1)) and refreshes
// the last active time; a `false` is ignored (deactivation comes only from
// polling and the cooldown). It starts one goroutine, which ends with the
// stream; KEDA's reconnection with backoff is not emulated.
func (s *Sim) WatchPush(ctx context.Context) error {
	stream, err := s.client.StreamIsActive(ctx, s.ref())
	if err != nil {
		return err
	}
	s.push = make(chan bool, 64)
	go func() {
		defer close(s.push)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case s.push <- m.GetResult():
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// AwaitPush blocks until WatchPush's stream delivers a message (or ctx
// ends, or the stream closes) and returns it; a `true` acts at the next
// Step. For deterministic tests; not to be called concurrently with Step.
func (s *Sim) AwaitPush(ctx context.Context) (bool, error) {
	if s.push == nil {
		return false, errors.New("kedasim: WatchPush was not called")
	}
	select {
	case v, ok := <-s.push:
		if !ok {
			return false, errors.New("kedasim: the StreamIsActive stream ended")
		}
		s.pushPending = s.pushPending || v
		return v, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// drainPush reports whether a `true` arrived since the last Step.
func (s *Sim) drainPush() bool {
	got := s.pushPending
	s.pushPending = false
	for s.push != nil {
		select {
		case v, ok := <-s.push:
			if !ok {
				return got
			}
			got = got || v
		default:
			return got
		}
	}
	return got
}

func (s *Sim) ref() *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: s.so.Name, Namespace: s.so.Namespace, ScalerMetadata: s.so.Metadata}
}

// read makes KEDA's three calls.
func (s *Sim) read(ctx context.Context) Read {
	var r Read
	spec, err := s.client.GetMetricSpec(ctx, s.ref())
	if err != nil {
		r.Err = err
		return r
	}
	if len(spec.GetMetricSpecs()) == 0 {
		r.Err = errors.New("no metric specs returned from scaler")
		return r
	}
	ms := spec.GetMetricSpecs()[0]
	r.HPAMetricName = "s0-" + ms.GetMetricName()
	r.Target = ms.GetTargetSizeFloat()
	if !(r.Target > 0) {
		r.Target = float64(ms.GetTargetSize())
	}
	r.Target = nonNegative(r.Target)
	resp, err := s.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: s.ref(),
		MetricName: strings.TrimPrefix(r.HPAMetricName, "s0-")})
	if err != nil {
		r.Err = err
		return r
	}
	for _, mv := range resp.GetMetricValues() {
		v := mv.GetMetricValueFloat()
		if !(v > 0) {
			v = float64(mv.GetMetricValue())
		}
		r.Value += nonNegative(v)
	}
	act, err := s.client.IsActive(ctx, s.ref())
	if err != nil {
		r.Err = err
		return r
	}
	r.Active = act.GetResult()
	return r
}

func nonNegative(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// scaleLoop is KEDA's own 0↔N handling.
func (s *Sim) scaleLoop(now time.Time, r Read, st *Step) {
	if r.Err != nil {
		return
	}
	if r.Active {
		s.lastActive = now
		if s.replicas == 0 {
			s.replicas = max(s.so.MinReplicaCount, 1)
			st.By = "keda-activate"
		}
		return
	}
	if s.so.MinReplicaCount == 0 && s.replicas > 0 && now.Sub(s.lastActive) >= s.so.CooldownPeriod {
		s.replicas = 0
		st.By = "keda-deactivate"
		s.recs, s.ups, s.downs = nil, nil, nil
	}
}

// hpa is one HPA sync on an AverageValue external metric.
func (s *Sim) hpa(now time.Time, r Read, st *Step) {
	cur := s.replicas
	proposal := cur
	if r.Target > 0 {
		ratio := r.Value / (r.Target * float64(cur))
		if ratio > 1+s.b.ScaleUp.Tolerance || ratio < 1-s.b.ScaleDown.Tolerance {
			proposal = int32(math.Ceil(r.Value / r.Target))
		}
	}
	st.Proposal = proposal
	st.Stabilized = s.stabilize(now, cur, proposal)
	st.Limited = s.limit(now, cur, st.Stabilized)
	if st.Limited != cur {
		if st.Limited > cur {
			s.ups = append(s.ups, event{now, st.Limited - cur})
		} else {
			s.downs = append(s.downs, event{now, cur - st.Limited})
		}
		s.replicas = st.Limited
		st.By = "hpa"
	}
}

// stabilize applies the windows: the lowest recommendation of the scale-up
// window and the highest of the scale-down window bound the result.
func (s *Sim) stabilize(now time.Time, cur, proposal int32) int32 {
	up, down := proposal, proposal
	upCut, downCut := now.Add(-s.b.ScaleUp.StabilizationWindow), now.Add(-s.b.ScaleDown.StabilizationWindow)
	kept := s.recs[:0]
	for _, rec := range s.recs {
		if rec.t.After(upCut) {
			up = min(up, rec.n)
		}
		if rec.t.After(downCut) {
			down = max(down, rec.n)
		}
		if rec.t.After(upCut) || rec.t.After(downCut) {
			kept = append(kept, rec)
		}
	}
	s.recs = append(kept, recommendation{now, proposal})
	out := max(cur, up)
	return min(out, down)
}

// limit applies the rate policies and the [max(min,1), max] clamp.
func (s *Sim) limit(now time.Time, cur, want int32) int32 {
	lo, hi := max(s.so.MinReplicaCount, 1), s.so.MaxReplicaCount
	switch {
	case want > cur:
		hi = min(hi, max(cur, s.upLimit(now, cur)))
	case want < cur:
		lo = max(lo, min(cur, s.downLimit(now, cur)))
	}
	return min(max(want, lo), hi)
}

func changed(evs []event, now time.Time, period time.Duration) int32 {
	var n int32
	cut := now.Add(-period)
	for _, e := range evs {
		if e.t.After(cut) {
			n += e.change
		}
	}
	return n
}

func (s *Sim) upLimit(now time.Time, cur int32) int32 {
	r := s.b.ScaleUp
	if r.SelectPolicy == SelectDisabled {
		return cur
	}
	var out int32 = math.MinInt32
	pick := func(a, b int32) int32 { return max(a, b) }
	if r.SelectPolicy == SelectMin {
		out, pick = math.MaxInt32, func(a, b int32) int32 { return min(a, b) }
	}
	for _, p := range r.Policies {
		start := cur - changed(s.ups, now, p.Period) + changed(s.downs, now, p.Period)
		var v int32
		if p.Type == Pods {
			v = start + p.Value
		} else {
			v = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		out = pick(out, v)
	}
	return out
}

func (s *Sim) downLimit(now time.Time, cur int32) int32 {
	r := s.b.ScaleDown
	if r.SelectPolicy == SelectDisabled {
		return cur
	}
	var out int32 = math.MaxInt32
	pick := func(a, b int32) int32 { return min(a, b) }
	if r.SelectPolicy == SelectMin {
		out, pick = math.MinInt32, func(a, b int32) int32 { return max(a, b) }
	}
	for _, p := range r.Policies {
		start := cur - changed(s.ups, now, p.Period) + changed(s.downs, now, p.Period)
		var v int32
		if p.Type == Pods {
			v = start - p.Value
		} else {
			v = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		out = pick(out, v)
	}
	return out
}
