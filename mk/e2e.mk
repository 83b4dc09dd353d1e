# e2e room: real Spark (PySpark from PyPI, standalone cluster on loopback) and real Prometheus
# (Debian's package), driven by spark-dra-exporter and spark-dra-scaler.
#
#   make e2e-deps      installs what the tier needs, once per machine (venv + prometheus)
#   make e2e-venv35    the PySpark 3.5.x venv (E2E_PYTHON35), for tiers that also run Spark 3.5
#   make e2e-cluster   the Go tests of the standalone-cluster harness against real Spark
#   make e2e           the closed loop and the shadow-fidelity run; writes e2e/out/
#   make demo          the README's main command: PageRank under the closed loop, a line per tick, a chart,
#                      then the shadow run (DEMO_ARGS=-no-shadow skips it), and the dashboards
#                      drawn from the run's Prometheus into e2e/out/dashboards/
#   make e2e-record    re-records e2e/testdata/ (event logs, REST snapshots) from live drivers
#
# PySpark pin: 4.1.4. Spark 4.x needs Java 17 or newer and this machine (and CI's) has OpenJDK 17;
# the 4.1 line is documented to run on Java 17 and 21 and was checked here (a standalone master,
# worker and PySpark driver on JDK 17.0.15). Spark 4 is what new clusters run; the exporter reads
# 3.x payloads too, from recorded fixtures.

PYSPARK_VERSION ?= 4.1.4
E2E_VENV        ?= $(CACHE_DIR)/e2e/venv-pyspark-$(PYSPARK_VERSION)
E2E_PYTHON      := $(E2E_VENV)/bin/python
E2E_BIN         ?= $(CACHE_DIR)/e2e/bin
E2E_OUT         ?= $(CURDIR)/e2e/out
E2E_TIMEOUT     ?= 45m

# Everything the e2e Go tests read from the environment.
E2E_ENV = SPARKDRA_E2E_PYTHON=$(E2E_PYTHON) SPARKDRA_E2E_BIN=$(E2E_BIN) SPARKDRA_E2E_OUT=$(E2E_OUT)

.PHONY: e2e-deps e2e-venv e2e-prometheus e2e-bins e2e-cluster e2e demo e2e-record

e2e-deps: e2e-venv e2e-prometheus

e2e-venv: $(E2E_VENV)/.ready

# The venv is created only when missing; the stamp file marks a complete install (a pip run cut
# short leaves no stamp, so the next run starts over). A lock beside the venv makes concurrent
# makes (two tiers, two checkouts sharing the cache) wait for one install instead of racing it.
$(E2E_VENV)/.ready:
	@command -v java >/dev/null || { echo "e2e: java not found (Spark needs a JDK 17+)"; exit 1; }
	@mkdir -p "$(dir $(E2E_VENV))"
	@exec 9>"$(E2E_VENV).lock"; flock 9; \
	if [ -f "$@" ]; then exit 0; fi; \
	rm -rf "$(E2E_VENV)"; \
	python3 -m venv "$(E2E_VENV)"; \
	echo "e2e: installing pyspark==$(PYSPARK_VERSION) into $(E2E_VENV)"; \
	"$(E2E_VENV)/bin/pip" install --quiet --disable-pip-version-check "pyspark==$(PYSPARK_VERSION)"; \
	"$(E2E_PYTHON)" -c 'import pyspark; print("e2e: pyspark", pyspark.__version__)'; \
	touch "$@"

# The Spark 3.5 line, which the large managed offerings (EMR, Dataproc, Databricks LTS) still run:
# the newest 3.5.x on PyPI. PySpark 3.5 ships on PyPI as an sdist of ~318 MB (jars inside), so the
# first install takes a few minutes; it is cached beside the 4.x venv and shared by every tier that
# runs Spark 3.5 (E2E_VENV35 is its path, E2E_PYTHON35 its interpreter). Spark 3.5 runs on JDK 17.
PYSPARK35_VERSION ?= 3.5.9
E2E_VENV35        := $(CACHE_DIR)/e2e/venv-pyspark-$(PYSPARK35_VERSION)
E2E_PYTHON35      := $(E2E_VENV35)/bin/python

.PHONY: e2e-venv35
e2e-venv35:
	@$(MAKE) --no-print-directory e2e-venv PYSPARK_VERSION=$(PYSPARK35_VERSION) E2E_VENV="$(E2E_VENV35)"

# Debian's prometheus. CI runs as root on a fresh machine; elsewhere say what is missing.
e2e-prometheus:
	@if ! command -v prometheus >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "e2e: prometheus not found; the demo falls back to the embedded default"; fi; \
	fi

# The binaries under test, built from this checkout (only those that exist yet).
e2e-bins:
	@mkdir -p "$(E2E_BIN)"
	@for c in spark-dra-exporter spark-dra-scaler; do \
	  if [ -d "cmd/$$c" ]; then $(GO) build -o "$(E2E_BIN)/$$c" "./cmd/$$c"; fi; \
	done

e2e-cluster: e2e-venv
	$(E2E_ENV) $(GO) test -tags e2e -count=1 -timeout 10m ./e2e/sparkcluster/...

# make test runs it: TestPoolFollowsReplicasAndDeletionCost is the only check, against real Spark
# workers, that the worker pool removes the lowest-cost worker first. 81 s warm (venv made) on the
# 2-core machine at load average 27; cold adds the PySpark venv, which make e2e installs anyway.
TEST_TARGETS += e2e-cluster

e2e: e2e-deps e2e-bins
	@mkdir -p "$(E2E_OUT)"
	$(E2E_ENV) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v ./e2e/ ./e2e/closedloop/ 2>&1 | tee "$(E2E_OUT)/e2e.log"
	@$(MAKE) --no-print-directory dashboards-png

demo: e2e-deps e2e-bins
	@mkdir -p "$(E2E_OUT)"
	$(E2E_ENV) $(GO) run -tags e2e ./e2e/cmd/demo $(DEMO_ARGS)
	@if command -v prometheus >/dev/null; then $(MAKE) --no-print-directory dashboards-png; \
	else echo "demo: no prometheus, so no Prometheus data to draw the dashboards from"; fi

# make test runs the closed loop and the shadow run (both maxExecutors 6, executorIdleTimeout
# 60 s): each about 10 minutes on this 2-core machine with five other builds on it (load 40-80);
# the whole tier took 25-35 minutes there, hence E2E_TIMEOUT 45m. Add ~1 minute the first time
# for the venv, the Debian package and the two binaries.
TEST_TARGETS += e2e

e2e-record: e2e-deps
	$(E2E_ENV) $(GO) run -tags e2e ./e2e/cmd/record -out e2e/testdata
