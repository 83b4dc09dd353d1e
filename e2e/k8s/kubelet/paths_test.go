package kubelet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMapperString(t *testing.T) {
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "conf", MountPath: "/opt/spark/conf"},
		{Name: "local", MountPath: "/var/data/spark-1"},
		{Name: "tmp", MountPath: "/tmp"},
	}}
	m := NewMapper("/R", c)
	for in, want := range map[string]string{
		"/opt/spark/bin/spark-class":                "/R/opt/spark/bin/spark-class",
		"/opt/spark":                                "/R/opt/spark",
		"--properties-file":                         "--properties-file",
		"/opt/spark/conf/spark.properties":          "/R/opt/spark/conf/spark.properties",
		"-Dspark.local.dir=/var/data/spark-1":       "-Dspark.local.dir=/R/var/data/spark-1",
		"/var/data/spark-1,/var/data/spark-2":       "/R/var/data/spark-1,/var/data/spark-2",
		"local:///opt/spark/examples/src/pi.py":     "local:///R/opt/spark/examples/src/pi.py",
		"/opt/sparkling/x":                          "/opt/sparkling/x",
		"/tmpfile":                                  "/tmpfile",
		"/tmp/x:/opt/spark/jars/*":                  "/R/tmp/x:/R/opt/spark/jars/*",
		"spark://spark-master.spark.svc:7077":       "spark://spark-master.spark.svc:7077",
		"relative/opt/spark":                        "relative/opt/spark",
		"/usr/bin/python3":                          "/usr/bin/python3",
		"'/opt/spark/x' \"/tmp\"":                   "'/R/opt/spark/x' \"/R/tmp\"",
		"http://spark-master.spark.svc:8080/opt/sp": "http://spark-master.spark.svc:8080/opt/sp",
	} {
		if got := m.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	if got := m.Path("/var/data/spark-1/blockmgr"); got != "/R/var/data/spark-1/blockmgr" {
		t.Errorf("Path = %q", got)
	}
}

// fakeSparkHome makes a directory shaped like PySpark's SPARK_HOME.
func fakeSparkHome(t *testing.T) string {
	t.Helper()
	h := filepath.Join(t.TempDir(), "pyspark")
	for _, f := range []string{"bin/spark-class", "jars/spark-core.jar", "jars/fabric8.jar", "conf/default.conf", "python/x.py", "work/old-app/stdout"} {
		p := filepath.Join(h, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestBuildRoot(t *testing.T) {
	home := fakeSparkHome(t)
	dir := t.TempDir()
	root, vols := filepath.Join(dir, "root"), filepath.Join(dir, "volumes")
	for _, v := range []string{"conf", "local", "extra"} {
		if err := os.MkdirAll(filepath.Join(vols, v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(vols, "conf", "spark.properties"), []byte("spark.app.name=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []corev1.VolumeMount{
		{Name: "conf", MountPath: "/opt/spark/conf"},
		{Name: "local", MountPath: "/var/data/spark-1"},
		{Name: "extra", MountPath: "/opt/spark/jars/extra"},
	}
	if err := BuildRoot(root, home, mounts, func(n string) string { return filepath.Join(vols, n) }); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		return string(b)
	}
	if got := read("opt/spark/bin/spark-class"); got != "bin/spark-class" {
		t.Errorf("bin not linked: %q", got)
	}
	if got := read("opt/spark/conf/spark.properties"); got != "spark.app.name=x\n" {
		t.Errorf("conf mount: %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/spark/conf/default.conf")); !os.IsNotExist(err) {
		t.Errorf("the conf mount must hide the image's conf: %v", err)
	}
	// jars holds a mount, so it is a real directory of links; the jars are still there.
	if fi, err := os.Lstat(filepath.Join(root, "opt/spark/jars")); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		t.Errorf("jars should be a real directory: %v %v", fi, err)
	}
	if got := read("opt/spark/jars/fabric8.jar"); got != "jars/fabric8.jar" {
		t.Errorf("jar: %q", got)
	}
	// Writes into the pod's dirs land in the pod, never in the shared SPARK_HOME.
	for _, p := range []string{"opt/spark/jars/extra/x.jar", "var/data/spark-1/blockmgr", "opt/spark/work/app-1", "opt/spark/work-dir/out", "opt/spark/logs/l"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte("w"), 0o644); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(vols, "extra", "x.jar")); err != nil {
		t.Errorf("nested mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "work", "app-1")); !os.IsNotExist(err) {
		t.Errorf("the pod wrote into SPARK_HOME/work: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/spark/work/old-app")); !os.IsNotExist(err) {
		t.Errorf("the pod's work dir must start empty: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "jars", "extra")); !os.IsNotExist(err) {
		t.Errorf("the mount leaked into SPARK_HOME/jars: %v", err)
	}
}

func TestVolumesWrite(t *testing.T) {
	yes := true
	mode := int32(0o600)
	pod := testPod()
	pod.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{}}}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "spark-exec-1-conf-map"}}}},
		{Name: "items", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "spark-exec-1-conf-map"},
			Items:                []corev1.KeyToPath{{Key: "spark.properties", Path: "sub/p.conf", Mode: &mode}}}}},
		{Name: "opt", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}}},
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
		{Name: "local", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
		{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}},
	}
	objs := mapObjects{
		cms:     map[string]*corev1.ConfigMap{"spark/kube-root-ca.crt": {Data: map[string]string{"ca.crt": "CA"}}},
		secrets: map[string]*corev1.Secret{"spark/creds": {Data: map[string][]byte{"password": []byte("pw")}}},
	}
	var tokenFor string
	v := &Volumes{Objects: objs, Token: func(_ context.Context, p *corev1.Pod, aud string, _ int64) (string, error) {
		tokenFor = p.Namespace + "/" + p.Spec.ServiceAccountName
		return "TOKEN", nil
	}}
	dir := t.TempDir()
	// Spark creates the executor's ConfigMap after the pod: until then the write waits.
	if err := v.Write(context.Background(), pod, dir); !errors.Is(err, ErrWaiting) || !strings.Contains(err.Error(), "spark-exec-1-conf-map") {
		t.Fatalf("missing ConfigMap: err = %v, want ErrWaiting naming it", err)
	}
	objs.cms["spark/spark-exec-1-conf-map"] = &corev1.ConfigMap{Data: map[string]string{"spark.properties": "a=b\n", "log4j2.properties": "l"}}
	if err := v.Write(context.Background(), pod, dir); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files[rel] = string(b)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"conf/spark.properties":     "a=b\n",
		"conf/log4j2.properties":    "l",
		"items/sub/p.conf":          "a=b\n",
		"secret/password":           "pw",
		"podinfo/name":              "exec-1",
		"kube-api-access/token":     "TOKEN",
		"kube-api-access/ca.crt":    "CA",
		"kube-api-access/namespace": "spark",
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("files:\n got %v\nwant %v", files, want)
	}
	if tokenFor != "spark/spark-driver" {
		t.Errorf("token minted for %q", tokenFor)
	}
	if fi, err := os.Stat(filepath.Join(dir, "items/sub/p.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("item mode: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "local")); err != nil || !fi.IsDir() {
		t.Errorf("emptyDir: %v", err)
	}

	pod.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}}}
	if err := v.Write(context.Background(), pod, dir); err == nil || errors.Is(err, ErrWaiting) || !strings.Contains(err.Error(), "unsupported volume type") {
		t.Errorf("hostPath: err = %v, want unsupported", err)
	}
	pod.Spec.Volumes = []corev1.Volume{{Name: "evil", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "../../x"}}}}}}
	if err := v.Write(context.Background(), pod, dir); err == nil || !strings.Contains(err.Error(), "leaves the volume") {
		t.Errorf("item path escaping the volume: err = %v", err)
	}
}
