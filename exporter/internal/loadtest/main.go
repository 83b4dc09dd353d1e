// Command loadtest runs spark-dra-exporter against 500 fake drivers on loopback and prints the
// figures of the exporter's load target: time to the first full poll cycle, steady poll-cycle
// time at the configured interval, RSS, and /metrics render time.
//
// The drivers are sparkfake drivers (recorded Spark payloads, 100 executors and 20 active
// stages each) served by this process on one 127.0.0.1 listener; the exporter is the real binary,
// started as a child process and stopped by its PID.
//
//	go run ./exporter/internal/loadtest -exporter ./bin/spark-dra-exporter
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sparkdra/sparkdra/exporter/internal/procstat"
	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
)

func main() { os.Exit(run()) }

func run() int {
	bin := flag.String("exporter", "bin/spark-dra-exporter", "spark-dra-exporter binary")
	drivers := flag.Int("drivers", 500, "fake drivers")
	executors := flag.Int("executors", 100, "executors per driver")
	stages := flag.Int("stages", 20, "active stages per driver")
	window := flag.Duration("window", 10*time.Second, "steady-state measuring window")
	nRenders := flag.Int("renders", 5, "/metrics requests timed after the window (at least 5)")
	interval := flag.Duration("poll-interval", time.Second, "the exporter's --spark.poll-interval; a long one "+
		"(1h) measures /metrics render with no polling going on")
	flag.Parse()
	if err := measure(*bin, *drivers, *executors, *stages, *window, *interval, max(5, *nRenders)); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	return 0
}

// counting serves the fleet and counts /executors requests (one per driver poll), in all and
// for distinct drivers.
type counting struct {
	h        http.Handler
	n        atomic.Int64
	seen     []atomic.Bool
	distinct atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.h.ServeHTTP(w, r)
	if strings.HasSuffix(r.URL.Path, "/executors") {
		c.n.Add(1)
		idx, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/d/"), "/")
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(c.seen) && !c.seen[i].Swap(true) {
			c.distinct.Add(1)
		}
	}
}

func measure(bin string, nDrivers, nExec, nStages int, window, interval time.Duration, nRenders int) error {
	fleet := &sparkfake.Fleet{}
	for i := range nDrivers {
		fleet.Drivers = append(fleet.Drivers, sparkfake.Generate(i, nExec, nStages))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cnt := &counting{h: fleet, seen: make([]atomic.Bool, nDrivers)}
	srv := &http.Server{Handler: cnt}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	webLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	webAddr := webLn.Addr().String()
	webLn.Close()
	args := []string{"--web.listen-address=" + webAddr, "--log.level=warn", "--spark.poll-interval=" + interval.String()}
	for i := range nDrivers {
		args = append(args, fmt.Sprintf("--spark.driver-url=http://%s/d/%d", ln.Addr(), i))
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	metricsURL := "http://" + webAddr + "/metrics"

	// First full cycle: every driver's /executors served once (after /applications and
	// /environment), counted by the fake drivers themselves.
	deadline := time.Now().Add(60 * time.Second)
	for cnt.distinct.Load() < int64(nDrivers) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d drivers polled after 60s", cnt.distinct.Load(), nDrivers)
		}
		time.Sleep(10 * time.Millisecond) // watching another process: bounded by the deadline
	}
	first := time.Since(start)
	time.Sleep(2 * time.Second) // let the first cycle's snapshots land, then check them all
	if up, err := upDrivers(metricsURL); err != nil || up != nDrivers {
		return fmt.Errorf("%d of %d drivers up (%v)", up, nDrivers, err)
	}

	// Steady state: polls per second over the window.
	n0, t0 := cnt.n.Load(), time.Now()
	cpu0, err := procstat.CPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	time.Sleep(window)
	polls, elapsed := cnt.n.Load()-n0, time.Since(t0)
	cpu1, err := procstat.CPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	cycle := time.Duration(math.MaxInt64)
	if polls > 0 {
		cycle = time.Duration(float64(elapsed) * float64(nDrivers) / float64(polls))
	}

	var renders []time.Duration
	var size int64
	for range nRenders {
		d, n, err := timeGet(metricsURL)
		if err != nil {
			return err
		}
		renders = append(renders, d)
		size = n
	}
	sort.Slice(renders, func(i, j int) bool { return renders[i] < renders[j] })
	rss, hwm, err := procstat.Memory(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("drivers=%d executors/driver=%d active stages/driver=%d\n", nDrivers, nExec, nStages)
	fmt.Printf("first full poll cycle (process start to every driver polled once): %v\n", first.Round(time.Millisecond))
	if polls > 0 {
		fmt.Printf("steady state: %d driver polls in %v = one full cycle every %v (interval %v)\n", polls,
			elapsed.Round(time.Millisecond), cycle.Round(time.Millisecond), interval)
		fmt.Printf("exporter CPU (user+system, the fake drivers excluded): %v in the window = %.3f ms per driver poll\n",
			(cpu1 - cpu0).Round(time.Millisecond), float64(cpu1-cpu0)/float64(time.Millisecond)/float64(polls))
	} else {
		fmt.Printf("steady state: no polls in %v (interval %v): /metrics renders with no polling going on\n",
			elapsed.Round(time.Millisecond), interval)
	}
	p99 := renders[(len(renders)*99+99)/100-1] // nearest rank
	fmt.Printf("/metrics render (uncompressed, %d bytes), %d requests: min %v median %v p99 %v max %v\n", size, len(renders),
		renders[0].Round(time.Millisecond), renders[len(renders)/2].Round(time.Millisecond), p99.Round(time.Millisecond),
		renders[len(renders)-1].Round(time.Millisecond))
	fmt.Printf("exporter RSS: %d MB now, %d MB peak (VmHWM)\n", rss>>10, hwm>>10)
	for _, c := range []struct {
		missed bool
		what   string
	}{
		{first > 2*time.Second || (polls > 0 && cycle > 2*time.Second), "full poll cycle within 2 s"},
		{hwm>>10 >= 300, "peak RSS under 300 MB"},
		{renders[len(renders)/2] >= 200*time.Millisecond, "median /metrics render under 200 ms"},
		{p99 > 200*time.Millisecond, "p99 /metrics render within 200 ms"},
	} {
		verdict := "met"
		if c.missed {
			verdict = "MISSED"
		}
		fmt.Printf("target %s: %s\n", c.what, verdict)
	}
	return nil
}

func upDrivers(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	up := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "spark_dra_exporter_scrape_success{") && strings.HasSuffix(l, " 1") {
			up++
		}
	}
	return up, sc.Err()
}

func timeGet(url string) (time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return time.Since(start), n, err
}
