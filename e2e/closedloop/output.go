package closedloop

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Summary is summary.json: the figures of a closed-loop run and, when one ran, a shadow run.
type Summary struct {
	// FirstAddLatencySeconds: from the first sample with pending tasks to the first decision that
	// raised the target (Spark: schedulerBacklogTimeout; here plus poll, scrape and tick lag).
	FirstAddLatencySeconds float64 `json:"first_add_latency_seconds"`
	// RampSteps are the sizes of the successive adds of the first backlog episode.
	RampSteps      []int `json:"ramp_steps"`
	RampPeakTarget int   `json:"ramp_peak_target"`
	// TasksFailed counts failed task attempts over the closed-loop application.
	TasksFailed int `json:"tasks_failed"`
	// ExecutorsAfterIdle is the live executor count at the end of the idle wait.
	ExecutorsAfterIdle int `json:"executors_after_idle"`
	MinExecutors       int `json:"min_executors"`
	MaxExecutors       int `json:"max_executors"`
	// PeakExecutors is the most executors that ran at once.
	PeakExecutors int `json:"peak_executors"`
	// FollowLagSeconds is the longest the live executors took to reach a new replica count.
	FollowLagSeconds float64 `json:"follow_lag_seconds"`
	// LongestDeficitSeconds is the longest stretch with fewer executors than replicas.
	LongestDeficitSeconds float64 `json:"longest_executor_deficit_seconds"`
	// Prometheus says whether the scaler read Prometheus (false: the exporter directly).
	Prometheus bool `json:"prometheus"`
	// RunSeconds is the closed-loop run's length.
	RunSeconds float64 `json:"run_seconds"`
	// JobResult is the closed-loop job's own result line (its correctness checks).
	JobResult map[string]any `json:"job_result,omitempty"`
	// ReconcileErrors lists failures of the worker pool.
	ReconcileErrors []string `json:"reconcile_errors,omitempty"`

	// DeliveryRatio is the closed loop's ∫ min(live, target) dt ÷ ∫ target dt over the samples
	// with a backlog (DeliveryOf), target being the scaler's; -1 when there was none.
	DeliveryRatio float64 `json:"delivery_ratio"`
	// JobSeconds is the closed-loop job's run time (JobSeconds).
	JobSeconds float64 `json:"job_seconds"`
	// PhaseSeconds is how long each phase of the job lasted (PhaseSeconds): set beside the
	// shadow run's, it shows where the closed loop's extra time went (the first job, whose ramp
	// waits for worker start-up, or the later ones, which run on executors already up).
	PhaseSeconds map[string]float64 `json:"phase_seconds,omitempty"`
	// CancelledRequests counts executors the scaler asked for and cancelled before they
	// registered (its cancelledRequestsTotal at the end of the run).
	CancelledRequests int `json:"cancelled_requests"`
	// MedianRequestToRegisteredSeconds is the median time from a rise of the HPA's replica count
	// to the executor's registration with the driver (RequestToRegistered); -1 when none.
	MedianRequestToRegisteredSeconds float64 `json:"median_request_to_registered_seconds"`
	// RequestsRegistered is how many requests that median is over.
	RequestsRegistered int `json:"requests_registered"`
	// RequestedRatio is DeliveryRatio with the executors asked for (the HPA's replicas) in place
	// of the live ones (CoverageOf): near 1 when the scaler asked in time, so that what separates
	// DeliveryRatio from it is start-up, request to registered executor.
	RequestedRatio float64 `json:"requested_ratio"`
	// The closed loop's start-up, split in two (RequestToLive): from a rise of the replica count
	// to the worker the master lists ALIVE (the pod ready: a worker JVM), and from a ready worker
	// to its executor registered with the driver (an executor JVM; the shadow run's pool of
	// ready workers pays only this part). -1 when none.
	MedianRequestToWorkerReadySeconds    float64 `json:"median_request_to_worker_ready_seconds"`
	MedianWorkerReadyToRegisteredSeconds float64 `json:"median_worker_ready_to_registered_seconds"`

	// The shadow run (Spark's own DRA over a pool of maxExecutors workers): the same figures,
	// with the driver's numberTargetExecutors as the target and as the request.
	ShadowDeliveryRatio                    *float64           `json:"shadow_delivery_ratio"`
	ShadowJobSeconds                       *float64           `json:"shadow_job_seconds"`
	ShadowPhaseSeconds                     map[string]float64 `json:"shadow_phase_seconds,omitempty"`
	ShadowMedianRequestToRegisteredSeconds *float64           `json:"shadow_median_request_to_registered_seconds"`
	ShadowRequestsRegistered               int                `json:"shadow_requests_registered,omitempty"`

	// Shadow fidelity: the scaler's target against the driver's numberTargetExecutors (nil when
	// no shadow run was made).
	ShadowAgreement          *float64 `json:"shadow_agreement"`
	ShadowMaxGap             *int     `json:"shadow_max_gap"`
	ShadowLagSeconds         float64  `json:"shadow_lag_seconds,omitempty"`
	ShadowSamples            int      `json:"shadow_samples,omitempty"`
	ShadowMaxNeededAgreement float64  `json:"shadow_max_needed_agreement,omitempty"`
	ShadowTasksFailed        int      `json:"shadow_tasks_failed,omitempty"`
}

// ShadowLagStep is the resolution of the lag CompareShadowDecisions searches when every
// decision was logged (Result.Decisions): the scaler's tick.
const ShadowLagStep = 100 * time.Millisecond

// ShadowMaxLag is the largest alignment shift CompareShadow tries: exporter poll (1 s) +
// Prometheus scrape (1 s) + scaler tick (1 s) + harness sampling, with room to spare.
const ShadowMaxLag = 5 * time.Second

// Summarize computes the summary of a closed-loop run and an optional shadow run.
func Summarize(closed, shadow *Result, dra DRA) Summary {
	s := Summary{MinExecutors: dra.Min, MaxExecutors: dra.Max, RampSteps: []int{}}
	if closed != nil && len(closed.Rows) > 0 {
		rows := closed.Rows
		rp := FirstRamp(rows)
		s.FirstAddLatencySeconds = rp.FirstAddLatency.Seconds()
		s.RampSteps = append(s.RampSteps, rp.Steps...)
		s.RampPeakTarget = rp.PeakTarget
		s.ExecutorsAfterIdle = rows[len(rows)-1].Executors
		for _, r := range rows {
			s.TasksFailed = max(s.TasksFailed, r.FailedTasks)
			s.PeakExecutors = max(s.PeakExecutors, r.Executors)
		}
		if lag := FollowLag(rows); lag < time.Duration(math.MaxInt64) {
			s.FollowLagSeconds = lag.Seconds()
		} else {
			s.FollowLagSeconds = -1
		}
		s.LongestDeficitSeconds = LongestDeficit(rows).Seconds()
		s.Prometheus = closed.Prometheus
		s.RunSeconds = rows[len(rows)-1].T
		if e, ok := closed.JobResult(); ok {
			s.JobResult = e
		}
		s.ReconcileErrors = closed.ReconcileErrors
		s.DeliveryRatio = DeliveryOf(rows, ClosedLoopTarget).Ratio
		s.JobSeconds = JobSeconds(rows)
		s.PhaseSeconds = PhaseSeconds(rows)
		for _, r := range rows { // a total: the highest seen (a sample without a decision reads 0)
			s.CancelledRequests = max(s.CancelledRequests, r.CancelledRequests)
		}
		reg := RequestToRegistered(rows, ClosedLoopRequested)
		s.MedianRequestToRegisteredSeconds, s.RequestsRegistered = Median(reg), len(reg)
		s.RequestedRatio = CoverageOf(rows, ClosedLoopTarget, ClosedLoopRequested).Ratio
		s.MedianRequestToWorkerReadySeconds = Median(RequestToLive(rows, ClosedLoopRequested, WorkersReady))
		s.MedianWorkerReadyToRegisteredSeconds = Median(RequestToLive(rows, WorkersReady, LiveExecutors))
	}
	if shadow != nil && len(shadow.Rows) > 0 {
		var sh ShadowFidelity
		if len(shadow.Decisions) > 0 {
			sh = CompareShadowDecisions(shadow.Rows, shadow.Decisions, ShadowMaxLag, ShadowLagStep)
		} else {
			sh = CompareShadow(shadow.Rows, ShadowMaxLag, 500*time.Millisecond)
		}
		s.ShadowAgreement, s.ShadowMaxGap = &sh.Agreement, &sh.MaxGap
		s.ShadowLagSeconds, s.ShadowSamples = sh.Lag.Seconds(), sh.Samples
		s.ShadowMaxNeededAgreement = sh.MaxNeededAgreement
		for _, r := range shadow.Rows {
			s.ShadowTasksFailed = max(s.ShadowTasksFailed, r.FailedTasks)
		}
		ratio, job := DeliveryOf(shadow.Rows, ShadowTarget).Ratio, JobSeconds(shadow.Rows)
		s.ShadowPhaseSeconds = PhaseSeconds(shadow.Rows)
		reg := RequestToRegistered(shadow.Rows, ShadowTarget)
		med := Median(reg)
		s.ShadowDeliveryRatio, s.ShadowJobSeconds, s.ShadowMedianRequestToRegisteredSeconds = &ratio, &job, &med
		s.ShadowRequestsRegistered = len(reg)
	}
	return s
}

// WriteOutputs writes into dir: timeline.csv and chart.svg of the closed-loop run,
// timeline_shadow.csv and chart_shadow.svg of the shadow run (when given), and summary.json.
func WriteOutputs(dir string, closed, shadow *Result, s Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	write := func(name string, f func(*os.File) error) {
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			return
		}
		errs = append(errs, f(out), out.Close())
	}
	for _, r := range []struct {
		res          *Result
		suffix, name string
	}{{closed, "", "closed loop: sparkdra drives the Spark workers"}, {shadow, "_shadow", "shadow: Spark's own DRA, scaler beside it"}} {
		if r.res == nil {
			continue
		}
		write("timeline"+r.suffix+".csv", func(f *os.File) error { return WriteCSV(f, r.res.Start, r.res.Rows) })
		write("chart"+r.suffix+".svg", func(f *os.File) error { return WriteSVG(f, r.name, r.res.Rows) })
	}
	write("summary.json", func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	})
	return errors.Join(errs...)
}

// PrometheusRun is run.json beside a saved TSDB: the run's time range and its scrape interval,
// what make dashboards-png (dashboards/render) needs to draw the dashboards from that data.
type PrometheusRun struct {
	From           time.Time     `json:"from"`
	To             time.Time     `json:"to"`
	ScrapeInterval time.Duration `json:"scrapeIntervalNanos"`
}

// SavePrometheusData copies the TSDB of a finished run (runDir/tsdb, Prometheus stopped) to
// outDir/tsdb, replacing what was there, and writes outDir/run.json for [from, to] with the
// run's scrape interval. to should be a moment every process was still up: after it the series
// end with staleness markers.
func SavePrometheusData(runDir, outDir string, from, to time.Time, scrape time.Duration) error {
	src, dst := filepath.Join(runDir, "tsdb"), filepath.Join(outDir, "tsdb")
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == "lock" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		return fmt.Errorf("save Prometheus data: %w", err)
	}
	b, err := json.MarshalIndent(PrometheusRun{From: from, To: to, ScrapeInterval: scrape}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "run.json"), append(b, '\n'), 0o644)
}
