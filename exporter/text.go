package exporter

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// WriteText writes the Collector's series in the Prometheus text format (0.0.4), the same series
// Collect sends, without building a client_golang metric per series: with 500 drivers of 100
// executors that is the difference between seconds and milliseconds per scrape. Families are
// written in the order of Metrics(); within a family, series follow the target order.
func (c *Collector) WriteText(w io.Writer) error {
	snaps := c.store.Snapshots()
	// Targets are rendered in parts, one goroutine each, then written family by family, part
	// by part: the order of Collect, in a fraction of the wall time on several cores.
	parts := min(runtime.GOMAXPROCS(0), max(1, len(snaps)/16)) + 1
	chunks := make([]map[string]*bytes.Buffer, parts)
	var wg sync.WaitGroup
	for i := range parts - 1 {
		lo, hi := i*len(snaps)/(parts-1), (i+1)*len(snaps)/(parts-1)
		chunks[i] = c.familyBuffers()
		wg.Go(func() { c.walkTargets(snaps[lo:hi], c.textSink(chunks[i])) })
	}
	chunks[parts-1] = c.familyBuffers()
	c.walkExporter(snaps, c.textSink(chunks[parts-1]))
	wg.Wait()
	defer func() {
		// Back onto the free list in reverse, so that the next scrape takes each part's buffers
		// for the same part: the exporter-wide part's are tiny, and growing them again to a
		// target part's size cost as much as the rest of the render.
		for i := len(chunks) - 1; i >= 0; i-- {
			for _, b := range chunks[i] {
				b.Reset()
			}
			c.putFamilyBuffers(chunks[i])
		}
	}()
	for _, d := range c.defs {
		n := 0
		for _, ch := range chunks {
			n += ch[d.name].Len()
		}
		if n == 0 {
			continue
		}
		typ := "gauge"
		if d.typ == prometheus.CounterValue {
			typ = "counter"
		}
		if _, err := io.WriteString(w, "# HELP "+d.name+" "+helpEscaper.Replace(d.help)+"\n# TYPE "+d.name+" "+typ+"\n"); err != nil {
			return err
		}
		for _, ch := range chunks {
			if _, err := w.Write(ch[d.name].Bytes()); err != nil {
				return err
			}
		}
	}
	return nil
}

// familyBuffers takes a set of per-family buffers from the Collector's free list (kept across
// scrapes and garbage collections: a large fleet's text is tens of megabytes).
func (c *Collector) familyBuffers() map[string]*bytes.Buffer {
	c.freeMu.Lock()
	var bufs map[string]*bytes.Buffer
	if n := len(c.free); n > 0 {
		bufs, c.free = c.free[n-1], c.free[:n-1]
	}
	c.freeMu.Unlock()
	if bufs == nil {
		bufs = make(map[string]*bytes.Buffer, len(c.defs))
	}
	for _, d := range c.defs {
		if bufs[d.name] == nil {
			bufs[d.name] = &bytes.Buffer{}
		}
	}
	return bufs
}

// textSink appends each series as a line of the text format to its family's buffer. The label
// pairs of a series' scope (base) are encoded once for the run of series that share them (an
// application's or an executor's dozen series) and copied from then on.
func (c *Collector) textSink(bufs map[string]*bytes.Buffer) sinkFunc {
	var (
		lastBase *string // &base[0] of the encoded base; holding it keeps its array from reuse
		lastLen  int
		enc      []byte // `name="value",…` of the base
	)
	return func(d metricDef, v float64, base, extra []string) {
		b := bufs[d.name]
		names := c.names[d.name]
		if len(base) > 0 && (&base[0] != lastBase || len(base) != lastLen) {
			enc = enc[:0]
			for i, val := range base {
				if i > 0 {
					enc = append(enc, ',')
				}
				enc = appendLabel(enc, names[i], val)
			}
			lastBase, lastLen = &base[0], len(base)
		}
		b.WriteString(d.name)
		b.WriteByte('{')
		if len(base) > 0 {
			b.Write(enc)
		}
		for i, val := range extra {
			if i > 0 || len(base) > 0 {
				b.WriteByte(',')
			}
			b.Write(appendLabel(b.AvailableBuffer(), names[len(base)+i], val))
		}
		b.WriteString("} ")
		b.Write(appendValue(b.AvailableBuffer(), v))
		b.WriteByte('\n')
	}
}

// appendLabel appends name="value" with the value escaped as the text format wants.
func appendLabel(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\\' || c == '\n' || c == '"' {
			dst = append(dst, labelEscaper.Replace(value)...)
			return append(dst, '"')
		}
	}
	dst = append(dst, value...)
	return append(dst, '"')
}

func (c *Collector) putFamilyBuffers(bufs map[string]*bytes.Buffer) {
	c.freeMu.Lock()
	c.free = append(c.free, bufs)
	c.freeMu.Unlock()
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func appendValue(dst []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// MetricsHandler serves the Collector's series (WriteText) followed by everything else in
// others (process, Go runtime, build info), in the text format, gzip-compressed when the
// scraper accepts it (fastest level: the body of a large fleet is tens of megabytes).
func MetricsHandler(c *Collector, others prometheus.Gatherer, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer gz.Close()
			out = gz
		}
		if err := c.WriteText(out); err != nil {
			logger.Debug("writing /metrics", "err", err)
			return
		}
		mfs, err := others.Gather()
		if err != nil {
			logger.Error("gathering self-metrics", "err", err)
		}
		enc := expfmt.NewEncoder(out, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				logger.Debug("writing /metrics", "err", err)
				return
			}
		}
	})
}
