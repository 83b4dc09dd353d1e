# Dashboards and alerting rules (room: dashboards/).
#
#   make dashboards   regenerate dashboards/*.json, the rule file, queries.txt and the generated
#                     manifests (manifests/base/dashboards/, prometheusrule.yaml) and the Helm chart's
#                     charts/sparkdra/files/ from dashboards/*.go
#   make rules-test   promtool check rules + promtool test rules: the alerts at both edges of
#                     every for:, and every dashboard query evaluated over synthetic series
#                     (Debian's prometheus package,
#                     installed when promtool is missing)

.PHONY: dashboards rules-test

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
