// Every manifest parses, carries the right apiVersion/kind/fields, and passes
// `multus validate` (the built file).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import t from "tap";
import { parseNetconf } from "../lib/netconf.ts";
import { parseLegacyNetworks, parseNetworkSelections } from "../lib/selection.ts";
import { pluginTypeProblem } from "../lib/delegate.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";

const DIR = join(ROOT, "manifests");
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [k: string]: unknown };

const yamlFiles = [
  ...readdirSync(DIR).filter((f) => f.endsWith(".yaml")).map((f) => join(DIR, f)),
  ...readdirSync(join(DIR, "examples")).filter((f) => f.endsWith(".yaml")).map((f) => join(DIR, "examples", f)),
];
const docs = (file: string) => loadAll(readFileSync(file, "utf8")).filter(Boolean) as Obj[];
const all = yamlFiles.flatMap((f) => docs(f).map((d) => ({ file: f, d })));

const EXPECTED: Record<string, string[]> = {
  "crd-network-attachment-definition.yaml": ["apiextensions.k8s.io/v1 CustomResourceDefinition"],
  "crd-legacy-network.yaml": ["apiextensions.k8s.io/v1 CustomResourceDefinition", "apiextensions.k8s.io/v1 CustomResourceDefinition"],
  "rbac.yaml": ["v1 ServiceAccount", "rbac.authorization.k8s.io/v1 ClusterRole", "rbac.authorization.k8s.io/v1 ClusterRoleBinding"],
  "daemonset.yaml": ["apps/v1 DaemonSet"],
};

t.test("every YAML document has apiVersion, kind and metadata.name; files hold the expected kinds", async (t) => {
  t.ok(yamlFiles.length >= 8);
  for (const { file, d } of all) {
    t.type(d.apiVersion, "string", file);
    t.type(d.kind, "string", file);
    t.type(d.metadata?.name, "string", file);
  }
  for (const [f, kinds] of Object.entries(EXPECTED)) t.same(docs(join(DIR, f)).map((d) => `${d.apiVersion} ${d.kind}`), kinds, f);
});

t.test("CRDs: groups, names, versions, scope", async (t) => {
  const crds = all.filter(({ d }) => d.kind === "CustomResourceDefinition").map(({ d }) => d as Obj & { spec: { group: string; scope: string; names: { plural: string; kind: string; shortNames?: string[] }; versions: { name: string; served: boolean; storage: boolean }[] } });
  const nad = crds.find((c) => c.spec.group === "k8s.cni.cncf.io")!;
  t.equal(nad.metadata.name, "network-attachment-definitions.k8s.cni.cncf.io");
  t.match(nad.spec, { scope: "Namespaced", names: { plural: "network-attachment-definitions", kind: "NetworkAttachmentDefinition", shortNames: ["net-attach-def"] } });
  t.same(nad.spec.versions.map((v) => [v.name, v.served, v.storage]), [["v1", true, true]]);
  for (const g of ["kubernetes.com", "kubernetes-network.cni.cncf.io"]) {
    const c = crds.find((x) => x.spec.group === g)!;
    t.equal(c.metadata.name, `networks.${g}`);
    t.match(c.spec, { scope: "Namespaced", names: { plural: "networks", kind: "Network" } });
  }
});

t.test("RBAC grants exactly what the plugin and doctor use", async (t) => {
  const role = all.find(({ d }) => d.kind === "ClusterRole")!.d as Obj & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
  t.same(
    role.rules.map((r) => `${r.apiGroups.join(",")}|${r.resources.join(",")}|${r.verbs.join(",")}`),
    [
      "|pods|get,patch",
      "|pods/status|get,patch,update",
      "k8s.cni.cncf.io|network-attachment-definitions|get,list,watch",
      "kubernetes.com,kubernetes-network.cni.cncf.io|networks|get",
      ",events.k8s.io|events|create,patch",
      "authorization.k8s.io|selfsubjectaccessreviews|create",
    ],
  );
  const binding = all.find(({ d }) => d.kind === "ClusterRoleBinding")!.d as Obj & { roleRef: { name: string }; subjects: { kind: string; name: string; namespace: string }[] };
  t.equal(binding.roleRef.name, "multus");
  t.same(binding.subjects, [{ kind: "ServiceAccount", name: "multus", namespace: "kube-system" }]);
});

t.test("DaemonSet: service account, host paths, the install command", async (t) => {
  const ds = all.find(({ d }) => d.kind === "DaemonSet")!.d as Obj & { spec: { template: { spec: { serviceAccountName: string; hostNetwork: boolean; initContainers: { command: string[] }[]; volumes: { hostPath: { path: string } }[] } } } };
  const pod = ds.spec.template.spec;
  t.equal(pod.serviceAccountName, "multus");
  t.equal(pod.hostNetwork, true);
  t.same(pod.volumes.map((v) => v.hostPath.path).sort(), ["/etc/cni/net.d", "/opt/cni/bin"]);
  t.same(pod.initContainers[0].command, [
    "/multus", "install", "--bin-dir", "/host/opt/cni/bin", "--conf-dir", "/host/etc/cni/net.d",
    "--kubeconfig", "/etc/cni/net.d/multus.d/multus.kubeconfig",
  ]);
});

t.test("NADs, Network objects and pods in the examples fit together", async (t) => {
  const nads = all.filter(({ d }) => d.kind === "NetworkAttachmentDefinition").map(({ d }) => d as Obj & { spec: { config: string } });
  for (const n of nads) {
    const c = JSON.parse(n.spec.config) as { name?: string; type?: string; plugins?: { type: string }[]; cniVersion: string };
    const types = c.plugins ? c.plugins.map((p) => p.type) : [c.type];
    for (const ty of types) t.equal(pluginTypeProblem(ty), undefined, `${n.metadata.name}: type ${ty}`);
    if (c.name !== undefined) t.equal(c.name, n.metadata.name);
    t.match(c.cniVersion, /^(0\.3\.1|0\.4\.0|1\.0\.0|1\.1\.0)$/);
  }
  const nadKeys = new Set(nads.map((n) => `${n.metadata.namespace ?? "default"}/${n.metadata.name}`));
  const networks = all.filter(({ d }) => d.kind === "Network").map(({ d }) => d as Obj & { plugin: string; args: string });
  for (const n of networks) {
    const args = JSON.parse(n.args);
    t.ok(Array.isArray(args) && typeof args[0] === "object", `${n.metadata.name}: args is a JSON list of objects`);
  }
  const pods = all.filter(({ d }) => d.kind === "Pod").map(({ d }) => d);
  t.ok(pods.length >= 4);
  for (const p of pods) {
    const ns = p.metadata.namespace ?? "default";
    const ann = p.metadata.annotations ?? {};
    if (ann["k8s.v1.cni.cncf.io/networks"]) {
      for (const s of parseNetworkSelections(ann["k8s.v1.cni.cncf.io/networks"], ns)) t.ok(nadKeys.has(`${s.namespace}/${s.name}`), `${p.metadata.name} uses ${s.namespace}/${s.name}`);
    }
    if (ann.networks) {
      for (const s of parseLegacyNetworks(ann.networks)) t.ok(networks.some((n) => n.metadata.name === s.name), `${p.metadata.name} uses Network ${s.name}`);
    }
  }
});

t.test("node configs parse, and every address used is in 10.0.0.0/8", async (t) => {
  for (const f of ["00-multus.conf", "00-multus-kubeconfig.conf"]) t.doesNotThrow(() => parseNetconf(readFileSync(join(DIR, "examples", f), "utf8")), f);
  const text = [...yamlFiles, join(DIR, "examples/00-multus.conf")].map((f) => readFileSync(f, "utf8")).join("\n");
  const ips = text.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g) ?? [];
  t.ok(ips.length > 10);
  for (const ip of ips) t.match(ip, /^(10\.|0\.0\.0\.0$)/, ip);
});

t.test("Dockerfile: an image with only the single file", async (t) => {
  const lines = readFileSync(join(DIR, "Dockerfile"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  t.same(lines, ["FROM scratch", "COPY dist/multus /multus", 'ENTRYPOINT ["/multus"]']);
});

t.test("multus validate accepts every manifest", async (t) => {
  const files = [...yamlFiles, join(DIR, "examples/00-multus.conf"), join(DIR, "examples/00-multus-kubeconfig.conf")];
  const r = await runPlugin({ argv: ["validate", ...files], stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
  t.equal(r.code, 0, r.stdout);
  t.equal(r.stdout, `${files.length} file(s) valid\n`);
});
