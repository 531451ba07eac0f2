// Load: 32 pods added and deleted at once; the leak count must be zero.
import t from "tap";
import { addresses, links, makeNetns, reservations } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

const N = 32;

t.test(`${N} parallel ADDs then ${N} parallel DELs: consistent cache and reservations, 0 leaks`, async (t) => {
  const s = scenario(t);
  const conf = s.netconf([s.bridge(), s.ptp()]);
  const pods = Array.from({ length: N }, (_, i) => ({ ns: makeNetns(t), id: `load-${i}` }));
  const started = Date.now();
  const adds = await Promise.all(pods.map((p) => runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, stdin: conf })));
  const addMs = Date.now() - started;
  for (const [i, r] of adds.entries()) t.equal(r.code, 0, `ADD ${i}: ${r.stdout}`);
  const ips = pods.flatMap((p) => [...addresses(p.ns.name, "eth0"), ...addresses(p.ns.name, "net1")]);
  t.equal(new Set(ips).size, 2 * N, "every address distinct");
  t.equal(reservations(s.ipamDir).length, 2 * N, "one reservation per interface");
  t.same(cacheEntries(s.cniDir).sort(), pods.map((p) => p.id).sort(), "one record per pod, no temp files");

  const delStarted = Date.now();
  const dels = await Promise.all(pods.map((p) => runPlugin({ command: "DEL", containerId: p.id, netns: p.ns.path, stdin: conf })));
  const delMs = Date.now() - delStarted;
  for (const [i, r] of dels.entries()) t.equal(r.code, 0, `DEL ${i}: ${r.stdout}`);
  const leaks = {
    interfaces: pods.reduce((n, p) => n + links(p.ns.name).length, 0),
    reservations: reservations(s.ipamDir).length,
    cacheFiles: cacheEntries(s.cniDir).length,
  };
  t.comment(`load: ${N} ADDs in ${addMs} ms, ${N} DELs in ${delMs} ms; leaks found: ${JSON.stringify(leaks)}`);
  t.same(leaks, { interfaces: 0, reservations: 0, cacheFiles: 0 });
});
