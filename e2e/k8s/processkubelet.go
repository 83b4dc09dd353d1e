//go:build e2e_k8s

package k8se2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"
	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

// KubeletOptions turn on the process kubelet (package kubelet) for the stack's KWOK node: pods
// get loopback IPs from a per-run random 127.N.0.0/16 (N in 100..200, so concurrent runs on one
// machine do not collide), KWOK's pod-delete stage is left out, and the containers of Spark
// images run as local processes from the PySpark venvs of Runtimes.
type KubeletOptions struct {
	// Runtimes maps an image tag prefix to the runtime its pods run from ("" is the default,
	// "3.5" takes apache/spark:3.5.x); see kubelet.SparkImages and VenvRuntime.
	Runtimes map[string]kubelet.Runtime
	// JavaToolOptions are added to every JVM of every pod (JAVA_TOOL_OPTIONS).
	JavaToolOptions string
	// ExtraEnv is added to every process's environment (NAME=value).
	ExtraEnv []string
}

// DefaultKubeletOptions runs Spark images from the PySpark venv of $SPARKDRA_E2E_PYTHON
// (PySpark 4.1.x, every tag) and, when $SPARKDRA_E2E_PYTHON35 is set, tags 3.5* from that
// PySpark 3.5 venv. make's e2e-k8s targets set both.
func DefaultKubeletOptions() (*KubeletOptions, error) {
	py := os.Getenv("SPARKDRA_E2E_PYTHON")
	if py == "" {
		return nil, fmt.Errorf("SPARKDRA_E2E_PYTHON is not set: run through make (e2e-k8s-spark), which makes the PySpark venv")
	}
	rt, err := VenvRuntime(py)
	if err != nil {
		return nil, err
	}
	o := &KubeletOptions{
		Runtimes: map[string]kubelet.Runtime{"": rt},
		// Lean JVMs: serial GC everywhere; the standalone daemons (Master, Worker) also C1 only
		// and a small heap, as in the closed loop's cluster (two shared cores, many JVMs).
		JavaToolOptions: "-XX:+UseSerialGC",
		ExtraEnv:        []string{"SPARK_DAEMON_MEMORY=256m", "SPARK_DAEMON_JAVA_OPTS=" + sparkcluster.DaemonJavaOpts},
	}
	if py35 := os.Getenv("SPARKDRA_E2E_PYTHON35"); py35 != "" {
		rt35, err := VenvRuntime(py35)
		if err != nil {
			return nil, err
		}
		o.Runtimes["3.5"] = rt35
	}
	return o, nil
}

var pysparkVersion = regexp.MustCompile(`__version__(?::\s*str)?\s*=\s*["']([^"']+)["']`)

// VenvRuntime returns the runtime of the PySpark installed in the venv of python: its
// SPARK_HOME (site-packages/pyspark), the venv's bin first on PATH, and its version.
func VenvRuntime(python string) (kubelet.Runtime, error) {
	venv := filepath.Dir(filepath.Dir(python))
	homes, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "pyspark"))
	if len(homes) != 1 {
		return kubelet.Runtime{}, fmt.Errorf("no single pyspark package in venv %s (%v): run `make e2e-venv`", venv, homes)
	}
	b, err := os.ReadFile(filepath.Join(homes[0], "version.py"))
	if err != nil {
		return kubelet.Runtime{}, err
	}
	m := pysparkVersion.FindSubmatch(b)
	if m == nil {
		return kubelet.Runtime{}, fmt.Errorf("no __version__ in %s/version.py", homes[0])
	}
	return kubelet.Runtime{SparkHome: homes[0], PathDirs: []string{filepath.Join(venv, "bin")}, Version: string(m[1])}, nil
}

// javaHome is $JAVA_HOME, else the JDK of the java on PATH.
func javaHome() (string, error) {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		return h, nil
	}
	j, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("java not found: %w", err)
	}
	if j, err = filepath.EvalSymlinks(j); err != nil {
		return "", err
	}
	return filepath.Dir(filepath.Dir(j)), nil
}

// loopbackPodCIDR picks 127.N.0.0/16 with N in 100..200.
func loopbackPodCIDR() string { return fmt.Sprintf("127.%d.0.0/16", 100+rand.IntN(101)) }

// stagesWithoutPodDelete writes KWOK's stages minus pod-delete into dir and returns the file:
// with the process kubelet, a pod is deleted once its process has exited, not at once.
func stagesWithoutPodDelete(binDir, dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(binDir, "stages.yaml"))
	if err != nil {
		return "", err
	}
	var keep []string
	dropped := false
	for _, doc := range strings.Split(string(b), "\n---") {
		if strings.Contains(doc, "name: pod-delete\n") {
			dropped = true
			continue
		}
		keep = append(keep, doc)
	}
	if !dropped {
		return "", fmt.Errorf("no pod-delete stage in %s/stages.yaml", binDir)
	}
	out := filepath.Join(dir, "stages-process-kubelet.yaml")
	return out, os.WriteFile(out, []byte(strings.Join(keep, "\n---")), 0o644)
}

// startKubelet runs the process kubelet for the node, stopped at cleanup before the control
// plane (cleanups run last-in first-out).
func (s *Stack) startKubelet(o *KubeletOptions) {
	s.t.Helper()
	jh, err := javaHome()
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := kubelet.New(kubelet.Config{
		Client: s.Client, NodeName: s.NodeName, Server: s.Server, CAFile: s.CAFile,
		Dir: filepath.Join(s.Dir, "pods"), LogDir: filepath.Join(s.LogDir, "pods"),
		Runtime: kubelet.SparkImages(o.Runtimes), JavaHome: jh, JavaToolOptions: o.JavaToolOptions,
		ExtraEnv: o.ExtraEnv,
		Node:     fakeNode(s.NodeName).Status.Allocatable,
		Logf:     s.t.Logf,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := k.Start(ctx); err != nil {
		s.t.Fatal(err)
	}
	s.Kubelet = k
	s.t.Cleanup(k.Stop)
	s.markReady("process-kubelet")
}
