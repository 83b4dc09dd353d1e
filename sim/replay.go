package sim

import (
	"time"

	"github.com/sparkdra/sparkdra/scaler"
)

// ReplayPoint is the engine's view at one instant of a replayed log.
type ReplayPoint struct {
	// T is seconds since the application start.
	T float64 `json:"t"`
	// Target is the DRA target (numberTargetExecutors).
	Target int `json:"target"`
	// MaxNeeded is numberMaxNeededExecutors.
	MaxNeeded int `json:"max_needed"`
	// Executors is the executors the log really had alive.
	Executors int `json:"executors"`
	// WouldRemove counts executors the engine chose for removal at this
	// instant that the log kept.
	WouldRemove int `json:"would_remove"`
}

// Replay feeds the recorded events, at their recorded times, through a
// Manager with cfg, ticking it every tick (Spark: 100 ms), and returns one
// point per change of the engine's view and at least one per second. The
// executors stay as the log had them: what the engine would remove is
// counted, not done.
func Replay(app *App, cfg scaler.Config, tick time.Duration) ([]ReplayPoint, error) {
	if err := checkSpans(app); err != nil {
		return nil, err
	}
	m, err := scaler.NewManager(cfg, scaler.ManagerOptions{TasksPerExecutor: app.ProfileSlots})
	if err != nil {
		return nil, err
	}
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	jobs := map[int]*Job{}
	for _, j := range app.Jobs {
		jobs[j.ID] = j
	}
	var out []ReplayPoint
	live := 0
	cached := map[[2]int]bool{}
	next := app.Start
	lastSec := int64(-1)
	point := func(now int64, removed int) {
		p := ReplayPoint{T: float64(now-app.Start) / 1000, Target: m.TotalTarget(), MaxNeeded: m.TotalMaxNeeded(),
			Executors: live, WouldRemove: removed}
		sec := (now - app.Start) / 1000
		if n := len(out); n > 0 && sec == lastSec && removed == 0 {
			q := out[n-1]
			if q.Target == p.Target && q.MaxNeeded == p.MaxNeeded && q.Executors == p.Executors {
				return
			}
		}
		lastSec = sec
		out = append(out, p)
	}
	tickTo := func(at int64) {
		for ; next <= at; next += tick.Milliseconds() {
			removed := m.Schedule(tm(next))
			point(next, len(removed))
		}
	}
	for _, ev := range app.Timeline {
		tickTo(ev.At)
		now := tm(ev.At)
		e := &ev.Event
		switch e.Event {
		case "SparkListenerJobStart":
			j, ok := jobs[*e.JobID] // Build checked the id
			if !ok {
				break
			}
			var js []scaler.JobStage
			for _, id := range j.Stages {
				sh := -1
				if st := app.Stages[id]; st != nil && st.ShuffleMap {
					sh = id
				}
				js = append(js, scaler.JobStage{StageID: id, ShuffleID: sh})
			}
			m.JobStart(now, j.ID, js)
		case "SparkListenerJobEnd":
			if e.JobID != nil {
				m.JobEnd(now, *e.JobID)
			}
		case "SparkListenerStageSubmitted":
			si := e.StageInfo
			m.StageSubmitted(now, scaler.StageAttempt{StageID: si.StageID, AttemptID: si.AttemptID}, si.NumTasks, si.RPID)
		case "SparkListenerStageCompleted":
			si := e.StageInfo
			m.StageCompleted(now, scaler.StageAttempt{StageID: si.StageID, AttemptID: si.AttemptID})
		case "SparkListenerTaskStart":
			ti := e.TaskInfo
			m.TaskStart(now, scaler.StageAttempt{StageID: *e.StageID, AttemptID: e.StageAttemptID}, ti.Index, ti.ExecutorID, ti.Speculative)
		case "SparkListenerTaskEnd":
			ti := e.TaskInfo
			reason := scaler.TaskSuccess
			switch {
			case e.TaskEndReason != nil && e.TaskEndReason.Reason == "TaskKilled", ti.Killed:
				reason = scaler.TaskKilled
			case e.TaskEndReason != nil && e.TaskEndReason.Reason != "Success", ti.Failed:
				reason = scaler.TaskFailed
			}
			m.TaskEnd(now, scaler.StageAttempt{StageID: *e.StageID, AttemptID: e.StageAttemptID}, ti.Index, ti.ExecutorID, ti.Speculative, reason)
			if st := app.Stages[*e.StageID]; st != nil && reason == scaler.TaskSuccess {
				for _, rdd := range st.Cached {
					k := [2]int{rdd, ti.Index}
					if !cached[k] {
						cached[k] = true
						m.RDDBlockUpdated(now, ti.ExecutorID, rdd, ti.Index, scaler.StorageMemoryAndDisk)
					}
				}
			}
		case "SparkListenerExecutorAdded":
			rp := 0
			if e.ExecutorInfo != nil {
				rp = e.ExecutorInfo.ResourceProfileID
			}
			live++
			m.ExecutorAdded(now, e.ExecutorID, rp)
		case "SparkListenerExecutorRemoved":
			live--
			m.ExecutorRemoved(now, e.ExecutorID, e.RemovedReason)
		case "SparkListenerUnpersistRDD":
			if e.RDDID != nil {
				m.UnpersistRDD(now, *e.RDDID)
			}
		}
		point(ev.At, 0)
	}
	tickTo(app.End)
	return out, nil
}
