package kubelet

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func resolved(t *testing.T, pod *corev1.Pod, c *corev1.Container) []EnvVar {
	t.Helper()
	env, err := ResolveEnv(pod, c, mapObjects{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// The standalone example's worker: a command replaces the entrypoint; $(POD_IP) is expanded and
// the mounted work dir and /opt/spark are mapped.
func TestEntrypointPassThroughCommand(t *testing.T) {
	pod := testPod()
	c := &corev1.Container{
		Command: []string{"/opt/spark/bin/spark-class", "org.apache.spark.deploy.worker.Worker"},
		Args:    []string{"--host", "$(POD_IP)", "--work-dir", "/opt/spark/work", "spark://spark-master.spark.svc:7077"},
		Env: []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "SPARK_WORKER_OPTS", Value: "-Dspark.ui.reverseProxy=true"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/opt/spark/work"}},
	}
	env := resolved(t, pod, c)
	m := NewMapper("/R", c)
	argv, err := Entrypoint(c, env, MapEnv(env, m), m, "/jdk", "/R/opt/spark", "/R/opt/spark/work-dir")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/R/opt/spark/bin/spark-class", "org.apache.spark.deploy.worker.Worker",
		"--host", "127.1.0.9", "--work-dir", "/R/opt/spark/work", "spark://spark-master.spark.svc:7077"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv:\n got %q\nwant %q", argv, want)
	}
}

// A Spark driver pod as spark-submit creates it (cluster mode): no command, args "driver ...".
func TestEntrypointDriver(t *testing.T) {
	pod := testPod()
	c := &corev1.Container{
		Args: []string{"driver", "--properties-file", "/opt/spark/conf/spark.properties",
			"--class", "org.apache.spark.deploy.PythonRunner", "local:///work/app.py", "10"},
		Env: []corev1.EnvVar{{Name: "SPARK_DRIVER_BIND_ADDRESS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "SPARK_CONF_DIR", Value: "/opt/spark/conf"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "spark-conf-volume-driver", MountPath: "/opt/spark/conf"}},
	}
	env := resolved(t, pod, c)
	m := NewMapper("/R", c)
	argv, err := Entrypoint(c, env, MapEnv(env, m), m, "/jdk", "/R/opt/spark", "/R/opt/spark/work-dir")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/R/opt/spark/bin/spark-submit",
		"--conf", "spark.driver.bindAddress=127.1.0.9", "--conf", "spark.executorEnv.SPARK_DRIVER_POD_IP=127.1.0.9",
		"--deploy-mode", "client",
		"--properties-file", "/R/opt/spark/conf/spark.properties",
		"--class", "org.apache.spark.deploy.PythonRunner", "local:///work/app.py", "10"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv:\n got %q\nwant %q", argv, want)
	}
}

// A driver pod the spark-operator creates: Spark wrote the executor pod template's container
// path (mounted at /opt/spark/pod-template) into spark.properties, escaped as
// java.util.Properties.store escapes; the driver gets it mapped through a --conf, and the other
// properties (URLs, paths no mount covers) are left to the file.
func TestEntrypointDriverPropertiesPaths(t *testing.T) {
	pod := testPod()
	c := &corev1.Container{
		Args: []string{"driver", "--properties-file", "/opt/spark/conf/spark.properties",
			"--class", "org.apache.spark.deploy.PythonRunner", "local:///opt/spark/examples/src/main/python/pagerank.py"},
		Env: []corev1.EnvVar{{Name: "SPARK_DRIVER_BIND_ADDRESS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "spark-conf-volume-driver", MountPath: "/opt/spark/conf"},
			{Name: "pod-template-volume", MountPath: "/opt/spark/pod-template"}},
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "opt", "spark", "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	props := "#Java properties built from Kubernetes config map\n" +
		"spark.kubernetes.executor.podTemplateFile=/opt/spark/pod-template/pod-spec-template.yml\n" +
		"spark.kubernetes.driver.podTemplateFile=/tmp/spark/1/driver-pod-template.yaml\n" +
		"spark.kubernetes.driver.master=https\\://127.0.0.1\\:6443\n" +
		"spark.local.dir=/opt/spark/conf\\:x\n"
	if err := os.WriteFile(filepath.Join(root, "opt", "spark", "conf", "spark.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	env := resolved(t, pod, c)
	m := NewMapper(root, c)
	argv, err := Entrypoint(c, env, MapEnv(env, m), m, "/jdk", root+"/opt/spark", root+"/opt/spark/work-dir")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{root + "/opt/spark/bin/spark-submit",
		"--conf", "spark.driver.bindAddress=127.1.0.9", "--conf", "spark.executorEnv.SPARK_DRIVER_POD_IP=127.1.0.9",
		"--conf", "spark.kubernetes.executor.podTemplateFile=" + root + "/opt/spark/pod-template/pod-spec-template.yml",
		"--conf", "spark.local.dir=" + root + "/opt/spark/conf:x",
		"--deploy-mode", "client",
		"--properties-file", root + "/opt/spark/conf/spark.properties",
		"--class", "org.apache.spark.deploy.PythonRunner", "local://" + root + "/opt/spark/examples/src/main/python/pagerank.py"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv:\n got %q\nwant %q", argv, want)
	}
}

// A Spark executor pod as the driver creates it: the entrypoint's java command, options in the
// order bash lists SPARK_JAVA_OPT_* (by name), the classpath with the mapped SPARK_CONF_DIR.
func TestEntrypointExecutor(t *testing.T) {
	pod := testPod()
	c := &corev1.Container{
		Args: []string{"executor"},
		Env: []corev1.EnvVar{
			{Name: "SPARK_DRIVER_URL", Value: "spark://CoarseGrainedScheduler@app-driver-svc.spark.svc:7078"},
			{Name: "SPARK_EXECUTOR_CORES", Value: "1"},
			{Name: "SPARK_EXECUTOR_MEMORY", Value: "512m"},
			{Name: "SPARK_APPLICATION_ID", Value: "spark-abc"},
			{Name: "SPARK_CONF_DIR", Value: "/opt/spark/conf"},
			{Name: "SPARK_EXECUTOR_ID", Value: "3"},
			{Name: "SPARK_RESOURCE_PROFILE_ID", Value: "0"},
			{Name: "SPARK_JAVA_OPT_0", Value: "-Dspark.driver.port=7078"},
			{Name: "SPARK_JAVA_OPT_1", Value: "-XX:+UseSerialGC"},
			{Name: "SPARK_JAVA_OPT_10", Value: "-Dten"},
			{Name: "SPARK_JAVA_OPT_2", Value: "-Dtwo"},
			{Name: "SPARK_LOCAL_DIRS", Value: "/var/data/spark-1"},
			{Name: "SPARK_EXECUTOR_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "SPARK_EXECUTOR_POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "spark-local-dir-1", MountPath: "/var/data/spark-1"}, {Name: "spark-conf-volume-exec", MountPath: "/opt/spark/conf"}},
	}
	env := resolved(t, pod, c)
	m := NewMapper("/R", c)
	mapped := MapEnv(env, m)
	argv, err := Entrypoint(c, env, mapped, m, "/jdk", "/R/opt/spark", "/R/opt/spark/work-dir")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/jdk/bin/java", "-Dspark.driver.port=7078", "-XX:+UseSerialGC", "-Dten", "-Dtwo",
		"-Xms512m", "-Xmx512m",
		"-cp", "/R/opt/spark/conf::/R/opt/spark/jars/*:/R/opt/spark/work-dir:",
		"org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
		"--driver-url", "spark://CoarseGrainedScheduler@app-driver-svc.spark.svc:7078",
		"--executor-id", "3", "--cores", "1", "--app-id", "spark-abc", "--hostname", "127.1.0.9",
		"--resourceProfileId", "0", "--podName", "exec-1"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv:\n got %q\nwant %q", argv, want)
	}
	for _, e := range mapped {
		if e.Name == "SPARK_LOCAL_DIRS" && e.Value != "/R/var/data/spark-1" {
			t.Errorf("SPARK_LOCAL_DIRS = %q", e.Value)
		}
	}
	if _, err := Entrypoint(&corev1.Container{}, nil, nil, m, "/jdk", "/R/opt/spark", "/w"); err == nil {
		t.Error("the entrypoint without arguments must be an error")
	}
}

func TestProcessEnv(t *testing.T) {
	pod := testPod()
	env := ProcessEnv(ProcessEnvInput{
		Pod: pod, Mapped: []EnvVar{{"SPARK_CONF_DIR", "/R/opt/spark/conf"}, {"JAVA_TOOL_OPTIONS", "-Dmine=1"}, {"SPARK_LOCAL_IP", "override"}},
		Runtime: Runtime{PathDirs: []string{"/venv/bin"}}, SparkHome: "/R/opt/spark", JavaHome: "/jdk",
		Kubeconfig: "/P/kubeconfig", Hosts: "/P/hosts", Server: "https://127.0.0.1:6443", JavaToolOptions: "-XX:+UseSerialGC",
		Extra: []string{"X=1"},
	})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v // the last wins, as os/exec does
	}
	for k, want := range map[string]string{
		"SPARK_HOME": "/R/opt/spark", "HOSTNAME": "exec-1", "KUBECONFIG": "/P/kubeconfig",
		"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443",
		"SPARK_CONF_DIR": "/R/opt/spark/conf", "SPARK_LOCAL_IP": "override", "X": "1",
		"JAVA_TOOL_OPTIONS": "-Dmine=1 -Djdk.net.hosts.file=/P/hosts -XX:+UseSerialGC",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if !strings.HasPrefix(got["PATH"], "/venv/bin:/jdk/bin:") {
		t.Errorf("PATH = %q", got["PATH"])
	}
	if env[5] != "SPARK_LOCAL_IP=127.1.0.9" {
		t.Errorf("SPARK_LOCAL_IP defaults to the pod IP: %q", env[5])
	}
}

func TestHostsFile(t *testing.T) {
	pod := testPod()
	svc := func(ns, name string, typ corev1.ServiceType, ext string, sel map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Type: typ, ExternalName: ext, Selector: sel}}
	}
	ready := func(ns, name, ip string, lbl map[string]string, isReady bool) *corev1.Pod {
		st := corev1.ConditionTrue
		if !isReady {
			st = corev1.ConditionFalse
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbl},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	}
	master := map[string]string{"app": "master"}
	exec0 := ready("spark", "spark-s-app-0-0", "127.1.0.5", map[string]string{"spark-app-selector": "app", "spark-role": "executor"}, true)
	exec0.Spec.Hostname, exec0.Spec.Subdomain = "spark-s-app-0-0", "spark-s-app-0-svc"
	gone := ready("spark", "old-master", "127.1.0.8", master, true)
	now := metav1.Now()
	gone.DeletionTimestamp = &now
	got := string(HostsFile(pod, "buildbox",
		[]*corev1.Service{
			svc("spark", "spark-master", "", "", master),
			svc("sparkdra", "spark-dra-exporter", "", "", map[string]string{"app": "exporter"}),
			svc("spark", "spark-s-app-0-svc", "", "", map[string]string{"spark-app-selector": "app", "spark-role": "executor"}),
			svc("spark", "pending", "", "", map[string]string{"app": "pending"}),
			svc("spark", "no-selector", "", "", nil),
			svc("keda", "keda-metrics-apiserver", corev1.ServiceTypeExternalName, "localhost", nil),
			svc("x", "far", corev1.ServiceTypeExternalName, "example.com", nil),
		},
		[]*corev1.Pod{
			ready("spark", "m", "127.1.0.2", master, true),
			gone,
			ready("other", "m2", "127.1.0.4", master, true), // another namespace: not selected
			ready("sparkdra", "e", "127.1.0.3", map[string]string{"app": "exporter"}, true),
			exec0,
			ready("spark", "p", "127.1.0.6", map[string]string{"app": "pending"}, false),
		}))
	for _, line := range []string{
		"127.0.0.1\tlocalhost localhost.localdomain\n",
		"127.1.0.9\texec-1 buildbox\n",
		"127.1.0.2\tspark-master.spark.svc.cluster.local spark-master.spark.svc spark-master.spark spark-master\n",
		"127.1.0.3\tspark-dra-exporter.sparkdra.svc.cluster.local spark-dra-exporter.sparkdra.svc spark-dra-exporter.sparkdra\n",
		"127.1.0.5\tspark-s-app-0-0.spark-s-app-0-svc.spark.svc.cluster.local spark-s-app-0-0.spark-s-app-0-svc.spark.svc\n",
		"127.0.0.1\tkeda-metrics-apiserver.keda.svc.cluster.local keda-metrics-apiserver.keda.svc keda-metrics-apiserver.keda\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("hosts file lacks %q:\n%s", line, got)
		}
	}
	for _, absent := range []string{"127.1.0.6", "127.1.0.8", "127.1.0.4", "pending", "far", "example.com", "no-selector"} {
		if strings.Contains(got, absent) {
			t.Errorf("hosts file must not name %q (not ready, deleted, elsewhere, no address):\n%s", absent, got)
		}
	}
	pod.Spec.Hostname, pod.Spec.Subdomain = "h", "sub"
	got = string(HostsFile(pod, "", nil, nil))
	if !strings.Contains(got, "127.1.0.9\th h.sub.spark.svc.cluster.local h.sub.spark.svc exec-1\n") {
		t.Errorf("hostname and subdomain:\n%s", got)
	}
}

func TestSparkImages(t *testing.T) {
	rt := SparkImages(map[string]Runtime{"": {Version: "4.1.4"}, "3.5": {Version: "3.5.9"}})
	for image, want := range map[string]string{
		"apache/spark:4.0.1":               "4.1.4",
		"apache/spark:3.5.3":               "3.5.9",
		"docker.io/library/spark:3.5.1-py": "3.5.9",
		"spark-py":                         "4.1.4",
		"registry:5000/team/spark:latest":  "4.1.4",
		"sparkdra:latest":                  "",
		"apache/spark-operator:2.0":        "",
		"busybox":                          "",
	} {
		r, ok := rt(image)
		if ok != (want != "") || r.Version != want {
			t.Errorf("%s: %v %q, want %q", image, ok, r.Version, want)
		}
	}
}

func TestShouldRestart(t *testing.T) {
	for _, c := range []struct {
		p    corev1.RestartPolicy
		code int
		want bool
	}{{corev1.RestartPolicyAlways, 0, true}, {corev1.RestartPolicyAlways, 1, true}, {"", 0, true},
		{corev1.RestartPolicyOnFailure, 0, false}, {corev1.RestartPolicyOnFailure, 58, true},
		{corev1.RestartPolicyNever, 1, false}} {
		if got := ShouldRestart(c.p, c.code); got != c.want {
			t.Errorf("ShouldRestart(%s, %d) = %v", c.p, c.code, got)
		}
	}
}
