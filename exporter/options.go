package exporter

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// Options is everything spark-dra-exporter's flags set. Validate checks it as a whole.
type Options struct {
	// ListenAddresses and WebConfigFile are exporter-toolkit's --web.listen-address and
	// --web.config.file (TLS, basic auth).
	ListenAddresses []string
	WebConfigFile   string
	// TelemetryPath is where the metrics are served (default /metrics).
	TelemetryPath string

	// DriverURLs are static driver UI roots (http://host:4040).
	DriverURLs []string
	// PollInterval is the time between two polls of one driver.
	PollInterval time.Duration
	// RequestTimeout bounds each REST request.
	RequestTimeout time.Duration
	// MaxConcurrentPolls bounds how many drivers are polled at once.
	MaxConcurrentPolls int
	// MaxBodyBytes caps every REST response body.
	MaxBodyBytes int64
	// PerExecutorMetrics publishes the spark_executor_* series.
	PerExecutorMetrics bool
	// Username, PasswordFile and BearerTokenFile are credentials sent to every driver.
	Username, PasswordFile, BearerTokenFile string

	// Kubernetes turns on driver-pod discovery.
	Kubernetes bool
	// KubeConfig is a kubeconfig path; empty means in-cluster config.
	KubeConfig string
	// Namespaces to watch; empty means all.
	Namespaces []string
	// LabelSelector chooses driver pods.
	LabelSelector string

	// StandaloneMasters are Spark standalone master UI URLs (http://master:8080).
	StandaloneMasters []string
	// StandaloneInterval is the time between two reads of a master's /json.
	StandaloneInterval time.Duration
}

// DefaultOptions are the flags' defaults.
func DefaultOptions() Options {
	return Options{
		ListenAddresses:    []string{":9141"},
		TelemetryPath:      "/metrics",
		PollInterval:       time.Second,
		RequestTimeout:     5 * time.Second,
		MaxConcurrentPolls: 64,
		MaxBodyBytes:       32 << 20,
		PerExecutorMetrics: true,
		LabelSelector:      "spark-role=driver",
		StandaloneInterval: 10 * time.Second,
	}
}

// Validate returns every problem of o, joined (nil if none).
func (o Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(o.DriverURLs) == 0 && !o.Kubernetes && len(o.StandaloneMasters) == 0 {
		add("no drivers to poll: give --spark.driver-url, --kubernetes.enabled or --standalone.master-url")
	}
	for _, raw := range o.DriverURLs {
		if _, err := ParseDriverURL(raw); err != nil {
			errs = append(errs, err)
		}
	}
	for _, raw := range o.StandaloneMasters {
		if _, err := parseMasterURL(raw); err != nil {
			errs = append(errs, err)
		}
	}
	if len(o.ListenAddresses) == 0 {
		add("--web.listen-address: at least one address is required")
	}
	if !strings.HasPrefix(o.TelemetryPath, "/") || o.TelemetryPath == "/" || o.TelemetryPath == "/healthz" ||
		o.TelemetryPath == "/readyz" {
		add("--web.telemetry-path %q: must start with / and not be /, /healthz or /readyz", o.TelemetryPath)
	}
	if o.PollInterval <= 0 {
		add("--spark.poll-interval %v: must be > 0", o.PollInterval)
	}
	if o.RequestTimeout <= 0 {
		add("--spark.request-timeout %v: must be > 0", o.RequestTimeout)
	}
	if o.MaxConcurrentPolls < 1 {
		add("--spark.max-concurrent-polls %d: must be >= 1", o.MaxConcurrentPolls)
	}
	if o.MaxBodyBytes < 1024 {
		add("--spark.max-body-bytes %d: must be >= 1024", o.MaxBodyBytes)
	}
	if o.BearerTokenFile != "" && o.Username != "" {
		add("--spark.auth.bearer-token-file and --spark.auth.username: choose one")
	}
	if o.PasswordFile != "" && o.Username == "" {
		add("--spark.auth.password-file needs --spark.auth.username")
	}
	for _, f := range []struct{ flag, path string }{
		{"--spark.auth.password-file", o.PasswordFile},
		{"--spark.auth.bearer-token-file", o.BearerTokenFile},
		{"--web.config.file", o.WebConfigFile},
		{"--kubernetes.kubeconfig", o.KubeConfig},
	} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				add("%s: %v", f.flag, err)
			}
		}
	}
	if o.Kubernetes {
		if _, err := labels.Parse(o.LabelSelector); err != nil {
			add("--kubernetes.label-selector %q: %v", o.LabelSelector, err)
		}
	}
	if len(o.StandaloneMasters) > 0 && o.StandaloneInterval <= 0 {
		add("--standalone.refresh-interval %v: must be > 0", o.StandaloneInterval)
	}
	return errors.Join(errs...)
}

func parseMasterURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("standalone master URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("standalone master URL %q: want http(s)://host:port of the master UI", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// ParseMasterURLs checks standalone master URLs (http(s)://host:port of the master UI).
func ParseMasterURLs(raws []string) ([]*url.URL, error) {
	var out []*url.URL
	var errs []error
	for _, raw := range raws {
		u, err := parseMasterURL(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, u)
	}
	return out, errors.Join(errs...)
}
