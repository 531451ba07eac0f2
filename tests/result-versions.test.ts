// The ADD result is the cluster network's, in our config's cniVersion.
import t from "tap";
import { SUPPORTED_VERSIONS, versionAtLeast } from "../lib/cni/version.ts";
import { addresses, makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

interface Ip {
  version?: string;
  address: string;
  gateway?: string;
  interface?: number;
}

// Debian's reference plugins speak up to 1.0.0: a newer config gets 1.0.0 delegates.
const PLUGINS_MAX = "1.0.0";

for (const v of SUPPORTED_VERSIONS) {
  t.test(`cniVersion ${v}: result in ${v} shape with the cluster network's address`, async (t) => {
    const delegateVersion = versionAtLeast(v, PLUGINS_MAX) ? PLUGINS_MAX : v;
    const s = scenario(t, delegateVersion);
    const ns = makeNetns(t);
    const call = { containerId: `ver-${v}`, netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()], { cniVersion: v }) };
    const r = await runPlugin({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    const res = r.json!;
    t.equal(res.cniVersion, v);
    const eth0 = addresses(ns.name, "eth0")[0];
    if (!versionAtLeast(v, "0.3.0")) {
      // 0.1.0 / 0.2.0: one ip4 block, no interfaces list.
      t.equal((res.ip4 as { ip: string }).ip, eth0);
      t.notOk("ips" in res, `${v} has no ips`);
    } else {
      const ips = res.ips as Ip[];
      t.equal(ips.length, 1);
      t.equal(ips[0].address, eth0);
      if (versionAtLeast(v, "1.0.0")) t.notOk("version" in ips[0], `${v} has no ips[].version`);
      else t.equal(ips[0].version, "4");
      const ifs = res.interfaces as { name: string; sandbox?: string }[];
      t.equal(ifs[ips[0].interface!].name, "eth0");
      t.equal(ifs[ips[0].interface!].sandbox, ns.path);
    }
    t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  });
}

t.test("a 1.0.0 delegate under a 0.2.0 config: converted to ip4", async (t) => {
  const s = scenario(t, "1.0.0");
  const ns = makeNetns(t);
  const call = { containerId: "ver-020", netns: ns.path, stdin: s.netconf([s.bridge()], { cniVersion: "0.2.0" }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(r.json!.cniVersion, "0.2.0");
  t.same(Object.keys(r.json!).sort(), ["cniVersion", "ip4"]);
  t.equal((r.json!.ip4 as { ip: string }).ip, addresses(ns.name, "eth0")[0]);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a 0.3.1 delegate under a 1.0.0 config: converted up, no ips[].version", async (t) => {
  const s = scenario(t, "0.3.1");
  const ns = makeNetns(t);
  const call = { containerId: "ver-up", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()], { cniVersion: "1.0.0" }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(r.json!.cniVersion, "1.0.0");
  t.notOk("version" in (r.json!.ips as Ip[])[0]);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("delegates without name or cniVersion get ours filled in", async (t) => {
  const s = scenario(t, "1.0.0");
  const ns = makeNetns(t);
  const bridge = s.bridge();
  delete bridge.name;
  delete bridge.cniVersion;
  const call = { containerId: "ver-fill", netns: ns.path, stdin: s.netconf([bridge]) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(r.json!.cniVersion, "1.0.0");
  // host-local keeps reservations under the network name.
  const { readdirSync } = await import("node:fs");
  t.same(readdirSync(s.ipamDir), ["multus-test-0"]);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});
