package sparkcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a child started in its own process group, so that stopping it also stops what it
// started (a Worker's executor JVMs, a driver's Python workers).
type Process struct {
	// Name is a short label for error messages and log file names.
	Name string
	// LogPath is the file that receives the child's stdout and stderr.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, valid once done is closed
}

// StartProcess starts cmd in a new process group with stdout and stderr appended to logPath.
// The caller owns the returned Process and must Stop it.
func StartProcess(name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = logFile
	}
	if cmd.Stderr == nil {
		cmd.Stderr = logFile
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, cmd.Path, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id of the child, which is also its process group id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited, and its exit error if so.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the child's process group, waits up to grace for the child to exit, then
// sends SIGKILL to the group and waits again (bounded). Stopping an exited process is a no-op.
func (p *Process) Stop(grace time.Duration) error {
	if exited, _ := p.Exited(); exited {
		killGroup(p.PID(), syscall.SIGKILL) // leftovers of the group, if any
		return nil
	}
	killGroup(p.PID(), syscall.SIGTERM)
	select {
	case <-p.done:
		killGroup(p.PID(), syscall.SIGKILL)
		return nil
	case <-time.After(grace):
	}
	killGroup(p.PID(), syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d): still running 10s after SIGKILL", p.Name, p.PID())
	}
}

func killGroup(pgid int, sig syscall.Signal) {
	// ESRCH (group gone) is the expected outcome once everything has exited.
	_ = syscall.Kill(-pgid, sig)
}

// FreePort returns a TCP port that was free on host a moment ago. Another process may take it
// before the caller binds it; the tests accept that small race for ports Spark must be told.
func FreePort(host string) (int, error) {
	ps, err := FreePorts(host, 1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// FreePorts returns n distinct TCP ports that were free on host a moment ago: they are held open
// together, so no two coincide, then released for the caller's processes to bind (with the same
// small race as FreePort).
func FreePorts(host string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("free port on %s: %w", host, err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// PollUntil calls check every interval until it returns true, returns an error, or ctx ends.
// It is the one bounded wait on the real world the package uses: ctx carries the deadline.
// On timeout the error wraps ctx's error and the last error check returned, if any.
func PollUntil(ctx context.Context, interval time.Duration, what string, check func(context.Context) (bool, error)) error {
	var last error
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := check(ctx)
		if ok {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("%s: %w", what, perm.err)
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// permanentError stops PollUntil at once (for example: the process being waited on has exited).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that PollUntil gives up at once instead of retrying.
func Permanent(err error) error { return &permanentError{err: err} }
