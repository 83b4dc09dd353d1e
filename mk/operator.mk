# kubeflow spark-operator v2 (issue 13). Its Go module pins k8s.io/* v0.32.5, so what needs its
# Go types or its controller lives in the nested module e2e/operator.
#
#   make operator-examples   manifests/examples/spark-operator: every SparkApplication decoded
#                            strictly into the operator's v1beta2 types, checked against the
#                            operator's own CRD schema (the API server's validator), and read with
#                            the exporter's DRA rules (tracking pins on purpose in PageRank; the
#                            Celeborn variant is valid without tracking and pins nothing needlessly)

.PHONY: operator-examples

operator-examples:
	cd e2e/operator && $(GO) test -count=1 ./...

TEST_TARGETS += operator-examples

# The operator's controller and CRDs, built once per machine into $(CACHE_DIR)/spark-operator/<key>
# (e2e/operator/build.sh prints the bin directory).
.PHONY: operator-bin
operator-bin:
	@GO="$(GO)" bash e2e/operator/build.sh "$(CACHE_DIR)"

# The example SparkApplication on the real spark-operator (e2e/k8s TestSparkOperator): the
# control plane of e2e/k8s without KEDA, the process kubelet running Spark's pods from the
# PySpark venv, the operator out of cluster with its CRDs, and spark-dra-exporter as the base
# deploys it. Checks COMPLETED, executor pods growing under Spark's DRA and all gone at the end,
# and the exporter discovering the driver pod; then the Celeborn variant with the Celeborn
# STAND-IN's ShuffleDataIO and tracking off (Spark must accept DRA so); merges sparkapplication_state,
# executor_pods_peak and exporter_discovered into e2e/out/operator-summary.json (next to
# e2e-reliable's keys). Logs: e2e/out/k8s/TestSparkOperator/ (one per process and per pod).
#
#   make e2e-operator   both applications: 362 s warm (291 s of test) at load ~47-52 on 2 cores;
#                       cold it also builds the spark-operator (make operator-bin) and the tools
#                       e2e-k8s shares

OPERATOR_TIMEOUT ?= 25m

.PHONY: e2e-operator

e2e-operator: k8s-tools k8s-bins operator-bin e2e-venv
	@mkdir -p "$(K8S_OUT)"
	$(K8S_ENV) SPARKDRA_E2E_PYTHON="$(E2E_PYTHON)" \
	  SPARKDRA_OPERATOR_BIN="$$(GO="$(GO)" bash e2e/operator/build.sh "$(CACHE_DIR)" 2>/dev/null)/spark-operator" \
	  $(GO) test -tags e2e_k8s -count=1 -timeout $(OPERATOR_TIMEOUT) -run '^($(K8S_OPERATOR_TESTS))$$' -v ./e2e/k8s/ 2>&1 | tee "$(K8S_OUT)/operator-e2e.log"

TEST_TARGETS += e2e-operator
