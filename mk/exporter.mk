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
