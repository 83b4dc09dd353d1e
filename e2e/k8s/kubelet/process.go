package kubelet

import (
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// process is one container's process: the leader of its own process group, so a signal to the
// group reaches every child (a driver's Python process, PySpark's workers).
type process struct {
	cmd      *exec.Cmd
	pid      int
	started  time.Time
	done     chan struct{} // closed once the leader has exited and the group was reaped
	finished time.Time
	code     int // exit code, 128+signal when killed by a signal; valid after done
}

// startProcess starts argv in dir with exactly env, its output appended to log. The leader
// gets SIGKILL should this process die first (Pdeathsig), so no JVM outlives a crashed test.
func startProcess(argv, env []string, dir string, log io.Writer) (*process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.finished = time.Now()
		p.code = exitCode(cmd, err)
		// A container ends with its main process: what it left running in its group goes too.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		close(p.done)
	}()
	return p, nil
}

// exitCode is the container exit code of a finished command: its status, or 128+signal.
func exitCode(cmd *exec.Cmd, err error) int {
	st := cmd.ProcessState
	if st == nil {
		if err != nil {
			return 128
		}
		return 0
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to every process of the group.
func (p *process) signalGroup(sig syscall.Signal) { _ = syscall.Kill(-p.pid, sig) }

// signalLeader sends sig to the group's leader only (the JVM, for Spark's containers).
func (p *process) signalLeader(sig syscall.Signal) { _ = syscall.Kill(p.pid, sig) }

// waitUntil waits for the exit until deadline; it reports whether the process has exited.
func (p *process) waitUntil(deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return p.exited()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// terminate sends SIGTERM to the group, then SIGKILL once grace has passed, and waits (at most
// 10 s more) for the exit.
func (p *process) terminate(grace time.Duration) {
	if p.exited() {
		return
	}
	p.signalGroup(syscall.SIGTERM)
	if p.waitUntil(time.Now().Add(grace)) {
		return
	}
	p.signalGroup(syscall.SIGKILL)
	p.waitUntil(time.Now().Add(10 * time.Second))
}
