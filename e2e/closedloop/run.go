package closedloop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
	"github.com/sparkdra/sparkdra/externalscaler"
	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

// ScaledObject names the emulated ScaledObject the harness registers with the scaler.
var ScaledObject = externalscaler.ObjectKey{Namespace: "e2e", Name: "spark-workers"}

// run holds the live parts of one run.
type run struct {
	cfg      Config
	cluster  *sparkcluster.Cluster
	pool     *sparkcluster.Pool
	job      *sparkcluster.Job
	appID    string
	exporter *service
	prom     *service
	scaler   *scalerProc
	conn     *grpc.ClientConn
	sim      *kedasim.Sim
	res      *Result

	want chan int    // latest replica count for the reconciler
	errs chan string // reconcile failures
}

// Run runs one job under cfg.Mode and records its timeline. Everything it starts is stopped
// before it returns, on success, on error and on ctx cancellation.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("closedloop: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := &run{cfg: cfg, res: &Result{Mode: cfg.Mode, Prometheus: cfg.PrometheusBin != ""},
		want: make(chan int, 1), errs: make(chan string, 64)}
	defer r.close()
	if err := r.start(ctx); err != nil {
		return r.res, err
	}
	err := r.loop(ctx)
	r.res.Events = r.job.Events()
	if err == nil && cfg.BeforeStop != nil {
		promURL := ""
		if r.prom != nil {
			promURL = "http://" + r.prom.Addr
		}
		if herr := cfg.BeforeStop(ctx, promURL); herr != nil {
			err = fmt.Errorf("closedloop: before stop: %w", herr)
		}
	}
	return r.res, err
}

func (r *run) start(ctx context.Context) error {
	cfg := r.cfg
	var err error
	r.cluster, err = sparkcluster.Start(ctx, sparkcluster.Options{SparkHome: cfg.SparkHome, Dir: filepath.Join(cfg.Dir, "spark")})
	if err != nil {
		return err
	}
	r.pool = sparkcluster.NewPool(r.cluster)
	r.pool.OnError = func(err error) {
		select {
		case r.errs <- err.Error():
		default:
		}
	}
	initial := cfg.DRA.Min
	if cfg.Mode == Shadow {
		initial = cfg.DRA.Max
	}
	cfg.Logf("starting %d worker(s)", initial)
	if _, err := r.pool.Reconcile(ctx, initial); err != nil {
		return err
	}
	if err := r.pool.WaitReady(ctx); err != nil {
		return err
	}
	go r.reconciler(ctx)

	r.job, err = sparkcluster.StartJob(sparkcluster.JobOptions{
		Python: cfg.Python, Script: cfg.JobScript, MasterURL: r.cluster.MasterURL, AppName: cfg.AppName,
		Dir: cfg.Dir, EventLogDir: cfg.EventLogDir, Conf: cfg.DRA.AppConf(cfg.Mode), Pause: cfg.Pause,
		Hold: true, Args: cfg.JobArgs,
	})
	if err != nil {
		return err
	}
	// Ask the driver for its application from now on, while the other processes start: when it
	// first answers is what the exporter's publish delay is measured from.
	type answer struct {
		id  string
		at  time.Time
		err error
	}
	answered := make(chan answer, 1)
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	go func() {
		id, err := r.job.WaitApp(wctx)
		answered <- answer{id, time.Now(), err}
	}()
	if r.exporter, err = startExporter(ctx, cfg.ExporterBin, cfg.Dir, r.job.UI, cfg.PollInterval); err != nil {
		return err
	}
	scalerWeb, err := freeAddr()
	if err != nil {
		return err
	}
	source := "http://" + r.exporter.Addr + "/metrics"
	if cfg.PrometheusBin != "" {
		if r.prom, err = startPrometheus(ctx, cfg.PrometheusBin, cfg.Dir, PrometheusConfig(r.exporter.Addr, scalerWeb, cfg.PollInterval)); err != nil {
			return err
		}
	}
	if r.scaler, err = startScaler(ctx, cfg.ScalerBin, cfg.Dir, scalerWeb, r.prom, source, cfg.ScalerTick); err != nil {
		return err
	}
	if r.conn, err = grpc.NewClient(r.scaler.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return err
	}
	r.sim, err = kedasim.New(r.conn, kedasim.WallClock{}, kedasim.ScaledObject{
		Name: ScaledObject.Name, Namespace: ScaledObject.Namespace,
		Metadata:        cfg.DRA.TriggerMetadata(r.scaler.GRPCAddr, cfg.AppName),
		MinReplicaCount: int32(cfg.DRA.Min), MaxReplicaCount: int32(cfg.DRA.Max),
		PollingInterval: time.Second, HPASyncPeriod: time.Second, CooldownPeriod: 30 * time.Second,
		Behavior: ptr(kedasim.ExactBehavior()), InitialReplicas: int32(initial),
	})
	if err != nil {
		return err
	}
	a := <-answered
	if a.err != nil {
		return a.err
	}
	r.appID = a.id
	r.res.AppID, r.res.FirstAnswer = r.appID, a.at
	r.res.Start = time.Now()
	cfg.Logf("application %s up; driver UI %s; scaler source %s", r.appID, r.job.UI, r.scaler.Source)
	return nil
}

func ptr[T any](v T) *T { return &v }

// reconciler applies the latest wanted replica count, one reconcile at a time, the way a
// ReplicaSet controller works towards the current spec whatever happened in between.
func (r *run) reconciler(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-r.want:
			if _, err := r.pool.Reconcile(ctx, n); err != nil && ctx.Err() == nil {
				select {
				case r.errs <- err.Error():
				default:
				}
			}
		}
	}
}

func (r *run) setWant(n int) {
	select {
	case <-r.want: // drop a value the reconciler has not taken yet: only the latest matters
	default:
	}
	r.want <- n
}

// loop steps KEDA/HPA, marks victims, reconciles and samples until the jobs are done and the
// executors are back at minExecutors (or the idle wait ran out).
func (r *run) loop(ctx context.Context) error {
	cfg := r.cfg
	tick := time.NewTicker(cfg.Tick)
	defer tick.Stop()
	dctx, stopLog := context.WithCancel(ctx)
	logged := make(chan []Row, 1)
	go func() { logged <- r.logDecisions(dctx, DecisionLogPeriod) }()
	defer func() {
		stopLog()
		r.res.Decisions = <-logged
	}()
	var doneAt time.Time
	settled := 0
	for {
		row, err := r.sample(ctx)
		if err != nil {
			return err
		}
		r.res.Rows = append(r.res.Rows, row)
		if cfg.OnTick != nil {
			cfg.OnTick(row)
		}
		if row.Phase == "done" && doneAt.IsZero() {
			doneAt = row.Time
		}
		if !doneAt.IsZero() {
			if row.Executors == cfg.DRA.Min && row.Running == 0 {
				settled++
			} else {
				settled = 0
			}
			// Done once the executors have been at the minimum for 5 s, or the longest idle
			// timeout plus slack has passed since the last job.
			if settled*int(cfg.Tick) >= int(5*time.Second) || row.Time.Sub(doneAt) > cfg.DRA.LongestIdleTimeout()+cfg.IdleSlack {
				break
			}
		}
		if r.job.Exited() {
			return fmt.Errorf("driver exited before the run ended; see %s", r.job.LogPath())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("run timed out: %w", ctx.Err())
		case <-tick.C:
		case e := <-r.errs:
			r.res.ReconcileErrors = append(r.res.ReconcileErrors, e)
		}
	}
	if err := r.job.Release(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return r.job.Wait(wctx)
}

// sample makes one tick: KEDA/HPA step, the scaler's decision, victim marking, the wanted
// replica count, and the driver's ground truth.
func (r *run) sample(ctx context.Context) (Row, error) {
	now := time.Now()
	row := Row{Time: now, T: now.Sub(r.res.Start).Seconds(), Phase: r.phase(),
		Target: -1, MaxNeeded: -1, Desired: -1, DriverTarget: -1, DriverMaxNeeded: -1, ObsPending: -1}
	st, err := r.sim.Step(ctx)
	if err != nil {
		return row, err
	}
	row.Replicas = int(st.Replicas)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if rec, err := r.decision(rctx); err == nil && rec != nil {
		fillDecision(&row, rec)
		for host, cost := range DeletionCosts(rec) {
			r.pool.SetDeletionCost(host, cost)
		}
		for _, w := range r.cluster.Workers() {
			if !hasHost(rec, w.Host) {
				r.pool.SetDeletionCost(w.Host, int64(externalscaler.CostNoExecutor))
			}
		}
	}
	if r.cfg.Mode == ClosedLoop {
		r.setWant(row.Replicas)
	}
	row.Workers = r.pool.Replicas()
	for _, w := range r.cluster.Workers() {
		if r.cluster.Ready(w) {
			row.WorkersReady++
		}
	}
	r.sampleDriver(rctx, &row)
	return row, nil
}

func (r *run) phase() string {
	evs := r.job.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		switch e := evs[i]; e.Name() {
		case "jobs_done", "result", "stopped":
			return "done"
		case "pause":
			return "pause"
		case "job_start":
			s, _ := e["job"].(string)
			return s
		case "job_end":
			return "between"
		}
	}
	return "starting"
}

// DecisionLogPeriod is how often the harness reads the scaler's latest decision for
// Result.Decisions: more often than the scaler decides (Config.ScalerTick), so that every
// decision is seen at about the time it was made.
const DecisionLogPeriod = 50 * time.Millisecond

// logDecisions reads the scaler's latest decision every period until ctx ends and returns
// one row per decision (DecisionTime, Target, MaxNeeded and the rest of fillDecision), oldest
// first. A failed read is skipped: the next one sees the decision if it is still the latest.
func (r *run) logDecisions(ctx context.Context, period time.Duration) []Row {
	var out []Row
	var last time.Time
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		rec, err := r.decision(rctx)
		cancel()
		if err == nil && rec != nil && rec.Time.After(last) {
			last = rec.Time
			row := Row{Time: rec.Time, Target: -1, MaxNeeded: -1, Desired: -1, ObsPending: -1}
			fillDecision(&row, rec)
			out = append(out, row)
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

func (r *run) decision(ctx context.Context) (*externalscaler.DecisionRecord, error) {
	var rec externalscaler.DecisionRecord
	u := fmt.Sprintf("http://%s/decisions/%s/%s", r.scaler.WebAddr, url.PathEscape(ScaledObject.Namespace), url.PathEscape(ScaledObject.Name))
	if err := sparkcluster.GetJSON(ctx, u, &rec); err != nil {
		return nil, err
	}
	if rec.Error != "" {
		return nil, errors.New(rec.Error)
	}
	return &rec, nil
}

func fillDecision(row *Row, rec *externalscaler.DecisionRecord) {
	row.DecisionTime = rec.Time
	row.Target, row.TargetDelta, row.MaxNeeded = rec.Target, rec.TargetDelta, rec.MaxNeeded
	row.Desired, row.RampStep, row.Remove = rec.Desired, rec.NumExecutorsToAdd, len(rec.Remove)
	row.PendingRequests, row.CancelledRequests = len(rec.PendingRequests), int(rec.CancelledRequestsTotal)
	if rec.Observation != nil {
		row.ObsPending, row.ObsAge = rec.Observation.PendingTasks, rec.Observation.AgeSeconds
	}
	for _, x := range rec.Executors {
		switch x.State {
		case "idle", "kept_min_executors", "kept_target", "remove":
			row.Idle++
		}
	}
}

func hasHost(rec *externalscaler.DecisionRecord, host string) bool {
	for _, x := range rec.Executors {
		if x.Host == host {
			return true
		}
	}
	return false
}

// DeletionCosts maps each executor host of a decision, as /decisions shows it, to the pod
// deletion cost spark-dra-scaler's victim marking gives it on Kubernetes: it is
// externalscaler.DeletionCosts itself, so the worker pool removes exactly what the ReplicaSet
// would (chosen victims lowest, in Spark's order; busy executors and those holding shuffle or
// cache data highest; other idle ones in between).
func DeletionCosts(rec *externalscaler.DecisionRecord) map[string]int64 {
	costs := map[string]int64{}
	for host, c := range externalscaler.DeletionCosts(rec) {
		costs[host] = int64(c)
	}
	return costs
}

func (r *run) close() {
	if r.conn != nil {
		r.conn.Close()
	}
	if r.job != nil {
		r.job.Stop()
	}
	r.scaler.stop()
	r.prom.stop()
	r.exporter.stop()
	if r.cluster != nil {
		r.cluster.Close()
	}
}
