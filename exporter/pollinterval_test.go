package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The poll interval is published for the poll-overrun alert, and only when it is known.
func TestCollectorPublishesPollInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		want     string
	}{
		{2500 * time.Millisecond, "# HELP spark_dra_exporter_poll_interval_seconds " + mPollInterval.help + "\n# TYPE spark_dra_exporter_poll_interval_seconds gauge\nspark_dra_exporter_poll_interval_seconds 2.5\n"},
		{0, ""},
	} {
		reg := prometheus.NewRegistry()
		if _, err := NewCollector(reg, NewStore(), CollectorOptions{PollInterval: tc.interval}); err != nil {
			t.Fatal(err)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), "spark_dra_exporter_poll_interval_seconds"); err != nil {
			t.Errorf("interval %v: %v", tc.interval, err)
		}
	}
}
