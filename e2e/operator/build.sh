#!/usr/bin/env bash
# build.sh builds the kubeflow spark-operator v2 controller (github.com/kubeflow/spark-operator/v2,
# pinned in this module's go.mod, its `tool` directive) from source through the Go module proxy,
# and caches it with the operator's CRDs.
#
# Usage: build.sh CACHE_DIR
#
# The binary lands in CACHE_DIR/spark-operator/<key>/bin/spark-operator and the CRDs in
# CACHE_DIR/spark-operator/<key>/crds/, where <key> is the sha256 of this module's go.mod, go.sum
# and the Go version. A complete directory is reused (0 s). The last line printed is the bin
# directory; nothing is written into the checkout.
set -euo pipefail

cache_dir=${1:?usage: build.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
go=${GO:-go}
pkg=github.com/kubeflow/spark-operator/v2/cmd/operator

key=$({ cat "$here/go.mod" "$here/go.sum"; echo "$pkg $($go env GOVERSION GOOS GOARCH)"; } | sha256sum | cut -c1-16)
out="$cache_dir/spark-operator/$key"

if [[ -x "$out/bin/spark-operator" && -e "$out/crds/.done" ]]; then
	echo "spark-operator: cached in $out" >&2
	echo "$out/bin"
	exit 0
fi

echo "spark-operator: building $pkg into $out" >&2
start=$SECONDS
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/crds"
trap 'rm -rf "$tmp"' EXIT
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
(cd "$here" && $go build -trimpath -ldflags "-s -w" -o "$tmp/bin/spark-operator" "$pkg")
op_dir=$(cd "$here" && $go list -m -f '{{.Dir}}' github.com/kubeflow/spark-operator/v2)
cp "$op_dir"/config/crd/bases/*.yaml "$tmp/crds/"
touch "$tmp/crds/.done"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "spark-operator: built in $((SECONDS - start)) s" >&2
echo "$out/bin"
