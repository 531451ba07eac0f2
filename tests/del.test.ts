// DEL is idempotent, uses the cache, and releases addresses even when things are gone.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { links, makeNetns, reservations, sh } from "./helpers/netns.ts";
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

t.test("DEL without CNI_NETNS uses the netns recorded at ADD", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge(), s.ptp()]);
  t.equal((await runPlugin({ command: "ADD", containerId: "del6", netns: ns.path, stdin: conf })).code, 0);
  const d = await runPlugin({ command: "DEL", containerId: "del6", stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});
