// Package externalscaler is spark-dra-scaler: a KEDA external scaler
// (github.com/kedacore/keda/v2/pkg/scalers/externalscaler, v2.21) that runs
// Spark's dynamic resource allocation (package scaler) once per ScaledObject
// on the gauges spark-dra-exporter publishes, and answers KEDA with the
// executor count DRA would choose.
//
// The pieces, in the order data flows:
//
//   - ParseTrigger turns a ScaledObject's trigger metadata into a
//     TriggerConfig: a Selector (Prometheus label matchers, ParseSelector),
//     an optional prometheusAddress, executorsPerReplica and Spark's own
//     spark.dynamicAllocation.* settings (scaler.ParseConfig). Errors name
//     every problem; the gRPC layer answers them with InvalidArgument.
//   - A Source reads every Spark application once per tick:
//     PrometheusSource (two instant queries through client_golang's
//     api/prometheus/v1, whatever the number of ScaledObjects) or
//     ExporterSource (the exporter's /metrics, parsed with expfmt). Both
//     build a Snapshot; Snapshot.Observe sums the applications a Selector
//     matches into a scaler.Observation, or says why the data cannot be
//     trusted (UnavailableError: never a zero).
//   - Server keeps one scaler.Engine per ScaledObject. Tick (Run calls it
//     every Options.Tick) reads each distinct source once, steps every
//     engine, lets a VictimMarker set pod deletion costs before a lower
//     decision is published, and publishes DecisionRecords. The RPCs
//     (GetMetricSpec, GetMetrics, IsActive, StreamIsActive) answer from the
//     published record and do no I/O; the gRPC health service and /readyz
//     report NOT_SERVING while any ScaledObject's data is stale or missing.
//   - Server.Handler serves /decisions (the latest DecisionRecord of each
//     ScaledObject as JSON), /metrics (self-metrics, docs/contracts.md §2),
//     /healthz and /readyz.
//
// Subpackages: victims (pod-deletion-cost marking with client-go) and
// kedasim (a KEDA + HPA emulation harness for tests). docs/scaler.md is the
// user's guide.
package externalscaler
