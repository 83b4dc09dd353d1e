package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Dashboard is the part of a Grafana dashboard JSON model the renderer reads.
type Dashboard struct {
	UID         string  `json:"uid"`
	Title       string  `json:"title"`
	Panels      []Panel `json:"panels"`
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
}

// Annotation is a Prometheus annotation query: a mark wherever Expr returns a sample.
type Annotation struct {
	Name      string `json:"name"`
	Expr      string `json:"expr"`
	IconColor string `json:"iconColor"`
	Enable    bool   `json:"enable"`
}

// Panel is one panel or row, placed on Grafana's 24-column grid.
type Panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit   string   `json:"unit"`
			Min    *float64 `json:"min"`
			Max    *float64 `json:"max"`
			Custom struct {
				Stacking struct {
					Mode string `json:"mode"`
				} `json:"stacking"`
				ThresholdsStyle struct {
					Mode string `json:"mode"`
				} `json:"thresholdsStyle"`
			} `json:"custom"`
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []Target `json:"targets"`
}

// Target is one PromQL query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Instant      bool   `json:"instant"`
	Format       string `json:"format"`
}

// LoadDashboard reads a dashboard JSON file.
func LoadDashboard(path string) (*Dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		return nil, fmt.Errorf("%s: not a dashboard (no uid or no panels)", path)
	}
	sort.SliceStable(d.Panels, func(i, j int) bool {
		a, b := d.Panels[i].GridPos, d.Panels[j].GridPos
		return a.Y < b.Y || a.Y == b.Y && a.X < b.X
	})
	return &d, nil
}

var varRE = regexp.MustCompile(`\$\{?(\w+)\}?`)

// Window is the time range the dashboards are drawn over and the step of range queries.
type Window struct {
	From, To time.Time
	Step     time.Duration
}

// RateInterval is what Grafana's $__rate_interval becomes: four scrape intervals, at least a
// step plus one scrape (Grafana's rule), for the run's scrape interval.
func (w Window) RateInterval(scrape time.Duration) time.Duration {
	return max(4*scrape, w.Step+scrape)
}

// Concrete replaces the Grafana variables of expr as Grafana would with every namespace,
// application and ScaledObject selected ("All" = ".*"), over w.
func Concrete(expr string, w Window, scrape time.Duration) string {
	secs := func(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds())) }
	vars := map[string]string{
		"namespace": ".*", "application": ".*", "scaledobject": ".*",
		"__range":         secs(w.To.Sub(w.From)),
		"__range_s":       fmt.Sprint(int(w.To.Sub(w.From).Seconds())),
		"__rate_interval": secs(w.RateInterval(scrape)),
		"__interval":      secs(w.Step),
	}
	return varRE.ReplaceAllStringFunc(expr, func(m string) string {
		if v, ok := vars[varRE.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

var legendRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// Legend fills a Grafana legendFormat with a series' labels; with no format, the labels.
func Legend(format string, labels map[string]string) string {
	if format == "" {
		var parts []string
		for k, v := range labels {
			if k != "__name__" {
				parts = append(parts, k+"="+v)
			}
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return strings.TrimSpace(legendRE.ReplaceAllStringFunc(format, func(m string) string {
		return labels[legendRE.FindStringSubmatch(m)[1]]
	}))
}

// stacked reports whether the panel stacks its series.
func (p Panel) stacked() bool { return p.FieldConfig.Defaults.Custom.Stacking.Mode == "normal" }

// thresholdLine is the first threshold step's value when the panel draws thresholds as lines.
func (p Panel) thresholdLine() (float64, bool) {
	d := p.FieldConfig.Defaults
	if d.Custom.ThresholdsStyle.Mode != "line" {
		return 0, false
	}
	for _, s := range d.Thresholds.Steps {
		if s.Value != nil {
			return *s.Value, true
		}
	}
	return 0, false
}
