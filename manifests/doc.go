// Package manifests holds sparkdra's kustomize base and examples (YAML in base/ and examples/)
// and the tests that render each kustomization with kustomize's Go API and strictly decode every
// object into its Go type: an unknown field, an invalid ScaledObject or a broken invariant
// (least-privilege RBAC, non-root containers, HPA behaviour for exact counts) fails the test.
package manifests
