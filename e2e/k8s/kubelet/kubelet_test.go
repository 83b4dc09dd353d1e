package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// harness runs a Kubelet against client-go's fake clientset, with /bin/sh and bash standing in
// for Spark's processes: the lifecycle (restart, terminal status, deletion) is the same.
type harness struct {
	t      *testing.T
	client *fake.Clientset
	k      *Kubelet
	dir    string

	mu      sync.Mutex
	deletes []string // pod names deleted with grace 0
	tokens  []string // ServiceAccounts tokens were minted for
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, client: fake.NewClientset(), dir: t.TempDir()}
	h.client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := ca.GetObject().(*authv1.TokenRequest).DeepCopy()
		h.mu.Lock()
		h.tokens = append(h.tokens, a.GetNamespace()+"/"+ca.(k8stesting.CreateActionImpl).Name+" bound to "+tr.Spec.BoundObjectRef.Name)
		h.mu.Unlock()
		tr.Status.Token = "token-" + tr.Spec.BoundObjectRef.Name
		return true, tr, nil
	})
	h.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteActionImpl)
		if g := da.DeleteOptions.GracePeriodSeconds; g != nil && *g == 0 {
			h.mu.Lock()
			h.deletes = append(h.deletes, da.Name)
			h.mu.Unlock()
		}
		return false, nil, nil
	})
	home := fakeSparkHome(t)
	k, err := New(Config{
		Client: h.client, NodeName: "kwok-node-0", Server: "https://127.0.0.1:6443", CAFile: "/ca.crt",
		Dir: filepath.Join(h.dir, "pods"), LogDir: filepath.Join(h.dir, "logs"),
		Runtime:        SparkImages(map[string]Runtime{"": {SparkHome: home, Version: "test"}}),
		JavaHome:       "/nonexistent-jdk",
		ObjectWait:     20 * time.Second,
		RestartBackoff: 20 * time.Millisecond,
		Logf:           t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.k = k
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	return h
}

// pod is a Running pod with an IP, as KWOK leaves it, running script in a Spark image.
func (h *harness) pod(name, script string, policy corev1.RestartPolicy) *corev1.Pod {
	grace := int64(5)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "spark", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName: "kwok-node-0", RestartPolicy: policy, ServiceAccountName: "spark-driver",
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "main", Image: "apache/spark:4.0.1",
				Command: []string{"bash", "-c", script}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.1.0.9",
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	return p
}

func (h *harness) create(p *corev1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) get(name string) (*corev1.Pod, error) {
	return h.client.CoreV1().Pods("spark").Get(context.Background(), name, metav1.GetOptions{})
}

// markDeleted does what the API server does on a graceful delete: set deletionTimestamp and
// deletionGracePeriodSeconds (the fake clientset would remove the pod at once).
func (h *harness) markDeleted(name string, grace int64) {
	h.t.Helper()
	p, err := h.get(name)
	if err != nil {
		h.t.Fatal(err)
	}
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if _, err := h.client.CoreV1().Pods("spark").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) deleted(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.deletes {
		if d == name {
			return true
		}
	}
	return false
}

// eventually polls cond every 10 ms for at most 20 s.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) waitRunning() {
	h.t.Helper()
	eventually(h.t, "a running process", func() error {
		if len(h.k.Running()) == 0 {
			return errNotYet
		}
		return nil
	})
}

func (h *harness) waitDeleted(name string) {
	h.t.Helper()
	eventually(h.t, name+" deleted with grace 0", func() error {
		if !h.deleted(name) {
			return errNotYet
		}
		return nil
	})
}

func (h *harness) log(name string) string {
	b, _ := os.ReadFile(h.k.LogPath("spark", name))
	return string(b)
}

func terminatedState(p *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "main" {
			return cs.State.Terminated
		}
	}
	return nil
}

func TestKubeletTerminalStatusWithExitCode(t *testing.T) {
	h := newHarness(t)
	// The process sees its pod's identity: SPARK_LOCAL_IP, HOSTNAME, a KUBECONFIG whose token is
	// the pod's ServiceAccount's, and the hosts file option; it exits 3.
	h.create(h.pod("exec-1", `echo "ip=$SPARK_LOCAL_IP host=$HOSTNAME"; grep -c token-exec-1 "$KUBECONFIG"; echo "jto=$JAVA_TOOL_OPTIONS"; echo "pwd=$PWD"; exit 3`, corev1.RestartPolicyNever))
	eventually(t, "phase Failed", func() error {
		p, err := h.get("exec-1")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		if st := terminatedState(p); st == nil || st.ExitCode != 3 || st.Reason != "Error" {
			return fmt.Errorf("terminated %+v", st)
		}
		return nil
	})
	log := h.log("exec-1")
	for _, want := range []string{"ip=127.1.0.9 host=exec-1", "\n1\n", "jto=-Djdk.net.hosts.file=", "/root/opt/spark/work-dir\n", "exited with code 3"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if len(h.tokens) != 1 || h.tokens[0] != "spark/spark-driver bound to exec-1" {
		t.Errorf("tokens: %q", h.tokens)
	}
	// A finished pod stays until someone deletes it; then it goes at once.
	if h.deleted("exec-1") {
		t.Fatal("a finished pod must stay until deleted")
	}
	h.markDeleted("exec-1", 30)
	h.waitDeleted("exec-1")
}

var errNotYet = fmt.Errorf("not yet")

func TestKubeletRestartsPerPolicy(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("worker-1", `echo run >> /opt/spark/work-dir/runs; n=$(wc -l < /opt/spark/work-dir/runs); [ "$n" -ge 3 ] && exec sleep 60; exit 1`, corev1.RestartPolicyAlways))
	eventually(t, "two restarts", func() error {
		p, err := h.get("worker-1")
		if err != nil {
			return err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount == 2 && cs.State.Running != nil {
				return nil
			}
		}
		return fmt.Errorf("statuses %+v", p.Status.ContainerStatuses)
	})
	p, _ := h.get("worker-1")
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s while restarting", p.Status.Phase)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("last termination: %+v", cs.LastTerminationState)
	}
	exits := h.k.Exits()
	if len(exits) != 2 || !exits[0].Restarted || exits[1].ExitCode != 1 {
		t.Errorf("exits: %+v", exits)
	}
	if got := h.k.Running(); len(got) != 1 || got[0] != "spark/worker-1" {
		t.Errorf("running: %v", got)
	}
}

// Deletion: SIGTERM to the whole process group (a child too), the final status, delete with
// grace 0.
func TestKubeletDeletionSIGTERM(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("exec-2", `trap 'echo got TERM; exit 7' TERM; bash -c 'trap "echo child TERM; exit 0" TERM; while :; do sleep 0.05; done' & while :; do sleep 0.05; done`, corev1.RestartPolicyNever))
	h.waitRunning()
	h.markDeleted("exec-2", 20)
	h.waitDeleted("exec-2")
	exits := h.k.Exits()
	if len(exits) != 1 || !exits[0].Deleted || exits[0].ExitCode != 7 {
		t.Errorf("exits: %+v", exits)
	}
	if d := exits[0].Finished.Sub(exits[0].Started); d > 10*time.Second {
		t.Errorf("SIGTERM should end it well within its 20 s grace, took %s", d)
	}
	log := h.log("exec-2")
	for _, want := range []string{"grace period 20s", "SIGTERM", "got TERM", "child TERM", "deleting pod (grace 0)"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// A process that ignores SIGTERM is killed when the grace period ends: exit code 137.
func TestKubeletDeletionGraceThenSIGKILL(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("exec-3", `trap '' TERM; while :; do sleep 0.05; done`, corev1.RestartPolicyNever))
	h.waitRunning()
	h.markDeleted("exec-3", 1)
	h.waitDeleted("exec-3")
	exits := h.k.Exits()
	if len(exits) != 1 || exits[0].ExitCode != 137 {
		t.Errorf("exits: %+v", exits)
	}
	if !strings.Contains(h.log("exec-3"), "grace period over: SIGKILL") {
		t.Errorf("log:\n%s", h.log("exec-3"))
	}
}

// The decommissioning preStop hook: SIGPWR to the JVM, which leaves by itself (no SIGTERM).
func TestKubeletPreStopDecommission(t *testing.T) {
	h := newHarness(t)
	p := h.pod("exec-4", `trap 'echo decommissioning; exit 0' PWR; while :; do sleep 0.05; done`, corev1.RestartPolicyNever)
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/opt/decom.sh"}}}}
	h.create(p)
	h.waitRunning()
	h.markDeleted("exec-4", 20)
	h.waitDeleted("exec-4")
	log := h.log("exec-4")
	if !strings.Contains(log, "SIGPWR") || !strings.Contains(log, "decommissioning") || strings.Contains(log, "=== SIGTERM") || strings.Contains(log, "kubelet: SIGTERM") {
		t.Errorf("log:\n%s", log)
	}
	if ex := h.k.Exits(); len(ex) != 1 || ex[0].ExitCode != 0 {
		t.Errorf("exits: %+v", ex)
	}
}

// A decommissioning JVM that outlives the grace period: the hook ends with the grace period, and
// the container still gets SIGTERM and 2 s before SIGKILL, as the kubelet gives it.
func TestKubeletPreStopOutlivesGrace(t *testing.T) {
	h := newHarness(t)
	p := h.pod("exec-4b", `trap 'echo still decommissioning' PWR; trap 'sleep 0.5; echo terminated; exit 0' TERM; while :; do sleep 0.05; done`, corev1.RestartPolicyNever)
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/opt/decom.sh"}}}}
	h.create(p)
	h.waitRunning()
	h.markDeleted("exec-4b", 1)
	h.waitDeleted("exec-4b")
	log := h.log("exec-4b")
	if !strings.Contains(log, "preStop: grace period over") || !strings.Contains(log, "kubelet: SIGTERM") || !strings.Contains(log, "terminated") ||
		strings.Contains(log, "SIGKILL") {
		t.Errorf("log:\n%s", log)
	}
	if ex := h.k.Exits(); len(ex) != 1 || ex[0].ExitCode != 0 {
		t.Errorf("exits: %+v", ex)
	}
}

// Spark creates an executor's ConfigMap after the pod: the kubelet waits for it, then the
// process reads it at its container path.
func TestKubeletWaitsForConfigMap(t *testing.T) {
	h := newHarness(t)
	p := h.pod("exec-5", `cat /opt/spark/conf/spark.properties; echo "conf=$SPARK_CONF_DIR"`, corev1.RestartPolicyNever)
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "SPARK_CONF_DIR", Value: "/opt/spark/conf"}}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "spark-conf-volume-exec", MountPath: "/opt/spark/conf"}}
	p.Spec.Volumes = []corev1.Volume{{Name: "spark-conf-volume-exec", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "spark-exec-5-conf-map"}}}}}
	h.create(p)
	eventually(t, "the wait logged", func() error {
		if !strings.Contains(h.log("exec-5"), "waiting: volume spark-conf-volume-exec: ConfigMap spark/spark-exec-5-conf-map not found") {
			return errNotYet
		}
		return nil
	})
	if _, err := h.client.CoreV1().ConfigMaps("spark").Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-exec-5-conf-map", Namespace: "spark"},
		Data:       map[string]string{"spark.properties": "spark.app.id=late"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Succeeded", func() error {
		p, err := h.get("exec-5")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	log := h.log("exec-5")
	if !strings.Contains(log, "spark.app.id=late") || !strings.Contains(log, "/root/opt/spark/conf\n") {
		t.Errorf("log:\n%s", log)
	}
}

// Pods of other images stay virtual; deleted, they go at once (KWOK's pod-delete stage is off).
func TestKubeletVirtualPods(t *testing.T) {
	h := newHarness(t)
	p := h.pod("exporter", "exit 0", corev1.RestartPolicyAlways)
	p.Spec.Containers[0].Image = "sparkdra:latest"
	h.create(p)
	other := h.pod("elsewhere", "exit 0", corev1.RestartPolicyNever)
	other.Spec.NodeName = "real-node"
	h.create(other)
	h.markDeleted("exporter", 30)
	h.waitDeleted("exporter")
	if len(h.k.Exits()) != 0 || len(h.k.Running()) != 0 {
		t.Errorf("nothing should have run: %+v %v", h.k.Exits(), h.k.Running())
	}
	h.markDeleted("elsewhere", 30)
	if _, err := os.Stat(h.k.LogPath("spark", "elsewhere")); !os.IsNotExist(err) {
		t.Errorf("a pod of another node was touched: %v", err)
	}
}

// A pod whose volume cannot be made fails with the reason, instead of hanging.
func TestKubeletUnsupportedVolumeFails(t *testing.T) {
	h := newHarness(t)
	p := h.pod("bad", "exit 0", corev1.RestartPolicyNever)
	p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}}}
	h.create(p)
	eventually(t, "Failed", func() error {
		p, err := h.get("bad")
		if err != nil {
			return err
		}
		st := terminatedState(p)
		if p.Status.Phase != corev1.PodFailed || st == nil || st.Reason != "CreateContainerConfigError" || !strings.Contains(st.Message, "unsupported volume type") {
			return fmt.Errorf("phase %s, %+v", p.Status.Phase, st)
		}
		return nil
	})
}
