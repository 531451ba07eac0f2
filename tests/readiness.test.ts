// readinessindicatorfile gates ADD (never DEL) in every mode; this is
// delegates mode (Kubernetes mode: tests/crd.test.ts).
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

t.test("delegates mode: ADD waits for the file, fails with code 11 naming it, and attaches nothing", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const ready = join(s.dir, "cluster-network-ready");
  const conf = s.netconf([s.bridge(), s.ptp()], { readinessindicatorfile: ready, readinessTimeout: 0.3 });
  const call = { containerId: "ready-1", netns: ns.path, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 1);
  t.equal(r.json?.code, 11, "try again later");
  t.match(String(r.json?.msg), `the cluster network is not ready: ${ready} does not exist`);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), []);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, "DEL never waits for readiness");

  writeFileSync(ready, "");
  const ok = await runPlugin({ ...call, command: "ADD" });
  t.equal(ok.code, 0, ok.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net1"]);
  rmSync(ready); // the cluster network restarts
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, "DEL of an attached pod does not wait either");
  t.same(reservations(s.ipamDir), []);
});
