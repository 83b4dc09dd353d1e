# Helm chart (room: charts/). The chart is charts/sparkdra; its tests live in the nested module
# charts/ (Helm's Go SDK, kept out of the project's go.mod).
#
#   make charts-test   render the chart with every ci/*-values.yaml through Helm's SDK, decode each
#                      object strictly, prove the defaults render manifests/base's objects, and
#                      check values.schema.json refuses bad values (part of make test)
#   make e2e-k8s-helm  install the chart with Helm's SDK into the e2e-k8s control plane

.PHONY: charts-test

charts-test:
	cd charts && $(GO) vet ./... && $(GO) vet -tags e2e_k8s ./... && $(GO) test -count=1 ./...

TEST_TARGETS += charts-test

# The chart installed with Helm's Go SDK into the e2e-k8s stack (control plane, KWOK, KEDA; see
# mk/k8s.mk): helm install --create-namespace --wait, every object present, both Deployments
# available, RBAC checked with SubjectAccessReviews, helm upgrade, helm uninstall. About 35 s of
# test (stack 16 s, install --wait 6 s) plus the build: 83 s warm, measured with the machine at a
# load of 30-55. Needs make k8s-tools (built once per machine, cached).
.PHONY: e2e-k8s-helm
e2e-k8s-helm: k8s-tools
	@mkdir -p "$(K8S_OUT)"
	$(K8S_ENV) $(GO) -C charts test -tags e2e_k8s -count=1 -timeout 10m -v -run TestHelmInstallIntoRealControlPlane . 2>&1 | tee "$(K8S_OUT)/k8s-helm.log"

TEST_TARGETS += e2e-k8s-helm
