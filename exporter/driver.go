package exporter

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// driver is the state of one target: its Observer, the application it found, its error counts.
// One poll loop owns it.
type driver struct {
	target   Target
	observer Observer
	app      *sparkapi.ApplicationInfo
	config   *AppConfig
	errors   map[sparkapi.Reason]uint64
}

func newDriver(t Target) *driver {
	return &driver{target: t, errors: make(map[sparkapi.Reason]uint64)}
}

// pollDeps is what a poll needs from its Poller.
type pollDeps struct {
	client  *sparkapi.Client
	timeout time.Duration
	now     func() time.Time
}

// poll reads the driver once and returns its new snapshot. It never panics on bad payloads:
// every failure becomes an error reason and spark_up 0.
func (d *driver) poll(ctx context.Context, deps pollDeps) (*TargetSnapshot, error) {
	start := deps.now()
	prev := d.app
	p, err := d.read(ctx, deps)
	now := deps.now()
	snap := &TargetSnapshot{
		Target:       d.target,
		AppID:        d.target.AppID,
		AppName:      d.target.AppName,
		PollDuration: now.Sub(start),
	}
	// A poll that just lost its application (404) still reports it, down, once.
	if app := cmp.Or(d.app, prev); app != nil {
		snap.AppID, snap.AppName, snap.SparkVersion = app.ID, app.Name, app.SparkVersion()
	}
	if err != nil {
		d.errors[sparkapi.ReasonOf(err)]++
	} else {
		snap.Up = true
		snap.App = d.observer.Observe(p, now)
		if p.AllocationErr != nil {
			d.errors[ReasonMetricsJSON]++
		}
	}
	snap.Errors = make(map[sparkapi.Reason]uint64, len(d.errors))
	for r, n := range d.errors {
		snap.Errors[r] = n
	}
	return snap, err
}

// read issues the requests of one poll, each with its own deadline.
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
	if d.config == nil {
		var env sparkapi.Environment
		if err := get(prefix+"/environment", nil, &env); err != nil {
			return Poll{}, d.forgetOnNotFound(err)
		}
		cfg := NewAppConfig(env.SparkProperties, d.app.SparkVersion())
		d.config = &cfg
	}
	p := Poll{Config: *d.config, FinishedStages: -1, RunningJobs: -1}
	var stages sparkapi.StageList
	if err := get(prefix+"/stages", url.Values{"status": {"active"}}, &stages); err != nil {
		return Poll{}, d.forgetOnNotFound(err)
	}
	var execs sparkapi.ExecutorList
	if err := get(prefix+"/executors", nil, &execs); err != nil {
		return Poll{}, d.forgetOnNotFound(err)
	}
	p.ActiveStages, p.Executors = stages, execs
	if keys := d.observer.backlogBreakCandidates(stages); len(keys) > 0 {
		p.LeftStages = readLeftStages(get, prefix, keys)
	}
	if p.Config.ShufflePins {
		var jobs []sparkapi.JobData
		if err := get(prefix+"/jobs", url.Values{"status": {"running"}}, &jobs); err != nil {
			return Poll{}, d.forgetOnNotFound(err)
		}
		p.RunningJobs = len(jobs)
	}
	if !p.Config.DiskCachePins {
		rdds := []sparkapi.RDDStorageInfo{}
		if err := get(prefix+"/storage/rdd", nil, &rdds); err != nil {
			return Poll{}, d.forgetOnNotFound(err)
		}
		p.CachedRDDs = rdds
	}
	if d.observer.NeedFinishedStages() {
		var finished sparkapi.StageList
		if err := get(prefix+"/stages", url.Values{"status": {"complete", "failed"}}, &finished); err != nil {
			return Poll{}, d.forgetOnNotFound(err)
		}
		p.FinishedStages = len(finished)
	}
	p.Allocation, p.AllocationErr = d.readAllocation(ctx, deps, p.Config)
	return p, nil
}

// findApp lists the driver's applications and picks the target's (or the only one).
func (d *driver) findApp(get func(string, url.Values, any) error) error {
	var apps []sparkapi.ApplicationInfo
	if err := get("/applications", nil, &apps); err != nil {
		return err
	}
	for i := range apps {
		if d.target.AppID == "" || apps[i].ID == d.target.AppID {
			d.setApp(apps[i])
			return nil
		}
	}
	return &sparkapi.Error{URL: d.target.BaseURL.String() + "/api/v1/applications", Reason: sparkapi.ReasonNotFound,
		Err: fmt.Errorf("application %q not listed (%d listed)", d.target.AppID, len(apps))}
}

func (d *driver) setApp(a sparkapi.ApplicationInfo) {
	if d.app != nil && d.app.ID != a.ID {
		d.observer.Reset()
		d.config = nil
	}
	d.app = &a
}

// forgetOnNotFound makes the next poll list the applications again after a 404: the application
// finished, and the driver (a notebook, a restarted pod) may now run another one.
func (d *driver) forgetOnNotFound(err error) error {
	if sparkapi.ReasonOf(err) == sparkapi.ReasonNotFound && d.target.AppID == "" {
		d.observer.Reset()
		d.app, d.config = nil, nil
	}
	return err
}
