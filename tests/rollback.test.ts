// A failed ADD undoes everything it did: interfaces, address reservations, cache record.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { fakeBin, recorder } from "./helpers/fake-plugins.ts";
import { addresses, links, makeNetns, reservations, tempDir } from "./helpers/netns.ts";
import { CNI_BIN, runPlugin } from "./helpers/run-plugin.ts";
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

t.test("the delegate whose ADD failed is DELed by the rollback too (it may have reserved something first)", async (t) => {
  const dir = tempDir(t);
  const calls = join(dir, "calls");
  const path = fakeBin(t, {
    good: recorder(calls).replace("$CNI_COMMAND", "good $CNI_COMMAND"),
    bad: `echo "bad $CNI_COMMAND" >> ${calls}; cat >/dev/null; [ "$CNI_COMMAND" = ADD ] || exit 0; echo '{"code":11,"msg":"no room"}'; exit 1`,
  });
  const conf = {
    cniVersion: "1.0.0",
    name: "rb",
    type: "multus",
    cniDir: join(dir, "cache"),
    delegates: [
      { cniVersion: "1.0.0", name: "good-net", type: "good" },
      { cniVersion: "1.0.0", name: "bad-net", type: "bad" },
    ],
  };
  const r = await runPlugin({ command: "ADD", containerId: "rb6", netns: makeNetns(t).path, path, stdin: conf });
  t.equal(r.json?.code, 100);
  t.match(String(r.json?.msg), /cannot attach network "bad-net" as net1: plugin "bad" failed: no room/);
  t.same(
    readFileSync(calls, "utf8").trim().split("\n"),
    ["good ADD eth0", "bad ADD", "bad DEL", "good DEL eth0"],
    "newest first, the failed one included",
  );
  t.notOk(existsSync(join(dir, "cache", "rb6")));
});

t.test("an attachment whose rollback DEL fails stays in the record, so the runtime's DEL releases its address", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const broken = join(s.dir, "del-broken");
  writeFileSync(broken, "");
  // ptp whose DEL fails while `broken` exists (a plugin or its datastore down for a while).
  const path = fakeBin(t, {
    flaky: `[ "$CNI_COMMAND" = DEL ] && [ -e ${broken} ] && { cat >/dev/null; echo '{"code":11,"msg":"datastore down"}'; exit 1; }; exec ${CNI_BIN}/ptp`,
    refuses: `cat >/dev/null; [ "$CNI_COMMAND" = ADD ] || exit 0; echo '{"code":7,"msg":"refused"}'; exit 1`,
  });
  const conf = s.netconf([s.ptp({ type: "flaky" }), { cniVersion: "1.0.0", name: "refusing", type: "refuses" }]);
  const call = { containerId: "rb5", netns: ns.path, path, stdin: conf };
  const add = await runPlugin({ ...call, command: "ADD" });
  t.equal(add.json?.code, 100);
  t.match(String(add.json?.details), /rollback:\nDEL network "ptp-net" \(eth0\): .*datastore down/);
  t.equal(reservations(s.ipamDir).length, 1, "the address the rollback could not release");
  t.ok(existsSync(join(s.cniDir, "rb5")), "the record stays");
  const rec = existsSync(join(s.cniDir, "rb5")) ? JSON.parse(readFileSync(join(s.cniDir, "rb5"), "utf8")) : { attachments: [] };
  t.same(
    rec.attachments.map((a: { network: string; result?: unknown }) => [a.network, a.result !== undefined]),
    [["ptp-net", true]],
    "the record keeps that attachment, with its result, and only it",
  );
  // The runtime's DEL while the plugin is still broken: it fails and says so (it will retry).
  const del = await runPlugin({ ...call, command: "DEL" });
  t.equal(del.json?.code, 100, "DEL fails while the address cannot be released");
  t.match(String(del.json?.msg), /DEL of network "ptp-net" on eth0: plugin "flaky" failed: datastore down/);
  rmSync(broken);
  const retry = await runPlugin({ ...call, command: "DEL" });
  t.equal(retry.code, 0, retry.stdout);
  t.same(reservations(s.ipamDir), [], "released");
  t.same(links(ns.name), []);
  t.notOk(existsSync(join(s.cniDir, "rb5")));
});
