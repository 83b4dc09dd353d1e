# Dashboards and alerting rules (room: dashboards/).
#
#   make dashboards   regenerate dashboards/*.json, the rule file, queries.txt and the generated
#                     manifests (manifests/base/dashboards/, prometheusrule.yaml) and the Helm chart's
#                     charts/sparkdra/files/ from dashboards/*.go
#   make rules-test   promtool check rules + promtool test rules: the alerts at both edges of
#                     every for:, and every dashboard query evaluated over synthetic series
#                     (Debian's prometheus package,
#                     installed when promtool is missing)
#   make dashboards-png  draw every dashboard into e2e/out/dashboards/<uid>.png from the Prometheus
#                     data the last make demo or make e2e saved (e2e/out/prometheus/); fails when a
#                     panel that should have data has none (dashboards/render, its own go.mod:
#                     gonum/plot). make demo and make e2e run it.

.PHONY: dashboards rules-test dashboards-png dashboards-render-test

dashboards:
	$(GO) run ./dashboards/cmd/gen

PROMTOOL ?= promtool

rules-test:
	@command -v $(PROMTOOL) >/dev/null || { \
		echo "promtool missing: installing Debian's prometheus package"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }
	$(PROMTOOL) check rules dashboards/rules/sparkdra.rules.yaml
	$(PROMTOOL) test rules dashboards/rules/tests/*.yaml

TEST_TARGETS += rules-test

dashboards-png:
	cd dashboards/render && $(GO) run . -data "$(E2E_OUT)/prometheus" -out "$(E2E_OUT)/dashboards" -dashboards .. -check

# The renderer's own tests (layout, units, legends, the empty-panel check) against a fake
# Prometheus API; hermetic.
dashboards-render-test:
	cd dashboards/render && $(GO) vet ./... && $(GO) test -count=1 ./...

TEST_TARGETS += dashboards-render-test
