// Upgrade in place: pods attached by upstream Multus are checked and deleted
// by our plugin, from upstream's record and libcni's results files, with the
// API server up or down; nothing is left behind.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { addresses, cleanupLink, links, makeNetns, reservations, uniqueName } from "./helpers/netns.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";
import {
  addAsLibcni,
  CONTAINER_ID,
  FIXTURE,
  fixtureFiles,
  POD_ARGS,
  putFixturePod,
  simulateUpstreamAdd,
  upstreamBinaryAdd,
  upstreamWorld,
} from "./helpers/upstream-state.ts";

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

const upstreamBin = process.env.UPSTREAM_MULTUS;
const producers = [
  { name: "upstream's ADD (reproduced)", add: simulateUpstreamAdd },
  ...(upstreamBin
    ? [{ name: "upstream's ADD (its binary)", add: (w: Parameters<typeof simulateUpstreamAdd>[0]) => upstreamBinaryAdd(w, upstreamBin) }]
    : []),
];

for (const producer of producers) {
  for (const apiUp of [false, true]) {
    t.test(`${producer.name}, then our CHECK and DEL with the API server ${apiUp ? "up" : "down"}`, async (t) => {
      const api = await startApiServer();
      t.teardown(() => api.stop());
      const s = scenario(t, "0.4.0");
      const ns = makeNetns(t);
      const w = upstreamWorld(t, s, ns.path, api);
      putFixturePod(w, api);
      await producer.add(w);

      // Upstream's state, as the fixture has it: its record and one results file per attachment.
      const expected = fixtureFiles(w);
      t.same(filesUnder(w.cniDir), [...expected.keys()].sort(), "the fixture's files");
      t.equal(readFileSync(join(w.cniDir, CONTAINER_ID), "utf8"), expected.get(CONTAINER_ID), "upstream's record, byte for byte");
      for (const [name, text] of expected) {
        if (name === CONTAINER_ID) continue;
        const { result: _r, ...want } = JSON.parse(text);
        const { result, ...got } = JSON.parse(readFileSync(join(w.cniDir, name), "utf8"));
        t.same(got, want, `${name}: libcni's record of the ADD`);
        t.ok(result?.ips?.length, `${name}: the delegate's result`);
      }
      t.same(links(ns.name).sort(), ["data0", "eth0", "net2"]);
      t.same(addresses(ns.name, "data0"), [`${s.subnets[1].prefix}.50/24`], "fx-br's static address");
      t.equal(reservations(s.ipamDir).length, 2, "fx-cluster's and fx-ptp's host-local reservations");

      if (!apiUp) await api.stop();
      const call = { containerId: CONTAINER_ID, netns: ns.path, args: POD_ARGS, stdin: w.netconf };
      const c = await runPlugin({ ...call, command: "CHECK" });
      t.equal(c.code, 0, `our CHECK of upstream's attachments: ${c.stdout}`);

      const d = await runPlugin({ ...call, command: "DEL" });
      t.equal(d.code, 0, d.stdout);
      t.same(links(ns.name), [], "every interface upstream attached is gone");
      t.same(reservations(s.ipamDir), [], "every reservation is released");
      const afterUpstreamDel = readFileSync(join(FIXTURE, "cniDir-files-after-del.txt"), "utf8").split("\n").filter(Boolean);
      t.same(filesUnder(w.cniDir), afterUpstreamDel, "upstream's record and results files are removed, as upstream's DEL does");
      t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, "a repeated DEL is a no-op");
    });
  }
}

t.test("an upstream record whose results files are gone is still deleted (no prevResult), and CHECK says it is incomplete", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const s = scenario(t, "0.4.0");
  const ns = makeNetns(t);
  const w = upstreamWorld(t, s, ns.path, api);
  await simulateUpstreamAdd(w);
  const { rmSync } = await import("node:fs");
  rmSync(join(w.cniDir, "results"), { recursive: true });
  await api.stop();
  const call = { containerId: CONTAINER_ID, netns: ns.path, args: POD_ARGS, stdin: w.netconf };
  const c = await runPlugin({ ...call, command: "CHECK" });
  t.equal(c.json?.code, 101);
  t.match(String(c.json?.msg), /did not complete/);
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.same(filesUnder(w.cniDir), []);
});

const ourRecords = [
  { what: "a record written by release 0.1.0", dir: "record-v0.1.0", file: "reccontainer1" },
  { what: "a record of format 1 (no version field, a default route moved)", dir: "record-format-1", file: "reccontainer2" },
];
for (const { what, dir, file } of ourRecords) {
  t.test(`${what} is still read: CHECK passes, DEL releases everything`, async (t) => {
    const s = scenario(t, "1.0.0");
    const ns = makeNetns(t);
    const fixture = join(ROOT, "tests", "fixtures", dir);
    const bridges = [uniqueName("mtbr"), uniqueName("mtbr")];
    for (const b of bridges) cleanupLink(t, b);
    const subs: [string, string][] = [
      ["/TMP", s.dir],
      ["/var/run/netns/POD", ns.path],
      ["barbrrec0", bridges[0]],
      ["barbrrec1", bridges[1]],
      ...[0, 1, 2].map((i): [string, string] => [`10.219.8${i}.`, `${s.subnets[i].prefix}.`]),
    ];
    const sub = (f: string) => subs.reduce((text, [from, to]) => text.replaceAll(from, to), readFileSync(join(fixture, f), "utf8"));
    const rec = JSON.parse(sub(file));
    // The attachments it names, made for real (their results replace the recording run's).
    for (const a of rec.attachments) {
      a.result = await addAsLibcni(a.config, {
        containerId: rec.containerId,
        netns: ns.path,
        ifName: a.ifName,
        cniArgs: a.cniArgs ?? rec.cniArgs,
        ...(a.runtimeConfig ? { runtimeConfig: a.runtimeConfig } : {}),
      });
    }
    mkdirSync(s.cniDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(s.cniDir, rec.containerId), JSON.stringify(rec), { mode: 0o600 });
    t.same(links(ns.name).sort(), ["data0", "eth0", "net2"]);
    const call = { containerId: rec.containerId, netns: ns.path, args: rec.cniArgs, stdin: JSON.parse(sub("netconf.json")) };
    const c = await runPlugin({ ...call, command: "CHECK" });
    t.equal(c.code, 0, c.stdout);
    const d = await runPlugin({ ...call, command: "DEL" });
    t.equal(d.code, 0, d.stdout);
    t.same(links(ns.name), []);
    t.same(reservations(s.ipamDir), []);
    t.same(cacheEntries(s.cniDir), []);
  });
}

t.test("GC after an upgrade: a valid pod upstream attached is known (its networks get GC), one no longer valid is removed", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const s = scenario(t, "0.4.0");
  const ns = makeNetns(t);
  const w = upstreamWorld(t, s, ns.path, api);
  await simulateUpstreamAdd(w);
  await api.stop();
  const gc = (valid: { containerID: string; ifname: string }[]) =>
    runPlugin({ command: "GC", stdin: { ...w.netconf, cniVersion: "1.1.0", "cni.dev/valid-attachments": valid } });
  const kept = await gc([{ containerID: CONTAINER_ID, ifname: "eth0" }]);
  t.equal(kept.code, 0, `its record is read, not "unknown": ${kept.stdout}`);
  t.same(links(ns.name).sort(), ["data0", "eth0", "net2"], "a valid pod keeps its interfaces");
  const removed = await gc([]);
  t.equal(removed.code, 0, removed.stdout);
  t.same(links(ns.name), [], "in its netns, which still exists");
  t.same(reservations(s.ipamDir), []);
  t.same(filesUnder(w.cniDir), [], "upstream's record and results files are gone");
});
