package sparkcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// JobOptions describes one PySpark application from e2e/jobs to run against a cluster.
type JobOptions struct {
	// Python is the venv interpreter (it also runs the executors' Python workers). Required.
	Python string
	// Script is the job file, e.g. e2e/jobs/pagerank.py. Required.
	Script string
	// MasterURL is the cluster's spark:// address. Required.
	MasterURL string
	// AppName is spark.app.name. Required.
	AppName string
	// Dir receives the driver's log. Required.
	Dir string
	// EventLogDir, when set, turns the Spark event log on into it (created if missing).
	EventLogDir string
	// Conf holds further Spark properties (--conf key=value).
	Conf map[string]string
	// Pause is the idle gap between the application's jobs.
	Pause time.Duration
	// Hold keeps the application alive after its last job until Release is called.
	Hold bool
	// Args are extra job arguments (sizes: --nodes, --trips, …).
	Args []string
}

// Validate reports every missing required option.
func (o JobOptions) Validate() error {
	var errs []error
	for name, v := range map[string]string{"Python": o.Python, "Script": o.Script, "MasterURL": o.MasterURL, "AppName": o.AppName, "Dir": o.Dir} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// Event is one `EVENT {json}` line a job prints: "event" names it, "time" is Unix seconds.
type Event map[string]any

// Name is the event's name.
func (e Event) Name() string { s, _ := e["event"].(string); return s }

// Time is when the job printed the event.
func (e Event) Time() time.Time {
	f, _ := e["time"].(float64)
	return time.UnixMilli(int64(f * 1000))
}

// Float returns a numeric field (0, false when absent or not a number).
func (e Event) Float(key string) (float64, bool) { f, ok := e[key].(float64); return f, ok }

// Job is a running PySpark driver.
type Job struct {
	// UI is the driver's UI base URL, http://127.0.0.1:<spark.ui.port>.
	UI string

	proc  *Process
	stdin io.WriteCloser

	mu     sync.Mutex
	events []Event
}

// StartJob starts the driver. The caller must Stop it (t.Cleanup).
func StartJob(opts JobOptions) (*Job, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	script, err := filepath.Abs(opts.Script)
	if err != nil {
		return nil, err
	}
	port, err := FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	args := []string{script, "--master", opts.MasterURL, "--app-name", opts.AppName,
		"--ui-port", strconv.Itoa(port), "--pause", strconv.FormatFloat(opts.Pause.Seconds(), 'f', -1, 64)}
	if opts.EventLogDir != "" {
		if err := os.MkdirAll(opts.EventLogDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--event-log-dir", opts.EventLogDir)
	}
	keys := make([]string, 0, len(opts.Conf))
	for k := range opts.Conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--conf", k+"="+opts.Conf[k])
	}
	if opts.Hold {
		args = append(args, "--hold")
	}
	args = append(args, opts.Args...)
	cmd := exec.Command(opts.Python, args...)
	cmd.Dir = filepath.Dir(script) // the jobs import jobcommon from beside them
	cmd.Env = append(os.Environ(), "PYSPARK_PYTHON="+opts.Python, "PYSPARK_DRIVER_PYTHON="+opts.Python,
		"SPARK_LOCAL_IP=127.0.0.1", "PYTHONUNBUFFERED=1")
	j := &Job{UI: fmt.Sprintf("http://127.0.0.1:%d", port)}
	logPath := filepath.Join(opts.Dir, opts.AppName+".driver.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = &lineWriter{out: logFile, line: j.onLine}
	cmd.Stderr = logFile
	if j.stdin, err = cmd.StdinPipe(); err != nil {
		logFile.Close()
		return nil, err
	}
	j.proc, err = StartProcess(opts.AppName, cmd, logPath)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { <-j.proc.Done(); logFile.Close() }()
	return j, nil
}

func (j *Job) onLine(line []byte) {
	rest, ok := bytes.CutPrefix(line, []byte("EVENT "))
	if !ok {
		return
	}
	var e Event
	if json.Unmarshal(rest, &e) != nil {
		return
	}
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
}

// Events returns the events printed so far, in order.
func (j *Job) Events() []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Event(nil), j.events...)
}

// Event returns the first event with this name, if printed yet.
func (j *Job) Event(name string) (Event, bool) {
	for _, e := range j.Events() {
		if e.Name() == name {
			return e, true
		}
	}
	return nil, false
}

// WaitEvent waits (bounded by ctx) until the job prints the named event. It fails at once if the
// driver exits first.
func (j *Job) WaitEvent(ctx context.Context, name string, every time.Duration) (Event, error) {
	var got Event
	err := PollUntil(ctx, every, "event "+name, func(context.Context) (bool, error) {
		if e, ok := j.Event(name); ok {
			got = e
			return true, nil
		}
		if exited, err := j.proc.Exited(); exited {
			return false, Permanent(fmt.Errorf("driver exited (%v) before %q; see %s", err, name, j.proc.LogPath))
		}
		return false, nil
	})
	return got, err
}

// WaitApp waits (bounded by ctx) until the driver UI serves its application and returns its id.
func (j *Job) WaitApp(ctx context.Context) (string, error) {
	var id string
	err := PollUntil(ctx, 200*time.Millisecond, "driver UI", func(ctx context.Context) (bool, error) {
		if exited, err := j.proc.Exited(); exited {
			return false, Permanent(fmt.Errorf("driver exited (%v); see %s", err, j.proc.LogPath))
		}
		var err error
		id, err = DriverAppID(ctx, j.UI)
		return err == nil, err
	})
	return id, err
}

// Release lets a held application finish (closes the driver's stdin).
func (j *Job) Release() error { return j.stdin.Close() }

// Wait waits (bounded by ctx) for the driver to exit and returns its exit error.
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.proc.Done():
		_, err := j.proc.Exited()
		return err
	case <-ctx.Done():
		return fmt.Errorf("driver still running: %w", ctx.Err())
	}
}

// Exited reports whether the driver has exited.
func (j *Job) Exited() bool { e, _ := j.proc.Exited(); return e }

// Stop ends the driver's process group (the driver JVM and its Python workers).
func (j *Job) Stop() error { return j.proc.Stop(10 * time.Second) }

// LogPath is the driver's log file.
func (j *Job) LogPath() string { return j.proc.LogPath }

// lineWriter passes complete lines to line and everything to out.
type lineWriter struct {
	out  io.Writer
	line func([]byte)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return w.out.Write(p)
}
