// The ClusterRole in manifests/rbac.yaml grants exactly what the plugin and
// `multus doctor` ask of the API: derived from the requests they make against
// the in-repo API server (which enforces the role as RBAC does), not from a
// list kept by hand. And applying the manifest on a cluster that runs
// upstream Multus takes nothing from upstream's nodes while they wait for
// their turn in the rollout.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import t from "tap";
import { type PolicyRule, type ResourceAttributes, rulesAllow, startApiServer } from "./helpers/apiserver.ts";
import { makeNetns } from "./helpers/netns.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";
import { UPSTREAM_BINDING, UPSTREAM_ROLE_NAME, UPSTREAM_RULES } from "./helpers/upstream-rbac.ts";

const VERB: Record<string, string> = { GET: "get", POST: "create", PATCH: "patch", PUT: "update", DELETE: "delete" };
const CRD_NAME = "network-attachment-definitions.k8s.cni.cncf.io";

/** One request, as RBAC sees it. */
function attributesOf(method: string, path: string): ResourceAttributes {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  if (!m) throw new Error(`not a resource path: ${path}`);
  const [, group = "", resource, name, subresource] = m;
  const verb = name === undefined && method === "GET" ? "list" : VERB[method];
  return { group, resource, verb, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) };
}

const show = (a: ResourceAttributes) =>
  `${a.group} ${a.resource}${a.subresource ? `/${a.subresource}` : ""} ${a.verb}${a.name === CRD_NAME ? ` ${a.name}` : ""}`;

/** Every (group, resource, verb[, name]) a rule names, "*" kept as a value of its own. */
function expand(rules: readonly PolicyRule[]): ResourceAttributes[] {
  return rules.flatMap((r) =>
    r.apiGroups.flatMap((group) =>
      r.resources.flatMap((res) => {
        const [resource, subresource] = res.split("/");
        return r.verbs.flatMap((verb) =>
          (r.resourceNames ?? [undefined]).map((name) => ({
            group,
            resource,
            verb,
            ...(subresource ? { subresource } : {}),
            ...(name ? { name } : {}),
          })),
        );
      }),
    ),
  );
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

const manifest = loadAll(readFileSync(join(ROOT, "manifests", "rbac.yaml"), "utf8")) as Manifest[];
const role = manifest.find((d) => d.kind === "ClusterRole")!;

t.test("the ClusterRole grants exactly the permissions the plugin and doctor use", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  api.authorize(role.rules);
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

  const used = api.requests().map((r) => attributesOf(r.method, r.path));
  const ours = role.rules!;
  // The SelfSubjectAccessReviews doctor posts ask about the rules too: each must be granted.
  t.same(used.filter((a) => !rulesAllow(ours, a)).map(show), [], "everything used is granted");
  const usedKeys = new Set(used.map(show));
  t.same(
    expand(ours)
      .filter((a) => !usedKeys.has(show(a)))
      .map(show),
    [],
    "nothing is granted that is not used",
  );
});

/** What the service account kube-system/multus may do: the rules of every ClusterRole bound to it. */
function grantsOf(objects: Map<string, Manifest>): PolicyRule[] {
  const toMultus = (b: Manifest) =>
    b.kind === "ClusterRoleBinding" &&
    b.subjects?.some((s) => s.kind === "ServiceAccount" && s.name === "multus" && s.namespace === "kube-system");
  return [...objects.values()].filter(toMultus).flatMap((b) => objects.get(`ClusterRole/${b.roleRef?.name}`)?.rules ?? []);
}

t.test("kubectl apply of rbac.yaml where upstream Multus runs keeps every permission of upstream's nodes", async (t) => {
  // The cluster before: upstream's ClusterRole and binding (its service account has our service account's name).
  const cluster = new Map<string, Manifest>([
    [`ClusterRole/${UPSTREAM_ROLE_NAME}`, { kind: "ClusterRole", metadata: { name: UPSTREAM_ROLE_NAME }, rules: [...UPSTREAM_RULES] }],
    [
      `ClusterRoleBinding/${UPSTREAM_BINDING.name}`,
      {
        kind: "ClusterRoleBinding",
        metadata: { name: UPSTREAM_BINDING.name },
        roleRef: UPSTREAM_BINDING.roleRef,
        subjects: UPSTREAM_BINDING.subjects,
      },
    ],
  ]);
  for (const doc of manifest) {
    const key = `${doc.kind}/${doc.metadata.name}`;
    const old = cluster.get(key);
    // The API refuses to change a binding's roleRef: apply would stop there.
    if (doc.kind === "ClusterRoleBinding" && old) t.same(doc.roleRef, old.roleRef, `${key}: its roleRef is unchanged (it cannot change)`);
    cluster.set(key, doc);
  }
  const after = grantsOf(cluster);
  t.same(
    expand(UPSTREAM_RULES)
      .filter((a) => !rulesAllow(after, a))
      .map(show),
    [],
    "upstream's nodes keep what upstream's ClusterRole grants",
  );
  t.same(
    expand(role.rules!)
      .filter((a) => !rulesAllow(after, a))
      .map(show),
    [],
    "and this plugin's nodes get what it needs",
  );
});

t.test("upstream's ClusterRole as written here grants every request upstream's plugin made (its recorded ADD and DEL)", async (t) => {
  const recorded = ["api-requests-add.txt", "api-requests-del.txt"].flatMap((f) =>
    readFileSync(join(ROOT, "tests", "fixtures", "upstream", f), "utf8")
      .trim()
      .split("\n"),
  );
  t.ok(
    recorded.some((l) => l.startsWith("PUT ") && l.includes("/status")),
    "upstream writes network-status with an update",
  );
  for (const line of recorded) {
    const [method, url] = line.split(" ");
    const a = attributesOf(method, url.split("?")[0]);
    t.ok(rulesAllow(UPSTREAM_RULES, a), `${show(a)} (${method} ${url.split("?")[0]})`);
  }
});
