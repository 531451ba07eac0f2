// lib/netns.ts: before an ADD runs anything, the pod's network namespace must
// exist, be one, and not have an interface of a name the ADD plans. Under Bun
// (dist/multus) the check is made in the plugin's own process; under node
// (dist/multus.mjs) by `ip` in the namespace: `ip -n` for a namespace
// `ip netns` names, nsenter for any other path. Each way gives one answer.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cleanupLink, links, makeNetns, reservations, sh, tempDir, uniqueName } from "./helpers/netns.ts";
import { type CniCall, PLUGIN, ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const MJS = join(ROOT, "dist", "multus.mjs");
const ways: [string, Partial<CniCall>][] = [
  ["in process (dist/multus)", { bin: PLUGIN }],
  ["by ip (dist/multus.mjs under node)", { bin: MJS, interpreter: [process.execPath] }],
];

/** The netns at another path than /run/netns (as a runtime may give it): a bind mount, unmounted at teardown. */
function elsewhere(t: Parameters<typeof tempDir>[0], ns: { path: string }): string {
  const file = join(tempDir(t), "netns");
  writeFileSync(file, "");
  sh("mount", ["--bind", ns.path, file]);
  t.teardown(() => {
    sh("umount", [file]);
  });
  return file;
}

for (const [way, runner] of ways) {
  for (const where of ["named", "elsewhere"] as const) {
    t.test(
      `${way}, a netns ${where === "named" ? "ip netns names" : "at another path"}: a name the pod has is refused, others pass`,
      async (t) => {
        const s = scenario(t);
        const ns = makeNetns(t);
        const netns = where === "named" ? ns.path : elsewhere(t, ns);
        // The pod has a net1 already (one end of a veth pair); eth0 is free.
        const host = uniqueName("mtve");
        sh("ip", ["link", "add", host, "type", "veth", "peer", "name", uniqueName("mtvp")]);
        cleanupLink(t, host);
        const peer = sh("ip", ["-o", "link", "show", host]).match(/@(\S+?):/)?.[1] ?? "";
        sh("ip", ["link", "set", peer, "netns", ns.name]);
        sh("ip", ["-n", ns.name, "link", "set", peer, "name", "net1"]);
        const call = { ...runner, containerId: "mtnsck", netns };
        const r = await runPlugin({ ...call, command: "ADD", stdin: s.netconf([s.bridge(), s.ptp()]) });
        t.equal(r.json?.code, 102, r.stdout);
        t.match(String(r.json?.msg), /interface name "net1" \(network "ptp-net"\) already exists in the pod's network namespace/);
        t.same(links(ns.name), ["net1"], "nothing attached; the pod's net1 untouched");
        t.same(reservations(s.ipamDir), []);
        const ok = await runPlugin({ ...call, command: "ADD", stdin: s.netconf([s.bridge()]) });
        t.equal(ok.code, 0, ok.stdout);
        t.same(links(ns.name).sort(), ["eth0", "net1"]);
        t.equal((await runPlugin({ ...call, command: "DEL", stdin: s.netconf([s.bridge()]) })).code, 0);
        t.same(links(ns.name), ["net1"]);
      },
    );
  }

  t.test(`${way}: a CNI_NETNS that is missing, or no network namespace, is code 4 before anything runs`, async (t) => {
    const s = scenario(t);
    const file = join(tempDir(t), "not-a-netns");
    writeFileSync(file, "");
    for (const [netns, why] of [
      [join(tempDir(t), "gone"), /does not exist/],
      [file, /is not a (usable )?network namespace/],
    ] as const) {
      const r = await runPlugin({ ...runner, command: "ADD", containerId: "mtnsbad", netns, stdin: s.netconf([s.bridge()]) });
      t.equal(r.json?.code, 4, r.stdout);
      t.match(String(r.json?.msg), why);
      t.same(reservations(s.ipamDir), []);
      t.notOk(existsSync(join(s.cniDir, "mtnsbad")), "no record");
    }
  });
}
