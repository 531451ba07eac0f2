#!/usr/bin/env bash
# Install what building, the demo and the tests need, when it is missing:
# iproute2 and the reference CNI plugins from Debian, containerd and runc (the
# end-to-end test; gcc and libc6-dev build its static pause program),
# qemu-user-static and Debian's arm64 glibc (to run dist/multus-arm64 on an
# amd64 machine), binutils and xz-utils (objdump -T, xz -9: what the
# executables need and weigh), and the npm packages, Bun among them.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
[ -x /usr/lib/cni/bridge ] || pkgs+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || pkgs+=(iptables)
command -v containerd >/dev/null 2>&1 || pkgs+=(containerd)
command -v runc >/dev/null 2>&1 || pkgs+=(runc)
command -v gcc >/dev/null 2>&1 || pkgs+=(gcc)
dpkg -s libc6-dev >/dev/null 2>&1 || pkgs+=(libc6-dev)
[ -x /usr/bin/qemu-aarch64-static ] || pkgs+=(qemu-user-static)
[ "$(uname -m)" = aarch64 ] || [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || pkgs+=(libc6-arm64-cross)
command -v objdump >/dev/null 2>&1 || pkgs+=(binutils)
command -v xz >/dev/null 2>&1 || pkgs+=(xz-utils)
[ -x /usr/bin/time ] || pkgs+=(time)
if [ "${#pkgs[@]}" -gt 0 ]; then
  echo "installing ${pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The Bun runtime for the other CPU (dist/multus-arm64 on amd64), pinned by
# package-lock.json, into .tools/; after this the build needs no network.
node scripts/build.mjs --fetch-runtimes >/dev/null

# Deno is only used to prove that dist/multus.mjs also runs under `deno run -A`.
# It is kept out of package.json: its lock entries are platform-specific.
if [ ! -x .tools/node_modules/.bin/deno ]; then
  npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund --loglevel=error deno@2.9.6 >/dev/null 2>&1 ||
    echo "note: deno could not be installed; the deno run test will be skipped" >&2
fi
