package dashboards

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"
)

// Config holds what a user tunes in the generated dashboards and alerting rules: label selectors
// and alert thresholds. It plays the part of a monitoring mixin's _config: regenerate with
// `go run ./dashboards/cmd/gen -config my.yaml` to change it. Durations use Prometheus' syntax
// ("90s", "15m", "1h") in YAML.
type Config struct {
	// ExporterSelector is added to every selector of spark-dra-exporter series, e.g.
	// `job="spark-dra-exporter"`. Empty matches the metric names alone.
	ExporterSelector string `json:"exporterSelector"`
	// ScalerSelector is added to every selector of spark-dra-scaler series.
	ScalerSelector string `json:"scalerSelector"`
	// RunbookBaseURL is the URL of docs/runbook.md; each alert's runbook_url is
	// RunbookBaseURL + "#" + the lower-cased alert name.
	RunbookBaseURL string `json:"runbookBaseURL"`
	// IdleCostResolution is the step of the subquery that integrates idle executors over the
	// dashboard range into idle executor-seconds.
	IdleCostResolution model.Duration `json:"idleCostResolution"`

	// ShuffleIdleThreshold: an executor idle longer than this while it holds shuffle data
	// counts as pinned by shuffle (alert SparkDRAExecutorsPinnedByShuffle).
	ShuffleIdleThreshold model.Duration `json:"shuffleIdleThreshold"`
	// ShuffleIdleFor is that alert's `for:`.
	ShuffleIdleFor model.Duration `json:"shuffleIdleFor"`
	// NeedlessPinFor is the `for:` of SparkDRANeedlessShufflePinning: how long executors idle
	// past executorIdleTimeout may be kept for shuffle data that is safe without them.
	NeedlessPinFor model.Duration `json:"needlessPinFor"`
	// CacheIdleThreshold: an executor idle longer than this while it holds cached blocks
	// (alert SparkDRAExecutorsIdleWithCache).
	CacheIdleThreshold model.Duration `json:"cacheIdleThreshold"`
	// CacheIdleFor is that alert's `for:`.
	CacheIdleFor model.Duration `json:"cacheIdleFor"`
	// BacklogThreshold: a backlog at least this old while the application runs its
	// maxExecutors (alert SparkDRABacklogAtMaxExecutors).
	BacklogThreshold model.Duration `json:"backlogThreshold"`
	// BacklogFor is that alert's `for:`.
	BacklogFor model.Duration `json:"backlogFor"`
	// BelowTargetFor is how long live executors may stay below DRA's target
	// (alert SparkDRAExecutorsBelowTarget).
	BelowTargetFor model.Duration `json:"belowTargetFor"`
	// FailedTaskRatio: the failed share of the task attempts that ended within
	// FailedTasksWindow above which the alert SparkTasksFailing fires, when at least
	// FailedTasksMin attempts failed.
	FailedTaskRatio float64 `json:"failedTaskRatio"`
	// FailedTasksMin is the fewest failed attempts within the window that can fire it.
	FailedTasksMin int `json:"failedTasksMin"`
	// FailedTasksWindow is the range of that alert's increase().
	FailedTasksWindow model.Duration `json:"failedTasksWindow"`
	// FailedTasksFor is that alert's `for:`.
	FailedTasksFor model.Duration `json:"failedTasksFor"`
	// ExitedUnexpectedlyThreshold: this many executors exiting unexpectedly within
	// ExitedUnexpectedlyWindow (the driver's own count, Spark's own DRA only) fire the alert
	// SparkExecutorsExitedUnexpectedly.
	ExitedUnexpectedlyThreshold int `json:"exitedUnexpectedlyThreshold"`
	// ExitedUnexpectedlyWindow is the range of that alert's increase().
	ExitedUnexpectedlyWindow model.Duration `json:"exitedUnexpectedlyWindow"`
	// ExitedUnexpectedlyFor is that alert's `for:`.
	ExitedUnexpectedlyFor model.Duration `json:"exitedUnexpectedlyFor"`
	// DriverDownFor is how long a driver may stay unscrapeable (alert SparkDriverUnreachable).
	DriverDownFor model.Duration `json:"driverDownFor"`
	// StaleThreshold: a scaler decision based on an observation older than this is stale
	// (alert SparkDRAScalerStale).
	StaleThreshold model.Duration `json:"staleThreshold"`
	// StaleFor is that alert's `for:`.
	StaleFor model.Duration `json:"staleFor"`

	// ExporterJob is the Prometheus job label of spark-dra-exporter's targets (the Service's
	// name under a ServiceMonitor); alert SparkDRAExporterDown reads up{job=ExporterJob}.
	ExporterJob string `json:"exporterJob"`
	// ScalerJob is the job label of spark-dra-scaler's targets (alert SparkDRAScalerDown).
	ScalerJob string `json:"scalerJob"`
	// ExporterDownFor is how long the exporter may be down or absent (alert SparkDRAExporterDown).
	ExporterDownFor model.Duration `json:"exporterDownFor"`
	// ScalerDownFor is how long the scaler may be down or absent (alert SparkDRAScalerDown).
	ScalerDownFor model.Duration `json:"scalerDownFor"`
	// PollErrorRatio: the share of an exporter's drivers whose latest poll failed, in (0, 1],
	// from which alert SparkDRAExporterPollErrors fires.
	PollErrorRatio float64 `json:"pollErrorRatio"`
	// PollErrorsFor is that alert's `for:`.
	PollErrorsFor model.Duration `json:"pollErrorsFor"`
	// PollOverrunFor is how long drivers' polls may take longer than the poll interval
	// (alert SparkDRAExporterPollOverrun).
	PollOverrunFor model.Duration `json:"pollOverrunFor"`
	// HPAMaxedFor is how long the HPA of a sparkdra ScaledObject may run at its maxReplicaCount
	// while the scaler asks for at least as many (alert SparkDRAHPAMaxedOut).
	HPAMaxedFor model.Duration `json:"hpaMaxedFor"`
	// PodStartupAllowance is how long an executor or worker pod of a sparkdra ScaledObject may
	// stay Pending (image pull, scheduling, node scale-up) before alert SparkDRAPodsPending.
	PodStartupAllowance model.Duration `json:"podStartupAllowance"`
}

// DefaultConfig returns the configuration the committed dashboards and rules are generated from.
func DefaultConfig() Config {
	return Config{
		RunbookBaseURL:              "https://github.com/sparkdra/sparkdra/blob/main/docs/runbook.md",
		IdleCostResolution:          model.Duration(30 * time.Second),
		ShuffleIdleThreshold:        model.Duration(15 * time.Minute),
		ShuffleIdleFor:              model.Duration(5 * time.Minute),
		NeedlessPinFor:              model.Duration(10 * time.Minute),
		CacheIdleThreshold:          model.Duration(30 * time.Minute),
		CacheIdleFor:                model.Duration(5 * time.Minute),
		BacklogThreshold:            model.Duration(time.Minute),
		BacklogFor:                  model.Duration(10 * time.Minute),
		BelowTargetFor:              model.Duration(15 * time.Minute),
		DriverDownFor:               model.Duration(5 * time.Minute),
		StaleThreshold:              model.Duration(time.Minute),
		StaleFor:                    model.Duration(2 * time.Minute),
		ExporterJob:                 "spark-dra-exporter",
		ScalerJob:                   "spark-dra-scaler",
		ExporterDownFor:             model.Duration(5 * time.Minute),
		ScalerDownFor:               model.Duration(5 * time.Minute),
		PollErrorRatio:              0.5,
		PollErrorsFor:               model.Duration(10 * time.Minute),
		PollOverrunFor:              model.Duration(10 * time.Minute),
		HPAMaxedFor:                 model.Duration(15 * time.Minute),
		PodStartupAllowance:         model.Duration(5 * time.Minute),
		FailedTaskRatio:             0.1,
		FailedTasksMin:              10,
		FailedTasksWindow:           model.Duration(10 * time.Minute),
		FailedTasksFor:              model.Duration(5 * time.Minute),
		ExitedUnexpectedlyThreshold: 1,
		ExitedUnexpectedlyWindow:    model.Duration(10 * time.Minute),
		ExitedUnexpectedlyFor:       model.Duration(0),
	}
}

// LoadConfig reads a YAML file over DefaultConfig: keys it leaves out keep their defaults, an
// unknown key is an error. The result is validated.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parse config %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	positive := []struct {
		name string
		d    model.Duration
	}{
		{"idleCostResolution", c.IdleCostResolution},
		{"shuffleIdleThreshold", c.ShuffleIdleThreshold},
		{"cacheIdleThreshold", c.CacheIdleThreshold},
		{"backlogThreshold", c.BacklogThreshold},
		{"staleThreshold", c.StaleThreshold},
		{"exitedUnexpectedlyWindow", c.ExitedUnexpectedlyWindow},
		{"failedTasksWindow", c.FailedTasksWindow},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %s", p.name, p.d))
		}
	}
	nonNegative := []struct {
		name string
		d    model.Duration
	}{
		{"shuffleIdleFor", c.ShuffleIdleFor}, {"needlessPinFor", c.NeedlessPinFor}, {"cacheIdleFor", c.CacheIdleFor},
		{"backlogFor", c.BacklogFor}, {"belowTargetFor", c.BelowTargetFor},
		{"driverDownFor", c.DriverDownFor}, {"staleFor", c.StaleFor},
		{"exporterDownFor", c.ExporterDownFor}, {"scalerDownFor", c.ScalerDownFor},
		{"pollErrorsFor", c.PollErrorsFor}, {"pollOverrunFor", c.PollOverrunFor},
		{"hpaMaxedFor", c.HPAMaxedFor}, {"podStartupAllowance", c.PodStartupAllowance},
		{"exitedUnexpectedlyFor", c.ExitedUnexpectedlyFor},
		{"failedTasksFor", c.FailedTasksFor},
	}
	for _, p := range nonNegative {
		if p.d < 0 {
			errs = append(errs, fmt.Errorf("%s must be >= 0, got %s", p.name, p.d))
		}
	}
	if c.PollErrorRatio <= 0 || c.PollErrorRatio > 1 {
		errs = append(errs, fmt.Errorf("pollErrorRatio must be in (0, 1], got %g", c.PollErrorRatio))
	}
	if c.ExporterJob == "" || c.ScalerJob == "" {
		errs = append(errs, errors.New("exporterJob and scalerJob must not be empty"))
	}
	if c.FailedTaskRatio <= 0 || c.FailedTaskRatio >= 1 {
		errs = append(errs, fmt.Errorf("failedTaskRatio must be in (0, 1), got %g", c.FailedTaskRatio))
	}
	if c.FailedTasksMin < 1 {
		errs = append(errs, fmt.Errorf("failedTasksMin must be >= 1, got %d", c.FailedTasksMin))
	}
	if c.ExitedUnexpectedlyThreshold < 1 {
		errs = append(errs, fmt.Errorf("exitedUnexpectedlyThreshold must be >= 1, got %d", c.ExitedUnexpectedlyThreshold))
	}
	if c.RunbookBaseURL == "" {
		errs = append(errs, errors.New("runbookBaseURL must not be empty"))
	}
	return errors.Join(errs...)
}
