// Command spark-dra-exporter polls Spark driver REST APIs and publishes, as Prometheus gauges,
// the task backlog and the idle state of every executor as Spark's dynamic allocation sees them.
// See docs/metrics.md for the metrics and `spark-dra-exporter --help` for the flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sparkdra/sparkdra/exporter"
	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

func main() { os.Exit(run(os.Args[1:])) }

// run parses the flags, validates them and runs the exporter until SIGINT/SIGTERM.
func run(args []string) int {
	app := kingpin.New("spark-dra-exporter",
		"Polls Spark driver REST APIs (/api/v1) and publishes Prometheus gauges for the task backlog and idle executors "+
			"as Spark's dynamic allocation sees them. Drivers come from --spark.driver-url, Kubernetes driver pods "+
			"(--kubernetes.enabled) and Spark standalone masters (--standalone.master-url).")
	o := exporter.DefaultOptions()
	var listen []string
	app.Flag("web.listen-address", "Address to listen on for /metrics, /healthz and /readyz. Repeatable.").
		Default(":9141").StringsVar(&listen)
	app.Flag("web.config.file", "exporter-toolkit web configuration file (TLS, basic auth): "+
		"https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md").
		Default("").StringVar(&o.WebConfigFile)
	app.Flag("web.telemetry-path", "Path under which to expose the metrics.").Default(o.TelemetryPath).StringVar(&o.TelemetryPath)
	app.Flag("spark.driver-url", "UI root of a Spark driver, e.g. http://driver:4040 (a proxy prefix is kept). Repeatable.").
		StringsVar(&o.DriverURLs)
	app.Flag("spark.poll-interval", "Time between two polls of one driver. Idle and backlog durations are under-estimated by up to this much.").
		Default(o.PollInterval.String()).DurationVar(&o.PollInterval)
	app.Flag("spark.request-timeout", "Deadline of each REST request to a driver.").
		Default(o.RequestTimeout.String()).DurationVar(&o.RequestTimeout)
	app.Flag("spark.max-concurrent-polls", "How many drivers are polled at the same time, at most.").
		Default(fmt.Sprint(o.MaxConcurrentPolls)).IntVar(&o.MaxConcurrentPolls)
	app.Flag("spark.max-body-bytes", "Size cap of a REST response body; a larger one fails the poll (reason too_large).").
		Default(fmt.Sprint(o.MaxBodyBytes)).Int64Var(&o.MaxBodyBytes)
	app.Flag("spark.per-executor-metrics", "Publish the spark_executor_* series (one set per executor). "+
		"Use --no-spark.per-executor-metrics on very large clusters.").Default("true").BoolVar(&o.PerExecutorMetrics)
	app.Flag("spark.auth.username", "Basic-auth user sent to drivers whose UI requires it.").StringVar(&o.Username)
	app.Flag("spark.auth.password-file", "File holding the basic-auth password (re-read on every request).").StringVar(&o.PasswordFile)
	app.Flag("spark.auth.bearer-token-file", "File holding a bearer token sent to drivers (re-read on every request).").
		StringVar(&o.BearerTokenFile)
	app.Flag("kubernetes.enabled", "Discover driver pods on Kubernetes (adds namespace and pod labels).").BoolVar(&o.Kubernetes)
	app.Flag("kubernetes.kubeconfig", "kubeconfig file; empty means the in-cluster configuration.").StringVar(&o.KubeConfig)
	app.Flag("kubernetes.namespace", "Namespace to watch for driver pods. Repeatable; none means all namespaces.").
		StringsVar(&o.Namespaces)
	app.Flag("kubernetes.label-selector", "Label selector of driver pods.").Default(o.LabelSelector).StringVar(&o.LabelSelector)
	app.Flag("standalone.master-url", "UI of a Spark standalone master, e.g. http://master:8080; its running applications "+
		"are polled through its reverse proxy (/proxy/<appId>; needs spark.ui.reverseProxy=true). Repeatable.").
		StringsVar(&o.StandaloneMasters)
	app.Flag("standalone.refresh-interval", "Time between two reads of a standalone master's application list.").
		Default(o.StandaloneInterval.String()).DurationVar(&o.StandaloneInterval)
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	app.Version(version.Print("spark-dra-exporter"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	o.ListenAddresses = listen
	logger := promslog.New(logCfg)
	if err := o.Validate(); err != nil {
		logger.Error("invalid flags", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, logger); err != nil {
		logger.Error("exiting", "err", err)
		return 1
	}
	return 0
}

// serve wires the pieces: discoverers → poller → store → collector → HTTP.
func serve(ctx context.Context, o exporter.Options, logger *slog.Logger) error {
	client := &sparkapi.Client{
		HTTP:         &http.Client{Transport: exporter.NewTransport(o.MaxConcurrentPolls)},
		MaxBodyBytes: o.MaxBodyBytes,
		Credentials:  sparkapi.Credentials{Username: o.Username, PasswordFile: o.PasswordFile, BearerTokenFile: o.BearerTokenFile},
	}
	discoverers, err := buildDiscoverers(o, client, logger)
	if err != nil {
		return err
	}
	// The Spark series are written straight from the snapshots (Collector.WriteText); the
	// collector is registered on its own registry only so that registration checks its
	// descriptors. Process, Go and build metrics go through the usual registry.
	self := prometheus.NewRegistry()
	self.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("spark_dra_exporter"))
	store := exporter.NewStore()
	collector, err := exporter.NewCollector(prometheus.NewRegistry(), store, exporter.CollectorOptions{
		KubernetesLabels: o.Kubernetes, PerExecutor: o.PerExecutorMetrics, PollInterval: o.PollInterval})
	if err != nil {
		return err
	}
	poller := exporter.NewPoller(exporter.PollerOptions{Client: client, Interval: o.PollInterval,
		RequestTimeout: o.RequestTimeout, MaxConcurrent: o.MaxConcurrentPolls, Logger: logger}, store)
	updates := make(chan exporter.TargetUpdate)
	for _, d := range discoverers {
		go d.Run(ctx, updates)
	}
	pollerDone := make(chan struct{})
	go func() { poller.Run(ctx, len(discoverers), updates); close(pollerDone) }()

	srv := &http.Server{Handler: exporter.NewRouter(exporter.MetricsHandler(collector, self, logger), o.TelemetryPath,
		poller.Synced),
		ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{WebListenAddresses: &o.ListenAddresses, WebSystemdSocket: new(bool), WebConfigFile: &o.WebConfigFile}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, flags, logger) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
	}
	<-pollerDone
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func buildDiscoverers(o exporter.Options, client *sparkapi.Client, logger *slog.Logger) ([]exporter.Discoverer, error) {
	var ds []exporter.Discoverer
	if len(o.DriverURLs) > 0 {
		var ts []exporter.Target
		for _, raw := range o.DriverURLs {
			t, err := exporter.ParseDriverURL(raw)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		ds = append(ds, exporter.StaticDiscoverer{Targets: ts})
	}
	if o.Kubernetes {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = o.KubeConfig
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes client config: %w", err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
		ds = append(ds, exporter.KubernetesDiscoverer{Client: cs, Namespaces: o.Namespaces,
			LabelSelector: o.LabelSelector, Logger: logger})
	}
	if len(o.StandaloneMasters) > 0 {
		masters, err := exporter.ParseMasterURLs(o.StandaloneMasters)
		if err != nil {
			return nil, err
		}
		ds = append(ds, exporter.StandaloneDiscoverer{Masters: masters, Client: client,
			Interval: o.StandaloneInterval, Timeout: o.RequestTimeout, Logger: logger})
	}
	return ds, nil
}
