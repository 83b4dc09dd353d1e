package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
)

// Runtime is what a Spark image runs from on this machine.
type Runtime struct {
	// SparkHome is PySpark's SPARK_HOME (site-packages/pyspark of a venv): bin, jars, python.
	SparkHome string
	// PathDirs go first on the process's PATH (the venv's bin, so python3 is the venv's).
	PathDirs []string
	// Version is the Spark version it runs (for reports).
	Version string
}

// Config configures a Kubelet.
type Config struct {
	// Client talks to the API server with rights to read pods, services, endpointslices,
	// configmaps and secrets, update pod status, delete pods and create ServiceAccount tokens.
	Client kubernetes.Interface
	// NodeName is the (KWOK) node whose pods this kubelet runs.
	NodeName string
	// Server is the API server URL written into each pod's kubeconfig, and CAFile its CA.
	Server, CAFile string
	// Dir holds one directory per pod (its image root, volumes, hosts file, kubeconfig).
	Dir string
	// LogDir holds one log per pod, <namespace>_<pod>.log (a pod recreated under the same name,
	// as a StatefulSet does, appends to it).
	LogDir string
	// Runtime says which images run and from where; images it refuses stay virtual (KWOK's
	// status only). SparkImages builds one.
	Runtime func(image string) (Runtime, bool)
	// JavaHome is the JDK every JVM runs from.
	JavaHome string
	// JavaToolOptions are added to JAVA_TOOL_OPTIONS of every process (after the hosts file
	// option), e.g. to keep JVMs lean.
	JavaToolOptions string
	// ExtraEnv is added last to every process's environment (NAME=value).
	ExtraEnv []string
	// Node is the node's allocatable (limits a container leaves unset, in resourceFieldRef).
	Node corev1.ResourceList
	// ObjectWait bounds the wait for a ConfigMap or Secret a pod refers to (default 3 min).
	ObjectWait time.Duration
	// RestartBackoff is the first restart delay; it doubles per restart up to 10 times it
	// (default 1 s).
	RestartBackoff time.Duration
	// Logf receives the kubelet's own messages (default: discarded). Per-pod messages also go
	// to the pod's log.
	Logf func(format string, args ...any)
}

// Exit is one process exit the kubelet saw.
type Exit struct {
	Namespace, Pod, Container string
	UID                       types.UID
	ExitCode                  int
	Started, Finished         time.Time
	// Deleted: the process ended because its pod was deleted (preStop, SIGTERM, SIGKILL).
	Deleted bool
	// Restarted: the restartPolicy started it again (after the back-off; an exit whose pod was
	// deleted during the back-off is not).
	Restarted bool
}

// Kubelet runs the Spark pods of one KWOK node as local processes. See the package doc.
type Kubelet struct {
	cfg      Config
	hostname string
	vols     *Volumes

	mu       sync.Mutex
	workers  map[types.UID]*podWorker
	deleting map[types.UID]bool // pods without a worker whose deletion is under way
	exits    []Exit

	podInf, svcInf cache.SharedIndexInformer
	hostsKick      chan struct{}
	stop           chan struct{}
	stopOnce       sync.Once
	wg             sync.WaitGroup
}

// New returns a Kubelet; Start runs it.
func New(cfg Config) (*Kubelet, error) {
	if cfg.Client == nil || cfg.NodeName == "" || cfg.Dir == "" || cfg.LogDir == "" || cfg.Runtime == nil {
		return nil, errors.New("kubelet: Client, NodeName, Dir, LogDir and Runtime are required")
	}
	if cfg.ObjectWait == 0 {
		cfg.ObjectWait = 3 * time.Minute
	}
	if cfg.RestartBackoff == 0 {
		cfg.RestartBackoff = time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.JavaHome == "" {
		cfg.JavaHome = os.Getenv("JAVA_HOME")
	}
	for _, d := range []string{cfg.Dir, cfg.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	host, _ := os.Hostname()
	k := &Kubelet{
		cfg:       cfg,
		hostname:  host,
		workers:   map[types.UID]*podWorker{},
		deleting:  map[types.UID]bool{},
		hostsKick: make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	k.vols = &Volumes{Objects: apiObjects{cfg.Client}, Token: k.token, Node: cfg.Node}
	return k, nil
}

// SparkImages returns a Config.Runtime for the official Spark images: an image whose
// repository's last path element is "spark" or "spark-py" (apache/spark:4.0.1,
// docker.io/library/spark:3.5.3, …) runs with the runtime whose key is the longest prefix of
// its tag ("3.5" for 3.5.3); the key "" is the default. Other images stay virtual.
func SparkImages(byTag map[string]Runtime) func(string) (Runtime, bool) {
	return func(image string) (Runtime, bool) {
		repo, tag := image, ""
		if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
			repo, tag = image[:i], image[i+1:]
		}
		repo, _, _ = strings.Cut(repo, "@")
		name := repo[strings.LastIndexByte(repo, '/')+1:]
		if name != "spark" && name != "spark-py" {
			return Runtime{}, false
		}
		best, found := "", false
		for k := range byTag {
			if strings.HasPrefix(tag, k) && (!found || len(k) > len(best)) {
				best, found = k, true
			}
		}
		if !found {
			return Runtime{}, false
		}
		return byTag[best], true
	}
}

// Start starts the informers (pods of the node, Services) and returns once
// they have synced, or ctx's error.
func (k *Kubelet) Start(ctx context.Context) error {
	podFactory := informers.NewSharedInformerFactoryWithOptions(k.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	factory := informers.NewSharedInformerFactory(k.cfg.Client, 0)
	k.podInf = podFactory.Core().V1().Pods().Informer()
	k.svcInf = factory.Core().V1().Services().Informer()
	if _, err := k.podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { k.onPod(o) },
		UpdateFunc: func(_, o any) { k.onPod(o) },
		DeleteFunc: func(o any) { k.onPodGone(o) },
	}); err != nil {
		return err
	}
	kick := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.kickHosts() },
		UpdateFunc: func(any, any) { k.kickHosts() },
		DeleteFunc: func(any) { k.kickHosts() },
	}
	for _, inf := range []cache.SharedIndexInformer{k.svcInf, k.podInf} {
		if _, err := inf.AddEventHandler(kick); err != nil {
			return err
		}
	}
	podFactory.Start(k.stop)
	factory.Start(k.stop)
	k.wg.Add(1)
	go k.hostsLoop()
	if !cache.WaitForCacheSync(ctx.Done(), k.podInf.HasSynced, k.svcInf.HasSynced) {
		return fmt.Errorf("kubelet: informers did not sync: %w", ctx.Err())
	}
	return nil
}

// Stop ends every process (SIGTERM, SIGKILL after 5 s) and the informers, and waits for the
// pod workers. Pods are left as they are (the control plane is going away too).
func (k *Kubelet) Stop() {
	k.stopOnce.Do(func() { close(k.stop) })
	k.wg.Wait()
}

// Exits returns every process exit seen so far, in order.
func (k *Kubelet) Exits() []Exit {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Exit(nil), k.exits...)
}

// LogPath is the log of pod namespace/name.
func (k *Kubelet) LogPath(namespace, name string) string {
	return filepath.Join(k.cfg.LogDir, namespace+"_"+name+".log")
}

// Running returns namespace/name of the pods whose process is running now, sorted.
func (k *Kubelet) Running() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, w := range k.workers {
		if p := w.current(); p != nil && !p.exited() {
			out = append(out, w.pod.Namespace+"/"+w.pod.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (k *Kubelet) onPod(o any) {
	pod, ok := o.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != k.cfg.NodeName {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-k.stop:
		return
	default:
	}
	w := k.workers[pod.UID]
	if pod.DeletionTimestamp != nil {
		if w != nil {
			w.markDeleting(pod)
			return
		}
		if !k.deleting[pod.UID] {
			// Virtual, or never started: nothing runs, so it goes at once (what KWOK's
			// pod-delete stage did).
			k.deleting[pod.UID] = true
			k.wg.Add(1)
			go func() {
				defer k.wg.Done()
				k.deletePod(pod)
			}()
		}
		return
	}
	if w != nil || pod.Status.PodIP == "" || pod.Status.Phase != corev1.PodRunning {
		return
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		rt, ok := k.cfg.Runtime(c.Image)
		if !ok {
			continue
		}
		w := &podWorker{k: k, pod: pod.DeepCopy(), cname: c.Name, rt: rt,
			deleting: make(chan struct{}), gone: make(chan struct{})}
		w.c = &w.pod.Spec.Containers[i]
		k.workers[pod.UID] = w
		k.wg.Add(1)
		go w.run()
		return
	}
}

func (k *Kubelet) onPodGone(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.deleting, pod.UID)
	if w := k.workers[pod.UID]; w != nil {
		w.markGone()
		delete(k.workers, pod.UID)
	}
}

func (k *Kubelet) kickHosts() {
	select {
	case k.hostsKick <- struct{}{}:
	default:
	}
}

// hostsLoop rewrites every running pod's hosts file when Services or pods change.
func (k *Kubelet) hostsLoop() {
	defer k.wg.Done()
	for {
		select {
		case <-k.stop:
			return
		case <-k.hostsKick:
		}
		k.mu.Lock()
		ws := make([]*podWorker, 0, len(k.workers))
		for _, w := range k.workers {
			ws = append(ws, w)
		}
		k.mu.Unlock()
		for _, w := range ws {
			if w.hostsPath() != "" {
				if err := w.writeHosts(); err != nil {
					k.cfg.Logf("kubelet: hosts file of %s/%s: %v", w.pod.Namespace, w.pod.Name, err)
				}
			}
		}
	}
}

// writeHosts (re)writes the pod's hosts file when its content changed, and logs the new
// content to the pod's log.
func (w *podWorker) writeHosts() error {
	b := w.k.hostsFile(w.pod)
	w.mu.Lock()
	defer w.mu.Unlock()
	if string(b) == w.hostsContent {
		return nil
	}
	if err := writeAtomic(w.hosts, b); err != nil {
		return err
	}
	w.hostsContent = string(b)
	w.logf("hosts file %s:\n%s", w.hosts, b)
	return nil
}

func (k *Kubelet) hostsFile(pod *corev1.Pod) []byte {
	var svcs []*corev1.Service
	for _, o := range k.svcInf.GetStore().List() {
		svcs = append(svcs, o.(*corev1.Service))
	}
	var pods []*corev1.Pod
	for _, o := range k.podInf.GetStore().List() {
		pods = append(pods, o.(*corev1.Pod))
	}
	return HostsFile(pod, k.hostname, svcs, pods)
}

func (k *Kubelet) recordExit(e Exit) {
	k.mu.Lock()
	k.exits = append(k.exits, e)
	k.mu.Unlock()
}

// token mints a token for the pod's ServiceAccount, bound to the pod (it stops working when the
// pod is deleted).
func (k *Kubelet) token(ctx context.Context, pod *corev1.Pod, audience string, exp int64) (string, error) {
	if exp == 0 {
		exp = 4 * 3600
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if audience != "" {
		tr.Spec.Audiences = []string{audience}
	}
	out, err := k.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s: %w", pod.Namespace, sa, err)
	}
	return out.Status.Token, nil
}

// deletePod removes a pod whose processes are gone: grace 0, only this incarnation (UID).
func (k *Kubelet) deletePod(pod *corev1.Pod) {
	zero := int64(0)
	uid := pod.UID
	err := k.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name,
		metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		k.cfg.Logf("kubelet: delete %s/%s: %v", pod.Namespace, pod.Name, err)
	}
}

// setStatus writes the container's state (and the phase, when terminal) into the pod's status.
func (k *Kubelet) setStatus(pod *corev1.Pod, cname string, st corev1.ContainerState, restarts int32, phase corev1.PodPhase) error {
	ctx := context.Background()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := k.cfg.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return nil
		}
		applyContainerState(cur, cname, st, restarts, phase)
		_, err = k.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// applyContainerState sets container cname's state and restart count in pod's status; a
// non-empty phase also sets the phase and, for a terminal one, the Ready conditions to False.
func applyContainerState(pod *corev1.Pod, cname string, st corev1.ContainerState, restarts int32, phase corev1.PodPhase) {
	var cs *corev1.ContainerStatus
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == cname {
			cs = &pod.Status.ContainerStatuses[i]
		}
	}
	if cs == nil {
		image := ""
		for _, c := range pod.Spec.Containers {
			if c.Name == cname {
				image = c.Image
			}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: cname, Image: image})
		cs = &pod.Status.ContainerStatuses[len(pod.Status.ContainerStatuses)-1]
	}
	if st.Running == nil && cs.State.Running != nil {
		cs.LastTerminationState = corev1.ContainerState{}
	}
	if st.Running != nil && cs.State.Terminated != nil {
		cs.LastTerminationState = cs.State
	}
	cs.State = st
	cs.RestartCount = restarts
	running := st.Running != nil
	cs.Ready = running
	cs.Started = &running
	if phase == "" {
		return
	}
	pod.Status.Phase = phase
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		now := metav1.Now()
		for i := range pod.Status.Conditions {
			c := &pod.Status.Conditions[i]
			if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				if c.Status != corev1.ConditionFalse {
					c.Status = corev1.ConditionFalse
					c.LastTransitionTime = now
				}
				c.Reason = "PodCompleted"
			}
		}
	}
}

// terminalPhase is the phase of a pod whose (only running) container exited with code.
func terminalPhase(code int) corev1.PodPhase {
	if code == 0 {
		return corev1.PodSucceeded
	}
	return corev1.PodFailed
}

// terminated is the container state after an exit.
func terminated(p *process, reason string) corev1.ContainerState {
	if reason == "" {
		reason = "Completed"
		if p.code != 0 {
			reason = "Error"
		}
	}
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode:    int32(p.code),
		Reason:      reason,
		StartedAt:   metav1.NewTime(p.started),
		FinishedAt:  metav1.NewTime(p.finished),
		ContainerID: "process://" + strconv.Itoa(p.pid),
	}}
}

// ShouldRestart applies a pod's restartPolicy to an exit code: Always restarts, OnFailure
// restarts a non-zero exit, Never does not.
func ShouldRestart(policy corev1.RestartPolicy, code int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// podWorker runs one pod's Spark container.
type podWorker struct {
	k     *Kubelet
	pod   *corev1.Pod // as first seen running (with its IP)
	cname string
	c     *corev1.Container
	rt    Runtime

	deleting, gone       chan struct{}
	deleteOnce, goneOnce sync.Once
	log                  io.Writer
	restarts             int32 // only the run goroutine touches it

	mu    sync.Mutex // guards the fields below
	proc  *process
	hosts string
	// hostsContent is what the hosts file holds now.
	hostsContent string
	grace        time.Duration
	root         string
	argv, env    []string
	workDir      string
}

func (w *podWorker) markDeleting(pod *corev1.Pod) {
	w.deleteOnce.Do(func() {
		w.mu.Lock()
		w.grace = 30 * time.Second
		if pod.DeletionGracePeriodSeconds != nil {
			w.grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		} else if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
			w.grace = time.Duration(*g) * time.Second
		}
		w.mu.Unlock()
		close(w.deleting)
	})
}

func (w *podWorker) markGone() { w.goneOnce.Do(func() { close(w.gone) }) }

func (w *podWorker) current() *process {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.proc
}

func (w *podWorker) hostsPath() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hosts
}

func (w *podWorker) logf(format string, args ...any) {
	fmt.Fprintf(w.log, "=== %s kubelet: %s\n", time.Now().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

func (w *podWorker) run() {
	defer w.k.wg.Done()
	pod := w.pod
	lf, err := os.OpenFile(w.k.LogPath(pod.Namespace, pod.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.k.cfg.Logf("kubelet: log of %s/%s: %v", pod.Namespace, pod.Name, err)
		w.log = io.Discard
	} else {
		defer lf.Close()
		w.log = lf
	}
	w.logf("pod %s/%s uid %s ip %s container %s image %s (Spark %s)", pod.Namespace, pod.Name, pod.UID, pod.Status.PodIP, w.c.Name, w.c.Image, w.rt.Version)

	if err := w.prepareWithRetry(); err != nil {
		if errors.Is(err, errStopped) {
			return
		}
		if errors.Is(err, errDeleted) {
			w.k.deletePod(pod)
			return
		}
		w.logf("cannot start: %v", err)
		w.k.cfg.Logf("kubelet: %s/%s cannot start: %v", pod.Namespace, pod.Name, err)
		st := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "CreateContainerConfigError", Message: err.Error(), FinishedAt: metav1.Now()}}
		if err := w.k.setStatus(pod, w.cname, st, 0, corev1.PodFailed); err != nil {
			w.logf("status: %v", err)
		}
		w.awaitDeletion()
		return
	}

	for {
		p, err := startProcess(w.argv, w.env, w.workDir, w.log)
		if err != nil {
			w.logf("%v", err)
			st := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), FinishedAt: metav1.Now()}}
			_ = w.k.setStatus(pod, w.cname, st, w.restarts, corev1.PodFailed)
			w.awaitDeletion()
			return
		}
		w.mu.Lock()
		w.proc = p
		w.mu.Unlock()
		w.logf("started pid %d: %q", p.pid, w.argv)
		if w.restarts > 0 {
			st := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}}
			if err := w.k.setStatus(pod, w.cname, st, w.restarts, ""); err != nil {
				w.logf("status: %v", err)
			}
		}
		select {
		case <-p.done:
			w.logf("exited with code %d", p.code)
			select {
			case <-w.deleting:
				w.k.recordExit(w.exit(p, true, false))
				w.finishDeletion(p)
				return
			default:
			}
			if ShouldRestart(pod.Spec.RestartPolicy, p.code) {
				_ = w.k.setStatus(pod, w.cname, terminated(p, ""), w.restarts, "")
				w.restarts++
				backoff := w.k.cfg.RestartBackoff << min(w.restarts-1, 3)
				backoff = min(backoff, 10*w.k.cfg.RestartBackoff)
				t := time.NewTimer(backoff)
				// The exit counts as restarted only once the back-off is over: a pod deleted
				// meanwhile (an application's end: Spark stops its executors, then deletes them)
				// is not restarted.
				select {
				case <-t.C:
					w.k.recordExit(w.exit(p, false, true))
					continue
				case <-w.deleting:
					t.Stop()
					w.k.recordExit(w.exit(p, false, false))
					w.finishDeletion(p)
					return
				case <-w.gone:
					t.Stop()
					w.k.recordExit(w.exit(p, false, false))
					return
				case <-w.k.stop:
					t.Stop()
					w.k.recordExit(w.exit(p, false, false))
					return
				}
			}
			w.k.recordExit(w.exit(p, false, false))
			if err := w.k.setStatus(pod, w.cname, terminated(p, ""), w.restarts, terminalPhase(p.code)); err != nil {
				w.logf("status: %v", err)
			}
			w.awaitDeletion()
			return
		case <-w.deleting:
			w.kill(p)
			w.k.recordExit(w.exit(p, true, false))
			w.finishDeletion(p)
			return
		case <-w.gone:
			w.logf("pod removed from the API while running: stopping")
			p.terminate(2 * time.Second)
			w.k.recordExit(w.exit(p, true, false))
			return
		case <-w.k.stop:
			p.terminate(5 * time.Second)
			w.logf("kubelet stopped: exited with code %d", p.code)
			w.k.recordExit(w.exit(p, true, false))
			return
		}
	}
}

func (w *podWorker) exit(p *process, deleted, restarted bool) Exit {
	return Exit{Namespace: w.pod.Namespace, Pod: w.pod.Name, Container: w.cname, UID: w.pod.UID,
		ExitCode: p.code, Started: p.started, Finished: p.finished, Deleted: deleted, Restarted: restarted}
}

// awaitDeletion waits, after the container has ended for good, for the pod's deletion and then
// removes it at once.
func (w *podWorker) awaitDeletion() {
	select {
	case <-w.deleting:
		w.k.deletePod(w.pod)
	case <-w.gone:
	case <-w.k.stop:
	}
}

// finishDeletion writes the container's final state and removes the pod (grace 0).
func (w *podWorker) finishDeletion(p *process) {
	if p != nil {
		if err := w.k.setStatus(w.pod, w.cname, terminated(p, ""), w.restarts, terminalPhase(p.code)); err != nil && !apierrors.IsNotFound(err) {
			w.logf("status: %v", err)
		}
	}
	w.logf("deleting pod (grace 0)")
	w.k.deletePod(w.pod)
}

// minGraceAfterPreStop is the least time the kubelet leaves a container between SIGTERM and
// SIGKILL, however long its preStop hook took (kuberuntime's minimumGracePeriodInSeconds).
const minGraceAfterPreStop = 2 * time.Second

// kill stops the process for the pod's deletion, as the kubelet does: the preStop hook, then
// SIGTERM to the process group, SIGKILL once the grace period (counted from the deletion, hook
// included) is over, but never sooner than minGraceAfterPreStop after the SIGTERM.
func (w *podWorker) kill(p *process) {
	w.mu.Lock()
	grace := w.grace
	w.mu.Unlock()
	deadline := time.Now().Add(grace)
	w.logf("pod deleted: grace period %s", grace)
	if lc := w.c.Lifecycle; lc != nil && lc.PreStop != nil && grace > 0 {
		w.preStop(p, lc.PreStop, deadline)
		if least := time.Now().Add(minGraceAfterPreStop); deadline.Before(least) {
			deadline = least
		}
	}
	if !p.exited() {
		w.logf("SIGTERM")
		p.signalGroup(syscall.SIGTERM)
		if !p.waitUntil(deadline) {
			w.logf("grace period over: SIGKILL")
			p.signalGroup(syscall.SIGKILL)
			p.waitUntil(time.Now().Add(10 * time.Second))
		}
	}
	w.logf("exited with code %d", p.code)
}

// preStop runs a container's preStop hook, bounded by deadline (the end of the grace period, as
// the kubelet bounds it). The Spark image's /opt/decom.sh (Spark's
// resource-managers/kubernetes/docker/src/main/dockerfiles/spark/decom.sh, which
// apache/spark-docker copies to /opt) is emulated as it behaves: SIGPWR to the executor JVM
// (which starts Spark's decommissioning), then a wait for the JVM to exit (tail --pid, no limit
// of its own: the grace period ends it).
func (w *podWorker) preStop(p *process, h *corev1.LifecycleHandler, deadline time.Time) {
	switch {
	case h.Exec != nil && IsDecommissionHook(h.Exec.Command):
		w.logf("preStop %v: SIGPWR to pid %d, waiting for it to exit", h.Exec.Command, p.pid)
		p.signalLeader(syscall.SIGPWR)
		if !p.waitUntil(deadline) {
			w.logf("preStop: grace period over")
		}
	case h.Exec != nil:
		w.logf("preStop exec %q", h.Exec.Command)
		m := NewMapper(w.root, w.c)
		argv := make([]string, len(h.Exec.Command))
		for i, a := range h.Exec.Command {
			argv[i] = m.String(a)
		}
		hp, err := startProcess(argv, w.env, w.workDir, w.log)
		if err != nil {
			w.logf("preStop: %v", err)
			return
		}
		if !hp.waitUntil(deadline) {
			hp.signalGroup(syscall.SIGKILL)
		}
	case h.HTTPGet != nil:
		u := w.httpURL(h.HTTPGet)
		w.logf("preStop GET %s", u)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		if err != nil {
			w.logf("preStop: %v", err)
		}
	case h.Sleep != nil:
		d := time.Now().Add(time.Duration(h.Sleep.Seconds) * time.Second)
		if deadline.Before(d) {
			d = deadline
		}
		p.waitUntil(d)
	}
}

func (w *podWorker) httpURL(g *corev1.HTTPGetAction) string {
	host := g.Host
	if host == "" {
		host = w.pod.Status.PodIP
	}
	port := g.Port.String()
	if g.Port.Type == intstr.String {
		for _, cp := range w.c.Ports {
			if cp.Name == g.Port.StrVal {
				port = strconv.Itoa(int(cp.ContainerPort))
			}
		}
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + g.Path
}

var (
	errStopped = errors.New("kubelet stopped")
	errDeleted = errors.New("pod deleted before it started")
)

// prepareWithRetry prepares the container, retrying while an object it needs is missing (up to
// ObjectWait), every 250 ms.
func (w *podWorker) prepareWithRetry() error {
	deadline := time.Now().Add(w.k.cfg.ObjectWait)
	var last string
	for {
		err := w.prepare()
		if err == nil || !errors.Is(err, ErrWaiting) {
			return err
		}
		if err.Error() != last {
			w.logf("waiting: %v", err)
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s: %w", w.k.cfg.ObjectWait, err)
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-t.C:
		case <-w.deleting:
			t.Stop()
			return errDeleted
		case <-w.gone:
			t.Stop()
			return errStopped
		case <-w.k.stop:
			t.Stop()
			return errStopped
		}
	}
}

// prepare lays out the pod's directory and computes the process's argv and environment.
func (w *podWorker) prepare() error {
	pod, c, k := w.pod, w.c, w.k
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	dir := filepath.Join(k.cfg.Dir, pod.Namespace+"_"+pod.Name+"_"+uid)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	volDir := filepath.Join(dir, "volumes")
	root := filepath.Join(dir, "root")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.vols.Write(ctx, pod, volDir); err != nil {
		return err
	}
	if err := BuildRoot(root, w.rt.SparkHome, c.VolumeMounts, func(n string) string { return filepath.Join(volDir, n) }); err != nil {
		return err
	}
	env, err := ResolveEnv(pod, c, apiObjects{k.cfg.Client}, k.cfg.Node)
	if err != nil {
		return err
	}
	m := NewMapper(root, c)
	mapped := MapEnv(env, m)
	workDir := filepath.Join(root, ImageSparkHome, "work-dir")
	if c.WorkingDir != "" {
		workDir = m.Path(c.WorkingDir)
		if err := os.MkdirAll(workDir, 0o755); err != nil {
			return err
		}
	}
	sparkHome := filepath.Join(root, ImageSparkHome)
	argv, err := Entrypoint(c, env, mapped, m, k.cfg.JavaHome, sparkHome, workDir)
	if err != nil {
		return err
	}

	tok, err := k.token(ctx, pod, "", 0)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeTokenKubeconfig(kubeconfig, k.cfg.Server, k.cfg.CAFile, tok); err != nil {
		return err
	}
	w.mu.Lock()
	w.hosts = filepath.Join(dir, "hosts")
	w.mu.Unlock()
	if err := w.writeHosts(); err != nil {
		return err
	}
	hosts := w.hosts
	w.mu.Lock()
	w.root, w.hosts, w.workDir, w.argv = root, hosts, workDir, argv
	w.env = ProcessEnv(ProcessEnvInput{
		Pod: pod, Container: env, Mapped: mapped, Runtime: w.rt, SparkHome: sparkHome, JavaHome: k.cfg.JavaHome,
		Kubeconfig: kubeconfig, Hosts: hosts, Server: k.cfg.Server, JavaToolOptions: k.cfg.JavaToolOptions,
		Extra: k.cfg.ExtraEnv, Home: workDir,
	})
	w.mu.Unlock()
	return nil
}

// ProcessEnvInput is what a container process's environment is made of.
type ProcessEnvInput struct {
	Pod *corev1.Pod
	// Container is the container's resolved environment; Mapped the same with paths mapped.
	Container, Mapped []EnvVar
	Runtime           Runtime
	SparkHome         string // the pod's /opt/spark on this machine
	JavaHome          string
	Kubeconfig        string // the pod's ServiceAccount kubeconfig
	Hosts             string // the pod's hosts file
	Server            string // API server URL
	JavaToolOptions   string
	Extra             []string
	Home              string
}

// ProcessEnv returns the environment of a container's process, later entries winning: PATH
// (the runtime's dirs first), HOME, JAVA_HOME, SPARK_HOME, HOSTNAME, SPARK_LOCAL_IP=<pod IP>
// (so Spark binds its listeners, the UIs included, to the pod's IP), KUBECONFIG (the pod's own
// ServiceAccount token) and KUBERNETES_SERVICE_HOST/PORT, then the container's own variables
// (paths mapped), then JAVA_TOOL_OPTIONS (the container's, plus -Djdk.net.hosts.file=<hosts>
// and JavaToolOptions), then Extra.
func ProcessEnv(in ProcessEnvInput) []string {
	path := strings.Join(append(append([]string(nil), in.Runtime.PathDirs...), filepath.Join(in.JavaHome, "bin"), os.Getenv("PATH")), ":")
	host := in.Pod.Spec.Hostname
	if host == "" {
		host = in.Pod.Name
	}
	env := []string{
		"PATH=" + path,
		"HOME=" + in.Home,
		"JAVA_HOME=" + in.JavaHome,
		"SPARK_HOME=" + in.SparkHome,
		"HOSTNAME=" + host,
		"SPARK_LOCAL_IP=" + in.Pod.Status.PodIP,
		"KUBECONFIG=" + in.Kubeconfig,
	}
	if u, err := url.Parse(in.Server); err == nil && u.Host != "" {
		env = append(env, "KUBERNETES_SERVICE_HOST="+u.Hostname(), "KUBERNETES_SERVICE_PORT="+u.Port())
	}
	jto := ""
	for _, e := range in.Mapped {
		if e.Name == "JAVA_TOOL_OPTIONS" {
			jto = e.Value
			continue
		}
		env = append(env, e.Name+"="+e.Value)
	}
	jto = strings.TrimSpace(jto + " -Djdk.net.hosts.file=" + in.Hosts + " " + in.JavaToolOptions)
	env = append(env, "JAVA_TOOL_OPTIONS="+jto)
	env = append(env, in.Extra...)
	return env
}

func writeTokenKubeconfig(path, server, caFile, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["pod"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["pod"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["pod"] = &clientcmdapi.Context{Cluster: "pod", AuthInfo: "pod"}
	cfg.CurrentContext = "pod"
	return clientcmd.WriteToFile(*cfg, path)
}

// apiObjects reads ConfigMaps and Secrets from the API server.
type apiObjects struct{ c kubernetes.Interface }

func (a apiObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return a.c.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func (a apiObjects) Secret(ns, name string) (*corev1.Secret, error) {
	return a.c.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
}
