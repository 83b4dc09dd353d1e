//go:build e2e_k8s

package k8se2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sparkdraBin returns the path of a sparkdra command built by `make k8s-bins`.
func sparkdraBin(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("SPARKDRA_K8S_BIN")
	if dir == "" {
		t.Fatal("SPARKDRA_K8S_BIN is not set: run `make e2e-k8s`")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (run `make k8s-bins`)", name, err)
	}
	return p
}

// scrape returns the exposition text of a /metrics endpoint.
func scrape(url string) (string, error) {
	resp, err := plainClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return string(b), nil
}

// gauge returns the value of the first sample of metric whose labels contain every matcher
// (e.g. `app_name="e2e-pagerank"`), and whether one was found.
func gauge(text, metric string, matchers ...string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		ok := true
		for _, m := range matchers {
			if !strings.Contains(line, m) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			return v, true
		}
	}
	return 0, false
}

// standInOverrides change the recorded application's settings to the example's: workers of 2
// cores, and Spark's own DRA off, because spark-dra-scaler runs it (design.md: a driven target's
// applications do not run DRA themselves).
var standInOverrides = map[string]string{"spark.executor.cores": "2", "spark.dynamicAllocation.enabled": "false"}

// loadPageRank loads the recorded PageRank driver payloads of the real-Spark tier.
func loadPageRank(t testing.TB) *Recording {
	t.Helper()
	rec, err := LoadRecording(filepath.Join(repoRoot(), "e2e", "testdata", "rest", "pagerank", "samples.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestStandInFeedsExporter checks, without the cluster, that spark-dra-exporter reads the driver
// stand-in as it reads a Spark driver: the backlog, and one executor per pod keyed by pod IP.
func TestStandInFeedsExporter(t *testing.T) {
	pods := []executorPod{
		{Name: "w-a", IP: "10.244.0.5", Created: time.Unix(100, 0)},
		{Name: "w-b", IP: "10.244.0.6", Created: time.Unix(200, 0)},
	}
	d := NewDriverStandIn(loadPageRank(t), standInOverrides, func() []executorPod { return pods }, time.Now)
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	d.SetBacklog(10)

	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	p, err := startProc(t.TempDir(), "exporter", sparkdraBin(t, "spark-dra-exporter"),
		[]string{"--web.listen-address=" + addr, "--spark.driver-url=" + srv.URL, "--spark.poll-interval=200ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.stop(5 * time.Second) })
	s := &Stack{t: t, watched: map[string]*proc{"exporter": p}}
	var text string
	s.WaitUntil("exporter sees the backlog", 20*time.Second, func() error {
		var err error
		if text, err = scrape("http://" + addr + "/metrics"); err != nil {
			return err
		}
		if v, ok := gauge(text, "spark_dra_pending_tasks", `app_name="e2e-pagerank"`); !ok || v != 6 {
			return fmt.Errorf("spark_dra_pending_tasks = %v (found %v), want 6", v, ok)
		}
		return nil
	})
	for _, want := range []struct {
		metric, label string
		v             float64
	}{
		{"spark_dra_running_tasks", `app_name="e2e-pagerank"`, 4},
		{"spark_dra_tasks_per_executor", `app_name="e2e-pagerank"`, 2},
		{"spark_dra_max_needed_executors", `app_name="e2e-pagerank"`, 5},
		{"spark_executor_info", `host="10.244.0.5"`, 1},
		{"spark_executor_info", `host="10.244.0.6"`, 1},
		{"spark_executor_running_tasks", `executor_id="2"`, 2},
	} {
		if v, ok := gauge(text, want.metric, want.label); !ok || v != want.v {
			t.Errorf("%s{%s} = %v (found %v), want %v", want.metric, want.label, v, ok, want.v)
		}
	}
}
