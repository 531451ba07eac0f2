// Legacy delegates mode: which delegate gets which interface, through the built plugin.
import t from "tap";
import { addresses, links, makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

t.test("without masterplugin: delegates[0] gets CNI_IFNAME, the others net<index>", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([
    s.bridge(),
    s.ptp(),
    s.ptp({ name: "ptp-2", ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir } }),
  ]);
  const call = { containerId: "naming1", netns: ns.path, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net1", "net2"]);
  t.match(addresses(ns.name, "eth0")[0], new RegExp(`^${s.subnets[0].prefix.replace(/\./g, "\\.")}\\.`));
  t.match(addresses(ns.name, "net1")[0], new RegExp(`^${s.subnets[1].prefix.replace(/\./g, "\\.")}\\.`));
  // The returned result is the cluster network's (bridge on eth0).
  const ifs = (r.json!.interfaces as { name: string; sandbox?: string }[]).filter((i) => i.sandbox);
  t.same(
    ifs.map((i) => i.name),
    ["eth0"],
  );
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
});

t.test("masterplugin: the master gets CNI_IFNAME and runs first, others net0, net1 counting non-masters", async (t) => {
  const s = scenario(t, "0.3.1");
  const ns = makeNetns(t);
  const conf = s.netconf([
    s.ptp(),
    s.ptp({ name: "ptp-2", ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir } }),
    s.bridge({ masterplugin: true }),
  ]);
  const call = { containerId: "naming2", netns: ns.path, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net0", "net1"]);
  t.match(addresses(ns.name, "eth0")[0], s.subnets[0].prefix);
  t.match(addresses(ns.name, "net0")[0], s.subnets[1].prefix);
  t.match(addresses(ns.name, "net1")[0], s.subnets[2].prefix);
  // The master's (bridge) result is returned.
  t.match((r.json!.ips as { address: string }[])[0].address, s.subnets[0].prefix);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.same(links(ns.name), []);
});

t.test("ifnameRequest names an interface", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge(), s.ptp({ ifnameRequest: "data0" })]);
  const call = { containerId: "naming3", netns: ns.path, stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.same(links(ns.name).sort(), ["data0", "eth0"]);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("two masterplugin delegates are a config error, nothing attached", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge({ masterplugin: true }), s.ptp({ masterplugin: true })]);
  const r = await runPlugin({ command: "ADD", containerId: "naming4", netns: ns.path, stdin: conf });
  t.equal(r.code, 1);
  t.equal(r.json!.code, 7);
  t.match(r.json!.msg, /only one delegate can have "masterplugin"/);
  t.same(links(ns.name), []);
});

t.test("an interface name requested twice is rejected before anything runs", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge(), s.ptp({ ifnameRequest: "eth0" })]);
  const r = await runPlugin({ command: "ADD", containerId: "naming5", netns: ns.path, stdin: conf });
  t.equal(r.json!.code, 7);
  t.match(r.json!.msg, /interface name "eth0" is used by both network "br-net" and network "ptp-net"/);
  t.same(links(ns.name), []);
});
