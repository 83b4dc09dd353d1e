// Package kubelet is the process kubelet of the Kubernetes end-to-end tier: a stand-in for the
// kubelet, the container runtime and cluster DNS of one KWOK node, which runs the pods of Spark
// images as local processes from PySpark's SPARK_HOME. It is the one stand-in of the tier that
// runs real Spark on the real control plane; everything it does not do (cgroups, images, probes,
// kube-proxy, port translation) is said below.
//
// # Division of labour with KWOK
//
// KWOK keeps what it already does for the node: registration, heartbeats and lease, and a
// pod's first status (phase Running, Ready, an IP from its --cidr, a loopback range such as
// 127.N.0.0/16, which Linux routes to lo, so a process binds it with no set-up). The process
// kubelet adds, for pods bound to the node (an informer on spec.nodeName):
//
//   - Which pods. A container whose image Config.Runtime accepts (SparkImages: apache/spark:*,
//     spark:*, by tag prefix to a PySpark venv) runs, once KWOK has given the pod its IP; the
//     other pods and containers stay virtual (KWOK's status only).
//   - The container's view. Env (ResolveEnv: value with $(VAR) and $$, fieldRef,
//     resourceFieldRef, configMapKeyRef, secretKeyRef, envFrom), volumes (Volumes.Write:
//     emptyDir, configMap, secret, downwardAPI, projected with serviceAccountToken) under a
//     per-pod directory, and an image root (BuildRoot) where /opt/spark is the pod's overlay of
//     PySpark's SPARK_HOME and each mount is linked at its path; Mapper rewrites container paths
//     in command, args and env values. A ConfigMap or Secret that does not exist yet (Spark
//     creates its ConfigMaps after the pods that mount them) is waited for, not a failure.
//   - The image entrypoint (Entrypoint): apache/spark-docker's entrypoint.sh emulated, its
//     driver, executor and pass-through modes.
//   - Identity and names. SPARK_LOCAL_IP=<pod IP>; a KUBECONFIG with a token from a
//     TokenRequest for the pod's ServiceAccount, bound to the pod, so the process has exactly
//     the pod's RBAC (Spark's Kubernetes client cannot read the stack's EC client keys, a token
//     it can); a per-pod hosts file (HostsFile, given to every JVM as
//     JAVA_TOOL_OPTIONS=-Djdk.net.hosts.file=…, rewritten when Services or pods change; the
//     endpoints are computed from Service selectors, since the API server refuses EndpointSlices
//     with loopback addresses)
//     standing in for cluster DNS.
//   - Lifecycle. One process group and one log per pod (Config.LogDir/<ns>_<pod>.log). When the
//     process exits: restart it per restartPolicy (with a doubling back-off), or write the
//     terminal status (phase Succeeded/Failed, the container's terminated exit code). When the
//     pod is deleted: the preStop hook (/opt/decom.sh emulated as SIGPWR to the JVM), SIGTERM,
//     the grace period, SIGKILL, the final status, then delete with grace 0. Pods that run
//     nothing are deleted at once. KWOK's pod-delete stage must therefore be left out (it would
//     delete a pod at once on any deletionTimestamp, under a live process whose IP KWOK would
//     then hand out again).
//
// # Why KWOK and an informer, not virtual-kubelet
//
// virtual-kubelet's node library (github.com/virtual-kubelet/virtual-kubelet/node) would give
// node registration, leases, the pod status sync loop and the deletion hand-shake. It was
// weighed and not taken: KWOK already runs the node, its lease and the IP assignment in this
// tier; the current virtual-kubelet (v1.14.1) needs the Kubernetes v0.37 libraries while the
// project pins v0.36, and an older release would pull an older client-go API into the main
// module; and the part it would save here is small (an informer, a status update with retry on
// conflict, a delete with grace 0: about a hundred lines), while the part that is ours —
// turning a Spark pod into the right local process — is the same either way.
//
// # Not emulated
//
// Resource limits (no cgroups: a JVM's heap is what its -Xmx says), probes (KWOK marks pods
// Ready at once; Spark retries its connections), init containers (virtual), Service ports
// (a name leads to the pod's IP, so a Service port must equal its targetPort), service links
// (FOO_SERVICE_HOST), image pulls, users (securityContext is ignored: processes run as the
// test's user), and hostPath and persistentVolumeClaim volumes (the pod fails with a clear
// message).
package kubelet
