package scaler

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Spark's own monitor tests build an ExecutorMonitor directly, with settings
// the allocation manager would refuse: here neither the shuffle service nor
// shuffle tracking. The event layer accepts that configuration when asked
// for a monitor-only Manager, and behaves as Spark's monitor does: shuffle
// output pins nothing (tracking is off), RDD blocks on disk pin for
// cachedExecutorIdleTimeout (no service serves them).
func TestMonitorOnlyConfiguration(t *testing.T) {
	props := map[string]string{
		KeyShuffleServiceEnabled: "false", KeyShuffleTrackingEnabled: "false",
		KeyExecutorIdleTimeout: "60s", KeyCachedExecutorIdle: "120s", KeyShuffleTrackingTimeout: "240s",
	}
	if _, err := ParseConfig(props); err == nil || !strings.Contains(err.Error(), "Dynamic allocation of executors requires") {
		t.Fatalf("ParseConfig: %v, want the allocation manager's shuffle-mechanism error", err)
	}
	cfg, err := ParseProperties(props)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewManager(cfg, ManagerOptions{}); err == nil {
		t.Fatal("NewManager accepted a configuration the allocation manager refuses")
	}
	m, err := NewManager(cfg, ManagerOptions{MonitorOnly: true})
	if err != nil {
		t.Fatalf("monitor-only: %v", err)
	}
	m.ExecutorAdded(t0, "1", DefaultResourceProfileID)
	m.ExecutorAdded(t0, "2", DefaultResourceProfileID)
	// Executor 1 writes shuffle output of a still-running job; executor 2 caches a block on disk.
	m.JobStart(t0, 1, []JobStage{{StageID: 1, ShuffleID: 0}, {StageID: 2, ShuffleID: -1}})
	sa := StageAttempt{StageID: 1}
	m.StageSubmitted(t0, sa, 1, DefaultResourceProfileID)
	m.TaskStart(t0, sa, 0, "1", false)
	m.TaskEnd(t0, sa, 0, "1", false, TaskSuccess)
	m.ShuffleBlockUpdated(t0, "1", 0)
	m.RDDBlockUpdated(t0, "2", 5, 0, StorageDiskOnly)

	ids := func(at time.Duration) []string {
		var out []string
		for _, r := range m.TimedOutExecutors(t0.Add(at)) {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(60*time.Second + time.Millisecond); !slices.Equal(got, []string{"1"}) {
		t.Errorf("after executorIdleTimeout: timed out %v, want [1] (shuffle not tracked; the disk block pins 2)", got)
	}
	if got := ids(120*time.Second + time.Millisecond); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("after cachedExecutorIdleTimeout: timed out %v, want [1 2]", got)
	}

	// Monitor-only still applies the monitor's own checks.
	bad := cfg
	bad.ExecutorIdleTimeout = -time.Second
	if _, err := NewManager(bad, ManagerOptions{MonitorOnly: true}); err == nil || !strings.Contains(err.Error(), "Timeout must be >= 0") {
		t.Errorf("negative idle timeout: %v", err)
	}
}
