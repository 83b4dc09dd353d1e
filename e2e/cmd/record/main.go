//go:build e2e

// Command record runs each e2e job once on a fixed pool of real Spark workers with Spark's own
// DRA on, and records what other rooms replay: the Spark event log of each application and the
// driver's REST payloads sampled every second.
//
//	go run -tags e2e ./e2e/cmd/record -out e2e/testdata   (make e2e-record)
//
// Output, per job (pagerank, tripcount):
//
//	<out>/eventlogs/<job>.json.gz   the Spark event log (gzip of Spark's plain JSON lines)
//	<out>/rest/<job>/samples.jsonl.gz  one JSON object per line: {"t": seconds since the first
//	    sample, "path": the path under the driver UI, "status": HTTP status, "body": the payload
//	    as served (JSON), or "error": the transport error}
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

func main() { os.Exit(run()) }

func run() int {
	out := flag.String("out", "e2e/testdata", "where eventlogs/ and rest/ are written")
	workers := flag.Int("workers", 3, "fixed pool size (also spark.dynamicAllocation.maxExecutors)")
	jobs := flag.String("jobs", "pagerank,tripcount", "jobs to record")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := record(ctx, *out, *workers, strings.Split(*jobs, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		return 1
	}
	return 0
}

func record(ctx context.Context, out string, workers int, jobs []string) error {
	python := os.Getenv("SPARKDRA_E2E_PYTHON")
	if python == "" {
		return errors.New("SPARKDRA_E2E_PYTHON is not set (make e2e-record sets it)")
	}
	home, err := sparkcluster.SparkHomeFromPython(ctx, python)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sparkdra-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c, err := sparkcluster.Start(ctx, sparkcluster.Options{SparkHome: home, Dir: tmp})
	if err != nil {
		return err
	}
	defer c.Close()
	pool := sparkcluster.NewPool(c)
	if _, err := pool.Reconcile(ctx, workers); err != nil {
		return err
	}
	if err := pool.WaitReady(ctx); err != nil {
		return err
	}
	for _, job := range jobs {
		if err := recordJob(ctx, c, python, tmp, out, job, workers); err != nil {
			return fmt.Errorf("%s: %w", job, err)
		}
	}
	return nil
}

// DRAConf is Spark's own DRA as the recordings run it: short timeouts so a run shows ramp-up,
// idle release and pinned executors within minutes.
func DRAConf(maxExecutors int) map[string]string {
	return map[string]string{
		"spark.dynamicAllocation.enabled":                          "true",
		"spark.dynamicAllocation.shuffleTracking.enabled":          "true",
		"spark.dynamicAllocation.shuffleTracking.timeout":          "30s",
		"spark.dynamicAllocation.minExecutors":                     "0",
		"spark.dynamicAllocation.maxExecutors":                     fmt.Sprint(maxExecutors),
		"spark.dynamicAllocation.schedulerBacklogTimeout":          "1s",
		"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout": "1s",
		"spark.dynamicAllocation.executorIdleTimeout":              "10s",
		"spark.dynamicAllocation.cachedExecutorIdleTimeout":        "30s",
	}
}

func recordJob(ctx context.Context, c *sparkcluster.Cluster, python, tmp, out, job string, workers int) error {
	evDir := filepath.Join(tmp, "eventlog-"+job)
	j, err := sparkcluster.StartJob(sparkcluster.JobOptions{
		Python: python, Script: filepath.Join("e2e", "jobs", job+".py"), MasterURL: c.MasterURL,
		AppName: "e2e-" + job, Dir: tmp, EventLogDir: evDir, Conf: DRAConf(workers),
		Pause: 15 * time.Second, Hold: true,
	})
	if err != nil {
		return err
	}
	defer j.Stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	appID, err := j.WaitApp(wctx)
	if err != nil {
		return err
	}
	restDir := filepath.Join(out, "rest", job)
	if err := os.MkdirAll(restDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(restDir, "samples.jsonl.gz"))
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	start := time.Now()
	paths := []string{
		"/api/v1/applications",
		"/api/v1/applications/" + appID + "/environment",
		"/api/v1/applications/" + appID + "/stages?status=active",
		"/api/v1/applications/" + appID + "/executors",
		"/api/v1/applications/" + appID + "/jobs",
		"/metrics/json/",
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	enc := json.NewEncoder(zw)
	var doneAt time.Time
	for n := 0; ; n++ {
		for i, p := range paths {
			if i == 1 && n > 0 { // environment: it does not change; once at the start and once at the end
				continue
			}
			if err := enc.Encode(sample(wctx, j.UI, p, time.Since(start))); err != nil {
				return err
			}
		}
		if _, ok := j.Event("jobs_done"); ok && doneAt.IsZero() {
			doneAt = time.Now()
		}
		// Keep sampling past the last job long enough to see the idle and cached timeouts.
		if !doneAt.IsZero() && time.Since(doneAt) > 40*time.Second {
			break
		}
		select {
		case <-wctx.Done():
			return wctx.Err()
		case <-tick.C:
		}
	}
	if err := enc.Encode(sample(wctx, j.UI, paths[1], time.Since(start))); err != nil {
		return err
	}
	if err := errors.Join(zw.Close(), f.Close()); err != nil {
		return err
	}
	if res, ok := j.Event("result"); ok {
		fmt.Printf("%s: %v\n", job, res)
	}
	j.Release()
	if err := j.Wait(wctx); err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	return copyEventLog(evDir, filepath.Join(out, "eventlogs", job+".json.gz"))
}

type restSample struct {
	T      float64         `json:"t"`
	Path   string          `json:"path"`
	Status int             `json:"status,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
	Error  string          `json:"error,omitempty"`
}

func sample(ctx context.Context, ui, path string, at time.Duration) restSample {
	s := restSample{T: float64(at.Milliseconds()) / 1000, Path: path}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ui+path, nil)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	s.Status = resp.StatusCode
	if err != nil {
		s.Error = err.Error()
	} else if json.Valid(body) {
		// Compact: Spark pretty-prints; whitespace is not what the replays test.
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err == nil {
			s.Body = buf.Bytes()
		}
	} else {
		s.Error = "non-JSON body: " + strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return s
}

func copyEventLog(dir, dst string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) != 1 {
		return fmt.Errorf("want one event log in %s, found %d", dir, len(ents))
	}
	in, err := os.Open(filepath.Join(dir, ents[0].Name()))
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	_, err = io.Copy(zw, in)
	return errors.Join(err, zw.Close(), f.Close())
}
