// Package k8se2e is the Kubernetes end-to-end tier: the KEDA half of sparkdra, for real.
//
// It starts a real control plane on loopback (etcd, kube-apiserver, kube-controller-manager with
// a 2 s HPA sync period, kube-scheduler), KWOK as the node agent of one fake node (pods become
// Running with an IP but run nothing), and the real KEDA operator and metrics adapter out of
// cluster, served to the HPA through the v1beta1.external.metrics.k8s.io APIService. All of it
// is built from source by the tools module in e2e/tools (see build.sh; cached per machine).
//
// TestKEDAScalesSparkWorkers applies manifests/examples/standalone, rendered with kustomize,
// changed only in the ScaledObject's scalerAddress; prometheus-operator kinds (no operator here)
// and the exporter and scaler Deployments are left out, because spark-dra-exporter and
// spark-dra-scaler run as local processes, the scaler with a kubeconfig for the base's
// ServiceAccount (TokenRequest), so the base's RBAC is what it gets. The Spark driver the
// exporter polls is DriverStandIn, a stand-in serving a recorded live driver's payloads with
// executors on the worker pods' IPs. The test checks, against the real HPA and ReplicaSet:
//
//   - activation from zero through external-push (measured from the scaler's decision time);
//   - growth in DRA's steps to the need (every spec.replicas is a value the scaler answered);
//   - with the scaler stopped for longer than cooldownPeriod nothing shrinks, and after the
//     restart growth resumes without a dip. On KEDA 2.21 it is the HPA, unable to read the
//     metric, that holds the count: KEDA asks the unreachable scaler for its metric spec first
//     and never counts a failure, so its Fallback condition stays False (kedacore/keda#8056);
//   - with the scaler up but its data stale (the exporter stopped), the scaler answers
//     codes.Unavailable, KEDA's fallback engages (Fallback True, behavior currentReplicas) and
//     the count holds at the need; it clears when the exporter is back;
//   - when the backlog ends and the idle timeout passes, the pods the ReplicaSet deletes are
//     exactly those the scaler marked with the lowest controller.kubernetes.io/pod-deletion-cost,
//     while the busy executors sit on the newest pods (which a ReplicaSet deletes first by
//     default).
//
// Each run writes e2e/out/k8s-summary.json (see Summary) and one log per process, plus the
// scaler's /decisions at each phase, under e2e/out/k8s/<test>/. TestStackSmoke checks the stack
// alone with a constant external metric.
//
// # Real Spark: the process kubelet
//
// With Options.Kubelet set, the stack also runs the process kubelet (package
// github.com/sparkdra/sparkdra/e2e/k8s/kubelet), the tier's one stand-in for what a real node
// would add: the kubelet, the container runtime and cluster DNS. KWOK then gives pod IPs from a
// per-run random 127.N.0.0/16 (N in 100..200; Linux routes 127/8 to lo, so processes bind them
// with no set-up and concurrent runs do not collide), its pod-delete stage is left out, and every
// container of an apache/spark (or spark, spark-py) image runs as a local process from a PySpark
// venv chosen by the image tag, with the pod's env, volumes, ServiceAccount token kubeconfig,
// SPARK_LOCAL_IP and a hosts file for Service names; other images stay virtual. One log per pod
// goes to e2e/out/k8s/<test>/pods/<namespace>_<pod>.log. Another test starts it so:
//
//	ko, err := DefaultKubeletOptions() // PySpark venvs from $SPARKDRA_E2E_PYTHON(35)
//	if err != nil { t.Fatal(err) }
//	s := StartStack(t, Options{Kubelet: ko})
//	// s.Kubelet: Exits(), Running(), LogPath(ns, pod); s.PodCIDR
//
// and submits with s.sparkSubmit (spark-submit --master k8s://… --deploy-mode cluster with a
// token kubeconfig: fabric8 cannot read the stack's EC client keys). `make e2e-k8s-spark` sets
// the environment (SPARKDRA_E2E_PYTHON, SPARKDRA_E2E_PYTHON35) and runs:
//
//   - TestProcessKubeletStandalone: the standalone example's master and worker as real Spark
//     daemons; the worker reaches the master by its Service name; scaled to zero, the worker's
//     process group is stopped and its pod removed.
//   - TestSparkOnKubernetes, one control plane shared by its scenarios, each writing its entry
//     of e2e/out/k8s-spark-summary.json (SparkScenario): native_dra (spark-submit cluster mode
//     with Spark's own DRA and shuffle tracking; the exporter, deployed as the base deploys it,
//     finds the driver pod; idle executors holding shuffle are reported holds="shuffle" and kept,
//     SparkDRAExecutorsPinnedByShuffle fires in Debian's Prometheus with its thresholds lowered,
//     and after the driver drops the shuffle Spark releases them and the alert resolves; on Spark
//     4.1.4, and as native_dra_spark35 on 3.5.9); standalone (manifests/examples/standalone for real: KEDA drives real workers through
//     spark-dra-scaler reading Prometheus; the ReplicaSet deletes the pods the scaler marked
//     cheapest, whose executors ran no task at that moment); statefulset (Spark 3.5.9, the
//     StatefulSet allocator with DRA off and the example's ScaledObject: the job keeps ordinal 0
//     busy while its shuffle is written, so the holders sit on higher ordinals, and the scenario
//     measures what highest-ordinal-first removal costs when the job reads that shuffle again;
//     statefulset_decommission, opt-in with SPARKDRA_K8S_DECOMMISSION=1, the same with Spark's
//     decommissioning and block migration on, triggered by the pod's preStop hook as the process
//     kubelet runs it). The submitter is a test ServiceAccount
//     (submitterRBAC); the exporter and scaler run as local processes with the args of the
//     example's Deployments and their own ServiceAccounts' tokens.
//
// TestSparkOperator (`make e2e-operator`, on the stack without KEDA) runs the PageRank
// SparkApplication of manifests/examples/spark-operator on the real kubeflow spark-operator (v2,
// built by e2e/operator/build.sh, run out of cluster with a ServiceAccount token): the operator's
// spark-submit creates the driver pod, whose Spark DRA grows and removes executor pods; it checks
// COMPLETED, the executor pods' peak, and that the exporter discovered the driver (pinning
// reported, no warning); then the Celeborn variant on the Apache Celeborn stand-in
// (e2e/celebornstandin) with tracking off, which Spark must accept (COMPLETED; no pinning, no
// warning). It merges sparkapplication_state, executor_pods_peak and exporter_discovered
// (PageRank's) into e2e/out/operator-summary.json. The operator always passes pod templates; the executor template
// Spark mounts into the driver is named by a container path inside spark.properties, which the
// emulated driver entrypoint maps (a --conf beats the properties file).
//
// Everything binds 127.0.0.1 on ports chosen at run time, except the KEDA adapter's own
// /metrics listener, which KEDA binds on all interfaces (no flag for the host; nothing is sent to
// it). Processes are stopped by PID in reverse start order, etcd last, also when a test fails.
//
// The files live behind the build tag e2e_k8s and run through `make e2e-k8s`, which builds the
// tools, sets SPARKDRA_K8S_TOOLS (their directory) and SPARKDRA_K8S_BIN (spark-dra-exporter and
// spark-dra-scaler built from this checkout).
package k8se2e
