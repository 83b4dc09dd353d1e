# Helm chart (room: charts/). The chart is charts/sparkdra; its tests live in the nested module
# charts/ (Helm's Go SDK, kept out of the project's go.mod).
#
#   make charts-test   render the chart with every ci/*-values.yaml through Helm's SDK, decode each
#                      object strictly, prove the defaults render manifests/base's objects, and
#                      check values.schema.json refuses bad values (part of make test)

.PHONY: charts-test

charts-test:
	cd charts && $(GO) vet ./... && $(GO) test -count=1 ./...

TEST_TARGETS += charts-test
