#!/usr/bin/env bash
# The e2e scenarios (test/e2e) against a kind cluster: builds the operator image, makes the cluster from
# test/e2e/kind/cluster.yaml, loads the image, then runs the same jest file as CI does on the local
# control plane, with SCHEMAOPS_E2E_TARGET=kind. The test installs everything through kubectl.
#
# Needs a running Docker engine, kind (v0.33, the release the pinned node image belongs to), kubectl,
# Node.js and npm; any OS that runs those (no apt packages: PostgreSQL runs in the cluster).
# KIND_CLUSTER names the cluster (default schemaops-e2e); KEEP_CLUSTER=1 leaves it running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER:-schemaops-e2e}"
image="schemaops:e2e"

fail() { echo "e2e-kind: $*" >&2; exit 2; }
command -v docker >/dev/null 2>&1 || fail "docker not found on PATH"
docker info >/dev/null 2>&1 || fail "no Docker engine answers ('docker info' failed); 'make e2e-local' needs none"
command -v kind >/dev/null 2>&1 || fail "kind not found on PATH: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
case "$(kind version)" in
  *v0.33.*) ;;
  *) echo "e2e-kind: warning: $(kind version); test/e2e/kind/cluster.yaml pins the node image of kind v0.33" >&2 ;;
esac

command -v kubectl >/dev/null 2>&1 || fail "kubectl not found on PATH"
# Only the npm packages (Node 24 among them): PostgreSQL runs in the cluster, not on this machine.
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund

docker build --tag "$image" .

kubeconfig="$(mktemp -t schemaops-kind-kubeconfig.XXXXXX)"
cleanup() {
  rm -f "$kubeconfig"
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$cluster" >&2 || true; fi
}
trap cleanup EXIT

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --config test/e2e/kind/cluster.yaml --wait 120s
fi
kind get kubeconfig --name "$cluster" >"$kubeconfig"
kind load docker-image "$image" --name "$cluster"

KUBECONFIG="$kubeconfig" SCHEMAOPS_E2E_TARGET=kind npm test -- test/e2e/operator.test.ts
