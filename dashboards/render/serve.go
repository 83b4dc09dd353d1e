package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// TSDBServer is Debian's prometheus serving a copy of a saved TSDB on a free loopback port,
// scraping nothing.
type TSDBServer struct {
	URL string
	cmd *exec.Cmd
	dir string
}

// ServeTSDB copies the TSDB at src (Prometheus writes to the directory it opens) and serves it
// until Stop. It fails when prometheus is missing or not ready within a minute.
func ServeTSDB(ctx context.Context, bin, src string) (*TSDBServer, error) {
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("saved TSDB: %w", err)
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%s not found (Debian's prometheus package; make e2e-deps installs it): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "sparkdra-dashboards-png-")
	if err != nil {
		return nil, err
	}
	s := &TSDBServer{dir: dir}
	if err := copyDir(src, filepath.Join(dir, "tsdb")); err != nil {
		s.Stop()
		return nil, err
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {}\n"), 0o644); err != nil {
		s.Stop()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Stop()
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		s.Stop()
		return nil, err
	}
	defer log.Close()
	s.cmd = exec.Command(path, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--storage.tsdb.retention.time=3650d", "--web.listen-address="+addr, "--log.level=warn")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.Stop()
		return nil, err
	}
	s.URL = "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			s.Stop()
			return nil, fmt.Errorf("prometheus on the saved TSDB not ready within a minute:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop ends the prometheus it started (by its PID) and removes the copy.
func (s *TSDBServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(s.dir)
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if d.Name() == "lock" {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
