// Package charts tests the Helm chart in charts/sparkdra with Helm's Go SDK: it renders the
// chart with each ci/*-values.yaml, decodes every object strictly into its Go type, proves the
// default values render the same objects as the kustomize base (manifests/base), and checks
// values.schema.json refuses bad values. The e2e_k8s-tagged test installs it with the SDK into
// the e2e-k8s tier's real control plane (make e2e-k8s-helm).
package charts
