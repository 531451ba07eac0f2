// The `default-route` of the networks annotation, per element and per IP
// family, as upstream Multus applies it; run against our plugin and (with
// env UPSTREAM_MULTUS) upstream's binary.
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { links, makeNetns, reservations, sh } from "./helpers/netns.ts";
import { type CniCall, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";
import { SUBJECTS } from "./helpers/subjects.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

let pods = 0;

/** A pod whose networks annotation is `networks` (see tests/upstream-parity.test.ts for systemNamespaces). */
function kubePod(s: Scenario, networks: unknown, cluster: Record<string, unknown>) {
  const name = `mtdr${++pods}`;
  const stored = api.putPod({
    metadata: { name, namespace: "ns1", annotations: { "k8s.v1.cni.cncf.io/networks": JSON.stringify(networks) } },
  });
  return {
    containerId: `dr-${pods}`,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${name};K8S_POD_UID=${stored.metadata.uid}`,
    stdin: s.netconf([cluster], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }), systemNamespaces: [name] }),
  };
}

/** An IPv6 /64 as private as the reserved 10.x /24 it is named after. */
const v6Subnet = (prefix: string) => `fd0a:${prefix.split(".").slice(1).join(":")}::/64`;

/** `ip route show default` of one family, one route per line, without the kernel's metric/pref. */
function defaults(ns: string, family: "-4" | "-6"): string[] {
  return sh("ip", ["-n", ns, family, "route", "show", "default"])
    .split("\n")
    .map((l) => l.replace(/ (proto \S+|metric \d+|pref \S+)/g, "").trim())
    .filter(Boolean)
    .sort();
}

function ptpNad(s: Scenario, name: string, subnet: string) {
  api.putNad("ns1", name, s.ptp({ name, ipam: { type: "host-local", subnet, dataDir: s.ipamDir } }));
}

for (const subject of SUBJECTS) {
  const run = (call: CniCall) => runPlugin({ ...call, bin: subject.bin });

  t.test(`${subject.name}: an empty default-route on one element does not stop another element's`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    ptpNad(s, "a", s.subnets[1].cidr);
    ptpNad(s, "b", s.subnets[2].cidr);
    const gw = `${s.subnets[2].prefix}.1`;
    const p = kubePod(
      s,
      [
        { name: "a", "default-route": [] },
        { name: "b", "default-route": [gw] },
      ],
      s.bridge({ isDefaultGateway: true }),
    );
    const call = { ...p, netns: ns.path };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    t.same(links(ns.name).sort(), ["eth0", "net1", "net2"]);
    t.same(defaults(ns.name, "-4"), [`default via ${gw} dev net2`]);
    t.equal((await run({ ...call, command: "DEL" })).code, 0);
    t.same(reservations(s.ipamDir), []);
  });

  t.test(`${subject.name}: dual stack: the IPv4 default route via one network, the IPv6 one via another`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const [c4, n4, n6] = [s.subnets[0], s.subnets[1], s.subnets[2]];
    // The cluster network has default routes of both families; each goes elsewhere.
    const cluster = s.bridge({
      isDefaultGateway: true,
      ipam: { type: "host-local", ranges: [[{ subnet: c4.cidr }], [{ subnet: v6Subnet(c4.prefix) }]], dataDir: s.ipamDir },
    });
    ptpNad(s, "v4net", n4.cidr);
    ptpNad(s, "v6net", v6Subnet(n6.prefix));
    const gw4 = `${n4.prefix}.1`;
    const gw6 = v6Subnet(n6.prefix).replace("::/64", "::1");
    const p = kubePod(
      s,
      [
        { name: "v4net", "default-route": [gw4] },
        { name: "v6net", "default-route": [gw6] },
      ],
      cluster,
    );
    const call = { ...p, netns: ns.path };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    t.same(defaults(ns.name, "-4"), [`default via ${gw4} dev net1`]);
    t.same(defaults(ns.name, "-6"), [`default via ${gw6} dev net2`]);
    t.equal((await run({ ...call, command: "DEL" })).code, 0);
    t.same(reservations(s.ipamDir), []);
  });

  t.test(`${subject.name}: two IPv4 gateways in total are refused (no ECMP), before anything is attached`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    ptpNad(s, "a", s.subnets[1].cidr);
    ptpNad(s, "b", s.subnets[2].cidr);
    const p = kubePod(
      s,
      [
        { name: "a", "default-route": [`${s.subnets[1].prefix}.1`] },
        { name: "b", "default-route": [`${s.subnets[2].prefix}.1`] },
      ],
      s.bridge(),
    );
    const r = await run({ ...p, netns: ns.path, command: "ADD" });
    t.equal(r.code, 1);
    t.match(String(r.json?.msg), /ECMP/);
    t.same(links(ns.name), []);
    t.same(reservations(s.ipamDir), []);
  });
}
