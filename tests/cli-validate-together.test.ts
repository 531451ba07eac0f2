// `multus validate` with a pod and the NADs it names (in one file, in several,
// or a directory): the pod's networks are resolved as its ADD resolves them,
// without a cluster, and what only shows in combination is a problem naming
// the pod's file, line and column: a NAD name that is not among the files, two
// networks on one interface, a resourceName no container asks for, overlapping
// subnets, namespace isolation. Through the built file.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });

const nad = (name: string, config: object, annotations?: Record<string, string>) =>
  `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: ${name}
  namespace: ns1${
    annotations
      ? `\n  annotations:\n${Object.entries(annotations)
          .map(([k, v]) => `    ${k}: ${v}`)
          .join("\n")}`
      : ""
  }
spec:
  config: '${JSON.stringify({ cniVersion: "1.0.0", ...config })}'
`;

const NADS = [
  nad("macvlan-conf", { type: "macvlan", master: "eth1", ipam: { type: "host-local", subnet: "10.20.0.0/24" } }),
  nad("storage", { type: "ipvlan", master: "eth2", ipam: { type: "host-local", subnet: "10.20.0.0/16" } }),
  nad(
    "sriov-a",
    { type: "host-device", ipam: { type: "static", addresses: [{ address: "10.30.0.2/24" }] } },
    {
      "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov_a",
    },
  ),
].join("---\n");

const pod = (name: string, networks: string, resources = "") =>
  `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ns1
  annotations:
    k8s.v1.cni.cncf.io/networks: ${networks}
spec:
  containers:
  - name: app
    image: registry.example/app${resources}
`;

t.test("a NAD name the files do not hold is an error at its place in the annotation, with the name meant", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "nads.yaml"), NADS);
  const p = join(dir, "pod.yaml");
  writeFileSync(p, pod("web", "macvlan-conf, macvlan-cnf@data0"));
  const r = await human(["validate", join(dir, "nads.yaml"), p]);
  t.equal(r.code, 1, r.stdout);
  t.same(r.stdout.trimEnd().split("\n"), [
    `${p}:7:48: Pod ns1/web: metadata.annotations[k8s.v1.cni.cncf.io/networks]: NetworkAttachmentDefinition ns1/macvlan-cnf is not among the files given (did you mean "macvlan-conf"?): its ADD would fail`,
    "1 problem(s) in 2 file(s)",
  ]);
  // Each file alone has nothing wrong.
  t.equal((await human(["validate", p])).code, 0, "a pod alone is not judged against NADs it was not given with");
  t.equal((await human(["validate", join(dir, "nads.yaml")])).code, 0);
});

t.test("two networks on one interface name, and subnets that overlap, only in combination", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "nads.yaml"), NADS);
  const p = join(dir, "pod.yaml");
  writeFileSync(p, `${pod("twice", "macvlan-conf@data0, storage@data0")}---\n${pod("overlap", "macvlan-conf, storage")}`);
  const r = await human(["validate", join(dir, "nads.yaml"), p]);
  t.equal(r.code, 1, r.stdout);
  t.same(r.stdout.trimEnd().split("\n"), [
    `${p}:7:34: Pod ns1/twice: metadata.annotations[k8s.v1.cni.cncf.io/networks]: interface name "data0" is used by both network "macvlan-conf" and network "storage"`,
    `warning: ${p}:19:34: Pod ns1/overlap: ns1/storage.ipam.subnet: 10.20.0.0/16 overlaps 10.20.0.0/24 at ns1/macvlan-conf.ipam.subnet (network "macvlan-conf")`,
    "1 problem(s) in 2 file(s)",
  ]);
});

t.test("a NAD with a resourceName needs a container that asks for that resource", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "nads.yaml"), NADS);
  const p = join(dir, "pod.yaml");
  const asks = "\n    resources:\n      requests: {intel.com/sriov_a: 1}\n      limits: {intel.com/sriov_a: 1}";
  writeFileSync(p, `${pod("none", "sriov-a")}---\n${pod("asks", "sriov-a", asks)}`);
  const r = await human(["validate", join(dir, "nads.yaml"), p]);
  t.equal(r.code, 1, r.stdout);
  t.same(r.stdout.trimEnd().split("\n"), [
    `${p}:7:34: Pod ns1/none: spec.containers[].resources: network ns1/sriov-a (interface net1) needs a device of resource "intel.com/sriov_a" (its NetworkAttachmentDefinition's k8s.v1.cni.cncf.io/resourceName), but no container of the pod asks for one in resources.requests or resources.limits: the device plugin gives the pod none, and its ADD fails`,
    "1 problem(s) in 2 file(s)",
  ]);
});

t.test("a directory stands for its files, subdirs included; the netconf among them resolves the pods (namespace isolation)", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "apps"));
  mkdirSync(join(dir, "net.d"));
  writeFileSync(join(dir, "nads.yaml"), NADS.replaceAll("namespace: ns1", "namespace: shared"));
  const p = join(dir, "apps", "pod.yml");
  writeFileSync(p, pod("web", "shared/macvlan-conf"));
  writeFileSync(join(dir, "README.md"), "not a config");
  const netconf = {
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus",
    kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
    delegates: [{ cniVersion: "1.0.0", name: "cbr0", type: "bridge", ipam: { type: "host-local", subnet: "10.244.0.0/24" } }],
  };
  writeFileSync(join(dir, "net.d", "00-multus.conf"), JSON.stringify(netconf, null, 2));
  const open = await human(["validate", dir]);
  t.equal(open.code, 0, open.stdout);
  t.equal(open.stdout, "3 file(s) valid\n");
  writeFileSync(join(dir, "net.d", "00-multus.conf"), JSON.stringify({ ...netconf, namespaceIsolation: true }, null, 2));
  const isolated = await human(["validate", dir]);
  t.equal(isolated.code, 1, isolated.stdout);
  t.match(
    isolated.stdout,
    `${p}:7:34: Pod ns1/web: metadata.annotations[k8s.v1.cni.cncf.io/networks]: namespace isolation: pod ns1/web may not use NetworkAttachmentDefinition shared/macvlan-conf\n`,
  );
  // A delegates-mode netconf does not read pod annotations at all: said, once per pod.
  writeFileSync(join(dir, "net.d", "00-multus.conf"), JSON.stringify({ ...netconf, kubeconfig: undefined }, null, 2));
  const legacy = await human(["validate", dir]);
  t.equal(legacy.code, 0, legacy.stdout);
  t.match(
    legacy.stdout,
    /^warning: .*pod\.yml:7:34: Pod ns1\/web: .*00-multus\.conf is a delegates-mode netconf \(no "kubeconfig"\): its ADD does not read this pod's network annotations$/m,
  );
});
