// Many pods at once on one host-local subnet: distinct addresses, clean teardown.
import t from "tap";
import { addresses, links, makeNetns, reservations } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

const N = 16;

t.test(`${N} parallel ADDs into ${N} netns get ${N} distinct IPs; parallel DELs leave nothing`, async (t) => {
  const s = scenario(t);
  const conf = s.netconf([s.bridge(), s.ptp()]);
  const pods = Array.from({ length: N }, (_, i) => ({ ns: makeNetns(t), id: `par-${i}` }));
  const adds = await Promise.all(pods.map((p) => runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, stdin: conf })));
  for (const [i, r] of adds.entries()) t.equal(r.code, 0, `ADD ${i}: ${r.stdout}`);
  const eth0 = pods.map((p) => addresses(p.ns.name, "eth0")[0]);
  const net1 = pods.map((p) => addresses(p.ns.name, "net1")[0]);
  t.equal(new Set(eth0).size, N, "distinct bridge addresses");
  t.equal(new Set(net1).size, N, "distinct ptp addresses");
  t.equal(reservations(s.ipamDir).length, 2 * N);
  t.equal(cacheEntries(s.cniDir).length, N, "one cache record per pod");

  const dels = await Promise.all(pods.map((p) => runPlugin({ command: "DEL", containerId: p.id, netns: p.ns.path, stdin: conf })));
  for (const [i, r] of dels.entries()) t.equal(r.code, 0, `DEL ${i}: ${r.stdout}`);
  for (const p of pods) t.same(links(p.ns.name), [], `${p.id} is empty`);
  t.same(reservations(s.ipamDir), [], "no reservation left");
  t.same(cacheEntries(s.cniDir), [], "no cache record left");
});
