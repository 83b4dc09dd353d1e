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
