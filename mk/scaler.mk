# scaler room: spark-dra-scaler (externalscaler/, cmd/spark-dra-scaler/). See docs/scaler.md.
#
#   make scaler-test    the room's tests under -race (also part of `make unit`), ~30 s
#   make scaler-fuzz    fuzzes the selector and trigger-metadata parsers, SCALER_FUZZTIME each
#   make scaler-bench   tick CPU and Prometheus queries per tick at 10/100/1000 ScaledObjects,
#                       GetMetrics latency with 1,000 ScaledObjects
#   make scaler-build   builds bin/spark-dra-scaler

SCALER_PKGS     := ./externalscaler/... ./cmd/spark-dra-scaler/...
SCALER_FUZZTIME ?= 30s

.PHONY: scaler-test scaler-fuzz scaler-bench scaler-build

scaler-test:
	$(GO) test -race -count=1 $(SCALER_PKGS)

scaler-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseSelector$$' -fuzztime $(SCALER_FUZZTIME) ./externalscaler/
	$(GO) test -run '^$$' -fuzz '^FuzzParseTrigger$$' -fuzztime $(SCALER_FUZZTIME) ./externalscaler/

scaler-bench:
	$(GO) test -run '^$$' -bench . -benchmem ./externalscaler/

scaler-build:
	$(GO) build -o bin/spark-dra-scaler ./cmd/spark-dra-scaler

# The scaler's Prometheus source against Debian's real prometheus on loopback (build tag e2e),
# ~10 s once prometheus is installed (e2e-prometheus installs it as root, e.g. on CI).
.PHONY: scaler-e2e
scaler-e2e: e2e-prometheus
	$(GO) test -tags e2e -count=1 -run '^TestRealPrometheus$$' ./externalscaler/

TEST_TARGETS += scaler-e2e
