package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ImageSparkHome is SPARK_HOME in the official Spark images (apache/spark, spark); the image's
// WORKDIR is ImageSparkHome/work-dir.
const ImageSparkHome = "/opt/spark"

// writableSparkDirs are the entries of the image's SPARK_HOME a container writes to: WORKDIR,
// the standalone worker's default work dir and the daemon logs. In the per-pod image root they
// are the pod's own directories, never the shared PySpark installation.
var writableSparkDirs = []string{"work-dir", "work", "logs"}

// Mapper turns the paths a container sees into paths of this machine: every path under one of
// its prefixes (the container's volume mount paths and /opt/spark) moves under Root, the
// pod's image root, where the volumes are linked in and /opt/spark is the per-pod overlay of
// PySpark's SPARK_HOME (see BuildRoot).
type Mapper struct {
	Root     string
	prefixes []string // longest first
}

// NewMapper returns the Mapper of a container whose image root is root.
func NewMapper(root string, c *corev1.Container) *Mapper {
	m := &Mapper{Root: root}
	seen := map[string]bool{}
	add := func(p string) {
		p = filepath.Clean(p)
		if p != "/" && !seen[p] {
			seen[p] = true
			m.prefixes = append(m.prefixes, p)
		}
	}
	add(ImageSparkHome)
	for _, vm := range c.VolumeMounts {
		add(vm.MountPath)
	}
	sort.Slice(m.prefixes, func(i, j int) bool { return len(m.prefixes[i]) > len(m.prefixes[j]) })
	return m
}

// Path maps one absolute container path (unchanged when no prefix covers it).
func (m *Mapper) Path(p string) string {
	for _, pre := range m.prefixes {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return m.Root + p
		}
	}
	return p
}

// String maps every container path inside s: a path starts at the beginning of s, after one of
// `=,:; "'` or after `://` (so local:///opt/spark/x and -Dk=/opt/spark/x are mapped), and covers
// a prefix that ends at the end of s, a `/` or one of those separators.
func (m *Mapper) String(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '/' || !(i == 0 || strings.IndexByte(pathStart, s[i-1]) >= 0 || strings.HasSuffix(s[:i], "://")) {
			continue
		}
		for _, pre := range m.prefixes {
			if !strings.HasPrefix(s[i:], pre) {
				continue
			}
			end := i + len(pre)
			if end < len(s) && s[end] != '/' && strings.IndexByte(pathEnd, s[end]) < 0 {
				continue
			}
			b.WriteString(s[last:i])
			b.WriteString(m.Root)
			b.WriteString(pre)
			last = end
			i = end - 1
			break
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

const (
	pathStart = "=,:; \"'"
	pathEnd   = ",:; \"'"
)

// BuildRoot lays out a container's image root under root: root/opt/spark holds a symbolic link
// to each entry of sparkHome (PySpark's SPARK_HOME: bin, jars, python, …), except the writable
// directories (work-dir, work, logs), which are the pod's own, and except where a volume is
// mounted, where the link goes to the volume's directory (volumeDir(name), plus the mount's
// subPath). A mount inside a linked directory turns that directory into a real one of links,
// so nothing is ever written into sparkHome. Mounts outside /opt/spark are linked in the same
// way at root/<mountPath>.
func BuildRoot(root, sparkHome string, mounts []corev1.VolumeMount, volumeDir func(string) string) error {
	home := filepath.Join(root, ImageSparkHome)
	var inside []string // mount paths and writable dirs relative to /opt/spark
	for _, w := range writableSparkDirs {
		inside = append(inside, w)
	}
	for _, vm := range mounts {
		if rel, ok := strings.CutPrefix(filepath.Clean(vm.MountPath), ImageSparkHome+"/"); ok {
			inside = append(inside, rel)
		}
	}
	if err := overlay(home, sparkHome, "", inside); err != nil {
		return err
	}
	for _, w := range writableSparkDirs {
		if err := os.MkdirAll(filepath.Join(home, w), 0o755); err != nil {
			return err
		}
	}
	sorted := append([]corev1.VolumeMount(nil), mounts...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i].MountPath) < len(sorted[j].MountPath) })
	for _, vm := range sorted {
		target := volumeDir(vm.Name)
		if vm.SubPath != "" {
			target = filepath.Join(target, vm.SubPath)
			if _, err := os.Stat(target); os.IsNotExist(err) {
				if err := os.MkdirAll(target, 0o755); err != nil {
					return err
				}
			}
		}
		at := filepath.Join(root, filepath.Clean(vm.MountPath))
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			return err
		}
		if err := os.RemoveAll(at); err != nil {
			return err
		}
		if err := os.Symlink(target, at); err != nil {
			return fmt.Errorf("mount %s at %s: %w", vm.Name, vm.MountPath, err)
		}
	}
	return nil
}

// overlay makes dir a real directory mirroring src/rel with links, unfolding the entries that
// hold one of the paths in inside (relative to the overlay's top) and leaving out those equal to
// one of them.
func overlay(dir, src, rel string, inside []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(src, rel))
	if err != nil {
		return fmt.Errorf("SPARK_HOME %s: %w", src, err)
	}
	for _, e := range entries {
		sub := filepath.Join(rel, e.Name())
		exact, under := false, false
		for _, p := range inside {
			if p == sub {
				exact = true
			} else if strings.HasPrefix(p, sub+"/") {
				under = true
			}
		}
		switch {
		case exact:
		case under && e.IsDir():
			if err := overlay(filepath.Join(dir, e.Name()), src, sub, inside); err != nil {
				return err
			}
		default:
			if err := os.Symlink(filepath.Join(src, sub), filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
