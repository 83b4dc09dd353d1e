package externalscaler

import (
	"context"
	"errors"
	"strings"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Register registers the ExternalScaler service and the gRPC health service
// on g.
func (s *Server) Register(g *grpc.Server) {
	pb.RegisterExternalScalerServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
}

// rpcError maps lookup and decision errors to gRPC status codes:
// invalid metadata → InvalidArgument (every problem named), no usable
// observation → Unavailable.
func rpcError(err error) error {
	var ite *InvalidTriggerError
	if errors.As(err, &ite) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// current returns the object's latest usable decision, or an Unavailable
// status.
func (s *Server) current(ref *pb.ScaledObjectRef) (*DecisionRecord, error) {
	o, err := s.lookup(ref)
	if err != nil {
		return nil, rpcError(err)
	}
	rec := o.latest.Load()
	switch {
	case rec == nil:
		return nil, status.Errorf(codes.Unavailable, "ScaledObject %s: no decision yet (waiting for the first tick)", o.key)
	case rec.unavailable != nil:
		return nil, status.Errorf(codes.Unavailable, "ScaledObject %s: %s", o.key, rec.Error)
	}
	return rec, nil
}

// GetMetricSpec answers one metric, spark-dra-executors, with the target
// executorsPerReplica (constant, so the HPA never needs refreshing).
func (s *Server) GetMetricSpec(_ context.Context, ref *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	o, err := s.lookup(ref)
	if err != nil {
		return nil, rpcError(err)
	}
	n := o.cfg.ExecutorsPerReplica
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{
		MetricName: MetricName, TargetSize: int64(n), TargetSizeFloat: float64(n),
	}}}, nil
}

// GetMetrics answers the desired executor count of the latest decision;
// Unavailable when the data behind it is stale or missing (never a zero).
// The metric name may carry KEDA's `s<N>-` prefix; names are compared
// case-insensitively.
func (s *Server) GetMetrics(_ context.Context, req *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	if name := req.GetMetricName(); name != "" && !strings.EqualFold(stripIndex(name), MetricName) {
		return nil, status.Errorf(codes.NotFound, "unknown metric %q: this scaler serves %q", name, MetricName)
	}
	rec, err := s.current(req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	v, _ := rec.value()
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName: MetricName, MetricValue: int64(v), MetricValueFloat: v,
	}}}, nil
}

// stripIndex removes KEDA's "s<digits>-" trigger-index prefix.
func stripIndex(name string) string {
	if len(name) < 3 || name[0] != 's' && name[0] != 'S' {
		return name
	}
	i := 1
	for i < len(name) && name[i] >= '0' && name[i] <= '9' {
		i++
	}
	if i > 1 && i < len(name) && name[i] == '-' {
		return name[i+1:]
	}
	return name
}

// IsActive is desired > 0, from the same decision GetMetrics answers.
func (s *Server) IsActive(_ context.Context, ref *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	rec, err := s.current(ref)
	if err != nil {
		return nil, err
	}
	return &pb.IsActiveResponse{Result: rec.Desired > 0}, nil
}

// StreamIsActive (type external-push) sends the activity as soon as a
// decision is known and then on every transition, until the stream's
// context ends. Ticks without a usable decision send nothing.
func (s *Server) StreamIsActive(ref *pb.ScaledObjectRef, stream grpc.ServerStreamingServer[pb.IsActiveResponse]) error {
	o, err := s.lookup(ref)
	if err != nil {
		return rpcError(err)
	}
	if s.streamDone != nil {
		defer s.streamDone()
	}
	ctx := stream.Context()
	sent, last := false, false
	for {
		wait := s.published()
		o.lastSeen.Store(s.opts.Now().UnixNano())
		if rec := s.liveRecord(o); rec != nil && rec.unavailable == nil {
			if active := rec.Desired > 0; !sent || active != last {
				if err := stream.Send(&pb.IsActiveResponse{Result: active}); err != nil {
					return err
				}
				sent, last = true, active
			}
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.closing:
			return status.Error(codes.Unavailable, "spark-dra-scaler is shutting down")
		case <-wait:
		}
	}
}

// liveRecord reads the object currently registered under o's key (it may
// have been replaced after a metadata change).
func (s *Server) liveRecord(o *object) *DecisionRecord {
	s.mu.RLock()
	cur := s.objects[o.key]
	s.mu.RUnlock()
	if cur == nil {
		s.mu.Lock()
		if s.objects[o.key] == nil {
			s.objects[o.key] = o // a stream keeps its ScaledObject tracked
		}
		cur = s.objects[o.key]
		s.mu.Unlock()
	}
	return cur.latest.Load()
}
