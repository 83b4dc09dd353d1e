package exporter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// FuzzPayloads decodes arbitrary bytes as every payload the exporter reads, feeds whatever
// decodes to an Observer and a Collector, and checks that nothing panics and every scrape works.
func FuzzPayloads(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "spark", "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"id":"1","isActive":true,"activeTasks":-5,"totalTasks":-1,"addTime":"2099-01-01T00:00:00.000GMT"}]`))
	f.Add([]byte(`[{"status":"ACTIVE","numTasks":2147483647,"numActiveTasks":-2147483648}]`))
	f.Add([]byte(`{"sparkProperties":[["spark.executor.cores","0"],["spark.task.cpus","-1"]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var apps []sparkapi.ApplicationInfo
		var stages []sparkapi.StageData
		var execs []sparkapi.ExecutorSummary
		var jobs []sparkapi.JobData
		var env sparkapi.Environment
		var master sparkapi.MasterState
		_ = json.Unmarshal(b, &apps)
		_ = json.Unmarshal(b, &stages)
		_ = json.Unmarshal(b, &execs)
		_ = json.Unmarshal(b, &jobs)
		_ = json.Unmarshal(b, &master)
		_ = json.Unmarshal(b, &env)
		version := ""
		for _, a := range apps {
			version = a.SparkVersion()
		}
		cfg := NewAppConfig(env.SparkProperties, version)
		var o Observer
		store := NewStore()
		reg := prometheus.NewPedanticRegistry()
		if _, err := NewCollector(reg, store, CollectorOptions{PerExecutor: true, KubernetesLabels: true}); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			snap := o.Observe(Poll{Config: cfg, ActiveStages: stages, FinishedStages: -1, RunningJobs: len(jobs),
				Executors: execs}, t0.Add(time.Duration(i)*time.Second))
			store.Set(&TargetSnapshot{Target: Target{Key: "k", Source: SourceStatic}, Up: true, AppID: "a", App: snap})
			if _, err := reg.Gather(); err != nil {
				t.Fatalf("gather: %v", err)
			}
		}
	})
}
