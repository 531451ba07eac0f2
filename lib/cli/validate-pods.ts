/**
 * `multus validate`, files given together: each pod's networks resolved as
 * its ADD resolves them (lib/k8s/resolve.ts: the default-network and
 * networks annotations, clusterNetwork, defaultNetworks, namespace
 * isolation, cni-args), with the NetworkAttachmentDefinitions, Network
 * objects and multus netconf among the files standing in for the cluster
 * and the node. Then the pod's interfaces are planned and its networks
 * validated together, as ADD does before it attaches anything. What this
 * finds is what only shows in combination: a NAD the annotation names that
 * is not among the files (a typo), two networks on one interface name,
 * subnets that overlap, a NAD with a resourceName that no container of the
 * pod requests (the device plugin would give it no device).
 */
import { attachmentName, planAttachments } from "../attachment.ts";
import { CniError } from "../cni/errors.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { positionAt } from "../json-position.ts";
import type { KubeClient } from "../k8s/client.ts";
import { ApiError } from "../k8s/errors.ts";
import { loadNetconf, type NetConf } from "../netconf.ts";
import {
  DEFAULT_NETWORK_ANNOTATION,
  NETWORKS_ANNOTATION,
  type NetworkSelection,
  parseDefaultNetworkAnnotation,
  parseNetworkSelections,
} from "../selection.ts";
import { type Problem, validateInput } from "../validate.ts";
import type { Finding, GivenNetconf, ManifestObject } from "./validate.ts";

/** Where the cluster network (delegates[0]) would be when no netconf is given: it takes eth0, as on a node. */
const STAND_IN: JsonObject = {
  cniVersion: "1.0.0",
  name: "multus-cni-network",
  type: "multus",
  kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
  delegates: [{ cniVersion: "1.0.0", name: "cluster-network", type: "cluster-network" }],
};

const NAD_PATH = /^\/apis\/k8s\.cni\.cncf\.io\/v1\/namespaces\/([^/]+)\/network-attachment-definitions\/([^/]+)$/;
const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/;
const NETWORK_PATH = /^\/apis\/([^/]+\/v1)\/namespaces\/([^/]+)\/networks\/([^/]+)$/;

/** The objects of the files, answering the reads a resolution makes; it never writes. */
export class FilesClient implements KubeClient {
  private readonly byPath = new Map<string, JsonObject>();

  constructor(objects: readonly ManifestObject[]) {
    const enc = encodeURIComponent;
    for (const o of objects) {
      const ns = enc(o.namespace);
      const name = enc(o.name);
      if (o.kind === "Pod") this.byPath.set(`/api/v1/namespaces/${ns}/pods/${name}`, o.value);
      else if (o.kind === "NetworkAttachmentDefinition")
        this.byPath.set(`/apis/k8s.cni.cncf.io/v1/namespaces/${ns}/network-attachment-definitions/${name}`, o.value);
      else if (o.kind === "Network" && typeof o.value.apiVersion === "string")
        this.byPath.set(`/apis/${o.value.apiVersion}/namespaces/${ns}/networks/${name}`, o.value);
    }
  }

  async get(path: string, what: string): Promise<JsonObject> {
    const o = this.byPath.get(path);
    if (o) return o;
    const known = NAD_PATH.test(path) || POD_PATH.test(path) || NETWORK_PATH.test(path);
    throw new ApiError(what, 404, "NotFound", known ? "not among the files given" : `${path} is not read by multus validate`);
  }

  private refuse(what: string): Promise<never> {
    return Promise.reject(new Error(`${what}: multus validate writes nothing`));
  }
  mergePatch(_p: string, _b: unknown, what: string) {
    return this.refuse(what);
  }
  post(_p: string, _b: unknown, what: string) {
    return this.refuse(what);
  }
  put(_p: string, _b: unknown, what: string) {
    return this.refuse(what);
  }
  postOnce(_p: string, _b: unknown, what: string) {
    return this.refuse(what);
  }
  async close(): Promise<void> {}
}

/** The edit distance of two short names (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** A pod's selections whose NAD is not among the files, each said with the nearest name that is. */
function missingNads(selections: NetworkSelection[], nads: readonly ManifestObject[]): { sel: NetworkSelection; message: string }[] {
  const out: { sel: NetworkSelection; message: string }[] = [];
  for (const sel of selections) {
    if (nads.some((n) => n.namespace === sel.namespace && n.name === sel.name)) continue;
    const same = nads.filter((n) => n.namespace === sel.namespace).map((n) => n.name);
    const near = same.filter((n) => distance(n, sel.name) <= Math.max(2, Math.floor(sel.name.length / 4)));
    const hint = near.length
      ? `did you mean ${near.map((n) => JSON.stringify(n)).join(" or ")}?`
      : same.length
        ? `the files have, in ${sel.namespace}: ${same.join(", ")}`
        : `the files have none in namespace ${sel.namespace}`;
    const elsewhere = nads.filter((n) => n.name === sel.name).map((n) => `${n.namespace}/${n.name}`);
    out.push({
      sel,
      message: `NetworkAttachmentDefinition ${sel.namespace}/${sel.name} is not among the files given (${hint})${elsewhere.length ? `; there is ${elsewhere.join(", ")}` : ""}: its ADD would fail`,
    });
  }
  return out;
}

/** The device-plugin resources the pod's containers ask for (requests or limits). */
export function requestedResources(pod: JsonObject): Set<string> {
  const out = new Set<string>();
  const spec = isJsonObject(pod.spec) ? pod.spec : {};
  for (const list of [spec.containers, spec.initContainers]) {
    for (const c of Array.isArray(list) ? list : []) {
      const r = isJsonObject(c) && isJsonObject(c.resources) ? c.resources : {};
      for (const part of [r.requests, r.limits]) if (isJsonObject(part)) for (const k of Object.keys(part)) out.add(k);
    }
  }
  return out;
}

const key = (p: Problem) => `${p.path}\n${p.message}`;

interface PodCheck {
  pod: ManifestObject;
  netconf: NetConf;
  client: FilesClient;
  nads: readonly ManifestObject[];
  /** Said of a pod whose annotations parse: why its ADD would not read them. */
  note?: string;
  /** A finding on the pod, at the annotation value (or at `within` in it). */
  say(severity: Finding["severity"], path: string, message: string, within?: string): Finding;
}

/** One pod, as its ADD would see it. */
async function checkPod(c: PodCheck): Promise<Finding[]> {
  const { pod, nads } = c;
  const ann = annotationsOf(pod.value);
  const networks = ann[NETWORKS_ANNOTATION];
  const annPath = `metadata.annotations[${NETWORKS_ANNOTATION}]`;
  let selections: NetworkSelection[] = [];
  try {
    if (networks?.trim()) selections = parseNetworkSelections(networks, pod.namespace);
    const d = ann[DEFAULT_NETWORK_ANNOTATION];
    if (d?.trim()) selections.push(parseDefaultNetworkAnnotation(d, c.netconf.kubernetes.multusNamespace));
  } catch {
    return []; // said already, file by file
  }
  if (c.note) return [c.say("warning", annPath, c.note)];
  const missing = missingNads(selections, nads);
  if (missing.length) return missing.map((m) => c.say("error", annPath, m.message, m.sel.name));
  let requests: Awaited<ReturnType<typeof resolve>>;
  try {
    requests = await resolve(c);
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    return [c.say("error", annPath, e.message)];
  }
  const out: Finding[] = [];
  let plan: ReturnType<typeof planAttachments>;
  try {
    plan = planAttachments(requests, "eth0");
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    return [c.say("error", annPath, e.message)];
  }
  // The validator on the pod's networks together, less what each network shows alone (said with its NAD).
  const attachments = plan.map((a) => ({ path: attachmentName(a), ifname: a.ifName, config: a.config }));
  const alone = new Set(attachments.flatMap((a) => problemsOf(validateInput({ attachments: [a] })).map(key)));
  const together = validateInput({ attachments });
  for (const [severity, list] of [
    ["error", together.type === "invalid" ? together.errors : []],
    ["warning", together.warnings],
  ] as const) {
    for (const p of list) if (!alone.has(key(p))) out.push(c.say(severity, p.path, p.message));
  }
  const asked = requestedResources(pod.value);
  for (const a of plan) {
    const r = a.device?.resourceName;
    if (r && !asked.has(r)) {
      out.push(
        c.say(
          "error",
          "spec.containers[].resources",
          `network ${attachmentName(a)} (interface ${a.ifName}) needs a device of resource "${r}" (its NetworkAttachmentDefinition's k8s.v1.cni.cncf.io/resourceName), but no container of the pod asks for one in resources.requests or resources.limits: the device plugin gives the pod none, and its ADD fails`,
        ),
      );
    }
  }
  return out;
}

const problemsOf = (a: ReturnType<typeof validateInput>): Problem[] => [...(a.type === "invalid" ? a.errors : []), ...a.warnings];

async function resolve(c: PodCheck) {
  const { resolveKubernetesNetworks } = await import("../k8s/resolve.ts");
  const ref = { namespace: c.pod.namespace, name: c.pod.name };
  return (await resolveKubernetesNetworks(c.netconf, c.client, ref, { devices: false })).requests;
}

function annotationsOf(doc: JsonObject): Record<string, string> {
  const meta = isJsonObject(doc.metadata) ? doc.metadata : {};
  const out: Record<string, string> = {};
  if (isJsonObject(meta.annotations)) for (const [k, v] of Object.entries(meta.annotations)) if (typeof v === "string") out[k] = v;
  return out;
}

/**
 * The given netconf as validate resolves pods with it: a `clusterNetwork` or
 * `defaultNetworks` entry that is not a NAD among the files (a conf file or
 * path on some node) is left out, the cluster network then stood in for.
 */
function withoutNodeFiles(conf: JsonObject, nads: readonly ManifestObject[]): JsonObject {
  const ns = typeof conf.multusNamespace === "string" && conf.multusNamespace ? conf.multusNamespace : "kube-system";
  const given = (n: unknown) => typeof n === "string" && nads.some((o) => o.namespace === ns && o.name === n);
  const cluster = given(conf.clusterNetwork) ? conf.clusterNetwork : undefined;
  const delegates = Array.isArray(conf.delegates) && conf.delegates.length ? conf.delegates : STAND_IN.delegates;
  return {
    ...conf,
    clusterNetwork: cluster,
    defaultNetworks: Array.isArray(conf.defaultNetworks) ? conf.defaultNetworks.filter(given) : undefined,
    delegates: cluster ? (conf.delegates ?? []) : delegates,
  };
}

/** The netconf pods are resolved with: the multus netconf given, when in Kubernetes mode and loadable, else a stand-in. */
export function netconfFor(given: GivenNetconf | undefined, nads: readonly ManifestObject[]): { netconf: NetConf; note?: string } {
  const standIn = loadNetconf(STAND_IN);
  if (!given) return { netconf: standIn };
  const { conf } = given;
  if (typeof conf.kubeconfig !== "string" && typeof conf.clusterNetwork !== "string") {
    return {
      netconf: standIn,
      note: `${given.file} is a delegates-mode netconf (no "kubeconfig"): its ADD does not read this pod's network annotations`,
    };
  }
  try {
    return { netconf: loadNetconf(withoutNodeFiles(conf, nads)) };
  } catch {
    return { netconf: standIn }; // its problems are said with its file
  }
}

/** Every pod among `objects` that names networks, checked with the NADs and the netconf given with it. */
export async function checkPods(objects: readonly ManifestObject[], given: GivenNetconf | undefined): Promise<Finding[]> {
  const nads = objects.filter((o) => o.kind === "NetworkAttachmentDefinition");
  // Without any NAD among the files there is nothing to resolve a pod's networks against.
  if (nads.length === 0) return [];
  const { netconf, note } = netconfFor(given, nads);
  const client = new FilesClient(objects);
  const out: Finding[] = [];
  for (const pod of objects.filter((o) => o.kind === "Pod")) {
    const ann = annotationsOf(pod.value);
    const value = ann[NETWORKS_ANNOTATION] ?? ann[DEFAULT_NETWORK_ANNOTATION];
    if (!value?.trim()) continue;
    const annKey = ann[NETWORKS_ANNOTATION] !== undefined ? NETWORKS_ANNOTATION : DEFAULT_NETWORK_ANNOTATION;
    const say: PodCheck["say"] = (severity, path, message, within) => {
      const base = pod.offsetOf(value, annKey);
      const i = within === undefined ? -1 : value.indexOf(within);
      const offset = i >= 0 ? pod.offsetIn(value, i, annKey) : base;
      const p = positionAt(pod.text, offset);
      return { file: pod.file, line: p.line, column: p.column, object: `Pod ${pod.namespace}/${pod.name}`, severity, path, message };
    };
    out.push(...(await checkPod({ pod, netconf, client, nads, say, ...(note ? { note } : {}) })));
  }
  return out;
}
