# Reliable shuffle storage with real Spark (issue 13): two DRA applications on the standalone
# harness with the Apache Celeborn STAND-IN shuffle plugin (e2e/celebornstandin: Celeborn's
# ShuffleDataIO class name, compiled with javac against the PySpark jars, local-disk shuffle,
# reports reliable storage). Tracking on: executors that ran shuffle map tasks stay, the exporter
# says holds="shuffle", the needless-pinning warning and alert fire. Tracking off: Spark accepts
# DRA without a shuffle service and releases them after executorIdleTimeout.
#
#   make e2e-reliable   writes reliable_tracking_on/off into e2e/out/operator-summary.json

.PHONY: e2e-reliable

e2e-reliable: e2e-deps e2e-bins
	@mkdir -p "$(E2E_OUT)"
	$(E2E_ENV) $(GO) test -tags e2e -count=1 -timeout 15m -v ./e2e/celebornstandin/ 2>&1 | tee "$(E2E_OUT)/e2e-reliable.log"

TEST_TARGETS += e2e-reliable
