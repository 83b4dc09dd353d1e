package scaler

import (
	"fmt"
	"math"
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
	// PolicyPaced caps each add at the executors that would still find
	// work when they arrive (docs/spark-dra.md §5, addExecutors: Spark
	// adds towards maxNeeded, which counts every pending task). It learns
	// two things from the application's own history: the rate at which
	// the live executors finish tasks (the fall of pending+running since
	// the work last rose, i.e. since the current stage arrived) and how
	// long the cluster takes to bring up an executor it was asked for
	// (target rises to executor arrivals, smoothed). Pending tasks the
	// live executors will have finished by the time a new executor would
	// arrive are not counted. Until both are known (no executor yet, none
	// requested yet, no task of this stage finished) it adds as Spark does.
	PolicyPaced Policy = "paced"
	// PolicyLean is PolicyPaced and PolicyRelease together, and ramps
	// straight to the paced need (as PolicyRamp) once the pace is known:
	// straight to the executors that will find work, and release what
	// decommissioning can migrate.
	PolicyLean Policy = "lean"
)

// Policies lists the valid policy names, PolicySpark first.
func Policies() []Policy {
	return []Policy{PolicySpark, PolicyRamp, PolicyPaced, PolicyRelease, PolicyLean}
}

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

// paces reports whether adds are capped by the learned drain.
func (p Policy) paces() bool { return p == PolicyPaced || p == PolicyLean }

// rampsToNeed reports whether the add step of p goes straight to the
// need: always under PolicyRamp; under PolicyLean once the pace is known
// (before that the need counts tasks that may be done before any new
// executor arrives, and Lean ramps as Spark does).
func (a *allocator) rampsToNeed(p *profileState) bool {
	switch a.cfg.Policy {
	case PolicyRamp:
		return true
	case PolicyLean:
		return p.pace.latency > 0 && p.pace.rate > 0
	}
	return false
}

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
// spark.storage.decommission.shuffleBlocks.enabled) or Celeborn keeps it
// off the executors (ShuffleOffExecutors).
func (c Config) CanMigrateShuffle() bool {
	return (c.DecommissionEnabled && c.StorageDecommissionEnabled && c.DecommissionShuffleBlocksEnabled) ||
		c.ShuffleOffExecutors()
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

// paceState is what PolicyPaced learns per ResourceProfile.
type paceState struct {
	seen     bool
	lastAt   int64
	lastWork int
	// since is when pending+running last rose (a stage arrived), done the
	// tasks finished since, rate done per second since then.
	since     int64
	done      int
	rate      float64
	lastExecs int
	// requests holds when each executor asked for and not yet up was
	// asked for (oldest first).
	requests []int64
	// latency is the learned start-up latency in seconds; 0 unknown.
	latency float64
}

// pace updates what PolicyPaced learns, once per tick, before the targets
// are updated: the completion rate from the fall of pending+running since
// the last tick, executor arrivals against the outstanding requests, and
// the requests the last tick's target made.
func (a *allocator) pace(now int64, d demand) {
	for i := range a.profiles {
		p := &a.profiles[i]
		ps := &p.pace
		work := d.pendingTasks(p.id) + d.pendingSpeculativeTasks(p.id) + d.runningTasks(p.id)
		execs := d.executorCount(p.id)
		if !ps.seen || work > ps.lastWork {
			// New work (a stage arrived): measure the rate afresh, so a
			// stage of short tasks is not judged by its long predecessor.
			ps.since, ps.done, ps.rate = now, 0, 0
		}
		if ps.seen && now > ps.lastAt {
			ps.done += max(0, ps.lastWork-work)
		}
		if now > ps.since {
			ps.rate = float64(ps.done) / (float64(now-ps.since) / 1e9)
			for k := ps.lastExecs; k < execs && len(ps.requests) > 0; k++ {
				sample := float64(now-ps.requests[0]) / 1e9
				ps.requests = ps.requests[1:]
				if ps.latency == 0 {
					ps.latency = sample
				} else {
					ps.latency = 0.7*ps.latency + 0.3*sample
				}
			}
		}
		// Requests outstanding: what the target asks beyond the live executors.
		want := max(0, p.target-execs)
		for len(ps.requests) < want {
			ps.requests = append(ps.requests, now)
		}
		ps.requests = ps.requests[:want]
		ps.seen, ps.lastAt, ps.lastWork, ps.lastExecs = true, now, work, execs
	}
}

// pacedNeed caps need at the executors that will find work on arrival:
// the live ones plus enough for the pending tasks the live ones will not
// have finished within the learned start-up latency.
func (a *allocator) pacedNeed(p *profileState, need int, d demand) int {
	ps := &p.pace
	if !a.cfg.Policy.paces() || ps.latency <= 0 || ps.rate <= 0 {
		return need
	}
	execs := d.executorCount(p.id)
	rest := float64(d.pendingTasks(p.id)+d.pendingSpeculativeTasks(p.id)) - ps.rate*ps.latency
	if rest <= 0 {
		return min(need, max(p.target, execs))
	}
	extra := int(math.Ceil(rest * a.cfg.ExecutorAllocationRatio / float64(p.tasksPerExecutor)))
	return min(need, execs+extra)
}
