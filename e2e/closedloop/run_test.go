package closedloop

import (
	"maps"
	"testing"

	"github.com/sparkdra/sparkdra/externalscaler"
)

func TestDeletionCostsFollowTheScalerConstants(t *testing.T) {
	rec := &externalscaler.DecisionRecord{
		Remove: []string{"7", "3"},
		Executors: []externalscaler.ExecutorRecord{
			{ID: "3", Host: "127.0.0.4", State: "remove", Holds: "none"},
			{ID: "7", Host: "127.0.0.8", State: "remove", Holds: "none"},
			{ID: "1", Host: "127.0.0.2", State: "busy", Holds: "none"},
			{ID: "2", Host: "127.0.0.3", State: "idle", Holds: "shuffle"},
			{ID: "4", Host: "127.0.0.5", State: "idle", Holds: "none"},
			{ID: "5", Host: "127.0.0.6", State: "shuffle_active", Holds: "shuffle"},
			{ID: "6", Host: "", State: "idle", Holds: "none"}, // no host: cannot be mapped
		},
	}
	got := DeletionCosts(rec)
	want := map[string]int64{
		"127.0.0.8": int64(externalscaler.CostRemove),     // first in Spark's removal order
		"127.0.0.4": int64(externalscaler.CostRemove) + 1, // second
		"127.0.0.2": int64(externalscaler.CostKeep),
		"127.0.0.3": int64(externalscaler.CostKeep),
		"127.0.0.5": int64(externalscaler.CostIdle),
		"127.0.0.6": int64(externalscaler.CostKeep),
	}
	if !maps.Equal(got, want) {
		t.Errorf("DeletionCosts = %v, want %v", got, want)
	}
}

func TestTriggerMetadataSelectsTheApplication(t *testing.T) {
	meta := DefaultDRA().TriggerMetadata("127.0.0.1:9000", "e2e-pagerank")
	if _, err := externalscaler.ParseTrigger(meta); err != nil {
		t.Fatalf("the scaler rejects the e2e trigger metadata: %v", err)
	}
	if meta["selector"] != `app_name="e2e-pagerank"` {
		t.Errorf("selector = %s", meta["selector"])
	}
	if conf := DefaultDRA().AppConf(ClosedLoop); conf["spark.dynamicAllocation.enabled"] != "false" {
		t.Errorf("closed loop application conf %v: DRA must be off", conf)
	}
}
