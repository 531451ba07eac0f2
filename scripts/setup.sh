#!/usr/bin/env bash
# Install what building, the demo and the tests need, when it is missing:
# iproute2 and the reference CNI plugins from Debian, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
[ -x /usr/lib/cni/bridge ] || pkgs+=(containernetworking-plugins)
if [ "${#pkgs[@]}" -gt 0 ]; then
  echo "installing ${pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
