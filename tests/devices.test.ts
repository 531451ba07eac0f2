// Device-plugin networks (SR-IOV): a NAD annotated
// k8s.v1.cni.cncf.io/resourceName gets one of the devices kubelet allocated
// to the pod for that resource, from the pod-resources API (a fake kubelet on
// a unix socket) or, failing that, from the device manager's checkpoint.
// The delegate is a recording script; the cluster network is a real bridge.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { dirname, join } from "node:path";
import t from "tap";
import { devicesInListResponse } from "../lib/k8s/pod-resources.ts";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { links, makeNetns, reservations, type Tap } from "./helpers/netns.ts";
import { GrpcStatus, startPodResources, writeCheckpoint } from "./helpers/podresources.ts";
import { CNI_BIN, type CniCall, PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";

const RESOURCE_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";
const SRIOV = "intel.com/sriov_netdevice";
const MJS = join(dirname(PLUGIN), "multus.mjs");

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

interface Call {
  cmd: string;
  ifname: string;
  conf: Record<string, unknown>;
}

interface World {
  s: Scenario;
  netns: { name: string; path: string };
  socket: string;
  checkpoint: string;
  devinfo: string;
  logFile: string;
  /** CNI_PATH with the recording plugins "fake-sriov" and "fake-fail" (its ADDs fail) in it. */
  path: string;
  /** Every invocation of the fake plugins, oldest first. */
  calls(): Call[];
  netconf(extra?: Record<string, unknown>): Record<string, unknown>;
  log(): Record<string, unknown>[];
}

function world(t: Tap): World {
  const s = scenario(t);
  const bin = join(s.dir, "bin");
  const rec = join(s.dir, "calls");
  mkdirSync(bin);
  mkdirSync(rec);
  // Records its stdin (one file per invocation) and prints a minimal result.
  writeFileSync(
    join(bin, "fake-sriov"),
    `#!/bin/sh
conf=$(cat)
printf '{"cmd":"%s","ifname":"%s","conf":%s}' "$CNI_COMMAND" "$CNI_IFNAME" "$conf" > "${rec}/$(date +%s%N)-$$.json"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","mac":"02:00:00:0a:0b:0c","sandbox":"%s"}],"ips":[{"address":"192.0.2.10/24","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS"
fi
`,
  );
  chmodSync(join(bin, "fake-sriov"), 0o755);
  // Fails every ADD (after recording it, like fake-sriov).
  writeFileSync(
    join(bin, "fake-fail"),
    `#!/bin/sh
conf=$(cat)
printf '{"cmd":"%s","ifname":"%s","conf":%s}' "$CNI_COMMAND" "$CNI_IFNAME" "$conf" > "${rec}/$(date +%s%N)-$$.json"
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","code":100,"msg":"fake failure"}'
  exit 1
fi
`,
  );
  chmodSync(join(bin, "fake-fail"), 0o755);
  const w: World = {
    s,
    netns: makeNetns(t),
    socket: join(s.dir, "kubelet.sock"),
    checkpoint: join(s.dir, "kubelet_internal_checkpoint"),
    devinfo: join(s.dir, "devinfo"),
    logFile: join(s.dir, "multus.log"),
    path: `${CNI_BIN}:${bin}`,
    calls: () =>
      readdirSync(rec)
        .sort()
        .map((f) => JSON.parse(readFileSync(join(rec, f), "utf8")) as Call),
    netconf: (extra = {}) =>
      s.netconf([s.bridge()], {
        kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }),
        podResourcesSocket: w.socket,
        kubeletCheckpoint: w.checkpoint,
        deviceInfoDir: w.devinfo,
        logFile: w.logFile,
        logLevel: "info",
        ...extra,
      }),
    log: () =>
      existsSync(w.logFile)
        ? readFileSync(w.logFile, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
  };
  return w;
}

let podCounter = 0;
function pod(namespace: string, networks: string) {
  const name = `dev-pod-${++podCounter}`;
  const stored = api.putPod({ metadata: { name, namespace, annotations: { "k8s.v1.cni.cncf.io/networks": networks } } });
  return {
    name,
    namespace,
    uid: stored.metadata.uid!,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=c${podCounter};K8S_POD_UID=${stored.metadata.uid}`,
    containerId: `dev-${podCounter}`,
  };
}

/** A NAD whose delegate is the recording plugin, annotated with a device-plugin resource. */
function sriovNad(namespace: string, name: string, resource: string | undefined, config: Record<string, unknown> = {}) {
  api.putNad(namespace, name, {
    metadata: resource ? { annotations: { [RESOURCE_ANNOTATION]: resource } } : {},
    spec: { config: JSON.stringify({ cniVersion: "1.0.0", name, type: "fake-sriov", ...config }) },
  });
}

function statusOf(namespace: string, name: string): Record<string, unknown>[] {
  const v = api.getPod(namespace, name)!.metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"];
  return v ? (JSON.parse(v) as Record<string, unknown>[]) : [];
}

const pci = (address: string) => ({ type: "pci", version: "1.1.0", pci: { "pci-address": address } });
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as unknown;
const listDir = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

const runners: [string, Partial<CniCall>][] = [["executable", {}]];
if (existsSync(MJS)) runners.push(["node multus.mjs", { bin: MJS, interpreter: [process.execPath] }]);

for (const [runner, how] of runners) {
  t.test(
    `${runner}: two NADs on one resource get two devices from the pod-resources API; deviceID reaches every plugin; device-info written, published, removed`,
    async (t) => {
      const w = world(t);
      const kubelet = await startPodResources(w.socket);
      t.teardown(() => kubelet.stop());
      sriovNad("ns1", "sriov-a", SRIOV, { capabilities: { CNIDeviceInfoFile: true, deviceID: true } });
      // A conflist: each of its plugins gets the device.
      api.putNad("ns1", "sriov-b", {
        metadata: { annotations: { [RESOURCE_ANNOTATION]: SRIOV } },
        spec: {
          config: JSON.stringify({
            cniVersion: "1.0.0",
            name: "sriov-b",
            plugins: [{ type: "fake-sriov" }, { type: "fake-sriov", tuning: true }],
          }),
        },
      });
      const p = pod("ns1", "sriov-a, sriov-b");
      kubelet.setPods([
        // Same name in another namespace: must not be taken.
        {
          name: p.name,
          namespace: "other",
          containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:d8:00.7"] }] }],
        },
        {
          name: p.name,
          namespace: "ns1",
          containers: [
            {
              name: "app",
              devices: [
                { resourceName: "example.com/gpu", deviceIds: ["gpu-0"] },
                { resourceName: SRIOV, deviceIds: ["0000:af:06.0", "0000:af:06.1"], numaNodes: [1] },
              ],
            },
          ],
        },
      ]);
      api.clearRequests();
      const call: CniCall = { ...how, containerId: p.containerId, netns: w.netns.path, args: p.args, path: w.path, stdin: w.netconf() };
      const r = await runPlugin({ ...call, command: "ADD" });
      t.equal(r.code, 0, r.stdout + r.stderr);

      const adds = w.calls().filter((c) => c.cmd === "ADD");
      t.same(
        adds.map((c) => [c.ifname, c.conf.deviceID, c.conf.pciBusID]),
        [
          ["net1", "0000:af:06.0", "0000:af:06.0"],
          ["net2", "0000:af:06.1", "0000:af:06.1"],
          ["net2", "0000:af:06.1", "0000:af:06.1"],
        ],
        "each attachment its own device, in order; both plugins of the conflist get it",
      );
      const infoA = join(w.devinfo, "cni", `ns1-sriov-a-${p.containerId}_net1`);
      const infoB = join(w.devinfo, "cni", `ns1-sriov-b-${p.containerId}_net2`);
      t.same(
        adds[0].conf.runtimeConfig,
        { CNIDeviceInfoFile: infoA, deviceID: "0000:af:06.0" },
        "capabilities: the device-info file and the device",
      );
      t.same(listDir(join(w.devinfo, "cni")), [`ns1-sriov-a-${p.containerId}_net1`, `ns1-sriov-b-${p.containerId}_net2`].sort());
      t.same(readJson(infoA), pci("0000:af:06.0"));
      t.same(readJson(infoB), pci("0000:af:06.1"));

      const st = statusOf("ns1", p.name);
      t.same(
        st.map((e) => [e.name, e.interface, e["device-info"]]),
        [
          ["br-net", "eth0", undefined],
          ["ns1/sriov-a", "net1", pci("0000:af:06.0")],
          ["ns1/sriov-b", "net2", pci("0000:af:06.1")],
        ],
      );
      t.match(
        w.log().find((l) => l.msg === "device-plugin devices"),
        { source: "pod-resources API", socket: w.socket },
        "the log says where the devices came from",
      );

      // API economy: nothing more than without devices.
      t.equal(api.counts("GET", "/api/v1/namespaces/ns1/pods/"), 1);
      t.equal(api.counts("GET", "/apis/k8s.cni.cncf.io/"), 2);
      t.equal(api.counts("PATCH"), 1);
      t.equal(api.counts("POST", "/api/v1/namespaces/ns1/events"), 1, "the AddedInterface event");
      t.equal(api.counts("*"), 5, "no extra API requests");
      t.equal(kubelet.calls, 1, "one List call");

      api.clearRequests();
      const d = await runPlugin({ ...call, command: "DEL" });
      t.equal(d.code, 0, d.stdout + d.stderr);
      const dels = w.calls().filter((c) => c.cmd === "DEL");
      t.same(dels.map((c) => [c.ifname, c.conf.deviceID]).sort(), [
        ["net1", "0000:af:06.0"],
        ["net2", "0000:af:06.1"],
        ["net2", "0000:af:06.1"],
      ]);
      t.same(listDir(join(w.devinfo, "cni")), [], "device-info files removed at DEL");
      t.equal(api.counts("*"), 0, "DEL without the API");
      t.equal(kubelet.calls, 1, "DEL without the kubelet");
      t.same(links(w.netns.name), []);
      t.same(reservations(w.s.ipamDir), []);
    },
  );
}

t.test("a device plugin's device-info file is copied for the attachment", async (t) => {
  const w = world(t);
  const kubelet = await startPodResources(w.socket);
  t.teardown(() => kubelet.stop());
  sriovNad("ns1", "sriov-rdma", SRIOV);
  const p = pod("ns1", "sriov-rdma");
  kubelet.setPods([
    { name: p.name, namespace: "ns1", containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:02.3"] }] }] },
  ]);
  const fromDp = {
    type: "pci",
    version: "1.1.0",
    pci: { "pci-address": "0000:af:02.3", "rdma-device": "mlx5_7", "pf-pci-address": "0000:af:00.0" },
  };
  mkdirSync(join(w.devinfo, "dp"), { recursive: true });
  writeFileSync(join(w.devinfo, "dp", "intel.com-sriov_netdevice-0000:af:02.3-device.json"), JSON.stringify(fromDp));
  const call: CniCall = { containerId: p.containerId, netns: w.netns.path, args: p.args, path: w.path, stdin: w.netconf() };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(readJson(join(w.devinfo, "cni", `ns1-sriov-rdma-${p.containerId}_net1`)), fromDp);
  t.same(statusOf("ns1", p.name)[1]["device-info"], fromDp);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.same(listDir(join(w.devinfo, "cni")), []);
  t.same(listDir(join(w.devinfo, "dp")), ["intel.com-sriov_netdevice-0000:af:02.3-device.json"], "the device plugin's own file stays");
});

t.test("without the pod-resources socket, the devices come from the kubelet checkpoint (both formats), matched by pod UID", async (t) => {
  const w = world(t);
  sriovNad("ns1", "sriov-c", SRIOV);
  const p = pod("ns1", "sriov-c");
  const old = pod("ns1", "sriov-c");
  writeCheckpoint(w.checkpoint, [
    { podUID: "another-pod", containerName: "app", resourceName: SRIOV, deviceIDs: { "0": ["0000:3b:02.0"] } },
    { podUID: p.uid, containerName: "app", resourceName: SRIOV, deviceIDs: { "-1": ["0000:3b:02.2"] } },
    { podUID: old.uid, containerName: "app", resourceName: SRIOV, deviceIDs: ["0000:3b:02.5"] },
  ]);
  t.notOk(existsSync(w.socket));
  for (const [who, want] of [
    [p, "0000:3b:02.2"],
    [old, "0000:3b:02.5"],
  ] as const) {
    const r = await runPlugin({
      command: "ADD",
      containerId: who.containerId,
      netns: w.netns.path,
      args: who.args,
      path: w.path,
      stdin: w.netconf(),
    });
    t.equal(r.code, 0, r.stdout + r.stderr);
    const add = w.calls().filter((c) => c.cmd === "ADD" && c.conf.deviceID === want);
    t.equal(add.length, 1, `${who.name} got ${want}`);
    t.same(statusOf("ns1", who.name)[1]["device-info"], pci(want));
    t.equal(
      (
        await runPlugin({
          command: "DEL",
          containerId: who.containerId,
          netns: w.netns.path,
          args: who.args,
          path: w.path,
          stdin: w.netconf(),
        })
      ).code,
      0,
    );
  }
  const sources = w.log().filter((l) => l.msg === "device-plugin devices");
  t.match(sources, [{ source: "checkpoint", checkpoint: w.checkpoint }, { source: "checkpoint" }]);
  t.match(
    w.log().find((l) => l.msg === "pod-resources API unavailable; using the kubelet checkpoint"),
    { problem: /ENOENT|no such file/i },
  );
});

t.test("devices are handed out in sorted order, whatever order kubelet lists them in (API and checkpoint)", async (t) => {
  const w = world(t);
  sriovNad("ns1", "sriov-s1", SRIOV);
  sriovNad("ns1", "sriov-s2", SRIOV);
  sriovNad("ns1", "sriov-s3", SRIOV);
  const p = pod("ns1", "sriov-s1, sriov-s2, sriov-s3");
  const kubelet = await startPodResources(w.socket);
  t.teardown(() => kubelet.stop());
  // Two containers; kubelet's order comes from map walks.
  kubelet.setPods([
    {
      name: p.name,
      namespace: "ns1",
      containers: [
        { name: "a", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:06.2", "0000:af:06.0"] }] },
        { name: "b", devices: [{ resourceName: SRIOV, deviceIds: ["0000:3b:02.1"] }] },
      ],
    },
  ]);
  const call: CniCall = { containerId: p.containerId, netns: w.netns.path, args: p.args, path: w.path, stdin: w.netconf() };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  const byIf = (cmd: string) =>
    w
      .calls()
      .filter((c) => c.cmd === cmd)
      .map((c) => [c.ifname, c.conf.deviceID]);
  t.same(byIf("ADD"), [
    ["net1", "0000:3b:02.1"],
    ["net2", "0000:af:06.0"],
    ["net3", "0000:af:06.2"],
  ]);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  await kubelet.stop();

  const q = pod("ns1", "sriov-s1, sriov-s2");
  writeCheckpoint(w.checkpoint, [
    { podUID: q.uid, containerName: "a", resourceName: SRIOV, deviceIDs: { "1": ["0000:d8:00.3"], "0": ["0000:d8:00.1"] } },
  ]);
  const before = byIf("ADD").length;
  const call2: CniCall = { containerId: q.containerId, netns: w.netns.path, args: q.args, path: w.path, stdin: w.netconf() };
  t.equal((await runPlugin({ ...call2, command: "ADD" })).code, 0);
  t.same(byIf("ADD").slice(before), [
    ["net1", "0000:d8:00.1"],
    ["net2", "0000:d8:00.3"],
  ]);
  t.equal((await runPlugin({ ...call2, command: "DEL" })).code, 0);
});

t.test("a static pod's devices are found in the checkpoint by kubelet's UID, not its mirror pod's", async (t) => {
  const w = world(t);
  sriovNad("kube-system", "sriov-edge", SRIOV);
  const name = `dev-static-${++podCounter}`;
  const kubeletUid = "5f0a4c1e-0000-4000-8000-0000000000d1";
  const mirror = api.putPod({
    metadata: {
      name,
      namespace: "kube-system",
      annotations: { "kubernetes.io/config.source": "file", "k8s.v1.cni.cncf.io/networks": "sriov-edge" },
    },
  });
  writeCheckpoint(w.checkpoint, [
    { podUID: mirror.metadata.uid!, containerName: "app", resourceName: SRIOV, deviceIDs: ["0000:5e:00.9"] },
    { podUID: kubeletUid, containerName: "app", resourceName: SRIOV, deviceIDs: ["0000:5e:00.2"] },
  ]);
  const call: CniCall = {
    containerId: `dev-static-${podCounter}`,
    netns: w.netns.path,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=${name};K8S_POD_UID=${kubeletUid}`,
    path: w.path,
    stdin: w.netconf(),
  };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(
    w.calls().map((c) => [c.cmd, c.conf.deviceID]),
    [["ADD", "0000:5e:00.2"]],
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a pod-resources API that fails or never answers falls back to the checkpoint within its timeout", async (t) => {
  const w = world(t);
  sriovNad("ns1", "sriov-d", SRIOV);
  const p = pod("ns1", "sriov-d");
  writeCheckpoint(w.checkpoint, [{ podUID: p.uid, containerName: "app", resourceName: SRIOV, deviceIDs: { "0": ["0000:5e:01.1"] } }]);
  const call: CniCall = { containerId: p.containerId, netns: w.netns.path, args: p.args, path: w.path, stdin: w.netconf() };

  // An older kubelet without the v1 API: UNIMPLEMENTED.
  const kubelet = await startPodResources(w.socket);
  kubelet.failWith(GrpcStatus.UNIMPLEMENTED);
  let r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(kubelet.calls, 1);
  t.equal(w.calls().find((c) => c.cmd === "ADD")?.conf.deviceID, "0000:5e:01.1");
  t.match(
    w.log().find((l) => l.msg === "pod-resources API unavailable; using the kubelet checkpoint"),
    { problem: /grpc-status 12/ },
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  await kubelet.stop();

  // A socket that accepts, reads, and never answers.
  const conns: Socket[] = [];
  const hung = createServer((c) => {
    conns.push(c);
    c.resume();
  });
  await new Promise<void>((resolve) => hung.listen(w.socket, resolve));
  t.teardown(() => {
    for (const c of conns) c.destroy();
    return new Promise<void>((resolve) => hung.close(() => resolve()));
  });
  const started = Date.now();
  r = await runPlugin({ ...call, command: "ADD" });
  const ms = Date.now() - started;
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.ok(ms < 6000, `answered in ${ms} ms`);
  t.match(
    w
      .log()
      .filter((l) => l.msg === "pod-resources API unavailable; using the kubelet checkpoint")
      .at(-1),
    { problem: /timed out/ },
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a resource with no device for this pod fails the ADD by NAD and resource, with nothing attached", async (t) => {
  const w = world(t);
  const kubelet = await startPodResources(w.socket);
  t.teardown(() => kubelet.stop());
  sriovNad("ns1", "sriov-e", SRIOV);
  sriovNad("ns1", "sriov-none", "intel.com/sriov_absent");
  const p = pod("ns1", "sriov-e, sriov-none");
  kubelet.setPods([
    { name: p.name, namespace: "ns1", containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:06.4"] }] }] },
  ]);
  api.clearRequests();
  const call: CniCall = { containerId: p.containerId, netns: w.netns.path, args: p.args, path: w.path, stdin: w.netconf() };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.json?.code, 7, r.stdout);
  t.match(r.json?.msg, /NetworkAttachmentDefinition ns1\/sriov-none needs a device of resource "intel.com\/sriov_absent"/);
  t.match(r.json?.msg, new RegExp(`none is allocated to pod ns1/${p.name}`));
  t.match(
    r.json?.details,
    /networks on "intel.com\/sriov_absent" need 1 device, one each: its containers must request that many in their resources/,
  );
  t.same(w.calls(), [], "no delegate ran");
  t.same(links(w.netns.name), [], "nothing attached");
  t.notOk(existsSync(join(w.s.cniDir, p.containerId)), "no cache record");
  t.same(listDir(join(w.devinfo, "cni")), []);
  t.equal(api.counts("PATCH"), 0);

  // One device, two networks on it: the second is refused the same way.
  sriovNad("ns1", "sriov-e2", SRIOV);
  const q = pod("ns1", "sriov-e, sriov-e2");
  kubelet.setPods([
    { name: q.name, namespace: "ns1", containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:06.4"] }] }] },
  ]);
  const r2 = await runPlugin({ ...call, containerId: q.containerId, args: q.args, command: "ADD" });
  t.equal(r2.json?.code, 7, r2.stdout);
  t.match(
    r2.json?.msg,
    /NetworkAttachmentDefinition ns1\/sriov-e2 needs a device of resource "intel.com\/sriov_netdevice": the pod's 1 device is used by the networks before it/,
  );
  t.same(w.calls(), []);
  t.same(links(w.netns.name), []);
});

t.test("neither the pod-resources API nor the checkpoint: try again later (11), nothing attached", async (t) => {
  const w = world(t);
  sriovNad("ns1", "sriov-f", SRIOV);
  const p = pod("ns1", "sriov-f");
  const r = await runPlugin({
    command: "ADD",
    containerId: p.containerId,
    netns: w.netns.path,
    args: p.args,
    path: w.path,
    stdin: w.netconf(),
  });
  t.equal(r.json?.code, 11, r.stdout);
  t.match(r.json?.msg, /cannot find the devices allocated to pod ns1\/dev-pod-\d+/);
  t.match(r.json?.details, new RegExp(`${w.socket}[\\s\\S]*${w.checkpoint}`));
  t.same(w.calls(), []);
  t.same(links(w.netns.name), []);
});

t.test("a kubeletCheckpoint that is a FIFO or a device is never waited on or read: code 11 naming it", async (t) => {
  const w = world(t);
  sriovNad("ns1", "sriov-g", SRIOV);
  execFileSync("mkfifo", [w.checkpoint]);
  for (const [checkpoint, why] of [
    [w.checkpoint, "is a FIFO, not a regular file"],
    ["/dev/zero", "is a character device, not a regular file"],
  ]) {
    const p = pod("ns1", "sriov-g");
    const r = await runPlugin({
      command: "ADD",
      containerId: p.containerId,
      netns: w.netns.path,
      args: p.args,
      path: w.path,
      stdin: w.netconf({ kubeletCheckpoint: checkpoint }),
    });
    t.equal(r.json?.code, 11, r.stdout);
    t.match(r.json?.details, `kubelet checkpoint ${checkpoint}: ${checkpoint} ${why}`);
    t.same(w.calls(), []);
  }
});

t.test("a DEL without a cache record still removes the attachment's device-info file", async (t) => {
  const w = world(t);
  const kubelet = await startPodResources(w.socket);
  t.teardown(() => kubelet.stop());
  sriovNad("ns1", "sriov-g", SRIOV);
  const p = pod("ns1", "sriov-g");
  kubelet.setPods([
    { name: p.name, namespace: "ns1", containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:0a.0"] }] }] },
  ]);
  const call: CniCall = { containerId: p.containerId, netns: w.netns.path, args: p.args, path: w.path, stdin: w.netconf() };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.same(listDir(join(w.devinfo, "cni")), [`ns1-sriov-g-${p.containerId}_net1`]);
  rmSync(join(w.s.cniDir, p.containerId));
  const calls = kubelet.calls;
  const d = await runPlugin({ ...call, command: "DEL" });
  t.equal(d.code, 0, d.stdout + d.stderr);
  t.same(listDir(join(w.devinfo, "cni")), []);
  t.equal(kubelet.calls, calls, "a DEL does not ask the kubelet");
  t.ok(
    w.calls().some((c) => c.cmd === "DEL" && c.ifname === "net1"),
    "the delegate's DEL ran",
  );
});

t.test("a failed ADD after a device attachment removes its device-info file with the rest", async (t) => {
  const w = world(t);
  const kubelet = await startPodResources(w.socket);
  t.teardown(() => kubelet.stop());
  sriovNad("ns1", "sriov-h", SRIOV);
  api.putNad("ns1", "broken", { cniVersion: "1.0.0", name: "broken", type: "fake-fail" });
  const p = pod("ns1", "sriov-h, broken");
  kubelet.setPods([
    { name: p.name, namespace: "ns1", containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:0b.0"] }] }] },
  ]);
  const r = await runPlugin({
    command: "ADD",
    containerId: p.containerId,
    netns: w.netns.path,
    args: p.args,
    path: w.path,
    stdin: w.netconf(),
  });
  t.equal(r.json?.code, 100, r.stdout);
  t.match(r.json?.msg, /broken/);
  t.same(
    w.calls().map((c) => [c.cmd, c.ifname, c.conf.deviceID]),
    [
      ["ADD", "net1", "0000:af:0b.0"],
      ["ADD", "net2", undefined],
      ["DEL", "net2", undefined],
      ["DEL", "net1", "0000:af:0b.0"],
    ],
    "rolled back in reverse order",
  );
  t.same(listDir(join(w.devinfo, "cni")), [], "the device-info file is gone");
  t.notOk(existsSync(join(w.s.cniDir, p.containerId)));
  t.same(links(w.netns.name), []);
});

t.test("the List answer decoder skips every wire type it does not read and refuses a truncated message", async (t) => {
  // Hand-encoded protobuf: key = field << 3 | wire type; length-delimited values are prefixed by their length.
  const ld = (field: number, body: Uint8Array | string) => {
    const b = typeof body === "string" ? Buffer.from(body) : Buffer.from(body);
    return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
  };
  const devices = Buffer.concat([
    ld(1, "vendor.io/nic"),
    Buffer.from([(7 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]), // fixed64, unknown field
    ld(2, "dev-a"),
    Buffer.from([(8 << 3) | 5, 1, 2, 3, 4]), // fixed32, unknown field
    Buffer.from([(9 << 3) | 0, 0xff, 0xff, 0x03]), // varint, unknown field
    ld(2, "dev-b"),
  ]);
  const pod = Buffer.concat([ld(1, "p"), ld(2, "ns"), ld(3, Buffer.concat([ld(1, "c"), ld(2, devices)]))]);
  const answer = Buffer.concat([ld(1, pod), ld(1, Buffer.concat([ld(1, "p"), ld(2, "elsewhere"), ld(3, ld(2, devices))]))]);
  t.same(Object.fromEntries(devicesInListResponse(answer, "ns", "p")), { "vendor.io/nic": ["dev-a", "dev-b"] });
  t.same(Object.fromEntries(devicesInListResponse(answer, "ns", "q")), {});
  t.throws(() => devicesInListResponse(answer.subarray(0, answer.length - 3), "ns", "p"), /longer than its message|truncated/);
  t.throws(() => devicesInListResponse(Buffer.from([(1 << 3) | 3]), "ns", "p"), /unsupported wire type 3/);
});
