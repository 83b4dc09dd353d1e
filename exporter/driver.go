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
	// history bounds how many polls read a finished-stage list at the same time (nil: no
	// bound); see readStageHistory.
	history chan struct{}
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
		snap.App.Stale = p.stale()
		snap.App.StartTime = startTime(d.app)
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
