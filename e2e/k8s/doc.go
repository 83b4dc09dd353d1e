// Package k8se2e is the Kubernetes end-to-end tier: it starts a real control plane on loopback
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), KWOK as the node agent, and
// the real KEDA operator and metrics adapter, then applies sparkdra's shipped manifests and checks
// that KEDA and the HPA move a worker Deployment the way spark-dra-scaler says.
//
// Everything lives behind the build tag e2e_k8s and runs through `make e2e-k8s`, which first
// builds the binaries from the tools module in e2e/tools (cached per machine, see build.sh) and
// passes their directory in SPARKDRA_K8S_TOOLS. Logs go to e2e/out/k8s/, the run summary to
// e2e/out/k8s-summary.json.
package k8se2e
