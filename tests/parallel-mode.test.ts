// "parallel": true runs the delegates of one ADD or DEL at once (a bounded number at a time).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { MAX_PARALLEL_DELEGATES } from "../lib/delegate-exec.ts";
import { fakeBin } from "./helpers/fake-plugins.ts";
import { links, makeNetns, reservations, tempDir } from "./helpers/netns.ts";
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

t.test(`"parallel" runs at most ${MAX_PARALLEL_DELEGATES} delegates at once, however many there are`, async (t) => {
  const dir = tempDir(t);
  const running = join(dir, "running");
  mkdirSync(running);
  const counts = join(dir, "counts");
  // Each call says how many calls run beside it, then stays a while.
  const path = fakeBin(t, {
    slow: `cat >/dev/null; touch ${running}/$$; echo "$CNI_COMMAND $(ls ${running} | wc -l)" >> ${counts}; sleep 0.3; rm ${running}/$$
[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0"}'; exit 0`,
  });
  const delegates = Array.from({ length: 24 }, (_, i) => ({ cniVersion: "1.0.0", name: `slow-${i}`, type: "slow" }));
  const conf = { cniVersion: "1.0.0", name: "par", type: "multus", cniDir: join(dir, "cache"), parallel: true, delegates };
  const call = { containerId: "par-cap-1", netns: makeNetns(t).path, path, stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  const seen = readFileSync(counts, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" "));
  for (const verb of ["ADD", "DEL"]) {
    const n = seen.filter(([v]) => v === verb).map(([, c]) => Number(c));
    t.equal(n.length, 24, `${verb}: every delegate ran`);
    t.ok(Math.max(...n) <= MAX_PARALLEL_DELEGATES, `${verb}: at most ${Math.max(...n)} at once`);
    t.ok(Math.max(...n) > 1, `${verb}: still in parallel`);
  }
});
