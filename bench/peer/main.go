// Command peer runs the peer a user would pick instead of spark-dra-exporter: the OpenTelemetry
// collector's apachesparkreceiver (pinned at v0.138.0 with the collector core it was released
// with, in this nested module so that none of it enters sparkdra's go.mod). One receiver per
// Spark driver endpoint, as a collector configured with one `apachespark/<n>` receiver per
// driver runs them; their metrics go to a consumer that drops them, so the figures leave out
// the cost of exporting (a real collector pays it too).
//
//	peer -interval 1s -endpoint http://127.0.0.1:4040 -endpoint …
//
// make peer-bench builds it and runs it beside spark-dra-exporter against the same fake fleet
// (exporter/internal/peerbench). It stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/apachesparkreceiver"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

type endpoints []string

func (e *endpoints) String() string     { return strings.Join(*e, ",") }
func (e *endpoints) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var eps endpoints
	flag.Var(&eps, "endpoint", "a Spark driver UI root (repeatable)")
	interval := flag.Duration("interval", time.Second, "collection_interval of every receiver")
	flag.Parse()
	if err := run(eps, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run(eps []string, interval time.Duration) error {
	if len(eps) == 0 {
		return fmt.Errorf("no -endpoint given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	factory := apachesparkreceiver.NewFactory()
	host := componenttest.NewNopHost()
	var started []receiver.Metrics
	defer func() {
		for _, r := range started {
			_ = r.Shutdown(context.Background())
		}
	}()
	for _, ep := range eps {
		cfg := factory.CreateDefaultConfig().(*apachesparkreceiver.Config)
		cfg.Endpoint = ep
		cfg.CollectionInterval = interval
		cfg.InitialDelay = 0
		r, err := factory.CreateMetrics(ctx, receivertest.NewNopSettings(factory.Type()), cfg, consumertest.NewNop())
		if err != nil {
			return fmt.Errorf("%s: %w", ep, err)
		}
		if err := r.Start(ctx, host); err != nil {
			return fmt.Errorf("%s: %w", ep, err)
		}
		started = append(started, r)
	}
	<-ctx.Done()
	return nil
}
