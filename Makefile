# sparkdra — make targets.
#
#   make test   runs everything CI runs: format and vet checks, the unit tests under -race,
#               and every end-to-end tier a room has registered in TEST_TARGETS.
#   make demo   the main job (see README.md).
#
# Each room (exporter, scaler, dashboards, e2e, …) keeps its own targets in mk/<room>.mk and
# appends the targets `make test` must run to TEST_TARGETS. That keeps this file small and lets
# the rooms evolve without stepping on each other.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export GOTOOLCHAIN ?= local

# Where tiers cache what they build or install once per machine (venvs, binaries).
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/sparkdra

TEST_TARGETS :=

.PHONY: test check fmt-check vet unit bench conformance
test: check unit

check: fmt-check vet

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Files behind a build tag (the e2e tiers) are vetted too: once per tag found in a //go:build line.
VET_TAGS ?= $(shell git grep -h '^//go:build' -- '*.go' 2>/dev/null | grep -oE '[A-Za-z0-9_]+' | \
	grep -vxE 'go|build|ignore|cgo|race|unix|linux|darwin|windows|amd64|arm64' | sort -u)

vet:
	$(GO) vet ./...
	@for t in $(VET_TAGS); do echo "$(GO) vet -tags $$t ./..."; $(GO) vet -tags $$t ./... || exit 1; done

unit:
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Spark's own DRA test scenarios against the engine; prints one line per failing
# expectation and "conformance: N passed, M failed". DRA_SCENARIOS overrides the file.
conformance:
	$(GO) test -count=1 -run TestConformance -v ./scaler/ | grep -vE '^(=== RUN|--- PASS|PASS$$)'

-include mk/*.mk

# The end-to-end tiers run after the unit tests, in the order the rooms registered them.
test: $(TEST_TARGETS)
