// Package scaler is sparkdra's DRA engine: Spark's dynamic resource
// allocation — the ExecutorAllocationManager (EAM) and its ExecutorMonitor,
// as of Spark 4.x — re-implemented as plain Go with the clock passed in.
//
// The behaviour follows docs/spark-dra.md (sections cited on each piece),
// which describes Spark's core/src/main/scala/org/apache/spark/
// ExecutorAllocationManager.scala and scheduler/dynalloc/ExecutorMonitor.scala.
//
// Two entry layers share one core (the allocator: per-ResourceProfile target,
// ramp step, the shared add timer, the initializing phase, max-needed and the
// removal floors):
//
//   - Manager takes SparkListener-style events (stage submitted, task start
//     and end, executor added, block updated, job start and end, …) and
//     reproduces Spark's decisions event by event. It replays event logs and
//     runs Spark's own test scenarios. ManagerOptions.MonitorOnly builds it
//     the way Spark's monitor tests build an ExecutorMonitor: without the
//     allocation manager's validation (ParseProperties reads settings
//     without it), e.g. with neither the shuffle service nor shuffle
//     tracking.
//   - Engine takes Observations: a snapshot of what spark-dra-exporter
//     publishes (pending and running tasks, backlog duration, executors with
//     running tasks, idle duration and what they hold). The live scaler runs
//     one Engine per ScaledObject; each Step returns a Decision with the DRA
//     target, the executors Spark would remove now, and the desired executor
//     count max(target, live − removable), clamped to [min, max].
//
// Config.Policy selects how the allocator behaves: `spark` (the default) is
// Spark's DRA unchanged; sparkdra's own policies (policy.go: ramp, paced,
// release, lean) change one named rule each and say which. The trigger key
// is `policy`.
//
// Nothing here starts goroutines, does I/O or logs; every method that depends
// on time takes `now`. Neither type is safe for concurrent use.
package scaler
