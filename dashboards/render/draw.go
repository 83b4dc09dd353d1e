package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Layout of the PNG: Grafana's 24-column grid at 64 px a column and 36 px a row unit.
const (
	colWidth  = 64
	rowHeight = 36
	dpi       = 96
	margin    = 4
)

// px converts pixels at dpi into vg lengths (points).
func px(n float64) vg.Length { return vg.Length(n * 72 / dpi) }

// palette is Grafana's classic series palette.
var palette = []color.RGBA{
	{0x73, 0xbf, 0x69, 0xff}, {0xf2, 0xcc, 0x0c, 0xff}, {0x57, 0x94, 0xf2, 0xff}, {0xff, 0x78, 0x0a, 0xff},
	{0xf2, 0x49, 0x5c, 0xff}, {0x5a, 0xa6, 0x4b, 0xff}, {0xb8, 0x77, 0xd9, 0xff}, {0x8a, 0xb8, 0xff, 0xff},
	{0xca, 0x95, 0x6a, 0xff}, {0x1f, 0x60, 0xc4, 0xff}, {0xe0, 0x2f, 0x44, 0xff}, {0x96, 0xd9, 0x8d, 0xff},
}

var (
	white     = color.RGBA{0xff, 0xff, 0xff, 0xff}
	border    = color.RGBA{0xd0, 0xd4, 0xd9, 0xff}
	textColor = color.RGBA{0x20, 0x23, 0x26, 0xff}
	dimText   = color.RGBA{0x6e, 0x75, 0x7c, 0xff}
	rowFill   = color.RGBA{0xf4, 0xf5, 0xf5, 0xff}
)

func textStyle(size float64, c color.Color, xa draw.XAlignment) draw.TextStyle {
	return draw.TextStyle{Color: c, Font: font.From(plot.DefaultFont, px(size)), XAlign: xa, YAlign: draw.YCenter,
		Handler: plot.DefaultTextHandler}
}

// Mark is an annotation to draw on every time series panel: a vertical line at each time.
type Mark struct {
	Name  string
	Color color.Color
	Times []float64
}

// DrawDashboard lays out every panel of d by its gridPos into one PNG at path.
func DrawDashboard(path string, d *Dashboard, data map[int]PanelData, marks []Mark, w Window) error {
	rows := 0
	for _, p := range d.Panels {
		rows = max(rows, p.GridPos.Y+p.GridPos.H)
	}
	const header = 2 // grid units for the dashboard's title
	width, height := float64(24*colWidth), float64((rows+header)*rowHeight)
	img := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	fill(dc, dc.Rectangle, white)
	// y grows downwards on the grid and upwards on the canvas.
	rect := func(x, y, w, h int) vg.Rectangle {
		top := height - float64((y+header)*rowHeight)
		return vg.Rectangle{
			Min: vg.Point{X: px(float64(x*colWidth) + margin), Y: px(top - float64(h*rowHeight) + margin)},
			Max: vg.Point{X: px(float64((x+w)*colWidth) - margin), Y: px(top - margin)},
		}
	}
	title := fmt.Sprintf("%s   %s – %s UTC (%s)", d.Title, w.From.UTC().Format("2006-01-02 15:04:05"),
		w.To.UTC().Format("15:04:05"), w.To.Sub(w.From).Round(1e9))
	dc.FillText(textStyle(20, textColor, draw.XLeft), vg.Point{X: px(12), Y: px(height - rowHeight)}, title)
	for _, p := range d.Panels {
		r := rect(p.GridPos.X, p.GridPos.Y, p.GridPos.W, p.GridPos.H)
		c := draw.Canvas{Canvas: dc.Canvas, Rectangle: r}
		if p.Type == "row" {
			fill(c, r, rowFill)
			c.FillText(textStyle(15, textColor, draw.XLeft), vg.Point{X: r.Min.X + px(8), Y: (r.Min.Y + r.Max.Y) / 2}, p.Title)
			continue
		}
		pd := data[p.ID]
		if err := drawPanel(c, pd, marks, w); err != nil {
			return fmt.Errorf("panel %q: %w", p.Title, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fill(c draw.Canvas, r vg.Rectangle, col color.Color) {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	c.SetColor(col)
	c.Fill(p)
}

func outline(c draw.Canvas, r vg.Rectangle) {
	c.StrokeLines(draw.LineStyle{Color: border, Width: px(1)}, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})
}

// drawPanel draws one panel's frame, title and body into c.
func drawPanel(c draw.Canvas, pd PanelData, marks []Mark, w Window) error {
	r := c.Rectangle
	fill(c, r, white)
	outline(c, r)
	p := pd.Panel
	c.FillText(textStyle(13, textColor, draw.XLeft), vg.Point{X: r.Min.X + px(8), Y: r.Max.Y - px(12)}, p.Title)
	body := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: r.Min.X + px(4), Y: r.Min.Y + px(4)}, Max: vg.Point{X: r.Max.X - px(4), Y: r.Max.Y - px(24)}}}
	center := vg.Point{X: (body.Min.X + body.Max.X) / 2, Y: (body.Min.Y + body.Max.Y) / 2}
	if len(pd.Errors) > 0 {
		body.FillText(textStyle(11, palette[4], draw.XCenter), center, "query error: "+strings.Join(pd.Errors, "; "))
		return nil
	}
	if len(pd.Series) == 0 {
		msg := "No data"
		if NeedsKubeStateMetrics(p) {
			msg = "No data (needs kube-state-metrics)"
		}
		body.FillText(textStyle(14, dimText, draw.XCenter), center, msg)
		return nil
	}
	switch p.Type {
	case "timeseries":
		return drawTimeSeries(body, pd, marks, w)
	case "stat":
		s := pd.Series[0]
		body.FillText(textStyle(40, palette[0], draw.XCenter), center, formatValue(s.Points[len(s.Points)-1][1], p.FieldConfig.Defaults.Unit))
		return nil
	case "bargauge":
		return drawBars(body, pd)
	case "table":
		drawTable(body, pd)
		return nil
	}
	body.FillText(textStyle(12, dimText, draw.XCenter), center, "panel type "+p.Type+" is not drawn")
	return nil
}

// unitScale is how a unit's values are shown on an axis: a factor and the axis label.
func unitScale(unit string) (float64, string) {
	switch unit {
	case "s":
		return 1, "seconds"
	case "percentunit":
		return 100, "%"
	case "ops":
		return 1, "per second"
	case "bytes":
		return 1, "bytes"
	}
	return 1, ""
}

// formatValue prints v in unit as Grafana would, roughly.
func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		switch a := math.Abs(v); {
		case a >= 3*3600:
			return fmt.Sprintf("%.1f h", v/3600)
		case a >= 3*60:
			return fmt.Sprintf("%.1f min", v/60)
		case a >= 1 || a == 0:
			return fmt.Sprintf("%.3g s", v)
		default:
			return fmt.Sprintf("%.3g ms", v*1000)
		}
	case "percentunit":
		return fmt.Sprintf("%.3g%%", v*100)
	case "ops":
		return fmt.Sprintf("%.3g/s", v)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e9 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// drawTimeSeries draws every series as a line (stacked panels as cumulative filled areas) with
// a legend below the plot, and the annotations as vertical lines.
func drawTimeSeries(c draw.Canvas, pd PanelData, marks []Mark, w Window) error {
	p := pd.Panel
	scale, label := unitScale(p.FieldConfig.Defaults.Unit)
	series := pd.Series
	const maxLegend = 8
	legendRows := min(len(series), maxLegend)
	legendCols := 1
	if legendRows > 4 {
		legendCols, legendRows = 2, (legendRows+1)/2
	}
	legendH := px(float64(legendRows)*15 + 6)
	plotArea := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: c.Min.X, Y: c.Min.Y + legendH}, Max: c.Max}}

	pl := plot.New()
	pl.BackgroundColor = color.Transparent
	pl.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	pl.X.Min, pl.X.Max = float64(w.From.Unix()), float64(w.To.Unix())
	pl.Y.Label.Text = label
	pl.Y.Label.TextStyle.Font.Size = px(10)
	pl.X.Tick.Label.Font.Size = px(10)
	pl.Y.Tick.Label.Font.Size = px(10)
	pl.Add(plotter.NewGrid())
	stacked := p.stacked()
	cum := map[float64]float64{}
	var lines []*plotter.Line
	for i, s := range series {
		xys := make(plotter.XYs, 0, len(s.Points))
		for _, pt := range s.Points {
			y := pt[1] * scale
			if stacked {
				cum[pt[0]] += y
				y = cum[pt[0]]
			}
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: pt[0], Y: y})
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = palette[i%len(palette)]
		l.Width = px(1.5)
		if stacked {
			fc := palette[i%len(palette)]
			fc.A = 0x99
			l.FillColor = fc
		}
		lines = append(lines, l)
	}
	// Stacked layers are cumulative: draw the top one first so the lower ones show over it.
	for i := range lines {
		if stacked {
			pl.Add(lines[len(lines)-1-i])
		} else {
			pl.Add(lines[i])
		}
	}
	if d := p.FieldConfig.Defaults; d.Min != nil {
		pl.Y.Min = *d.Min * scale
	}
	if d := p.FieldConfig.Defaults; d.Max != nil {
		pl.Y.Max = math.Max(pl.Y.Max, *d.Max*scale)
	}
	if t, ok := p.thresholdLine(); ok {
		pl.Add(hline{y: t * scale, color: palette[4]})
		pl.Y.Max = math.Max(pl.Y.Max, t*scale*1.1)
	}
	for _, m := range marks {
		pl.Add(vlines{xs: m.Times, color: m.Color})
	}
	if pl.Y.Max <= pl.Y.Min {
		pl.Y.Max = pl.Y.Min + 1
	}
	pl.Draw(plotArea)

	// Legend: a colour swatch and the legend text with the last value, as Grafana's table legend.
	colW := (c.Max.X - c.Min.X) / vg.Length(legendCols)
	for i, s := range series[:min(len(series), maxLegend)] {
		col, row := i/legendRows, i%legendRows
		x := c.Min.X + px(6) + vg.Length(col)*colW
		y := c.Min.Y + legendH - px(float64(row)*15+10)
		fill(c, vg.Rectangle{Min: vg.Point{X: x, Y: y - px(2)}, Max: vg.Point{X: x + px(14), Y: y + px(2)}}, palette[i%len(palette)])
		last := s.Points[len(s.Points)-1][1]
		txt := fmt.Sprintf("%s   last %s", s.Name, formatValue(last, p.FieldConfig.Defaults.Unit))
		c.FillText(textStyle(10, textColor, draw.XLeft), vg.Point{X: x + px(20), Y: y}, ellipsis(txt, int((colW-px(30))/px(5.6))))
	}
	if len(series) > maxLegend {
		c.FillText(textStyle(10, dimText, draw.XRight), vg.Point{X: c.Max.X - px(4), Y: c.Min.Y + px(6)}, fmt.Sprintf("+%d more series", len(series)-maxLegend))
	}
	return nil
}

func ellipsis(s string, n int) string {
	if n < 4 || len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// drawBars draws an instant result as horizontal bars, largest first.
func drawBars(c draw.Canvas, pd PanelData) error {
	series := append([]Series(nil), pd.Series...)
	sort.SliceStable(series, func(i, j int) bool { return last(series[i]) > last(series[j]) })
	series = series[:min(len(series), 8)]
	unit := pd.Panel.FieldConfig.Defaults.Unit
	vals := make(plotter.Values, len(series))
	names := make([]string, len(series))
	for i, s := range series {
		// Bars top to bottom: plot rows go bottom to top.
		j := len(series) - 1 - i
		vals[j] = last(s)
		names[j] = fmt.Sprintf("%s  %s", s.Name, formatValue(last(s), unit))
	}
	pl := plot.New()
	pl.BackgroundColor = color.Transparent
	bars, err := plotter.NewBarChart(vals, px(14))
	if err != nil {
		return err
	}
	bars.Horizontal = true
	bars.Color = palette[0]
	bars.LineStyle.Width = 0
	pl.Add(bars)
	pl.NominalY(names...)
	pl.Y.Tick.Label.Font.Size = px(10)
	pl.X.Tick.Label.Font.Size = px(10)
	_, label := unitScale(unit)
	pl.X.Label.Text = label
	pl.X.Min = 0
	pl.Draw(c)
	return nil
}

func last(s Series) float64 { return s.Points[len(s.Points)-1][1] }

// drawTable writes an instant result as text rows: one column per label, then the value.
func drawTable(c draw.Canvas, pd PanelData) {
	keys := map[string]bool{}
	for _, s := range pd.Series {
		for k := range s.Labels {
			if k != "__name__" {
				keys[k] = true
			}
		}
	}
	var cols []string
	for k := range keys {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	cols = append(cols, "Value")
	rows := [][]string{cols}
	series := append([]Series(nil), pd.Series...)
	sort.SliceStable(series, func(i, j int) bool { return last(series[i]) > last(series[j]) })
	for _, s := range series {
		var row []string
		for _, k := range cols[:len(cols)-1] {
			row = append(row, s.Labels[k])
		}
		rows = append(rows, append(row, formatValue(last(s), pd.Panel.FieldConfig.Defaults.Unit)))
	}
	widths := make([]int, len(cols))
	for _, r := range rows {
		for i, v := range r {
			widths[i] = max(widths[i], len(v))
		}
	}
	total := 0
	for _, w := range widths {
		total += w + 2
	}
	avail := float64((c.Max.X - c.Min.X) / px(1))
	charW := math.Min(7, avail/float64(max(total, 1)))
	maxRows := int(float64((c.Max.Y-c.Min.Y)/px(1))/16) - 1
	for ri, r := range rows {
		if ri > maxRows {
			c.FillText(textStyle(10, dimText, draw.XLeft), vg.Point{X: c.Min.X + px(6), Y: c.Max.Y - px(float64(ri)*16+8)}, fmt.Sprintf("+%d more rows", len(rows)-ri))
			break
		}
		x := c.Min.X + px(6)
		y := c.Max.Y - px(float64(ri)*16+8)
		col := textColor
		if ri == 0 {
			col = dimText
		}
		for i, v := range r {
			c.FillText(textStyle(10.5, col, draw.XLeft), vg.Point{X: x, Y: y}, v)
			x += px(float64(widths[i]+2) * charW)
		}
	}
}

// hline is a dashed horizontal threshold line over the data area.
type hline struct {
	y     float64
	color color.Color
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	c.StrokeLine2(draw.LineStyle{Color: h.color, Width: px(1.5), Dashes: []vg.Length{px(6), px(4)}}, c.Min.X, y, c.Max.X, y)
}

// vlines are annotation marks: vertical lines across the data area.
type vlines struct {
	xs    []float64
	color color.Color
}

func (v vlines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, x := range v.xs {
		if x < p.X.Min || x > p.X.Max {
			continue
		}
		c.StrokeLine2(draw.LineStyle{Color: v.color, Width: px(1), Dashes: []vg.Length{px(2), px(3)}}, trX(x), c.Min.Y, trX(x), c.Max.Y)
	}
}
