// `multus explain`: what an ADD would do for a pod, attaching nothing, from
// manifests (no cluster) or from the API and kubelet (--pod, on the node).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { matchesDocs } from "./helpers/json-docs.ts";
import { tempDir } from "./helpers/netns.ts";
import { startPodResources } from "./helpers/podresources.ts";
import { type RunResult, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

const cli = (argv: string[]): Promise<RunResult> => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });

interface Network {
  interface: string;
  network: string;
  clusterNetwork: boolean;
  cniArgs: string;
  stdin: Record<string, unknown>[];
  device?: { resourceName: string; deviceID?: string; infoFile?: string };
}
interface Explained {
  pod: string;
  mode: string;
  netconf: string;
  networks: Network[];
  defaultRoute: { interface: string; gateways: string[] }[];
  problems: { severity: string; path: string; message: string }[];
}

const nadYaml = (namespace: string, name: string, config: Record<string, unknown>, resource?: string) => `---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: ${name}
  namespace: ${namespace}
${resource ? `  annotations:\n    k8s.v1.cni.cncf.io/resourceName: ${resource}\n` : ""}spec:
  config: '${JSON.stringify(config)}'
`;

const podYaml = (namespace: string, name: string, networks: unknown, resources = "") => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
  annotations:
    k8s.v1.cni.cncf.io/networks: '${typeof networks === "string" ? networks : JSON.stringify(networks)}'
spec:
  containers:
  - name: app
    image: busybox${resources}
`;

t.test(
  "FILE: networks in order, each plugin's stdin with the runtime config injected and secrets redacted, the default route",
  async (t) => {
    const dir = tempDir(t);
    const s = scenario(t);
    const conf = join(dir, "00-multus.conf");
    writeFileSync(conf, JSON.stringify(s.netconf([s.bridge()], { kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig" })));
    const file = join(dir, "pod.yaml");
    const static_ = {
      cniVersion: "1.0.0",
      type: "bridge",
      bridge: "mtbrx",
      ipam: { type: "static" },
      capabilities: { ips: true, mac: true },
    };
    const chain = {
      cniVersion: "1.0.0",
      plugins: [
        { type: "ptp", ipam: { type: "host-local", subnet: s.subnets[1].cidr } },
        { type: "tuning", password: "hunter2-not-for-logs" },
      ],
    };
    writeFileSync(
      file,
      nadYaml("ns1", "data", static_) +
        nadYaml("ns1", "side", chain) +
        podYaml("ns1", "web", [
          {
            name: "data",
            interface: "data0",
            ips: [`${s.subnets[2].prefix}.5/24`],
            mac: "02:00:00:00:00:05",
            "default-route": [`${s.subnets[2].prefix}.1`],
          },
          { name: "side" },
        ]),
    );
    const r = await cli(["explain", "--conf", conf, file, "--json"]);
    t.equal(r.code, 0, r.stdout + r.stderr);
    const [x] = (r.json as { pods: Explained[] }).pods;
    matchesDocs(t, "explain", r.json);
    t.match(x, { pod: "ns1/web", mode: "kubernetes", netconf: conf });
    t.same(
      x.networks.map((n) => [n.interface, n.network, n.clusterNetwork]),
      [
        ["eth0", "br-net", true],
        ["data0", "ns1/data", false],
        ["net2", "ns1/side", false],
      ],
    );
    t.same(
      x.networks[1].stdin,
      [{ ...static_, name: "data", runtimeConfig: { ips: [`${s.subnets[2].prefix}.5/24`], mac: "02:00:00:00:00:05" } }],
      "what bridge reads",
    );
    t.match(x.networks[1].cniArgs, /K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web;IP=.*;MAC=02:00:00:00:00:05$/);
    t.same(
      x.networks[2].stdin.map((c) => [c.type, c.name, c.cniVersion, c.password ?? null]),
      [
        ["ptp", "side", "1.0.0", null],
        ["tuning", "side", "1.0.0", "[redacted]"],
      ],
      "a conflist: each plugin's stdin, a secret redacted",
    );
    t.notMatch(r.stdout, /hunter2/);
    t.same(x.defaultRoute, [{ interface: "data0", gateways: [`${s.subnets[2].prefix}.1`] }]);
    t.same(
      x.problems.filter((p) => p.severity === "error"),
      [],
    );

    const text = await cli(["explain", "--conf", conf, file]);
    t.equal(text.code, 0);
    t.match(text.stdout, /^pod ns1\/web: Kubernetes mode, netconf /);
    t.match(text.stdout, /\n {2}data0 +ns1\/data\n/);
    t.match(
      text.stdout,
      new RegExp(
        `default route: via ${s.subnets[2].prefix.replace(/\./g, "\\.")}\\.1 on data0; the other interfaces' default routes are removed`,
      ),
    );
  },
);

t.test("FILE: every problem an ADD would meet; exit code 1 for an error", async (t) => {
  const dir = tempDir(t);
  const s = scenario(t);
  const conf = join(dir, "00-multus.conf");
  writeFileSync(conf, JSON.stringify(s.netconf([s.bridge()], { kubeconfig: "/k" })));
  const file = join(dir, "pod.yaml");
  const hl = (subnet: string, type = "bridge") => ({ cniVersion: "1.0.0", type, ipam: { type: "host-local", subnet } });
  writeFileSync(
    file,
    nadYaml("ns1", "a", hl(s.subnets[1].cidr)) +
      nadYaml("ns1", "b", hl(s.subnets[1].cidr)) +
      nadYaml("ns1", "vf", { cniVersion: "1.0.0", type: "no-such-plugin" }, "intel.com/mt_vf") +
      podYaml("ns1", "web", "a, b, vf") +
      podYaml("ns1", "twice", "a@same, b@same") +
      podYaml("ns1", "typo", "aa"),
  );
  const r = await cli(["explain", "--conf", conf, file, "--json"]);
  t.equal(r.code, 1, "an ADD would fail");
  const pods = (r.json as { ok: boolean; pods: Explained[] }).pods;
  t.equal((r.json as { ok: boolean }).ok, false);
  const [web, twice, typo] = pods;
  t.match(
    web.problems,
    [
      { severity: "warning", path: "ns1/b.ipam.subnet", message: /overlap|share/ },
      { severity: "error", path: "ns1/vf.type", message: /failed to find plugin "no-such-plugin"/ },
      {
        severity: "error",
        path: "spec.containers[].resources",
        message: /needs a device of resource "intel.com\/mt_vf", but no container of the pod requests one/,
      },
    ],
    "overlap (warning), a plugin not installed, a resource not requested",
  );
  t.match(web.networks[3], { interface: "net3", device: { resourceName: "intel.com/mt_vf" } });
  t.notOk(web.networks[3].device?.deviceID, "no device without kubelet");
  t.match(twice.problems, [{ severity: "error", message: /interface name "same" is used by both network "a" and network "b"/ }]);
  t.same(twice.networks, [], "no plan: the ADD fails before attaching anything");
  t.match(typo.problems, [{ severity: "error", message: /NetworkAttachmentDefinition ns1\/aa not found/ }]);
  const text = await cli(["explain", "--conf", conf, file]);
  t.match(text.stdout, /\nerror: ns1\/vf\.type: failed to find plugin "no-such-plugin"/);
  t.match(text.stdout, /\nwarning: ns1\/b\.ipam\.subnet: /);
});

t.test("FILE: a delegates-mode netconf among the files: the pod's annotations are not read, and it says so", async (t) => {
  const dir = tempDir(t);
  const s = scenario(t);
  writeFileSync(join(dir, "00-multus.conf"), JSON.stringify(s.netconf([s.bridge(), s.ptp()])));
  writeFileSync(join(dir, "pod.yaml"), nadYaml("ns1", "a", { cniVersion: "1.0.0", type: "ptp" }) + podYaml("ns1", "web", "a"));
  const r = await cli(["explain", join(dir, "00-multus.conf"), join(dir, "pod.yaml"), "--json"]);
  t.equal(r.code, 0, r.stderr);
  const [x] = (r.json as { pods: Explained[] }).pods;
  t.match(x, {
    mode: "delegates",
    problems: [{ severity: "warning", message: /delegates-mode netconf .*does not read this pod's network annotations/ }],
  });
  t.same(
    x.networks.map((n) => `${n.interface}=${n.network}`),
    ["eth0=br-net", "net1=ptp-net"],
  );
});

t.test("--pod on the node: the API's pod and NADs, kubelet's devices; nothing written", async (t) => {
  const s = scenario(t);
  const name = "explained";
  const SRIOV = "intel.com/mt_explain";
  api.putPod({ metadata: { name, namespace: "ns2", annotations: { "k8s.v1.cni.cncf.io/networks": "vf, other/far" } } });
  api.putNad("ns2", "vf", {
    metadata: { annotations: { "k8s.v1.cni.cncf.io/resourceName": SRIOV } },
    spec: { config: JSON.stringify({ cniVersion: "1.0.0", name: "vf", type: "ptp", capabilities: { deviceID: true } }) },
  });
  api.putNad("other", "far", s.ptp({ name: "far" }));
  const socket = join(s.dir, "kubelet.sock");
  const kubelet = await startPodResources(socket, [
    { name, namespace: "ns2", containers: [{ name: "app", devices: [{ resourceName: SRIOV, deviceIds: ["0000:af:06.3"] }] }] },
  ]);
  t.teardown(() => kubelet.stop());
  const devinfo = join(s.dir, "devinfo");
  const netconf = s.netconf([s.bridge()], {
    kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }),
    podResourcesSocket: socket,
    kubeletCheckpoint: join(s.dir, "none"),
    deviceInfoDir: devinfo,
    namespaceIsolation: true,
    globalNamespaces: "default,other",
  });
  const conf = join(s.dir, "00-multus.conf");
  writeFileSync(conf, JSON.stringify(netconf));
  api.clearRequests();
  const r = await cli(["explain", "--pod", `ns2/${name}`, "--conf", conf, "--json"]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const [x] = (r.json as { pods: Explained[] }).pods;
  matchesDocs(t, "explain", r.json);
  t.same(
    x.networks.map((n) => [n.interface, n.network]),
    [
      ["eth0", "br-net"],
      ["net1", "ns2/vf"],
      ["net2", "other/far"],
    ],
  );
  t.match(x.networks[1], {
    device: { resourceName: SRIOV, deviceID: "0000:af:06.3", infoFile: join(devinfo, "cni", "ns2-vf-CONTAINERID_net1") },
    stdin: [{ deviceID: "0000:af:06.3", pciBusID: "0000:af:06.3", runtimeConfig: { deviceID: "0000:af:06.3" } }],
  });
  t.equal(api.counts("PATCH"), 0, "no network-status written");
  t.equal(api.counts("POST"), 0, "no event posted");
  t.notOk(existsSync(devinfo), "no device-info file written");
  t.notOk(existsSync(s.cniDir), "no record");
  t.match(x.networks[0].cniArgs, new RegExp(`K8S_POD_NAMESPACE=ns2;K8S_POD_NAME=${name}`));

  // Isolation without "other" among the global namespaces: the ADD would be refused.
  writeFileSync(conf, JSON.stringify({ ...netconf, globalNamespaces: "default" }));
  const refused = await cli(["explain", "--pod", `ns2/${name}`, "--conf", conf]);
  t.equal(refused.code, 1);
  t.match(refused.stdout, new RegExp(`error: namespace isolation: pod ns2/${name} may not use NetworkAttachmentDefinition other/far`));

  // kubelet gone: the networks are still shown, the device problem said.
  await kubelet.stop();
  writeFileSync(conf, JSON.stringify(netconf));
  const noKubelet = await cli(["explain", "--pod", `ns2/${name}`, "--conf", conf, "--json"]);
  t.equal(noKubelet.code, 1);
  const [y] = (noKubelet.json as { pods: Explained[] }).pods;
  t.match(y.problems, [
    { severity: "error", message: /devices allocated to pod ns2\/explained/ },
    { severity: "warning", message: /without their devices/ },
  ]);
  t.equal(y.networks.length, 3);

  const usage = await cli(["explain", "--conf", conf]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /give --pod NAMESPACE\/NAME or FILE/);
});

t.test("--json when explain cannot run: only {ok: false, error}, exit code 1, the message on stderr too", async (t) => {
  const dir = tempDir(t);
  const r = await cli(["explain", "--pod", "ns1/web", "--conf", join(dir, "missing.conf"), "--json"]);
  t.equal(r.code, 1);
  t.same(Object.keys(r.json as object).sort(), ["error", "ok"]);
  t.match(r.json, { ok: false, error: /missing\.conf/ });
  t.match(r.stderr, /missing\.conf/);
});
