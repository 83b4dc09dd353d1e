package kubelet

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Objects reads the ConfigMaps and Secrets a pod refers to (from the API server, or a map in
// tests). A missing object is reported with an error for which apierrors.IsNotFound is true.
type Objects interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// ErrWaiting marks a failure that can clear by itself: a ConfigMap or Secret the pod needs does
// not exist yet. Spark creates the driver's and executors' ConfigMaps after the pods that mount
// them, so the kubelet retries such a pod instead of failing it.
var ErrWaiting = errors.New("waiting for an object the pod refers to")

// EnvVar is one resolved environment variable of a container.
type EnvVar struct {
	Name, Value string
}

// ResolveEnv returns a container's environment as the kubelet builds it: first envFrom (each
// ConfigMap or Secret's keys, with its prefix, in key order), then env in order, later names
// replacing earlier ones. Each env value may be a literal, in which `$(NAME)` is replaced by an
// earlier variable's value, `$$` stands for `$`, and an unknown `$(NAME)` stays as written; or
// a fieldRef (see FieldRef), a resourceFieldRef (against the container's limits, falling back to
// node's allocatable as the kubelet does), a configMapKeyRef or a secretKeyRef. Service links
// (FOO_SERVICE_HOST) are not added. A missing non-optional ConfigMap or Secret yields an error
// wrapping ErrWaiting.
func ResolveEnv(pod *corev1.Pod, c *corev1.Container, objs Objects, node corev1.ResourceList) ([]EnvVar, error) {
	var out []EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, EnvVar{name, value})
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		return "", false
	}
	for _, ef := range c.EnvFrom {
		var data map[string]string
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := objs.ConfigMap(pod.Namespace, ef.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, missing("ConfigMap", pod.Namespace, ef.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case ef.SecretRef != nil:
			s, err := objs.Secret(pod.Namespace, ef.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ef.SecretRef.Optional) {
					continue
				}
				return nil, missing("Secret", pod.Namespace, ef.SecretRef.Name, err)
			}
			data = secretStrings(s)
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(ef.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, Expand(e.Value, lookup))
			continue
		}
		v, skip, err := envSource(pod, c, e.ValueFrom, objs, node)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return out, nil
}

func envSource(pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource, objs Objects, node corev1.ResourceList) (value string, skip bool, err error) {
	switch {
	case src.FieldRef != nil:
		v, err := FieldRef(pod, src.FieldRef.FieldPath)
		return v, false, err
	case src.ResourceFieldRef != nil:
		v, err := ResourceFieldRef(c, src.ResourceFieldRef, node)
		return v, false, err
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		cm, err := objs.ConfigMap(pod.Namespace, r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(r.Optional) {
				return "", true, nil
			}
			return "", false, missing("ConfigMap", pod.Namespace, r.Name, err)
		}
		v, ok := cm.Data[r.Key]
		if !ok {
			if optional(r.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("ConfigMap %s/%s has no key %q: %w", pod.Namespace, r.Name, r.Key, ErrWaiting)
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		s, err := objs.Secret(pod.Namespace, r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(r.Optional) {
				return "", true, nil
			}
			return "", false, missing("Secret", pod.Namespace, r.Name, err)
		}
		v, ok := secretStrings(s)[r.Key]
		if !ok {
			if optional(r.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("Secret %s/%s has no key %q: %w", pod.Namespace, r.Name, r.Key, ErrWaiting)
		}
		return v, false, nil
	}
	return "", false, errors.New("valueFrom names no source")
}

func optional(b *bool) bool { return b != nil && *b }

func missing(kind, ns, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s/%s not found: %w", kind, ns, name, ErrWaiting)
	}
	return fmt.Errorf("%s %s/%s: %w", kind, ns, name, err)
}

// secretStrings merges a Secret's data and stringData (the API server folds stringData into
// data; fakes may not).
func secretStrings(s *corev1.Secret) map[string]string {
	m := make(map[string]string, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		m[k] = string(v)
	}
	for k, v := range s.StringData {
		m[k] = v
	}
	return m
}

// FieldRef returns the value of a downward-API field path of the pod: metadata.name,
// metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'],
// metadata.labels and metadata.annotations (k="v" lines, sorted), spec.nodeName,
// spec.serviceAccountName, status.hostIP(s), status.podIP(s). An unknown path is an error.
func FieldRef(pod *corev1.Pod, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.hostIPs":
		ips := make([]string, 0, len(pod.Status.HostIPs))
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	case "status.podIPs":
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		if len(ips) == 0 && pod.Status.PodIP != "" {
			ips = append(ips, pod.Status.PodIP)
		}
		return strings.Join(ips, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// subscript parses `prefix['key']` (or with double quotes).
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	rest = rest[:len(rest)-1]
	if len(rest) >= 2 && (rest[0] == '\'' || rest[0] == '"') && rest[len(rest)-1] == rest[0] {
		return rest[1 : len(rest)-1], true
	}
	return "", false
}

// formatMap renders labels or annotations as the downward API does: one k="v" per line,
// sorted by key, the value quoted as Go's %q does.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// ResourceFieldRef returns a container resource (limits.cpu, limits.memory,
// limits.ephemeral-storage, requests.*) divided by the divisor (default 1) and rounded up, as
// the downward API does. An unset limit falls back to the node's allocatable.
func ResourceFieldRef(c *corev1.Container, r *corev1.ResourceFieldSelector, node corev1.ResourceList) (string, error) {
	kind, name, ok := strings.Cut(r.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resourceFieldRef %q", r.Resource)
	}
	rn := corev1.ResourceName(name)
	var q resource.Quantity
	var found bool
	switch kind {
	case "limits":
		q, found = c.Resources.Limits[rn]
		if !found {
			q, found = node[rn]
		}
	case "requests":
		q, found = c.Resources.Requests[rn]
	default:
		return "", fmt.Errorf("unsupported resourceFieldRef %q", r.Resource)
	}
	if !found {
		return "0", nil
	}
	divisor := r.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if rn == corev1.ResourceCPU {
		v := math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue()))
		return strconv.FormatInt(int64(v), 10), nil
	}
	v := math.Ceil(float64(q.Value()) / float64(divisor.Value()))
	return strconv.FormatInt(int64(v), 10), nil
}

// Expand replaces each `$(NAME)` in s for which lookup knows NAME by its value, turns `$$` into
// `$` (so `$$(NAME)` is the literal `$(NAME)`), and leaves everything else as written: an
// unknown `$(NAME)`, an unclosed `$(`, a `$` before any other character. These are the rules
// Kubernetes applies to env values, command and args.
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 3 + end
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String()
}

// envLookup returns a lookup over resolved variables (the last of a name wins).
func envLookup(env []EnvVar) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}
