package externalscaler

import (
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/scaler"
)

func TestOnGrid(t *testing.T) {
	start := time.Unix(1_500_000_000, 0)
	cases := map[string]struct {
		now  time.Time
		want time.Time
	}{
		"late firing snaps back":   {start.Add(3*time.Second + 7*time.Millisecond), start.Add(3 * time.Second)},
		"on the grid stays":        {start.Add(2 * time.Second), start.Add(2 * time.Second)},
		"wake between ticks":       {start.Add(2500 * time.Millisecond), start.Add(2 * time.Second)},
		"before start is kept":     {start.Add(-time.Second), start.Add(-time.Second)},
		"first tick, barely later": {start.Add(time.Nanosecond), start},
	}
	for name, c := range cases {
		if got := onGrid(start, c.now, time.Second); !got.Equal(c.want) {
			t.Errorf("%s: onGrid = %v, want %v", name, got.Sub(start), c.want.Sub(start))
		}
	}
	if got := onGrid(start, start.Add(1500*time.Millisecond), 0); !got.Equal(start.Add(1500 * time.Millisecond)) {
		t.Errorf("zero tick changed now: %v", got.Sub(start))
	}
}

// With Spark's default 1 s timeouts and a 1 s tick whose firings jitter by a
// few milliseconds, DRA adds at every tick when decisions are taken on the
// grid, and only every other tick when taken at the raw firing times (the
// add deadline lands just after the next firing whenever that firing is less
// late than the one before).
func TestGridKeepsSparksRampPace(t *testing.T) {
	start := time.Unix(1_500_000_000, 0)
	jitter := []time.Duration{9, 3, 8, 2, 7, 1, 6, 0, 5, 4} // ms after each scheduled tick
	adds := func(snap bool) int {
		cfg, err := scaler.ParseConfig(map[string]string{scaler.KeyMaxExecutors: "1000"})
		if err != nil {
			t.Fatal(err)
		}
		e, err := scaler.NewEngine(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k, j := range jitter {
			fired := start.Add(time.Duration(k+1)*time.Second + j*time.Millisecond)
			now := fired
			if snap {
				now = onGrid(start, fired, time.Second)
			}
			obs := scaler.Observation{PendingTasks: 10000, BacklogDuration: now.Sub(start), StageSubmitted: true}
			if d := e.Step(&obs, now); d.TargetDelta > 0 {
				n++
			}
		}
		return n
	}
	if got := adds(true); got != len(jitter) {
		t.Errorf("on the grid: %d adds in %d ticks, want one per tick", got, len(jitter))
	}
	if got := adds(false); got >= len(jitter) {
		t.Errorf("raw firing times: %d adds in %d ticks; the test no longer shows the slip it guards against", got, len(jitter))
	}
}
