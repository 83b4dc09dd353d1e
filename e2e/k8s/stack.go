//go:build e2e_k8s

package k8se2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Stack is a running Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler), KWOK managing one fake node, and KEDA's operator and metrics adapter serving
// external.metrics.k8s.io through API aggregation. Every process binds 127.0.0.1 on a port
// chosen at start, except the adapter's own /metrics listener, which KEDA binds on all
// interfaces (it has no host flag; nothing is sent to it).
type Stack struct {
	t testing.TB

	// BinDir holds the binaries built by e2e/tools/build.sh; its parent holds KEDA's CRDs.
	BinDir string
	// Dir holds certificates, kubeconfigs and etcd's data; it is removed after the test.
	Dir string
	// LogDir holds one log file per process (e2e/out/k8s/<test name>).
	LogDir string
	// AdminKubeconfig is a kubeconfig with system:masters rights.
	AdminKubeconfig string
	// CAFile is the cluster CA certificate (PEM).
	CAFile string
	// Server is the kube-apiserver URL (https://127.0.0.1:port).
	Server string
	// NodeName is the KWOK node every pod is scheduled to.
	NodeName string
	// PodCIDR is the range KWOK gives pod IPs from (10.244.0.0/16, or a loopback range with
	// the process kubelet).
	PodCIDR string
	// Kubelet is the process kubelet, when Options.Kubelet asked for it.
	Kubelet *kubelet.Kubelet

	Config  *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper

	// Ready records, per component, how long after the start it was ready.
	Ready   map[string]time.Duration
	started time.Time
	// readySeconds is how long the whole stack took to be ready.
	readySeconds float64
	watched      map[string]*proc // processes whose unexpected exit fails a wait
}

// Options tune the stack.
type Options struct {
	// HPASyncPeriod is kube-controller-manager's --horizontal-pod-autoscaler-sync-period
	// (default 2 s, against Kubernetes' 15 s, so scenarios take seconds rather than minutes).
	HPASyncPeriod time.Duration
	// WithoutKEDA leaves KEDA out (its binaries are then not needed): for tests of Spark on
	// Kubernetes alone.
	WithoutKEDA bool
	// Kubelet, when set, runs the process kubelet for the KWOK node (see KubeletOptions): pod
	// IPs on loopback, Spark images as local processes.
	Kubelet *KubeletOptions
}

// binNames are the binaries build.sh produces.
var binNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "operator", "adapter"}

// OutDir is where the tier writes its summary and logs: $SPARKDRA_E2E_OUT or e2e/out.
func OutDir() string {
	if d := os.Getenv("SPARKDRA_E2E_OUT"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "out")
}

// StartStack starts the whole stack and registers its teardown with t.Cleanup: every process is
// stopped by its PID in the reverse order of its start, so etcd goes last. Each component gets a
// bounded readiness wait; a component that exits early or is not ready in time fails the test
// with the tail of its log.
func StartStack(t testing.TB, opts Options) *Stack {
	t.Helper()
	if opts.HPASyncPeriod == 0 {
		opts.HPASyncPeriod = 2 * time.Second
	}
	binDir := os.Getenv("SPARKDRA_K8S_TOOLS")
	if binDir == "" {
		t.Fatal("SPARKDRA_K8S_TOOLS is not set: run `make e2e-k8s`, which builds the tools (e2e/tools/build.sh) and sets it")
	}
	for _, b := range binNames {
		if opts.WithoutKEDA && (b == "operator" || b == "adapter") {
			continue
		}
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			t.Fatalf("tool %s missing in %s: %v (run `make k8s-tools`)", b, binDir, err)
		}
	}
	s := &Stack{
		t:        t,
		BinDir:   binDir,
		Dir:      t.TempDir(),
		LogDir:   filepath.Join(OutDir(), "k8s", t.Name()),
		NodeName: "kwok-node-0",
		Ready:    map[string]time.Duration{},
		started:  time.Now(),
		watched:  map[string]*proc{},
	}
	if err := os.RemoveAll(s.LogDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(11)
	if err != nil {
		t.Fatal(err)
	}
	var (
		etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort, kwokPort           = ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
		opMetricsPort, opProbePort, opGRPCPort, adapterPort, adapterMetricsPort = ports[6], ports[7], ports[8], ports[9], ports[10]
	)
	pki, err := makePKI(filepath.Join(s.Dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	s.CAFile = pki.caCert
	s.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	s.AdminKubeconfig = filepath.Join(s.Dir, "admin.kubeconfig")
	kcmKubeconfig := filepath.Join(s.Dir, "kcm.kubeconfig")
	schedKubeconfig := filepath.Join(s.Dir, "scheduler.kubeconfig")
	for _, k := range []struct{ path, cert, key string }{
		{s.AdminKubeconfig, pki.adminCert, pki.adminKey},
		{kcmKubeconfig, pki.kcmCert, pki.kcmKey},
		{schedKubeconfig, pki.schedulerCert, pki.schedulerKey},
	} {
		if err := writeKubeconfig(k.path, s.Server, s.CAFile, &clientcmdapi.AuthInfo{ClientCertificate: k.cert, ClientKey: k.key}); err != nil {
			t.Fatal(err)
		}
	}

	// etcd
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeerPort)
	etcd := s.start("etcd", nil,
		"--data-dir", filepath.Join(s.Dir, "etcd"), "--name", "default",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--listen-metrics-urls", "", "--log-level", "warn")
	s.WaitUntil("etcd /health", 30*time.Second, func() error {
		return httpOK(plainClient, etcdURL+"/health", `"health":"true"`)
	})
	s.markReady(etcd.name)

	// kube-apiserver
	api := s.start("kube-apiserver", nil,
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+pki.apiserverCert, "--tls-private-key-file="+pki.apiserverKey,
		"--client-ca-file="+pki.caCert,
		"--service-account-key-file="+pki.saPub, "--service-account-signing-key-file="+pki.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.0.0.0/24", "--authorization-mode=Node,RBAC",
		"--requestheader-client-ca-file="+pki.frontProxyCA, "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+pki.frontProxyCert, "--proxy-client-key-file="+pki.frontProxyKey,
		"--enable-aggregator-routing=false", "--profiling=false", "--enable-priority-and-fairness=false")
	cfg, err := clientcmd.BuildConfigFromFlags("", s.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	s.Config = cfg
	if s.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(s.Client.Discovery()))
	s.WaitUntil("kube-apiserver /readyz", 60*time.Second, func() error {
		b, err := s.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err != nil {
			return err
		}
		if string(b) != "ok" {
			return fmt.Errorf("readyz: %s", b)
		}
		return nil
	})
	s.markReady(api.name)

	// kube-controller-manager: the HPA, Deployment, ReplicaSet, ServiceAccount and garbage
	// collector controllers among its defaults.
	kcm := s.start("kube-controller-manager", nil,
		"--kubeconfig="+kcmKubeconfig, "--authentication-kubeconfig="+kcmKubeconfig, "--authorization-kubeconfig="+kcmKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort), "--leader-elect=false",
		"--use-service-account-credentials=true", "--service-account-private-key-file="+pki.saKey,
		"--root-ca-file="+pki.caCert, "--service-cluster-ip-range=10.0.0.0/24",
		"--horizontal-pod-autoscaler-sync-period="+opts.HPASyncPeriod.String())
	s.WaitUntil("kube-controller-manager /healthz", 60*time.Second, func() error {
		return httpOK(insecureClient, "https://127.0.0.1:"+strconv.Itoa(kcmPort)+"/healthz", "ok")
	})
	s.markReady(kcm.name)

	sched := s.start("kube-scheduler", nil,
		"--kubeconfig="+schedKubeconfig, "--authentication-kubeconfig="+schedKubeconfig, "--authorization-kubeconfig="+schedKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort), "--leader-elect=false")
	s.WaitUntil("kube-scheduler /healthz", 60*time.Second, func() error {
		return httpOK(insecureClient, "https://127.0.0.1:"+strconv.Itoa(schedPort)+"/healthz", "ok")
	})
	s.markReady(sched.name)

	// KWOK plays the kubelet of one fake node: pods scheduled there become Running with an IP
	// from 10.244.0.0/16, but no container runs. With the process kubelet the IPs are on
	// loopback and pods are deleted by it, once their processes are gone.
	stages, nodeIP := filepath.Join(binDir, "stages.yaml"), "10.244.0.1"
	s.PodCIDR = "10.244.0.0/16"
	if opts.Kubelet != nil {
		s.PodCIDR, nodeIP = loopbackPodCIDR(), "127.0.0.1"
		if stages, err = stagesWithoutPodDelete(binDir, s.Dir); err != nil {
			t.Fatal(err)
		}
	}
	kwok := s.start("kwok", nil,
		"--kubeconfig="+s.AdminKubeconfig, "--config="+stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip="+nodeIP, "--cidr="+s.PodCIDR, "--server-address=127.0.0.1:"+strconv.Itoa(kwokPort))
	ctx := context.Background()
	if _, err := s.Client.CoreV1().Nodes().Create(ctx, fakeNode(s.NodeName), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("KWOK node Ready", 60*time.Second, func() error {
		n, err := s.Client.CoreV1().Nodes().Get(ctx, s.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errNotYet
	})
	s.markReady(kwok.name)
	if opts.Kubelet != nil {
		s.startKubelet(opts.Kubelet)
	}

	if opts.WithoutKEDA {
		s.readySeconds = time.Since(s.started).Seconds()
		t.Logf("stack ready (without KEDA) in %s: %v", time.Since(s.started).Round(time.Millisecond), s.Ready)
		return s
	}
	// KEDA: CRDs, then operator and adapter out of cluster, then the APIService.
	crds, err := filepath.Glob(filepath.Join(binDir, "..", "crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("KEDA CRDs not found next to %s: %v", binDir, err)
	}
	s.InstallCRDs(ctx, crds)
	if _, err := s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "keda"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kedaEnv := []string{"WATCH_NAMESPACE=", "POD_NAMESPACE=keda", "KEDA_CLUSTER_OBJECT_NAMESPACE=keda", "KUBECONFIG=" + s.AdminKubeconfig}
	grpcAddr := "127.0.0.1:" + strconv.Itoa(opGRPCPort)
	op := s.start("keda-operator", kedaEnv, "--leader-elect=false",
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(opMetricsPort),
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(opProbePort),
		"--metrics-service-bind-address="+grpcAddr,
		"--cert-dir="+pki.kedaCertDir, "--enable-cert-rotation=false", "--ca-dir="+pki.kedaCADir,
		"--zap-log-level=info", "--zap-encoder=console")
	s.WaitUntil("keda-operator /readyz", 60*time.Second, func() error {
		return httpOK(plainClient, "http://127.0.0.1:"+strconv.Itoa(opProbePort)+"/readyz", "")
	})
	s.markReady(op.name)
	adapter := s.start("keda-adapter", kedaEnv,
		"--secure-port="+strconv.Itoa(adapterPort), "--bind-address=127.0.0.1",
		"--cert-dir="+pki.kedaCertDir, "--tls-cert-file="+pki.kedaCert, "--tls-private-key-file="+filepath.Join(pki.kedaCertDir, "tls.key"),
		"--client-ca-file="+pki.caCert,
		"--authentication-kubeconfig="+s.AdminKubeconfig, "--authorization-kubeconfig="+s.AdminKubeconfig,
		"--lister-kubeconfig="+s.AdminKubeconfig, "--kubeconfig="+s.AdminKubeconfig,
		"--metrics-service-address="+grpcAddr, "--port="+strconv.Itoa(adapterMetricsPort),
		"--zap-log-level=info", "--zap-encoder=console")
	aggregation := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: keda-metrics-apiserver, namespace: keda}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  service: {name: keda-metrics-apiserver, namespace: keda, port: %d}
  group: external.metrics.k8s.io
  version: v1beta1
  caBundle: %s
  groupPriorityMinimum: 100
  versionPriority: 100
`, adapterPort, base64.StdEncoding.EncodeToString(pki.caPEM))
	if _, err := s.Apply(ctx, []byte(aggregation), ""); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("APIService v1beta1.external.metrics.k8s.io Available", 60*time.Second, func() error {
		return s.condition(ctx, apiServiceGVR, "", "v1beta1.external.metrics.k8s.io", "Available")
	})
	s.markReady(adapter.name)
	s.readySeconds = time.Since(s.started).Seconds()
	t.Logf("stack ready in %s: %v", time.Since(s.started).Round(time.Millisecond), s.Ready)
	return s
}

// InstallCRDs server-side applies the CustomResourceDefinitions in files (server-side, so a
// CRD larger than the last-applied annotation allows, such as the spark-operator's
// SparkApplication, applies too) and waits for each to be Established.
func (s *Stack) InstallCRDs(ctx context.Context, files []string) {
	s.t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			s.t.Fatal(err)
		}
		objs, err := s.Apply(ctx, b, "")
		if err != nil {
			s.t.Fatalf("apply %s: %v", f, err)
		}
		for _, o := range objs {
			name := o.GetName()
			s.WaitUntil("CRD "+name+" Established", 60*time.Second, func() error {
				return s.condition(ctx, crdGVR, "", name, "Established")
			})
		}
	}
	s.mapper.Reset()
}

var (
	crdGVR        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	plainClient   = &http.Client{Timeout: 2 * time.Second}
	// insecureClient reads the health endpoints of kube-controller-manager and kube-scheduler,
	// which serve self-signed certificates they generate at start.
	insecureClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
)

// start runs a binary of BinDir (or an absolute path) as a watched process, stopped at cleanup.
func (s *Stack) start(name string, env []string, args ...string) *proc {
	s.t.Helper()
	bin := map[string]string{"keda-operator": "operator", "keda-adapter": "adapter"}[name]
	if bin == "" {
		bin = name
	}
	return s.StartProcess(name, filepath.Join(s.BinDir, bin), env, args...)
}

// StartProcess starts bin as a process of the stack: it logs to LogDir/name.log, its early exit
// fails the stack's waits, and it is stopped by its PID at cleanup (processes started later are
// stopped first). Stop it earlier with StopProcess.
func (s *Stack) StartProcess(name, bin string, env []string, args ...string) *proc {
	s.t.Helper()
	p, err := startProc(s.LogDir, name, bin, args, env)
	if err != nil {
		s.t.Fatal(err)
	}
	s.watched[name] = p
	s.t.Cleanup(func() {
		delete(s.watched, name)
		if err := p.stop(15 * time.Second); err != nil {
			s.t.Log(err)
		}
	})
	return p
}

// StopProcess stops a process by its PID (SIGTERM, then SIGKILL after the grace period) and
// stops watching it.
func (s *Stack) StopProcess(p *proc, grace time.Duration) error {
	delete(s.watched, p.name)
	return p.stop(grace)
}

func (s *Stack) markReady(name string) { s.Ready[name] = time.Since(s.started).Round(time.Millisecond) }

// WaitUntil polls cond every 100 ms until it returns nil, failing the test after timeout or as
// soon as a watched process has exited.
func (s *Stack) WaitUntil(what string, timeout time.Duration, cond func() error) {
	s.t.Helper()
	if err := s.Poll(what, timeout, cond); err != nil {
		s.t.Fatal(err)
	}
}

// Poll is WaitUntil returning the failure instead of failing the test.
func (s *Stack) Poll(what string, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range s.watched {
			if done, err := p.exited(); done {
				return fmt.Errorf("%s exited (%v) while waiting for %s; its log ends:\n%s", p.name, err, what, p.tail(3000))
			}
		}
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s: %v", timeout, what, err)
		}
		<-tick.C
	}
}

// Apply server-side applies every object of a multi-document YAML (or JSON) stream, putting
// namespaced objects without a namespace into namespace, and returns the applied objects. The
// whole stream is decoded first (decodeObjects), so a malformed document applies nothing; an
// object the API server refuses stops the apply, returning those applied before it.
func (s *Stack) Apply(ctx context.Context, manifest []byte, namespace string) ([]*unstructured.Unstructured, error) {
	objs, err := decodeObjects(manifest)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		applied, err := s.applyOne(ctx, obj, namespace)
		if err != nil {
			return out, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		out = append(out, applied)
	}
	return out, nil
}

func (s *Stack) applyOne(ctx context.Context, obj *unstructured.Unstructured, namespace string) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		s.mapper.Reset()
		mapping, err = s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	var ri dynamic.ResourceInterface = s.Dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		ri = s.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	return ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "sparkdra-e2e", Force: true})
}

// condition returns nil when the object's status condition of type typ is True.
func (s *Stack) condition(ctx context.Context, gvr schema.GroupVersionResource, ns, name, typ string) error {
	o, err := s.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			if m["status"] == "True" {
				return nil
			}
			return fmt.Errorf("%s %s: %v", typ, m["status"], m["message"])
		}
	}
	return fmt.Errorf("no %s condition yet", typ)
}

// conditionStatus returns the status of the object's condition typ ("" when absent).
func (s *Stack) conditionStatus(ctx context.Context, gvr schema.GroupVersionResource, ns, name, typ string) string {
	o, err := s.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			st, _ := m["status"].(string)
			return st
		}
	}
	return ""
}

// hpaCondition returns nil when the HorizontalPodAutoscaler's condition typ has status want.
func (s *Stack) hpaCondition(ctx context.Context, ns, name, typ, want string) error {
	h, err := s.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range h.Status.Conditions {
		if string(c.Type) == typ {
			if string(c.Status) == want {
				return nil
			}
			return fmt.Errorf("%s %s (%s: %s)", typ, c.Status, c.Reason, c.Message)
		}
	}
	return fmt.Errorf("no %s condition yet", typ)
}

// CreateNamespace creates a namespace and waits for its default ServiceAccount (pods cannot be
// created before the ServiceAccount controller has made it).
func (s *Stack) CreateNamespace(ctx context.Context, name string) {
	s.t.Helper()
	_, err := s.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		s.t.Fatal(err)
	}
	s.WaitUntil("ServiceAccount "+name+"/default", 30*time.Second, func() error {
		_, err := s.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// ServiceAccountKubeconfig mints a token for ServiceAccount namespace/name through the
// TokenRequest API and writes a kubeconfig that authenticates with it, so a process runs with
// exactly the rights RBAC grants that ServiceAccount.
func (s *Stack) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) string {
	s.t.Helper()
	ttl := int64(4 * 3600)
	tr, err := s.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		s.t.Fatalf("TokenRequest for %s/%s: %v", namespace, name, err)
	}
	path := filepath.Join(s.Dir, "sa-"+namespace+"-"+name+".kubeconfig")
	if err := writeKubeconfig(path, s.Server, s.CAFile, &clientcmdapi.AuthInfo{Token: tr.Status.Token}); err != nil {
		s.t.Fatal(err)
	}
	return path
}

func writeKubeconfig(path, server, caFile string, user *clientcmdapi.AuthInfo) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["e2e"] = user
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e"}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

// fakeNode is a Node that KWOK manages (annotation kwok.x-k8s.io/node=fake).
func fakeNode(name string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": "amd64", "type": "kwok"},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res},
	}
}

// httpOK returns nil when GET url answers 200 and its body contains want.
func httpOK(c *http.Client, url, want string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	if !strings.Contains(string(b), want) {
		return fmt.Errorf("%s: %q lacks %q", url, b, want)
	}
	return nil
}
