// Pod events in Kubernetes mode: one AddedInterface event per ADD listing
// every interface, a Warning when the ADD fails, never a reason for an ADD
// to fail or wait, and off with "podEvents": false.
import t from "tap";
import { type ApiServer, type KubeObject, startApiServer } from "./helpers/apiserver.ts";
import { addresses, makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

let n = 0;
function pod(annotations: Record<string, string>) {
  const name = `ev-pod-${++n}`;
  const stored = api.putPod({ metadata: { name, namespace: "ns1", annotations } });
  const uid = stored.metadata.uid!;
  return { name, uid, containerId: `ev-${n}`, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${name};K8S_POD_UID=${uid}` };
}

function netconf(s: Scenario, extra: Record<string, unknown> = {}) {
  return s.netconf([s.bridge()], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }), ...extra });
}

type Ev = KubeObject & {
  involvedObject: Record<string, string>;
  reason: string;
  message: string;
  type: string;
  source: { component: string };
};
const eventsOf = (name: string) => (api.events() as Ev[]).filter((e) => e.involvedObject.name === name);

t.test("a successful ADD posts one AddedInterface event naming every interface, its addresses and network", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  api.putNad("ns1", "ev-net", s.ptp({ name: "ev-net", ipam: { type: "host-local", subnet: s.subnets[1].cidr, dataDir: s.ipamDir } }));
  const p = pod({ "k8s.v1.cni.cncf.io/networks": "ev-net" });
  api.clearRequests();
  const call = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: netconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(api.counts("POST", "/api/v1/namespaces/ns1/events"), 1, "one events request for the whole ADD");
  const [ev] = eventsOf(p.name);
  t.same(ev.involvedObject, { apiVersion: "v1", kind: "Pod", namespace: "ns1", name: p.name, uid: p.uid });
  t.equal(ev.type, "Normal");
  t.equal(ev.reason, "AddedInterface");
  t.equal(ev.source.component, "multus");
  t.same(ev.message.split("\n"), [
    `Add eth0 [${addresses(ns.name, "eth0")[0]}] from br-net`,
    `Add net1 [${addresses(ns.name, "net1")[0]}] from ns1/ev-net`,
  ]);
  api.clearRequests();
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.equal(api.counts("*"), 0, "DEL posts nothing");
});

t.test("a failed ADD posts a Warning: a missing NAD is NoNetworkFound", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod({ "k8s.v1.cni.cncf.io/networks": "no-such-net" });
  const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: netconf(s) });
  t.equal(r.code, 1);
  const [ev] = eventsOf(p.name);
  t.equal(ev?.type, "Warning");
  t.equal(ev?.reason, "NoNetworkFound");
  t.equal(ev?.message, r.json?.msg, "the event says what the runtime was told");
});

t.test("a delegate failure is a Warning ErrorAddingNetwork", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  api.putNad("ns1", "ev-bad", {
    cniVersion: "1.0.0",
    name: "ev-bad",
    type: "ptp",
    ipam: { type: "host-local", subnet: "10.254.0.0/24", rangeStart: "10.254.0.9", rangeEnd: "10.254.0.9", dataDir: s.ipamDir },
  });
  // The only address is taken: ptp fails after the bridge attached.
  const first = pod({ "k8s.v1.cni.cncf.io/networks": "ev-bad" });
  const ns1 = makeNetns(t);
  const ok = await runPlugin({ command: "ADD", containerId: first.containerId, netns: ns1.path, args: first.args, stdin: netconf(s) });
  t.equal(ok.code, 0, ok.stdout);
  const p = pod({ "k8s.v1.cni.cncf.io/networks": "ev-bad" });
  const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: netconf(s) });
  t.equal(r.code, 1);
  const [ev] = eventsOf(p.name);
  t.equal(ev?.type, "Warning");
  t.equal(ev?.reason, "ErrorAddingNetwork");
  t.match(ev?.message, /cannot attach network "ns1\/ev-bad" as net1/);
  t.equal(
    (await runPlugin({ command: "DEL", containerId: first.containerId, netns: ns1.path, args: first.args, stdin: netconf(s) })).code,
    0,
  );
});

t.test('"podEvents": false: no events at all', async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod({});
  api.clearRequests();
  const call = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: netconf(s, { podEvents: false }) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.equal(api.counts("POST"), 0);
  t.same(eventsOf(p.name), []);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("an events endpoint that fails or hangs never fails the ADD, and is tried once", async (t) => {
  const s = scenario(t);
  for (const fault of ["500", "hang"]) {
    const ns = makeNetns(t);
    const p = pod({});
    api.clearRequests();
    if (fault === "500") api.failNext(5, 500, { pathPrefix: "/api/v1/namespaces/ns1/events", method: "POST" });
    else api.delay(10_000, "/api/v1/namespaces/ns1/events");
    const call = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: netconf(s) };
    const r = await runPlugin({ ...call, command: "ADD" });
    api.clearFaults();
    t.equal(r.code, 0, `${fault}: the ADD succeeds: ${r.stdout}`);
    t.equal(api.counts("POST", "/api/v1/namespaces/ns1/events"), 1, `${fault}: one attempt, no retries`);
    t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  }
});
