package kubelet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ClusterDomain is the cluster DNS domain the hosts files answer for.
const ClusterDomain = "cluster.local"

// HostsFile renders the hosts file a pod's JVMs resolve names with (handed to them as
// -Djdk.net.hosts.file, which makes the JDK read only that file): it stands in for cluster DNS.
// It holds
//
//   - localhost;
//   - the pod's own names on its IP: its hostname (spec.hostname or its name), with a
//     subdomain hostname.subdomain.<ns>.svc[.cluster.local], and machineHostname, the name the
//     JDK's InetAddress.getLocalHost asks for (in a real pod that is the pod's name);
//   - every Service with a selector: <svc>.<ns>.svc.cluster.local, <svc>.<ns>.svc, <svc>.<ns>
//     and, in the pod's own namespace, <svc>, on the IP of each ready pod it selects (sorted),
//     since without kube-proxy a name must lead straight to a pod; and for a pod whose
//     spec.subdomain names the Service (a StatefulSet's), <hostname>.<svc>.<ns>.svc[.cluster.local].
//     The endpoints come from the pods themselves, as the EndpointSlice controller would compute
//     them: the API server refuses EndpointSlices with loopback addresses, which the pods here
//     have;
//   - an ExternalName Service whose externalName is an IP address or localhost.
//
// A pod is ready when it is Running with an IP, not being deleted and its Ready condition is
// True (any pod, with publishNotReadyAddresses). Ports are not translated: a Service whose port
// differs from its targetPort cannot be reached by its port through these names (no Service of
// Spark's or of the examples does that).
func HostsFile(pod *corev1.Pod, machineHostname string, services []*corev1.Service, pods []*corev1.Pod) []byte {
	var b strings.Builder
	b.WriteString("# hosts of pod " + pod.Namespace + "/" + pod.Name + ", written by the process kubelet (stands in for cluster DNS)\n")
	b.WriteString("127.0.0.1\tlocalhost localhost.localdomain\n")
	if ip := pod.Status.PodIP; ip != "" {
		host := pod.Spec.Hostname
		if host == "" {
			host = pod.Name
		}
		names := []string{host}
		if sd := pod.Spec.Subdomain; sd != "" {
			fq := host + "." + sd + "." + pod.Namespace + ".svc"
			names = append(names, fq+"."+ClusterDomain, fq)
		}
		if host != pod.Name {
			names = append(names, pod.Name)
		}
		if machineHostname != "" && machineHostname != "localhost" && machineHostname != host {
			names = append(names, machineHostname)
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(names, " "))
	}

	sorted := append([]*corev1.Service(nil), services...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	for _, svc := range sorted {
		names := serviceNames(svc, pod.Namespace)
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			ext := strings.TrimSuffix(svc.Spec.ExternalName, ".")
			switch {
			case ext == "localhost":
				fmt.Fprintf(&b, "127.0.0.1\t%s\n", strings.Join(names, " "))
			case net.ParseIP(ext) != nil:
				fmt.Fprintf(&b, "%s\t%s\n", ext, strings.Join(names, " "))
			}
			continue
		}
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var eps []*corev1.Pod
		for _, p := range pods {
			if p.Namespace == svc.Namespace && sel.Matches(labels.Set(p.Labels)) && endpointReady(p, svc.Spec.PublishNotReadyAddresses) {
				eps = append(eps, p)
			}
		}
		sort.Slice(eps, func(i, j int) bool { return eps[i].Status.PodIP < eps[j].Status.PodIP })
		for _, p := range eps {
			fmt.Fprintf(&b, "%s\t%s\n", p.Status.PodIP, strings.Join(names, " "))
		}
		for _, p := range eps {
			if p.Spec.Subdomain != svc.Name {
				continue
			}
			h := p.Spec.Hostname
			if h == "" {
				h = p.Name
			}
			fq := h + "." + svc.Name + "." + svc.Namespace + ".svc"
			fmt.Fprintf(&b, "%s\t%s.%s %s\n", p.Status.PodIP, fq, ClusterDomain, fq)
		}
	}
	return []byte(b.String())
}

// endpointReady reports whether a pod backs its Services now.
func endpointReady(p *corev1.Pod, publishNotReady bool) bool {
	if p.Status.PodIP == "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	if publishNotReady {
		return true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func serviceNames(svc *corev1.Service, podNS string) []string {
	base := svc.Name + "." + svc.Namespace
	names := []string{base + ".svc." + ClusterDomain, base + ".svc", base}
	if svc.Namespace == podNS {
		names = append(names, svc.Name)
	}
	return names
}

// writeAtomic replaces path with b through a rename, so a reader sees the old or the new file.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
