// Package exporter watches live Spark drivers through their REST API and publishes, as Prometheus
// gauges, what Spark's dynamic resource allocation (DRA) would see: the task backlog and how long
// it has lasted, running tasks, and for every executor whether it is busy, how long it has been
// idle and what it holds (cached blocks, shuffle output).
//
// The pieces, in the order data flows:
//
//   - Discoverers (StaticDiscoverer, KubernetesDiscoverer, StandaloneDiscoverer) find drivers and
//     send the full set of Targets they know whenever it changes.
//   - The Poller keeps one loop per target. Each loop polls its driver on its own interval, with a
//     bound on how many drivers are polled at once, and hands what it read to the target's
//     Observer.
//   - An Observer keeps the state Spark's REST API does not: when each executor went idle and how
//     long the backlog has lasted. It is a plain value driven by Observe(poll, now); time is
//     always passed in.
//   - The Store holds the latest TargetSnapshot of every target; the Collector turns it into const
//     metrics at scrape time.
//
// Metric names and meanings are listed in docs/metrics.md; a test keeps that list and the
// collector in step.
package exporter
