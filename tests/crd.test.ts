// Kubernetes mode end to end: the built plugin, a kube-apiserver-like HTTPS
// server, real netns and the reference plugins.
import { existsSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { addresses, links, makeNetns, reservations } from "./helpers/netns.ts";
import { type CniCall, ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";
import { UPSTREAM_RULES } from "./helpers/upstream-rbac.ts";

interface Status {
  name: string;
  interface: string;
  ips?: string[];
  mac?: string;
  default?: boolean;
}

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

let podCounter = 0;

/** A pod in `namespace` with annotations, plus the env a kubelet would pass. */
function pod(namespace: string, annotations: Record<string, string> = {}) {
  const name = `pod-${++podCounter}`;
  const stored = api.putPod({ metadata: { name, namespace, annotations } });
  return {
    name,
    namespace,
    uid: stored.metadata.uid!,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=c${podCounter};K8S_POD_UID=${stored.metadata.uid}`,
    containerId: `crd-${podCounter}`,
  };
}

function statusOf(namespace: string, name: string): Status[] {
  const p = api.getPod(namespace, name)!;
  const v = p.metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"];
  return v ? (JSON.parse(v) as Status[]) : [];
}

function kubeNetconf(s: Scenario, extra: Record<string, unknown> = {}) {
  return s.netconf([s.bridge()], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }), ...extra });
}

/** NADs built from the scenario's ptp config, on distinct subnets. */
function ptpNad(s: Scenario, namespace: string, name: string, subnet: number, extra: Record<string, unknown> = {}) {
  api.putNad(namespace, name, {
    ...s.ptp({ name, ipam: { type: "host-local", subnet: s.subnets[subnet].cidr, dataDir: s.ipamDir } }),
    ...extra,
  });
}

t.test("comma form with custom interface names and a cross-namespace NAD; network-status matches the pod", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "ns1", "net-a", 1);
  ptpNad(s, "other", "net-b", 2);
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "net-a@data0, other/net-b" });
  api.clearRequests();
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(r.stderr, "", "nothing on stderr (no runtime warnings)");
  t.same(links(ns.name).sort(), ["data0", "eth0", "net2"]);

  const st = statusOf("ns1", p.name);
  t.same(
    st.map((x) => [x.name, x.interface, !!x.default]),
    [
      ["br-net", "eth0", true],
      ["ns1/net-a", "data0", false],
      ["other/net-b", "net2", false],
    ],
  );
  for (const e of st) {
    t.same(
      e.ips,
      addresses(ns.name, e.interface).map((a) => a.split("/")[0]),
      `${e.interface} ips`,
    );
    t.match(e.mac, /^[0-9a-f:]{17}$/);
  }
  t.equal(
    api.getPod("ns1", p.name)!.metadata.annotations?.["k8s.v1.cni.cncf.io/networks-status"],
    api.getPod("ns1", p.name)!.metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"],
  );

  // API economy: one pod GET, one GET per network, one status write, one event.
  t.equal(api.counts("GET", "/api/v1/namespaces/ns1/pods/"), 1);
  t.equal(api.counts("GET", "/apis/k8s.cni.cncf.io/"), 2);
  t.equal(api.counts("PATCH"), 1);
  t.equal(api.counts("POST", "/api/v1/namespaces/ns1/events"), 1);
  t.equal(api.counts("*"), 5);

  t.equal((await runPlugin({ ...call, command: "CHECK" })).code, 0, "CHECK covers the annotation networks too");
  api.clearRequests();
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.equal(api.counts("*"), 0, "DEL works from the cache, without the API");
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

t.test("JSON form: interface, requested IP (ips capability) and the same NAD twice", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  api.putNad(
    "ns1",
    "net-ip",
    s.bridge({ name: "net-ip", capabilities: { ips: true }, ipam: { type: "host-local", subnet: s.subnets[1].cidr, dataDir: s.ipamDir } }),
  );
  const want = `${s.subnets[1].prefix}.77`;
  const p = pod("ns1", {
    "k8s.v1.cni.cncf.io/networks": JSON.stringify([{ name: "net-ip", interface: "fixed0", ips: [`${want}/24`] }, { name: "net-ip" }]),
  });
  api.clearRequests();
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name).sort(), ["eth0", "fixed0", "net2"]);
  t.same(addresses(ns.name, "fixed0"), [`${want}/24`]);
  t.equal(api.counts("GET", "/apis/k8s.cni.cncf.io/"), 1, "a NAD listed twice is fetched once");
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.same(reservations(s.ipamDir), []);
});

t.test("a missing NAD fails the ADD by name, before anything is attached", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "ns1", "exists", 1);
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "exists,ghost" });
  api.clearRequests();
  const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) });
  t.equal(r.json!.code, 7);
  t.match(r.json!.msg, /NetworkAttachmentDefinition ns1\/ghost not found/);
  t.same(links(ns.name), []);
  t.equal(api.counts("PATCH"), 0);
  t.notOk(existsSync(join(s.cniDir, p.containerId)));
});

t.test("a pod without annotation gets the cluster network only", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name), ["eth0"]);
  t.same(
    statusOf("ns1", p.name).map((x) => x.name),
    ["br-net"],
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("legacy networks annotation with kubernetes.com/v1 Network objects: first is master, others net0, net1", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const body = (i: number) =>
    JSON.stringify([{ cniVersion: "1.0.0", ipam: { type: "host-local", subnet: s.subnets[i].cidr, dataDir: s.ipamDir } }]);
  api.putObject("kubernetes.com/v1", "default", "networks", {
    metadata: { name: "br-conf" },
    plugin: "bridge",
    args: JSON.stringify([
      { cniVersion: "1.0.0", bridge: s.bridgeName, ipam: { type: "host-local", subnet: s.subnets[0].cidr, dataDir: s.ipamDir } },
    ]),
  });
  api.putObject("kubernetes.com/v1", "default", "networks", { metadata: { name: "ptp-one" }, plugin: "ptp", args: body(1) });
  api.putObject("kubernetes-network.cni.cncf.io/v1", "default", "networks", {
    metadata: { name: "ptp-two" },
    plugin: "ptp",
    args: body(2),
  });
  const p = pod("default", { networks: '[{"name":"br-conf"},{"name":"ptp-one"},{"name":"ptp-two"}]' });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net0", "net1"]);
  t.match(addresses(ns.name, "eth0")[0], s.subnets[0].prefix);
  t.match(addresses(ns.name, "net0")[0], s.subnets[1].prefix);
  t.match(addresses(ns.name, "net1")[0], s.subnets[2].prefix);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.same(reservations(s.ipamDir), []);
});

t.test("always_use_default: the netconf's delegates first, then the legacy networks", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  api.putObject("kubernetes.com/v1", "ns1", "networks", {
    metadata: { name: "extra" },
    plugin: "ptp",
    args: JSON.stringify([{ cniVersion: "1.0.0", ipam: { type: "host-local", subnet: s.subnets[1].cidr, dataDir: s.ipamDir } }]),
  });
  const p = pod("ns1", { networks: '[{"name":"extra"}]' });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s, { always_use_default: true }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net0"]);
  t.match(addresses(ns.name, "eth0")[0], s.subnets[0].prefix);
  t.match(addresses(ns.name, "net0")[0], s.subnets[1].prefix);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("namespaceIsolation refuses other namespaces unless global", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "kube-system", "shared", 1);
  const p = pod("tenant", { "k8s.v1.cni.cncf.io/networks": "kube-system/shared" });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s, { namespaceIsolation: true }) };
  api.clearRequests();
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.json!.code, 7);
  t.match(r.json!.msg, /namespace isolation: pod tenant\/pod-\d+ may not use NetworkAttachmentDefinition kube-system\/shared/);
  t.match(r.json!.details, /allowed namespaces: tenant, default/);
  t.equal(api.counts("GET", "/apis/"), 0, "refused before the NAD is read");
  t.same(links(ns.name), []);

  const ok = await runPlugin({
    ...call,
    command: "ADD",
    stdin: kubeNetconf(s, { namespaceIsolation: true, globalNamespaces: "default, kube-system" }),
  });
  t.equal(ok.code, 0, ok.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net1"]);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("DEL with the API server stopped works from the cache", async (t) => {
  const own = await startApiServer();
  t.teardown(() => own.stop());
  const s = scenario(t);
  const ns = makeNetns(t);
  own.putNad("ns1", "net-a", s.ptp({ name: "net-a" }));
  const stored = own.putPod({ metadata: { name: "p", namespace: "ns1", annotations: { "k8s.v1.cni.cncf.io/networks": "net-a" } } });
  const conf = s.netconf([s.bridge()], { kubeconfig: own.writeKubeconfig(s.dir, { auth: "clientCert" }) });
  const call: CniCall = {
    containerId: "crd-down",
    netns: ns.path,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p;K8S_POD_UID=${stored.metadata.uid}`,
    stdin: conf,
  };
  const a = await runPlugin({ ...call, command: "ADD" });
  t.equal(a.code, 0, a.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net1"]);
  await own.stop();
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

t.test("first requests failing with 500 and 429 are retried", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "ns1", "net-a", 1);
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "net-a" });
  api.failNext(1, 500, { pathPrefix: "/api/v1/", method: "GET" });
  api.failNext(1, 429, { pathPrefix: "/apis/k8s.cni.cncf.io/", retryAfter: 0 });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(
    statusOf("ns1", p.name).map((x) => x.name),
    ["br-net", "ns1/net-a"],
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("Retry-After is honoured: the retry of a 429 comes when the server asked for it, not after the usual backoff", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const podPath = `/api/v1/namespaces/ns1/pods/${p.name}`;
  api.failNext(1, 429, { pathPrefix: podPath, method: "GET", retryAfter: 2 });
  api.clearRequests();
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  const gets = api.requests().filter((q) => q.method === "GET" && q.path === podPath);
  t.equal(gets.length, 2, "one 429, one retry");
  // The backoff without Retry-After is at most 200 ms before the second attempt.
  t.ok(gets[1].at - gets[0].at >= 1900, `the retry waited ${gets[1].at - gets[0].at} ms of the 2 s asked`);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test(
  "the validator checks NAD configs too: a subnet host-local would refuse fails the ADD with code 7 before anything runs",
  async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    // Without the validator, ptp would run and host-local fail: another code, after a delegate ran.
    const bad = `${s.subnets[1].prefix}.0/33`;
    ptpNad(s, "ns1", "badnet", 0, { ipam: { type: "host-local", subnet: bad, dataDir: s.ipamDir } });
    const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "badnet" });
    const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) });
    t.equal(r.json?.code, 7, r.stdout);
    t.match(r.json?.msg, new RegExp(`ns1/badnet\\.ipam\\.subnet.*${bad.replaceAll(".", "\\.")} is not a valid CIDR`));
    t.same(links(ns.name), [], "nothing attached");
    t.same(reservations(s.ipamDir), [], "no delegate ran");
  },
);

t.test("the status write carries the pod's UID: a pod replaced meanwhile is not annotated, and the ADD is rolled back", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const newUid = "99999999-8888-7777-6666-555555555555";
  api.onRequest("PATCH", `/api/v1/namespaces/ns1/pods/${p.name}/status`, () =>
    api.putPod({ metadata: { namespace: "ns1", name: p.name, uid: newUid, annotations: { fresh: "pod" } } }),
  );
  api.clearRequests();
  const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) });
  t.equal(r.json?.code, 103, r.stdout);
  t.match(r.json?.msg, `Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${newUid}`);
  t.same(api.getPod("ns1", p.name)!.metadata.annotations, { fresh: "pod" }, "the new pod has no network-status of ours");
  t.equal(api.counts("PATCH"), 1, "a replaced pod is not retried");
  t.same(links(ns.name), []);
  t.notOk(existsSync(join(s.cniDir, p.containerId)));
});

t.test("a network-status write that is forbidden (neither patch nor update) rolls the ADD back", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "ns1", "net-a", 1);
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "net-a" });
  api.forbid(`/api/v1/namespaces/ns1/pods/${p.name}/status`);
  t.teardown(() => api.clearFaults());
  const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) });
  t.equal(r.code, 1);
  t.equal(r.json!.code, 103);
  t.match(r.json!.msg, /write network-status of pod ns1\/pod-\d+: 403 Forbidden: .*cannot update resource "pods\/status"/);
  t.match(r.json!.msg, /\(and the patch before it: .*cannot patch resource "pods\/status"/);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.notOk(existsSync(join(s.cniDir, p.containerId)));
});

t.test("with upstream's ClusterRole (pods/status: update, not patch) network-status is written by an update", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "ns1", "net-a", 1);
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "net-a", keep: "this" });
  api.authorize(UPSTREAM_RULES);
  t.teardown(() => api.clearFaults());
  api.clearRequests();
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same(
    statusOf("ns1", p.name).map((x) => [x.name, x.interface]),
    [
      ["br-net", "eth0"],
      ["ns1/net-a", "net1"],
    ],
  );
  t.equal(api.getPod("ns1", p.name)!.metadata.annotations?.keep, "this", "the pod's other annotations stay");
  // The refused PATCH, then one PUT of the pod as read at the start: no extra GET.
  t.same(
    api.requests().map((q) => `${q.method} ${q.path.replace(/^.*\/namespaces\/ns1\//, "")}`),
    [
      `GET pods/${p.name}`,
      "GET network-attachment-definitions/net-a",
      `PATCH pods/${p.name}/status`,
      `PUT pods/${p.name}/status`,
      "POST events",
    ],
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("an update that meets a newer pod reads it again and retries; a replaced pod is refused and the ADD rolled back", async (t) => {
  const s = scenario(t);
  api.authorize(UPSTREAM_RULES);
  t.teardown(() => api.clearFaults());
  const statusPath = (name: string) => `/api/v1/namespaces/ns1/pods/${name}/status`;

  const ns = makeNetns(t);
  const p = pod("ns1");
  // kubelet changes the pod meanwhile: the version read at the start is stale when the PUT comes.
  api.onRequest("PATCH", statusPath(p.name), () => api.putPod({ ...api.getPod("ns1", p.name)!, status: { phase: "Pending" } } as never));
  api.clearRequests();
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(statusOf("ns1", p.name).length, 1);
  t.same(
    api
      .requests()
      .filter((q) => q.path.startsWith(`/api/v1/namespaces/ns1/pods/${p.name}`))
      .map((q) => q.method),
    ["GET", "PATCH", "PUT", "GET", "PUT"],
    "409 on the first PUT, then read again and written",
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);

  const ns2 = makeNetns(t);
  const q = pod("ns1");
  api.onRequest("PATCH", statusPath(q.name), () =>
    api.putPod({ metadata: { namespace: "ns1", name: q.name, uid: "11111111-2222-3333-4444-555555555555" } }),
  );
  const r2 = await runPlugin({ command: "ADD", containerId: q.containerId, netns: ns2.path, args: q.args, stdin: kubeNetconf(s) });
  t.equal(r2.code, 1);
  t.match(
    r2.json!.msg,
    new RegExp(
      `write network-status of pod ns1/${q.name}: the pod was replaced \\(its UID was "${q.uid}", now "11111111-2222-3333-4444-555555555555"\\)`,
    ),
  );
  t.same(statusOf("ns1", q.name), [], "the new pod is not annotated");
  t.same(links(ns2.name), [], "rolled back");
  t.notOk(existsSync(join(s.cniDir, q.containerId)));
});

t.test("a pod UID that differs from the runtime's is a stale pod: ADD fails, nothing attached", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const r = await runPlugin({
    command: "ADD",
    containerId: p.containerId,
    netns: ns.path,
    args: p.args.replace(p.uid, "00000000-0000-0000-0000-000000000000"),
    stdin: kubeNetconf(s),
  });
  t.equal(r.code, 1);
  t.match(r.json!.msg, /expected UID "00000000-0000-0000-0000-000000000000".*the pod was replaced/);
  t.same(links(ns.name), []);
});

t.test("a static pod (config source not api) is wired: kubelet's UID is not its mirror pod's; the status goes to the mirror", async (t) => {
  const s = scenario(t);
  const kubeletUid = "5f0a4c1e-0000-4000-8000-000000000001"; // the static pod's own UID, from its manifest file
  for (const [source, writer] of [
    ["file", "merge patch"],
    ["http", "update (upstream's ClusterRole)"],
  ]) {
    const ns = makeNetns(t);
    ptpNad(s, "kube-system", `edge-${source}`, 1);
    const p = pod("kube-system", { "kubernetes.io/config.source": source, "k8s.v1.cni.cncf.io/networks": `edge-${source}` });
    t.not(p.uid, kubeletUid);
    if (writer.startsWith("update")) api.authorize(UPSTREAM_RULES);
    t.teardown(() => api.clearFaults());
    const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args.replace(p.uid, kubeletUid), stdin: kubeNetconf(s) };
    const r = await runPlugin({ ...call, command: "ADD" });
    api.clearFaults();
    t.equal(r.code, 0, `${source}: ${r.stdout}`);
    t.same(links(ns.name).sort(), ["eth0", "net1"]);
    // The write's UID precondition is the mirror pod's (the API's): kubelet's would have been refused.
    t.same(
      statusOf("kube-system", p.name).map((x) => x.interface),
      ["eth0", "net1"],
      `${source}: network-status by ${writer}`,
    );
    t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  }
  // kubelet's config source of an ordinary pod is "api": a UID mismatch is still a replaced pod.
  const ns = makeNetns(t);
  const p = pod("ns1", { "kubernetes.io/config.source": "api" });
  const r = await runPlugin({
    command: "ADD",
    containerId: p.containerId,
    netns: ns.path,
    args: p.args.replace(p.uid, kubeletUid),
    stdin: kubeNetconf(s),
  });
  t.equal(r.json!.code, 103);
  t.match(r.json!.msg, /the pod was replaced/);
  t.same(links(ns.name), []);
});

t.test("default-network annotation replaces the cluster network; clusterNetwork and defaultNetworks by NAD", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  api.putNad("kube-system", "cluster", s.bridge({ name: "cluster" }));
  ptpNad(s, "kube-system", "always", 1);
  ptpNad(s, "kube-system", "special", 2);
  const conf = s.netconf([], {
    kubeconfig: api.writeKubeconfig(s.dir, { auth: "tokenFile" }),
    clusterNetwork: "cluster",
    defaultNetworks: ["always"],
  });
  const p = pod("ns1");
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: conf };
  const a = await runPlugin({ ...call, command: "ADD" });
  t.equal(a.code, 0, a.stdout);
  t.same(
    statusOf("ns1", p.name).map((x) => [x.name, x.interface]),
    [
      ["kube-system/cluster", "eth0"],
      ["kube-system/always", "net1"],
    ],
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);

  const q = pod("ns1", { "v1.multus-cni.io/default-network": "special" });
  const call2: CniCall = { containerId: q.containerId, netns: ns.path, args: q.args, stdin: conf };
  t.equal((await runPlugin({ ...call2, command: "ADD" })).code, 0);
  t.same(
    statusOf("ns1", q.name).map((x) => [x.name, x.interface]),
    [
      ["kube-system/special", "eth0"],
      ["kube-system/always", "net1"],
    ],
  );
  t.match(addresses(ns.name, "eth0")[0], s.subnets[2].prefix);
  t.equal((await runPlugin({ ...call2, command: "DEL" })).code, 0);

  const sys = pod("kube-system");
  const call3: CniCall = { containerId: sys.containerId, netns: ns.path, args: sys.args, stdin: conf };
  t.equal((await runPlugin({ ...call3, command: "ADD" })).code, 0);
  t.same(links(ns.name), ["eth0"], "no defaultNetworks for pods in systemNamespaces");
  t.equal((await runPlugin({ ...call3, command: "DEL" })).code, 0);
});

t.test("the kubeconfig upstream Multus' installer writes (server https://[<IPv4>]:443) works for ADD", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const { readFileSync } = await import("node:fs");
  // The fixture's shape, pointed at the test server: an IPv4 address in brackets.
  const upstream = readFileSync(join(ROOT, "tests", "fixtures", "upstream", "multus.kubeconfig"), "utf8");
  t.match(upstream, /server: https:\/\/\[10\.96\.0\.1\]:443/);
  const kubeconfig = api.writeKubeconfig(s.dir, {
    auth: "token",
    server: `https://[127.0.0.1]:${api.port}`,
    fileName: "upstream-shape.yaml",
  });
  const p = pod("ns1");
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: s.netconf([s.bridge()], { kubeconfig }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(statusOf("ns1", p.name).length, 1);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a wrong token is a clear 401, nothing attached", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const conf = s.netconf([s.bridge()], {
    kubeconfig: api.writeKubeconfig(s.dir, { auth: "token", token: "wrong-token-value", fileName: "bad.yaml" }),
  });
  const r = await runPlugin({ command: "ADD", containerId: p.containerId, netns: ns.path, args: p.args, stdin: conf });
  t.equal(r.json!.code, 103);
  t.match(r.json!.msg, /get pod ns1\/pod-\d+: 401 Unauthorized/);
  t.notMatch(r.stdout + r.stderr, /wrong-token-value/, "the token never appears in output");
  t.same(links(ns.name), []);
});

t.test("a NAD without spec.config uses the conf file of that name in confDir", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const confDir = join(s.dir, "net.d");
  mkdirSync(confDir);
  writeFileSync(join(confDir, "50-ondisk.conf"), JSON.stringify(s.ptp({ name: "ondisk" })));
  api.putNad("ns1", "ondisk", { metadata: {}, spec: {} });
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "ondisk" });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s, { confDir }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.match(addresses(ns.name, "net1")[0], s.subnets[1].prefix);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a 409 on the status write is retried", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  api.failNext(2, 409, { method: "PATCH" });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(statusOf("ns1", p.name).length, 1);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("default-route moves the pod's default route to the requesting attachment", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  ptpNad(s, "ns1", "egress", 1);
  const gw = `${s.subnets[1].prefix}.1`;
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": JSON.stringify([{ name: "egress", "default-route": [gw] }]) });
  const conf = s.netconf([s.bridge({ isDefaultGateway: true })], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }) });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  const { sh } = await import("./helpers/netns.ts");
  t.equal(sh("ip", ["-n", ns.name, "-4", "route", "show", "default"]).trim(), `default via ${gw} dev net1`);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("readinessindicatorfile: ADD waits for it, fails with code 11 when it never comes; DEL never waits", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const ready = join(s.dir, "ready");
  const p = pod("ns1");
  const conf = kubeNetconf(s, { readinessindicatorfile: ready, readinessTimeout: 0.5 });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.json!.code, 11);
  t.match(r.json!.msg, /the cluster network is not ready: .*ready does not exist \(waited 0.5s\)/);
  t.same(links(ns.name), []);
  const { writeFileSync } = await import("node:fs");
  setTimeout(() => writeFileSync(ready, ""), 200);
  const late = await runPlugin({ ...call, command: "ADD", stdin: kubeNetconf(s, { readinessindicatorfile: ready, readinessTimeout: 5 }) });
  t.equal(late.code, 0, late.stdout);
  const { rmSync } = await import("node:fs");
  rmSync(ready);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, "DEL does not wait for readiness");
});

t.test("exec credential plugins in the kubeconfig work (token from the plugin's output)", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const { chmodSync, writeFileSync } = await import("node:fs");
  const plugin = join(s.dir, "cred-plugin");
  writeFileSync(
    plugin,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${api.token}"}}'\n`,
  );
  chmodSync(plugin, 0o755);
  const kc = join(s.dir, "exec.kubeconfig");
  writeFileSync(
    kc,
    `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "${api.url}", certificate-authority-data: "${Buffer.from(api.caPem).toString("base64")}"}
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: "${plugin}", interactiveMode: Never}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`,
  );
  const p = pod("ns1");
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: s.netconf([s.bridge()], { kubeconfig: kc }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.equal(statusOf("ns1", p.name).length, 1);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test(
  "an exec credential plugin that hangs: ADD fails at apiDeadline (code 11), DEL without a record still ends, the plugin is killed",
  async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const { chmodSync, readFileSync, writeFileSync } = await import("node:fs");
    const pids = join(s.dir, "pids");
    const plugin = join(s.dir, "mt-hang-cred");
    writeFileSync(plugin, `#!/bin/sh\necho $$ >> "${pids}"\n(trap '' TERM; sleep 1000) &\nsleep 1000\n`);
    chmodSync(plugin, 0o755);
    const kc = api.writeKubeconfig(s.dir, { auth: "exec", command: plugin, fileName: "hang.kubeconfig" });
    const p = pod("ns1");
    const call: CniCall = {
      containerId: p.containerId,
      netns: ns.path,
      args: p.args,
      stdin: s.netconf([s.bridge()], { kubeconfig: kc, apiDeadline: 2 }),
    };
    let started = Date.now();
    const r = await runPlugin({ ...call, command: "ADD" });
    t.equal(r.json?.code, 11, r.stdout);
    t.match(r.json?.msg, /the exec credential plugin ".*mt-hang-cred" did not finish within 2s and was killed/);
    t.ok(Date.now() - started < 30_000, "ADD ends at its bound, far from kubelet's 2 minutes");
    t.same(links(ns.name), []);
    started = Date.now();
    const d = await runPlugin({ ...call, command: "DEL" });
    t.equal(d.code, 0, d.stdout);
    t.ok(Date.now() - started < 30_000, "so does a DEL without a record");
    for (const pid of readFileSync(pids, "utf8").trim().split("\n").map(Number)) {
      let gone = false;
      for (let i = 0; i < 40 && !gone; i++) {
        try {
          process.kill(-pid, 0);
          await new Promise((res) => setTimeout(res, 50));
        } catch {
          gone = true;
        }
      }
      t.ok(gone, `the plugin's process group ${pid} is gone`);
    }
  },
);

t.test("network-status carries the interface's mtu and dns.options when the delegate's result has them", async (t) => {
  const s = scenario(t);
  const { chmodSync, mkdirSync, writeFileSync } = await import("node:fs");
  const bin = join(s.dir, "bin");
  mkdirSync(bin);
  const result = (ip: string) =>
    JSON.stringify({
      cniVersion: "1.1.0",
      interfaces: [{ name: "net1", mac: "0a:58:0a:f4:00:07", mtu: 8950, sandbox: "SANDBOX" }],
      ips: [{ address: `${ip}/24`, interface: 0 }],
      dns: { nameservers: ["10.96.0.10"], options: ["ndots:5", "timeout:2"] },
    });
  writeFileSync(
    join(bin, "mt-mtu"),
    `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && echo '${result(`${s.subnets[1].prefix}.7`)}' | sed "s|SANDBOX|$CNI_NETNS|"\nexit 0\n`,
  );
  chmodSync(join(bin, "mt-mtu"), 0o755);
  api.putNad("ns1", "jumbo", { cniVersion: "1.1.0", name: "jumbo", type: "mt-mtu" });
  const ns = makeNetns(t);
  const p = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "jumbo" });
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, path: `${bin}:/usr/lib/cni`, stdin: kubeNetconf(s) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  const entry = statusOf("ns1", p.name).find((e) => e.name === "ns1/jumbo") as Record<string, unknown> | undefined;
  t.match(entry, {
    interface: "net1",
    mac: "0a:58:0a:f4:00:07",
    mtu: 8950,
    dns: { nameservers: ["10.96.0.10"], options: ["ndots:5", "timeout:2"] },
  });
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a kubeconfig that does not exist: code 7 naming the path and why, nothing attached, and DEL still ends", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const missing = join(s.dir, "etc-cni-net.d", "multus.d", "multus.kubeconfig");
  const call: CniCall = {
    containerId: p.containerId,
    netns: ns.path,
    args: p.args,
    stdin: s.netconf([s.bridge()], { kubeconfig: missing }),
  };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.json?.code, 7, r.stdout);
  t.equal(r.json?.msg, `cannot load kubeconfig: ${missing} cannot be opened (ENOENT)`);
  t.same(links(ns.name), []);
  t.notOk(existsSync(join(s.cniDir, p.containerId)), "no record");
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, `a DEL without a record still ends: ${d.stdout}`);
});

t.test("a kubeconfig that is a FIFO, and a FIFO among the conf files a NAD names: never waited on", async (t) => {
  const s = scenario(t);
  const { execFileSync } = await import("node:child_process");
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const fifo = join(s.dir, "kubeconfig.fifo");
  execFileSync("mkfifo", [fifo]);
  const ns = makeNetns(t);
  const p = pod("ns1");
  const call: CniCall = { containerId: p.containerId, netns: ns.path, args: p.args, stdin: s.netconf([s.bridge()], { kubeconfig: fifo }) };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.json?.code, 7, r.stdout);
  t.equal(r.json?.msg, `cannot load kubeconfig: ${fifo} is a FIFO, not a regular file`);
  t.same(links(ns.name), []);
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, `a DEL without a record still ends: ${d.stdout}`);

  // A NAD without spec.config: its conf file is looked up by name in confDir, where a FIFO sorts first.
  const confDir = join(s.dir, "net.d");
  mkdirSync(confDir);
  execFileSync("mkfifo", [join(confDir, "10-fifo.conf")]);
  writeFileSync(join(confDir, "50-ondisk.conf"), JSON.stringify(s.ptp({ name: "fifo-ondisk" })));
  api.putNad("ns1", "fifo-ondisk", { metadata: {}, spec: {} });
  const q = pod("ns1", { "k8s.v1.cni.cncf.io/networks": "fifo-ondisk" });
  const call2: CniCall = { containerId: q.containerId, netns: ns.path, args: q.args, stdin: kubeNetconf(s, { confDir }) };
  const a = await runPlugin({ ...call2, command: "ADD" });
  t.equal(a.code, 0, a.stdout);
  t.same(links(ns.name).sort(), ["eth0", "net1"]);
  t.equal((await runPlugin({ ...call2, command: "DEL" })).code, 0);
});

t.test("the pod's namespace and name from CNI_ARGS must be Kubernetes names: code 4, before any request", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bad: [string, string, RegExp][] = [
    ["..", "pod-x", /K8S_POD_NAMESPACE "\.\." is not a valid Kubernetes name: it must consist of lower case alphanumeric/],
    ["ns1", "../../secrets/x", /K8S_POD_NAME "\.\.\/\.\.\/secrets\/x" is not a valid Kubernetes name/],
    ["ns1", "Pod_1", /K8S_POD_NAME "Pod_1" is not a valid Kubernetes name/],
    ["a.b", "pod", /K8S_POD_NAMESPACE "a\.b" is not a valid Kubernetes name/],
    ["n".repeat(64), "pod", /K8S_POD_NAMESPACE "n{64}" is not a valid Kubernetes name: it must be no more than 63 characters/],
  ];
  api.clearRequests();
  for (const [namespace, name, msg] of bad) {
    const r = await runPlugin({
      command: "ADD",
      containerId: "crd-names",
      netns: ns.path,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name}`,
      stdin: kubeNetconf(s),
    });
    t.equal(r.json?.code, 4, r.stdout);
    t.match(r.json?.msg, msg);
  }
  t.equal(api.counts("*"), 0, "nothing was asked of the API");
  t.same(links(ns.name), []);
  const ok = pod("ns1");
  const dotted = api.putPod({ metadata: { namespace: "ns1", name: "web-0.v2" } });
  for (const args of [ok.args, `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0.v2;K8S_POD_UID=${dotted.metadata.uid}`]) {
    const call: CniCall = { containerId: "crd-names-ok", netns: ns.path, args, stdin: kubeNetconf(s) };
    t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0, `${args}: a subdomain name is fine`);
    t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  }
});

t.test("an exec credential plugin that prints without end is killed at 1 MiB: ADD fails, the plugin does not grow us", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const { chmodSync, writeFileSync } = await import("node:fs");
  const plugin = join(s.dir, "mt-endless-cred");
  writeFileSync(plugin, "#!/bin/sh\nexec cat /dev/zero\n");
  chmodSync(plugin, 0o755);
  const kc = api.writeKubeconfig(s.dir, { auth: "exec", command: plugin, fileName: "endless.kubeconfig" });
  const p = pod("ns1");
  const r = await runPlugin({
    command: "ADD",
    containerId: p.containerId,
    netns: ns.path,
    args: p.args,
    stdin: s.netconf([s.bridge()], { kubeconfig: kc }),
  });
  t.equal(r.json?.code, 103, r.stdout);
  t.match(r.json?.msg, /the exec credential plugin ".*mt-endless-cred" printed more than 1048576 bytes and was killed/);
  t.same(links(ns.name), []);
});
