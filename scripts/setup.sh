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

# Deno is only used to prove that dist/multus.mjs also runs under `deno run -A`.
# It is kept out of package.json: its lock entries are platform-specific.
if [ ! -x .tools/node_modules/.bin/deno ]; then
  npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund --loglevel=error deno@2.9.6 >/dev/null 2>&1 ||
    echo "note: deno could not be installed; the deno run test will be skipped" >&2
fi
