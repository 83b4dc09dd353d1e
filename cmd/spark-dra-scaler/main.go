// Command spark-dra-scaler is a KEDA external scaler (gRPC) that runs Spark's
// dynamic resource allocation on the gauges spark-dra-exporter publishes and
// answers, per ScaledObject, the executor count DRA would choose. See
// docs/scaler.md and `spark-dra-scaler --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sparkdra/sparkdra/externalscaler"
	"github.com/sparkdra/sparkdra/externalscaler/victims"
)

func main() { os.Exit(run(os.Args[1:])) }

// options are the flags, validated before anything starts.
type options struct {
	GRPCListen      string
	WebListen       []string
	WebConfigFile   string
	PrometheusURL   string
	PrometheusTO    time.Duration
	PrometheusCfg   string
	AllowedAddrs    []string
	ExporterURL     string
	Tick            time.Duration
	Staleness       time.Duration
	ForgetAfter     time.Duration
	KubeConfig      string
	MarkVictims     bool
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string
}

// validate returns every problem of the flags (errors.Join).
func (o *options) validate() error {
	var errs []error
	if o.GRPCListen == "" {
		errs = append(errs, errors.New("--grpc.listen-address is required"))
	}
	if o.PrometheusURL != "" && o.ExporterURL != "" {
		errs = append(errs, errors.New("--prometheus.url and --exporter.url exclude each other: one default data source"))
	}
	for flag, u := range map[string]string{"--prometheus.url": o.PrometheusURL, "--exporter.url": o.ExporterURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an absolute http:// or https:// URL", flag, u))
		}
	}
	for flag, d := range map[string]time.Duration{"--scaler.tick": o.Tick, "--scaler.staleness": o.Staleness,
		"--scaler.forget-after": o.ForgetAfter, "--prometheus.timeout": o.PrometheusTO} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s (%v) must be > 0", flag, d))
		}
	}
	if o.Staleness > 0 && o.Tick > 0 && o.Staleness < o.Tick {
		errs = append(errs, fmt.Errorf("--scaler.staleness (%v) must be at least --scaler.tick (%v)", o.Staleness, o.Tick))
	}
	for _, a := range o.AllowedAddrs {
		if _, err := externalscaler.ParseAddressRule(a); err != nil {
			errs = append(errs, fmt.Errorf("--prometheus.allowed-address %q: %w", a, err))
		}
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--grpc.tls-cert-file and --grpc.tls-key-file go together"))
	}
	if o.TLSClientCAFile != "" && o.TLSCertFile == "" {
		errs = append(errs, errors.New("--grpc.tls-client-ca-file needs --grpc.tls-cert-file and --grpc.tls-key-file"))
	}
	return errors.Join(errs...)
}

func run(args []string) int {
	var o options
	app := newApp(&o)
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	app.Version(version.Print("spark-dra-scaler"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(boolFlagValues(app, args)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger := promslog.New(logCfg)
	if err := o.validate(); err != nil {
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

// newApp declares the flags, grouped by what they configure (grpc., web., prometheus.,
// exporter., scaler., kubernetes., victims.), the way spark-dra-exporter groups its own.
func newApp(o *options) *kingpin.Application {
	app := kingpin.New("spark-dra-scaler",
		"KEDA external scaler (gRPC) that runs Spark's dynamic resource allocation per ScaledObject on the gauges "+
			"spark-dra-exporter publishes, read from Prometheus (--prometheus.url) or straight from the exporter "+
			"(--exporter.url), and answers the executor count DRA would choose (metric spark-dra-executors). "+
			"HTTP: /decisions (JSON), /metrics, /healthz, /readyz. See docs/scaler.md.")
	app.Flag("grpc.listen-address", "Address of the KEDA external scaler gRPC service (and gRPC health).").
		Default(":9090").StringVar(&o.GRPCListen)
	app.Flag("grpc.tls-cert-file", "Server certificate (PEM) for the gRPC port; empty means plaintext. "+
		"KEDA verifies it with the caCert of a TriggerAuthentication. Re-read on every handshake.").StringVar(&o.TLSCertFile)
	app.Flag("grpc.tls-key-file", "Private key (PEM) of --grpc.tls-cert-file.").StringVar(&o.TLSKeyFile)
	app.Flag("grpc.tls-client-ca-file", "CA (PEM) of client certificates: when set, KEDA must present one "+
		"(TriggerAuthentication tlsClientCert/tlsClientKey).").StringVar(&o.TLSClientCAFile)
	app.Flag("web.listen-address", "Address of the HTTP side: /decisions, /metrics, /healthz, /readyz. Repeatable.").
		Default(":8080").StringsVar(&o.WebListen)
	app.Flag("web.config.file", "exporter-toolkit web configuration file (TLS, basic auth) for the HTTP side: "+
		"https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md").StringVar(&o.WebConfigFile)
	app.Flag("prometheus.url", "Prometheus HTTP API (Prometheus, Thanos, Mimir) to read the exporter's gauges from; "+
		"ScaledObjects may name another with the prometheusAddress trigger key when --prometheus.allowed-address "+
		"allows it. Two instant queries per tick per address.").
		StringVar(&o.PrometheusURL)
	app.Flag("prometheus.timeout", "Deadline of one Prometheus query.").Default("10s").DurationVar(&o.PrometheusTO)
	app.Flag("prometheus.http-config-file", "Prometheus HTTP client configuration (YAML, as in Prometheus' "+
		"http_config: basic_auth, authorization, oauth2, tls_config, proxy_url, http_headers such as "+
		"X-Scope-OrgID for Mimir) for --prometheus.url only: a ScaledObject's prometheusAddress is queried "+
		"without it.").StringVar(&o.PrometheusCfg)
	app.Flag("prometheus.allowed-address", "URL prefix a ScaledObject's prometheusAddress may name, e.g. "+
		"http://thanos-query.monitoring.svc:9090 (same scheme and host:port, path at or below). Repeatable; "+
		"none refuses every prometheusAddress (an invalid ScaledObject). Such addresses are queried without "+
		"credentials.").StringsVar(&o.AllowedAddrs)
	app.Flag("exporter.url", "spark-dra-exporter /metrics URL, read directly when no Prometheus is used "+
		"(the embedded default, e.g. http://localhost:9141/metrics).").StringVar(&o.ExporterURL)
	app.Flag("scaler.tick", "Period of the decision loop: every ScaledObject's engine steps once per tick.").
		Default("1s").DurationVar(&o.Tick)
	app.Flag("scaler.staleness", "Oldest observation a decision may use; older data answers codes.Unavailable.").
		Default("60s").DurationVar(&o.Staleness)
	app.Flag("scaler.forget-after", "Forget a ScaledObject no RPC asked about for this long.").Default("10m").DurationVar(&o.ForgetAfter)
	app.Flag("kubernetes.kubeconfig", "kubeconfig for victim marking; empty means the in-cluster configuration.").StringVar(&o.KubeConfig)
	app.Flag("victims.mark", "Set controller.kubernetes.io/pod-deletion-cost on the target's pods before the desired "+
		"count drops (needs RBAC: get scaledobjects.keda.sh and <target>/scale, list and patch pods). Off by itself, "+
		"with a warning, when no Kubernetes configuration is found; --no-victims.mark switches it off.").
		Default("true").BoolVar(&o.MarkVictims)
	return app
}

// boolFlagValues rewrites --flag=true and --flag=false of boolean flags to
// kingpin's --flag and --no-flag, so manifests may spell them either way.
func boolFlagValues(app *kingpin.Application, args []string) []string {
	isBool := map[string]bool{}
	for _, f := range app.Model().Flags {
		isBool[f.Name] = f.IsBoolFlag()
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		name, val, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") || !isBool[name] {
			continue
		}
		switch strings.ToLower(val) {
		case "true":
			out[i] = "--" + name
		case "false":
			out[i] = "--no-" + name
		}
	}
	return out
}

// serve wires sources → server → gRPC and HTTP, and runs until ctx ends.
func serve(ctx context.Context, o options, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("spark_dra_scaler"))
	srv, err := newServer(o, reg, logger)
	if err != nil {
		return err
	}
	tlsCfg, err := externalscaler.ServerTLSConfig(o.TLSCertFile, o.TLSKeyFile, o.TLSClientCAFile)
	if err != nil {
		return err
	}
	var gopts []grpc.ServerOption
	if tlsCfg != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	g := grpc.NewServer(gopts...)
	srv.Register(g)
	lis, err := net.Listen("tcp", o.GRPCListen)
	if err != nil {
		return err
	}
	logger.Info("serving KEDA external scaler", "grpc", lis.Addr().String(), "tls", tlsCfg != nil,
		"client_certs", o.TLSClientCAFile != "", "victims_mark", srv.Marking(),
		"allowed_addresses", o.AllowedAddrs)

	httpSrv := &http.Server{Handler: srv.Handler(reg), ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{WebListenAddresses: &o.WebListen, WebSystemdSocket: new(bool), WebConfigFile: &o.WebConfigFile}
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(lis) }()
	go func() { errc <- web.ListenAndServe(httpSrv, flags, logger) }()
	loopCtx, cancelLoop := context.WithCancel(ctx)
	loopDone := make(chan struct{})
	go func() { srv.Run(loopCtx); close(loopDone) }()

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	cancelLoop()
	<-loopDone
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	srv.Close() // ends open StreamIsActive streams
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		g.Stop()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// newServer builds the externalscaler.Server from the flags: the default
// source (--prometheus.url with --prometheus.http-config-file, or
// --exporter.url), per-ScaledObject Prometheus sources limited to
// --prometheus.allowed-address and sent without credentials, and the victim
// marker.
func newServer(o options, reg prometheus.Registerer, logger *slog.Logger) (*externalscaler.Server, error) {
	var srv *externalscaler.Server
	observe := func(q string, d time.Duration, err error) { srv.ObserveQuery(q, d, err) }
	promSource := func(addr string, rt http.RoundTripper) (externalscaler.Source, error) {
		c, err := api.NewClient(api.Config{Address: addr, RoundTripper: rt})
		if err != nil {
			return nil, err
		}
		return externalscaler.NewPrometheusSource(promv1.NewAPI(c), observe), nil
	}
	var rules externalscaler.AddressRules
	for _, a := range o.AllowedAddrs {
		r, err := externalscaler.ParseAddressRule(a)
		if err != nil {
			return nil, fmt.Errorf("--prometheus.allowed-address %q: %w", a, err)
		}
		rules = append(rules, r)
	}
	opts := externalscaler.Options{AllowedAddresses: rules, Staleness: o.Staleness, Tick: o.Tick,
		ForgetAfter: o.ForgetAfter, Registerer: reg, Logger: logger}
	if len(rules) > 0 {
		// A ScaledObject's author chooses the address: the scaler's own credentials
		// never go there, and every request (redirects too) must stay within the rules.
		plain := rules.Transport(plainTransport(o.PrometheusTO))
		opts.SourceFor = func(addr string) (externalscaler.Source, error) { return promSource(addr, plain) }
	}
	switch {
	case o.PrometheusURL != "":
		rt, err := prometheusTransport(o.PrometheusCfg, o.PrometheusTO)
		if err != nil {
			return nil, err
		}
		src, err := promSource(o.PrometheusURL, rt)
		if err != nil {
			return nil, err
		}
		opts.DefaultSource = src
	case o.ExporterURL != "":
		opts.DefaultSource = externalscaler.NewExporterSource(o.ExporterURL, &http.Client{Timeout: o.PrometheusTO})
	default:
		logger.Warn("no --prometheus.url or --exporter.url: only ScaledObjects with prometheusAddress get decisions")
	}
	if o.MarkVictims {
		m, err := newMarker(o.KubeConfig)
		switch {
		case err != nil && o.KubeConfig != "":
			return nil, err
		case err != nil:
			logger.Warn("victim marking off: no Kubernetes configuration", "err", err)
		default:
			opts.Marker = m
		}
	}
	var err error
	srv, err = externalscaler.NewServer(opts) // assigned, not declared: observe reads this srv
	return srv, err
}

// prometheusTransport builds the HTTP transport for Prometheus queries:
// from the http_config file when given, else client_golang's default; the
// response headers must arrive within timeout.
func prometheusTransport(file string, timeout time.Duration) (http.RoundTripper, error) {
	if file == "" {
		return plainTransport(timeout), nil
	}
	cfg, _, err := promconfig.LoadHTTPConfigFile(file)
	if err != nil {
		return nil, fmt.Errorf("--prometheus.http-config-file: %w", err)
	}
	rt, err := promconfig.NewRoundTripperFromConfig(*cfg, "spark-dra-scaler")
	if err != nil {
		return nil, fmt.Errorf("--prometheus.http-config-file: %w", err)
	}
	return timeoutRoundTripper{rt, timeout}, nil
}

// plainTransport is client_golang's default transport, without credentials,
// whose response headers must arrive within timeout.
func plainTransport(timeout time.Duration) *http.Transport {
	t := api.DefaultRoundTripper.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = timeout
	return t
}

// timeoutRoundTripper bounds each request by a deadline.
type timeoutRoundTripper struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t timeoutRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// newMarker builds the client-go victim marker from kubeconfig (or the
// in-cluster configuration when empty).
func newMarker(kubeconfig string) (*victims.Marker, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return victims.NewMarker(kube, dyn), nil
}
