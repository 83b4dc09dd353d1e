#!/usr/bin/env bash
# build.sh builds the Kubernetes end-to-end tier's tools — etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, KWOK and the KEDA operator and metrics
# adapter — from this module through the Go module proxy, and caches the binaries.
#
# Usage: build.sh CACHE_DIR
#
# The binaries land in CACHE_DIR/k8s-tools/<key>/bin, where <key> is the sha256 of this
# module's go.mod, go.sum and the build flags below. When that directory is complete the
# build is skipped (0 s); otherwise it is built: about 20 minutes of two cores on a cold
# machine (mostly KEDA and its cloud SDKs), under a minute when Go's caches are warm.
# The last line printed is the bin directory; nothing is written into the checkout.
set -euo pipefail

cache_dir=${1:?usage: build.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-go}

k8s_version=v1.36.4
keda_version=2.21.0
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${k8s_version} -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=${k8s_version} -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=36 -X github.com/kedacore/keda/v2/version.Version=${keda_version}"
pkgs=(
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler
	go.etcd.io/etcd/server/v3
	sigs.k8s.io/kwok/cmd/kwok
	github.com/kedacore/keda/v2/cmd/operator
	github.com/kedacore/keda/v2/cmd/adapter
)
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok operator adapter)

key=$({ cat "$here/go.mod" "$here/go.sum"; echo "$ldflags ${pkgs[*]} $($go env GOVERSION GOOS GOARCH)"; } | sha256sum | cut -c1-16)
out="$cache_dir/k8s-tools/$key"

complete() {
	local b
	for b in "${bins[@]}" stages.yaml crds/.done; do [[ -e "$out/bin/$b" || -e "$out/$b" ]] || return 1; done
}

if complete; then
	echo "k8s-tools: cached in $out" >&2
	echo "$out/bin"
	exit 0
fi

echo "k8s-tools: building etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK and KEDA into $out" >&2
echo "k8s-tools: a cold build takes about 20 minutes on 2 cores (only once per machine); warm Go caches take about a minute" >&2
start=$SECONDS
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/crds"
trap 'rm -rf "$tmp"' EXIT

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
echo "k8s-tools: downloading modules" >&2
(cd "$here" && $go mod download)
echo "k8s-tools: compiling and linking (go build -o bin/ ${pkgs[*]})" >&2
(cd "$here" && $go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/" "${pkgs[@]}")
mv "$tmp/bin/server" "$tmp/bin/etcd"

# KWOK needs stage definitions (node init and heartbeat, pod ready/complete/delete);
# they ship inside its module. KEDA's CRDs ship inside its module too.
kwok_dir=$(cd "$here" && $go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
keda_dir=$(cd "$here" && $go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)
for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
	echo "---"
	cat "$kwok_dir/kustomize/stage/$f"
done >"$tmp/bin/stages.yaml"
cp "$keda_dir"/config/crd/bases/*.yaml "$tmp/crds/"
touch "$tmp/crds/.done"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "k8s-tools: built in $((SECONDS - start)) s" >&2
echo "$out/bin"
