//go:build e2e

package externalscaler

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// TestRealPrometheus runs Debian's prometheus on loopback, scraping an
// exporter-shaped /metrics every second, and reads it through
// PrometheusSource: the two queries, the sample age, spark_up = 0, and the
// exporter going away (staleness markers) must all come out as the unit
// tests assume. `make scaler-e2e` runs it.
func TestRealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not on PATH: `make scaler-e2e` installs Debian's package (as root), or install it yourself")
	}
	var mu sync.Mutex
	text := exposition(backlogged())
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write([]byte(text))
	}))
	defer exp.Close()

	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"+
		"scrape_configs:\n- job_name: spark-dra-exporter\n  static_configs: [{targets: [%q]}]\n",
		strings.TrimPrefix(exp.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopback(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("prometheus log:\n%s", b)
		}
	}()

	c, err := api.NewClient(api.Config{Address: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	src := NewPrometheusSource(v1.NewAPI(c), nil)
	sel, _ := ParseSelector(`app_name="etl",job="spark-dra-exporter"`)
	observe := func() (*Snapshot, error) {
		snap, err := src.Fetch(t.Context(), time.Now())
		if err != nil {
			return nil, err
		}
		_, _, err = snap.Observe(sel)
		return snap, err
	}
	waitFor(t, "the first scrape", func() error { _, err := observe(); return err })

	now := time.Now()
	snap, err := src.Fetch(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	obs, info, err := snap.Observe(sel)
	if err != nil {
		t.Fatal(err)
	}
	if obs.PendingTasks != 10 || obs.RunningTasks != 1 || obs.BacklogDuration != 5*time.Second ||
		len(obs.Executors) != 1 || obs.Executors[0].Host != "10.0.0.1" {
		t.Errorf("observation through Prometheus: %+v", obs)
	}
	if age := now.Sub(info.SampleTime); age < 0 || age > 5*time.Second {
		t.Errorf("sample age %v, want within one scrape interval or so", age)
	}

	down := backlogged()
	down.up = 0
	mu.Lock()
	text = exposition(down)
	mu.Unlock()
	waitFor(t, "spark_up 0 to be seen", func() error {
		if _, err := observe(); err == nil || !strings.Contains(err.Error(), "spark_up is 0") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})

	exp.Close() // the exporter goes away: Prometheus marks its series stale
	waitFor(t, "the series to go stale", func() error {
		if _, err := observe(); err == nil || !strings.Contains(err.Error(), "no spark_up series") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond every 200 ms for at most 60 s.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		<-tick.C
	}
	t.Fatalf("waiting for %s: %v", what, err)
}
