//go:build e2e

package celebornstandin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/sparkdra/sparkdra/dashboards"
	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

// idleTimeout is the applications' spark.dynamicAllocation.executorIdleTimeout.
const idleTimeout = 5 * time.Second

// TestReliableShuffleStorage runs two real Spark applications with dynamic allocation and the
// Celeborn STAND-IN as shuffle plugin (package doc), on a standalone cluster of two one-core
// workers, and watches each from the driver's own /metrics/json and /allexecutors, from
// spark-dra-exporter and from a real Prometheus evaluating sparkdra's alert rules:
//
//   - shuffle tracking on (Spark's default since 3.4): Spark warns that idle executors will
//     not be released in a timely way, and its ExecutorMonitor keeps every executor that ran
//     a shuffle map task well past executorIdleTimeout; the exporter reports them
//     holds="shuffle" with spark_dra_config_warning, and SparkDRANeedlessShufflePinning fires;
//   - shuffle tracking off: Spark accepts dynamic allocation without a shuffle service
//     (reliable storage), the exporter reports the idle executors holds="none", and Spark
//     releases them after executorIdleTimeout.
//
// It writes reliable_tracking_on / reliable_tracking_off into $SPARKDRA_E2E_OUT/operator-summary.json.
func TestReliableShuffleStorage(t *testing.T) {
	env := loadEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	jar, err := BuildJar(ctx, env.sparkHome, env.cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sparkcluster.Start(ctx, sparkcluster.Options{SparkHome: env.sparkHome, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for range 2 {
		if _, err := c.StartWorker(ctx); err != nil {
			t.Fatal(err)
		}
	}
	summary := map[string]any{}
	t.Run("tracking on", func(t *testing.T) {
		r := runApp(ctx, t, env, c, jar, true)
		on := map[string]bool{"holds_shuffle_seen": r.holdsSeen["shuffle"], "needless_pin_alert_fired": r.alertFired}
		summary["reliable_tracking_on"] = on
		if !r.warningLogged {
			t.Errorf("Spark did not log its tracking warning (see %s)", r.driverLog)
		}
		if len(r.shuffleExecs) == 0 {
			t.Fatal("no executor ran a shuffle map task")
		}
		if r.released > 0 {
			t.Errorf("%d executors that ran shuffle map tasks were released; shuffle tracking keeps them", r.released)
		}
		if !r.holdsSeen["shuffle"] || r.holdsSeen["none"] {
			t.Errorf("exporter holds seen %v, want only shuffle", r.holdsSeen)
		}
		if !r.warningGauge {
			t.Error("no spark_dra_config_warning{reason=\"shuffle_tracking_with_other_mechanism\"}")
		}
		if !r.alertFired {
			t.Error("SparkDRANeedlessShufflePinning did not fire")
		}
		lo, hi := minMax(r.sparkExecutors)
		if len(r.sparkExecutors) == 0 || lo < float64(len(r.shuffleExecs)) {
			t.Errorf("Spark's own executor count (ExecutorAllocationManager numberAllExecutors) went %v-%v, below the %d executors with shuffle output",
				lo, hi, len(r.shuffleExecs))
		}
		t.Logf("tracking on: executors with shuffle output %v, still registered %s after the job; Spark's numberAllExecutors %v-%v over %d reads; exporter holds %v; alert fired %v",
			r.shuffleExecs, r.watched.Round(time.Second), lo, hi, len(r.sparkExecutors), r.holdsSeen, r.alertFired)
	})
	t.Run("tracking off", func(t *testing.T) {
		r := runApp(ctx, t, env, c, jar, false)
		summary["reliable_tracking_off"] = map[string]bool{"released_after_idle_timeout": r.allReleased && r.minIdleAtRelease >= idleTimeout}
		if r.warningLogged {
			t.Errorf("Spark logged the tracking warning with tracking off (see %s)", r.driverLog)
		}
		if len(r.shuffleExecs) == 0 {
			t.Fatal("no executor ran a shuffle map task")
		}
		if !r.allReleased {
			t.Errorf("executors %v not all released", r.shuffleExecs)
		}
		if r.minIdleAtRelease < idleTimeout {
			t.Errorf("an executor went %s after its last task, before executorIdleTimeout (%s)", r.minIdleAtRelease, idleTimeout)
		}
		if r.holdsSeen["shuffle"] || !r.holdsSeen["none"] {
			t.Errorf("exporter holds seen %v, want only none", r.holdsSeen)
		}
		if r.warningGauge || r.alertFired {
			t.Errorf("warning gauge %v, alert %v with tracking off", r.warningGauge, r.alertFired)
		}
		if n := len(r.sparkExecutors); n == 0 || r.sparkExecutors[n-1] != 0 {
			t.Errorf("Spark's own executor count (ExecutorAllocationManager numberAllExecutors) ends at %v, want 0", r.sparkExecutors)
		}
		t.Logf("tracking off: executors %v released %s-%s after their last task (executorIdleTimeout %s); exporter holds %v",
			r.shuffleExecs, r.minIdleAtRelease.Round(100*time.Millisecond), r.maxIdleAtRelease.Round(100*time.Millisecond), idleTimeout, r.holdsSeen)
	})
	writeSummary(t, env.outDir, summary)
}

type e2eEnv struct {
	python, sparkHome, exporterBin, prometheusBin, cacheDir, outDir, jobs string
}

func loadEnv(t *testing.T) e2eEnv {
	t.Helper()
	var e e2eEnv
	e.python = os.Getenv("SPARKDRA_E2E_PYTHON")
	bin := os.Getenv("SPARKDRA_E2E_BIN")
	if e.python == "" || bin == "" {
		t.Fatal("SPARKDRA_E2E_PYTHON / SPARKDRA_E2E_BIN are not set: run through `make e2e-reliable`")
	}
	var err error
	if e.sparkHome, err = sparkcluster.SparkHomeFromPython(t.Context(), e.python); err != nil {
		t.Fatal(err)
	}
	e.exporterBin = filepath.Join(bin, "spark-dra-exporter")
	if e.prometheusBin, err = exec.LookPath("prometheus"); err != nil {
		t.Fatal("prometheus not on PATH (make e2e-deps installs Debian's)")
	}
	e.cacheDir = filepath.Dir(bin)
	e.outDir = os.Getenv("SPARKDRA_E2E_OUT")
	e.jobs = filepath.Join("..", "jobs")
	return e
}

// appResult is what one application showed.
type appResult struct {
	driverLog      string
	warningLogged  bool
	shuffleExecs   []string // executors with totalShuffleWrite > 0
	released       int      // of those, removed while watched
	allReleased    bool
	watched        time.Duration
	sparkExecutors []float64 // the driver's ExecutorAllocationManager numberAllExecutors gauge, per check
	holdsSeen      map[string]bool
	warningGauge   bool
	alertFired     bool
	// minIdleAtRelease / maxIdleAtRelease: removeTime − the end of the executor's last task, over
	// shuffleExecs (from the driver's task list).
	minIdleAtRelease, maxIdleAtRelease time.Duration
}

func runApp(ctx context.Context, t *testing.T, env e2eEnv, c *sparkcluster.Cluster, jar string, tracking bool) appResult {
	dir := t.TempDir()
	conf := Conf(jar)
	for k, v := range map[string]string{
		"spark.dynamicAllocation.enabled":                          "true",
		"spark.dynamicAllocation.minExecutors":                     "0",
		"spark.dynamicAllocation.initialExecutors":                 "2",
		"spark.dynamicAllocation.maxExecutors":                     "2",
		"spark.dynamicAllocation.executorIdleTimeout":              fmt.Sprintf("%ds", int(idleTimeout.Seconds())),
		"spark.dynamicAllocation.schedulerBacklogTimeout":          "1s",
		"spark.dynamicAllocation.shuffleTracking.enabled":          fmt.Sprint(tracking),
		"spark.shuffle.service.enabled":                            "false",
		"spark.dynamicAllocation.cachedExecutorIdleTimeout":        "600s",
		"spark.scheduler.minRegisteredResourcesRatio":              "1.0",
		"spark.scheduler.maxRegisteredResourcesWaitingTime":        "60s",
		"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout": "1s",
	} {
		conf[k] = v
	}
	name := "standin-tracking-off"
	if tracking {
		name = "standin-tracking-on"
	}
	job, err := sparkcluster.StartJob(sparkcluster.JobOptions{Python: env.python, Script: filepath.Join(env.jobs, "shufflepin.py"),
		MasterURL: c.MasterURL, AppName: name, Dir: dir, Conf: conf, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { job.Stop() })
	r := appResult{driverLog: job.LogPath(), holdsSeen: map[string]bool{}}
	appID, err := job.WaitApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := startService(ctx, "spark-dra-exporter", env.exporterBin, dir, func(addr string) []string {
		return []string{"--web.listen-address=" + addr, "--spark.driver-url=" + job.UI, "--spark.poll-interval=1s"}
	}, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.stop() })
	prom, err := startPrometheus(ctx, env.prometheusBin, dir, exp.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.stop() })

	wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer wcancel()
	done, err := job.WaitEvent(wctx, "shuffle_done", 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := done["ok"].(bool); !ok {
		t.Fatalf("the job's result is wrong: %v", done)
	}
	jobEnd := done.Time()
	execs, err := allExecutors(ctx, job.UI, appID)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range execs {
		if x.ID != "driver" && x.TotalShuffleWrite > 0 {
			r.shuffleExecs = append(r.shuffleExecs, x.ID)
		}
	}
	lastEnd, err := lastTaskEnds(ctx, job.UI, appID)
	if err != nil {
		t.Fatal(err)
	}
	// Watch until four idle timeouts have passed since the job ended (tracking on: they must all
	// still be there; tracking off: they must all have gone), sampling every 500 ms.
	until := jobEnd.Add(4 * idleTimeout)
	if tracking {
		until = jobEnd.Add(6 * idleTimeout) // and long enough for the alert (for: 0s) to be evaluated
	}
	for time.Now().Before(until) || (!tracking && !r.allReleased && time.Now().Before(jobEnd.Add(90*time.Second))) {
		if n, ok := sparkGauge(ctx, job.UI, "ExecutorAllocationManager.executors.numberAllExecutors"); ok {
			r.sparkExecutors = append(r.sparkExecutors, n)
		}
		for _, s := range scrape(ctx, exp.addr) {
			switch s.Metric["__name__"] {
			case "spark_executor_idle_duration_seconds":
				if contains(r.shuffleExecs, string(s.Metric["executor_id"])) {
					r.holdsSeen[string(s.Metric["holds"])] = true
				}
			case "spark_dra_config_warning":
				if s.Metric["reason"] == "shuffle_tracking_with_other_mechanism" && s.Value == 1 {
					r.warningGauge = true
				}
			}
		}
		if firing(ctx, prom.addr, "SparkDRANeedlessShufflePinning") {
			r.alertFired = true
		}
		if execs, err := allExecutors(ctx, job.UI, appID); err == nil {
			gone := 0
			r.minIdleAtRelease, r.maxIdleAtRelease = time.Hour, 0
			for _, x := range execs {
				if contains(r.shuffleExecs, x.ID) && x.RemoveTime != "" {
					gone++
					rt, err := time.Parse(sparkDate, x.RemoveTime)
					if end, ok := lastEnd[x.ID]; ok && err == nil {
						d := rt.Sub(end)
						r.minIdleAtRelease, r.maxIdleAtRelease = min(r.minIdleAtRelease, d), max(r.maxIdleAtRelease, d)
					} else {
						t.Errorf("executor %s: removeTime %q (%v), last task end known %v", x.ID, x.RemoveTime, err, ok)
					}
				}
			}
			r.released = gone
			r.allReleased = gone == len(r.shuffleExecs) && gone > 0
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.watched = time.Since(jobEnd)
	job.Release()
	if err := job.Wait(wctx); err != nil {
		t.Errorf("driver: %v (see %s)", err, job.LogPath())
	}
	if b, err := os.ReadFile(job.LogPath()); err == nil {
		r.warningLogged = strings.Contains(string(b), "You are enabling both shuffle tracking and other DA supported mechanism")
	}
	return r
}

func minMax(xs []float64) (lo, hi float64) {
	for i, x := range xs {
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

type executorRow struct {
	ID                string `json:"id"`
	TotalShuffleWrite int64  `json:"totalShuffleWrite"`
	RemoveTime        string `json:"removeTime"`
}

// sparkDate is the REST API's date format.
const sparkDate = "2006-01-02T15:04:05.000GMT"

// lastTaskEnds returns, per executor, when its last task ended (launchTime + duration over the
// tasks of every stage: the executor has been idle since).
func lastTaskEnds(ctx context.Context, ui, appID string) (map[string]time.Time, error) {
	var stages []struct {
		Tasks map[string]struct {
			ExecutorID string `json:"executorId"`
			LaunchTime string `json:"launchTime"`
			Duration   int64  `json:"duration"`
		} `json:"tasks"`
	}
	if err := sparkcluster.GetJSON(ctx, ui+"/api/v1/applications/"+appID+"/stages?details=true", &stages); err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, s := range stages {
		for _, task := range s.Tasks {
			start, err := time.Parse(sparkDate, task.LaunchTime)
			if err != nil {
				return nil, fmt.Errorf("task launchTime %q: %w", task.LaunchTime, err)
			}
			if end := start.Add(time.Duration(task.Duration) * time.Millisecond); end.After(out[task.ExecutorID]) {
				out[task.ExecutorID] = end
			}
		}
	}
	return out, nil
}

func allExecutors(ctx context.Context, ui, appID string) ([]executorRow, error) {
	var xs []executorRow
	return xs, sparkcluster.GetJSON(ctx, ui+"/api/v1/applications/"+appID+"/allexecutors", &xs)
}

// sparkGauge reads one gauge of the driver's own metrics servlet (/metrics/json), whose names
// carry the application id in front.
func sparkGauge(ctx context.Context, ui, suffix string) (float64, bool) {
	var m struct {
		Gauges map[string]struct {
			Value float64 `json:"value"`
		} `json:"gauges"`
	}
	if err := sparkcluster.GetJSON(ctx, ui+"/metrics/json", &m); err != nil {
		return 0, false
	}
	for k, g := range m.Gauges {
		if strings.HasSuffix(k, suffix) {
			return g.Value, true
		}
	}
	return 0, false
}

// scrape reads the exporter's /metrics as samples.
func scrape(ctx context.Context, addr string) model.Vector {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	dec := expfmt.SampleDecoder{Dec: expfmt.NewDecoder(resp.Body, expfmt.NewFormat(expfmt.TypeTextPlain)),
		Opts: &expfmt.DecodeOptions{Timestamp: model.Now()}}
	var out model.Vector
	for {
		var v model.Vector
		if err := dec.Decode(&v); err != nil {
			return out
		}
		out = append(out, v...)
	}
}

// firing reports whether Prometheus lists the alert as firing.
func firing(ctx context.Context, addr, alert string) bool {
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := sparkcluster.GetJSON(ctx, "http://"+addr+"/api/v1/alerts", &r); err != nil {
		return false
	}
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == alert && a.State == "firing" {
			return true
		}
	}
	return false
}

// service is a started helper process and its HTTP address.
type service struct {
	proc *sparkcluster.Process
	addr string
}

func (s *service) stop() { s.proc.Stop(5 * time.Second) }

func startService(ctx context.Context, name, bin, dir string, args func(addr string) []string, readyPath string) (*service, error) {
	port, err := sparkcluster.FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, args(addr)...)
	p, err := sparkcluster.StartProcess(name, cmd, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = sparkcluster.PollUntil(wctx, 100*time.Millisecond, name+" ready", func(ctx context.Context) (bool, error) {
		if exited, werr := p.Exited(); exited {
			return false, sparkcluster.Permanent(fmt.Errorf("%s exited (%v); see %s", name, werr, p.LogPath))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+readyPath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s: %s", readyPath, resp.Status)
	})
	if err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return &service{proc: p, addr: addr}, nil
}

// startPrometheus runs Prometheus scraping the exporter every second and evaluating sparkdra's
// generated alert rules every second, SparkDRANeedlessShufflePinning with for: 0s (its default
// for: is minutes; the rule tests check the for: edges).
func startPrometheus(ctx context.Context, bin, dir, exporterAddr string) (*service, error) {
	cfg := dashboards.DefaultConfig()
	cfg.NeedlessPinFor = 0
	rules, err := yaml.Marshal(dashboards.Rules(cfg))
	if err != nil {
		return nil, err
	}
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: spark-dra-exporter
    static_configs:
      - targets: [%q]
`, rulesPath, exporterAddr)
	if err := os.WriteFile(cfgPath, []byte(promCfg), 0o644); err != nil {
		return nil, err
	}
	return startService(ctx, "prometheus", bin, dir, func(addr string) []string {
		return []string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "tsdb"),
			"--web.listen-address=" + addr, "--log.level=warn"}
	}, "/-/ready")
}

// writeSummary merges fields into outDir/operator-summary.json (the operator tier writes the
// others).
func writeSummary(t *testing.T, outDir string, fields map[string]any) {
	if outDir == "" {
		return
	}
	path := filepath.Join(outDir, "operator-summary.json")
	all := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &all)
	}
	for k, v := range fields {
		all[k] = v
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Error(err)
		return
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Error(err)
	}
}
