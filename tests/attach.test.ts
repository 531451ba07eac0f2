// `multus attach` and `multus detach` through the built file, on containers
// a real ADD attached in a netns of ours: delegates mode (a conf of confDir
// or a file), Kubernetes mode (a NAD read from the in-repo API server, with
// network-status and events), the refusals, a rollback, a killed attach, and
// attach racing the runtime's DEL: all or nothing.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { startTime } from "../lib/proc.ts";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { fakeBin } from "./helpers/fake-plugins.ts";
import { matchesDocs } from "./helpers/json-docs.ts";
import { addresses, cleanupLink, links, makeNetns, reservations, sh, type Tap, tempDir, uniqueName } from "./helpers/netns.ts";
import { startPodResources } from "./helpers/podresources.ts";
import { CNI_BIN, cniEnv, PLUGIN, type RunResult, runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, type Scenario, scenario } from "./helpers/scenario.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

/** A person's command: no CNI_* variables. */
const cli = (argv: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> =>
  runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined, ...env } });

interface Pod {
  s: Scenario;
  ns: { name: string; path: string };
  id: string;
  /** NAMESPACE/NAME of its pod. */
  podRef: string;
  args: string;
  /** The node's netconf file (--conf). */
  conf: string;
  netconf: Record<string, unknown>;
  path: string;
  add(): Promise<RunResult>;
  del(): Promise<RunResult>;
  record(): { complete: boolean; attachments: { ifName: string; network: string; result?: unknown }[]; running?: { pid: number }[] };
}

let counter = 0;

/** A container with the cluster network (a bridge), and a conf dir holding "ptp-net" (ptp, host-local). */
function pod(
  t: Tap,
  extra: Record<string, unknown> = {},
  opts: { path?: string; namespace?: string; name?: string; uid?: string } = {},
): Pod {
  const s = scenario(t);
  const ns = makeNetns(t);
  const confDir = join(s.dir, "conf.d");
  mkdirSync(confDir);
  writeFileSync(join(confDir, "20-ptp.conf"), JSON.stringify(s.ptp()));
  const netconf = s.netconf([s.bridge()], { confDir, ...extra });
  const conf = join(s.dir, "00-multus.conf");
  writeFileSync(conf, JSON.stringify(netconf));
  const id = `att-${++counter}`;
  const namespace = opts.namespace ?? "ns1";
  const name = opts.name ?? `web-${counter}`;
  const args = `K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${id}${opts.uid ? `;K8S_POD_UID=${opts.uid}` : ""}`;
  const path = opts.path ?? CNI_BIN;
  const call = { containerId: id, netns: ns.path, args, path, stdin: netconf };
  return {
    s,
    ns,
    id,
    podRef: `${namespace}/${name}`,
    args,
    conf,
    netconf,
    path,
    add: () => runPlugin({ ...call, command: "ADD" }),
    del: () => runPlugin({ ...call, command: "DEL" }),
    record: () => JSON.parse(readFileSync(join(s.cniDir, id), "utf8")),
  };
}

t.test("delegates mode: attach a conf of confDir, then detach it; the runtime's DEL removes an attached network too", async (t) => {
  const p = pod(t);
  t.equal((await p.add()).code, 0);
  const a = await cli(["attach", "--container", p.id, "--conf", p.conf, "ptp-net"]);
  t.equal(a.code, 0, a.stderr);
  t.match(a.stdout, new RegExp(`^attached network ptp-net as net1 to container ${p.id}: ${p.s.subnets[1].prefix}\\.\\d+/24, mac `));
  t.same(links(p.ns.name).sort(), ["eth0", "net1"]);
  t.equal(addresses(p.ns.name, "net1")[0].split(".").slice(0, 3).join("."), p.s.subnets[1].prefix);
  const rec = p.record();
  t.equal(rec.complete, true);
  t.same(
    rec.attachments.map((x) => [x.ifName, x.network, !!x.result]),
    [
      ["eth0", "br-net", true],
      ["net1", "ptp-net", true],
    ],
    "appended to the record, with its result",
  );
  const st = await cli(["status", "--cni-dir", p.s.cniDir]);
  t.match(st.stdout, /eth0=br-net net1=ptp-net/);

  const d = await cli(["detach", "--container", p.id, "--conf", p.conf, "--interface", "net1", "--json"]);
  t.equal(d.code, 0, d.stderr);
  t.same(d.json, { ok: true, containerID: p.id, pod: null, interface: "net1", network: "ptp-net", left: ["eth0"] });
  matchesDocs(t, "detach", d.json);
  t.same(links(p.ns.name), ["eth0"]);
  t.equal(reservations(p.s.ipamDir).length, 1, "the ptp address is released; the cluster network's stays");
  t.same(
    p.record().attachments.map((x) => x.ifName),
    ["eth0"],
  );

  // A file as NETWORK, with an interface name; then the runtime tears the pod down.
  const file = join(p.s.dir, "side.conf");
  writeFileSync(file, JSON.stringify(p.s.ptp({ name: "side" })));
  const b = await cli(["attach", "--pod", p.podRef, "--conf", p.conf, `${file}@side0`, "--json"]);
  t.equal(b.code, 0, b.stderr);
  t.match(b.json, { ok: true, containerID: p.id, interface: "side0", network: "side", ips: [new RegExp(`^${p.s.subnets[1].prefix}\\.`)] });
  matchesDocs(t, "attach", b.json);
  const refused = await cli(["attach", "--pod", p.podRef, "--conf", p.conf, `${file}@side0`, "--json"]);
  t.equal(refused.code, 1, "side0 is taken now");
  t.same(Object.keys(refused.json as object).sort(), ["error", "ok"], "a refusal prints only ok and error");
  t.match(refused.json, { ok: false, error: /interface name "side0" is taken/ });
  t.match(refused.stderr, /interface name "side0" is taken/);
  t.same(links(p.ns.name).sort(), ["eth0", "side0"]);
  const del = await p.del();
  t.equal(del.code, 0, del.stdout);
  t.same(links(p.ns.name), [], "the runtime's DEL removed the attached network with the others");
  t.same(reservations(p.s.ipamDir), []);
  t.same(cacheEntries(p.s.cniDir), []);
});

t.test("--ip and --mac: a static address asked for, given to plugins with the ips and mac capabilities and as IP=/MAC=", async (t) => {
  const seen = join(tempDir(t), "args");
  const path = fakeBin(t, { spybridge: `echo "$CNI_ARGS" > ${seen}\nexec ${CNI_BIN}/bridge` });
  const p = pod(t, {}, { path });
  t.equal((await p.add()).code, 0);
  const bridge = uniqueName("mtbr");
  cleanupLink(t, bridge);
  const file = join(p.s.dir, "static.conf");
  writeFileSync(
    file,
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "static-net",
      type: "spybridge",
      bridge,
      ipam: { type: "static" },
      capabilities: { ips: true, mac: true },
    }),
  );
  const ip = `${p.s.subnets[2].prefix}.50/24`;
  const ip2 = `${p.s.subnets[2].prefix}.51/24`;
  const r = await cli([
    "attach",
    "--container",
    p.id,
    "--conf",
    p.conf,
    `${file}@data0`,
    "--ip",
    ip,
    "--ip",
    ip2,
    "--mac",
    "02:00:00:00:0a:32",
  ]);
  t.equal(r.code, 0, r.stderr);
  t.same(addresses(p.ns.name, "data0").sort(), [ip, ip2], "--ip repeats: every address asked for");
  t.match(sh("ip", ["-n", p.ns.name, "link", "show", "data0"]), /02:00:00:00:0a:32/);
  const dots = (x: string) => x.replace(/\./g, "\\.");
  t.match(readFileSync(seen, "utf8"), new RegExp(`IP=${dots(ip)},${dots(ip2)};MAC=02:00:00:00:0a:32`));
  const usage = await cli(["attach", "--container", p.id, "--conf", p.conf, file, "--ip", "10.0.0.300/24"]);
  t.equal(usage.code, 2, "a malformed --ip is a usage mistake");
  t.match(usage.stderr, /--ip "10.0.0.300\/24" is not a valid CIDR/);
  t.equal((await p.del()).code, 0);
  t.same(links(p.ns.name), []);
});

t.test("refused, with nothing attached and the record as it was", async (t) => {
  const p = pod(t);
  t.equal((await p.add()).code, 0);
  const before = readFileSync(join(p.s.cniDir, p.id), "utf8");
  const refused = async (argv: string[], message: RegExp, code = 1) => {
    const r = await cli(argv);
    t.equal(r.code, code, `${argv.join(" ")}: exit code ${code}`);
    t.match(r.stderr, message, argv.join(" "));
    t.equal(readFileSync(join(p.s.cniDir, p.id), "utf8"), before, "the record unchanged");
    t.same(links(p.ns.name), ["eth0"], "nothing attached");
  };
  const conf = ["--conf", p.conf];
  await refused(["attach", "--container", "nosuchcontainer", ...conf, "ptp-net"], /container nosuchcontainer has no cache record in /);
  await refused(
    ["attach", "--pod", "ns1/nobody", ...conf, "ptp-net"],
    /pod ns1\/nobody has no container with a cache record in .* on this node/,
  );
  await refused(
    ["attach", "--container", p.id, ...conf, "no-such-net"],
    /network "no-such-net" not found: no conf file in .*conf\.d is named "no-such-net"/,
  );
  await refused(
    ["attach", "--container", p.id, ...conf, "ptp-net@eth0"],
    /interface name "eth0" is taken: network "br-net" is attached as eth0/,
  );
  // An interface the pod has that multus did not attach (a veth end moved in by hand).
  sh("ip", ["-n", p.ns.name, "link", "add", "mthand", "type", "veth", "peer", "name", "mthandp"]);
  const taken = await cli(["attach", "--container", p.id, ...conf, "ptp-net@mthand"]);
  t.equal(taken.code, 1);
  t.match(taken.stderr, /interface name "mthand" \(network "ptp-net"\) already exists in the pod's network namespace/);
  t.same(links(p.ns.name).sort(), ["eth0", "mthand", "mthandp"], "the pod's own interface left untouched");
  t.equal(readFileSync(join(p.s.cniDir, p.id), "utf8"), before);
  sh("ip", ["-n", p.ns.name, "link", "del", "mthand"]);
  await refused(
    ["detach", "--container", p.id, ...conf, "--interface", "eth0"],
    /eth0 is the pod's cluster network \(network "br-net"\)[\s\S]*--force detaches it anyway/,
  );
  await refused(
    ["detach", "--container", p.id, ...conf, "--interface", "net7"],
    /has no interface "net7" attached by multus; it has eth0 \(br-net\)/,
  );
  await refused(["attach", ...conf, "ptp-net"], /give --pod NAMESPACE\/NAME or --container ID/, 2);
  await refused(["attach", "--container", p.id, ...conf], /name one NETWORK\[@IFNAME\] to attach/, 2);
  await refused(["attach", "--container", p.id, ...conf, "ptp-net@a/b"], /interface name "a\/b" must not contain '\/'/, 2);
  await refused(["detach", "--container", p.id, ...conf], /--interface IFNAME/, 2);
  const gone = await cli(["attach", "--container", p.id, "--conf-dir", join(p.s.dir, "nothing-here"), "ptp-net"]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /no multus config in .*nothing-here: give the netconf with --conf FILE/);

  // The pod's netns is gone (the pod is being torn down): refused, the runtime's DEL still works.
  sh("ip", ["netns", "del", p.ns.name]);
  const r = await cli(["attach", "--container", p.id, ...conf, "ptp-net"]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`the pod's network namespace ${p.ns.path} is gone`));
  t.equal(readFileSync(join(p.s.cniDir, p.id), "utf8"), before);
  t.equal((await p.del()).code, 0);
  t.same(reservations(p.s.ipamDir), []);
});

t.test("a delegate that fails its ADD: rolled back (DELed too), the record as before", async (t) => {
  const log = join(scenario(t).dir, "calls");
  const path = fakeBin(t, {
    failing: `echo "$CNI_COMMAND $CNI_IFNAME" >> ${log}; cat >/dev/null; [ "$CNI_COMMAND" = ADD ] && { echo '{"code":100,"msg":"no way"}'; exit 1; }; exit 0`,
  });
  const p = pod(t, {}, { path });
  t.equal((await p.add()).code, 0);
  const before = readFileSync(join(p.s.cniDir, p.id), "utf8");
  const file = join(p.s.dir, "failing.conf");
  writeFileSync(file, JSON.stringify({ cniVersion: "1.0.0", name: "failing-net", type: "failing" }));
  const r = await cli(["attach", "--container", p.id, "--conf", p.conf, file]);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot attach network "failing-net" as net1: plugin "failing" failed: no way/);
  t.same(readFileSync(log, "utf8").trim().split("\n"), ["ADD net1", "DEL net1"], "the failed delegate is DELed by the rollback");
  t.equal(readFileSync(join(p.s.cniDir, p.id), "utf8"), before, "the record as it was");
  t.equal((await p.del()).code, 0);
});

/** Spawn `multus attach ...` (to kill it). */
function spawnCli(argv: string[]): ChildProcess & { done: Promise<number | null> } {
  const env = cniEnv({ stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
  const child = spawn(PLUGIN, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  return Object.assign(child, { done: new Promise<number | null>((r) => child.on("close", r)) });
}

const until = async (what: string, ok: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test(
  "an attach killed while its delegate runs: the record holds the attachment, the runtime's DEL stops the delegate and removes it all",
  async (t) => {
    const path = fakeBin(t, { slowptp: `[ "$CNI_COMMAND" = ADD ] && sleep 30\nexec ${CNI_BIN}/ptp` });
    const p = pod(t, {}, { path });
    t.equal((await p.add()).code, 0);
    const file = join(p.s.dir, "slow.conf");
    writeFileSync(file, JSON.stringify(p.s.ptp({ name: "slow-net", type: "slowptp" })));
    const child = spawnCli(["attach", "--container", p.id, "--conf", p.conf, file]);
    await until("the delegate to start", () => (p.record().running?.length ?? 0) > 0);
    child.kill("SIGKILL");
    await child.done;
    const rec = p.record();
    t.equal(rec.complete, false, "not complete: the attach did not finish");
    t.same(
      rec.attachments.map((a) => [a.ifName, !!a.result]),
      [
        ["eth0", true],
        ["net1", false],
      ],
      "recorded before its delegate ran",
    );
    const delegate = rec.running![0].pid;
    t.match((await cli(["status", "--cni-dir", p.s.cniDir])).stdout, /incomplete/);
    const check = await runPlugin({ command: "CHECK", containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: p.netconf });
    t.match(check.json, { code: 101, msg: /did not complete/ }, "CHECK: incomplete");
    const refused = await cli(["attach", "--container", p.id, "--conf", p.conf, "ptp-net"]);
    t.match(refused.stderr, /did not complete: the runtime's DEL removes what it attached/, "no attach on a half state");
    const d = await p.del();
    t.equal(d.code, 0, d.stdout);
    t.equal(startTime(delegate), undefined, "the killed attach's delegate was stopped");
    t.same(links(p.ns.name), []);
    t.same(reservations(p.s.ipamDir), []);
    t.same(cacheEntries(p.s.cniDir), []);
  },
);

t.test("a detach of a killed attach's leftover makes the record complete again", async (t) => {
  const path = fakeBin(t, { slowptp: `[ "$CNI_COMMAND" = ADD ] && sleep 30\nexec ${CNI_BIN}/ptp` });
  const p = pod(t, {}, { path });
  t.equal((await p.add()).code, 0);
  const file = join(p.s.dir, "slow.conf");
  writeFileSync(file, JSON.stringify(p.s.ptp({ name: "slow-net", type: "slowptp" })));
  const child = spawnCli(["attach", "--container", p.id, "--conf", p.conf, file]);
  await until("the delegate to start", () => (p.record().running?.length ?? 0) > 0);
  child.kill("SIGKILL");
  await child.done;
  const d = await cli(["detach", "--container", p.id, "--conf", p.conf, "--interface", "net1"]);
  t.equal(d.code, 0, d.stderr);
  t.match(p.record(), { complete: true, attachments: [{ ifName: "eth0" }] });
  t.notOk(p.record().running, "nothing of it runs");
  const c = await runPlugin({ command: "CHECK", containerId: p.id, netns: p.ns.path, args: p.args, stdin: p.netconf });
  t.equal(c.code, 0, `CHECK passes again: ${c.stdout}`);
  t.equal((await p.del()).code, 0);
  t.same(reservations(p.s.ipamDir), []);
});

t.test("attach racing the runtime's DEL: all or nothing, whichever holds the lock first", async (t) => {
  const path = fakeBin(t, {
    slowptp: `[ "$CNI_COMMAND" = ADD ] && sleep 0.5\nexec ${CNI_BIN}/ptp`,
    slowbridge: `[ "$CNI_COMMAND" = DEL ] && sleep 0.5\nexec ${CNI_BIN}/bridge`,
  });
  for (const first of ["attach", "DEL", "either"] as const) {
    const p = pod(t, {}, { path });
    // The cluster network's DEL is slow: a DEL that holds the lock holds it a while.
    const slow = { ...p.netconf, delegates: [{ ...(p.netconf.delegates as Record<string, unknown>[])[0], type: "slowbridge" }] };
    writeFileSync(p.conf, JSON.stringify(slow));
    const add = await runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: slow });
    t.equal(add.code, 0, add.stdout);
    const file = join(p.s.dir, "slow.conf");
    writeFileSync(file, JSON.stringify(p.s.ptp({ name: "slow-net", type: "slowptp" })));
    const lock = join(p.s.cniDir, ".locks", p.id);
    const del = () => runPlugin({ command: "DEL", containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: slow });
    let attach: Promise<RunResult>;
    let deleted: Promise<RunResult>;
    if (first === "attach") {
      attach = cli(["attach", "--container", p.id, "--conf", p.conf, file]);
      await until("the attach to record its attachment", () => existsSync(join(p.s.cniDir, p.id)) && p.record().attachments.length === 2);
      deleted = del();
    } else if (first === "DEL") {
      deleted = del();
      await until("the DEL to hold the lock", () => existsSync(lock));
      attach = cli(["attach", "--container", p.id, "--conf", p.conf, file]);
    } else {
      [attach, deleted] = [cli(["attach", "--container", p.id, "--conf", p.conf, file]), del()];
    }
    const [a, d] = await Promise.all([attach, deleted]);
    t.equal(d.code, 0, `${first}: the DEL succeeds: ${d.stdout}`);
    if (first === "attach") t.equal(a.code, 0, `attach first: it completes (${a.stderr}), and the DEL that waited removes it`);
    if (first === "DEL") t.match(a.stderr, /has no cache record/, "DEL first: the attach that waited finds no record and attaches nothing");
    t.same(links(p.ns.name), [], `${first}: no interface left`);
    t.same(reservations(p.s.ipamDir), [], `${first}: no address left`);
    t.same(cacheEntries(p.s.cniDir), [], `${first}: no record, no lock`);
  }
});

t.test("Kubernetes mode: a NAD attached by --pod, network-status rewritten in one write, an event; isolation; detach", async (t) => {
  const name = uniqueName("mtpod");
  const stored = api.putPod({ metadata: { name, namespace: "ns1" } });
  const uid = stored.metadata.uid!;
  const p0 = pod(t, {}, { name, uid });
  const kubeconfig = api.writeKubeconfig(p0.s.dir, { auth: "token" });
  const extra = { kubeconfig, namespaceIsolation: true };
  const netconf = { ...p0.netconf, ...extra };
  writeFileSync(p0.conf, JSON.stringify(netconf));
  api.putNad("ns1", "side", p0.s.ptp({ name: "side" }));
  api.putNad("other", "elsewhere", p0.s.ptp({ name: "elsewhere" }));
  const add = await runPlugin({ command: "ADD", containerId: p0.id, netns: p0.ns.path, args: p0.args, stdin: netconf });
  t.equal(add.code, 0, add.stdout);
  const statusOf = () =>
    JSON.parse(api.getPod("ns1", name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]) as {
      name: string;
      interface: string;
      ips?: string[];
    }[];

  api.clearRequests();
  const a = await cli(["attach", "--pod", `ns1/${name}`, "--conf", p0.conf, "side@side0"]);
  t.equal(a.code, 0, a.stderr);
  t.match(a.stdout, new RegExp(`attached network ns1/side as side0 to pod ns1/${name} \\(container ${p0.id}\\)`));
  t.match(a.stdout, /network-status of pod .* updated/);
  t.equal(api.counts("PATCH", `/api/v1/namespaces/ns1/pods/${name}/status`), 1, "one network-status write");
  t.same(
    statusOf().map((e) => [e.name, e.interface]),
    [
      ["br-net", "eth0"],
      ["ns1/side", "side0"],
    ],
  );
  t.same(
    statusOf()[1].ips,
    addresses(p0.ns.name, "side0").map((x) => x.split("/")[0]),
  );
  const ev = (api.events() as unknown as { type?: string; reason?: string; message?: string; involvedObject?: { name?: string } }[]).filter(
    (e) => e.involvedObject?.name === name && e.reason === "AddedInterface",
  );
  t.equal(ev.at(-1)?.type, "Normal");
  t.match(ev.at(-1)?.message, new RegExp(`^Add side0 \\[${p0.s.subnets[1].prefix}\\.\\d+/24\\] from ns1/side$`), "an AddedInterface event");

  const isolated = await cli(["attach", "--pod", `ns1/${name}`, "--conf", p0.conf, "other/elsewhere"]);
  t.equal(isolated.code, 1);
  t.match(isolated.stderr, new RegExp(`namespace isolation: pod ns1/${name} may not use NetworkAttachmentDefinition other/elsewhere`));
  const unknown = await cli(["attach", "--pod", `ns1/${name}`, "--conf", p0.conf, "nope"]);
  t.match(unknown.stderr, /NetworkAttachmentDefinition ns1\/nope not found/);
  t.same(links(p0.ns.name).sort(), ["eth0", "side0"]);

  // network-status cannot be written (the PATCH and the update refused): the attach is rolled back.
  const third = uniqueName("mtbr");
  cleanupLink(t, third);
  api.putNad("ns1", "third", {
    ...p0.s.bridge({ name: "third", bridge: third }),
    ipam: { type: "host-local", subnet: p0.s.subnets[2].cidr, dataDir: p0.s.ipamDir },
  });
  const recordBefore = readFileSync(join(p0.s.cniDir, p0.id), "utf8");
  api.failNext(2, 403, { pathPrefix: `/api/v1/namespaces/ns1/pods/${name}/status` });
  const unpublished = await cli(["attach", "--pod", `ns1/${name}`, "--conf", p0.conf, "third"]);
  t.equal(unpublished.code, 1);
  t.match(unpublished.stderr, /network-status/);
  t.same(links(p0.ns.name).sort(), ["eth0", "side0"], "rolled back: no third interface");
  t.equal(reservations(p0.s.ipamDir).filter((r) => r.startsWith("third/")).length, 0, "its address released");
  t.equal(readFileSync(join(p0.s.cniDir, p0.id), "utf8"), recordBefore, "the record as it was");
  const warnings = (
    api.events() as unknown as { type?: string; reason?: string; message?: string; involvedObject?: { name?: string } }[]
  ).filter((e) => e.involvedObject?.name === name && e.type === "Warning");
  t.match(
    warnings,
    [
      { reason: "ErrorAddingNetwork", message: /namespace isolation/ },
      { reason: "ErrorAddingNetwork", message: /ns1\/nope not found/ },
      { reason: "ErrorAddingNetwork", message: /network-status/ },
    ],
    "each failed attach posts one Warning event on the pod, saying why",
  );
  t.equal(warnings.length, 3);

  api.clearRequests();
  const d = await cli(["detach", "--pod", `ns1/${name}`, "--conf", p0.conf, "--interface", "side0"]);
  t.equal(d.code, 0, d.stderr);
  t.same(
    statusOf().map((e) => e.interface),
    ["eth0"],
    "network-status without it",
  );
  t.same(links(p0.ns.name), ["eth0"]);

  // Detached, but network-status cannot be written: the network is gone all the same, and the error says what is stale.
  t.equal((await cli(["attach", "--pod", `ns1/${name}`, "--conf", p0.conf, "side@side0"])).code, 0);
  api.failNext(2, 403, { pathPrefix: `/api/v1/namespaces/ns1/pods/${name}/status` });
  const stale = await cli(["detach", "--pod", `ns1/${name}`, "--conf", p0.conf, "--interface", "side0"]);
  t.equal(stale.code, 1);
  t.match(stale.stderr, /side0 was detached, but network-status was not written: .*403/);
  t.same(links(p0.ns.name), ["eth0"], "the interface is gone");
  t.same(
    p0.record().attachments.map((x) => x.ifName),
    ["eth0"],
    "and so is its attachment in the record",
  );
  t.equal((await runPlugin({ command: "DEL", containerId: p0.id, netns: p0.ns.path, args: p0.args, stdin: netconf })).code, 0);
  t.same(reservations(p0.s.ipamDir), []);
});

t.test("Kubernetes mode: a NAD with a resourceName gets a device of the pod no other attachment uses", async (t) => {
  const SRIOV = "intel.com/mt_sriov";
  const calls = join(scenario(t).dir, "calls");
  mkdirSync(calls);
  const path = fakeBin(t, {
    "fake-sriov": `conf=$(cat)
printf '%s' "$conf" > ${calls}/$CNI_COMMAND-$CNI_IFNAME-$(date +%s%N)
[ "$CNI_COMMAND" = ADD ] && printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"192.0.2.10/24","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS"
exit 0`,
  });
  const name = uniqueName("mtsriov");
  const stored = api.putPod({ metadata: { name, namespace: "ns1", annotations: { "k8s.v1.cni.cncf.io/networks": "vf" } } });
  const p = pod(t, {}, { name, uid: stored.metadata.uid!, path });
  const socket = join(p.s.dir, "kubelet.sock");
  const kubelet = await startPodResources(socket, [
    {
      name,
      namespace: "ns1",
      containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:06.0", "0000:af:06.1"] }] }],
    },
  ]);
  t.teardown(() => kubelet.stop());
  api.putNad("ns1", "vf", {
    metadata: { annotations: { "k8s.v1.cni.cncf.io/resourceName": SRIOV } },
    spec: { config: JSON.stringify({ cniVersion: "1.0.0", name: "vf", type: "fake-sriov" }) },
  });
  const devinfo = join(p.s.dir, "devinfo");
  const netconf = {
    ...p.netconf,
    kubeconfig: api.writeKubeconfig(p.s.dir, { auth: "token" }),
    podResourcesSocket: socket,
    kubeletCheckpoint: join(p.s.dir, "no-checkpoint"),
    deviceInfoDir: devinfo,
  };
  writeFileSync(p.conf, JSON.stringify(netconf));
  const add = await runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: netconf });
  t.equal(add.code, 0, add.stdout);
  const a = await cli(["attach", "--pod", `ns1/${name}`, "--conf", p.conf, "vf"]);
  t.equal(a.code, 0, a.stderr);
  const { readdirSync } = await import("node:fs");
  const adds = readdirSync(calls)
    .filter((f) => f.startsWith("ADD-"))
    .sort((x, y) => Number(x.split("-").pop()) - Number(y.split("-").pop()))
    .map((f) => JSON.parse(readFileSync(join(calls, f), "utf8")).deviceID);
  t.same(adds, ["0000:af:06.0", "0000:af:06.1"], "the ADD's network got the first device, the attached one the other");
  const info = join(devinfo, "cni", `ns1-vf-${p.id}_net2`);
  t.same(
    JSON.parse(readFileSync(info, "utf8")),
    { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:af:06.1" } },
    "its device-info file",
  );
  const none = await cli(["attach", "--pod", `ns1/${name}`, "--conf", p.conf, "vf"]);
  t.equal(none.code, 1);
  t.match(none.stderr, /needs a device of resource "intel.com\/mt_sriov": the pod's 2 devices are used by its other networks/);
  const d = await cli(["detach", "--pod", `ns1/${name}`, "--conf", p.conf, "--interface", "net2"]);
  t.equal(d.code, 0, d.stderr);
  t.notOk(existsSync(info), "its device-info file goes with it");
  t.equal((await runPlugin({ command: "DEL", containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: netconf })).code, 0);
  t.same(cacheEntries(p.s.cniDir), []);
});

/** A pod with the given timeouts whose attach runs a delegate that hangs on ADD: what the attach printed, how long it took, what the delegate was asked. */
async function attachHanging(t: Test, timeouts: Record<string, number>) {
  const log = join(scenario(t).dir, "calls");
  const path = fakeBin(t, { hanging: `echo "$CNI_COMMAND" >> ${log}\n[ "$CNI_COMMAND" = ADD ] && sleep 60\ncat >/dev/null; exit 0` });
  const p = pod(t, timeouts, { path });
  t.equal((await p.add()).code, 0);
  const before = readFileSync(join(p.s.cniDir, p.id), "utf8");
  const file = join(p.s.dir, "hanging.conf");
  writeFileSync(file, JSON.stringify({ cniVersion: "1.0.0", name: "hanging-net", type: "hanging" }));
  const started = Date.now();
  const r = await cli(["attach", "--container", p.id, "--conf", p.conf, file]);
  const ms = Date.now() - started;
  return {
    p,
    r,
    ms,
    calls: () => readFileSync(log, "utf8").trim().split("\n"),
    before,
    record: () => readFileSync(join(p.s.cniDir, p.id), "utf8"),
  };
}

t.test("an attach whose delegate hangs ends at delegateTimeout: the delegate killed and DELed, the record as before", async (t) => {
  const { p, r, ms, calls, before, record } = await attachHanging(t, { delegateTimeout: 1 });
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    /cannot attach network "hanging-net" as net1: plugin "hanging" failed: timed out after 1s; it and its child processes were killed/,
  );
  t.ok(ms < 20_000, "ended at the bound, not when the delegate would have");
  t.same(calls(), ["ADD", "DEL"], "the rollback DELs the killed delegate");
  t.equal(record(), before, "the record as it was");
  t.same(links(p.ns.name), ["eth0"]);
  t.equal((await p.del()).code, 0);
  t.same(reservations(p.s.ipamDir), []);
});

t.test("an attach is bounded by addTimeout too: a delegate allowed longer is stopped at the ADD's bound", async (t) => {
  const { p, r, ms, calls, before, record } = await attachHanging(t, { delegateTimeout: 30, addTimeout: 3 });
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot attach network "hanging-net" as net1: plugin "hanging" failed: timed out after/);
  t.ok(ms < 25_000, "ended at addTimeout, long before delegateTimeout");
  t.same(calls(), ["ADD", "DEL"], "the rollback DELs the stopped delegate");
  t.equal(record(), before, "the record as it was");
  t.equal((await p.del()).code, 0);
  t.same(reservations(p.s.ipamDir), []);
});

t.test("detach --force removes the cluster network too: released, the record keeps the rest, the runtime's DEL ends it", async (t) => {
  const p = pod(t);
  t.equal((await p.add()).code, 0);
  t.equal((await cli(["attach", "--container", p.id, "--conf", p.conf, "ptp-net"])).code, 0);
  t.equal(reservations(p.s.ipamDir).length, 2);
  const d = await cli(["detach", "--container", p.id, "--conf", p.conf, "--interface", "eth0", "--force", "--json"]);
  t.equal(d.code, 0, d.stderr);
  t.match(d.json, { ok: true, containerID: p.id, interface: "eth0", network: "br-net", left: ["net1"] });
  t.same(links(p.ns.name), ["net1"]);
  t.equal(reservations(p.s.ipamDir).length, 1, "the cluster network's address released");
  t.same(
    p.record().attachments.map((x) => x.ifName),
    ["net1"],
  );
  t.equal((await p.del()).code, 0);
  t.same(links(p.ns.name), []);
  t.same(reservations(p.s.ipamDir), []);
  t.same(cacheEntries(p.s.cniDir), []);
});

t.test("--pod with two records: the one whose netns lives is used; two live ones are refused, naming both", async (t) => {
  const p = pod(t, {}, { name: "twice" });
  t.equal((await p.add()).code, 0);
  // The same pod's earlier sandbox: its record is still there, its netns gone.
  const stale = makeNetns(t);
  const staleId = `${p.id}-old`;
  const staleCall = { containerId: staleId, args: p.args.replace(p.id, staleId), stdin: p.netconf };
  t.equal((await runPlugin({ ...staleCall, command: "ADD", netns: stale.path })).code, 0);
  sh("ip", ["netns", "del", stale.name]);
  const a = await cli(["attach", "--pod", p.podRef, "--conf", p.conf, "ptp-net", "--json"]);
  t.equal(a.code, 0, a.stderr);
  t.match(a.json, { ok: true, containerID: p.id, interface: "net1" }, "the live sandbox's record");
  t.equal((await cli(["detach", "--container", p.id, "--conf", p.conf, "--interface", "net1"])).code, 0);
  t.equal((await runPlugin({ ...staleCall, command: "DEL", netns: "" })).code, 0);

  // Two live sandboxes for one pod name: no guessing.
  const other = makeNetns(t);
  const otherId = `${p.id}-b`;
  const otherCall = { containerId: otherId, args: p.args.replace(p.id, otherId), stdin: p.netconf, netns: other.path };
  t.equal((await runPlugin({ ...otherCall, command: "ADD" })).code, 0);
  const r = await cli(["attach", "--pod", p.podRef, "--conf", p.conf, "ptp-net"]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`pod ${p.podRef} has 2 containers with a record: .*${otherId}.*; give --container ID`));
  t.same(links(p.ns.name), ["eth0"]);
  t.same(links(other.name), ["eth0"]);
  t.equal((await runPlugin({ ...otherCall, command: "DEL" })).code, 0);
  t.equal((await p.del()).code, 0);
  t.same(reservations(p.s.ipamDir), []);
});

t.test("Kubernetes mode: attach and detach refused when the pod is gone from the API or was replaced", async (t) => {
  const name = uniqueName("mtpod");
  const uid = api.putPod({ metadata: { name, namespace: "ns1" } }).metadata.uid!;
  const p = pod(t, {}, { name, uid });
  const netconf = { ...p.netconf, kubeconfig: api.writeKubeconfig(p.s.dir, { auth: "token" }) };
  writeFileSync(p.conf, JSON.stringify(netconf));
  api.putNad("ns1", "side2", p.s.ptp({ name: "side2" }));
  t.equal((await runPlugin({ command: "ADD", containerId: p.id, netns: p.ns.path, args: p.args, stdin: netconf })).code, 0);
  const before = readFileSync(join(p.s.cniDir, p.id), "utf8");
  api.failNext(1, 404, { pathPrefix: `/api/v1/namespaces/ns1/pods/${name}` });
  const gone = await cli(["attach", "--pod", p.podRef, "--conf", p.conf, "side2"]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, new RegExp(`get pod ns1/${name}: 404 NotFound`));
  api.putPod({ metadata: { name, namespace: "ns1", uid: "11111111-2222-3333-4444-555555555555" } });
  const replaced = await cli(["attach", "--pod", p.podRef, "--conf", p.conf, "side2"]);
  t.equal(replaced.code, 1);
  t.match(replaced.stderr, new RegExp(`expected UID "${uid}" \\(from the runtime\\) but the API has "11111111-.*the pod was replaced`));
  const detached = await cli(["detach", "--pod", p.podRef, "--conf", p.conf, "--interface", "eth0", "--force"]);
  t.equal(detached.code, 1);
  t.match(detached.stderr, /the pod was replaced/);
  t.equal(readFileSync(join(p.s.cniDir, p.id), "utf8"), before, "the record unchanged");
  t.same(links(p.ns.name), ["eth0"], "nothing attached, nothing detached");
  t.equal((await runPlugin({ command: "DEL", containerId: p.id, netns: p.ns.path, args: p.args, stdin: netconf })).code, 0);
  t.same(reservations(p.s.ipamDir), []);
});

t.test("a detach whose delegate DEL fails: an error, the attachment stays in the record, the runtime's DEL finishes it", async (t) => {
  const flag = join(scenario(t).dir, "fail-del");
  const path = fakeBin(t, {
    flakyptp: `[ "$CNI_COMMAND" = DEL ] && [ -e ${flag} ] && { cat >/dev/null; echo '{"code":100,"msg":"device busy"}'; exit 1; }\nexec ${CNI_BIN}/ptp`,
  });
  const p = pod(t, {}, { path });
  t.equal((await p.add()).code, 0);
  const file = join(p.s.dir, "flaky.conf");
  writeFileSync(file, JSON.stringify(p.s.ptp({ name: "flaky-net", type: "flakyptp" })));
  t.equal((await cli(["attach", "--container", p.id, "--conf", p.conf, file])).code, 0);
  writeFileSync(flag, "");
  const d = await cli(["detach", "--container", p.id, "--conf", p.conf, "--interface", "net1", "--json"]);
  t.equal(d.code, 1);
  t.match(d.json, {
    ok: false,
    error:
      /DEL of network "flaky-net" on net1: plugin "flakyptp" failed: device busy\s+it stays in the record: the runtime's DEL tries again/,
  });
  t.same(
    p.record().attachments.map((x) => x.ifName),
    ["eth0", "net1"],
    "kept, so its address is not forgotten",
  );
  t.equal(reservations(p.s.ipamDir).length, 2);
  const again = await runPlugin({ command: "DEL", containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: p.netconf });
  t.equal(again.code, 1, "the runtime's DEL fails while the delegate does");
  sh("rm", ["-f", flag]);
  t.equal((await p.del()).code, 0, "and finishes it once the delegate succeeds");
  t.same(links(p.ns.name), []);
  t.same(reservations(p.s.ipamDir), []);
  t.same(cacheEntries(p.s.cniDir), []);
});

t.test("detach racing the runtime's DEL: whichever holds the lock first, nothing is left and neither hangs", async (t) => {
  const path = fakeBin(t, {
    slowptp: `[ "$CNI_COMMAND" = DEL ] && sleep 0.5\nexec ${CNI_BIN}/ptp`,
    slowbridge: `[ "$CNI_COMMAND" = DEL ] && sleep 0.5\nexec ${CNI_BIN}/bridge`,
  });
  for (const first of ["detach", "DEL"] as const) {
    const p = pod(t, {}, { path });
    const slow = { ...p.netconf, delegates: [{ ...(p.netconf.delegates as Record<string, unknown>[])[0], type: "slowbridge" }] };
    writeFileSync(p.conf, JSON.stringify(slow));
    const call = { containerId: p.id, netns: p.ns.path, args: p.args, path, stdin: slow };
    t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
    const file = join(p.s.dir, "slow.conf");
    writeFileSync(file, JSON.stringify(p.s.ptp({ name: "slow-net", type: "slowptp" })));
    t.equal((await cli(["attach", "--container", p.id, "--conf", p.conf, file])).code, 0);
    const lock = join(p.s.cniDir, ".locks", p.id);
    const detach = () => cli(["detach", "--container", p.id, "--conf", p.conf, "--interface", "net1"]);
    let detached: Promise<RunResult>;
    let deleted: Promise<RunResult>;
    if (first === "detach") {
      detached = detach();
      await until("the detach to hold the lock", () => existsSync(lock));
      deleted = runPlugin({ ...call, command: "DEL" });
    } else {
      deleted = runPlugin({ ...call, command: "DEL" });
      await until("the DEL to hold the lock", () => existsSync(lock));
      detached = detach();
    }
    const [a, d] = await Promise.all([detached, deleted]);
    t.equal(d.code, 0, `${first} first: the DEL succeeds: ${d.stdout}`);
    if (first === "detach") t.equal(a.code, 0, `detach first: it completes (${a.stderr})`);
    else t.match(a.stderr, /has no cache record/, "DEL first: the detach that waited finds no record");
    t.same(links(p.ns.name), [], `${first}: no interface left`);
    t.same(reservations(p.s.ipamDir), [], `${first}: no address left`);
    t.same(cacheEntries(p.s.cniDir), [], `${first}: no record, no lock`);
  }
});
