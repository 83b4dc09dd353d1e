//go:build e2e

// Command demo is `make demo`, the README's main command: a real Spark standalone cluster on
// this machine, scaled by sparkdra while it runs PageRank.
//
// spark-dra-exporter polls the driver, Prometheus scrapes the exporter every second (without
// Prometheus installed the scaler reads the exporter directly, the embedded default),
// spark-dra-scaler runs Spark's DRA on what it reads, an emulation of KEDA and the HPA asks it
// over gRPC for the desired count, and a worker pool (the stand-in for the kubelet and the
// ReplicaSet) starts and stops Spark Workers to match. The application itself has DRA off.
//
// It prints one line per tick (backlog, running tasks, target, desired, replicas, executors,
// idle) and writes timeline.csv, chart.svg and summary.json under e2e/out/, and the run's
// Prometheus data under e2e/out/prometheus/ (make demo then draws the dashboards from it into
// e2e/out/dashboards/).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/e2e/closedloop"
)

func main() { os.Exit(run()) }

func run() int {
	jobArgs := flag.String("job-args", "--nodes 150000", "extra arguments for e2e/jobs/pagerank.py, e.g. \"--nodes 20000 --iterations 3\"")
	pause := flag.Duration("pause", 20*time.Second, "idle gap between the application's jobs")
	noShadow := flag.Bool("no-shadow", false, "skip the shadow run (Spark's own DRA on the same job, same maxExecutors)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := closedloop.FromEnv(ctx, filepath.Join("e2e", "jobs"), "pagerank")
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	out := closedloop.OutDir(filepath.Join("e2e", "out"))
	cfg.Mode = closedloop.ClosedLoop
	cfg.Pause = *pause
	cfg.JobArgs = strings.Fields(*jobArgs)
	cfg.EventLogDir = filepath.Join(out, "eventlogs")
	tmp, err := os.MkdirTemp("", "sparkdra-demo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	if os.Getenv("SPARKDRA_E2E_KEEP") == "" {
		defer os.RemoveAll(tmp)
	}
	cfg.Dir = tmp
	cfg.Logf = func(f string, a ...any) { fmt.Printf("# "+f+"\n", a...) }
	var lastTick time.Time // the last sample while every process was up: the dashboards' end
	cfg.OnTick = func(r closedloop.Row) { lastTick = time.Now(); fmt.Println(closedloop.TickLine(r)) }
	source := "Prometheus (Debian package)"
	if cfg.PrometheusBin == "" {
		source = "the exporter directly (embedded default; no prometheus on PATH)"
	}
	fmt.Printf("# sparkdra demo: PageRank on a Spark standalone cluster, DRA settings %v; scaler reads %s\n",
		cfg.DRA.Properties(), source)
	start := time.Now()
	res, err := closedloop.Run(ctx, cfg)
	if cfg.PrometheusBin != "" && !lastTick.IsZero() {
		// make dashboards-png draws the dashboards from the closed loop's data (e2e/out/dashboards/).
		if serr := closedloop.SavePrometheusData(tmp, filepath.Join(out, "prometheus"), start, lastTick, cfg.ScrapeInterval()); serr != nil {
			fmt.Fprintln(os.Stderr, "demo:", serr)
		}
	}
	var shadow *closedloop.Result
	if err == nil && !*noShadow {
		// The same job under Spark's own DRA over a pool of maxExecutors workers, the scaler
		// beside it: what the closed loop is measured against.
		sh := cfg
		sh.Mode, sh.AppName, sh.EventLogDir = closedloop.Shadow, cfg.AppName+"-shadow", ""
		sh.Dir = filepath.Join(tmp, "shadow")
		_ = os.MkdirAll(sh.Dir, 0o755)
		fmt.Println("# shadow run: Spark's own DRA on the same job, same maxExecutors")
		shadow, err = closedloop.Run(ctx, sh)
	}
	s := closedloop.Summarize(res, shadow, cfg.DRA)
	if werr := closedloop.WriteOutputs(out, res, shadow, s); werr != nil {
		fmt.Fprintln(os.Stderr, "demo: write outputs:", werr)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	fmt.Printf("# summary (%s):\n%s\n", filepath.Join(out, "summary.json"), b)
	fmt.Printf("# chart: %s\n", filepath.Join(out, "chart.svg"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err, "(process logs are under", tmp, "when SPARKDRA_E2E_KEEP=1)")
		return 1
	}
	return 0
}
