package externalscaler

import (
	"slices"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/scaler"
)

// The trigger path keeps Spark's ExecutorMonitor rule (design.md, "What an executor holds"): an
// idle executor the exporter reports as holding shuffle is kept while the trigger metadata says
// shuffle tracking is on and no external shuffle service — Celeborn's classes in the metadata
// change nothing — and released after executorIdleTimeout once tracking is off.
func TestTriggerKeepsSparksShuffleRule(t *testing.T) {
	const dataIO = "org.apache.spark.shuffle.celeborn.CelebornShuffleDataIO"
	const manager = "org.apache.spark.shuffle.celeborn.SparkShuffleManager"
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		meta   map[string]string
		remove bool
	}{
		{"tracking by default", map[string]string{}, false},
		{"Celeborn ShuffleDataIO, tracking by default", map[string]string{scaler.KeyShuffleIOPlugin: dataIO}, false},
		{"Celeborn manager and ShuffleDataIO, tracking on", map[string]string{scaler.KeyShuffleIOPlugin: dataIO,
			scaler.KeyShuffleManager: manager, scaler.KeyShuffleTrackingEnabled: "true"}, false},
		{"Celeborn ShuffleDataIO, tracking off", map[string]string{scaler.KeyShuffleIOPlugin: dataIO,
			scaler.KeyShuffleTrackingEnabled: "false"}, true},
		{"external shuffle service", map[string]string{scaler.KeyShuffleServiceEnabled: "true"}, true},
	} {
		meta := map[string]string{KeySelector: `app_name="etl"`, scaler.KeyExecutorIdleTimeout: "60s"}
		for k, v := range tc.meta {
			meta[k] = v
		}
		trig, err := ParseTrigger(meta)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		e, err := scaler.NewEngine(trig.Spark)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		d := e.Step(&scaler.Observation{StageSubmitted: true, Executors: []scaler.ExecutorObservation{
			{ID: "1", IdleDuration: 10 * time.Minute, Holds: scaler.HoldsShuffle},
			{ID: "2", IdleDuration: 10 * time.Minute, Holds: scaler.HoldsNone},
		}}, t0)
		want := []string{"2"}
		if tc.remove {
			want = []string{"1", "2"}
		}
		if !slices.Equal(d.Remove, want) {
			t.Errorf("%s: remove %v, want %v", tc.name, d.Remove, want)
		}
	}
}
