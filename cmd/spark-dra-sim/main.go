// Command spark-dra-sim answers "what would this autoscaling policy have
// cost on this Spark job": it replays Spark event logs through sparkdra's
// DRA engine and re-simulates recorded jobs under static executor counts,
// Spark's DRA or sparkdra's policies (docs/policies.md).
//
//	spark-dra-sim replay [--policy=P] [--conf KEY=VALUE]... [--json] [--svg FILE] LOG
//	spark-dra-sim whatif --policy=P [--policy=P]... [--conf KEY=VALUE]... [--json] [--svg FILE] LOG
//	spark-dra-sim report --out FILE --charts DIR [--conf KEY=VALUE]... NAME=LOG...
//
// P is static:N, spark or a sparkdra policy name. LOG is an event-log file
// (plain, .lz4, .snappy or .zstd) or a rolling event-log directory.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/sim"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  spark-dra-sim replay [--policy=P] [--conf KEY=VALUE]... [--json] [--svg FILE] LOG
  spark-dra-sim whatif --policy=P [--policy=P]... [--conf KEY=VALUE]... [--startup-latency=auto|5s] [--json] [--svg FILE] LOG
  spark-dra-sim report --out FILE --charts DIR [--conf KEY=VALUE]... NAME=LOG...
P is static:N, spark, ramp, paced, release or lean.`

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// options are the flags of every subcommand (each uses a subset).
type options struct {
	policies      []string
	confs         map[string]string
	workloadConfs multi
	json          bool
	svg           string
	strict        bool
	quiet         bool
	out           string
	charts        string
	sim           sim.Options
	args          []string
}

func parse(cmd string, args []string, stderr io.Writer) (options, error) {
	o := options{sim: sim.DefaultOptions()}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var policies, confs multi
	fs.Var(&policies, "policy", "policy to simulate: static:N, spark, ramp, paced, release or lean (repeatable)")
	fs.Var(&confs, "conf", "Spark property KEY=VALUE overriding the log's (repeatable)")
	fs.Var(&o.workloadConfs, "workload-conf", "report: NAME:KEY=VALUE, a property one workload ran with that its log does not say (repeatable)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.StringVar(&o.svg, "svg", "", "write a chart of executors over time to this SVG file")
	fs.BoolVar(&o.strict, "strict", false, "fail on a malformed line instead of skipping it")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&o.out, "out", "", "report: the Markdown file to write")
	fs.StringVar(&o.charts, "charts", "", "report: the directory of the SVG charts")
	latency := fs.String("startup-latency", "auto", "time from requesting an executor to its first task; auto: as in the log (1s when it cannot tell)")
	pending := fs.String("pending", "auto", "executors asked for and not up yet when the target drops: cancel (Kubernetes, YARN), keep (standalone), auto: by the log's spark.master")
	fs.DurationVar(&o.sim.Tick, "tick", o.sim.Tick, "period of the DRA schedule() tick")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.policies, o.args = policies, fs.Args()
	mode, err := sim.ParsePendingMode(*pending)
	if err != nil {
		return o, err
	}
	o.sim.Pending = mode
	if *latency != "auto" {
		d, err := time.ParseDuration(*latency)
		if err != nil {
			return o, fmt.Errorf("--startup-latency %q: want auto or a duration like 5s", *latency)
		}
		o.sim.StartupLatency, o.sim.AutoStartupLatency = d, false
	}
	c, err := sim.ParseConfs(confs)
	if err != nil {
		return o, err
	}
	o.confs = c
	return o, o.validate(cmd)
}

// validate checks what each subcommand needs; every problem is reported.
func (o options) validate(cmd string) error {
	var errs []error
	switch cmd {
	case "replay", "whatif":
		if len(o.args) != 1 {
			errs = append(errs, fmt.Errorf("%s needs exactly one LOG, got %d", cmd, len(o.args)))
		}
		if cmd == "whatif" && len(o.policies) == 0 {
			errs = append(errs, errors.New("whatif needs --policy"))
		}
	case "report":
		if o.out == "" || o.charts == "" {
			errs = append(errs, errors.New("report needs --out and --charts"))
		}
		if len(o.args) == 0 {
			errs = append(errs, errors.New("report needs at least one NAME=LOG"))
		}
	}
	if o.sim.StartupLatency < 0 || o.sim.Tick <= 0 {
		errs = append(errs, errors.New("--startup-latency must be >= 0 and --tick > 0"))
	}
	return errors.Join(errs...)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd := args[0]
	o, err := parse(cmd, args[1:], stderr)
	if err != nil {
		fmt.Fprintf(stderr, "spark-dra-sim %s: %v\n%s\n", cmd, err, usage)
		return 2
	}
	if !o.quiet {
		o.sim.Progress = stderr
	}
	switch cmd {
	case "replay":
		err = replay(o, stdout, stderr)
	case "whatif":
		err = whatif(o, stdout, stderr)
	case "report":
		err = report(o, stderr)
	default:
		err = fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintf(stderr, "spark-dra-sim %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func load(path string, strict bool, stderr io.Writer) (*sim.App, error) {
	app, err := sim.Load(path, strict)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s := app.Skipped(); s != "" {
		fmt.Fprintf(stderr, "%s: %s\n", path, s)
	}
	return app, nil
}

func replay(o options, stdout, stderr io.Writer) error {
	app, err := load(o.args[0], o.strict, stderr)
	if err != nil {
		return err
	}
	policy := "spark"
	if len(o.policies) > 0 {
		policy = o.policies[len(o.policies)-1]
	}
	spec, err := sim.ParsePolicy(policy, app.EffectiveConf(), o.confs)
	if err != nil {
		return err
	}
	if spec.IsStatic() {
		return fmt.Errorf("replay drives the DRA engine: --policy %s is not a DRA policy", policy)
	}
	pts, err := sim.Replay(app, spec.Config, o.sim.Tick)
	if err != nil {
		return err
	}
	if o.svg != "" {
		if err := writeSVG(o.svg, app.Name+": replay through policy "+policy, sim.ReplayLines(pts)); err != nil {
			return err
		}
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"app_id": app.ID, "recorded": app.Recorded(), "points": pts})
	}
	fmt.Fprintf(stdout, "%s (%s): replay through policy %s; target, max needed and the executors the log had\n", app.ID, app.Name, policy)
	fmt.Fprintf(stdout, "%8s %7s %10s %10s %13s\n", "t_s", "target", "max_needed", "executors", "would_remove")
	for _, p := range pts {
		fmt.Fprintf(stdout, "%8.1f %7d %10d %10d %13d\n", p.T, p.Target, p.MaxNeeded, p.Executors, p.WouldRemove)
	}
	return nil
}

func whatif(o options, stdout, stderr io.Writer) error {
	app, err := load(o.args[0], o.strict, stderr)
	if err != nil {
		return err
	}
	var rs []sim.Result
	for _, p := range o.policies {
		spec, err := sim.ParsePolicy(p, app.EffectiveConf(), o.confs)
		if err != nil {
			return err
		}
		start := time.Now()
		r, err := sim.Simulate(app, spec, o.sim)
		if err != nil {
			return err
		}
		if o.sim.Progress != nil {
			fmt.Fprintf(o.sim.Progress, "whatif %s: done in %v\n", p, time.Since(start).Round(time.Millisecond))
		}
		rs = append(rs, r)
	}
	if o.svg != "" {
		if err := writeSVG(o.svg, app.Name+": executors over time", sim.ExecutorLines(rs)); err != nil {
			return err
		}
	}
	rec := app.Recorded()
	if o.json {
		enc := json.NewEncoder(stdout)
		for i := range rs {
			rs[i].Series = nil
		}
		if len(rs) == 1 {
			return enc.Encode(struct {
				sim.Result
				Recorded sim.Recorded `json:"recorded"`
			}{rs[0], rec})
		}
		return enc.Encode(map[string]any{"recorded": rec, "results": rs})
	}
	return sim.WriteTable(stdout, &rec, rs)
}

// writeSVG writes a chart of lines, one panel each, to path.
func writeSVG(path, title string, lines []sim.Line) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = sim.WriteSVG(f, title, "executors", lines, 900, 70)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func report(o options, stderr io.Writer) error {
	var ws []sim.Workload
	for _, a := range o.args {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("workload %q: want NAME=LOG", a)
		}
		app, err := load(path, o.strict, stderr)
		if err != nil {
			return err
		}
		ws = append(ws, sim.Workload{Name: name, Path: path, App: app, Conf: map[string]string{}})
	}
	for _, wc := range o.workloadConfs {
		name, kv, ok := strings.Cut(wc, ":")
		k, v, ok2 := strings.Cut(kv, "=")
		i := slices.IndexFunc(ws, func(w sim.Workload) bool { return w.Name == name })
		if !ok || !ok2 || i < 0 {
			return fmt.Errorf("--workload-conf %q: want NAME:KEY=VALUE for a workload given", wc)
		}
		ws[i].Conf[k] = v
	}
	return sim.WriteReport(o.out, o.charts, ws, o.confs, o.sim)
}
