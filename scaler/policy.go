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

// Spark's block-migration properties the releasing policies read
// (docs/spark-dra.md §1; Spark's BlockManagerDecommissioner migrates
// blocks only with spark.storage.decommission.enabled).
const (
	KeyStorageDecommission   = "spark.storage.decommission.enabled"
	KeyDecommissionRDDBlocks = "spark.storage.decommission.rddBlocks.enabled"
)

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
	// PolicyRelease lets idle executors go at the plain
	// executorIdleTimeout when what they hold survives their removal
	// (docs/spark-dra.md §6, updateTimeout, where Spark takes the maximum
	// of the timeouts that apply):
	//   - shuffle output of finished jobs, when decommissioning migrates
	//     it (CanMigrateShuffle) — Spark keeps such executors for
	//     shuffleTracking.timeout, by default never;
	//   - cached RDD blocks, when decommissioning migrates them
	//     (CanMigrateRDDBlocks) — Spark keeps them for
	//     cachedExecutorIdleTimeout, by default never.
	// Shuffle output of running jobs still pins, as in Spark. Without
	// migration it is PolicySpark: releasing would lose data.
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

// releasesFinishedShuffle reports whether finished jobs' shuffle output
// and cached blocks may stop pinning executors (when they can be migrated).
func (p Policy) releasesFinishedShuffle() bool { return p == PolicyRelease || p == PolicyLean }

// policy reads KeyPolicy (trimmed, case-insensitive) into c.Policy, an
// unknown name left for Validate to report, and the block-migration
// properties only the policies use.
func (pr *parser) policy(c *Config) {
	if v, ok := pr.value(KeyPolicy); ok {
		c.Policy = Policy(strings.ToLower(v))
	}
	pr.boolean(KeyStorageDecommission, &c.StorageDecommissionEnabled)
	pr.boolean(KeyDecommissionRDDBlocks, &c.DecommissionRDDBlocksEnabled)
}

// CanMigrateShuffle reports whether removing an executor keeps its shuffle
// output: decommissioning migrates shuffle blocks
// (spark.decommission.enabled, spark.storage.decommission.enabled and
// spark.storage.decommission.shuffleBlocks.enabled) or a shuffle plugin
// keeps it off the executors (ReliableShuffleStorage).
func (c Config) CanMigrateShuffle() bool {
	return (c.DecommissionEnabled && c.StorageDecommissionEnabled && c.DecommissionShuffleBlocksEnabled) ||
		c.ReliableShuffleStorage
}

// CanMigrateRDDBlocks reports whether removing an executor moves its
// cached RDD blocks to other executors (spark.decommission.enabled,
// spark.storage.decommission.enabled and
// spark.storage.decommission.rddBlocks.enabled). With no peer to take
// them Spark drops them and recomputes them when read.
func (c Config) CanMigrateRDDBlocks() bool {
	return c.DecommissionEnabled && c.StorageDecommissionEnabled && c.DecommissionRDDBlocksEnabled
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

// storageTimeout is the timeout the monitor applies to executors holding
// cached blocks: Spark's cachedExecutorIdleTimeout, or, under a releasing
// policy with RDD-block migration, no more than executorIdleTimeout.
func (c Config) storageTimeout() time.Duration {
	if c.Policy.releasesFinishedShuffle() && c.CanMigrateRDDBlocks() {
		return min(c.CachedExecutorIdleTimeout, c.ExecutorIdleTimeout)
	}
	return c.CachedExecutorIdleTimeout
}
