package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TokenFunc mints a ServiceAccount token for a pod (TokenRequest bound to the pod) with the
// given audience ("" for the API server's) and lifetime in seconds (0 for the default).
type TokenFunc func(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (string, error)

// Volumes writes a pod's volumes as directories of this machine.
type Volumes struct {
	Objects Objects
	Token   TokenFunc
	// Node is the node's allocatable, for resourceFieldRef items of downwardAPI volumes.
	Node corev1.ResourceList
}

// Write materialises every volume of pod under dir/<volume name>: emptyDir (an empty
// directory), configMap and secret (one file per key, or per item, with its mode), downwardAPI
// and projected (configMap, secret, downwardAPI and serviceAccountToken sources). Any other
// volume type is an error naming it. A missing non-optional ConfigMap or Secret yields an error
// wrapping ErrWaiting; the caller retries.
func (v *Volumes) Write(ctx context.Context, pod *corev1.Pod, dir string) error {
	for _, vol := range pod.Spec.Volumes {
		d := filepath.Join(dir, vol.Name)
		if err := v.write(ctx, pod, vol, d); err != nil {
			return fmt.Errorf("volume %s: %w", vol.Name, err)
		}
	}
	return nil
}

func (v *Volumes) write(ctx context.Context, pod *corev1.Pod, vol corev1.Volume, d string) error {
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	src := vol.VolumeSource
	switch {
	case src.EmptyDir != nil:
		return nil
	case src.ConfigMap != nil:
		return v.configMap(pod, d, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, src.ConfigMap.DefaultMode)
	case src.Secret != nil:
		return v.secret(pod, d, src.Secret.SecretName, src.Secret.Items, src.Secret.Optional, src.Secret.DefaultMode)
	case src.DownwardAPI != nil:
		return v.downward(pod, d, src.DownwardAPI.Items, src.DownwardAPI.DefaultMode)
	case src.Projected != nil:
		for _, s := range src.Projected.Sources {
			var err error
			switch {
			case s.ConfigMap != nil:
				err = v.configMap(pod, d, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, src.Projected.DefaultMode)
			case s.Secret != nil:
				err = v.secret(pod, d, s.Secret.Name, s.Secret.Items, s.Secret.Optional, src.Projected.DefaultMode)
			case s.DownwardAPI != nil:
				err = v.downward(pod, d, s.DownwardAPI.Items, src.Projected.DefaultMode)
			case s.ServiceAccountToken != nil:
				var exp int64
				if s.ServiceAccountToken.ExpirationSeconds != nil {
					exp = *s.ServiceAccountToken.ExpirationSeconds
				}
				if v.Token == nil {
					return fmt.Errorf("serviceAccountToken source: no TokenRequest client")
				}
				tok, terr := v.Token(ctx, pod, s.ServiceAccountToken.Audience, exp)
				if terr != nil {
					return fmt.Errorf("serviceAccountToken: %w", terr)
				}
				err = writeFile(d, s.ServiceAccountToken.Path, []byte(tok), nil, src.Projected.DefaultMode)
			default:
				err = fmt.Errorf("unsupported projected source (only configMap, secret, downwardAPI, serviceAccountToken)")
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported volume type (the process kubelet writes emptyDir, configMap, secret, downwardAPI and projected volumes)")
}

func (v *Volumes) configMap(pod *corev1.Pod, d, name string, items []corev1.KeyToPath, opt *bool, mode *int32) error {
	cm, err := v.Objects.ConfigMap(pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional(opt) {
			return nil
		}
		return missing("ConfigMap", pod.Namespace, name, err)
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return writeKeys(d, "ConfigMap "+pod.Namespace+"/"+name, data, items, opt, mode)
}

func (v *Volumes) secret(pod *corev1.Pod, d, name string, items []corev1.KeyToPath, opt *bool, mode *int32) error {
	s, err := v.Objects.Secret(pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional(opt) {
			return nil
		}
		return missing("Secret", pod.Namespace, name, err)
	}
	data := map[string][]byte{}
	for k, s := range secretStrings(s) {
		data[k] = []byte(s)
	}
	return writeKeys(d, "Secret "+pod.Namespace+"/"+name, data, items, opt, mode)
}

// writeKeys writes every key as a file (items empty), or each item's key at its path.
func writeKeys(d, what string, data map[string][]byte, items []corev1.KeyToPath, opt *bool, mode *int32) error {
	if len(items) == 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := writeFile(d, k, data[k], nil, mode); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional(opt) {
				continue
			}
			return fmt.Errorf("%s has no key %q: %w", what, it.Key, ErrWaiting)
		}
		if err := writeFile(d, it.Path, b, it.Mode, mode); err != nil {
			return err
		}
	}
	return nil
}

func (v *Volumes) downward(pod *corev1.Pod, d string, items []corev1.DownwardAPIVolumeFile, mode *int32) error {
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = FieldRef(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			c := containerNamed(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return fmt.Errorf("downwardAPI %s: no container %q", it.Path, it.ResourceFieldRef.ContainerName)
			}
			val, err = ResourceFieldRef(c, it.ResourceFieldRef, v.Node)
		default:
			err = fmt.Errorf("downwardAPI %s names no field", it.Path)
		}
		if err != nil {
			return err
		}
		if err := writeFile(d, it.Path, []byte(val), it.Mode, mode); err != nil {
			return err
		}
	}
	return nil
}

func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if name == "" || pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// writeFile writes b at d/rel (rel must stay inside d) with the item's mode, else the volume's
// default mode, else 0644.
func writeFile(d, rel string, b []byte, itemMode, defaultMode *int32) error {
	p := filepath.Join(d, rel)
	if r, err := filepath.Rel(d, p); err != nil || r == ".." || filepath.IsAbs(r) || len(r) >= 3 && r[:3] == "../" {
		return fmt.Errorf("path %q leaves the volume", rel)
	}
	m := os.FileMode(0o644)
	if defaultMode != nil {
		m = os.FileMode(*defaultMode)
	}
	if itemMode != nil {
		m = os.FileMode(*itemMode)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	// Owner read/write always: this process writes the file, and may rewrite it on a retry.
	if err := os.WriteFile(p, b, m|0o600); err != nil {
		return err
	}
	return os.Chmod(p, m|0o600)
}
