// A failed ADD undoes everything it did: interfaces, address reservations, cache record.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { addresses, links, makeNetns, reservations } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

t.test("delegate 3 of 4 fails at run time: 3, 2 and 1 are rolled back, nothing leaks", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  // macvlan on a host link that does not exist fails after bridge and ptp attached.
  const bad = {
    cniVersion: "1.0.0",
    name: "bad-macvlan",
    type: "macvlan",
    master: "mtnosuchlink",
    ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir },
  };
  const fourth = s.ptp({ name: "ptp-4", ipam: { type: "host-local", subnet: "10.199.254.0/24", dataDir: s.ipamDir } });
  const conf = s.netconf([s.bridge(), s.ptp(), bad, fourth]);
  const r = await runPlugin({ command: "ADD", containerId: "rb1", netns: ns.path, stdin: conf });
  t.equal(r.code, 1);
  t.equal(r.json!.code, 100);
  t.match(r.json!.msg, /cannot attach network "bad-macvlan" as net2: plugin "macvlan" failed: Link not found/);
  t.same(links(ns.name), [], "no interface left in the pod");
  t.same(reservations(s.ipamDir), [], "no address reserved");
  t.notOk(existsSync(join(s.cniDir, "rb1")), "no cache record");
  // The next DEL the runtime sends is a clean no-op.
  const d = await runPlugin({ command: "DEL", containerId: "rb1", netns: ns.path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
});

t.test("a missing plugin binary fails before anything is attached", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge(), { cniVersion: "1.0.0", name: "ghost", type: "no-such-plugin" }]);
  const r = await runPlugin({ command: "ADD", containerId: "rb2", netns: ns.path, stdin: conf });
  t.equal(r.json!.code, 7);
  t.match(r.json!.msg, /failed to find plugin "no-such-plugin" in path \[\/usr\/lib\/cni\]/);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "rb2")));
});

t.test("a second ADD for the same container leaves the first ADD's interfaces alone", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge(), s.ptp()]);
  const call = { containerId: "rb3", netns: ns.path, stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const before = addresses(ns.name, "eth0");
  const again = await runPlugin({ ...call, command: "ADD" });
  t.equal(again.code, 1);
  t.equal(again.json!.code, 104);
  t.match(again.json!.msg, /already has networks attached by an earlier ADD: eth0 \(br-net\), net1 \(ptp-net\)/);
  t.same(links(ns.name).sort(), ["eth0", "net1"]);
  t.same(addresses(ns.name, "eth0"), before);
  t.equal(reservations(s.ipamDir).length, 2, "both reservations still held");
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.same(reservations(s.ipamDir), []);
});

t.test("a delegate result nested 100,000 deep is that delegate's failure: rolled back, nothing left", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bin = join(s.dir, "bin");
  mkdirSync(bin);
  const depth = 100_000;
  writeFileSync(join(s.dir, "deep.json"), `{"cniVersion":"1.0.0","x":${"[".repeat(depth)}${"]".repeat(depth)}}`);
  writeFileSync(join(bin, "mtdeep"), `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && cat ${join(s.dir, "deep.json")}\nexit 0\n`);
  chmodSync(join(bin, "mtdeep"), 0o755);
  const conf = s.netconf([s.bridge(), { cniVersion: "1.0.0", name: "deep", type: "mtdeep" }]);
  const call = { containerId: "rb4", netns: ns.path, path: `${bin}:/usr/lib/cni`, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 1);
  t.equal(r.json?.code, 100, "a delegate failure");
  t.match(r.json?.msg, /cannot attach network "deep" as net1: plugin "mtdeep" failed: .*nested deeper than/);
  t.notOk(r.json?.details, "the rollback had nothing to report");
  t.same(links(ns.name), [], "no interface left in the pod");
  t.same(reservations(s.ipamDir), [], "no address reserved");
  t.same(cacheEntries(s.cniDir), [], "no record, no temp file");
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});
