// GC (CNI 1.1): the runtime lists the attachments that are still valid. Only
// cached containers missing from a well-formed list are torn down (in their
// netns while it exists, never while their ADD runs); a missing or malformed
// list is an error and touches nothing. Then every network the records name,
// and the networks every pod gets, get one GC each with their attachments
// that remain.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { links, makeNetns, reservations, sh, tempDir, uniqueName } from "./helpers/netns.ts";
import { recorder } from "./helpers/recorder.ts";
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

t.test("a container left out of the list whose netns still exists loses its interfaces with its addresses", async (t) => {
  const { s, pods, gc } = await twoPods(t);
  const r = await gc({ [VALID]: [{ containerID: "gcpod1", ifname: "eth0" }] });
  t.equal(r.code, 0, r.stdout);
  // Addresses released while eth0/net1 stayed up in the pod could be handed to another pod.
  t.same(links(pods[1].ns.name), [], "the unlisted pod's interfaces are gone");
  t.same(links(pods[0].ns.name).sort(), ["eth0", "net1"], "the listed pod keeps its own");
  t.equal(reservations(s.ipamDir).length, 2);
});

/** Pods attached with the bridge as cluster network and a recording 1.1.0 delegate as net1. */
async function recordedPods(t: Test, ids: string[]) {
  const s = scenario(t, "1.0.0");
  const rec = recorder(t);
  const conf = { ...s.netconf([s.bridge(), rec.conf("rec-net")]), cniVersion: "1.1.0" };
  const pods = ids.map((id) => ({ id, ns: makeNetns(t) }));
  for (const p of pods) {
    const r = await runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, path: rec.path, stdin: conf });
    t.equal(r.code, 0, r.code === 0 ? `ADD ${p.id}` : r.stdout);
  }
  const gc = (valid: string[]) =>
    runPlugin({
      command: "GC",
      path: rec.path,
      stdin: { ...conf, [VALID]: valid.map((containerID) => ({ containerID, ifname: "eth0" })) },
    });
  return { s, rec, conf, pods, gc };
}

t.test("each 1.1.0 delegate gets one GC, with exactly its attachments that remain valid", async (t) => {
  const { rec, pods, gc } = await recordedPods(t, ["gca", "gcb", "gcc"]);
  const r = await gc(["gca", "gcc"]);
  t.equal(r.code, 0, r.stdout);
  const gcs = rec.calls("GC");
  t.equal(gcs.length, 1, "one GC for rec-net, though three records name it");
  t.match(gcs[0].config, { name: "rec-net", cniVersion: "1.1.0", type: rec.type });
  t.same(gcs[0].config[VALID], [
    { containerID: "gca", ifname: "net1" },
    { containerID: "gcc", ifname: "net1" },
  ]);
  t.same(
    rec.calls("DEL").map((c) => [c.containerID, c.ifname, c.netns]),
    [["gcb", "net1", pods[1].ns.path]],
    "the unlisted container was DELed first, in its netns",
  );
});

t.test("a valid container whose record cannot be read: no delegate GC (its attachments are unknown), and GC says so", async (t) => {
  const { s, rec, pods, gc } = await recordedPods(t, ["gcu1", "gcu2"]);
  writeFileSync(join(s.cniDir, "gcu1"), "{ not a record");
  const r = await gc(["gcu1"]);
  t.equal(r.code, 1);
  t.equal(r.json?.code, 100);
  t.match(String(r.json?.details), /container gcu1 is valid but its attachments are unknown/);
  t.same(rec.calls("GC"), [], "no delegate was told that only some attachments are valid");
  t.same(links(pods[1].ns.name), [], "the unlisted container was still torn down");
});

t.test("a container whose ADD is in progress (its lock held) is left alone, and its attachments stay valid", async (t) => {
  const s = scenario(t, "1.0.0");
  const rec = recorder(t);
  const bin = tempDir(t);
  const go = join(bin, "go");
  // A ptp that holds its ADD until the test says go.
  writeFileSync(
    join(bin, "mtslowptp"),
    `#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && while [ ! -e ${go} ]; do sleep 0.05; done\nexec /usr/lib/cni/ptp\n`,
  );
  chmodSync(join(bin, "mtslowptp"), 0o755);
  const path = `${bin}:${rec.path}`;
  const conf = { ...s.netconf([s.bridge(), rec.conf("rec-net"), s.ptp({ type: "mtslowptp" })]), cniVersion: "1.1.0" };
  const ns = makeNetns(t);
  const adding = runPlugin({ command: "ADD", containerId: "gcbusy", netns: ns.path, path, stdin: conf });
  t.teardown(() => writeFileSync(go, ""));
  // Wait until the ADD is at its third delegate, holding the lock.
  for (let i = 0; i < 200 && rec.calls("ADD").length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(existsSync(join(s.cniDir, ".locks", "gcbusy")), "the ADD holds the container's lock");
  const r = await runPlugin({ command: "GC", path, stdin: { ...conf, [VALID]: [] } });
  t.equal(r.code, 0, r.stdout);
  t.same(rec.calls("DEL"), [], "GC did not DEL the container being added");
  t.same(rec.calls("GC").at(-1)?.config[VALID], [{ containerID: "gcbusy", ifname: "net1" }], "its attachment counts as valid");
  writeFileSync(go, "");
  const a = await adding;
  t.equal(a.code, 0, a.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net2"], "the ADD completed with its interfaces (the recorder makes none)");
  t.equal(reservations(s.ipamDir).length, 2);
  t.equal((await runPlugin({ command: "DEL", containerId: "gcbusy", netns: ns.path, path, stdin: conf })).code, 0);
});

t.test("the recorded netns is passed only while it is a network namespace other than our own", async (t) => {
  const s = scenario(t, "1.0.0");
  const rec = recorder(t);
  const conf = { ...s.netconf([rec.conf("only-net")]), cniVersion: "1.1.0" };
  const host = uniqueName("mtns");
  sh("ip", ["netns", "attach", host, String(process.pid)]); // our own (the host's) netns under /run/netns
  t.teardown(() => sh("ip", ["netns", "del", host]));
  const gone = makeNetns(t);
  const cases: [string, string][] = [
    ["gcn-host", `/run/netns/${host}`],
    ["gcn-proc", `/proc/${process.pid}/ns/net`],
    ["gcn-gone", gone.path],
  ];
  // An interface name the host has not: ADD first checks that the pod does not have it already.
  for (const [id, netns] of cases) {
    t.equal((await runPlugin({ command: "ADD", containerId: id, netns, ifName: "mtgcn0", path: rec.path, stdin: conf })).code, 0);
  }
  sh("ip", ["netns", "del", gone.name]);
  t.equal((await runPlugin({ command: "GC", path: rec.path, stdin: { ...conf, [VALID]: [] } })).code, 0);
  t.same(
    rec
      .calls("DEL")
      .map((c) => [c.containerID, c.netns])
      .sort(),
    [
      ["gcn-gone", ""],
      ["gcn-host", ""],
      ["gcn-proc", ""],
    ],
    "the host's netns, a /proc/<pid> path (the pid may be another's now) and a deleted netns: DEL without one",
  );
});

t.test("Kubernetes mode: GC reaches the cluster network and the pods' NAD networks", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const s = scenario(t, "1.0.0");
  const rec = recorder(t);
  api.putNad("kube-system", "mtgccluster", rec.conf("cluster-net"));
  api.putNad("ns1", "mtgcside", rec.conf("side-net"));
  const conf = {
    ...s.netconf([], {
      kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }),
      clusterNetwork: "mtgccluster",
      apiTimeout: 1,
      apiDeadline: 2,
    }),
    cniVersion: "1.1.0",
  };
  for (const name of ["gck1", "gck2"]) {
    const pod = api.putPod({ metadata: { name, namespace: "ns1", annotations: { "k8s.v1.cni.cncf.io/networks": "mtgcside" } } });
    const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${name};K8S_POD_UID=${pod.metadata.uid}`;
    const r = await runPlugin({ command: "ADD", containerId: name, netns: makeNetns(t).path, args, path: rec.path, stdin: conf });
    t.equal(r.code, 0, r.stdout);
  }
  const gc = () => runPlugin({ command: "GC", path: rec.path, stdin: { ...conf, [VALID]: [{ containerID: "gck1", ifname: "eth0" }] } });
  const r = await gc();
  t.equal(r.code, 0, r.stdout);
  const valid = (name: string) =>
    rec
      .calls("GC")
      .filter((c) => c.config.name === name)
      .map((c) => c.config[VALID]);
  t.same(valid("cluster-net"), [[{ containerID: "gck1", ifname: "eth0" }]], "the cluster network (a NAD) got one GC");
  t.same(valid("side-net"), [[{ containerID: "gck1", ifname: "net1" }]], "so did the pod's NAD network, known from the records");
  t.same(
    rec
      .calls("DEL")
      .map((c) => [c.containerID, c.ifname])
      .sort(),
    [
      ["gck2", "eth0"],
      ["gck2", "net1"],
    ],
  );

  // The API down: the networks the records name are still collected.
  api.failNext(1000, 503);
  t.teardown(() => api.clearFaults());
  const down = await gc();
  t.equal(down.code, 0, down.stdout);
  t.same(valid("side-net").length, 2);
  t.same(valid("cluster-net").length, 2);
});

t.test(
  "with no network that speaks GC, the records of the containers the runtime lists are not read (the first GC reads all)",
  async (t) => {
    const { s, gc } = await twoPods(t);
    const valid = {
      [VALID]: [
        { containerID: "gcpod1", ifname: "eth0" },
        { containerID: "gcpod2", ifname: "eth0" },
      ],
    };
    writeFileSync(join(s.cniDir, "gcpod2"), "{ not a record");
    const first = await gc(valid);
    t.equal(first.code, 1, "the first GC reads every record (it knows of no network yet), and says which it could not");
    t.match(String(first.json?.details), /container gcpod2 is valid but its attachments are unknown/);
    t.ok(existsSync(join(s.cniDir, ".gc-networks")), "what it found is on file");
    const next = await gc(valid);
    t.equal(next.code, 0, `bridge and ptp speak 1.0.0: the listed records are not read now: ${next.stdout}`);
    t.equal(reservations(s.ipamDir).length, 4, "nothing torn down");
  },
);

t.test("a network that speaks GC, recorded after the first GC, gets its GC with exactly its attachments that stay", async (t) => {
  const s = scenario(t, "1.0.0");
  const rec = recorder(t);
  const conf = { ...s.netconf([s.bridge(), rec.conf("rec-net")]), cniVersion: "1.1.0" };
  const plain = { ...s.netconf([s.bridge()]), cniVersion: "1.1.0" };
  const gc = (ids: string[], c = conf) =>
    runPlugin({ command: "GC", path: rec.path, stdin: { ...c, [VALID]: ids.map((containerID) => ({ containerID, ifname: "eth0" })) } });
  const ns = [makeNetns(t), makeNetns(t)];
  // The node's own config names no network that speaks GC; only a record will.
  t.equal((await gc([], plain)).code, 0, "the first GC: nothing cached, an empty index");
  for (const [i, id] of ["gci1", "gci2"].entries()) {
    const r = await runPlugin({ command: "ADD", containerId: id, netns: ns[i].path, path: rec.path, stdin: conf });
    t.equal(r.code, 0, r.stdout);
  }
  const r = await gc(["gci1"], plain);
  t.equal(r.code, 0, r.stdout);
  t.same(rec.calls("GC").at(-1)?.config[VALID], [{ containerID: "gci1", ifname: "net1" }], "the ADD noted the network: its GC came");
  t.same(links(ns[1].name), [], "the unlisted container was torn down");
});
