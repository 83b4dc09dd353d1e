// Package dashboards generates sparkdra's Grafana dashboards ("Spark DRA overview" and "Spark DRA
// scaler") with Grafana's foundation SDK, and its Prometheus alerting rules, from one Config
// (selectors and thresholds, like a monitoring mixin's _config).
//
// The generated files are committed: run `make dashboards` (go run ./dashboards/cmd/gen) after a
// change; a test regenerates them in memory and fails when the committed files drift. Queries
// lists every PromQL expression of the dashboards and rules, so that tests can parse them and the
// end-to-end tier can evaluate them against a live Prometheus.
package dashboards
