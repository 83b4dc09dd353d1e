package exporter

import (
	"testing"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// An executor's tasks stay counted after it goes; counts only grow while executors live.
func TestTaskCounter(t *testing.T) {
	var c taskCounter
	ex := func(id string, completed, failed int) sparkapi.ExecutorSummary {
		return sparkapi.ExecutorSummary{ID: id, CompletedTasks: completed, FailedTasks: failed, IsActive: true}
	}
	for i, step := range []struct {
		execs             []sparkapi.ExecutorSummary
		completed, failed int64
	}{
		{[]sparkapi.ExecutorSummary{ex("driver", 0, 0), ex("1", 10, 1), ex("2", 5, 0)}, 15, 1},
		{[]sparkapi.ExecutorSummary{ex("driver", 0, 0), ex("1", 12, 1), ex("2", 7, 2)}, 19, 3},
		// 1 released by DRA: its 12 and 1 stay; 3 registers.
		{[]sparkapi.ExecutorSummary{ex("driver", 0, 0), ex("2", 8, 2), ex("3", 1, 0)}, 21, 3},
		// Everything released.
		{[]sparkapi.ExecutorSummary{ex("driver", 0, 0)}, 21, 3},
		{nil, 21, 3},
	} {
		got := c.observe(step.execs)
		if got.completed != step.completed || got.failed != step.failed {
			t.Errorf("step %d: completed %d failed %d, want %d %d", i, got.completed, got.failed, step.completed, step.failed)
		}
	}
}
