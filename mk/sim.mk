# What-if simulator (rooms: sim/, cmd/spark-dra-sim/, docs/policies.md).
#
#   make policies        re-simulates the committed event logs under static:N, spark, ramp, release and
#                        lean; rewrites the generated part of docs/policies.md and docs/policies/*.svg
#   make policies-check  the same into a scratch copy, then fails if the committed docs differ
#   make sim-fuzz        fuzzes the event-log reader and the simulator for SIM_FUZZTIME
#
# Workloads: sim/testdata/eventlogs/ (recorded here on a local-cluster, see SOURCE.md there), the e2e
# room's recordings (e2e/testdata/README.md) and Spark's own log (testdata/spark/SOURCE.md). policies-check runs in CI
# (TEST_TARGETS); it takes a few seconds.

SIM_FUZZTIME ?= 30s
SIM_SPARK_LOG ?= testdata/spark/application_1578436911597_0052
# Listed one by one, so a new recording changes docs/policies.md only when it is added here (and
# `make policies` rerun), never under policies-check's feet.
SIM_LOGS = \
	pagerank-local=sim/testdata/eventlogs/pagerank-local/eventlog_v2_app-20261121210619-0000 \
	tripcount-local=sim/testdata/eventlogs/tripcount-local/eventlog_v2_app-20261121211438-0000 \
	pagerank-wide=sim/testdata/eventlogs/pagerank-wide/app-20261121213229-0000.zstd \
	e2e-pagerank=e2e/testdata/eventlogs/pagerank.json.gz \
	e2e-tripcount=e2e/testdata/eventlogs/tripcount.json.gz \
	spark-yarn-fixture=$(SIM_SPARK_LOG)
# The policies all run with decommissioning that migrates shuffle and cached blocks, so that "release"
# can act; Spark's DRA runs with the same settings (it keeps its own timeouts under them).
SIM_CONF = --conf spark.decommission.enabled=true --conf spark.storage.decommission.enabled=true \
	--workload-conf spark-yarn-fixture:spark.dynamicAllocation.maxExecutors=1
# Spark's fixture ran stage-level scheduling on YARN with a one-GPU profile (1 task per executor) and
# got one executor; its log carries no properties, so the cluster's limit is set here.

.PHONY: policies policies-check sim-fuzz

policies:
	$(GO) run ./cmd/spark-dra-sim report --quiet --out docs/policies.md --charts docs/policies $(SIM_CONF) $(SIM_LOGS)

policies-check:
	@tmp=$$(mktemp -d) && cp docs/policies.md "$$tmp/policies.md" && \
	$(GO) run ./cmd/spark-dra-sim report --quiet --out "$$tmp/policies.md" --charts "$$tmp/policies" $(SIM_CONF) $(SIM_LOGS) && \
	diff -u docs/policies.md "$$tmp/policies.md" && \
	for f in "$$tmp"/policies/*.svg; do diff -q "$$f" "docs/policies/$$(basename $$f)" || exit 1; done && \
	rm -rf "$$tmp" && echo "policies-check: docs/policies.md and its charts are up to date"

sim-fuzz:
	$(GO) test ./sim/ -run '^$$' -fuzz FuzzReadEvents -fuzztime $(SIM_FUZZTIME)

TEST_TARGETS += policies-check
