package sim

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteTable writes results as an aligned text table, the recorded run
// first when rec is not nil.
func WriteTable(w io.Writer, rec *Recorded, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tmakespan_s\texecutor_s\tidle_executor_s\tlower_bound_executor_s\tcritical_path_s\tmax_executors\t")
	if rec != nil {
		fmt.Fprintf(tw, "recorded\t%.1f\t%.1f\t-\t-\t-\t%d\t\n", rec.MakespanSeconds, rec.ExecutorSeconds, rec.MaxExecutors)
	}
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t\n", r.Policy, r.MakespanSeconds, r.ExecutorSeconds,
			r.IdleExecutorSeconds, r.LowerBoundExecutorSeconds, r.CriticalPathSeconds, r.MaxExecutors)
	}
	return tw.Flush()
}

// chartColors are the line colours of WriteSVG, one per series in turn.
var chartColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"}

// Line is one series of a chart: a name and step points (t seconds, value).
type Line struct {
	Name   string
	Points [][2]float64
	Dashed bool
}

// ExecutorLines turns results into chart lines of executors alive.
func ExecutorLines(rs []Result) []Line {
	var ls []Line
	for _, r := range rs {
		l := Line{Name: r.Policy}
		for _, s := range r.Series {
			l.Points = append(l.Points, [2]float64{s.T, float64(s.Executors)})
		}
		ls = append(ls, l)
	}
	return ls
}

// ReplayLines turns a replay into chart lines: the DRA target, the
// executors needed and the executors the log had.
func ReplayLines(pts []ReplayPoint) []Line {
	ls := []Line{{Name: "target"}, {Name: "max needed"}, {Name: "executors (recorded)"}}
	for _, p := range pts {
		ls[0].Points = append(ls[0].Points, [2]float64{p.T, float64(p.Target)})
		ls[1].Points = append(ls[1].Points, [2]float64{p.T, float64(p.MaxNeeded)})
		ls[2].Points = append(ls[2].Points, [2]float64{p.T, float64(p.Executors)})
	}
	return ls
}

// WriteSVG draws each line (executors over time, a step function: a value
// holds until the next point) in its own panel, stacked, sharing the time
// and value axes, as a standalone SVG width pixels wide with panels
// panelHeight pixels high.
func WriteSVG(w io.Writer, title, ylabel string, lines []Line, width, panelHeight int) error {
	const left, right, top, bottom, gap = 60.0, 20.0, 30.0, 40.0, 12.0
	n := max(1, len(lines))
	ph := float64(panelHeight)
	height := int(top + float64(n)*(ph+gap) + bottom)
	pw := float64(width) - left - right
	maxT, maxY := 1.0, 1.0
	for _, l := range lines {
		for _, p := range l.Points {
			maxT, maxY = math.Max(maxT, p[0]), math.Max(maxY, p[1])
		}
	}
	maxY = math.Ceil(maxY * 1.1)
	x := func(t float64) float64 { return left + t/maxT*pw }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="18" font-size="13" font-weight="bold">%s</text>`+"\n", left, xmlEscape(title))
	xticks := niceTicks(maxT, 8)
	for i, l := range lines {
		y0 := top + float64(i)*(ph+gap)
		y := func(v float64) float64 { return y0 + ph - v/maxY*ph }
		c := chartColors[i%len(chartColors)]
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`+"\n", left, y0, pw, ph)
		for _, t := range xticks {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/>`+"\n", x(t), y0, x(t), y0+ph)
		}
		for _, v := range niceTicks(maxY, 2) {
			fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" fill="#555">%g</text>`+"\n", left-4, y(v)+4, v)
		}
		var pts strings.Builder
		prev := 0.0
		for k, p := range l.Points {
			if k > 0 {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(p[0]), y(prev))
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(p[0]), y(p[1]))
			prev = p[1]
		}
		dash := ""
		if l.Dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`+"\n", c, dash, strings.TrimSpace(pts.String()))
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-weight="bold" fill="%s">%s</text>`+"\n", left+6, y0+13, c, xmlEscape(l.Name))
	}
	yb := top + float64(n)*(ph+gap) - gap
	for _, t := range xticks {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%g</text>`+"\n", x(t), yb+14, t)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">seconds since application start</text>`+"\n", left+pw/2, float64(height)-6)
	fmt.Fprintf(&b, `<text transform="translate(14 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+(yb-top)/2, xmlEscape(ylabel))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceTicks returns round tick values from 0 to max, about n of them.
func niceTicks(max float64, n int) []float64 {
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []float64
	for t := 0.0; t <= max+step/1e9; t += step {
		ts = append(ts, math.Round(t*1e6)/1e6)
	}
	return ts
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
