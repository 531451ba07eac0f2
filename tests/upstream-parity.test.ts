// Behaviours upstream Multus's own unit tests pin down, as black-box cases
// run against our plugin and (with env UPSTREAM_MULTUS) upstream's binary.
// Where the two deliberately differ, the case says so and checks each.
import { join } from "node:path";
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { logEntries } from "./helpers/log-lines.ts";
import { cleanupLink, links, makeNetns, reservations, sh, uniqueName } from "./helpers/netns.ts";
import { CNI_BIN, type CniCall, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";
import { SUBJECTS, spyPlugins } from "./helpers/subjects.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

let pods = 0;

/**
 * A pod with `networks` as its annotation, in Kubernetes mode. Upstream
 * writes network-status with an update of pods/status in protobuf, which
 * the test server does not take; upstream skips that write when the pod's
 * *name* is in systemNamespaces, so the netconf lists it there (for us it
 * only names namespaces without defaultNetworks: no effect here).
 */
function kubePod(s: Scenario, networks: unknown, cluster: Record<string, unknown>) {
  const name = `mtpod${++pods}`;
  const stored = api.putPod({
    metadata: { name, namespace: "ns1", annotations: { "k8s.v1.cni.cncf.io/networks": JSON.stringify(networks) } },
  });
  return {
    containerId: `par-${pods}`,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=par-${pods};K8S_POD_UID=${stored.metadata.uid}`,
    stdin: s.netconf([cluster], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }), systemNamespaces: [name] }),
  };
}

const defaultRoutes = (ns: string) =>
  sh("ip", ["-n", ns, "-4", "route", "show", "default"])
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

for (const subject of SUBJECTS) {
  const run = (call: CniCall) => runPlugin({ ...call, bin: subject.bin });

  t.test(`${subject.name}: a netconf without cniVersion returns the cluster network's result as its delegate gave it`, async (t) => {
    const s = scenario(t, "0.3.1");
    const ns = makeNetns(t);
    // A layer-2 bridge: its result has interfaces and no IP address, which a 0.1.0 result could not say.
    const l2 = s.bridge();
    delete l2.ipam;
    const conf = s.netconf([l2]);
    delete conf.cniVersion;
    const call = { containerId: "par-nover", netns: ns.path, stdin: conf };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    t.equal(r.json?.cniVersion, "0.3.1", "the delegate's own version, not 0.1.0");
    t.notOk("ips" in (r.json ?? {}), "no address invented");
    t.ok(
      ((r.json?.interfaces ?? []) as { name: string; sandbox?: string }[]).some((i) => i.name === "eth0" && i.sandbox === ns.path),
      "the pod's interface as the delegate reported it",
    );
    t.equal((await run({ ...call, command: "DEL" })).code, 0);
    t.same(links(ns.name), []);
  });

  t.test(`${subject.name}: a CNI_NETNS that does not exist is refused before any delegate's ADD`, async (t) => {
    const s = scenario(t);
    const spy = spyPlugins(join(s.dir, "spy"), ["bridge"]);
    const call = {
      containerId: "par-nonetns",
      netns: `/run/netns/${uniqueName("mtnsgone")}`,
      path: `${join(s.dir, "spy")}:${CNI_BIN}`,
      stdin: s.netconf([s.bridge({ type: "mtspy-bridge" })]),
    };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 1);
    t.match(String(r.json?.msg), /netns|namespace/i, "the message says what is wrong");
    t.same(
      spy.calls().filter((c) => c.command === "ADD"),
      [],
      "no delegate was asked to ADD",
    );
    if (subject.name === "ours") {
      t.equal(r.json?.code, 4, "our code: an invalid CNI_NETNS");
      t.same(spy.calls(), [], "nothing ran, so there is nothing to roll back");
    } // upstream: generic code 999, and its rollback DELs the delegate anyway
    t.same(reservations(s.ipamDir), []);
  });

  t.test(`${subject.name}: an interface name already in the pod is refused before any delegate's ADD`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const spy = spyPlugins(join(s.dir, "spy"), ["bridge"]);
    // The pod already has an eth0 (one end of a veth pair): it must survive.
    const host = uniqueName("mtve");
    const peer = uniqueName("mtvp");
    sh("ip", ["link", "add", host, "type", "veth", "peer", "name", peer]);
    cleanupLink(t, host);
    sh("ip", ["link", "set", peer, "netns", ns.name]);
    sh("ip", ["-n", ns.name, "link", "set", peer, "name", "eth0"]);
    const call = {
      containerId: "par-ifexists",
      netns: ns.path,
      path: `${join(s.dir, "spy")}:${CNI_BIN}`,
      stdin: s.netconf([s.bridge({ type: "mtspy-bridge" })]),
    };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 1);
    t.match(String(r.json?.msg), /eth0.*already exists|already exists.*eth0/);
    t.same(
      spy.calls().filter((c) => c.command === "ADD"),
      [],
      "no delegate was asked to ADD",
    );
    if (subject.name === "ours") {
      t.equal(r.json?.code, 102, "our code: the sandbox is not as expected");
      t.same(links(ns.name), ["eth0"], "the pod's own eth0 is untouched");
      t.same(spy.calls(), [], "nothing ran, so there is nothing to roll back");
    } else {
      // Upstream's rollback DELs the delegate on eth0, and the bridge plugin's DEL deletes the pod's own eth0.
      t.same(links(ns.name), [], "upstream: the rollback removed the pod's own eth0");
    }
    t.same(reservations(s.ipamDir), []);
  });

  t.test(`${subject.name}: the CNI_ARGS a delegate gets include IgnoreUnknown`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const spy = spyPlugins(join(s.dir, "spy"), ["bridge"]);
    // host-local parses CNI_ARGS strictly: K8S_* keys without IgnoreUnknown fail it.
    const call = {
      containerId: "par-ignore",
      netns: ns.path,
      args: "K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=par-ignore",
      path: `${join(s.dir, "spy")}:${CNI_BIN}`,
      stdin: s.netconf([s.bridge({ type: "mtspy-bridge" })]),
    };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    for (const c of spy.calls()) t.match(c.args, /(^|;)IgnoreUnknown=(1|true)(;|$)/, `${c.command} got IgnoreUnknown`);
    t.equal((await run({ ...call, command: "DEL" })).code, 0);
    t.same(reservations(s.ipamDir), []);
    t.same(
      spy.calls().map((c) => c.command),
      ["ADD", "DEL"],
    );
  });

  t.test(`${subject.name}: default-route naming a network that returned no interface or IP is ignored`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const bin = join(s.dir, "bin");
    // A plugin whose result names nothing (some plugins only configure the host).
    spyPlugins(bin, []);
    const { writeFileSync, chmodSync } = await import("node:fs");
    writeFileSync(join(bin, "mtnoop"), `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0"}'\nexit 0\n`);
    chmodSync(join(bin, "mtnoop"), 0o755);
    api.putNad("ns1", "noop", { cniVersion: "1.0.0", name: "noop", type: "mtnoop" });
    const gw = `${s.subnets[0].prefix}.1`;
    const p = kubePod(s, [{ name: "noop", "default-route": ["10.254.254.1"] }], s.bridge({ isDefaultGateway: true }));
    const log = join(s.dir, "multus.log");
    const call = { ...p, stdin: { ...p.stdin, logFile: log, logLevel: "verbose" }, netns: ns.path, path: `${bin}:${CNI_BIN}` };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    t.same(links(ns.name).sort(), ["eth0"]);
    // As upstream: eth0 asked for no gateway while another network did, so its default route goes.
    t.same(defaultRoutes(ns.name), [], `eth0's default route via ${gw} was removed, none was added`);
    if (subject.name === "ours") {
      t.match(
        logEntries(log).find((l) => String(l.msg).startsWith("default-route ignored")),
        { msg: "default-route ignored: the network reported no interface and no IP", network: "ns1/noop" },
        "a log line says why it was ignored",
      );
    }
    t.equal((await run({ ...call, command: "DEL" })).code, 0);
    t.same(reservations(s.ipamDir), []);
  });

  t.test(`${subject.name}: after default-route, CHECK and DEL get prevResults with the routes the pod has`, async (t) => {
    const s = scenario(t, "0.4.0");
    const ns = makeNetns(t);
    const spyDir = join(s.dir, "spy");
    const spy = spyPlugins(spyDir, ["bridge", "ptp"]);
    api.putNad("ns1", "egress", s.ptp({ name: "egress", type: "mtspy-ptp" }));
    const clusterGw = `${s.subnets[0].prefix}.1`;
    const gw = `${s.subnets[1].prefix}.1`;
    const p = kubePod(s, [{ name: "egress", "default-route": [gw] }], s.bridge({ type: "mtspy-bridge", isDefaultGateway: true }));
    const call = { ...p, netns: ns.path, path: `${spyDir}:${CNI_BIN}` };
    const r = await run({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout);
    t.same(defaultRoutes(ns.name), [`default via ${gw} dev net1`]);
    const returned = ((r.json?.routes ?? []) as { dst: string; gw?: string }[]).filter((rt) => rt.dst === "0.0.0.0/0");
    if (subject.name === "ours") t.same(returned, [], "our ADD result: the cluster network's routes as the pod has them");
    else t.same(returned, [{ dst: "0.0.0.0/0", gw: clusterGw }], "upstream's ADD result: the delegate's, with the removed route");
    const c = await run({ ...call, command: "CHECK" });
    t.equal(c.code, 0, `CHECK passes: eth0's prevResult no longer names the removed route via ${clusterGw} (${c.stdout})`);
    t.equal((await run({ ...call, command: "DEL" })).code, 0);
    const routesOf = (cmd: string, ifName: string) =>
      spy
        .calls()
        .filter((x) => x.command === cmd && x.ifName === ifName)
        .map((x) =>
          ((x.config.prevResult as { routes?: { dst: string; gw?: string }[] })?.routes ?? []).filter((rt) => rt.dst === "0.0.0.0/0"),
        );
    t.same(routesOf("DEL", "eth0"), [[]], "eth0's DEL: the removed default route is gone from its prevResult");
    t.same(routesOf("DEL", "net1"), [[{ dst: "0.0.0.0/0", gw }]], "net1's DEL: the added default route is in its prevResult");
    if (subject.name === "ours") {
      t.same(routesOf("CHECK", "eth0"), [[]]);
      t.same(routesOf("CHECK", "net1"), [[{ dst: "0.0.0.0/0", gw }]], "our CHECK covers the annotation's networks too");
    } // upstream's CHECK only checks the netconf's delegates (eth0)
    t.same(reservations(s.ipamDir), []);
  });
}
