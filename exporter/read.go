package exporter

import (
	"context"
	"net/url"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// Parts of an application's series that can come late or go missing without failing the poll:
// the `part` label of spark_dra_stale.
const (
	// PartStageHistory is the finished-stage list, read while the application has not been seen
	// to submit a stage: until it is read, spark_dra_stages_submitted may be short, and 0 does
	// not prove Spark's initializing phase.
	PartStageHistory = "stage_history"
	// PartDriverMetrics is the driver's own DRA state from /metrics/json (spark_dra_driver_*).
	PartDriverMetrics = "driver_metrics"
)

// StaleParts lists the parts, in publication order.
var StaleParts = []string{PartStageHistory, PartDriverMetrics}

// read issues the requests of one poll. Only the application list, needed for the application
// id, goes first (and only until the application is known); the rest go out at once, each with
// its own deadline, so a driver answering every request in 2–4 s is read in one request's time,
// not the sum of them. The first poll of an application stays cheap: it asks for what it may
// need before it knows the application's settings (its running jobs, its stored RDDs, its
// /metrics/json) alongside /environment instead of after it, and drops what the settings turn
// out not to need (failures included); it leaves the finished-stage history to a later poll
// (readStageHistory).
//
// The poll fails when the environment, the active stages, the executors, the running jobs or
// the stored RDDs cannot be read. A missing stage history or driver registry does not fail it:
// Poll.stale says what is missing.
func (d *driver) read(ctx context.Context, deps pollDeps) (Poll, error) {
	get := func(path string, q url.Values, v any) error {
		rctx, cancel := context.WithTimeout(ctx, deps.timeout)
		defer cancel()
		return deps.client.Get(rctx, d.target.BaseURL, path, q, v)
	}
	if d.app == nil {
		if err := d.findApp(get); err != nil {
			return Poll{}, err
		}
	}
	prefix := "/applications/" + url.PathEscape(d.app.ID)
	cfg := d.config // nil on the first poll of the application
	first := cfg == nil
	needHistory := d.observer.NeedFinishedStages()

	var (
		wg                                   sync.WaitGroup
		env                                  sparkapi.Environment
		stages                               sparkapi.StageList
		execs                                sparkapi.ExecutorList
		jobs                                 []sparkapi.JobData
		rdds                                 []sparkapi.RDDStorageInfo
		alloc                                *sparkapi.AllocationMetrics
		envErr, stagesErr, execsErr, jobsErr error
		rddsErr, allocErr                    error
		readJobs, readRDDs, readAlloc        bool
		finished                             = -1
	)
	if first {
		wg.Go(func() { envErr = get(prefix+"/environment", nil, &env) })
	}
	wg.Go(func() { stagesErr = get(prefix+"/stages", url.Values{"status": {"active"}}, &stages) })
	wg.Go(func() { execsErr = get(prefix+"/executors", nil, &execs) })
	if readJobs = first || cfg.ShufflePins; readJobs {
		wg.Go(func() { jobsErr = get(prefix+"/jobs", url.Values{"status": {"running"}}, &jobs) })
	}
	if readRDDs = first || !cfg.DiskCachePins; readRDDs {
		rdds = []sparkapi.RDDStorageInfo{}
		wg.Go(func() { rddsErr = get(prefix+"/storage/rdd", nil, &rdds) })
	}
	if readAlloc = first || cfg.Active; readAlloc {
		namespace := ""
		if cfg != nil {
			namespace = cfg.MetricsNamespace
		}
		wg.Go(func() { alloc, allocErr = d.readAllocation(ctx, deps, namespace) })
	}
	othersDone := make(chan struct{})
	var history sync.WaitGroup
	if !first && needHistory {
		history.Go(func() { finished = d.readStageHistory(ctx, deps, prefix, othersDone) })
	}
	wg.Wait()
	close(othersDone)
	history.Wait()

	for _, err := range []error{envErr, stagesErr, execsErr} {
		if err != nil {
			return Poll{}, d.forgetOnNotFound(err)
		}
	}
	if first {
		c := NewAppConfig(env.SparkProperties, d.app.SparkVersion())
		d.config, cfg = &c, &c
	}
	// What the first poll asked before it knew the settings counts only if the settings need it.
	readJobs = readJobs && cfg.ShufflePins
	readRDDs = readRDDs && !cfg.DiskCachePins
	for _, r := range []struct {
		used bool
		err  error
	}{{readJobs, jobsErr}, {readRDDs, rddsErr}} {
		if r.used && r.err != nil {
			return Poll{}, d.forgetOnNotFound(r.err)
		}
	}
	p := Poll{Config: *cfg, ActiveStages: stages, Executors: execs, FinishedStages: finished, RunningJobs: -1}
	// At a stage boundary, whether the backlog broke in between takes the completion times of the
	// stages that left the active list: a second round, only then (stageboundary.go).
	if keys := d.observer.backlogBreakCandidates(stages); len(keys) > 0 {
		p.LeftStages = readLeftStages(get, prefix, keys)
	}
	if readJobs {
		p.RunningJobs = len(jobs)
	}
	if readRDDs {
		p.CachedRDDs = rdds
	}
	if readAlloc && cfg.Active {
		// Asked before the settings were known: a registry read for an application without
		// Spark's own DRA is dropped.
		p.Allocation, p.AllocationErr = alloc, allocErr
	}
	p.historyPending = needHistory && finished < 0
	return p, nil
}

// readStageHistory counts the application's finished stage attempts, or returns -1 when it
// could not now: the request failed, or history (a slot shared by every poll loop) had no free
// slot before the poll's other requests were done (othersDone closed). The list is the largest
// payload a driver serves (every retained stage, up to spark.ui.retainedStages), so an exporter
// starting beside hundreds of drivers reads a few at a time; the others try again at their next
// poll. Waiting for a slot while the poll's own requests are in flight, rather than only trying
// at the poll's start, matters: drivers started together are polled together, and a slot freed
// a moment after they all tried would stay free for a whole interval. Only its length is kept,
// counted as the body streams in (sparkapi.Client.CountList), never held whole.
func (d *driver) readStageHistory(ctx context.Context, deps pollDeps, prefix string, othersDone <-chan struct{}) int {
	if deps.history != nil {
		select {
		case deps.history <- struct{}{}: // a free slot is taken even if the other requests are done
		default:
			select {
			case deps.history <- struct{}{}:
			case <-othersDone:
				return -1
			case <-ctx.Done():
				return -1
			}
		}
		defer func() { <-deps.history }()
	}
	rctx, cancel := context.WithTimeout(ctx, deps.timeout)
	defer cancel()
	n, err := deps.client.CountList(rctx, d.target.BaseURL, prefix+"/stages", url.Values{"status": {"complete", "failed"}})
	if err != nil {
		return -1
	}
	return n
}

// stale lists what the poll could not read that the application's series depend on.
func (p Poll) stale() map[string]bool {
	return map[string]bool{
		PartStageHistory:  p.historyPending,
		PartDriverMetrics: p.Config.Active && p.Allocation == nil,
	}
}

// mStale publishes AppSnapshot.Stale.
var mStale = metricDef{"spark_dra_stale",
	"1 when this poll could not read a part the application's series depend on, else 0: stage_history (the finished-stage list, read while no stage has been seen; until then spark_dra_stages_submitted may be short and 0 does not prove Spark's initializing phase; the first poll leaves it to a later one), driver_metrics (the driver's /metrics/json, applications running Spark's own DRA only; the spark_dra_driver_* series are left out meanwhile).",
	prometheus.GaugeValue, scopeApp, []string{"part"}}

// stale emits spark_dra_stale for every part that applies.
func (e emitter) stale(a *AppSnapshot, l []string) {
	for _, part := range StaleParts {
		if part == PartDriverMetrics && !a.Config.Active {
			continue
		}
		e.emit(mStale, boolValue(a.Stale[part]), l, part)
	}
}
