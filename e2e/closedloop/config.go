package closedloop

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"
)

// Mode says who drives the executors.
type Mode string

const (
	// ClosedLoop: DRA off in the application; sparkdra's scaler, through the emulated KEDA and
	// HPA and the worker pool, decides how many workers (executors) run.
	ClosedLoop Mode = "closed-loop"
	// Shadow: Spark's own DRA on in the application over a fixed pool of DRA.Max workers; the
	// scaler runs beside it on the same observations and its target is compared with the
	// driver's numberTargetExecutors.
	Shadow Mode = "shadow"
)

// DRA holds the dynamic-allocation settings of a run. The closed loop gives them to the scaler
// as ScaledObject trigger metadata; the shadow run gives the same values to the application.
type DRA struct {
	Min, Max                int
	SchedulerBacklogTimeout time.Duration
	SustainedBacklogTimeout time.Duration
	ExecutorIdleTimeout     time.Duration
	CachedIdleTimeout       time.Duration
	ShuffleTrackingTimeout  time.Duration
}

// DefaultDRA is short enough that a whole run (ramp-up, pauses, idle release) fits in minutes.
func DefaultDRA() DRA {
	return DRA{
		Min: 1, Max: 6,
		SchedulerBacklogTimeout: time.Second,
		SustainedBacklogTimeout: time.Second,
		// Spark's default. Requests younger than executorIdleTimeout are not cancelled
		// (docs/scaler.md), so this is how long a worker and its executor JVM may take to come:
		// 20-25 s on an idle 2-core machine, minutes when five other builds share it.
		ExecutorIdleTimeout:    60 * time.Second,
		CachedIdleTimeout:      30 * time.Second,
		ShuffleTrackingTimeout: 30 * time.Second,
	}
}

// Validate reports every unusable setting.
func (d DRA) Validate() error {
	var errs []error
	if d.Min < 0 || d.Max < 1 || d.Min > d.Max {
		errs = append(errs, fmt.Errorf("want 0 <= min (%d) <= max (%d), max >= 1", d.Min, d.Max))
	}
	for name, v := range map[string]time.Duration{
		"schedulerBacklogTimeout": d.SchedulerBacklogTimeout, "sustainedSchedulerBacklogTimeout": d.SustainedBacklogTimeout,
	} {
		if v < time.Second || v%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s %v: Spark takes whole seconds >= 1s", name, v))
		}
	}
	return errors.Join(errs...)
}

// LongestIdleTimeout is the longest any idle executor may be kept.
func (d DRA) LongestIdleTimeout() time.Duration {
	return max(d.ExecutorIdleTimeout, d.CachedIdleTimeout, d.ShuffleTrackingTimeout)
}

func secs(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// Properties are the settings under Spark's own property names.
func (d DRA) Properties() map[string]string {
	return map[string]string{
		"spark.dynamicAllocation.minExecutors":                     strconv.Itoa(d.Min),
		"spark.dynamicAllocation.maxExecutors":                     strconv.Itoa(d.Max),
		"spark.dynamicAllocation.initialExecutors":                 strconv.Itoa(d.Min),
		"spark.dynamicAllocation.schedulerBacklogTimeout":          secs(d.SchedulerBacklogTimeout),
		"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout": secs(d.SustainedBacklogTimeout),
		"spark.dynamicAllocation.executorIdleTimeout":              secs(d.ExecutorIdleTimeout),
		"spark.dynamicAllocation.cachedExecutorIdleTimeout":        secs(d.CachedIdleTimeout),
		"spark.dynamicAllocation.shuffleTracking.enabled":          "true",
		"spark.dynamicAllocation.shuffleTracking.timeout":          secs(d.ShuffleTrackingTimeout),
		"spark.executor.cores":                                     "1",
		"spark.task.cpus":                                          "1",
	}
}

// FreshRESTConf is what an application scaled from its REST API should set (manifests/README.md,
// "Fresh task counts in the applications sparkdra scales"): Spark writes a live stage's task counts to the store the REST API reads at
// most every spark.ui.liveUpdate.period (100ms), and only on the next task event after that, so a
// stage whose tasks run for seconds can show a finished task as running until the next event or an
// executor heartbeat's flush. Measured in make e2e at Spark's default: the REST API's pending +
// running differed from the driver's own count in 64 of 369 samples, for up to 5 s. 0 writes on
// every task event.
var FreshRESTConf = map[string]string{"spark.ui.liveUpdate.period": "0ms"}

// AppConf is the application's Spark configuration for mode: DRA off in the closed loop (the
// application takes every executor the cluster gives it), Spark's own DRA on in the shadow run;
// FreshRESTConf in both.
func (d DRA) AppConf(mode Mode) map[string]string {
	conf := maps.Clone(FreshRESTConf)
	if mode == ClosedLoop {
		conf["spark.dynamicAllocation.enabled"] = "false"
		return conf
	}
	maps.Copy(conf, d.Properties())
	conf["spark.dynamicAllocation.enabled"] = "true"
	return conf
}

// TriggerMetadata is the ScaledObject trigger metadata for the application named appName.
func (d DRA) TriggerMetadata(scalerAddress, appName string) map[string]string {
	meta := d.Properties()
	meta["scalerAddress"] = scalerAddress
	meta["selector"] = fmt.Sprintf("app_name=%q", appName)
	return meta
}

// Config describes one run.
type Config struct {
	Mode Mode
	// Python is the venv interpreter with pyspark; SparkHome its pyspark directory.
	Python, SparkHome string
	// ExporterBin and ScalerBin are the built sparkdra binaries.
	ExporterBin, ScalerBin string
	// PrometheusBin is Debian's prometheus; "" runs the embedded default (the scaler reads the
	// exporter's /metrics directly).
	PrometheusBin string
	// Dir is the run's scratch directory (logs, Spark work dirs, TSDB); EventLogDir, if set,
	// receives the application's event log.
	Dir, EventLogDir string
	// JobScript is e2e/jobs/<job>.py; JobArgs are extra job arguments (sizes).
	JobScript string
	JobArgs   []string
	// AppName is spark.app.name; the ScaledObject selects it.
	AppName string
	// Pause is the idle gap between the application's jobs.
	Pause time.Duration
	DRA   DRA
	// Tick is how often the harness steps KEDA/HPA and samples everything (default 500ms).
	Tick time.Duration
	// ScalerTick is spark-dra-scaler's --scaler.tick (default 100ms, Spark's own allocation
	// manager's schedule). With a 1 s tick and a 1 s sustainedSchedulerBacklogTimeout the add
	// time falls just after a tick half the time and adds land every 2 s instead of every 1 s.
	ScalerTick time.Duration
	// PollInterval is both the exporter's --spark.poll-interval and Prometheus' scrape interval
	// (default 250ms). The scaler sees a change in the driver after up to one poll plus one
	// scrape plus one tick; the spread of that delay, not its mean, is what the shadow
	// comparison (CompareShadow, one lag for the whole run) counts as disagreement at every
	// stage boundary, one sample per change of the target. Measured agreement: 0.905-0.944 at
	// 1 s; 0.942-0.980 at 500 ms with a 250 ms scaler tick (with FreshRESTConf). Spark's own
	// manager reacts within its 100 ms schedule. On a cluster the scrape interval is seconds
	// (manifests: 5 s), and the scaler follows Spark's target that much later.
	PollInterval time.Duration
	// IdleSlack is how long past the longest idle timeout the run waits for executors to go
	// back to minExecutors after the last job (default 30s).
	IdleSlack time.Duration
	// Timeout bounds the whole run (default 15m).
	Timeout time.Duration
	// OnTick, if set, sees every row as it is recorded.
	OnTick func(Row)
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
	// BeforeStop, if set, runs after the jobs, while every process of the run is still up,
	// with the base URL of the run's Prometheus ("" when it has none). Its error fails Run.
	BeforeStop func(ctx context.Context, prometheusURL string) error
}

// DefaultPollInterval is Config.PollInterval when it is not set.
const DefaultPollInterval = 250 * time.Millisecond

// ScrapeInterval is the run's exporter poll and Prometheus scrape interval: PollInterval, or
// DefaultPollInterval when it is not set.
func (c Config) ScrapeInterval() time.Duration {
	if c.PollInterval > 0 {
		return c.PollInterval
	}
	return DefaultPollInterval
}

// Validate reports every missing or unusable setting.
func (c Config) Validate() error {
	var errs []error
	if c.Mode != ClosedLoop && c.Mode != Shadow {
		errs = append(errs, fmt.Errorf("mode %q: want %q or %q", c.Mode, ClosedLoop, Shadow))
	}
	for name, v := range map[string]string{"Python": c.Python, "SparkHome": c.SparkHome, "ExporterBin": c.ExporterBin,
		"ScalerBin": c.ScalerBin, "Dir": c.Dir, "JobScript": c.JobScript, "AppName": c.AppName} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if err := c.DRA.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.Tick <= 0 {
		c.Tick = 500 * time.Millisecond
	}
	if c.ScalerTick <= 0 {
		c.ScalerTick = 100 * time.Millisecond
	}
	c.PollInterval = c.ScrapeInterval()
	if c.IdleSlack <= 0 {
		c.IdleSlack = 30 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}
