package scaler

import (
	"fmt"
	"strings"
	"time"
)

// KeyPolicy is the configuration key that selects the allocation policy.
// It is sparkdra's own, not a Spark property: Spark ignores it, and a
// ScaledObject's trigger metadata carries it beside Spark's keys.
const KeyPolicy = "policy"

// Policy names an allocation policy: Spark's DRA as is (PolicySpark, the
// default) or one of sparkdra's variants of it. Each variant changes one or
// two named steps of Spark's algorithm and leaves everything else — the
// listener, the removal floors, the timers — exactly as Spark has it, so
// both entry layers (Manager and Engine) honour it through the same core.
// The empty Policy means PolicySpark.
type Policy string

// The policies. docs/policies.md compares them on recorded Spark jobs.
const (
	// PolicySpark is Spark's DRA, byte for byte (docs/spark-dra.md §3–§6).
	PolicySpark Policy = "spark"
	// PolicyRamp raises the target straight to the executors needed when
	// the add timer fires, instead of Spark's 1, 2, 4, … ramp that waits
	// sustainedSchedulerBacklogTimeout between steps (docs/spark-dra.md §5,
	// addExecutors: numExecutorsToAdd). Lowering the target, the timers and
	// the removals are Spark's.
	PolicyRamp Policy = "ramp"
	// PolicyRelease lets executors that hold only shuffle output of finished
	// jobs go at the plain executorIdleTimeout when decommissioning can
	// migrate that output (spark.decommission.enabled and
	// spark.storage.decommission.shuffleBlocks.enabled, or a shuffle plugin
	// with reliable storage): Spark keeps them for
	// shuffleTracking.timeout, which defaults to never (docs/spark-dra.md
	// §6, updateTimeout). Without migration it is PolicySpark: releasing
	// would lose shuffle data a later job may read.
	PolicyRelease Policy = "release"
	// PolicyLean is PolicyRamp and PolicyRelease together.
	PolicyLean Policy = "lean"
)

// Policies lists the valid policy names, PolicySpark first.
func Policies() []Policy { return []Policy{PolicySpark, PolicyRamp, PolicyRelease, PolicyLean} }

// String returns the name; the empty Policy reads "spark".
func (p Policy) String() string {
	if p == "" {
		return string(PolicySpark)
	}
	return string(p)
}

// Valid reports whether p names a policy (the empty Policy included).
func (p Policy) Valid() bool {
	if p == "" {
		return true
	}
	for _, q := range Policies() {
		if p == q {
			return true
		}
	}
	return false
}

// validate returns the error Config.Validate reports for an unknown
// policy: the key, the value and the valid names; nil when valid.
func (p Policy) validate() error {
	if p.Valid() {
		return nil
	}
	names := make([]string, 0, len(Policies()))
	for _, q := range Policies() {
		names = append(names, string(q))
	}
	return fmt.Errorf("%s (%q) must be one of %s", KeyPolicy, string(p), strings.Join(names, ", "))
}

// rampsToNeed reports whether the add step goes straight to the need.
func (p Policy) rampsToNeed() bool { return p == PolicyRamp || p == PolicyLean }

// releasesFinishedShuffle reports whether finished jobs' shuffle output may
// stop pinning executors (when it can be migrated).
func (p Policy) releasesFinishedShuffle() bool { return p == PolicyRelease || p == PolicyLean }

// policy reads KeyPolicy (trimmed, case-insensitive) into dst; an
// unknown name is left for Validate to report.
func (pr *parser) policy(dst *Policy) {
	if v, ok := pr.value(KeyPolicy); ok {
		*dst = Policy(strings.ToLower(v))
	}
}

// CanMigrateShuffle reports whether removing an executor keeps its shuffle
// output: decommissioning migrates shuffle blocks
// (spark.decommission.enabled and
// spark.storage.decommission.shuffleBlocks.enabled) or a shuffle plugin
// keeps it off the executors (ReliableShuffleStorage).
func (c Config) CanMigrateShuffle() bool {
	return (c.DecommissionEnabled && c.DecommissionShuffleBlocksEnabled) || c.ReliableShuffleStorage
}

// shuffleTimeout is the timeout the monitor applies to executors holding
// shuffle output of finished jobs: Spark's shuffleTracking.timeout, or,
// under a releasing policy with migration, no more than
// executorIdleTimeout.
func (c Config) shuffleTimeout() time.Duration {
	if c.Policy.releasesFinishedShuffle() && c.CanMigrateShuffle() {
		return min(c.ShuffleTrackingTimeout, c.ExecutorIdleTimeout)
	}
	return c.ShuffleTrackingTimeout
}
