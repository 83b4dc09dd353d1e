package closedloop

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

// service is a started helper process with the address it serves on.
type service struct {
	proc *sparkcluster.Process
	// Addr is host:port of its HTTP side.
	Addr string
}

// startService runs bin with args (logs to dir/name.log) and waits, bounded by timeout, until
// GET http://addr+readyPath answers 200.
func startService(ctx context.Context, name, bin string, args []string, dir, addr, readyPath string, timeout time.Duration) (*service, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	p, err := sparkcluster.StartProcess(name, cmd, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = sparkcluster.PollUntil(wctx, 100*time.Millisecond, name+" ready", func(ctx context.Context) (bool, error) {
		if exited, werr := p.Exited(); exited {
			return false, sparkcluster.Permanent(fmt.Errorf("%s exited (%v); see %s", name, werr, p.LogPath))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+readyPath, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s: %s", readyPath, resp.Status)
	})
	if err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return &service{proc: p, Addr: addr}, nil
}

func (s *service) stop() error {
	if s == nil {
		return nil
	}
	return s.proc.Stop(5 * time.Second)
}

func freeAddr() (string, error) {
	port, err := sparkcluster.FreePort("127.0.0.1")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// startExporter runs spark-dra-exporter polling one driver every poll.
func startExporter(ctx context.Context, bin, dir, driverUI string, poll time.Duration) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return startService(ctx, "spark-dra-exporter", bin, []string{
		"--web.listen-address=" + addr,
		"--spark.driver-url=" + driverUI,
		"--spark.poll-interval=" + poll.String(),
		// Every failed poll, with its request and reason, and when: the run's log says why the
		// exporter published late, if it did.
		"--log.level=debug",
	}, dir, addr, "/metrics", 60*time.Second)
}

// PrometheusConfig is the prometheus.yml of a run: the exporter and the scaler scraped every
// interval (Config.PollInterval: the exporter polls its driver as often).
func PrometheusConfig(exporterAddr, scalerWebAddr string, interval time.Duration) string {
	cfg := `global:
  scrape_interval: ` + interval.String() + `
  scrape_timeout: ` + interval.String() + `
  evaluation_interval: ` + interval.String() + `
scrape_configs:
  - job_name: spark-dra-exporter
    static_configs:
      - targets: ["` + exporterAddr + `"]
`
	if scalerWebAddr != "" {
		cfg += `  - job_name: spark-dra-scaler
    static_configs:
      - targets: ["` + scalerWebAddr + `"]
`
	}
	return cfg
}

// startPrometheus runs Debian's prometheus on 127.0.0.1 with a temporary TSDB.
func startPrometheus(ctx context.Context, bin, dir, config string) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	return startService(ctx, "prometheus", bin, []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "tsdb"),
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}, dir, addr, "/-/ready", 60*time.Second)
}
