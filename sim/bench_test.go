package sim

import (
	"testing"
	"time"
)

// BenchmarkSimulateHourLongApp re-simulates 20 jobs of two stages (24 000
// tasks of 1–10 s) under Spark's DRA with up to 50 executors and its
// 100 ms tick: about an hour of simulated time (reported as sim_s) per
// run, plus the critical-path run.
func BenchmarkSimulateHourLongApp(b *testing.B) {
	s := newSynth(map[string]string{"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.maxExecutors": "50"})
	at := int64(0)
	for j := range 20 {
		tasks := make([]int64, 600)
		for i := range tasks {
			tasks[i] = int64(1000 + (i*7919+j*104729)%9000)
		}
		end := s.job(j, at, synthStage{id: 2 * j, tasks: tasks}, synthStage{id: 2*j + 1, parents: []int{2 * j}, tasks: tasks})
		at = end + 60_000 // a minute of pause
	}
	app := s.app(b, at)
	spec, err := ParsePolicy("spark", app.EffectiveConf(), nil)
	if err != nil {
		b.Fatal(err)
	}
	opt := DefaultOptions()
	opt.StartupLatency, opt.AutoStartupLatency = 5*time.Second, false
	var r Result
	for b.Loop() {
		if r, err = Simulate(app, spec, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(r.MakespanSeconds, "sim_s")
}
