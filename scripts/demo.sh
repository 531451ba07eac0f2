#!/usr/bin/env bash
# The main job on an embedded default: build the one file, create a throwaway
# network namespace, ADD a pod to a bridge network and a ptp network through
# dist/multus with Debian's reference plugins, show the pod, CHECK, DEL, and
# show that nothing is left. Needs root. Uses 10.230.0.0/24 and 10.230.1.0/24.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build

work=$(mktemp -d)
ns="multus-demo-$$"
br="mdemo$$"
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$br" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/netconf.json" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "multus-demo",
  "type": "multus",
  "cniDir": "$work/cache",
  "delegates": [
    {"cniVersion": "1.0.0", "name": "cluster", "type": "bridge", "bridge": "$br", "isGateway": false,
     "ipam": {"type": "host-local", "subnet": "10.230.0.0/24", "dataDir": "$work/ipam"}},
    {"cniVersion": "1.0.0", "name": "storage", "type": "ptp",
     "ipam": {"type": "host-local", "subnet": "10.230.1.0/24", "dataDir": "$work/ipam"}}
  ]
}
JSON

ip netns add "$ns"
export CNI_CONTAINERID="demo-$$" CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
run() { CNI_COMMAND=$1 dist/multus <"$work/netconf.json"; }

echo "== ADD (the result the runtime receives)"
run ADD
echo "== interfaces in the pod"
ip -n "$ns" -br addr show | grep -v '^lo'
echo "== cache record ($work/cache/$CNI_CONTAINERID)"
stat -c '%A %n' "$work/cache/$CNI_CONTAINERID"
echo "== CHECK"
run CHECK && echo "ok"
echo "== DEL"
run DEL && echo "ok"
echo "== interfaces left in the pod:"
ip -n "$ns" -br addr show | grep -v '^lo' || echo "(none)"
echo "== addresses still reserved:"
find "$work/ipam" -name '10.*' | sed 's/^/  /' | grep . || echo "(none)"
