package closedloop

import (
	"slices"
	"time"
)

// Delivery is how much of what DRA asked for was really there, over one run.
type Delivery struct {
	// Ratio is ∫ min(live, target) dt ÷ ∫ target dt over the samples with a backlog (the driver
	// listed pending tasks): 1 when every executor DRA's target asked for was live all along.
	// Live executors beyond the target (kept after the target dipped) do not count. -1 when the
	// run had no backlog with a target.
	Ratio float64
	// LiveSeconds and TargetSeconds are the two integrals, in executor-seconds.
	LiveSeconds, TargetSeconds float64
}

// DeliveryOf integrates rows with target(r) as DRA's target: the scaler's target in the closed
// loop, the driver's numberTargetExecutors in the shadow run. Each sample stands for the time
// until the next one; samples whose target is unknown (< 0) are skipped.
func DeliveryOf(rows []Row, target func(Row) int) Delivery {
	return CoverageOf(rows, target, LiveExecutors)
}

// CoverageOf is DeliveryOf with have(r) in place of the live executors: with ClosedLoopRequested
// it is how much of the target the scaler had asked for (the rest of the delivery gap is the time
// from request to a registered executor); with WorkersReady, how much had a worker to run on.
func CoverageOf(rows []Row, target, have func(Row) int) Delivery {
	d := Delivery{Ratio: -1}
	for i := 0; i+1 < len(rows); i++ {
		r := rows[i]
		tg := target(r)
		if r.Pending <= 0 || tg <= 0 {
			continue
		}
		dt := rows[i+1].Time.Sub(r.Time).Seconds()
		d.TargetSeconds += float64(tg) * dt
		d.LiveSeconds += float64(max(0, min(have(r), tg))) * dt
	}
	if d.TargetSeconds > 0 {
		d.Ratio = d.LiveSeconds / d.TargetSeconds
	}
	return d
}

// LiveExecutors is the executors registered with the driver.
func LiveExecutors(r Row) int { return r.Executors }

// WorkersReady is the Spark workers the master lists ALIVE (one executor each): in the closed
// loop the pods that are ready.
func WorkersReady(r Row) int { return r.WorkersReady }

// ClosedLoopTarget is the closed loop's DRA target: the scaler's.
func ClosedLoopTarget(r Row) int { return r.Target }

// ShadowTarget is the shadow run's DRA target: the driver's own.
func ShadowTarget(r Row) int { return r.DriverTarget }

// JobSeconds is the job's run time: from the run's start (the application registered) to the
// first sample after its last job ended; -1 if it never did.
func JobSeconds(rows []Row) float64 {
	for _, r := range rows {
		if r.Phase == "done" {
			return r.T
		}
	}
	return -1
}

// PhaseSeconds sums, per phase (Row.Phase: a job's name, "pause", "between", …), the time from
// each sample to the next until the job is done; the phases before "done" add up to JobSeconds.
func PhaseSeconds(rows []Row) map[string]float64 {
	out := map[string]float64{}
	for i := 0; i+1 < len(rows); i++ {
		if rows[i].Phase == "done" {
			break
		}
		out[rows[i].Phase] += rows[i+1].Time.Sub(rows[i].Time).Seconds()
	}
	return out
}

// RequestToRegistered returns the time from each executor request to the executor's
// registration, as the samples show them: requested(r) is the executors asked for (the HPA's
// replicas in the closed loop, the driver's target in the shadow run), Executors the live ones.
// Outstanding requests are max(0, requested − live), stamped when they first appeared and
// fulfilled oldest first as live executors arrive; requests withdrawn before an executor came
// are dropped newest first (the ReplicaSet's order). Executors live at the first sample count for
// no request.
func RequestToRegistered(rows []Row, requested func(Row) int) []time.Duration {
	return RequestToLive(rows, requested, LiveExecutors)
}

// RequestToLive is RequestToRegistered with live(r) for the executors registered: with
// WorkersReady it times request to a ready worker; with requested WorkersReady and live
// LiveExecutors, a ready worker to its executor's registration.
func RequestToLive(rows []Row, requested, live func(Row) int) []time.Duration {
	var out []time.Duration
	var queue []time.Time
	prevLive := -1
	for _, r := range rows {
		req, have := requested(r), live(r)
		if req < 0 || have < 0 {
			continue
		}
		if prevLive >= 0 {
			for k := prevLive; k < have && len(queue) > 0; k++ {
				out = append(out, r.Time.Sub(queue[0]))
				queue = queue[1:]
			}
		}
		prevLive = have
		want := max(0, req-have)
		if len(queue) > want {
			queue = queue[:want]
		}
		for len(queue) < want {
			queue = append(queue, r.Time)
		}
	}
	return out
}

// Median is the median of ds in seconds; -1 when empty.
func Median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2].Seconds()
	}
	return (s[n/2-1] + s[n/2]).Seconds() / 2
}

// ClosedLoopRequested is what the closed loop asked for: the HPA's replica count (one executor
// per worker).
func ClosedLoopRequested(r Row) int { return r.Replicas }
