package kubelet

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// mapObjects is an Objects over maps keyed by namespace/name.
type mapObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (m mapObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := m.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (m mapObjects) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := m.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"POD_IP": "127.1.0.7", "EMPTY": "", "A": "x"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"--host $(POD_IP)":    "--host 127.1.0.7",
		"$(POD_IP):7077":      "127.1.0.7:7077",
		"$(UNKNOWN)":          "$(UNKNOWN)",
		"$$(POD_IP)":          "$(POD_IP)",
		"$$$(A)":              "$x",
		"a$$b":                "a$b",
		"$(EMPTY)-":           "-",
		"cost $5":             "cost $5",
		"trailing $":          "trailing $",
		"unclosed $(POD_IP":   "unclosed $(POD_IP",
		"$()":                 "$()",
		"$(A)$(A)":            "xx",
		"no dollars":          "no dollars",
		"$(A) and $$(A) $(B)": "x and $(A) $(B)",
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "exec-1", Namespace: "spark", UID: "uid-1",
			Labels: map[string]string{"spark-role": "executor", "app": "a"}, Annotations: map[string]string{"note": "n"}},
		Spec:   corev1.PodSpec{NodeName: "kwok-node-0", ServiceAccountName: "spark-driver"},
		Status: corev1.PodStatus{PodIP: "127.1.0.9", HostIP: "127.0.0.1", Phase: corev1.PodRunning},
	}
}

func TestResolveEnv(t *testing.T) {
	pod := testPod()
	yes := true
	c := &corev1.Container{
		Name: "c",
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}, Prefix: "S_"},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}},
		},
		Env: []corev1.EnvVar{
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "ROLE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['spark-role']"}}},
			{Name: "URL", Value: "spark://$(POD_IP):7077/$(LATER)/$$(POD_IP)"},
			{Name: "LATER", Value: "l"},
			{Name: "S_b", Value: "overridden $(S_a)"},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "REQ_CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "nope", Optional: &yes}}},
		},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1536Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")},
		},
	}
	objs := mapObjects{
		cms:     map[string]*corev1.ConfigMap{"spark/settings": {Data: map[string]string{"b": "2", "a": "1"}}},
		secrets: map[string]*corev1.Secret{"spark/creds": {Data: map[string][]byte{"password": []byte("hunter2")}}},
	}
	node := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32")}
	got, err := ResolveEnv(pod, c, objs, node)
	if err != nil {
		t.Fatal(err)
	}
	want := []EnvVar{
		{"S_a", "1"}, {"S_b", "overridden 1"},
		{"POD_IP", "127.1.0.9"}, {"POD_NAME", "exec-1"}, {"ROLE", "executor"},
		// LATER is defined after URL: it stays as written, as in Kubernetes.
		{"URL", "spark://127.1.0.9:7077/$(LATER)/$(POD_IP)"},
		{"LATER", "l"},
		{"MEM", "1536"}, {"CPU", "32"}, {"REQ_CPU", "1500"}, {"PASS", "hunter2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ResolveEnv:\n got %v\nwant %v", got, want)
	}
}

func TestResolveEnvWaitsForMissingConfigMap(t *testing.T) {
	c := &corev1.Container{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
		ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "later"}, Key: "k"}}}}}
	_, err := ResolveEnv(testPod(), c, mapObjects{}, nil)
	if !errors.Is(err, ErrWaiting) {
		t.Fatalf("err = %v, want ErrWaiting", err)
	}
	c.Env[0].ValueFrom.ConfigMapKeyRef = nil
	c.Env[0].ValueFrom.FieldRef = &corev1.ObjectFieldSelector{FieldPath: "spec.containers[0].name"}
	if _, err := ResolveEnv(testPod(), c, mapObjects{}, nil); err == nil || errors.Is(err, ErrWaiting) {
		t.Fatalf("unsupported fieldRef: err = %v, want a plain error", err)
	}
}

func TestFieldRef(t *testing.T) {
	pod := testPod()
	for path, want := range map[string]string{
		"metadata.namespace":           "spark",
		"metadata.uid":                 "uid-1",
		"metadata.annotations['note']": "n",
		`metadata.labels["app"]`:       "a",
		"metadata.labels":              "app=\"a\"\nspark-role=\"executor\"",
		"spec.nodeName":                "kwok-node-0",
		"spec.serviceAccountName":      "spark-driver",
		"status.hostIP":                "127.0.0.1",
		"status.podIPs":                "127.1.0.9",
	} {
		got, err := FieldRef(pod, path)
		if err != nil || got != want {
			t.Errorf("FieldRef(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
}
