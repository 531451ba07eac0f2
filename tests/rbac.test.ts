// The ClusterRole in manifests/rbac.yaml grants exactly what the plugin and
// `multus doctor` ask of the API: the needed (group, resource, verb) are
// derived from the requests they make against the in-repo API server, not
// from a list kept by hand.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import t from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { makeNetns } from "./helpers/netns.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const VERB: Record<string, string> = { GET: "get", POST: "create", PATCH: "patch", PUT: "update", DELETE: "delete" };

/** "group resource[/subresource] verb [name]" for one request, as RBAC sees it. */
function permissionOf(method: string, path: string, crdName: string): string {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  if (!m) throw new Error(`not a resource path: ${path}`);
  const [, group = "", resource, name, sub] = m;
  const verb = name === undefined && method === "GET" ? "list" : VERB[method];
  const named = resource === "customresourcedefinitions" && name === crdName ? ` ${name}` : "";
  return `${group} ${resource}${sub ? `/${sub}` : ""} ${verb}${named}`;
}

t.test("the ClusterRole grants exactly the permissions the plugin and doctor use", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const s = scenario(t);
  const kubeconfig = api.writeKubeconfig(s.dir, { auth: "token" });
  const conf = s.netconf([s.bridge()], { kubeconfig });
  api.putNad("ns1", "rbac-net", s.ptp({ name: "rbac-net", ipam: { type: "host-local", subnet: s.subnets[1].cidr, dataDir: s.ipamDir } }));
  // A legacy Network in the second group: the plugin looks in both.
  const legacyArgs = JSON.stringify([{ cniVersion: "1.0.0", ipam: { type: "host-local", subnet: s.subnets[2].cidr, dataDir: s.ipamDir } }]);
  api.putObject("kubernetes-network.cni.cncf.io/v1", "ns1", "networks", {
    metadata: { name: "rbac-old" },
    plugin: "ptp",
    args: legacyArgs,
  });
  const pods: { name: string; annotations: Record<string, string>; fails?: boolean }[] = [
    { name: "rbac-a", annotations: { "k8s.v1.cni.cncf.io/networks": "rbac-net" } },
    { name: "rbac-b", annotations: { networks: '[{"name": "rbac-old"}]' } },
    { name: "rbac-c", annotations: { "k8s.v1.cni.cncf.io/networks": "missing-net" }, fails: true }, // a Warning event
  ];
  for (const p of pods) {
    const stored = api.putPod({ metadata: { name: p.name, namespace: "ns1", annotations: p.annotations } });
    const ns = makeNetns(t);
    const call = {
      containerId: p.name,
      netns: ns.path,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${p.name};K8S_POD_UID=${stored.metadata.uid}`,
      stdin: conf,
    };
    const add = await runPlugin({ ...call, command: "ADD" });
    t.equal(add.code, p.fails ? 1 : 0, `ADD ${p.name}: ${add.stdout}`);
    if (!p.fails) t.equal((await runPlugin({ ...call, command: "CHECK" })).code, 0, `CHECK ${p.name}`);
    t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0, `DEL ${p.name}`);
  }

  // `multus doctor` on a node whose conf names the same kubeconfig.
  const node = join(s.dir, "node");
  mkdirSync(join(node, "bin"), { recursive: true });
  mkdirSync(join(node, "net.d"));
  for (const p of ["bridge", "host-local"]) symlinkSync(`/usr/lib/cni/${p}`, join(node, "bin", p));
  writeFileSync(join(node, "net.d", "10-bridge.conf"), JSON.stringify(s.bridge()));
  const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
  t.equal(
    (await human(["install", "--bin-dir", join(node, "bin"), "--conf-dir", join(node, "net.d"), "--kubeconfig", kubeconfig])).code,
    0,
  );
  const doc = await human(["doctor", "--bin-dir", join(node, "bin"), "--conf-dir", join(node, "net.d")]);
  t.equal(doc.code, 0, doc.stdout + doc.stderr);

  const crdName = "network-attachment-definitions.k8s.cni.cncf.io";
  const used = new Set(api.requests().map((r) => permissionOf(r.method, r.path, crdName)));

  const docs = loadAll(readFileSync(join(ROOT, "manifests", "rbac.yaml"), "utf8")) as { kind: string; rules?: Rule[] }[];
  const role = docs.find((d) => d.kind === "ClusterRole")!;
  const granted = new Set<string>();
  for (const r of role.rules!) {
    for (const g of r.apiGroups)
      for (const res of r.resources)
        for (const v of r.verbs) {
          for (const name of r.resourceNames ?? [""]) granted.add(`${g} ${res} ${v}${name ? ` ${name}` : ""}`);
        }
  }
  // The SelfSubjectAccessReviews doctor posts ask about the rules too: each must be granted.
  t.same([...used].filter((p) => !granted.has(p)).sort(), [], "everything used is granted");
  t.same([...granted].filter((p) => !used.has(p)).sort(), [], "nothing is granted that is not used");
});
