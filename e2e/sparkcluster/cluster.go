package sparkcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a standalone cluster. Zero values take the defaults noted on each field.
type Options struct {
	// SparkHome is the Spark distribution to run: the `pyspark` package directory of a venv
	// (see SparkHomeFromPython). Required.
	SparkHome string
	// Dir receives logs, worker directories and pid-free state. Required; usually t.TempDir().
	Dir string
	// WorkerMemory is each worker's memory for executors (`--memory`), default "512m".
	WorkerMemory string
	// DaemonMemory is the heap of the Master and Worker JVMs (SPARK_DAEMON_MEMORY), default "256m".
	DaemonMemory string
	// ReadyTimeout bounds each wait for a daemon to come up, default 90s.
	ReadyTimeout time.Duration
	// StopGrace is how long a stopped daemon gets between SIGTERM and SIGKILL, default 10s.
	StopGrace time.Duration
}

func (o *Options) setDefaults() {
	if o.WorkerMemory == "" {
		o.WorkerMemory = "512m"
	}
	if o.DaemonMemory == "" {
		o.DaemonMemory = "256m"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 10 * time.Second
	}
}

// Validate reports every missing or unusable option.
func (o Options) Validate() error {
	var errs []error
	if o.SparkHome == "" {
		errs = append(errs, errors.New("SparkHome is required"))
	} else if _, err := os.Stat(filepath.Join(o.SparkHome, "bin", "spark-class")); err != nil {
		errs = append(errs, fmt.Errorf("SparkHome %s has no bin/spark-class: %w", o.SparkHome, err))
	}
	if o.Dir == "" {
		errs = append(errs, errors.New("Dir is required"))
	}
	return errors.Join(errs...)
}

// DaemonJavaOpts are the JVM options of the Master and Worker daemons.
const DaemonJavaOpts = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1"

// Worker is one Spark Worker process of the cluster, with one executor slot (`--cores 1`).
type Worker struct {
	// Name is the harness's name for it, worker-<n>; n never repeats within a cluster.
	Name string
	// Host is the worker's own loopback address; its executors report it in their hostPort.
	Host string
	// ID is the master's id of this worker, known once it registered.
	ID string
	// WebUI is the worker's UI base URL.
	WebUI string
	// StartedAt is when the harness started the process (the "pod creation time").
	StartedAt time.Time

	proc    *Process
	ready   bool // guarded by the cluster's mutex
	stopped bool // guarded by the cluster's mutex: StopWorker was called
}

// PID is the worker JVM's pid (and process group: its executors are in it).
func (w *Worker) PID() int { return w.proc.PID() }

// Cluster is a running standalone Master with its Workers. Methods are safe for concurrent use.
type Cluster struct {
	// MasterURL is spark://127.0.0.1:<port>, what a driver's `--master` takes.
	MasterURL string
	// MasterUI is http://127.0.0.1:<port>, the master's web UI (and `/json/`).
	MasterUI string

	opts   Options
	master *Process

	mu      sync.Mutex
	workers map[string]*Worker
	next    int
}

// Start starts a Master on 127.0.0.1 (ports picked now) and waits, bounded by
// opts.ReadyTimeout, until its `/json/` says ALIVE. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("sparkcluster: %w", err)
	}
	for _, d := range []string{"logs", "work"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	port, err := FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	uiPort, err := FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		MasterURL: fmt.Sprintf("spark://127.0.0.1:%d", port),
		MasterUI:  fmt.Sprintf("http://127.0.0.1:%d", uiPort),
		opts:      opts,
		workers:   map[string]*Worker{},
	}
	cmd := c.sparkClass("org.apache.spark.deploy.master.Master",
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--webui-port", strconv.Itoa(uiPort))
	cmd.Env = append(c.env("127.0.0.1", filepath.Join(opts.Dir, "work")),
		// Never give up on an application because its executors were stopped: stopping workers is
		// exactly what the scaler does.
		"SPARK_MASTER_OPTS=-Dspark.deploy.maxExecutorRetries=-1")
	c.master, err = StartProcess("master", cmd, filepath.Join(opts.Dir, "logs", "master.log"))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	err = PollUntil(wctx, 250*time.Millisecond, "master ready", func(ctx context.Context) (bool, error) {
		if exited, werr := c.master.Exited(); exited {
			return false, Permanent(fmt.Errorf("master exited (%v); see %s", werr, c.master.LogPath))
		}
		st, err := c.State(ctx)
		return err == nil && st.Status == "ALIVE", err
	})
	if err != nil {
		c.master.Stop(opts.StopGrace)
		return nil, err
	}
	return c, nil
}

// sparkClass builds `$SPARK_HOME/bin/spark-class <class> <args…>`.
func (c *Cluster) sparkClass(class string, args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(c.opts.SparkHome, "bin", "spark-class"), append([]string{class}, args...)...)
}

// env is the environment of a daemon bound to host.
func (c *Cluster) env(host, workDir string) []string {
	return append(os.Environ(),
		"SPARK_HOME="+c.opts.SparkHome,
		"SPARK_LOCAL_IP="+host,
		"SPARK_LOG_DIR="+filepath.Join(c.opts.Dir, "logs"),
		"SPARK_WORKER_DIR="+workDir,
		"SPARK_DAEMON_MEMORY="+c.opts.DaemonMemory,
		// Masters and Workers do little work but start often (every scale-up): the client
		// compiler and the serial collector start a JVM with a fraction of the CPU on 2 cores.
		"SPARK_DAEMON_JAVA_OPTS="+DaemonJavaOpts,
		"SPARK_NO_DAEMONIZE=1",
	)
}

// State reads the master's `/json/`.
func (c *Cluster) State(ctx context.Context) (MasterState, error) {
	var st MasterState
	err := GetJSON(ctx, c.MasterUI+"/json/", &st)
	return st, err
}

// hostFor returns the loopback address of the n-th worker: 127.0.0.2, …, 127.0.0.251, 127.0.1.2, …
func hostFor(n int) string {
	return fmt.Sprintf("127.0.%d.%d", n/250, 2+n%250)
}

// StartWorker launches one Worker and waits, bounded by ReadyTimeout, until the master lists it
// ALIVE. On error the worker is stopped again.
func (c *Cluster) StartWorker(ctx context.Context) (*Worker, error) {
	w, err := c.LaunchWorker()
	if err != nil {
		return nil, err
	}
	if err := c.WaitWorker(ctx, w); err != nil {
		c.StopWorker(ctx, w)
		return nil, err
	}
	return w, nil
}

// LaunchWorker starts one Worker with one core on a fresh loopback address and returns at once,
// the way a pod exists before it is ready; the worker counts among Workers from now on.
func (c *Cluster) LaunchWorker() (*Worker, error) {
	c.mu.Lock()
	n := c.next
	c.next++
	c.mu.Unlock()
	w := &Worker{Name: fmt.Sprintf("worker-%d", n), Host: hostFor(n)}
	uiPort, err := FreePort(w.Host)
	if err != nil {
		return nil, err
	}
	workDir := filepath.Join(c.opts.Dir, "work", w.Name)
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}
	cmd := c.sparkClass("org.apache.spark.deploy.worker.Worker",
		"--host", w.Host, "--cores", "1", "--memory", c.opts.WorkerMemory,
		"--webui-port", strconv.Itoa(uiPort), "--work-dir", workDir, c.MasterURL)
	cmd.Env = c.env(w.Host, workDir)
	w.StartedAt = time.Now()
	w.proc, err = StartProcess(w.Name, cmd, filepath.Join(c.opts.Dir, "logs", w.Name+".log"))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.workers[w.Name] = w
	c.mu.Unlock()
	return w, nil
}

// ErrWorkerStopped is what WaitWorker returns when the worker was stopped on purpose (by
// StopWorker or Close) before it registered: a pod deleted before it became ready.
var ErrWorkerStopped = errors.New("worker stopped before it registered")

// WaitWorker waits, bounded by ReadyTimeout, until the master lists w ALIVE, and records its
// master id and UI.
func (c *Cluster) WaitWorker(ctx context.Context, w *Worker) error {
	wctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	return PollUntil(wctx, 250*time.Millisecond, w.Name+" registered", func(ctx context.Context) (bool, error) {
		c.mu.Lock()
		stopped := w.stopped
		c.mu.Unlock()
		if stopped {
			return false, Permanent(ErrWorkerStopped)
		}
		if exited, werr := w.proc.Exited(); exited {
			return false, Permanent(fmt.Errorf("%s exited (%v); see %s", w.Name, werr, w.proc.LogPath))
		}
		st, err := c.State(ctx)
		if err != nil {
			return false, err
		}
		mw, ok := st.AliveWorker(w.Host)
		if ok {
			c.mu.Lock()
			w.ID, w.WebUI, w.ready = mw.ID, mw.WebUIAddress, true
			c.mu.Unlock()
		}
		return ok, nil
	})
}

// Ready reports whether the master has listed the worker ALIVE (as far as WaitWorker saw).
func (c *Cluster) Ready(w *Worker) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return w.ready
}

// StopWorker stops the worker's process group (the worker JVM and the executors it launched) and
// waits, bounded by ReadyTimeout, until the master no longer lists it ALIVE.
func (c *Cluster) StopWorker(ctx context.Context, w *Worker) error {
	c.mu.Lock()
	delete(c.workers, w.Name)
	w.stopped = true
	c.mu.Unlock()
	if err := w.proc.Stop(c.opts.StopGrace); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	return PollUntil(wctx, 250*time.Millisecond, w.Name+" gone from master", func(ctx context.Context) (bool, error) {
		st, err := c.State(ctx)
		if err != nil {
			return false, err
		}
		_, alive := st.AliveWorker(w.Host)
		return !alive, nil
	})
}

// Workers returns the running workers, oldest first.
func (c *Cluster) Workers() []*Worker {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Worker, 0, len(c.workers))
	for _, w := range c.workers {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// WorkerByHost returns the running worker bound to host.
func (c *Cluster) WorkerByHost(host string) (*Worker, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.workers {
		if w.Host == host {
			return w, true
		}
	}
	return nil, false
}

// Close stops every worker, then the master. It is safe to call more than once; it returns every
// stop error.
func (c *Cluster) Close() error {
	var errs []error
	for _, w := range c.Workers() {
		c.mu.Lock()
		delete(c.workers, w.Name)
		w.stopped = true
		c.mu.Unlock()
		errs = append(errs, w.proc.Stop(c.opts.StopGrace))
	}
	errs = append(errs, c.master.Stop(c.opts.StopGrace))
	return errors.Join(errs...)
}

// SparkHomeFromPython asks the interpreter of a venv where its `pyspark` package lives; that
// directory is a complete Spark distribution (bin/, jars/).
func SparkHomeFromPython(ctx context.Context, python string) (string, error) {
	out, err := exec.CommandContext(ctx, python, "-c",
		"import os, pyspark; print(os.path.dirname(pyspark.__file__))").Output()
	if err != nil {
		return "", fmt.Errorf("locate pyspark with %s: %w", python, err)
	}
	return strings.TrimSpace(string(out)), nil
}
