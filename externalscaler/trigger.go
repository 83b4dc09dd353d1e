package externalscaler

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/sparkdra/sparkdra/scaler"
)

// Trigger metadata keys of the ScaledObject (design.md, "ScaledObject
// trigger metadata"); Spark's own spark.* keys go to scaler.ParseConfig.
const (
	KeySelector            = "selector"
	KeyPrometheusAddress   = "prometheusAddress"
	KeyExecutorsPerReplica = "executorsPerReplica"
)

// MetricName is the one metric the scaler serves: the desired executor
// count. KEDA shows it to the HPA as `s<trigger index>-spark-dra-executors`.
const MetricName = "spark-dra-executors"

// TriggerConfig is one ScaledObject's trigger metadata, parsed and
// validated.
type TriggerConfig struct {
	// Selector chooses the Spark applications whose demand the target
	// serves (required).
	Selector Selector
	// PrometheusAddress overrides the scaler's default data source; "" means
	// the default (--prometheus.url, else --exporter.url).
	PrometheusAddress string
	// ExecutorsPerReplica is how many executors one replica of the target
	// hosts (default 1); it is the metric target.
	ExecutorsPerReplica int
	// Spark holds the spark.dynamicAllocation.*, spark.executor.cores and
	// spark.task.cpus settings with Spark's defaults and validation.
	Spark scaler.Config
}

// ParseTrigger reads a ScaledObject's trigger metadata (the whole map KEDA
// sends, scalerAddress and unknown keys included). The error joins every
// problem found (errors.Join), Spark's validation messages included.
func ParseTrigger(meta map[string]string) (TriggerConfig, error) {
	var errs []error
	tc := TriggerConfig{ExecutorsPerReplica: 1}
	switch raw, ok := meta[KeySelector]; {
	case !ok || strings.TrimSpace(raw) == "":
		errs = append(errs, fmt.Errorf("%s is required: Prometheus label matchers choosing the Spark applications, e.g. namespace=\"spark\",app_name=~\"etl-.*\"", KeySelector))
	default:
		sel, err := ParseSelector(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", KeySelector, err))
		}
		tc.Selector = sel
	}
	if raw, ok := meta[KeyPrometheusAddress]; ok && strings.TrimSpace(raw) != "" {
		addr := strings.TrimSpace(raw)
		if err := checkHTTPURL(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", KeyPrometheusAddress, raw, err))
		}
		tc.PrometheusAddress = addr
	}
	if raw, ok := meta[KeyExecutorsPerReplica]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s %q: not an integer", KeyExecutorsPerReplica, raw))
		case n < 1:
			errs = append(errs, fmt.Errorf("%s (%d) must be >= 1", KeyExecutorsPerReplica, n))
		default:
			tc.ExecutorsPerReplica = n
		}
	}
	cfg, err := scaler.ParseConfig(meta)
	if err != nil {
		errs = append(errs, err)
	}
	tc.Spark = cfg
	return tc, errors.Join(errs...)
}

// checkHTTPURL accepts absolute http(s) URLs with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL")
	}
	return nil
}

// DesiredReplicas is ceil(desired / executorsPerReplica): what the HPA sets
// with an AverageValue target of executorsPerReplica.
func (tc *TriggerConfig) DesiredReplicas(desired int) int {
	if tc.ExecutorsPerReplica <= 1 {
		return desired
	}
	return (desired + tc.ExecutorsPerReplica - 1) / tc.ExecutorsPerReplica
}
