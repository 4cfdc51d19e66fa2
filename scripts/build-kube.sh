#!/usr/bin/env bash
# Builds the Kubernetes control plane that `schemaops local-cluster` runs (kube-apiserver,
# kube-controller-manager, kube-scheduler and etcd) from the Go module proxy, at the releases pinned in
# hack/kube/go.mod and hack/kube/etcd/go.mod, once per machine: the binaries go to a cache directory keyed
# by those releases, and are linked into node_modules/.cache/schemaops-tools/bin (on the PATH setup.sh prints).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null 2>&1 || {
  echo "go is required to build the local control plane (Go 1.26 or newer)" >&2
  exit 1
}

kube_version=$(cd hack/kube && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd hack/kube/etcd && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
if [ -z "$kube_version" ] || [ -z "$etcd_version" ]; then
  echo "cannot read the pinned releases from hack/kube/go.mod and hack/kube/etcd/go.mod" >&2
  exit 1
fi
cache="${SCHEMAOPS_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/schemaops/kube}/kubernetes-$kube_version-etcd-$etcd_version"
components=(kube-apiserver kube-controller-manager kube-scheduler etcd)

build() { # name, module dir, package, ldflags
  local name=$1 dir=$2 package=$3 ldflags=$4 started=$SECONDS
  echo "building $name ($package) into $cache; the first build on a machine takes several minutes" >&2
  (cd "$dir" && go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$cache/.$name.partial" "$package")
  mv "$cache/.$name.partial" "$cache/$name"
  echo "built $name in $((SECONDS - started)) s" >&2
}

mkdir -p "$cache"
minor=${kube_version#v1.}
minor=${minor%%.*}
version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  version_flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
for name in kube-apiserver kube-controller-manager kube-scheduler; do
  [ -x "$cache/$name" ] || build "$name" hack/kube "k8s.io/kubernetes/cmd/$name" "-s -w$version_flags"
done
[ -x "$cache/etcd" ] || build etcd hack/kube/etcd . "-s -w"

bin=node_modules/.cache/schemaops-tools/bin
mkdir -p "$bin"
for name in "${components[@]}"; do ln -sfn "$cache/$name" "$bin/$name"; done
