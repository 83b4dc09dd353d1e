// Package sparkcluster runs a real Apache Spark standalone cluster on this machine for the
// end-to-end tests: one Master and any number of Workers, started with Spark's own
// `bin/spark-class` from a PySpark install, all bound to the loopback range and stopped by PID.
//
// Each Worker gets its own loopback address (127.0.0.2, 127.0.0.3, …), so the executor it hosts
// reports that address in its `hostPort`, just as an executor pod reports its pod IP on Kubernetes.
// That is what lets the scaler's choice of executors be mapped to workers (see [Pool]).
//
// Nothing here is a fake of Spark. The one stand-in is [Pool]: it plays the part of the kubelet and
// the ReplicaSet, turning a replica count into Worker processes, and says so in its doc comment.
//
// The library starts processes only when asked; its unit tests are hermetic. The tests that start
// Spark carry the `e2e` build tag and read the PySpark venv from $SPARKDRA_E2E_PYTHON
// (`make e2e-cluster`).
package sparkcluster
