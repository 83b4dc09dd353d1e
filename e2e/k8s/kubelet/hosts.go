package kubelet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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
//   - every Service with ready endpoints: <svc>.<ns>.svc.cluster.local, <svc>.<ns>.svc,
//     <svc>.<ns> and, in the pod's own namespace, <svc>, on each ready endpoint address
//     (sorted), since without kube-proxy a name must lead straight to a pod; the endpoints'
//     hostnames of a headless Service as <hostname>.<svc>.<ns>.svc[.cluster.local];
//   - an ExternalName Service whose externalName is an IP address or localhost.
//
// Ports are not translated: a Service whose port differs from its targetPort cannot be reached
// by its port through these names (no Service of Spark's or of the examples does that).
func HostsFile(pod *corev1.Pod, machineHostname string, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) []byte {
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

	ready := map[string][]discoveryv1.Endpoint{} // ns/service -> ready endpoints
	for _, s := range slices {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready[s.Namespace+"/"+svc] = append(ready[s.Namespace+"/"+svc], ep)
			}
		}
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
		eps := ready[svc.Namespace+"/"+svc.Name]
		var ips []string
		seen := map[string]bool{}
		for _, ep := range eps {
			for _, a := range ep.Addresses {
				if !seen[a] {
					seen[a] = true
					ips = append(ips, a)
				}
			}
		}
		sort.Strings(ips)
		for _, ip := range ips {
			fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(names, " "))
		}
		sort.Slice(eps, func(i, j int) bool { return hostnameOf(eps[i]) < hostnameOf(eps[j]) })
		for _, ep := range eps {
			h := hostnameOf(ep)
			if h == "" || len(ep.Addresses) == 0 {
				continue
			}
			fq := h + "." + svc.Name + "." + svc.Namespace + ".svc"
			fmt.Fprintf(&b, "%s\t%s.%s %s\n", ep.Addresses[0], fq, ClusterDomain, fq)
		}
	}
	return []byte(b.String())
}

func hostnameOf(ep discoveryv1.Endpoint) string {
	if ep.Hostname != nil {
		return *ep.Hostname
	}
	return ""
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
