// Command render is `make dashboards-png`: it draws each of sparkdra's Grafana dashboards into a
// PNG, from the real Prometheus of an end-to-end run, because Grafana cannot run on the
// project's machines.
//
// Every panel's PromQL runs against that Prometheus over the run's time range, with Grafana's
// variables set as "All" would set them; panels are laid out by their gridPos: time series as
// lines (gonum/plot; stacked panels stacked, thresholds dashed, a legend with the last values),
// stats as numbers, bar gauges as bars, tables as text, and the dashboard's annotations (the
// scaler's scale-up and scale-down decisions) as dashed vertical lines.
//
// The Prometheus is either running (-prometheus.url with -from and -to) or the TSDB an e2e run
// saved (-data, default e2e/out/prometheus: tsdb/ and run.json, written by make demo and make
// e2e), which the command serves with Debian's prometheus on a free loopback port while it draws.
// It writes <uid>.png per dashboard and panels.json (what each panel returned) to -out; with
// -check it fails when a panel that should have data has none (panels that need
// kube-state-metrics, and those listed in mayBeEmpty, may be empty).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// RunInfo is run.json: the time range of the run whose TSDB was saved, and its scrape interval.
type RunInfo struct {
	From           time.Time     `json:"from"`
	To             time.Time     `json:"to"`
	ScrapeInterval time.Duration `json:"scrapeIntervalNanos"`
}

func main() {
	data := flag.String("data", "../../e2e/out/prometheus", "directory with a saved TSDB (tsdb/) and run.json")
	url := flag.String("prometheus.url", "", "a running Prometheus instead of -data (needs -from and -to)")
	from := flag.String("from", "", "range start, RFC 3339 (with -prometheus.url)")
	to := flag.String("to", "", "range end, RFC 3339 (with -prometheus.url)")
	scrape := flag.Duration("scrape-interval", time.Second, "scrape interval of the run (with -prometheus.url)")
	out := flag.String("out", "../../e2e/out/dashboards", "output directory")
	dashDir := flag.String("dashboards", "..", "directory of the dashboards' JSON (spark-dra-*.json)")
	promBin := flag.String("prometheus", "prometheus", "the prometheus binary that serves -data")
	check := flag.Bool("check", false, "fail when a panel that should have data has none")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, *data, *url, *from, *to, *scrape, *out, *dashDir, *promBin, *check); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards-png:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, url, from, to string, scrape time.Duration, out, dashDir, promBin string, check bool) error {
	var info RunInfo
	if url == "" {
		b, err := os.ReadFile(filepath.Join(data, "run.json"))
		if err != nil {
			return fmt.Errorf("%w (make demo or make e2e saves a run's Prometheus data there)", err)
		}
		if err := json.Unmarshal(b, &info); err != nil {
			return fmt.Errorf("%s/run.json: %w", data, err)
		}
		srv, err := ServeTSDB(ctx, promBin, filepath.Join(data, "tsdb"))
		if err != nil {
			return err
		}
		defer srv.Stop()
		url = srv.URL
	} else {
		var err error
		if info.From, err = time.Parse(time.RFC3339, from); err != nil {
			return fmt.Errorf("-from: %w", err)
		}
		if info.To, err = time.Parse(time.RFC3339, to); err != nil {
			return fmt.Errorf("-to: %w", err)
		}
		info.ScrapeInterval = scrape
	}
	client, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return err
	}
	paths, err := filepath.Glob(filepath.Join(dashDir, "spark-dra-*.json"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("no dashboards in %s (%v)", dashDir, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	report, err := Render(ctx, promv1.NewAPI(client), paths, info, out)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "panels.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	problems := Check(report)
	withData := 0
	for _, r := range report {
		if r.Series > 0 {
			withData++
		}
	}
	fmt.Printf("dashboards-png: %d panels drawn, %d with data, into %s\n", len(report), withData, out)
	for _, p := range problems {
		fmt.Println("  " + p)
	}
	if check && len(problems) > 0 {
		return fmt.Errorf("%d panels that should have data have none", len(problems))
	}
	return nil
}

// PanelReport is what one panel's queries returned, in panels.json.
type PanelReport struct {
	Dashboard string   `json:"dashboard"`
	Title     string   `json:"title"`
	Type      string   `json:"type"`
	Series    int      `json:"series"`
	Points    int      `json:"points"`
	Errors    []string `json:"errors,omitempty"`
	// NeedsKubeStateMetrics: every query reads kube-state-metrics, which e2e runs lack.
	NeedsKubeStateMetrics bool `json:"needsKubeStateMetrics,omitempty"`
}

// mayBeEmpty lists the panels that can rightly show nothing in a healthy closed-loop e2e run,
// with the reason (dashboard uid / panel title); e2e/queries_e2e_test.go lists the same
// queries for the same reasons.
var mayBeEmpty = map[string]string{
	"spark-dra-scaler/Errors per second by reason":            "no scaler errors in a healthy run",
	"spark-dra-overview/Driver poll errors by reason":         "no poll errors in a healthy run",
	"spark-dra-overview/Executors leaving (driver)":           "the application runs with Spark's own DRA off (no /metrics/json allocation source)",
	"spark-dra-overview/Executor removals by reason (driver)": "the application runs with Spark's own DRA off (no /metrics/json allocation source)",
	"spark-dra-overview/Settings warnings":                    "the application's settings trigger none of Spark's DRA warnings",
	"spark-dra-overview/Longest-idle executors":               "a table as of the run's end: the application may have stopped and its executors gone by then",
}

// Check returns one line per panel that should have data and has none, or whose query failed.
func Check(report []PanelReport) []string {
	var out []string
	for _, r := range report {
		key := r.Dashboard + "/" + r.Title
		switch {
		case len(r.Errors) > 0:
			out = append(out, fmt.Sprintf("%s: query failed: %s", key, strings.Join(r.Errors, "; ")))
		case r.Series > 0, r.NeedsKubeStateMetrics, mayBeEmpty[key] != "":
		default:
			out = append(out, key+": no data")
		}
	}
	return out
}

// markColors are the annotation colours Grafana's named colours stand for.
var markColors = map[string]color.Color{
	"green": color.RGBA{0x37, 0x87, 0x2d, 0xff}, "orange": color.RGBA{0xfa, 0x64, 0x00, 0xff},
	"red": color.RGBA{0xc4, 0x16, 0x2a, 0xff}, "blue": color.RGBA{0x1f, 0x60, 0xc4, 0xff},
}

// Render draws every dashboard at paths into out/<uid>.png and reports each panel.
func Render(ctx context.Context, a promv1.API, paths []string, info RunInfo, out string) ([]PanelReport, error) {
	w := Window{From: info.From, To: info.To, Step: max(info.To.Sub(info.From)/300, time.Second)}
	q := Querier{API: a, Window: w, Scrape: max(info.ScrapeInterval, time.Second)}
	var report []PanelReport
	for _, path := range paths {
		d, err := LoadDashboard(path)
		if err != nil {
			return nil, err
		}
		var marks []Mark
		for _, an := range d.Annotations.List {
			if an.Expr == "" || !an.Enable {
				continue
			}
			ts, err := q.Marks(ctx, an)
			if err != nil {
				return nil, fmt.Errorf("%s annotation %s: %w", d.UID, an.Name, err)
			}
			c := markColors[an.IconColor]
			if c == nil {
				c = markColors["blue"]
			}
			marks = append(marks, Mark{Name: an.Name, Color: c, Times: ts})
		}
		data := map[int]PanelData{}
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			pd := q.Panel(ctx, p)
			data[p.ID] = pd
			r := PanelReport{Dashboard: d.UID, Title: p.Title, Type: p.Type, Series: len(pd.Series), Errors: pd.Errors,
				NeedsKubeStateMetrics: NeedsKubeStateMetrics(p)}
			for _, s := range pd.Series {
				r.Points += len(s.Points)
			}
			report = append(report, r)
		}
		if err := DrawDashboard(filepath.Join(out, d.UID+".png"), d, data, marks, w); err != nil {
			return nil, fmt.Errorf("%s: %w", d.UID, err)
		}
	}
	return report, nil
}
