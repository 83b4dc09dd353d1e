package exporter

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// A backlog broken between two polls.
//
// Spark's allocation manager sees the queue empty the moment the last pending task of the old
// stages starts, lowers its target in the gap, and starts the ramp again when the next stage is
// submitted (docs/spark-dra.md §3, §5). A poll every second rarely sees such a gap: pending > 0
// at both polls. It can still tell it happened: the stages that had pending tasks at the previous
// poll have all left the ACTIVE list, every stage with pending tasks now is new, and the new
// stages were submitted after the old ones completed. Then the backlog broke in between, and
// spark_dra_backlog_duration_seconds restarts at the new stages' first submission time (the
// scaler applies the drop and the ramp restart, docs/scaler.md).
//
// The old stages' completion times are not in the ACTIVE list: one GET
// /stages/{id}/{attempt}?details=false per stage that left, made only at such a boundary. A read
// that fails leaves the backlog running (as before this check existed).

// backlogBreakCandidates returns the stages whose completion times decide whether the backlog
// broke since the previous poll, sorted; nil when it cannot have (no backlog before or now, a
// stage with pending tasks then is still active, or a stage with pending tasks now was active
// then).
func (o *Observer) backlogBreakCandidates(active []sparkapi.StageData) []stageKey {
	if len(o.backlogStages) == 0 {
		return nil
	}
	backlog := false
	for _, s := range active {
		k := stageKey{s.StageID, s.AttemptID}
		if _, was := o.backlogStages[k]; was {
			return nil
		}
		if stagePending(s) > 0 {
			if _, was := o.active[k]; was {
				return nil
			}
			backlog = true
		}
	}
	if !backlog {
		return nil
	}
	keys := make([]stageKey, 0, len(o.backlogStages))
	for k := range o.backlogStages {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b stageKey) int {
		if a.stage != b.stage {
			return a.stage - b.stage
		}
		return a.attempt - b.attempt
	})
	return keys
}

func stagePending(s sparkapi.StageData) int {
	if s.Status != "" && s.Status != sparkapi.StageActive {
		return 0
	}
	return max(0, s.NumTasks-s.NumCompletedIndices-s.NumActiveTasks)
}

// readLeftStages reads each stage attempt of keys; nil if any read fails or a stage has no
// completion time (then nothing is restarted).
func readLeftStages(get func(string, url.Values, any) error, prefix string, keys []stageKey) []sparkapi.StageData {
	out := make([]sparkapi.StageData, 0, len(keys))
	for _, k := range keys {
		var s sparkapi.StageData
		if err := get(fmt.Sprintf("%s/stages/%d/%d", prefix, k.stage, k.attempt), url.Values{"details": {"false"}}, &s); err != nil ||
			s.CompletionTime == nil || s.CompletionTime.IsZero() {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// backlogRestart returns when the backlog started again if p shows it broke since the previous
// poll (see backlogBreakCandidates), clamped to (previous poll, now]; zero otherwise.
func (o *Observer) backlogRestart(p Poll, now time.Time) time.Time {
	keys := o.backlogBreakCandidates(p.ActiveStages)
	if len(keys) == 0 || len(p.LeftStages) != len(keys) {
		return time.Time{}
	}
	var completed time.Time
	for _, s := range p.LeftStages {
		if s.CompletionTime == nil || s.CompletionTime.IsZero() {
			return time.Time{}
		}
		if s.CompletionTime.After(completed) {
			completed = s.CompletionTime.Time
		}
	}
	var submitted time.Time
	for _, s := range p.ActiveStages {
		if stagePending(s) == 0 {
			continue
		}
		if s.SubmissionTime == nil || s.SubmissionTime.IsZero() {
			return time.Time{}
		}
		if submitted.IsZero() || s.SubmissionTime.Before(submitted) {
			submitted = s.SubmissionTime.Time
		}
	}
	if !submitted.After(completed) {
		return time.Time{} // the new stages overlapped the old ones: no gap
	}
	// The driver's clock against ours: the restart happened after the previous poll (the old
	// stages were active then) and not after now.
	if !submitted.After(o.lastPoll) {
		submitted = o.lastPoll.Add(time.Millisecond)
	}
	if submitted.After(now) {
		return now
	}
	return submitted
}

// rememberBacklogStages keeps the stages that have pending tasks in this poll.
func (o *Observer) rememberBacklogStages(active []sparkapi.StageData, now time.Time) {
	clear(o.backlogStages)
	for _, s := range active {
		if stagePending(s) > 0 {
			if o.backlogStages == nil {
				o.backlogStages = map[stageKey]struct{}{}
			}
			o.backlogStages[stageKey{s.StageID, s.AttemptID}] = struct{}{}
		}
	}
	o.lastPoll = now
}
