// End to end under a real container runtime: Debian's containerd 1.6 (CRI
// plugin) and runc, driven over CRI gRPC as kubelet drives it, with the
// plugin under test installed as `multus` in containerd's CNI bin dir. Pod
// network namespaces are containerd's own (/var/run/netns/cni-<uuid>). After
// every scenario nothing may be left: links, bridge ports, IPAM reservations,
// the plugin's cache records, libcni's result cache, netns files, iptables.
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import {
  type Containerd,
  containerdMissing,
  type HostSnapshot,
  hostSnapshot,
  type LeakScope,
  type Leaks,
  LIBCNI_RESULTS,
  NO_LEAKS,
  type PodRun,
  processEnv,
  removePortmapChains,
  settledLeaks,
  startContainerd,
} from "./helpers/containerd.ts";
import { isCriError, type PodSandboxConfig } from "./helpers/cri.ts";
import { addresses, links, reservations, uniqueName } from "./helpers/netns.ts";
import { unavailable } from "./helpers/prerequisite.ts";
import { PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every pod of this file lives in this (pod) namespace: libcni's result files name it in their CNI args. */
const POD_NS = `mte2e-${randomBytes(3).toString("hex")}`;
const DEFAULT_CNI_DIR = "/var/lib/cni/multus";

let ctrd: Containerd;
let api: ApiServer;
let podCounter = 0;

function podConfig(extra: Partial<PodSandboxConfig> & { name?: string; uid?: string } = {}): PodSandboxConfig {
  const { name = `pod-${++podCounter}`, uid = randomUUID(), ...rest } = extra;
  return { metadata: { name, namespace: POD_NS, uid }, ...rest };
}

/** The message of a failed CRI call. */
function criMessage(e: unknown): string {
  return isCriError(e) ? e.details : String(e);
}

/** Pods a subtest runs; whatever it did not remove is removed at its end, so the next scenario starts clean. */
function podsOf(t: Test) {
  const ids = new Set<string>();
  t.teardown(async () => {
    for (const id of ids) await ctrd.removePod(id).catch(() => {});
  });
  return {
    run: async (cfg: PodSandboxConfig = podConfig()): Promise<PodRun> => {
      const p = await ctrd.runPod(cfg);
      ids.add(p.id);
      return p;
    },
    remove: async (id: string): Promise<void> => {
      await ctrd.removePod(id);
      ids.delete(id);
    },
  };
}

const scopeOf = (s: Scenario, extra: Partial<LeakScope> = {}): LeakScope => ({
  podNamespace: POD_NS,
  ipamDirs: [s.ipamDir],
  cacheDirs: [s.cniDir],
  bridges: [s.bridgeName],
  ...extra,
});

/** Leak check against `before`: everything must be empty. */
async function noLeaks(t: Test, before: HostSnapshot, s: Scenario, extra: Partial<LeakScope> = {}, what = "nothing is left") {
  t.same(await settledLeaks(before, scopeOf(s, extra)), NO_LEAKS, what);
}

/** A conf as a conflist plugin: without the name and cniVersion the conflist carries. */
function asPlugin(conf: Record<string, unknown>): Record<string, unknown> {
  const { name: _name, cniVersion: _version, ...plugin } = conf;
  return plugin;
}

/** The interfaces of a pod, without lo. */
const podLinks = (p: PodRun) => links(p.netnsName).sort();
const ip4 = (p: PodRun, ifName: string) => addresses(p.netnsName, ifName).map((a) => a.split("/")[0]);

const missing = containerdMissing();
if (missing) {
  unavailable(`containerd end-to-end tests cannot run, missing: ${missing}`);
} else {
  t.before(async () => {
    ctrd = await startContainerd(t);
    api = await startApiServer();
    const v = await ctrd.cri.version();
    t.comment(`${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion}), plugin ${PLUGIN}`);
  });
  t.teardown(() => api?.stop());

  t.test("(a) [bridge, ptp]: the pod gets eth0 and net1, the CRI reports eth0's IP; stop + remove leave nothing", async (t) => {
    const s = scenario(t);
    const before = hostSnapshot();
    const pods = podsOf(t);
    await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge(), s.ptp()]) });
    const p = await pods.run();
    t.match(p.netns, /^\/var\/run\/netns\/cni-[0-9a-f-]+$/, "containerd's own netns");
    t.same(podLinks(p), ["eth0", "net1"]);
    const [eth0] = ip4(p, "eth0");
    const [net1] = ip4(p, "net1");
    t.ok(eth0.startsWith(`${s.subnets[0].prefix}.`), `eth0 ${eth0} on the bridge network`);
    t.ok(net1.startsWith(`${s.subnets[1].prefix}.`), `net1 ${net1} on the ptp network`);
    t.equal(p.ip, eth0, "PodSandboxStatus reports eth0's IP (the cluster network's result)");
    t.ok(existsSync(join(s.cniDir, p.id)), "the plugin's cache record");
    t.ok(existsSync(join(LIBCNI_RESULTS, `multus-test-${p.id}-eth0`)), "libcni's result cache");
    t.equal(
      execFileSync("ip", ["-o", "link", "show", "master", s.bridgeName], { encoding: "utf8" }).split("\n").filter(Boolean).length,
      1,
      "one bridge port",
    );
    await pods.remove(p.id);
    await noLeaks(t, before, s);
  });

  t.test("(b) 10 pods one after another and 8 in parallel: all addresses distinct, nothing left", async (t) => {
    const s = scenario(t);
    const before = hostSnapshot();
    const pods = podsOf(t);
    await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge(), s.ptp()]) });
    const all: PodRun[] = [];
    for (let i = 0; i < 10; i++) all.push(await pods.run());
    all.push(...(await Promise.all(Array.from({ length: 8 }, () => pods.run()))));
    for (const p of all) t.same(podLinks(p), ["eth0", "net1"], `${p.netnsName}: eth0 + net1`);
    const ips = all.flatMap((p) => [...ip4(p, "eth0"), ...ip4(p, "net1")]);
    t.equal(ips.length, 36);
    t.equal(new Set(ips).size, 36, "every address distinct");
    t.same(
      all.map((p) => p.ip),
      all.map((p) => ip4(p, "eth0")[0]),
      "the CRI reports each pod's eth0 address",
    );
    await Promise.all(all.map((p) => pods.remove(p.id)));
    await noLeaks(t, before, s);
  });

  t.test("(c) a failing second delegate: RunPodSandbox fails with the plugin's message and nothing leaks", async (t) => {
    const s = scenario(t);
    const before = hostSnapshot();
    const pods = podsOf(t);

    // Refused before anything runs: an IPAM plugin that is not installed.
    await ctrd.setNetwork({
      "00-multus.conf": s.netconf([s.bridge(), s.ptp({ ipam: { type: "no-such-ipam", subnet: s.subnets[1].cidr } })]),
    });
    const e1 = await pods.run().then(
      () => "RunPodSandbox succeeded",
      (e) => criMessage(e),
    );
    t.match(e1, /failed to setup network for sandbox/, "containerd's context");
    t.match(e1, /failed to find plugin "no-such-ipam" in path/, "the plugin's message reaches the CRI caller");
    await noLeaks(t, before, s, {}, "nothing left after a refused ADD");

    // Fails at run time after the bridge was attached: the bridge is rolled back.
    await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge(), s.ptp({ mtu: 70000 })]) });
    const e2 = await pods.run().then(
      () => "RunPodSandbox succeeded",
      (e) => criMessage(e),
    );
    t.match(e2, /cannot attach network "ptp-net" as net1: plugin "ptp" failed: /, "the failing delegate is named");
    t.equal((await ctrd.cri.listPodSandbox()).length, 0, "containerd kept no sandbox");
    await noLeaks(t, before, s, {}, "nothing left after a rolled-back ADD");
  });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    t.test(
      `(d) containerd restarted with ${signal} between RunPodSandbox and Stop: stop + remove still tear everything down`,
      async (t) => {
        const s = scenario(t);
        const before = hostSnapshot();
        const pods = podsOf(t);
        const conf = s.netconf([s.bridge(), s.ptp()]);
        await ctrd.setNetwork({ "00-multus.conf": conf });
        const p = await pods.run();
        t.same(podLinks(p), ["eth0", "net1"]);
        await ctrd.restart(signal);
        await ctrd.waitForNetwork(conf);
        const st = await ctrd.cri.podSandboxStatus(p.id, true);
        t.equal(st.status.state, "SANDBOX_READY", "the pod survived the restart");
        t.equal(st.status.network?.ip, p.ip, "same IP");
        t.equal(ctrd.netnsOf(st), p.netns, "same netns");
        t.same(podLinks(p), ["eth0", "net1"]);
        await pods.remove(p.id);
        await noLeaks(t, before, s);
      },
    );
  }

  t.test(
    "(e) reboot: the pod's netns is gone before Stop (CNI_NETNS is empty on DEL), with host-device: everything is released",
    async (t) => {
      const s = scenario(t);
      const before = hostSnapshot();
      const pods = podsOf(t);
      // No dummy links on this kernel: host-device gets one end of a veth pair.
      const id = randomBytes(3).toString("hex");
      const [hostEnd, devEnd] = [`mt-hd${id}`, `mt-hp${id}`];
      execFileSync("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", devEnd]);
      t.teardown(() => {
        for (const l of [hostEnd, devEnd]) {
          try {
            execFileSync("ip", ["link", "del", l], { stdio: "ignore" });
          } catch {
            // gone with the pod's netns
          }
        }
      });
      const hostDev = { cniVersion: "1.0.0", name: "hostdev-net", type: "host-device", device: devEnd };
      const logFile = join(s.dir, "multus.log");
      await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge(), s.ptp(), hostDev], { logFile, logLevel: "debug" }) });
      const p = await pods.run();
      t.same(podLinks(p), ["eth0", "net1", "net2"], "host-device moved the device in as net2");
      const resultFile = join(LIBCNI_RESULTS, `multus-test-${p.id}-eth0`);
      t.ok(existsSync(resultFile), "libcni's result cache");

      // The "reboot": the netns containerd mounted is gone (the pause process still runs until Stop).
      execFileSync("umount", [p.netns]);
      rmSync(p.netns);
      const stop = await pods.remove(p.id).then(
        () => "ok",
        (e) => criMessage(e),
      );
      t.equal(stop, "ok", "StopPodSandbox and RemovePodSandbox succeed");
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n") : [];
      t.ok(
        log.some((l) => l.includes('"verb":"DEL"') && l.includes('"netns":""')),
        "containerd sent DEL with an empty CNI_NETNS",
      );
      t.notOk(existsSync(join(s.cniDir, p.id)), "no cache record");
      t.notOk(existsSync(resultFile), "no libcni result cache file");
      const found = await settledLeaks(before, scopeOf(s));
      t.same(found, NO_LEAKS, "nothing is left");
      if (JSON.stringify(found) !== JSON.stringify(NO_LEAKS))
        for (const l of log.filter((x) => x.includes('"level":"error"'))) t.comment(`plugin: ${l}`);
    },
  );

  t.test(
    "(f) hostPort through portmap in the cluster delegate's conflist: DNAT rule while the pod runs, no CNI-* chain after",
    async (t) => {
      const s = scenario(t);
      const before = hostSnapshot();
      t.teardown(() => removePortmapChains(before));
      const pods = podsOf(t);
      const hostPort = 31000 + randomInt(1000);
      const cluster = {
        cniVersion: "1.0.0",
        name: "br-pm",
        plugins: [asPlugin(s.bridge()), { type: "portmap", capabilities: { portMappings: true } }],
      };
      await ctrd.setNetwork({ "00-multus.conf": s.netconf([cluster, s.ptp()], { capabilities: { portMappings: true } }) });
      const p = await pods.run(podConfig({ portMappings: [{ protocol: "TCP", containerPort: 8080, hostPort }] }));
      t.same(podLinks(p), ["eth0", "net1"]);
      const nat = execFileSync("iptables", ["-w", "-t", "nat", "-S"], { encoding: "utf8" });
      const dnat = nat.split("\n").find((l) => l.startsWith("-A CNI-HOSTPORT-DNAT ") && new RegExp(`--dports? ${hostPort}\\b`).test(l));
      t.ok(dnat, `CNI-HOSTPORT-DNAT has a rule for port ${hostPort}`);
      const chain = /-j (CNI-DN-[0-9a-f]+)/.exec(dnat ?? "")?.[1];
      t.ok(chain, "jumping to the pod's CNI-DN-* chain");
      t.match(
        nat,
        new RegExp(`-A ${chain} .*--dport ${hostPort} .*-j DNAT --to-destination ${p.ip.replace(/\./g, "\\.")}:8080`),
        "which DNATs to the pod's eth0",
      );
      await pods.remove(p.id);
      await noLeaks(t, before, s);
    },
  );

  t.test("(g) Kubernetes mode: the sandbox metadata names a pod whose annotation selects NADs; network-status is written", async (t) => {
    const s = scenario(t);
    const before = hostSnapshot();
    const pods = podsOf(t);
    const nad = (name: string, subnet: number) =>
      api.putNad(POD_NS, name, s.ptp({ name, ipam: { type: "host-local", subnet: s.subnets[subnet].cidr, dataDir: s.ipamDir } }));
    nad("ptp-a", 1);
    nad("ptp-b", 2);
    const name = uniqueName("k8spod");
    const stored = api.putPod({
      metadata: { name, namespace: POD_NS, annotations: { "k8s.v1.cni.cncf.io/networks": "ptp-a, ptp-b@data1" } },
    });
    await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge()], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }) }) });
    api.clearRequests();
    const p = await pods.run(podConfig({ name, uid: stored.metadata.uid }));
    t.same(podLinks(p), ["data1", "eth0", "net1"], "the cluster network and both NADs");
    t.equal(api.counts("GET", `/api/v1/namespaces/${POD_NS}/pods/${name}`), 1, "the pod named by K8S_POD_NAMESPACE/K8S_POD_NAME was read");
    t.equal(api.counts("PATCH", `/api/v1/namespaces/${POD_NS}/pods/${name}/status`), 1, "network-status was written");
    const status = JSON.parse(api.getPod(POD_NS, name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]) as {
      name: string;
      interface: string;
      ips: string[];
    }[];
    t.same(
      status.map((e) => [e.name, e.interface]),
      [
        ["br-net", "eth0"],
        [`${POD_NS}/ptp-a`, "net1"],
        [`${POD_NS}/ptp-b`, "data1"],
      ],
    );
    for (const e of status) t.same(e.ips, ip4(p, e.interface), `${e.interface}: the addresses in the pod`);
    await pods.remove(p.id);
    await noLeaks(t, before, s);
  });

  t.test(
    "(h) readinessindicatorfile in delegates mode: RunPodSandbox fails naming the missing file, succeeds once it exists",
    async (t) => {
      const s = scenario(t);
      const before = hostSnapshot();
      const pods = podsOf(t);
      const flag = join(s.dir, "cluster-network-ready");
      await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge(), s.ptp()], { readinessindicatorfile: flag, readinessTimeout: 1 }) });
      const first = await pods.run().then(
        async (p) => {
          await pods.remove(p.id);
          return "RunPodSandbox succeeded although the readiness file does not exist";
        },
        (e) => criMessage(e),
      );
      t.match(first, /not ready/, "RunPodSandbox fails: the cluster network is not ready");
      t.match(first, flag, "the error names the readiness file");
      await noLeaks(t, before, s, {}, "nothing attached while not ready");
      writeFileSync(flag, "");
      const p = await pods.run();
      t.same(podLinks(p), ["eth0", "net1"]);
      await pods.remove(p.id);
      await noLeaks(t, before, s);
    },
  );

  t.test(
    "(i) `multus install` writes the conf containerd picks: multus is called for the pod, then Kubernetes mode with --kubeconfig",
    async (t) => {
      const s = scenario(t);
      const before = hostSnapshot();
      const pods = podsOf(t);
      const cluster = { cniVersion: "1.0.0", name: "mt-cluster", plugins: [asPlugin(s.bridge())] };
      await ctrd.setNetwork({ "10-bridge.conflist": cluster });
      // The harness linked the plugin in; install copies it itself. Later scenarios get the link back.
      const installed = join(ctrd.binDir, "multus");
      rmSync(installed);
      t.teardown(() => {
        rmSync(installed, { force: true });
        symlinkSync(PLUGIN, installed);
      });
      const install = (extra: string[] = []) =>
        runPlugin({
          argv: ["install", "--bin-dir", ctrd.binDir, "--conf-dir", ctrd.confDir, ...extra],
          stdin: "",
          env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
        });
      const r = await install();
      t.equal(r.code, 0, "multus install", { stdout: r.stdout, stderr: r.stderr });
      t.ok(readFileSync(installed).equals(readFileSync(PLUGIN)), "installed: the very file under test");
      const written = readFileSync(join(ctrd.confDir, "00-multus.conf"), "utf8");
      await ctrd.waitForNetwork(written);
      t.match(JSON.parse(written), { name: "multus-cni-network", type: "multus", delegates: [{ name: "mt-cluster" }] });

      const p = await pods.run();
      const record = join(DEFAULT_CNI_DIR, p.id);
      t.same(podLinks(p), ["eth0"], "the cluster network");
      t.equal(p.ip, ip4(p, "eth0")[0]);
      t.ok(p.ip.startsWith(`${s.subnets[0].prefix}.`));
      t.ok(existsSync(record), "multus was called: its cache record exists");
      t.ok(existsSync(join(LIBCNI_RESULTS, `multus-cni-network-${p.id}-eth0`)), "containerd ran the network multus-cni-network");
      await pods.remove(p.id);
      await noLeaks(t, before, s, { cacheFiles: [record, join(DEFAULT_CNI_DIR, ".locks", p.id)] });

      // The kubeadm quickstart's step: install --kubeconfig, then a pod that asks for a NAD.
      const kubeconfig = api.writeKubeconfig(s.dir, { auth: "tokenFile" });
      api.putNad(POD_NS, "install-ptp", s.ptp({ name: "install-ptp" }));
      const r2 = await install(["--kubeconfig", kubeconfig]);
      t.equal(r2.code, 0, "multus install --kubeconfig", { stdout: r2.stdout, stderr: r2.stderr });
      const written2 = readFileSync(join(ctrd.confDir, "00-multus.conf"), "utf8");
      t.equal(JSON.parse(written2).kubeconfig, kubeconfig);
      await ctrd.waitForNetwork(written2);
      const name = uniqueName("instpod");
      const stored = api.putPod({ metadata: { name, namespace: POD_NS, annotations: { "k8s.v1.cni.cncf.io/networks": "install-ptp" } } });
      const q = await pods.run(podConfig({ name, uid: stored.metadata.uid }));
      t.same(podLinks(q), ["eth0", "net1"], "the NAD's interface too");
      const status = JSON.parse(api.getPod(POD_NS, name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]) as {
        name: string;
        interface: string;
      }[];
      t.same(
        status.map((e) => [e.name, e.interface]),
        [
          ["mt-cluster", "eth0"],
          [`${POD_NS}/install-ptp`, "net1"],
        ],
        "network-status written",
      );
      await pods.remove(q.id);
      await noLeaks(t, before, s, { cacheFiles: [record, join(DEFAULT_CNI_DIR, q.id), join(DEFAULT_CNI_DIR, ".locks", q.id)] });
    },
  );

  t.test(
    "(k) upstream's 00-multus.conflist (v4.2.4 and later) adopted in place: containerd loads it and calls multus as its plugins[0]",
    async (t) => {
      const s = scenario(t);
      const before = hostSnapshot();
      const pods = podsOf(t);
      const upstream = readFileSync(
        join(import.meta.dirname, "fixtures", "upstream", "upstream-multus-v4.2.4-and-later", "00-multus.conflist"),
        "utf8",
      );
      const cluster = { cniVersion: "1.0.0", name: "mt-cluster", plugins: [asPlugin(s.bridge())] };
      await ctrd.setNetwork({ "00-multus.conflist": upstream, "10-bridge.conflist": cluster });
      const installed = join(ctrd.binDir, "multus");
      rmSync(installed);
      t.teardown(() => {
        rmSync(installed, { force: true });
        symlinkSync(PLUGIN, installed);
      });
      // The DaemonSet's flags: its own kubeconfig, and a log file of this test's (upstream's is /var/log/multus.log).
      const kubeconfig = api.writeKubeconfig(s.dir, { auth: "tokenFile" });
      const log = join(s.dir, "multus.log");
      const r = await runPlugin({
        argv: ["install", "--bin-dir", ctrd.binDir, "--conf-dir", ctrd.confDir, "--kubeconfig", kubeconfig, "--log-file", log],
        stdin: "",
        env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
      });
      t.equal(r.code, 0, "multus install", { stdout: r.stdout, stderr: r.stderr });
      t.same(readdirSync(ctrd.confDir).sort(), ["00-multus.conflist", "10-bridge.conflist"], "adopted in place: no second multus config");
      const written = readFileSync(join(ctrd.confDir, "00-multus.conflist"), "utf8");
      await ctrd.waitForNetwork(written);
      t.match(JSON.parse(written), { plugins: [{ type: "multus", namespaceIsolation: true, delegates: [{ name: "mt-cluster" }] }] });

      const name = uniqueName("upod");
      const stored = api.putPod({ metadata: { name, namespace: POD_NS } });
      const p = await pods.run(podConfig({ name, uid: stored.metadata.uid }));
      const record = join(DEFAULT_CNI_DIR, p.id);
      t.same(podLinks(p), ["eth0"], "the cluster network, through multus");
      t.ok(p.ip.startsWith(`${s.subnets[0].prefix}.`));
      t.ok(existsSync(record), "multus was called: its cache record exists");
      t.ok(existsSync(join(LIBCNI_RESULTS, `multus-cni-network-${p.id}-eth0`)), "containerd ran the list multus-cni-network");
      t.ok(existsSync(log), "with plugins[0]'s settings (its logFile)");
      const status = JSON.parse(api.getPod(POD_NS, name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]) as { name: string }[];
      t.same(
        status.map((e) => e.name),
        ["mt-cluster"],
        "network-status written: Kubernetes mode",
      );
      await pods.remove(p.id);
      await noLeaks(t, before, s, { cacheFiles: [record, join(DEFAULT_CNI_DIR, ".locks", p.id)] });
    },
  );

  t.test(
    "(l) multus attach to two running sandboxes, traffic between them over the attached network, detach; the runtime's DEL removes what is still attached: nothing left",
    async (t) => {
      const s = scenario(t);
      const before = hostSnapshot();
      const pods = podsOf(t);
      const dataBridge = uniqueName("mtbr");
      t.teardown(() => {
        try {
          execFileSync("ip", ["link", "del", dataBridge], { stdio: "ignore" });
        } catch {
          // never created
        }
      });
      api.putNad(POD_NS, "mt-data", {
        ...s.bridge({ name: "mt-data", bridge: dataBridge }),
        ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir },
      });
      await ctrd.setNetwork({ "00-multus.conf": s.netconf([s.bridge()], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }) }) });
      const person = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
      const run = async () => {
        const name = uniqueName("attpod");
        const stored = api.putPod({ metadata: { name, namespace: POD_NS } });
        return { name, pod: await pods.run(podConfig({ name, uid: stored.metadata.uid })) };
      };
      const [a, b] = [await run(), await run()];
      const attach = async (name: string) => {
        const r = await person(["attach", "--pod", `${POD_NS}/${name}`, "--conf-dir", ctrd.confDir, "mt-data@data0", "--json"]);
        t.equal(r.code, 0, `attach to ${name}: ${r.stderr}`);
        return r.json as { containerID: string; ips: string[] };
      };
      const [ja, jb] = [await attach(a.name), await attach(b.name)];
      t.equal(ja.containerID, a.pod.id, "--pod found the sandbox through its record");
      for (const x of [a, b]) {
        t.same(podLinks(x.pod), ["data0", "eth0"], `${x.name}: the attached interface in containerd's netns`);
        const status = JSON.parse(api.getPod(POD_NS, x.name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]) as {
          interface: string;
        }[];
        t.same(
          status.map((e) => e.interface),
          ["eth0", "data0"],
          `${x.name}: network-status names it`,
        );
      }
      const [ipA, ipB] = [ip4(a.pod, "data0")[0], ip4(b.pod, "data0")[0]];
      t.same([ja.ips, jb.ips], [[`${ipA}/24`], [`${ipB}/24`]]);
      t.ok(ipA.startsWith(`${s.subnets[2].prefix}.`) && ipB.startsWith(`${s.subnets[2].prefix}.`), "both on the attached network's subnet");
      t.equal(await udpRoundTrip(a.pod, ipA, b.pod, ipB), `pong ${ipB}`, "a datagram from b's data0 to a's data0 and its answer back");

      for (const x of [a, b]) {
        const d = await person(["detach", "--pod", `${POD_NS}/${x.name}`, "--conf-dir", ctrd.confDir, "--interface", "data0"]);
        t.equal(d.code, 0, `detach from ${x.name}: ${d.stderr}`);
        t.same(podLinks(x.pod), ["eth0"]);
      }
      t.equal(reservations(s.ipamDir).filter((r) => r.startsWith("mt-data/")).length, 0, "the attached network's addresses are released");
      await attach(a.name);
      // Stop and remove: the runtime's DEL removes the attachment made after its ADD, with the others.
      await pods.remove(a.pod.id);
      await pods.remove(b.pod.id);
      await noLeaks(t, before, s, { bridges: [s.bridgeName, dataBridge] });
    },
  );

  t.test("(j) churn: 100 pod create/delete cycles, 4 at a time, with containerd restarts and the plugin SIGKILLed: 0 leaks", async (t) => {
    const s = scenario(t);
    const before = hostSnapshot();
    const logFile = join(s.dir, "multus.log");
    const conf = s.netconf([s.bridge(), s.ptp()], { logFile, logLevel: "debug" });
    await ctrd.setNetwork({ "00-multus.conf": conf });
    const seed = Number(process.env.MULTUS_E2E_SEED ?? randomInt(2 ** 31));
    t.comment(`churn seed ${seed} (MULTUS_E2E_SEED=${seed} repeats the plan)`);
    const rnd = mulberry32(seed);
    const CYCLES = Number(process.env.MULTUS_E2E_CYCLES ?? 100);
    const WORKERS = 4;
    const restartAt = new Map<number, NodeJS.Signals>();
    while (restartAt.size < Math.max(1, Math.round(CYCLES / 25)))
      restartAt.set(Math.floor(rnd() * CYCLES), rnd() < 0.5 ? "SIGTERM" : "SIGKILL");
    const plan = Array.from({ length: CYCLES }, (_, i) => ({
      killAdd: rnd() < 0.15 ? Math.floor(rnd() * 200) : undefined,
      killDel: rnd() < 0.08 ? Math.floor(rnd() * 150) : undefined,
      restart: restartAt.get(i),
    }));

    // A restart waits until no CRI call is in flight (pods stay running), like scenario (d) under load.
    let inFlight = 0;
    let gate: Promise<void> | undefined;
    const rpc = async <T>(fn: () => Promise<T>): Promise<T> => {
      while (gate) await gate;
      inFlight++;
      try {
        return await fn();
      } finally {
        inFlight--;
      }
    };
    const restart = async (signal: NodeJS.Signals) => {
      while (gate) await gate;
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      try {
        while (inFlight > 0) await sleep(10);
        await ctrd.restart(signal);
        await ctrd.waitForNetwork(conf);
      } finally {
        gate = undefined;
        open();
      }
    };

    const stats = { cycles: 0, addKills: 0, delKills: 0, addRetries: 0, stopRetries: 0, restarts: [] as string[] };
    /** pid → which call the test SIGKILLed */
    const killed = new Map<number, string>();
    const problems: string[] = [];
    const cycle = async (i: number) => {
      const step = plan[i];
      const name = `churn-${i}`;
      const uid = randomUUID();
      let p: PodRun | undefined;
      for (let attempt = 0; !p; attempt++) {
        const killer = step.killAdd !== undefined && attempt === 0 ? killPlugin(name, "ADD", step.killAdd) : undefined;
        try {
          p = await rpc(() => ctrd.runPod({ metadata: { name, namespace: POD_NS, uid, attempt } }));
        } catch (e) {
          if (attempt >= 3) {
            problems.push(`cycle ${i}: RunPodSandbox failed ${attempt + 1} times: ${criMessage(e)}`);
            return;
          }
          stats.addRetries++;
        } finally {
          const pid = await killer?.stop();
          if (pid) {
            stats.addKills++;
            killed.set(pid, `ADD of ${name} (attempt ${attempt}), ${step.killAdd} ms after it started`);
          }
        }
      }
      if (!p.ip || ip4(p, "eth0")[0] !== p.ip || ip4(p, "net1").length !== 1)
        problems.push(`cycle ${i}: pod ${p.id} has ${JSON.stringify(podLinks(p))}, CRI ip ${p.ip}`);
      if (step.restart) {
        await restart(step.restart);
        stats.restarts.push(`${step.restart} at cycle ${i}`);
      }
      const id = p.id;
      for (let attempt = 0; ; attempt++) {
        const killer = step.killDel !== undefined && attempt === 0 ? killPlugin(name, "DEL", step.killDel) : undefined;
        try {
          await rpc(() => ctrd.cri.stopPodSandbox(id));
          break;
        } catch (e) {
          if (attempt >= 3) {
            problems.push(`cycle ${i}: StopPodSandbox failed ${attempt + 1} times: ${criMessage(e)}`);
            return;
          }
          stats.stopRetries++;
        } finally {
          const pid = await killer?.stop();
          if (pid) {
            stats.delKills++;
            killed.set(pid, `DEL of ${name} (StopPodSandbox ${id}), ${step.killDel} ms after it started`);
          }
        }
      }
      await rpc(() => ctrd.cri.removePodSandbox(id)).catch((e) => problems.push(`cycle ${i}: RemovePodSandbox: ${criMessage(e)}`));
      stats.cycles++;
    };

    const started = Date.now();
    let next = 0;
    // A plugin that fails every call would otherwise leave hundreds of failed sandboxes: stop after 5 failed cycles.
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < CYCLES && problems.length < 5) await cycle(next++);
      }),
    );
    const left = await ctrd.cri.listPodSandbox();
    t.comment(
      `churn: ${stats.cycles}/${CYCLES} cycles in ${Date.now() - started} ms; plugin killed in ${stats.addKills} ADDs and ${stats.delKills} DELs; ` +
        `${stats.addRetries} RunPodSandbox and ${stats.stopRetries} StopPodSandbox retries; restarts: ${stats.restarts.join(", ")}`,
    );
    t.same(problems, [], "every cycle completed");
    t.same(
      left.map((x) => x.id),
      [],
      "containerd has no sandbox left",
    );
    t.equal(stats.cycles, CYCLES);
    const found = await settledLeaks(before, scopeOf(s));
    t.same(found, NO_LEAKS, "nothing is left");
    if (JSON.stringify(found) !== JSON.stringify(NO_LEAKS)) explainLeaks(t, found, logFile, killed);
  });
}

/** For a failed churn: which killed call wrote a leaked temp file, and what the plugin and containerd logged about it. */
function explainLeaks(t: Test, found: Leaks, logFile: string, killed: Map<number, string>) {
  for (const f of found.cache) {
    const pid = Number(/\.(\d+)\.tmp$/.exec(f)?.[1]);
    if (pid)
      t.comment(
        `${f}: temp file of pid ${pid}, ${killed.has(pid) ? `SIGKILLed by the test during the ${killed.get(pid)}` : "not killed by the test"}`,
      );
  }
  const pluginLog = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n") : [];
  const keys = new Set<string>([
    ...found.netns.map((n) => n.split("/").pop()!),
    ...found.cache.map((c) => c.split("/").pop()!.split(".")[0]),
  ]);
  for (const l of found.links) for (const m of l.matchAll(/cni-[0-9a-f-]+/g)) keys.add(m[0]);
  const ids = new Set<string>();
  for (const line of pluginLog) {
    if (![...keys].some((k) => line.includes(k))) continue;
    const id = /"containerID":"([0-9a-f]+)"/.exec(line)?.[1];
    if (id) ids.add(id);
  }
  const mine = (line: string) => [...keys, ...ids].some((k) => line.includes(k));
  for (const line of pluginLog.filter(mine)) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    delete entry.netconf;
    t.comment(`plugin: ${JSON.stringify(entry)}`);
  }
  for (const line of readFileSync(ctrd.logFile, "utf8").split("\n").filter(mine)) t.comment(`containerd: ${line.slice(0, 400)}`);
}

/** A small seeded PRNG (mulberry32), so a churn run can be repeated. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * SIGKILLs the plugin process that containerd runs for `command` on pod
 * `podName`, `delayMs` after it appears: found by its argv[0] or argv[1] (the
 * plugin in containerd's bin dir) and its CNI_COMMAND and CNI_ARGS. `stop()` ends the
 * search and gives the pid it killed, if it killed a running process.
 */
function killPlugin(podName: string, command: string, delayMs: number): { stop(): Promise<number | undefined> } {
  const bin = join(ctrd.binDir, "multus");
  let searching = true;
  const done = (async () => {
    while (searching) {
      for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        let argv: string[] = [];
        try {
          argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        } catch {
          continue;
        }
        // The executable, or a script run by its interpreter (e.g. multus.mjs under node).
        if (argv[0] !== bin && argv[1] !== bin) continue;
        const env = processEnv(Number(pid));
        if (env.CNI_COMMAND !== command || !(env.CNI_ARGS ?? "").includes(`K8S_POD_NAME=${podName};`)) continue;
        await sleep(delayMs);
        try {
          process.kill(Number(pid), "SIGKILL");
          return Number(pid);
        } catch {
          return undefined;
        }
      }
      await sleep(5);
    }
    return undefined;
  })();
  return {
    stop: () => {
      searching = false;
      return done;
    },
  };
}

/**
 * One UDP datagram from `client`'s address `clientIp` to `server`'s `serverIp`, answered: node in each
 * sandbox's netns (nsenter), the server bound to its address, the client to its own.
 */
async function udpRoundTrip(server: PodRun, serverIp: string, client: PodRun, clientIp: string): Promise<string> {
  const port = 30000 + randomInt(20000);
  const serve = `const s = require("dgram").createSocket("udp4");
s.on("message", (m, r) => s.send("pong " + r.address, r.port, r.address, () => s.close()));
s.bind(${port}, "${serverIp}", () => console.log("listening"));
setTimeout(() => process.exit(2), 10000);`;
  const ask = `const s = require("dgram").createSocket("udp4");
s.on("message", (m) => { console.log(String(m)); process.exit(0); });
s.bind(0, "${clientIp}", () => s.send("ping", ${port}, "${serverIp}"));
setTimeout(() => process.exit(3), 5000);`;
  const { spawn } = await import("node:child_process");
  const srv = spawn("nsenter", [`--net=${server.netns}`, "--", process.execPath, "-e", serve], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      srv.stdout.on("data", (b: Buffer) => b.toString().includes("listening") && resolve());
      srv.on("exit", (code) => reject(new Error(`the server exited (${code})`)));
    });
    return execFileSync("nsenter", [`--net=${client.netns}`, "--", process.execPath, "-e", ask], {
      encoding: "utf8",
      timeout: 10_000,
    }).trim();
  } finally {
    srv.kill();
  }
}
