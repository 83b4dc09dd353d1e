# k8s room: the KEDA half for real. A real control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler), KWOK as the node agent and the real KEDA operator and
# metrics adapter, all on loopback, with spark-dra-exporter and spark-dra-scaler as local
# processes; the shipped manifests drive a worker Deployment. See e2e/k8s/doc.go.
#
#   make k8s-tools      builds the control plane, KWOK and KEDA from e2e/tools (its own go.mod)
#                       into $(CACHE_DIR)/k8s-tools/<hash>/bin: about 1,300 CPU-seconds cold
#                       (20 min on 2 idle cores; 55 min measured on a 2-core machine shared
#                       with five builds), 0 s when cached; run once per machine
#   make e2e-k8s        the scenarios, about 3 min; writes e2e/out/k8s-summary.json and
#                       e2e/out/k8s/<test>/*.log (part of make test)
#   make e2e-k8s-smoke  only the stack check (a constant external metric scales a Deployment)
#   make e2e-k8s-spark  real Spark on the stack through the process kubelet (e2e/k8s/kubelet): the
#                       scenarios of Spark on Kubernetes; writes e2e/out/k8s-spark-summary.json
#                       and one log per pod under e2e/out/k8s/<test>/pods/ (part of make test)

K8S_TIMEOUT ?= 20m
K8S_BIN     ?= $(CACHE_DIR)/k8s/bin
K8S_OUT     ?= $(CURDIR)/e2e/out

.PHONY: k8s-tools k8s-bins e2e-k8s e2e-k8s-smoke e2e-k8s-spark

TEST_TARGETS += e2e-k8s e2e-k8s-spark

# The real-Spark tests of the tier, run by e2e-k8s-spark only (e2e-k8s skips them).
# K8S_SPARK_RUN is what e2e-k8s-spark runs (all of them; narrow it to re-run one scenario, e.g.
# K8S_SPARK_RUN='TestSparkOnKubernetes/^native_dra$$').
K8S_SPARK_TESTS = TestProcessKubeletStandalone|TestSparkOnKubernetes
K8S_SPARK_RUN  ?= $(K8S_SPARK_TESTS)
K8S_SPARK_TIMEOUT ?= 45m
# K8S_SPARK_DECOMMISSION=1 adds scenario statefulset_decommission (the StatefulSet scale-in with
# Spark's decommissioning on; about three minutes more), e.g.
# make e2e-k8s-spark K8S_SPARK_DECOMMISSION=1 K8S_SPARK_RUN='TestSparkOnKubernetes/^statefulset'
K8S_SPARK_DECOMMISSION ?=
# The real spark-operator's test, run by e2e-operator (mk/operator.mk) only.
K8S_OPERATOR_TESTS = TestSparkOperator

k8s-tools:
	@GO="$(GO)" bash e2e/tools/build.sh "$(CACHE_DIR)" >/dev/null

# The binaries under test, built from this checkout.
k8s-bins:
	@mkdir -p "$(K8S_BIN)"
	$(GO) build -o "$(K8S_BIN)/" ./cmd/spark-dra-exporter ./cmd/spark-dra-scaler

K8S_ENV = SPARKDRA_K8S_TOOLS="$$(GO="$(GO)" bash e2e/tools/build.sh "$(CACHE_DIR)" 2>/dev/null)" \
	SPARKDRA_K8S_BIN="$(K8S_BIN)" SPARKDRA_E2E_OUT="$(K8S_OUT)"

e2e-k8s: k8s-tools k8s-bins
	@mkdir -p "$(K8S_OUT)"
	$(K8S_ENV) $(GO) test -tags e2e_k8s -count=1 -timeout $(K8S_TIMEOUT) -skip '$(K8S_SPARK_TESTS)|$(K8S_OPERATOR_TESTS)' -v ./e2e/k8s/ 2>&1 | tee "$(K8S_OUT)/k8s-e2e.log"

# PySpark 4.1 (E2E_PYTHON) runs every Spark image; apache/spark:3.5.* images run from the PySpark
# 3.5 venv (E2E_PYTHON35).
e2e-k8s-spark: k8s-tools k8s-bins e2e-venv e2e-venv35 e2e-prometheus
	@mkdir -p "$(K8S_OUT)"
	$(K8S_ENV) SPARKDRA_E2E_PYTHON="$(E2E_PYTHON)" SPARKDRA_E2E_PYTHON35="$(E2E_PYTHON35)" \
	  SPARKDRA_K8S_DECOMMISSION="$(K8S_SPARK_DECOMMISSION)" \
	  $(GO) test -tags e2e_k8s -count=1 -timeout $(K8S_SPARK_TIMEOUT) -run '$(K8S_SPARK_RUN)' -v ./e2e/k8s/ 2>&1 | tee "$(K8S_OUT)/k8s-spark-e2e.log"

e2e-k8s-smoke: k8s-tools
	@mkdir -p "$(K8S_OUT)"
	$(K8S_ENV) $(GO) test -tags e2e_k8s -count=1 -timeout 5m -v -run TestStackSmoke ./e2e/k8s/
