package closedloop

import (
	"math"
	"time"
)

// Ramp is what the timeline says about the first scale-up of a run. The harness samples the
// scaler's decisions less often than the scaler ticks, so the steps are the rises of the target
// between successive sampled decisions (sustainedSchedulerBacklogTimeout ≥ 1 s keeps two adds
// out of one sampling interval).
type Ramp struct {
	// BacklogStart is the first sample where the driver listed pending tasks; zero if never.
	BacklogStart time.Time
	// FirstAdd is the first decision that raised the target; zero if none did.
	FirstAdd time.Time
	// FirstAddLatency is FirstAdd − BacklogStart (Spark: schedulerBacklogTimeout, plus the
	// exporter poll, the Prometheus scrape, the scaler tick and this harness's sampling).
	FirstAddLatency time.Duration
	// Steps are the successive rises of the target from the first add until the first decision
	// that saw no backlog or lowered the target; StepTimes are their decision times.
	Steps     []int
	StepTimes []time.Time
	// PeakTarget is the highest target of that episode.
	PeakTarget int
}

// decisions returns the distinct scaler decisions of rows (one per scaler tick), in order.
func decisions(rows []Row) []Row {
	var out []Row
	var last time.Time
	for _, r := range rows {
		if r.DecisionTime.IsZero() || !r.DecisionTime.After(last) {
			continue
		}
		last = r.DecisionTime
		out = append(out, r)
	}
	return out
}

// FirstRamp analyses the first backlog episode of rows.
func FirstRamp(rows []Row) Ramp {
	var rp Ramp
	for _, r := range rows {
		if r.Pending > 0 {
			rp.BacklogStart = r.Time
			break
		}
	}
	prev := -1
	for _, d := range decisions(rows) {
		rise := 0
		if prev >= 0 {
			rise = d.Target - prev
		}
		prev = d.Target
		if rp.FirstAdd.IsZero() {
			if rise <= 0 {
				continue
			}
			rp.FirstAdd = d.DecisionTime
		} else if d.ObsPending == 0 || rise < 0 {
			break // the backlog is gone, or the need fell below the target (Spark resets the ramp)
		}
		if rise > 0 {
			rp.Steps = append(rp.Steps, rise)
			rp.StepTimes = append(rp.StepTimes, d.DecisionTime)
		}
		rp.PeakTarget = max(rp.PeakTarget, d.Target)
	}
	if !rp.BacklogStart.IsZero() && !rp.FirstAdd.IsZero() {
		rp.FirstAddLatency = rp.FirstAdd.Sub(rp.BacklogStart)
	}
	return rp
}

// RampIsSparkLike checks steps against Spark's ramp (docs/spark-dra.md §5): the k-th add is at
// most numExecutorsToAdd, which starts at 1 and doubles after an add that was granted in full and
// resets to 1 after a clamped one (by need or by max). A step above numExecutorsToAdd could only
// come from Spark's jump to the live executor count, which a closed loop (executors trail the
// target) never takes. It returns the index of the first step that breaks the rule, len(steps) if
// the peak passed maxExecutors, or -1.
func RampIsSparkLike(steps []int, peak, maxExecutors int) int {
	toAdd := 1
	for i, s := range steps {
		switch {
		case s < 1 || s > toAdd:
			return i
		case s == toAdd:
			toAdd *= 2
		default:
			toAdd = 1
		}
	}
	if peak > maxExecutors {
		return len(steps)
	}
	return -1
}

// LongestDeficit is the longest stretch during which fewer executors ran than the HPA's replica
// count asked for, however often that count changed meanwhile: the worker and executor start-up
// time as the loop saw it.
func LongestDeficit(rows []Row) time.Duration {
	var worst time.Duration
	var since time.Time
	for _, r := range rows {
		switch {
		case r.Executors < r.Replicas && since.IsZero():
			since = r.Time
		case r.Executors >= r.Replicas && !since.IsZero():
			worst = max(worst, r.Time.Sub(since))
			since = time.Time{}
		}
	}
	if !since.IsZero() && len(rows) > 0 {
		worst = max(worst, rows[len(rows)-1].Time.Sub(since))
	}
	return worst
}

// FollowLag is the longest time the live executor count took to reach the HPA's replica count
// after it changed (only changes that held until reached count). An executor count that never
// caught up before the next change is not counted; a run where it never caught up at all
// returns +Inf.
func FollowLag(rows []Row) time.Duration {
	var worst time.Duration
	var since time.Time
	want := -1
	reachedAny := false
	for _, r := range rows {
		if r.Replicas != want {
			want, since = r.Replicas, r.Time
		}
		if !since.IsZero() && r.Executors == want {
			reachedAny = true
			worst = max(worst, r.Time.Sub(since))
			since = time.Time{}
		}
	}
	if !reachedAny {
		return time.Duration(math.MaxInt64)
	}
	return worst
}

// ShadowFidelity compares the scaler's target with the driver's own numberTargetExecutors.
type ShadowFidelity struct {
	// Samples is how many driver samples had both numbers.
	Samples int
	// Lag is the shift of the scaler series that gave the best agreement (the exporter poll,
	// the scrape and the scaler tick delay the scaler's view of the same moment).
	Lag time.Duration
	// Agreement is the share of samples (0–1) where the two targets were equal at that lag.
	Agreement float64
	// MaxGap is the largest |scaler target − driver target| at that lag.
	MaxGap int
	// MaxNeededAgreement is the same share for maxNeeded against numberMaxNeededExecutors.
	MaxNeededAgreement float64
}

// CompareShadow aligns the scaler's decisions, shifted back by each lag in [0, maxLag] in steps
// of step, with the driver's samples, and keeps the best lag. The decisions are those current
// at each sample of rows, so the lag is resolved no finer than the sampling.
func CompareShadow(rows []Row, maxLag, step time.Duration) ShadowFidelity {
	return CompareShadowDecisions(rows, decisions(rows), maxLag, step)
}

// CompareShadowDecisions is CompareShadow with the scaler's decisions given apart, each row's
// DecisionTime, Target and MaxNeeded set, oldest first (Result.Decisions: every decision, so
// that the lag can be resolved finer than the samples of the driver).
func CompareShadowDecisions(rows, ds []Row, maxLag, step time.Duration) ShadowFidelity {
	best := ShadowFidelity{Agreement: -1}
	for lag := time.Duration(0); lag <= maxLag; lag += step {
		s := compareAt(rows, ds, lag)
		if s.Agreement > best.Agreement {
			best = s
		}
	}
	if best.Agreement < 0 {
		best.Agreement = 0
	}
	return best
}

func compareAt(rows, ds []Row, lag time.Duration) ShadowFidelity {
	s := ShadowFidelity{Lag: lag}
	equal, equalNeed := 0, 0
	j := -1
	for _, r := range rows {
		if r.DriverTarget < 0 {
			continue
		}
		// The scaler's view of the moment r.Time: its latest decision made by r.Time + lag.
		at := r.Time.Add(lag)
		if len(ds) == 0 || at.After(ds[len(ds)-1].DecisionTime) {
			continue // the scaler's view of that moment was not recorded
		}
		for j+1 < len(ds) && !ds[j+1].DecisionTime.After(at) {
			j++
		}
		if j < 0 || ds[j].Target < 0 {
			continue
		}
		s.Samples++
		gap := ds[j].Target - r.DriverTarget
		if gap == 0 {
			equal++
		}
		if ds[j].MaxNeeded == r.DriverMaxNeeded {
			equalNeed++
		}
		s.MaxGap = max(s.MaxGap, abs(gap))
	}
	if s.Samples > 0 {
		s.Agreement = float64(equal) / float64(s.Samples)
		s.MaxNeededAgreement = float64(equalNeed) / float64(s.Samples)
	}
	return s
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
