// GC (CNI 1.1): the runtime lists the attachments that are still valid. Only
// cached containers missing from a well-formed list are torn down; a missing
// or malformed list is an error and touches nothing.
import { existsSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const VALID = "cni.dev/valid-attachments";

/** Two pods attached through the plugin: c1 and c2, each with eth0 + net1. */
async function twoPods(t: Test) {
  // Debian's reference plugins speak up to 1.0.0; our own config is 1.1.0 (GC exists since).
  const s = scenario(t, "1.0.0");
  const pods = [
    { id: "gcpod1", ns: makeNetns(t) },
    { id: "gcpod2", ns: makeNetns(t) },
  ];
  const conf = { ...s.netconf([s.bridge(), s.ptp()]), cniVersion: "1.1.0" };
  for (const p of pods) {
    const r = await runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, stdin: conf });
    t.equal(r.code, 0, r.code === 0 ? `ADD ${p.id}` : r.stdout);
  }
  const intact = (id: string) => {
    const p = pods.find((x) => x.id === id)!;
    return existsSync(join(s.cniDir, id)) && links(p.ns.name).length === 2;
  };
  const gc = (extra: Record<string, unknown>) => runPlugin({ command: "GC", stdin: { ...conf, ...extra } });
  return { s, pods, intact, gc };
}

t.test("a well-formed list: only the containers absent from it are torn down", async (t) => {
  const { s, intact, gc } = await twoPods(t);
  const r = await gc({ [VALID]: [{ containerID: "gcpod1", ifname: "eth0" }] });
  t.equal(r.code, 0, r.stdout);
  t.ok(intact("gcpod1"), "the listed pod keeps its interfaces and record");
  t.notOk(existsSync(join(s.cniDir, "gcpod2")), "the unlisted pod's record is gone");
  t.equal(reservations(s.ipamDir).length, 2, "only the listed pod's two addresses remain");
});

t.test("an empty list is well formed: every cached container goes", async (t) => {
  const { s, gc } = await twoPods(t);
  const r = await gc({ [VALID]: [] });
  t.equal(r.code, 0, r.stdout);
  t.same(reservations(s.ipamDir), []);
});

const malformed: [string, Record<string, unknown>, RegExp][] = [
  ["the list is missing", {}, /"cni\.dev\/valid-attachments" is missing/],
  ["the list is not a list", { [VALID]: { containerID: "gcpod1" } }, /must be a list/],
  ["an entry is empty", { [VALID]: [{}] }, /\[0\]\.containerID/],
  ["an entry is a string", { [VALID]: ["gcpod1"] }, /\[0\] must be an object/],
  ["an entry has no ifname", { [VALID]: [{ containerID: "gcpod1" }] }, /\[0\]\.ifname/],
  [
    "a later entry is bad",
    {
      [VALID]: [
        { containerID: "gcpod1", ifname: "eth0" },
        { containerID: 7, ifname: "eth0" },
      ],
    },
    /\[1\]\.containerID/,
  ],
];
for (const [what, extra, field] of malformed) {
  t.test(`${what}: a CNI error naming the field, and nothing is torn down`, async (t) => {
    const { s, intact, gc } = await twoPods(t);
    const r = await gc(extra);
    t.equal(r.code, 1);
    t.equal(r.json?.code, 7, "InvalidNetworkConfig");
    t.match(String(r.json?.msg), field);
    t.ok(intact("gcpod1") && intact("gcpod2"), "both pods keep their interfaces and records");
    t.equal(reservations(s.ipamDir).length, 4, "all four addresses still reserved");
  });
}
