// A Multus is never a delegate: by type it is refused before anything is
// attached; under another name (a copy or link of the plugin) the mark it
// inherits makes it answer at once; a DEL never recurses.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { CNI_BIN, PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";
import { spyPlugins } from "./helpers/subjects.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

/** Refused with code 7 naming `path`, and nothing attached. */
function refused(t: Test, s: Scenario, ns: { name: string }, r: Awaited<ReturnType<typeof runPlugin>>, path: string) {
  t.equal(r.code, 1);
  t.equal(r.json?.code, 7, String(r.json?.msg));
  t.match(String(r.json?.msg), `${path}.type: "`, "names it");
  t.match(String(r.json?.msg), /Multus/, "says why");
  t.same(links(ns.name), [], "nothing attached");
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "rec")), "no record");
}

const nested = (type: string) => ({
  cniVersion: "1.0.0",
  name: "nested",
  type,
  delegates: [{ cniVersion: "1.0.0", name: "x", type: "ptp" }],
});

/** A bin dir with this plugin as `multus` and `multus-shim`, as on a node. */
function installed(s: Scenario): string {
  const bin = join(s.dir, "node-bin");
  mkdirSync(bin, { recursive: true });
  for (const name of ["multus", "multus-shim"]) symlinkSync(PLUGIN, join(bin, name));
  return `${bin}:${CNI_BIN}`;
}

t.test("a delegate of type multus, or a conflist plugin of type multus-shim, is refused by name", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { command: "ADD", containerId: "rec", netns: ns.path, path: installed(s) };
  refused(t, s, ns, await runPlugin({ ...call, stdin: s.netconf([s.bridge(), nested("multus")]) }), "delegates[1]");
  const list = { cniVersion: "1.0.0", name: "chain", plugins: [s.ptp(), { type: "multus-shim" }] };
  refused(t, s, ns, await runPlugin({ ...call, stdin: s.netconf([s.bridge(), list]) }), "delegates[1].plugins[1]");
});

t.test("a NAD, a clusterNetwork and a defaultNetworks entry of type multus are refused by name", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  api.putNad("ns1", "nested", nested("multus"));
  api.putNad("kube-system", "nested", nested("multus"));
  api.putNad("kube-system", "cluster", s.bridge({ name: "cluster" }));
  const stored = api.putPod({ metadata: { name: "mtrec", namespace: "ns1", annotations: { "k8s.v1.cni.cncf.io/networks": "nested" } } });
  const kubeconfig = api.writeKubeconfig(s.dir, { auth: "token" });
  const call = {
    command: "ADD",
    containerId: "rec",
    netns: ns.path,
    path: installed(s),
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=mtrec;K8S_POD_UID=${stored.metadata.uid}`,
  };
  refused(t, s, ns, await runPlugin({ ...call, stdin: s.netconf([s.bridge()], { kubeconfig }) }), "ns1/nested");
  const none = { ...call, args: "IgnoreUnknown=1" }; // no pod: only the configured networks
  refused(t, s, ns, await runPlugin({ ...none, stdin: s.netconf([], { kubeconfig, clusterNetwork: "nested" }) }), "clusterNetwork nested");
  refused(
    t,
    s,
    ns,
    await runPlugin({ ...none, stdin: s.netconf([], { kubeconfig, clusterNetwork: "cluster", defaultNetworks: ["nested"] }) }),
    "defaultNetworks nested",
  );
});

/** The plugin under another name, in a bin dir of the scenario's: a Multus its type does not reveal. */
function disguised(s: Scenario): string {
  const bin = join(s.dir, "bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(PLUGIN, join(bin, "mtinner"));
  return bin;
}

for (const shared of [true, false]) {
  const where = shared ? "the same cniDir (it used to wait for its parent's lock)" : "its own cniDir (it used to attach its own delegates)";
  t.test(`a Multus under another name refuses an ADD at once, with ${where}`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const bin = disguised(s);
    const inner = { ...nested("mtinner"), cniDir: shared ? s.cniDir : join(s.dir, "inner-cache"), delegates: [s.ptp()] };
    const conf = s.netconf([s.bridge(), inner], { delegateTimeout: 5 });
    const r = await runPlugin({ command: "ADD", containerId: "rec", netns: ns.path, path: `${bin}:${CNI_BIN}`, stdin: conf });
    t.equal(r.code, 1);
    t.match(
      String(r.json?.msg),
      /cannot attach network "nested" as net1: plugin "mtinner" failed: multus was called as a delegate of multus \(pid \d+\)/,
    );
    t.same(links(ns.name), [], "rolled back");
    t.same(reservations(s.ipamDir), []);
    t.notOk(existsSync(join(s.cniDir, "rec")));
  });
}

t.test("called with the delegate mark: ADD and CHECK are refused (code 7), DEL succeeds without running anything", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const spy = spyPlugins(join(s.dir, "spy"), ["bridge"]);
  const log = join(s.dir, "multus.log");
  const call = {
    containerId: "rec",
    netns: ns.path,
    path: `${join(s.dir, "spy")}:${CNI_BIN}`,
    env: { MULTUS_DELEGATE_OF: "4242:123456" },
    stdin: s.netconf([s.bridge({ type: "mtspy-bridge" })], { logFile: log, logLevel: "info" }),
  };
  for (const command of ["ADD", "CHECK"]) {
    const r = await runPlugin({ ...call, command });
    t.equal(r.json?.code, 7, command);
    t.equal(r.json?.msg, "multus was called as a delegate of multus (pid 4242): a Multus is never a delegate");
  }
  // A record the DEL must leave alone: it belongs to the calling Multus.
  mkdirSync(s.cniDir, { recursive: true });
  writeFileSync(join(s.cniDir, "rec"), "{}");
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.equal(d.stdout, "");
  t.same(spy.calls(), [], "no delegate ran");
  t.equal(readFileSync(join(s.cniDir, "rec"), "utf8"), "{}", "the record is untouched");
  t.match(readFileSync(log, "utf8"), /multus was called as a delegate of multus \(pid 4242\): DEL does nothing/);
});

t.test("DEL of a record naming a Multus (an older release's) releases the rest and never recurses", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bin = disguised(s);
  const innerLog = join(s.dir, "inner.log");
  const call = {
    containerId: "rec",
    netns: ns.path,
    path: `${bin}:${CNI_BIN}`,
    stdin: s.netconf([s.bridge(), s.ptp()], { delegateTimeout: 5 }),
  };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  // As an older release recorded them: a Multus by type and one by another name, sharing our cniDir.
  const file = join(s.cniDir, "rec");
  const rec = JSON.parse(readFileSync(file, "utf8"));
  const byType = { network: "nested", ifName: "net2", isClusterNetwork: false, config: nested("multus"), result: { cniVersion: "1.0.0" } };
  const inner = { ...nested("mtinner"), cniDir: s.cniDir, logFile: innerLog, logLevel: "info" };
  const byName = { network: "nested", ifName: "net3", isClusterNetwork: false, config: inner, result: { cniVersion: "1.0.0" } };
  rec.attachments.push(byType, byName);
  writeFileSync(file, JSON.stringify(rec));
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), [], "the other attachments were released");
  t.notOk(existsSync(file), "the record is gone");
  t.match(
    readFileSync(innerLog, "utf8"),
    /called as a delegate of multus \(pid \d+\): DEL does nothing/,
    "the one under another name did nothing",
  );
});

t.test("a netconf that nests a Multus (what an older install wrote) never blocks a DEL", async (t) => {
  // Upstream's 00-multus.conflist as the cluster network of our conf: ADD refuses it, but the
  // pods added before the upgrade must still go away, with a record and without one.
  const s = scenario(t);
  const ns = makeNetns(t);
  const upstreamList = { cniVersion: "1.0.0", name: "multus-cni-network", plugins: [nested("multus")] };
  const call = { containerId: "rec", netns: ns.path, path: installed(s) };
  const good = s.netconf([s.bridge(), s.ptp()]);
  t.equal((await runPlugin({ ...call, command: "ADD", stdin: good })).code, 0);
  const bad = s.netconf([upstreamList, s.bridge(), s.ptp()]);
  const d = await runPlugin({ ...call, command: "DEL", stdin: bad });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), [], "detached from the record");
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, "rec")));
  const again = await runPlugin({ ...call, command: "DEL", stdin: bad });
  t.equal(again.code, 0, `no record: the config's delegates, the Multus skipped: ${again.stdout}`);
  const add = await runPlugin({ ...call, command: "ADD", stdin: bad });
  t.equal(add.json?.code, 7, "an ADD is still refused");
  t.match(String(add.json?.msg), /delegates\[0\]\.plugins\[0\]\.type: "multus" is a Multus/);
});
