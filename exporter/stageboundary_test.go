package exporter

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

func submitted(s sparkapi.StageData, at time.Time) sparkapi.StageData {
	s.SubmissionTime = &sparkapi.Date{Time: at}
	return s
}

func completed(id int, at time.Time) sparkapi.StageData {
	return sparkapi.StageData{StageID: id, Status: "COMPLETE", CompletionTime: &sparkapi.Date{Time: at}}
}

// The old stage completed before the new one was submitted, both between two polls that saw a
// backlog: the backlog duration restarts at the new stage's submission. When the new stage was
// submitted before the old one completed (no gap), or the old stage is still active, it goes on.
func TestBacklogRestartsAtAStageBoundaryBetweenPolls(t *testing.T) {
	cfg := pinsConfig()
	cases := map[string]struct {
		active  []sparkapi.StageData
		left    []sparkapi.StageData
		wantFor time.Duration
		ask     bool // the stages that left must be read
	}{
		"gap: restart at the new submission": {
			active: []sparkapi.StageData{submitted(stage(2, 8, 0, 2), t0.Add(1400*time.Millisecond))},
			left:   []sparkapi.StageData{completed(1, t0.Add(1300*time.Millisecond))},
			ask:    true, wantFor: 600 * time.Millisecond,
		},
		"overlap: no gap": {
			active: []sparkapi.StageData{submitted(stage(2, 8, 0, 2), t0.Add(1200*time.Millisecond))},
			left:   []sparkapi.StageData{completed(1, t0.Add(1300*time.Millisecond))},
			ask:    true, wantFor: 2 * time.Second,
		},
		"completion unknown (read failed)": {
			active: []sparkapi.StageData{submitted(stage(2, 8, 0, 2), t0.Add(1400*time.Millisecond))},
			ask:    true, wantFor: 2 * time.Second,
		},
		"old stage still active": {
			active:  []sparkapi.StageData{stage(1, 10, 9, 1), submitted(stage(2, 8, 0, 2), t0.Add(1400*time.Millisecond))},
			wantFor: 2 * time.Second,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var o Observer
			o.Observe(Poll{Config: cfg, ActiveStages: []sparkapi.StageData{stage(1, 10, 2, 2)}, FinishedStages: 0}, t0)
			o.Observe(Poll{Config: cfg, ActiveStages: []sparkapi.StageData{stage(1, 10, 4, 2)}, FinishedStages: -1}, t0.Add(time.Second))
			keys := o.backlogBreakCandidates(c.active)
			if (len(keys) > 0) != c.ask {
				t.Fatalf("stages to read %v, want some: %v", keys, c.ask)
			}
			snap := o.Observe(Poll{Config: cfg, ActiveStages: c.active, LeftStages: c.left, FinishedStages: -1}, t0.Add(2*time.Second))
			if snap.BacklogFor != c.wantFor {
				t.Errorf("backlog for %v, want %v", snap.BacklogFor, c.wantFor)
			}
		})
	}
}

// The driver poll reads the stage that left (details=false) only at such a boundary.
func TestPollReadsLeftStagesOnlyAtABoundary(t *testing.T) {
	var reads []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads = append(reads, r.URL.Path+"?"+r.URL.RawQuery)
		w.Write([]byte(`{"stageId":1,"attemptId":0,"status":"COMPLETE","completionTime":"2017-07-14T02:40:01.300GMT"}`))
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	get := func(path string, q url.Values, v any) error {
		return testClient().Get(t.Context(), base, path, q, v)
	}
	got := readLeftStages(get, "/applications/app-1", []stageKey{{1, 0}})
	if len(got) != 1 || got[0].CompletionTime == nil || got[0].CompletionTime.Second() != 1 {
		t.Fatalf("read %+v", got)
	}
	if len(reads) != 1 || reads[0] != "/api/v1/applications/app-1/stages/1/0?details=false" {
		t.Errorf("requests %v", reads)
	}
}
