// manifests/: every YAML document parses and is the kind its file promises;
// the CRDs, RBAC and DaemonSet say what the plugin needs; the examples fit
// together (pods name only networks their own file defines) and pass the
// plugin's own parsers; the image holds only the single file; and the built
// `multus validate` accepts everything.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { loadAll } from "js-yaml";
import t from "tap";
import { CniError } from "../lib/cni/errors.ts";
import { SUPPORTED_VERSIONS } from "../lib/cni/version.ts";
import { pluginTypeProblem } from "../lib/delegate.ts";
import { decodeNetconf, loadNetconf } from "../lib/netconf.ts";
import {
  DEFAULT_NETWORK_ANNOTATION,
  LEGACY_NETWORKS_ANNOTATION,
  NETWORKS_ANNOTATION,
  parseDefaultNetworkAnnotation,
  parseLegacyNetworks,
  parseNetworkSelections,
} from "../lib/selection.ts";
import { PLUGIN, ROOT, runPlugin } from "./helpers/run-plugin.ts";

const parseNetconf = (text: string) => loadNetconf(decodeNetconf(text));

const DIR = join(ROOT, "manifests");
const MULTUS_NAMESPACE = "kube-system";

type Json = Record<string, unknown>;
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
}
interface Crd extends Obj {
  spec: {
    group: string;
    scope: string;
    names: { plural: string; singular: string; kind: string; shortNames?: string[] };
    versions: { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: Json } }[];
  };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}
interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  volumeMounts?: Mount[];
  resources?: { requests?: Record<string, string> };
}
interface DaemonSet extends Obj {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        automountServiceAccountToken?: boolean;
        hostNetwork: boolean;
        terminationGracePeriodSeconds: number;
        tolerations: { operator?: string; key?: string }[];
        initContainers?: Container[];
        containers: Container[];
        volumes: { name: string; hostPath?: { path: string; type?: string }; projected?: { sources: Json[] } }[];
      };
    };
  };
}
type Nad = Obj & { spec: { config: string } };
type Network = Obj & { plugin: unknown; args: unknown };

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

const files = walk(DIR);
const rel = (f: string) => relative(DIR, f);
const yamlFiles = files.filter((f) => f.endsWith(".yaml"));
const docsOf = new Map(yamlFiles.map((f) => [rel(f), (loadAll(readFileSync(f, "utf8")) as Obj[]).filter((d) => d != null)]));
const docs = (file: string): Obj[] => {
  const d = docsOf.get(file);
  if (!d) throw new Error(`no such YAML file: manifests/${file}`);
  return d;
};
const all = [...docsOf.values()].flat();
const ofKind = <T extends Obj>(kind: string, list: Obj[] = all) => list.filter((d) => d.kind === kind) as T[];

const CRD = "apiextensions.k8s.io/v1 CustomResourceDefinition";
const NAD = "k8s.cni.cncf.io/v1 NetworkAttachmentDefinition";
const NETWORK = "kubernetes.com/v1 Network";
const POD = "v1 Pod";

/** Per YAML file, the apiVersion and kind of each document, in order. */
const EXPECTED: Record<string, string[]> = {
  "crd-network-attachment-definition.yaml": [CRD],
  "crd-legacy-network.yaml": [CRD, CRD],
  "rbac.yaml": ["v1 ServiceAccount", "rbac.authorization.k8s.io/v1 ClusterRole", "rbac.authorization.k8s.io/v1 ClusterRoleBinding"],
  "daemonset.yaml": ["apps/v1 DaemonSet"],
  "examples/bridge-ptp-macvlan.yaml": [NAD, NAD, NAD, POD],
  "examples/json-selection.yaml": [NAD, POD],
  "examples/two-flannel.yaml": [NAD, NAD, POD],
  "examples/legacy-networks.yaml": [NETWORK, NETWORK, NETWORK, NETWORK, POD, POD, POD],
};

t.test("every YAML document has apiVersion, kind and metadata.name, and each file holds the expected kinds", async (t) => {
  t.same([...docsOf.keys()].sort(), Object.keys(EXPECTED).sort(), "the YAML files under manifests/ are the ones listed here");
  for (const [file, list] of docsOf) {
    list.forEach((d, i) => {
      const where = `${file} document ${i + 1}`;
      t.type(d.apiVersion, "string", `${where}: apiVersion`);
      t.type(d.kind, "string", `${where}: kind`);
      t.type(d.metadata?.name, "string", `${where}: metadata.name`);
      t.match(d.metadata?.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${where}: metadata.name is a DNS subdomain`);
    });
  }
  for (const [file, kinds] of Object.entries(EXPECTED)) {
    t.same(
      docs(file).map((d) => `${d.apiVersion} ${d.kind}`),
      kinds,
      file,
    );
  }
});

t.test("CRDs: groups, names, versions, scope, schema", async (t) => {
  const crds = ofKind<Crd>("CustomResourceDefinition");
  for (const c of crds) t.equal(c.metadata.name, `${c.spec.names.plural}.${c.spec.group}`, `${c.metadata.name}: named <plural>.<group>`);

  const [nad] = ofKind<Crd>("CustomResourceDefinition", docs("crd-network-attachment-definition.yaml"));
  t.equal(nad.spec.group, "k8s.cni.cncf.io");
  t.equal(nad.spec.scope, "Namespaced");
  t.same(nad.spec.names, {
    plural: "network-attachment-definitions",
    singular: "network-attachment-definition",
    kind: "NetworkAttachmentDefinition",
    shortNames: ["nad", "net-attach-def"], // `kubectl get nad`, as upstream names it since v4.3
  });
  t.same(
    nad.spec.versions.map((v) => [v.name, v.served, v.storage]),
    [["v1", true, true]],
  );
  const schema = nad.spec.versions[0].schema.openAPIV3Schema as {
    type: string;
    properties: { spec: { type: string; properties: { config: { type: string } } } };
  };
  t.equal(schema.type, "object");
  t.equal(schema.properties.spec.type, "object");
  t.equal(schema.properties.spec.properties.config.type, "string", "spec.config is a string");

  const legacy = ofKind<Crd>("CustomResourceDefinition", docs("crd-legacy-network.yaml"));
  t.same(
    legacy.map((c) => c.spec.group),
    ["kubernetes.com", "kubernetes-network.cni.cncf.io"],
  );
  for (const c of legacy) {
    t.equal(c.spec.scope, "Namespaced", c.metadata.name);
    t.same(c.spec.names, { plural: "networks", singular: "network", kind: "Network" }, c.metadata.name);
    t.same(
      c.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [["v1", true, true]],
      c.metadata.name,
    );
    const s = c.spec.versions[0].schema.openAPIV3Schema as {
      type: string;
      "x-kubernetes-preserve-unknown-fields": boolean;
      properties: Record<string, { type: string }>;
    };
    t.equal(s.type, "object");
    t.equal(s["x-kubernetes-preserve-unknown-fields"], true, `${c.metadata.name}: unknown top-level fields are kept`);
    t.equal(s.properties.plugin.type, "string", `${c.metadata.name}: plugin`);
    t.equal(s.properties.args.type, "string", `${c.metadata.name}: args`);
  }
});

t.test("RBAC: the service account, its ClusterRole (no wildcards) and the binding", async (t) => {
  const rbac = docs("rbac.yaml");
  const [sa] = ofKind("ServiceAccount", rbac);
  t.same(sa.metadata, { name: "multus", namespace: "kube-system" });
  const [role] = ofKind<Obj & { rules: Rule[] }>("ClusterRole", rbac);
  t.equal(role.metadata.name, "multus-onefile", "not upstream's name: its ClusterRole stays for its nodes (tests/rbac.test.ts)");
  // Which rules: derived from the plugin's own requests in tests/rbac.test.ts.
  t.ok(role.rules.length > 0, "the role has rules");
  for (const r of role.rules) t.notOk(r.verbs.includes("*") || r.resources.includes("*") || r.apiGroups.includes("*"), "no wildcards");

  const [binding] = ofKind<Obj & { roleRef: Json; subjects: Json[] }>("ClusterRoleBinding", rbac);
  t.equal(binding.metadata.name, "multus-onefile");
  t.same(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "multus-onefile" });
  t.same(binding.subjects, [{ kind: "ServiceAccount", name: "multus", namespace: "kube-system" }]);
});

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const DS_COMMAND = [
  "/multus",
  "install",
  "--watch",
  "--cleanup-on-exit",
  "--generate-kubeconfig",
  "--service-account-dir",
  SA_DIR,
  "--readiness-indicator-file",
  "/run/flannel/subnet.env",
  "--bin-dir",
  "/host/opt/cni/bin",
  "--conf-dir",
  "/etc/cni/net.d",
];

t.test("DaemonSet: service account, host paths, the install --watch command", async (t) => {
  const [ds] = ofKind<DaemonSet>("DaemonSet", docs("daemonset.yaml"));
  t.same([ds.metadata.name, ds.metadata.namespace], ["multus", "kube-system"]);
  t.same(ds.spec.template.metadata.labels, ds.spec.selector.matchLabels, "the selector matches the pod template");
  const pod = ds.spec.template.spec;
  t.equal(pod.serviceAccountName, "multus");
  t.equal(pod.hostNetwork, true);
  t.ok(
    pod.tolerations.some((x) => x.operator === "Exists" && x.key === undefined),
    "tolerates every taint",
  );

  const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
  const hostPaths = Object.fromEntries(pod.volumes.map((v) => [v.name, v.hostPath?.path]));
  t.same(
    pod.volumes.filter((v) => !v.hostPath).map((v) => v.name),
    ["service-account"],
    "every volume but the service account's is a hostPath",
  );

  t.same(pod.initContainers ?? [], [], "no init container: the install is the main process");
  t.equal(pod.containers.length, 1, "one container");
  const [main] = pod.containers;
  t.equal(main.image, "localhost/multus-onefile:latest");
  t.same(main.command, DS_COMMAND);
  const mounts = Object.fromEntries(
    (main.volumeMounts ?? []).map((m) => [m.mountPath, { host: hostPaths[m.name] ?? m.name, readOnly: m.readOnly === true }]),
  );
  t.same(mounts, {
    "/host/opt/cni/bin": { host: "/opt/cni/bin", readOnly: false },
    "/etc/cni/net.d": { host: "/etc/cni/net.d", readOnly: false },
    "/run/flannel": { host: "/run/flannel", readOnly: true },
    [SA_DIR]: { host: "service-account", readOnly: true },
    "/lib": { host: "/lib", readOnly: true },
    "/lib64": { host: "/lib64", readOnly: true },
    "/usr/lib": { host: "/usr/lib", readOnly: true },
  });
  // Paths install writes into files the node reads (the kubeconfig, its tokenFile, the readiness
  // indicator) are the container's: each must be the node's own path, mounted at the same place.
  for (const path of ["/etc/cni/net.d/multus.d/multus.kubeconfig", "/run/flannel/subnet.env"]) {
    t.ok(
      Object.keys(mounts).some((p) => path.startsWith(`${p}/`) && mounts[p].host === p),
      `${path} is at the node's own path inside the container`,
    );
  }

  // The service account, mounted explicitly as the kubelet would: a token that rotates, the CA, the namespace.
  t.equal(pod.automountServiceAccountToken, false, "no second, automatic token mount");
  const sources = volumes["service-account"].projected?.sources ?? [];
  t.match(sources, [
    { serviceAccountToken: { path: "token", expirationSeconds: Number } },
    { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
    { downwardAPI: { items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }] } },
  ]);
  t.ok(pod.terminationGracePeriodSeconds >= 5, "time to clean up on SIGTERM");
  t.ok(main.resources?.requests?.cpu && main.resources?.requests?.memory, `${main.name}: resource requests`);
  t.match(readFileSync(join(DIR, "daemonset.yaml"), "utf8"), /#.*push your own build/i, "a comment tells operators to use their own image");
});

t.test(
  "the DaemonSet's command, run by the built file with its mounts mapped to temp dirs",
  { skip: existsSync(PLUGIN) || process.env.CI ? false : `${PLUGIN} is not built (npm run build)` },
  async (t) => {
    const [ds] = ofKind<DaemonSet>("DaemonSet", docs("daemonset.yaml"));
    const [main] = ds.spec.template.spec.containers;
    const root = mkdtempSync(join(tmpdir(), "multus-ds-"));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    // Each mount of the container is a temp dir; paths in the command are mapped through them.
    const mountDirs = new Map(
      (main.volumeMounts ?? [])
        .filter((m) => !m.mountPath.startsWith("/lib") && m.mountPath !== "/usr/lib")
        .map((m) => [m.mountPath, join(root, m.mountPath)]),
    );
    for (const d of mountDirs.values()) mkdirSync(d, { recursive: true });
    const mapArg = (p: string) => {
      for (const [from, to] of mountDirs) if (p === from || p.startsWith(`${from}/`)) return to + p.slice(from.length);
      return p;
    };
    /** A path the test writes or reads: never the host's own. */
    const mapped = (p: string) => {
      const m = mapArg(p);
      if (!m.startsWith(`${root}/`)) throw new Error(`${p} is not under a volume mount of the container`);
      return m;
    };
    const [, ...argv] = (main.command ?? []).map(mapArg);
    const conf = mapped("/etc/cni/net.d/00-multus.conf");
    const kubeconfig = mapped("/etc/cni/net.d/multus.d/multus.kubeconfig");
    writeFileSync(
      mapped("/etc/cni/net.d/10-flannel.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "cbr0", plugins: [{ type: "flannel", delegate: { isDefaultGateway: true } }] }),
    );
    writeFileSync(mapped(`${SA_DIR}/token`), "sa-token");
    writeFileSync(mapped(`${SA_DIR}/ca.crt`), "CA\n");
    writeFileSync(mapped(`${SA_DIR}/namespace`), "kube-system");

    const child = spawn(PLUGIN, argv, {
      env: { PATH: process.env.PATH, KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr.on("data", (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    const until = async (what: string, f: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!f()) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what}: not after 10 s (exit ${child.exitCode})\n${log}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };

    await until("waiting for the readiness indicator", () => log.includes("waiting for the readiness indicator"));
    t.notOk(existsSync(conf), "nothing before flannel is ready");
    writeFileSync(mapped("/run/flannel/subnet.env"), "FLANNEL_NETWORK=10.244.0.0/16\n");
    await until("00-multus.conf", () => existsSync(conf));
    const written = JSON.parse(readFileSync(conf, "utf8")) as Json;
    t.equal(written.kubeconfig, kubeconfig, "Kubernetes mode with the generated kubeconfig");
    t.equal(written.readinessindicatorfile, mapped("/run/flannel/subnet.env"));
    t.ok(existsSync(mapped("/host/opt/cni/bin/multus")), "the plugin is installed");
    t.equal(readFileSync(mapped("/etc/cni/net.d/multus.d/token"), "utf8"), "sa-token");
    const v = await runPlugin({ argv: ["validate", conf], stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
    t.equal(v.code, 0, v.stdout);

    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 10_000))]);
    t.equal(code, 0, "exits 0 on SIGTERM");
    t.notOk(existsSync(conf), "--cleanup-on-exit: the conf is gone");
    t.notOk(existsSync(kubeconfig), "and the kubeconfig");
  },
);

/** Bare plugin types (and IPAM types) of a NAD config, a conf or a conflist. */
function pluginTypes(conf: Json): unknown[] {
  const plugins = Array.isArray(conf.plugins) ? (conf.plugins as Json[]) : [conf];
  return plugins.flatMap((p) => [p.type, ...(p.ipam && typeof p.ipam === "object" && "type" in p.ipam ? [(p.ipam as Json).type] : [])]);
}

const exampleFiles = [...docsOf.keys()].filter((f) => f.startsWith("examples/"));
const key = (namespace: string | undefined, name: string) => `${namespace ?? "default"}/${name}`;

t.test("NetworkAttachmentDefinitions: spec.config is JSON with bare types, a matching name and a known cniVersion", async (t) => {
  const nads = ofKind<Nad>("NetworkAttachmentDefinition");
  t.ok(nads.length >= 6);
  for (const n of nads) {
    const what = `NAD ${key(n.metadata.namespace, n.metadata.name)}`;
    t.type(n.spec?.config, "string", `${what}: spec.config is a string`);
    let conf: Json = {};
    t.doesNotThrow(() => (conf = JSON.parse(n.spec.config)), `${what}: spec.config is JSON`);
    t.ok(conf.type !== undefined || Array.isArray(conf.plugins), `${what}: a conf or a conflist`);
    for (const ty of pluginTypes(conf)) {
      t.type(ty, "string", `${what}: type`);
      t.equal(pluginTypeProblem(ty), undefined, `${what}: type ${JSON.stringify(ty)} is a bare name`);
      t.notMatch(String(ty), /\//, `${what}: no '/' in ${ty}`);
    }
    if (conf.name !== undefined) t.equal(conf.name, n.metadata.name, `${what}: name matches metadata.name`);
    t.ok((SUPPORTED_VERSIONS as readonly string[]).includes(conf.cniVersion as string), `${what}: cniVersion ${conf.cniVersion} is known`);
  }
});

t.test("pods select only networks defined in their own file", async (t) => {
  let checked = 0;
  for (const file of exampleFiles) {
    const list = docs(file);
    const nads = new Set(ofKind<Nad>("NetworkAttachmentDefinition", list).map((n) => key(n.metadata.namespace, n.metadata.name)));
    for (const p of ofKind("Pod", list)) {
      const ns = p.metadata.namespace ?? "default";
      const ann = p.metadata.annotations ?? {};
      const what = `${file}: pod ${ns}/${p.metadata.name}`;
      t.ok(ann[NETWORKS_ANNOTATION] || ann[LEGACY_NETWORKS_ANNOTATION], `${what} selects networks`);
      if (ann[NETWORKS_ANNOTATION] !== undefined) {
        const sel = parseNetworkSelections(ann[NETWORKS_ANNOTATION], ns);
        t.ok(sel.length > 0, `${what}: ${NETWORKS_ANNOTATION} is not empty`);
        for (const s of sel) t.ok(nads.has(key(s.namespace, s.name)), `${what} uses NAD ${s.namespace}/${s.name}, defined in the file`);
        checked++;
      }
      if (ann[DEFAULT_NETWORK_ANNOTATION] !== undefined) {
        const s = parseDefaultNetworkAnnotation(ann[DEFAULT_NETWORK_ANNOTATION], MULTUS_NAMESPACE);
        t.ok(nads.has(key(s.namespace, s.name)), `${what} takes NAD ${s.namespace}/${s.name} as its cluster network, defined in the file`);
      }
    }
  }
  t.ok(checked >= 3);
});

t.test("examples show what their comments promise", async (t) => {
  const annotation = (file: string, name: string) => ofKind("Pod", docs(file)).find((p) => p.metadata.name === name)!.metadata.annotations!;
  const nadConf = (file: string, name: string) =>
    JSON.parse(ofKind<Nad>("NetworkAttachmentDefinition", docs(file)).find((n) => n.metadata.name === name)!.spec.config) as Json;

  const f1 = "examples/bridge-ptp-macvlan.yaml";
  t.equal(annotation(f1, "multi-net")[NETWORKS_ANNOTATION], "bridge-net, ptp-net@data0, macvlan-net");
  const subnets = ["bridge-net", "ptp-net", "macvlan-net"].map((n) => {
    const c = nadConf(f1, n);
    t.equal((c.ipam as Json).type, "host-local", `${n}: host-local`);
    return (c.ipam as Json).subnet as string;
  });
  t.same(nadConf(f1, "bridge-net").type, "bridge");
  t.same(nadConf(f1, "ptp-net").type, "ptp");
  t.match(nadConf(f1, "macvlan-net"), { type: "macvlan", master: "eth1" });
  t.equal(new Set(subnets).size, 3, "distinct subnets");
  for (const s of subnets) t.match(s, /^10\.\d+\.\d+\.0\/24$/);

  const f2 = "examples/json-selection.yaml";
  const [sel] = parseNetworkSelections(annotation(f2, "storage-client")[NETWORKS_ANNOTATION], "default");
  t.match(sel, {
    name: "storage",
    interface: "stor0",
    ips: ["10.20.0.7/24"],
    mac: /^02:/,
    defaultRoute: ["10.20.0.1"],
    cniArgs: { tier: "storage" },
  });
  const storage = nadConf(f2, "storage") as { plugins: Json[] };
  t.match(storage.plugins[0], { capabilities: { ips: true }, ipam: { type: "static" } }, "static IPAM fed by the ips capability");
  t.ok(
    storage.plugins.some((p) => (p.capabilities as Json | undefined)?.mac === true),
    "a plugin takes the mac capability",
  );

  const f3 = "examples/two-flannel.yaml";
  const flannels = ofKind<Nad>("NetworkAttachmentDefinition", docs(f3)).map((n) => {
    const c = JSON.parse(n.spec.config) as Json;
    return (Array.isArray(c.plugins) ? (c.plugins as Json[]) : [c]).find((p) => p.type === "flannel") as Json & { delegate: Json };
  });
  t.equal(flannels.length, 2);
  for (const k of ["subnetFile", "dataDir"]) {
    for (const f of flannels) t.type(f[k], "string", k);
    t.not(flannels[0][k], flannels[1][k], `the two flannel networks have their own ${k}`);
  }
  t.not(flannels[0].delegate.bridge, flannels[1].delegate.bridge, "and their own bridge");
  const two = annotation(f3, "two-flannel");
  t.ok(two[DEFAULT_NETWORK_ANNOTATION] && two[NETWORKS_ANNOTATION], "the pod attaches both");

  const f4 = "examples/legacy-networks.yaml";
  const first = ofKind("Pod", docs(f4)).map((p) => parseLegacyNetworks(p.metadata.annotations![LEGACY_NETWORKS_ANNOTATION]));
  t.ok(
    first.some((l) => l.length >= 2),
    "a pod with several legacy networks",
  );
});

t.test("legacy Network objects and the old networks annotation", async (t) => {
  const file = "examples/legacy-networks.yaml";
  const list = docs(file);
  const networks = ofKind<Network>("Network", list);
  for (const n of networks) {
    const what = `Network ${n.metadata.name}`;
    t.ok(["kubernetes.com/v1", "kubernetes-network.cni.cncf.io/v1"].includes(n.apiVersion), `${what}: a group the plugin reads`);
    t.equal(n.spec, undefined, `${what}: plugin and args are top-level, not under spec`);
    t.type(n.plugin, "string", `${what}: plugin`);
    t.equal(pluginTypeProblem(n.plugin), undefined, `${what}: plugin is a bare name`);
    t.type(n.args, "string", `${what}: args is a string`);
    let args: unknown;
    t.doesNotThrow(() => (args = JSON.parse(n.args as string)), `${what}: args is JSON`);
    t.ok(Array.isArray(args), `${what}: args is a JSON list`);
    const body = (args as unknown[])[0];
    t.ok(typeof body === "object" && body !== null && !Array.isArray(body), `${what}: args[0] is an object`);
    for (const ty of pluginTypes({ ...(body as Json), type: n.plugin })) t.equal(pluginTypeProblem(ty), undefined, `${what}: type ${ty}`);
  }
  const defined = (ns: string, name: string) =>
    networks.some((n) => n.metadata.name === name && [ns, "default"].includes(n.metadata.namespace ?? "default"));
  const pods = ofKind("Pod", list);
  t.ok(pods.length >= 2);
  for (const p of pods) {
    const ns = p.metadata.namespace ?? "default";
    const ann = p.metadata.annotations ?? {};
    t.equal(ann[NETWORKS_ANNOTATION], undefined, `${p.metadata.name}: only the old annotation`);
    const sel = parseLegacyNetworks(ann[LEGACY_NETWORKS_ANNOTATION] ?? "");
    t.ok(sel.length > 0, `${p.metadata.name}: selects networks`);
    for (const s of sel) t.ok(defined(ns, s.name), `${p.metadata.name} uses Network ${s.name}, defined in the file`);
  }
  for (const f of exampleFiles.filter((f) => f !== file)) {
    for (const p of ofKind("Pod", docs(f)))
      t.equal(p.metadata.annotations?.[LEGACY_NETWORKS_ANNOTATION], undefined, `${f}: no legacy annotation`);
  }
});

t.test("node configs parse with the plugin's own netconf parser", async (t) => {
  const read = (f: string) => readFileSync(join(DIR, "examples", f), "utf8");
  const legacy = parseNetconf(read("00-multus.conf"));
  t.equal(legacy.mode, "legacy");
  t.same(
    legacy.delegates.map((d) => d.name),
    ["cbr0", "edge-lan"],
  );
  t.same(
    legacy.delegates.map((d) => d.pluginTypes),
    [["flannel", "portmap"], ["macvlan"]],
  );

  const k8sText = read("00-multus-kubeconfig.conf");
  const k8s = parseNetconf(k8sText);
  t.equal(k8s.mode, "crd");
  t.equal(k8s.kubernetes.kubeconfig, "/etc/cni/net.d/multus.d/multus.kubeconfig");
  const rawK8s = JSON.parse(k8sText) as Json;
  for (const field of ["clusterNetwork", "defaultNetworks", "namespaceIsolation", "globalNamespaces", "cniDir", "readinessindicatorfile"]) {
    t.ok(field in rawK8s, `Kubernetes-mode example sets ${field}`);
  }
  t.equal(k8s.kubernetes.namespaceIsolation, true);

  // The same parser refuses a broken config with a CniError, not a crash.
  const broken = JSON.parse(read("00-multus.conf")) as Json;
  delete broken.name;
  t.throws(() => parseNetconf(JSON.stringify(broken)), CniError);
  t.throws(() => parseNetconf("{"), CniError);
});

t.test("every IPv4 address in manifests/ is in 10.0.0.0/8", async (t) => {
  const text = files
    .filter((f) => /\.(ya?ml|conf|json)$/.test(f))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  const ips = text.match(/(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/g) ?? [];
  t.ok(ips.length > 15, `${ips.length} addresses found`);
  for (const ip of new Set(ips)) t.match(ip, /^10\./, ip);
  t.notMatch(text, /[0-9a-f]{0,4}:[0-9a-f]{0,4}::?[0-9a-f]{0,4}\/\d+/i, "no IPv6 prefixes either");
});

t.test("Dockerfile: FROM scratch with only dist/multus", async (t) => {
  const lines = readFileSync(join(DIR, "Dockerfile"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  t.same(lines, ["FROM scratch", "COPY dist/multus /multus", 'ENTRYPOINT ["/multus"]']);
  const ignore = readFileSync(join(DIR, "Dockerfile.dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  t.same(ignore, ["*", "!dist/multus"], "the build context is the one file");
});

t.test(
  "multus validate accepts every manifest",
  { skip: existsSync(PLUGIN) || process.env.CI ? false : `${PLUGIN} is not built (npm run build)` },
  async (t) => {
    const targets = files.filter((f) => /\.(yaml|conf)$/.test(f));
    const r = await runPlugin({ argv: ["validate", ...targets], stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.equal(r.stdout, `${targets.length} file(s) valid\n`);
  },
);
