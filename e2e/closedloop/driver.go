package closedloop

import (
	"context"
	"net/url"
	"strings"

	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

type stageRow struct {
	NumTasks            int `json:"numTasks"`
	NumActiveTasks      int `json:"numActiveTasks"`
	NumCompletedIndices int `json:"numCompletedIndices"`
}

type jobRow struct {
	NumFailedTasks int `json:"numFailedTasks"`
}

type metricsJSON struct {
	Gauges map[string]struct {
		Value float64 `json:"value"`
	} `json:"gauges"`
}

// sampleDriver reads the driver's ground truth into row: pending and running tasks of ACTIVE
// stages, live and busy executors, failed task attempts, and (when Spark's DRA runs) the
// ExecutorAllocationManager gauges. A read that fails leaves its fields as they were.
func (r *run) sampleDriver(ctx context.Context, row *Row) {
	base := r.job.UI + "/api/v1/applications/" + url.PathEscape(r.appID)
	var stages []stageRow
	if sparkcluster.GetJSON(ctx, base+"/stages?status=active", &stages) == nil {
		for _, s := range stages {
			row.Pending += max(0, s.NumTasks-s.NumCompletedIndices-s.NumActiveTasks)
			row.Running += s.NumActiveTasks
		}
	}
	if execs, err := sparkcluster.DriverExecutors(ctx, r.job.UI, r.appID); err == nil {
		row.Executors = len(execs)
		for _, e := range execs {
			if e.ActiveTasks > 0 {
				row.Busy++
			}
		}
	}
	var jobs []jobRow
	if sparkcluster.GetJSON(ctx, base+"/jobs", &jobs) == nil {
		for _, j := range jobs {
			row.FailedTasks += j.NumFailedTasks
		}
	}
	if r.cfg.Mode != Shadow {
		return
	}
	var m metricsJSON
	if sparkcluster.GetJSON(ctx, r.job.UI+"/metrics/json/", &m) == nil {
		for name, g := range m.Gauges {
			switch {
			case strings.HasSuffix(name, ".ExecutorAllocationManager.executors.numberTargetExecutors"):
				row.DriverTarget = int(g.Value)
			case strings.HasSuffix(name, ".ExecutorAllocationManager.executors.numberMaxNeededExecutors"):
				row.DriverMaxNeeded = int(g.Value)
			}
		}
	}
}
