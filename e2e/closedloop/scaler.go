package closedloop

import (
	"context"
	"time"
)

// scalerProc is a running spark-dra-scaler.
type scalerProc struct {
	*service
	// GRPCAddr serves KEDA's ExternalScaler; WebAddr /decisions, /metrics, /healthz.
	GRPCAddr, WebAddr string
	// Source is the data source the scaler reads: Prometheus' URL, or the exporter's /metrics.
	Source string
}

// startScaler runs spark-dra-scaler reading prom when it runs (else the exporter's /metrics
// at exporterMetrics: the embedded default), deciding every tick. Victim marking on Kubernetes
// is off: the harness maps /decisions to workers itself (DeletionCosts).
func startScaler(ctx context.Context, bin, dir, webAddr string, prom *service, exporterMetrics string, tick time.Duration) (*scalerProc, error) {
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"--grpc.listen-address=" + grpcAddr, "--web.listen-address=" + webAddr,
		"--scaler.tick=" + tick.String(), "--no-victims.mark", "--log.level=warn"}
	source := exporterMetrics
	if prom != nil {
		source = "http://" + prom.Addr
		args = append(args, "--prometheus.url="+source)
	} else {
		args = append(args, "--exporter.url="+exporterMetrics)
	}
	s, err := startService(ctx, "spark-dra-scaler", bin, args, dir, webAddr, "/readyz", 60*time.Second)
	if err != nil {
		return nil, err
	}
	return &scalerProc{service: s, GRPCAddr: grpcAddr, WebAddr: webAddr, Source: source}, nil
}
