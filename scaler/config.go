package scaler

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Spark property names the engine reads (docs/spark-dra.md §1).
const (
	KeyEnabled                  = "spark.dynamicAllocation.enabled"
	KeyMinExecutors             = "spark.dynamicAllocation.minExecutors"
	KeyMaxExecutors             = "spark.dynamicAllocation.maxExecutors"
	KeyInitialExecutors         = "spark.dynamicAllocation.initialExecutors"
	KeyExecutorAllocationRatio  = "spark.dynamicAllocation.executorAllocationRatio"
	KeySchedulerBacklogTimeout  = "spark.dynamicAllocation.schedulerBacklogTimeout"
	KeySustainedBacklogTimeout  = "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout"
	KeyExecutorIdleTimeout      = "spark.dynamicAllocation.executorIdleTimeout"
	KeyCachedExecutorIdle       = "spark.dynamicAllocation.cachedExecutorIdleTimeout"
	KeyShuffleTrackingEnabled   = "spark.dynamicAllocation.shuffleTracking.enabled"
	KeyShuffleTrackingTimeout   = "spark.dynamicAllocation.shuffleTracking.timeout"
	KeyTesting                  = "spark.dynamicAllocation.testing"
	KeyExecutorInstances        = "spark.executor.instances"
	KeyShuffleServiceEnabled    = "spark.shuffle.service.enabled"
	KeyShuffleServiceFetchRDD   = "spark.shuffle.service.fetch.rdd.enabled"
	KeyDecommissionEnabled      = "spark.decommission.enabled"
	KeyDecommissionShuffleBlock = "spark.storage.decommission.shuffleBlocks.enabled"
	KeyExecutorCores            = "spark.executor.cores"
	KeyTaskCPUs                 = "spark.task.cpus"
	KeyShuffleManager           = "spark.shuffle.manager"
	KeyShuffleIOPlugin          = "spark.shuffle.sort.io.plugin.class"
)

// cachedIdleDefault is Spark's default cachedExecutorIdleTimeout:
// Integer.MAX_VALUE seconds (about 68 years, i.e. never).
const cachedIdleDefault = time.Duration(math.MaxInt32) * time.Second

// Config holds the settings of Spark's ExecutorAllocationManager and
// ExecutorMonitor, with Spark's defaults (docs/spark-dra.md §1). Durations
// are Go durations holding what Spark keeps after reading the property in
// its own unit: the backlog and idle timeouts are whole seconds, the shuffle
// tracking timeout whole milliseconds; Infinite means never.
type Config struct {
	// Enabled is spark.dynamicAllocation.enabled (default false). The
	// engine runs either way; it is reported, not enforced.
	Enabled bool
	// MinExecutors is the per-ResourceProfile lower bound (default 0).
	MinExecutors int
	// MaxExecutors is the per-ResourceProfile upper bound (default Int.MaxValue).
	MaxExecutors int
	// InitialExecutorsSetting is spark.dynamicAllocation.initialExecutors;
	// -1 when unset (then it falls back to MinExecutors). See InitialExecutors.
	InitialExecutorsSetting int
	// ExecutorInstances is spark.executor.instances; -1 when unset.
	ExecutorInstances int
	// ExecutorAllocationRatio scales the executors needed, in (0, 1] (default 1).
	ExecutorAllocationRatio float64
	// SchedulerBacklogTimeout is how long a backlog must last before the
	// first add (default 1s, whole seconds).
	SchedulerBacklogTimeout time.Duration
	// SustainedSchedulerBacklogTimeout is the pause between later adds
	// (defaults to SchedulerBacklogTimeout, whole seconds).
	SustainedSchedulerBacklogTimeout time.Duration
	// ExecutorIdleTimeout releases an idle executor holding nothing (default 60s).
	ExecutorIdleTimeout time.Duration
	// CachedExecutorIdleTimeout applies to executors holding cached blocks
	// (default Integer.MAX_VALUE seconds: never in practice).
	CachedExecutorIdleTimeout time.Duration
	// ShuffleTrackingEnabled is spark.dynamicAllocation.shuffleTracking.enabled
	// (default true since Spark 3.4).
	ShuffleTrackingEnabled bool
	// ShuffleTrackingTimeout applies to executors holding shuffle data of
	// finished jobs (default Long.MAX_VALUE ms: Infinite).
	ShuffleTrackingTimeout time.Duration
	// ShuffleServiceEnabled is spark.shuffle.service.enabled (default false).
	ShuffleServiceEnabled bool
	// ShuffleServiceFetchRDDEnabled is spark.shuffle.service.fetch.rdd.enabled
	// (default false): with the service, disk-persisted RDD blocks don't pin.
	ShuffleServiceFetchRDDEnabled bool
	// DecommissionEnabled is spark.decommission.enabled (default false).
	DecommissionEnabled bool
	// DecommissionShuffleBlocksEnabled is
	// spark.storage.decommission.shuffleBlocks.enabled (default true).
	DecommissionShuffleBlocksEnabled bool
	// ReliableShuffleStorage says the shuffle plugin keeps shuffle data off
	// the executors: Spark 3.5+ asks the ShuffleDataIO named by
	// spark.shuffle.sort.io.plugin.class (SparkContext passes
	// ShuffleDriverComponents.supportsReliableStorage to the allocation
	// manager). ParseConfig sets it for Apache Celeborn's CelebornShuffleDataIO.
	// It makes DRA valid without a shuffle service or tracking; it does NOT
	// stop the ExecutorMonitor from pinning executors that ran shuffle map
	// tasks while tracking is on (ShuffleTracking; design.md, "What an
	// executor holds").
	ReliableShuffleStorage bool
	// RemoteShuffleManager says spark.shuffle.manager is Apache Celeborn's.
	// Spark itself ignores it for DRA; Celeborn's DRA patch for Spark ≤ 3.5
	// (assets/spark-patch/Celeborn_Dynamic_Allocation_spark3_*.patch, which
	// keys on "celeborn" in spark.shuffle.manager) accepts DRA with it and
	// no other mechanism, so Validate does too. Like ReliableShuffleStorage,
	// it does not unpin executors while tracking is on.
	RemoteShuffleManager bool
	// Testing is spark.dynamicAllocation.testing: skips the shuffle-data
	// safety check, as in Spark.
	Testing bool
	// ExecutorCores is spark.executor.cores (default 1).
	ExecutorCores int
	// TaskCPUs is spark.task.cpus (default 1).
	TaskCPUs int
	// Policy is sparkdra's allocation policy (key "policy"; policy.go).
	// The empty Policy is PolicySpark.
	Policy Policy
	// StorageDecommissionEnabled is spark.storage.decommission.enabled
	// (default false) and DecommissionRDDBlocksEnabled
	// spark.storage.decommission.rddBlocks.enabled (default true); only
	// sparkdra's policies read them (policy.go).
	StorageDecommissionEnabled   bool
	DecommissionRDDBlocksEnabled bool
}

// DefaultConfig returns Spark's defaults (docs/spark-dra.md §1).
func DefaultConfig() Config {
	return Config{
		MaxExecutors:                     math.MaxInt32,
		InitialExecutorsSetting:          -1,
		ExecutorInstances:                -1,
		ExecutorAllocationRatio:          1.0,
		SchedulerBacklogTimeout:          time.Second,
		SustainedSchedulerBacklogTimeout: time.Second,
		ExecutorIdleTimeout:              60 * time.Second,
		CachedExecutorIdleTimeout:        cachedIdleDefault,
		ShuffleTrackingEnabled:           true,
		ShuffleTrackingTimeout:           Infinite,
		DecommissionShuffleBlocksEnabled: true,
		DecommissionRDDBlocksEnabled:     true,
		ExecutorCores:                    1,
		TaskCPUs:                         1,
	}
}

// InitialExecutors is Spark's Utils.getDynamicAllocationInitialExecutors
// (docs/spark-dra.md §1.2): max(minExecutors, initialExecutors,
// spark.executor.instances), unset values counting as minExecutors or 0.
// It is not capped by MaxExecutors, as in Spark.
func (c Config) InitialExecutors() int {
	initial := c.MinExecutors
	if c.InitialExecutorsSetting >= 0 {
		initial = c.InitialExecutorsSetting
	}
	n := max(c.MinExecutors, initial)
	if c.ExecutorInstances > 0 {
		n = max(n, c.ExecutorInstances)
	}
	return n
}

// TasksPerExecutor is the default ResourceProfile's task slots per executor,
// executorCores / taskCpus with integer division (docs/spark-dra.md §1.3);
// at least 1.
func (c Config) TasksPerExecutor() int {
	if c.TaskCPUs <= 0 || c.ExecutorCores < c.TaskCPUs {
		return 1
	}
	return c.ExecutorCores / c.TaskCPUs
}

// ShuffleTracking reports whether the ExecutorMonitor pins executors that
// ran shuffle map tasks: exactly ExecutorMonitor's
// shuffleTrackingEnabled = !spark.shuffle.service.enabled &&
// spark.dynamicAllocation.shuffleTracking.enabled (ExecutorMonitor.scala,
// docs/spark-dra.md §6). Where the shuffle lives (Celeborn, a reliable
// ShuffleDataIO) and decommissioning play no part in it.
func (c Config) ShuffleTracking() bool {
	return !c.ShuffleServiceEnabled && c.ShuffleTrackingEnabled
}

// ShuffleOffExecutors reports whether executors' shuffle output survives
// their removal without a shuffle service: Celeborn's ShuffleDataIO
// (ReliableShuffleStorage) or its shuffle manager (RemoteShuffleManager).
func (c Config) ShuffleOffExecutors() bool {
	return c.ReliableShuffleStorage || c.RemoteShuffleManager
}

// NeedlessShufflePinning reports whether the monitor pins executors for
// shuffle output that is safe without them: ShuffleTracking is on while
// Celeborn keeps the shuffle (ShuffleOffExecutors) or decommissioning
// migrates shuffle blocks (CanMigrateShuffle: spark.decommission.enabled,
// spark.storage.decommission.enabled and
// spark.storage.decommission.shuffleBlocks.enabled). Turning shuffle
// tracking off then releases such executors after executorIdleTimeout and
// loses nothing (docs/runbook.md, SparkDRANeedlessShufflePinning). Spark's
// own warning (WarningTrackingWithOtherMechanism) does not look at
// spark.storage.decommission.enabled; without it no block migrates.
func (c Config) NeedlessShufflePinning() bool {
	return c.ShuffleTracking() && c.CanMigrateShuffle()
}

// Warning is one thing the settings warn about: a stable Reason (a
// Prometheus label value) and the Message, in Spark's words where Spark
// logs it.
type Warning struct {
	// Reason names the warning: one of the Warning* constants.
	Reason string
	// Message is the text, Spark's own log line where Spark logs it.
	Message string
}

// The reasons Warnings reports.
const (
	// WarningInitialBelowMin: spark.dynamicAllocation.initialExecutors <
	// minExecutors; Spark logs it and ignores the setting
	// (Utils.getDynamicAllocationInitialExecutors).
	WarningInitialBelowMin = "initial_executors_below_min"
	// WarningInstancesBelowMin: spark.executor.instances < minExecutors;
	// Spark logs it and ignores the setting (same method).
	WarningInstancesBelowMin = "executor_instances_below_min"
	// WarningTrackingWithOtherMechanism: Spark's own WARN in
	// ExecutorAllocationManager.validateSettings — the
	// spark.dynamicAllocation.shuffleTracking.enabled setting is on while
	// shuffle-block decommissioning or a reliable ShuffleDataIO also makes
	// DRA safe (docs/spark-dra.md §1.1 rule 7). Spark tests the setting, not
	// the monitor's effective tracking, so it also fires with the external
	// shuffle service on (where nothing is pinned).
	WarningTrackingWithOtherMechanism = "shuffle_tracking_with_other_mechanism"
	// WarningTrackingWithRemoteShuffleManager: sparkdra's own (Spark logs
	// nothing): effective shuffle tracking with Celeborn's shuffle manager
	// but without its ShuffleDataIO, so executors are pinned for shuffle
	// data that lives in Celeborn.
	WarningTrackingWithRemoteShuffleManager = "shuffle_tracking_with_remote_shuffle_manager"
)

// Warnings returns what the settings warn about, in a fixed order: what
// Spark logs at WARN for them but accepts (docs/spark-dra.md §1.1 rule 7
// and §1.2), and WarningTrackingWithRemoteShuffleManager.
func (c Config) Warnings() []Warning {
	var w []Warning
	if c.InitialExecutorsSetting >= 0 && c.InitialExecutorsSetting < c.MinExecutors {
		w = append(w, Warning{WarningInitialBelowMin, fmt.Sprintf(
			"%s less than %s is invalid, ignoring its setting, please update your configs.",
			KeyInitialExecutors, KeyMinExecutors)})
	}
	if c.ExecutorInstances >= 0 && c.ExecutorInstances < c.MinExecutors {
		w = append(w, Warning{WarningInstancesBelowMin, fmt.Sprintf(
			"%s less than %s is invalid, ignoring its setting, please update your configs.",
			KeyExecutorInstances, KeyMinExecutors)})
	}
	if c.ShuffleTrackingEnabled && ((c.DecommissionEnabled && c.DecommissionShuffleBlocksEnabled) || c.ReliableShuffleStorage) {
		w = append(w, Warning{WarningTrackingWithOtherMechanism,
			"You are enabling both shuffle tracking and other DA supported mechanism, which will cause " +
				"idle executors not to be released in a timely, please check the configurations."})
	}
	if c.ShuffleTracking() && c.RemoteShuffleManager && !c.ReliableShuffleStorage {
		w = append(w, Warning{WarningTrackingWithRemoteShuffleManager, fmt.Sprintf(
			"Shuffle tracking keeps executors that ran shuffle map tasks although %s sends shuffle data to Apache Celeborn; "+
				"set %s to Celeborn's ShuffleDataIO (Spark 3.5+) and %s=false.",
			KeyShuffleManager, KeyShuffleIOPlugin, KeyShuffleTrackingEnabled)})
	}
	return w
}

// Validate applies the checks Spark makes when it builds the allocation
// manager (ExecutorAllocationManager.validateSettings, the config-level
// checkValue rules and ResourceProfile's cores check; docs/spark-dra.md §1.1)
// and returns every failure joined with errors.Join, nil if none. Each
// message names the property, its value and the rule, in Spark's words.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.MinExecutors < 0 || c.MaxExecutors < 0 {
		add("%s (%d) and %s (%d) must be positive!", KeyMinExecutors, c.MinExecutors, KeyMaxExecutors, c.MaxExecutors)
	}
	if c.MaxExecutors == 0 {
		add("%s cannot be 0!", KeyMaxExecutors)
	}
	if c.MinExecutors > c.MaxExecutors {
		add("%s (%d) must be less than or equal to %s (%d)!", KeyMinExecutors, c.MinExecutors, KeyMaxExecutors, c.MaxExecutors)
	}
	if c.SchedulerBacklogTimeout <= 0 {
		add("%s (%v) must be > 0!", KeySchedulerBacklogTimeout, c.SchedulerBacklogTimeout)
	}
	if c.SustainedSchedulerBacklogTimeout <= 0 {
		add("%s (%v) must be > 0!", KeySustainedBacklogTimeout, c.SustainedSchedulerBacklogTimeout)
	}
	errs = append(errs, c.ValidateMonitor())
	if !c.ShuffleServiceEnabled && !c.ShuffleOffExecutors() && !c.ShuffleTrackingEnabled &&
		!(c.DecommissionEnabled && c.DecommissionShuffleBlocksEnabled) && !c.Testing {
		add("Dynamic allocation of executors requires one of the following conditions: "+
			"1) enabling external shuffle service through %s. "+
			"2) enabling shuffle tracking through %s. "+
			"3) enabling shuffle blocks decommission through %s and %s. "+
			"4) (Experimental) configuring %s to use a custom ShuffleDataIO whose ShuffleDriverComponents supports reliable storage.",
			KeyShuffleServiceEnabled, KeyShuffleTrackingEnabled, KeyDecommissionEnabled, KeyDecommissionShuffleBlock, KeyShuffleIOPlugin)
	}
	if math.IsNaN(c.ExecutorAllocationRatio) || c.ExecutorAllocationRatio > 1.0 || c.ExecutorAllocationRatio <= 0.0 {
		add("%s (%v) must be > 0 and <= 1.0", KeyExecutorAllocationRatio, c.ExecutorAllocationRatio)
	}
	// Not a Spark rule, but Spark cannot start with them either: a zero or
	// negative core count makes every executor unusable.
	if c.ExecutorCores <= 0 {
		add("%s (%d) must be > 0", KeyExecutorCores, c.ExecutorCores)
	}
	if c.TaskCPUs <= 0 {
		add("%s (%d) must be > 0", KeyTaskCPUs, c.TaskCPUs)
	}
	if c.ExecutorCores > 0 && c.TaskCPUs > 0 && c.ExecutorCores < c.TaskCPUs {
		add("The number of cores per executor (=%d) has to be >= the number of cpus per task = %d.", c.ExecutorCores, c.TaskCPUs)
	}
	errs = append(errs, c.Policy.validate())
	return errors.Join(errs...)
}

// ValidateMonitor applies only the checks Spark makes when it reads the
// ExecutorMonitor's own settings (the config-level checkValue rules of the
// three idle timeouts): what a monitor built on its own, as Spark's
// ExecutorMonitorSuite builds it, requires. It returns every failure joined,
// nil if none. Validate includes it.
func (c Config) ValidateMonitor() error {
	var errs []error
	for _, t := range []struct {
		key string
		v   time.Duration
	}{
		{KeyExecutorIdleTimeout, c.ExecutorIdleTimeout},
		{KeyCachedExecutorIdle, c.CachedExecutorIdleTimeout},
		{KeyShuffleTrackingTimeout, c.ShuffleTrackingTimeout},
	} {
		if t.v < 0 {
			errs = append(errs, fmt.Errorf("%s (%v): Timeout must be >= 0.", t.key, t.v))
		}
	}
	return errors.Join(errs...)
}

// celebornPackage is the package of Apache Celeborn's Spark client classes:
// its shuffle managers (SparkShuffleManager, …) and CelebornShuffleDataIO.
const celebornPackage = "org.apache.spark.shuffle.celeborn."

// ParseConfig reads Spark properties (as strings, the way spark-submit and
// /api/v1/.../environment show them) into a Config with Spark's defaults,
// then validates it. Keys it does not know are ignored, so a whole
// property set or a ScaledObject's trigger metadata can be passed as is.
// Integers, doubles and booleans use Spark's syntax; durations use Spark's
// time syntax in each key's own unit (ParseSparkDuration). The error, if any,
// joins every parse and validation problem (errors.Join); the returned
// Config then holds the defaults for the keys that failed to parse.
func ParseConfig(props map[string]string) (Config, error) {
	c, err := ParseProperties(props)
	if verr := c.Validate(); verr != nil {
		err = errors.Join(err, verr)
	}
	return c, err
}

// ParseProperties reads Spark properties into a Config as ParseConfig does,
// but reports only parse errors: no validation. It is for a monitor-only
// Manager (ManagerOptions.MonitorOnly), which Spark builds without the
// allocation manager's checks; everything else should use ParseConfig.
func ParseProperties(props map[string]string) (Config, error) {
	c := DefaultConfig()
	p := parser{props: props}
	p.boolean(KeyEnabled, &c.Enabled)
	p.integer(KeyMinExecutors, &c.MinExecutors)
	p.integer(KeyMaxExecutors, &c.MaxExecutors)
	p.integer(KeyInitialExecutors, &c.InitialExecutorsSetting)
	p.integer(KeyExecutorInstances, &c.ExecutorInstances)
	p.double(KeyExecutorAllocationRatio, &c.ExecutorAllocationRatio)
	p.duration(KeySchedulerBacklogTimeout, time.Second, &c.SchedulerBacklogTimeout)
	c.SustainedSchedulerBacklogTimeout = c.SchedulerBacklogTimeout
	p.duration(KeySustainedBacklogTimeout, time.Second, &c.SustainedSchedulerBacklogTimeout)
	p.duration(KeyExecutorIdleTimeout, time.Second, &c.ExecutorIdleTimeout)
	p.duration(KeyCachedExecutorIdle, time.Second, &c.CachedExecutorIdleTimeout)
	p.boolean(KeyShuffleTrackingEnabled, &c.ShuffleTrackingEnabled)
	p.duration(KeyShuffleTrackingTimeout, time.Millisecond, &c.ShuffleTrackingTimeout)
	p.boolean(KeyShuffleServiceEnabled, &c.ShuffleServiceEnabled)
	p.boolean(KeyShuffleServiceFetchRDD, &c.ShuffleServiceFetchRDDEnabled)
	p.boolean(KeyDecommissionEnabled, &c.DecommissionEnabled)
	p.boolean(KeyDecommissionShuffleBlock, &c.DecommissionShuffleBlocksEnabled)
	p.boolean(KeyTesting, &c.Testing)
	p.integer(KeyExecutorCores, &c.ExecutorCores)
	p.integer(KeyTaskCPUs, &c.TaskCPUs)
	p.policy(&c)
	c.ReliableShuffleStorage = isCeleborn(props[KeyShuffleIOPlugin])
	c.RemoteShuffleManager = isCeleborn(props[KeyShuffleManager])
	return c, errors.Join(p.errs...)
}

// isCeleborn reports whether a class name is one of Apache Celeborn's Spark
// client classes (design.md, "What an executor holds").
func isCeleborn(class string) bool {
	return strings.HasPrefix(strings.TrimSpace(class), celebornPackage)
}

// parser reads typed values out of a property map, collecting errors in
// key order so messages are stable.
type parser struct {
	props map[string]string
	errs  []error
}

func (p *parser) value(key string) (string, bool) {
	v, ok := p.props[key]
	return strings.TrimSpace(v), ok
}

func (p *parser) fail(key, val, typ string) {
	p.errs = append(p.errs, fmt.Errorf("%s should be %s, but was %s", key, typ, val))
}

func (p *parser) boolean(key string, dst *bool) {
	v, ok := p.value(key)
	if !ok {
		return
	}
	switch strings.ToLower(v) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		p.fail(key, v, "boolean")
	}
}

func (p *parser) integer(key string, dst *int) {
	v, ok := p.value(key)
	if !ok {
		return
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		p.fail(key, v, "int")
		return
	}
	*dst = int(n)
}

func (p *parser) double(key string, dst *float64) {
	v, ok := p.value(key)
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		p.fail(key, v, "double")
		return
	}
	*dst = f
}

func (p *parser) duration(key string, unit time.Duration, dst *time.Duration) {
	v, ok := p.value(key)
	if !ok {
		return
	}
	d, err := ParseSparkDuration(v, unit)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", key, err))
		return
	}
	*dst = d
}

// KnownKeys lists the Spark property names ParseConfig reads, sorted.
func KnownKeys() []string {
	keys := []string{
		KeyEnabled, KeyMinExecutors, KeyMaxExecutors, KeyInitialExecutors, KeyExecutorAllocationRatio,
		KeySchedulerBacklogTimeout, KeySustainedBacklogTimeout, KeyExecutorIdleTimeout, KeyCachedExecutorIdle,
		KeyShuffleTrackingEnabled, KeyShuffleTrackingTimeout, KeyTesting, KeyExecutorInstances,
		KeyShuffleServiceEnabled, KeyShuffleServiceFetchRDD, KeyDecommissionEnabled, KeyDecommissionShuffleBlock,
		KeyExecutorCores, KeyTaskCPUs, KeyShuffleManager, KeyShuffleIOPlugin,
	}
	sort.Strings(keys)
	return keys
}
