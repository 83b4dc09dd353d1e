package closedloop

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// series is one line of the chart.
type series struct {
	name, color, dash string
	value             func(Row) int
	right             bool // plotted against the backlog axis
}

// WriteSVG draws executors, the scaler's target and desired count and the HPA's replicas
// (left axis) against the driver's task backlog (shaded, right axis) over time, with the job's
// phases along the bottom. It needs no dependency beyond the standard library.
func WriteSVG(w io.Writer, title string, rows []Row) error {
	const (
		width, height          = 1000.0, 520.0
		left, right, top, bott = 60.0, 70.0, 40.0, 80.0
	)
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25">no samples</text></svg>`)
		return err
	}
	t0, t1 := rows[0].T, rows[len(rows)-1].T
	if t1 <= t0 {
		t1 = t0 + 1
	}
	maxExec, maxBacklog := 1, 1
	for _, r := range rows {
		maxExec = max(maxExec, r.Executors, r.Target, r.Desired, r.Replicas, r.DriverTarget)
		maxBacklog = max(maxBacklog, r.Pending)
	}
	maxExec++
	pw, ph := width-left-right, height-top-bott
	x := func(t float64) float64 { return left + (t-t0)/(t1-t0)*pw }
	yl := func(v int) float64 { return top + ph - float64(v)/float64(maxExec)*ph }
	yr := func(v int) float64 { return top + ph - float64(v)/float64(maxBacklog)*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, escape(title))

	// Backlog as a shaded step area against the right axis.
	var area strings.Builder
	fmt.Fprintf(&area, "M%.1f,%.1f", x(rows[0].T), yr(0))
	for i, r := range rows {
		if i > 0 {
			fmt.Fprintf(&area, " L%.1f,%.1f", x(r.T), yr(rows[i-1].Pending))
		}
		fmt.Fprintf(&area, " L%.1f,%.1f", x(r.T), yr(r.Pending))
	}
	fmt.Fprintf(&area, " L%.1f,%.1f Z", x(rows[len(rows)-1].T), yr(0))
	fmt.Fprintf(&b, `<path d="%s" fill="#f4a259" fill-opacity="0.35" stroke="none"/>`+"\n", area.String())

	// Grid and axes.
	for v := 0; v <= maxExec; v++ {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, left+pw, yl(v), yl(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%d</text>`+"\n", left-6, yl(v)+4, v)
	}
	stepB := niceStep(maxBacklog)
	for v := 0; v <= maxBacklog; v += stepB {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="#c4661f">%d</text>`+"\n", left+pw+6, yr(v)+4, v)
	}
	stepT := niceStep(int(t1 - t0))
	for s := 0; float64(s) <= t1-t0; s += stepT {
		xs := x(t0 + float64(s))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#999"/>`, xs, xs, top+ph, top+ph+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%ds</text>`+"\n", xs, top+ph+16, s)
	}
	fmt.Fprintf(&b, `<text x="14" y="%.0f" transform="rotate(-90 14 %.0f)" text-anchor="middle">executors</text>`+"\n", top+ph/2, top+ph/2)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" transform="rotate(90 %.0f %.0f)" text-anchor="middle" fill="#c4661f">backlog (pending tasks)</text>`+"\n",
		width-14, top+ph/2, width-14, top+ph/2)

	// Phase bands along the bottom.
	start := 0
	for i := 1; i <= len(rows); i++ {
		if i < len(rows) && rows[i].Phase == rows[start].Phase {
			continue
		}
		x0, x1 := x(rows[start].T), x(rows[i-1].T)
		fill := "#e8eef7"
		if rows[start].Phase == "pause" || rows[start].Phase == "done" {
			fill = "#f2f2f2"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="16" fill="%s" stroke="white"/>`, x0, top+ph+24, math.Max(x1-x0, 1), fill)
		if x1-x0 > 40 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10">%s</text>`, x0+3, top+ph+36, escape(rows[start].Phase))
		}
		b.WriteString("\n")
		start = i
	}

	lines := []series{
		{name: "executors (live)", color: "#1f77b4", value: func(r Row) int { return r.Executors }},
		{name: "scaler target", color: "#2ca02c", dash: "6,3", value: func(r Row) int { return r.Target }},
		{name: "desired", color: "#9467bd", dash: "2,3", value: func(r Row) int { return r.Desired }},
		{name: "replicas (HPA)", color: "#7f7f7f", dash: "1,2", value: func(r Row) int { return r.Replicas }},
		{name: "driver DRA target", color: "#d62728", dash: "4,2", value: func(r Row) int { return r.DriverTarget }},
	}
	legendX := left
	for _, s := range lines {
		d := stepPath(rows, x, yl, s.value)
		if d == "" {
			continue
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n", d, s.color, s.dash)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			legendX, legendX+22, height-14, height-14, s.color, s.dash, legendX+26, height-10, s.name)
		legendX += 40 + float64(len(s.name))*6.5
	}
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="22" height="10" fill="#f4a259" fill-opacity="0.35"/><text x="%.0f" y="%.0f">backlog</text>`+"\n",
		legendX, height-19, legendX+26, height-10)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// stepPath draws value as a step line, skipping samples where it is negative (unknown).
func stepPath(rows []Row, x func(float64) float64, y func(int) float64, value func(Row) int) string {
	var b strings.Builder
	prev := -1
	for _, r := range rows {
		v := value(r)
		switch {
		case v < 0:
			prev = -1
			continue
		case prev < 0:
			fmt.Fprintf(&b, " M%.1f,%.1f", x(r.T), y(v))
		default:
			fmt.Fprintf(&b, " L%.1f,%.1f L%.1f,%.1f", x(r.T), y(prev), x(r.T), y(v))
		}
		prev = v
	}
	return strings.TrimSpace(b.String())
}

func niceStep(span int) int {
	for _, s := range []int{1, 2, 5, 10, 20, 30, 60, 120, 300, 600} {
		if span/s <= 12 {
			return s
		}
	}
	return 1200
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
