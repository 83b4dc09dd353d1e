package exporter

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Spark property names the exporter reads (docs/spark-dra.md §1).
const (
	keyEnabled                = "spark.dynamicAllocation.enabled"
	keyMinExecutors           = "spark.dynamicAllocation.minExecutors"
	keyMaxExecutors           = "spark.dynamicAllocation.maxExecutors"
	keyInitialExecutors       = "spark.dynamicAllocation.initialExecutors"
	keyExecutorInstances      = "spark.executor.instances"
	keyAllocationRatio        = "spark.dynamicAllocation.executorAllocationRatio"
	keyExecutorIdleTimeout    = "spark.dynamicAllocation.executorIdleTimeout"
	keyCachedIdleTimeout      = "spark.dynamicAllocation.cachedExecutorIdleTimeout"
	keyShuffleTracking        = "spark.dynamicAllocation.shuffleTracking.enabled"
	keyShuffleTrackingTimeout = "spark.dynamicAllocation.shuffleTracking.timeout"
	keyTesting                = "spark.dynamicAllocation.testing"
	keyShuffleService         = "spark.shuffle.service.enabled"
	keyShuffleServiceFetchRDD = "spark.shuffle.service.fetch.rdd.enabled"
	keyShuffleManager         = "spark.shuffle.manager"
	keyShuffleIOPlugin        = "spark.shuffle.sort.io.plugin.class"
	keyExecutorCores          = "spark.executor.cores"
	keyTaskCPUs               = "spark.task.cpus"
)

// Never is the duration standing for Spark's "never" timeouts (Long.MaxValue milliseconds).
const Never = time.Duration(math.MaxInt64)

// DRASettings are an application's own dynamic-allocation settings, with Spark's defaults for
// what is unset (docs/spark-dra.md §1). Timeouts are durations; Never means never.
type DRASettings struct {
	Enabled                   bool
	Testing                   bool
	MinExecutors              int // default 0
	MaxExecutors              int // default 2147483647
	InitialExecutors          int // max(min, initialExecutors, spark.executor.instances)
	ExecutorAllocationRatio   float64
	ExecutorIdleTimeout       time.Duration // default 60s
	CachedExecutorIdleTimeout time.Duration // default 2147483647 s
	ShuffleTrackingEnabled    bool          // default true (Spark 3.4+)
	ShuffleTrackingTimeout    time.Duration // default Never
	ShuffleServiceEnabled     bool
	ShuffleServiceFetchRDD    bool
	ExecutorCores             int // default 1
	TaskCPUs                  int // default 1
}

// TasksPerExecutor is spark.executor.cores / spark.task.cpus (integer division), 0 when the
// settings make it meaningless (cores < cpus or non-positive values).
func (s DRASettings) TasksPerExecutor() int {
	if s.TaskCPUs <= 0 || s.ExecutorCores < s.TaskCPUs {
		return 0
	}
	return s.ExecutorCores / s.TaskCPUs
}

// parseDRASettings reads the settings out of Spark properties. Values that do not parse keep
// their default; the error joins every problem.
func parseDRASettings(props map[string]string) (DRASettings, error) {
	s := DRASettings{
		MaxExecutors:              math.MaxInt32,
		ExecutorAllocationRatio:   1,
		ExecutorIdleTimeout:       60 * time.Second,
		CachedExecutorIdleTimeout: math.MaxInt32 * time.Second,
		ShuffleTrackingEnabled:    true,
		ShuffleTrackingTimeout:    Never,
		ExecutorCores:             1,
		TaskCPUs:                  1,
	}
	p := propReader{props: props}
	p.boolean(keyEnabled, &s.Enabled)
	p.boolean(keyTesting, &s.Testing)
	p.integer(keyMinExecutors, &s.MinExecutors)
	p.integer(keyMaxExecutors, &s.MaxExecutors)
	initial, instances := -1, -1
	p.integer(keyInitialExecutors, &initial)
	p.integer(keyExecutorInstances, &instances)
	s.InitialExecutors = max(s.MinExecutors, initial, instances)
	p.double(keyAllocationRatio, &s.ExecutorAllocationRatio)
	p.duration(keyExecutorIdleTimeout, time.Second, &s.ExecutorIdleTimeout)
	p.duration(keyCachedIdleTimeout, time.Second, &s.CachedExecutorIdleTimeout)
	p.boolean(keyShuffleTracking, &s.ShuffleTrackingEnabled)
	p.duration(keyShuffleTrackingTimeout, time.Millisecond, &s.ShuffleTrackingTimeout)
	p.boolean(keyShuffleService, &s.ShuffleServiceEnabled)
	p.boolean(keyShuffleServiceFetchRDD, &s.ShuffleServiceFetchRDD)
	p.integer(keyExecutorCores, &s.ExecutorCores)
	p.integer(keyTaskCPUs, &s.TaskCPUs)
	if s.TasksPerExecutor() == 0 {
		p.errs = append(p.errs, fmt.Errorf("%s (%d) must be >= %s (%d), both > 0",
			keyExecutorCores, s.ExecutorCores, keyTaskCPUs, s.TaskCPUs))
	}
	return s, errors.Join(p.errs...)
}

type propReader struct {
	props map[string]string
	errs  []error
}

func (p *propReader) get(key string) (string, bool) {
	v, ok := p.props[key]
	return strings.TrimSpace(v), ok
}

func (p *propReader) fail(key, val string, err error) {
	p.errs = append(p.errs, fmt.Errorf("%s=%q: %w", key, val, err))
}

func (p *propReader) boolean(key string, dst *bool) {
	if v, ok := p.get(key); ok {
		switch strings.ToLower(v) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			p.fail(key, v, errors.New("not a boolean"))
		}
	}
}

func (p *propReader) integer(key string, dst *int) {
	if v, ok := p.get(key); ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			p.fail(key, v, errors.New("not an integer"))
			return
		}
		*dst = int(n)
	}
}

func (p *propReader) double(key string, dst *float64) {
	if v, ok := p.get(key); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			p.fail(key, v, errors.New("not a number"))
			return
		}
		*dst = f
	}
}

func (p *propReader) duration(key string, unit time.Duration, dst *time.Duration) {
	if v, ok := p.get(key); ok {
		d, err := parseSparkDuration(v, unit)
		if err != nil {
			p.fail(key, v, err)
			return
		}
		*dst = d
	}
}

var sparkTimeUnits = map[string]time.Duration{
	"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute,
	"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
}

// parseSparkDuration reads Spark's time syntax ("60s", "2min", "500ms", or a bare number in the
// key's unit) and truncates to that unit, as Spark keeps it. Overflow saturates to Never.
func parseSparkDuration(v string, unit time.Duration) (time.Duration, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, errors.New("not a Spark duration (e.g. 60s, 2min, 500ms)")
	}
	u := unit
	if suffix := strings.TrimSpace(s[i:]); suffix != "" {
		var ok bool
		if u, ok = sparkTimeUnits[suffix]; !ok {
			return 0, fmt.Errorf("unknown time unit %q", suffix)
		}
	}
	if n != 0 && (n > math.MaxInt64/int64(u) || n < math.MinInt64/int64(u)) {
		return Never, nil
	}
	return (time.Duration(n) * u).Truncate(unit), nil
}

// usesCeleborn reports whether shuffle data goes to Apache Celeborn (its shuffle manager, or its
// ShuffleDataIO on Spark 3.5+), so it does not live on the executors.
func usesCeleborn(props map[string]string) bool {
	for _, k := range []string{keyShuffleManager, keyShuffleIOPlugin} {
		if strings.HasPrefix(strings.TrimSpace(props[k]), "org.apache.spark.shuffle.celeborn.") {
			return true
		}
	}
	return false
}
