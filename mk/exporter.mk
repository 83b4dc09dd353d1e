# Exporter room: build the binary, run its benchmarks and its load harness.
#
#   make exporter-build   builds bin/spark-dra-exporter
#   make exporter-bench   go test -bench for a 500-driver poll cycle and /metrics render
#   make exporter-load    the real binary against 500 fake drivers on loopback (100 executors and
#                         20 active stages each): prints first/steady poll-cycle time, RSS and
#                         /metrics render time, while polling every 1 s and with polling idle
#                         (about 1 min on this 2-core machine)

.PHONY: exporter-build exporter-bench exporter-load

exporter-build:
	$(GO) build -o bin/spark-dra-exporter ./cmd/spark-dra-exporter

exporter-bench:
	$(GO) test -run '^$$' -bench 'PollCycle|RenderMetrics' -benchtime 5x -benchmem ./exporter

exporter-load: exporter-build
	@echo "== polling every 1 s (render measured while all 500 drivers are being polled)"
	$(GO) run ./exporter/internal/loadtest -exporter bin/spark-dra-exporter
	@echo "== one poll cycle, then no polling (render alone)"
	$(GO) run ./exporter/internal/loadtest -exporter bin/spark-dra-exporter -poll-interval 1h -window 2s

# The exporter and the scaler in shadow beside Spark's own DRA on PySpark 3.5.x (the shared
# e2e-venv35), checking the driver's own DRA state, task counters and times the exporter reads
# from a 3.5 driver. Part of make test: 9 min 38 s on the 2-core machine at load average 50-60
# with the venv warm; cold, the 3.5.9 venv (an sdist, shared with e2e-venv35) adds a few minutes.
.PHONY: e2e-spark35
e2e-spark35: e2e-deps e2e-venv35 e2e-bins
	$(E2E_ENV) SPARKDRA_E2E_PYTHON35=$(E2E_VENV35)/bin/python $(GO) test -tags e2e -count=1 -timeout 25m \
	  -run TestShadowSpark35 -v ./e2e/

TEST_TARGETS += e2e-spark35

# spark-dra-exporter beside the OpenTelemetry collector's apachesparkreceiver v0.138.0 (bench/peer,
# a nested Go module) on the same fake fleet; rewrites the table of docs/performance.md. A
# benchmark, not a test: the collector's build takes minutes, so make test does not run it.
.PHONY: peer-bench
peer-bench: exporter-build
	cd bench/peer && nice -n 10 $(GO) build -o ../../bin/peer .
	$(GO) run ./exporter/internal/peerbench -exporter bin/spark-dra-exporter -peer bin/peer -doc docs/performance.md
