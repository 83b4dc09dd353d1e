// Command peerbench measures spark-dra-exporter beside its peer, the OpenTelemetry collector's
// apachesparkreceiver (bench/peer, its own Go module), against the same fake fleet, and writes the
// table of docs/performance.md (make peer-bench).
//
// The fleet is sparkfake drivers on one 127.0.0.1 listener (driver i under /d/<i>, as many
// drivers behind one address look through a standalone master's /proxy/<appId>): each with
// -executors executors, -stages active stages and a history of H finished stages and H/2
// finished jobs, which /stages and /jobs list unless a status filter leaves them out, as Spark
// does. Each scraper runs as a child process polling every driver every -interval; after a
// warm-up the harness measures over -window, per scraper and H:
//
//   - CPU per driver poll: the child's user+system CPU (/proc/<pid>/stat) divided by the polls
//     it made (a poll = one /executors request; both scrapers read it once per application);
//   - bytes per driver poll: response bytes the fleet served it, divided the same way;
//   - peak RSS (VmHWM, start-up included) and steady RSS (VmRSS at the end);
//   - whether it kept up: polls made against drivers × window / interval.
//
// The fake drivers run in this process, so their CPU is not counted.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sparkdra/sparkdra/exporter/internal/procstat"
	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
)

func main() { os.Exit(run()) }

func run() int {
	exporterBin := flag.String("exporter", "bin/spark-dra-exporter", "spark-dra-exporter binary")
	peerBin := flag.String("peer", "bin/peer", "the peer (bench/peer) binary; empty: the exporter alone")
	drivers := flag.Int("drivers", 100, "fake drivers, all behind one address")
	executors := flag.Int("executors", 100, "executors per driver")
	stages := flag.Int("stages", 20, "active stages per driver")
	histories := flag.String("history", "100,1000", "finished stages per driver (H), comma-separated")
	window := flag.Duration("window", 20*time.Second, "measuring window after the warm-up")
	warmup := flag.Duration("warmup", 10*time.Second, "time after every driver was polled once before measuring")
	interval := flag.Duration("interval", time.Second, "poll interval of both scrapers")
	doc := flag.String("doc", "docs/performance.md", "file whose generated table is rewritten (empty: print only)")
	flag.Parse()
	var rows []result
	for _, hs := range strings.Split(*histories, ",") {
		h, err := strconv.Atoi(strings.TrimSpace(hs))
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerbench: -history:", err)
			return 2
		}
		scrapers := []scraper{exporterScraper(*exporterBin)}
		if *peerBin != "" {
			scrapers = append(scrapers, peerScraper(*peerBin))
		}
		for _, sc := range scrapers {
			r, err := measure(sc, *drivers, *executors, *stages, h, *interval, *warmup, *window)
			if err != nil {
				fmt.Fprintf(os.Stderr, "peerbench: %s H=%d: %v\n", sc.name, h, err)
				return 1
			}
			fmt.Println(r.line())
			rows = append(rows, r)
		}
	}
	table := renderTable(rows, *drivers, *executors, *stages, *interval, *window)
	fmt.Print(table)
	if *doc != "" {
		if err := rewrite(*doc, table); err != nil {
			fmt.Fprintln(os.Stderr, "peerbench:", err)
			return 1
		}
	}
	return 0
}

// scraper starts one scraper process polling the given driver URLs; metricsURL is where it
// serves its own metrics ("" when it serves none).
type scraper struct {
	name string
	cmd  func(urls []string, interval time.Duration) (cmd *exec.Cmd, metricsURL string, err error)
}

func exporterScraper(bin string) scraper {
	return scraper{"spark-dra-exporter", func(urls []string, interval time.Duration) (*exec.Cmd, string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		args := []string{"--web.listen-address=" + addr, "--log.level=warn", "--spark.poll-interval=" + interval.String()}
		for _, u := range urls {
			args = append(args, "--spark.driver-url="+u)
		}
		return exec.Command(bin, args...), "http://" + addr + "/metrics", nil
	}}
}

func peerScraper(bin string) scraper {
	return scraper{"apachesparkreceiver v0.138.0", func(urls []string, interval time.Duration) (*exec.Cmd, string, error) {
		args := []string{"-interval", interval.String()}
		for _, u := range urls {
			args = append(args, "-endpoint", u)
		}
		return exec.Command(bin, args...), "", nil
	}}
}

// counting serves the fleet, counting response bytes and driver polls (/executors requests).
type counting struct {
	h      http.Handler
	bytes  atomic.Int64
	polls  atomic.Int64
	polled []atomic.Bool
	seen   atomic.Int64
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.h.ServeHTTP(countingWriter{w, &c.bytes}, r)
	if strings.HasSuffix(r.URL.Path, "/executors") {
		c.polls.Add(1)
		idx, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/d/"), "/")
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(c.polled) && !c.polled[i].Swap(true) {
			c.seen.Add(1)
		}
	}
}

// metricsJSONRedirect answers /d/<i>/metrics/json with the redirect Spark's Jetty sends to
// /metrics/json/ (the peer asks without the slash).
type metricsJSONRedirect struct{ next http.Handler }

func (m metricsJSONRedirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/metrics/json") {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusFound)
		return
	}
	m.next.ServeHTTP(w, r)
}

type result struct {
	name                  string
	history               int
	cpuPerPoll            time.Duration
	bytesPerPoll          float64
	peakRSS, steadyRSS    int64 // kB
	polls, expected       int64
	loadBefore, loadAfter string
	firstCycle            time.Duration
	// historyRead: from the start until the exporter had read every driver's finished-stage
	// list (0 for the peer, which reads it at every poll).
	historyRead time.Duration
}

func (r result) keptUp() bool { return float64(r.polls) >= 0.95*float64(r.expected) }

func (r result) line() string {
	return fmt.Sprintf("%s H=%d: %.2f ms CPU/poll, %.0f KB/poll, peak RSS %d MiB, steady %d MiB, %d of %d polls, finished-stage lists read %s, load %s -> %s",
		r.name, r.history, float64(r.cpuPerPoll)/1e6, r.bytesPerPoll/1024, r.peakRSS>>10, r.steadyRSS>>10, r.polls, r.expected,
		r.historyCell(), r.loadBefore, r.loadAfter)
}

// historyCell says when the scraper had read every driver's finished-stage list.
func (r result) historyCell() string {
	if r.historyRead == 0 {
		return "at every poll"
	}
	return fmt.Sprintf("all %.1f s after start", r.historyRead.Seconds())
}

func measure(sc scraper, nDrivers, nExec, nStages, history int, interval, warmup, window time.Duration) (result, error) {
	res := result{name: sc.name, history: history, loadBefore: loadavg()}
	fleet := &sparkfake.Fleet{}
	for i := range nDrivers {
		d := sparkfake.Generate(i, nExec, nStages)
		d.FinishedStages, d.FinishedJobs = history, history/2
		d.Render()
		fleet.Drivers = append(fleet.Drivers, d)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	cnt := &counting{h: metricsJSONRedirect{fleet}, polled: make([]atomic.Bool, nDrivers)}
	srv := &http.Server{Handler: cnt}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	urls := make([]string, nDrivers)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s/d/%d", ln.Addr(), i)
	}
	cmd, metricsURL, err := sc.cmd(urls, interval)
	if err != nil {
		return res, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	deadline := start.Add(2 * time.Minute)
	for cnt.seen.Load() < int64(nDrivers) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%d of %d drivers polled after 2 min; stderr: %s", cnt.seen.Load(), nDrivers, tail(stderr.String()))
		}
		time.Sleep(20 * time.Millisecond) // watching another process, bounded by the deadline
	}
	res.firstCycle = time.Since(start)
	// The exporter reads each application's finished-stage list once, a few at a time: the
	// steady state it is measured in starts when every list has been read.
	if metricsURL != "" {
		for {
			pending, err := historyPending(metricsURL)
			if err == nil && pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				return res, fmt.Errorf("finished-stage lists still unread after 2 min (%d drivers, %v); stderr: %s",
					pending, err, tail(stderr.String()))
			}
			time.Sleep(100 * time.Millisecond) // watching another process, bounded by the deadline
		}
		res.historyRead = time.Since(start)
	}
	time.Sleep(warmup)
	pid := cmd.Process.Pid
	cpu0, err := procstat.CPU(pid)
	if err != nil {
		return res, err
	}
	p0, b0, t0 := cnt.polls.Load(), cnt.bytes.Load(), time.Now()
	time.Sleep(window)
	cpu1, err := procstat.CPU(pid)
	if err != nil {
		return res, err
	}
	elapsed := time.Since(t0)
	res.polls, res.expected = cnt.polls.Load()-p0, int64(float64(nDrivers)*elapsed.Seconds()/interval.Seconds())
	if res.polls == 0 {
		return res, fmt.Errorf("no polls in the window; stderr: %s", tail(stderr.String()))
	}
	res.cpuPerPoll = (cpu1 - cpu0) / time.Duration(res.polls)
	res.bytesPerPoll = float64(cnt.bytes.Load()-b0) / float64(res.polls)
	if res.steadyRSS, res.peakRSS, err = procstat.Memory(pid); err != nil {
		return res, err
	}
	res.loadAfter = loadavg()
	return res, nil
}

// historyPending counts the drivers whose finished-stage list the exporter at metricsURL has not
// read yet (spark_dra_stale{part="stage_history"} 1), or -1 before it lists any application.
func historyPending(metricsURL string) (int, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1, err
	}
	n, seen := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "spark_dra_stale{") && strings.Contains(l, `part="stage_history"`) {
			seen = true
			if strings.HasSuffix(l, " 1") {
				n++
			}
		}
	}
	if !seen {
		return -1, nil
	}
	return n, nil
}

func tail(s string) string {
	if len(s) > 400 {
		s = "…" + s[len(s)-400:]
	}
	return s
}

const (
	tableBegin = "<!-- peer table: generated by `make peer-bench`; do not edit by hand -->"
	tableEnd   = "<!-- end of peer table -->"
)

func renderTable(rows []result, drivers, executors, stages int, interval, window time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d drivers behind one address, %d executors and %d active stages each, polled every %v; measured over %v after a warm-up. Run %s on %s.\n\n",
		drivers, executors, stages, interval, window, time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	b.WriteString("| scraper | H (finished stages) | CPU per driver poll | bytes per driver poll | peak RSS | steady RSS | kept up (polls / expected) | finished-stage lists read | load average (1m) before → after |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		kept := "yes"
		if !r.keptUp() {
			kept = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f ms | %.0f KB | %d MiB | %d MiB | %s (%d / %d) | %s | %s → %s |\n", r.name, r.history,
			float64(r.cpuPerPoll)/1e6, r.bytesPerPoll/1024, r.peakRSS>>10, r.steadyRSS>>10, kept, r.polls, r.expected,
			r.historyCell(), r.loadBefore, r.loadAfter)
	}
	byKey := map[string]result{}
	for _, r := range rows {
		byKey[fmt.Sprintf("%s/%d", r.name, r.history)] = r
	}
	b.WriteString("\n")
	for _, r := range rows {
		if r.name != "spark-dra-exporter" {
			continue
		}
		if p, ok := byKey[fmt.Sprintf("apachesparkreceiver v0.138.0/%d", r.history)]; ok && p.cpuPerPoll > 0 {
			fmt.Fprintf(&b, "- H=%d: spark-dra-exporter uses %.2f× the peer's CPU per driver poll (goal ≤ 0.2×); its peak RSS is %.2f× its steady RSS (goal ≤ 1.5×).\n",
				r.history, float64(r.cpuPerPoll)/float64(p.cpuPerPoll), float64(r.peakRSS)/float64(r.steadyRSS))
		}
	}
	return b.String()
}

func rewrite(path, table string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, rest, ok1 := strings.Cut(string(doc), tableBegin+"\n")
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		return fmt.Errorf("%s: table markers missing", path)
	}
	return os.WriteFile(path, []byte(before+tableBegin+"\n"+table+tableEnd+after), 0o644)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	n := 0
	if err == nil {
		n = strings.Count(string(b), "\nprocessor")
		if strings.HasPrefix(string(b), "processor") {
			n++
		}
	}
	return fmt.Sprintf("%d CPUs", n)
}
