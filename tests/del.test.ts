// DEL is idempotent, uses the cache, and releases addresses even when things are gone.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cleanupLink, links, makeNetns, reservations, sh, uniqueName } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

t.test("DEL twice: both succeed, everything is released", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "del1", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.equal(reservations(s.ipamDir).length, 2);
  const first = await runPlugin({ ...call, command: "DEL" });
  t.equal(first.code, 0, first.stdout);
  t.equal(first.stdout, "", "DEL prints nothing on success");
  const second = await runPlugin({ ...call, command: "DEL" });
  t.equal(second.code, 0, second.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "del1")));
});

t.test("DEL after the netns is gone still releases the addresses and the cache", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "del2", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  sh("ip", ["netns", "del", ns.name]);
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "del2")));
});

t.test("DEL uses the cache record, not stdin", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "del3", netns: ns.path };
  t.equal((await runPlugin({ ...call, command: "ADD", stdin: s.netconf([s.bridge(), s.ptp()]) })).code, 0);
  // The config changed (or broke) since ADD: the record still says what to remove.
  const other = s.netconf([{ cniVersion: "1.0.0", name: "gone", type: "no-such-plugin" }]);
  const d = await runPlugin({ ...call, command: "DEL", stdin: other });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

t.test("DEL without a cache record DELs the netconf's delegates so addresses are released", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "del4", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  rmSync(join(s.cniDir, "del4"));
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

t.test("a corrupt cache record falls back to the netconf's delegates and is removed", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "del5", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  writeFileSync(join(s.cniDir, "del5"), "{ half a rec");
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "del5")));
});

t.test("DEL without CNI_NETNS passes it on empty: the delegates are not sent to a stale path", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const seen = join(s.dir, "seen-netns");
  // A bridge that records the CNI_NETNS it was given on DEL.
  const bin = join(s.dir, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "spybridge"),
    `#!/bin/sh\n[ "$CNI_COMMAND" = DEL ] && printf '%s' "[$CNI_NETNS]" > ${seen}\nexec /usr/lib/cni/bridge\n`,
  );
  chmodSync(join(bin, "spybridge"), 0o755);
  const conf = s.netconf([s.bridge({ type: "spybridge" }), s.ptp()]);
  const path = `${bin}:/usr/lib/cni`;
  t.equal((await runPlugin({ command: "ADD", containerId: "del6", netns: ns.path, path, stdin: conf })).code, 0);
  sh("ip", ["netns", "del", ns.name]); // a reboot: the namespace is gone
  const d = await runPlugin({ command: "DEL", containerId: "del6", netns: "", path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.equal(readFileSync(seen, "utf8"), "[]", "the delegate got CNI_NETNS as the runtime gave it");
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "del6")));
});

t.test("after a reboot, a host-device network DELs with an empty CNI_NETNS and the record goes", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  // No dummy links on every kernel: host-device gets one end of a veth pair.
  const dev = uniqueName("mthd");
  const peer = uniqueName("mthp");
  sh("ip", ["link", "add", dev, "type", "veth", "peer", "name", peer]);
  cleanupLink(t, dev);
  cleanupLink(t, peer);
  const hostDevice = { cniVersion: "1.0.0", name: "hd-net", type: "host-device", device: dev };
  const conf = s.netconf([s.bridge(), hostDevice]);
  const add = await runPlugin({ command: "ADD", containerId: "del7", netns: ns.path, stdin: conf });
  t.equal(add.code, 0, add.stdout);
  t.ok(links(ns.name).includes("net1"), "the device is in the pod as net1");
  sh("ip", ["netns", "del", ns.name]); // a reboot: the namespace and the veth are gone
  const d = await runPlugin({ command: "DEL", containerId: "del7", netns: "", stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.same(reservations(s.ipamDir), [], "the bridge network's address is released");
  t.notOk(existsSync(join(s.cniDir, "del7")), "no record is left for the runtime to retry forever");
});

/** A ptp whose DEL fails (until the file `ok` exists in its dir). */
function flakyDelBin(dir: string): string {
  const bin = join(dir, "flakybin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "flakyptp"),
    `#!/bin/sh\nif [ "$CNI_COMMAND" = DEL ] && [ ! -e ${bin}/ok ]; then echo '{"code":999,"msg":"DEL refused"}'; exit 1; fi\nexec /usr/lib/cni/ptp\n`,
  );
  chmodSync(join(bin, "flakyptp"), 0o755);
  return bin;
}

t.test("a failed delegate DEL: only that attachment stays in the record, and the retry finishes it", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bin = flakyDelBin(s.dir);
  const call = {
    containerId: "del8",
    netns: ns.path,
    path: `${bin}:/usr/lib/cni`,
    stdin: s.netconf([s.bridge(), s.ptp({ type: "flakyptp" })]),
  };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 1);
  t.match(String(d.json?.msg), /DEL refused/);
  const rec = JSON.parse(readFileSync(join(s.cniDir, "del8"), "utf8"));
  t.same(
    rec.attachments.map((a: { ifName: string }) => a.ifName),
    ["net1"],
    "only the failed attachment is kept",
  );
  writeFileSync(join(bin, "ok"), "");
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, "the runtime's retry");
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "del8")));
});

t.test('"retryDeleteOnError": false: a failed delegate DEL is reported, and the record goes anyway', async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bin = flakyDelBin(s.dir);
  const conf = s.netconf([s.bridge(), s.ptp({ type: "flakyptp" })], { retryDeleteOnError: false });
  const call = { containerId: "del9", netns: ns.path, path: `${bin}:/usr/lib/cni`, stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 1);
  t.match(String(d.json?.msg), /DEL refused/);
  t.notOk(existsSync(join(s.cniDir, "del9")), "no record is kept for a retry");
  writeFileSync(join(bin, "ok"), "");
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, "a later DEL still releases what the config names");
  t.same(reservations(s.ipamDir), []);
});
