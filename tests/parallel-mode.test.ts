// "parallel": true runs the delegates of one ADD or DEL at once.
import { existsSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

t.test("parallel ADD and DEL give the same pod as the ordered ones", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const third = s.ptp({ name: "ptp-3", ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir } });
  const call = { containerId: "par-mode-1", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp(), third], { parallel: true }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net1", "net2"]);
  t.match((r.json!.ips as { address: string }[])[0].address, s.subnets[0].prefix, "the cluster network's result");
  t.equal((await runPlugin({ ...call, command: "CHECK" })).code, 0);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

t.test("a parallel ADD with one failing delegate rolls back all of them", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bad = {
    cniVersion: "1.0.0",
    name: "bad",
    type: "macvlan",
    master: "mtnosuchlink",
    ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir },
  };
  const call = { containerId: "par-mode-2", netns: ns.path, stdin: s.netconf([s.bridge(), bad, s.ptp()], { parallel: true }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 1);
  t.match(r.json!.msg, /cannot attach network "bad" as net1/);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "par-mode-2")));
});
