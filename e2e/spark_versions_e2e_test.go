//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/sparkdra/sparkdra/e2e/closedloop"
	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

// EnvPython35 is the PySpark 3.5.x interpreter (make e2e-venv35) of TestShadowSpark35.
const EnvPython35 = "SPARKDRA_E2E_PYTHON35"

// driverSeriesChecks are what an exporter run beside a driver running Spark's own DRA must have
// published during the run (the application may have ended when they are asked, so each looks
// back over the run): the driver's own DRA state from /metrics/json, the task counters and
// times, and nothing stale at the latest poll. Each expression must return a series.
func driverSeriesChecks(app, version string) []string {
	sel := fmt.Sprintf(`app_name=%q`, app)
	return []string{
		fmt.Sprintf(`last_over_time(spark_app_info{%s, spark_version=%q}[1h])`, sel, version),
		fmt.Sprintf(`max_over_time(spark_dra_driver_target_executors{%s}[1h]) > 0`, sel),
		fmt.Sprintf(`max_over_time(spark_dra_driver_executors{%s}[1h]) > 0`, sel),
		fmt.Sprintf(`last_over_time(spark_dra_driver_executors_removed_total{%s, reason="killed_by_driver"}[1h])`, sel),
		fmt.Sprintf(`last_over_time(spark_dra_driver_executors_removed_total{%s, reason="exited_unexpectedly"}[1h])`, sel),
		fmt.Sprintf(`max_over_time(spark_app_tasks_completed_total{%s}[1h]) > 0`, sel),
		fmt.Sprintf(`last_over_time(spark_app_tasks_failed_total{%s}[1h])`, sel),
		fmt.Sprintf(`last_over_time(spark_app_start_time_seconds{%s}[1h]) > 1.7e9`, sel),
		fmt.Sprintf(`max_over_time(spark_executor_add_time_seconds{%s}[1h]) > 1.7e9`, sel),
		fmt.Sprintf(`sum(last_over_time(spark_dra_stale{%s}[1h])) == 0`, sel),
	}
}

// checkDriverSeries evaluates driverSeriesChecks against the run's Prometheus; one line per
// expression that returned nothing.
func checkDriverSeries(ctx context.Context, promURL, app, version string) ([]string, error) {
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return nil, err
	}
	v1 := promv1.NewAPI(client)
	var missing []string
	for _, q := range driverSeriesChecks(app, version) {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		val, _, _, err := v1.Query(qctx, q, time.Now())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		if v, ok := val.(model.Vector); !ok || len(v) == 0 {
			missing = append(missing, q)
		}
	}
	return missing, nil
}

// firstPublish returns when the exporter first published the application (the first scrape
// holding spark_dra_pending_tasks; Prometheus scrapes every step) and the application's start
// time (spark_app_start_time_seconds).
func firstPublish(ctx context.Context, promURL, app string, step time.Duration) (first, start time.Time, err error) {
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return first, start, err
	}
	v1 := promv1.NewAPI(client)
	scalar := func(q string) (time.Time, error) {
		val, _, _, err := v1.Query(ctx, q, time.Now())
		if err != nil {
			return time.Time{}, err
		}
		v, ok := val.(model.Vector)
		if !ok || len(v) != 1 {
			return time.Time{}, fmt.Errorf("%s: %v", q, val)
		}
		return time.UnixMilli(int64(float64(v[0].Value) * 1000)), nil
	}
	if first, err = scalar(fmt.Sprintf(`min(min_over_time(timestamp(spark_dra_pending_tasks{app_name=%q})[1h:%s]))`,
		app, model.Duration(step))); err != nil {
		return first, start, err
	}
	start, err = scalar(fmt.Sprintf(`min(last_over_time(spark_app_start_time_seconds{app_name=%q}[1h]))`, app))
	return first, start, err
}

// driverTargetAgreement compares, at every sample of the run where the harness read the driver's
// own numberTargetExecutors from its /metrics/json (row.DriverTarget >= 0), what the exporter
// published as spark_dra_driver_target_executors as of that moment (Prometheus' latest scrape at
// or before it). It returns how many samples agreed and how many were compared, and the
// samples with a target above 0 that agreed.
func driverTargetAgreement(ctx context.Context, promURL, app string, rows []closedloop.Row) (agreed, compared, agreedAboveZero int, err error) {
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return 0, 0, 0, err
	}
	v1 := promv1.NewAPI(client)
	q := fmt.Sprintf(`spark_dra_driver_target_executors{app_name=%q}`, app)
	for _, r := range rows {
		if r.DriverTarget < 0 {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		val, _, _, err := v1.Query(qctx, q, r.Time)
		cancel()
		if err != nil {
			return 0, 0, 0, err
		}
		v, _ := val.(model.Vector)
		if len(v) != 1 {
			continue // not published yet at this sample
		}
		compared++
		if int(v[0].Value) == r.DriverTarget {
			agreed++
			if r.DriverTarget > 0 {
				agreedAboveZero++
			}
		}
	}
	return agreed, compared, agreedAboveZero, nil
}

// TestShadowSpark35 runs PageRank with Spark's own DRA on PySpark 3.5.x (the line the large
// managed offerings run) over the fixed pool, spark-dra-exporter and the scaler beside it in
// shadow, and checks that the exporter published the driver's own DRA state, the task counters
// and the times from a 3.5 driver. make e2e-spark35 runs it with the shared 3.5 venv; under
// plain make e2e (no 3.5 interpreter given) it is skipped.
func TestShadowSpark35(t *testing.T) {
	py := os.Getenv(EnvPython35)
	if py == "" {
		t.Skipf("%s not set: make e2e-spark35 runs this test", EnvPython35)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	sh := config(t, ctx, closedloop.Shadow)
	home, err := sparkcluster.SparkHomeFromPython(ctx, py)
	if err != nil {
		t.Fatal(err)
	}
	sh.Python, sh.SparkHome = py, home
	sh.AppName += "-spark35"
	// A lighter graph than the 4.x runs: the ramp and the releases show on 60,000 nodes too.
	sh.JobArgs = []string{"--nodes", "60000"}
	var version string
	var first, appStart time.Time
	var pollErrors string
	var rows []closedloop.Row
	var published driverSeriesRun
	sh.OnTick = func(r closedloop.Row) { rows = append(rows, r) }
	sh.BeforeStop = func(ctx context.Context, promURL string) error {
		if promURL == "" {
			return fmt.Errorf("no Prometheus in this run")
		}
		if err := published.collect(ctx, promURL, sh.AppName, version, rows); err != nil {
			return err
		}
		var err error
		if first, appStart, err = firstPublish(ctx, promURL, sh.AppName, sh.ScrapeInterval()); err != nil {
			return err
		}
		pollErrors, err = errorsByReason(ctx, promURL)
		return err
	}
	// The exporter's log (every failed poll, debug level) outlives the run's temporary directory.
	defer func() {
		if b, err := os.ReadFile(filepath.Join(sh.Dir, "spark-dra-exporter.log")); err == nil {
			out := closedloop.OutDir("out")
			if err := os.MkdirAll(out, 0o755); err == nil {
				_ = os.WriteFile(filepath.Join(out, "spark35-exporter.log"), b, 0o644)
			}
		}
	}()
	version, err = sparkVersion(ctx, py)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "3.5.") {
		t.Fatalf("%s runs PySpark %s, want 3.5.x", py, version)
	}
	shadow, err := closedloop.Run(ctx, sh)
	if err != nil {
		t.Fatalf("shadow on Spark %s: %v", version, err)
	}
	s := closedloop.Summarize(nil, shadow, sh.DRA)
	if s.ShadowAgreement != nil {
		t.Logf("Spark %s shadow: agreement %.3f with Spark's own target (lag %.1fs, max gap %d, %d samples), maxNeeded agreement %.3f",
			version, *s.ShadowAgreement, s.ShadowLagSeconds, *s.ShadowMaxGap, s.ShadowSamples, s.ShadowMaxNeededAgreement)
	}
	// The figure: from the REST API's first answer (the harness asks every 200 ms from
	// the job's start) to the first scrape holding the application (exporter polling and
	// Prometheus scraping every sh.ScrapeInterval() each: up to two of them are sampling).
	t.Logf("Spark %s: first published %v after the driver's REST API first answered (%v after the application started; poll and scrape every %v); failed polls by reason over the run: %s",
		version, first.Sub(shadow.FirstAnswer).Round(100*time.Millisecond), first.Sub(appStart).Round(100*time.Millisecond),
		sh.ScrapeInterval(), pollErrors)
	if d := first.Sub(shadow.FirstAnswer); d > 5*time.Second {
		t.Errorf("Spark %s: first published %v after the REST API first answered, want within 5 s", version, d.Round(100*time.Millisecond))
	}
	// The driver's own target as the exporter published it, against the driver's /metrics/json
	// read by the harness at the same samples.
	published.report(t, version)
}

// driverSeriesRun is what the exporter published of a driver running Spark's own DRA, gathered
// in a run's BeforeStop (collect) and reported after it (report): the driverSeriesChecks that
// returned nothing, and driverTargetAgreement's counts.
type driverSeriesRun struct {
	missing                           []string
	agreed, compared, agreedAboveZero int
}

// collect evaluates driverSeriesChecks and driverTargetAgreement against the run's Prometheus;
// rows are the run's samples so far.
func (d *driverSeriesRun) collect(ctx context.Context, promURL, app, version string, rows []closedloop.Row) error {
	var err error
	if d.missing, err = checkDriverSeries(ctx, promURL, app, version); err != nil {
		return err
	}
	d.agreed, d.compared, d.agreedAboveZero, err = driverTargetAgreement(ctx, promURL, app, rows)
	return err
}

// report fails t for every missing series and when the published target never equalled the
// driver's above 0.
func (d *driverSeriesRun) report(t *testing.T, version string) {
	t.Helper()
	t.Logf("Spark %s: spark_dra_driver_target_executors equal to the driver's numberTargetExecutors at %d of %d samples (%d of them above 0)",
		version, d.agreed, d.compared, d.agreedAboveZero)
	if d.agreedAboveZero == 0 {
		t.Errorf("Spark %s: spark_dra_driver_target_executors never equalled the driver's numberTargetExecutors above 0 (%d samples compared)", version, d.compared)
	}
	for _, q := range d.missing {
		t.Errorf("no series over the Spark %s run: %s", version, q)
	}
}

// errorsByReason sums the exporter's failed polls by reason over the run, for the log.
func errorsByReason(ctx context.Context, promURL string) (string, error) {
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return "", err
	}
	val, _, _, err := promv1.NewAPI(client).Query(ctx, `sum by (reason) (max_over_time(spark_dra_exporter_scrape_errors_total[1h]))`, time.Now())
	if err != nil {
		return "", err
	}
	v, _ := val.(model.Vector)
	if len(v) == 0 {
		return "none", nil
	}
	var parts []string
	for _, s := range v {
		parts = append(parts, fmt.Sprintf("%s %g", s.Metric["reason"], float64(s.Value)))
	}
	return strings.Join(parts, ", "), nil
}

// sparkVersion asks the interpreter's pyspark for its version.
func sparkVersion(ctx context.Context, python string) (string, error) {
	out, err := exec.CommandContext(ctx, python, "-c", "import pyspark; print(pyspark.__version__)").Output()
	return strings.TrimSpace(string(out)), err
}
