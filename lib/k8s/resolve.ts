/**
 * Kubernetes mode: which networks a pod gets, in order, resolved before any
 * delegate runs.
 *
 * 1. The cluster network: the pod's `v1.multus-cni.io/default-network`
 *    annotation, else `clusterNetwork`, else `delegates[0]`.
 * 2. The rest of `delegates`, then `defaultNetworks` (not for pods in
 *    `systemNamespaces`).
 * 3. The pod's `k8s.v1.cni.cncf.io/networks` annotation (NADs), or, when it
 *    has none, the legacy `networks` annotation (old `Network` objects).
 *
 * A NAD with a `k8s.v1.cni.cncf.io/resourceName` then gets one of the pod's
 * devices of that resource from kubelet (./devices.ts, loaded only then).
 */
import { existsSync } from "node:fs";
import { type AttachmentRequest, requestFromConfig } from "../attachment.ts";
import type { PodRef } from "../cni/args.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { type Delegate, loadDelegate } from "../delegate.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { type Logger, NO_LOG } from "../log.ts";
import type { NetConf } from "../netconf.ts";
import {
  DEFAULT_NETWORK_ANNOTATION,
  LEGACY_NETWORKS_ANNOTATION,
  NETWORKS_ANNOTATION,
  type NetworkSelection,
  parseDefaultNetworkAnnotation,
  parseLegacyNetworks,
  parseNetworkSelections,
} from "../selection.ts";
import type { KubeClient } from "./client.ts";
import { findConfByName, loadConfPath, NetworkSource } from "./networks.ts";
import { getPod, type Pod } from "./pod.ts";

export interface ResolveOptions {
  /** Where the device lookup says which source it used. */
  log?: Logger;
  /**
   * Look up the devices of NADs with a resourceName (default true). A DEL
   * without a record skips it: the requests then name the resource only.
   */
  devices?: boolean;
  /** Told the pod as soon as it is read, so a failure later can still be reported on it. */
  onPod?: (pod: Pod) => void;
}

export interface Resolution {
  /** In attachment order; the cluster network first (or flagged `masterplugin` in legacy naming). */
  requests: AttachmentRequest[];
  pod?: Pod;
}

/** Merge the pod's cni-args into `args.cni` of every plugin config (the pod wins per key). */
function withCniArgs(conf: JsonObject, cniArgs: Record<string, unknown>): JsonObject {
  const merge = (c: JsonObject): JsonObject => {
    const args = isJsonObject(c.args) ? c.args : {};
    const cni = isJsonObject(args.cni) ? args.cni : {};
    return { ...c, args: { ...args, cni: { ...cni, ...cniArgs } } };
  };
  if (Array.isArray(conf.plugins)) return { ...conf, plugins: conf.plugins.map((p) => (isJsonObject(p) ? merge(p) : p)) };
  return merge(conf);
}

type RequestParts = Omit<AttachmentRequest, "delegate" | "masterplugin">;

/** What a selection asks of its network's plugins: runtime config (ips, mac ...) and CNI_ARGS pairs (IP=, MAC=). */
export function selectionRuntime(sel: NetworkSelection): RequestParts {
  const rc: JsonObject = {};
  const extra: [string, string][] = [];
  if (sel.ips?.length) {
    rc.ips = sel.ips;
    extra.push(["IP", sel.ips.join(",")]);
  }
  if (sel.mac) {
    rc.mac = sel.mac;
    extra.push(["MAC", sel.mac]);
  }
  if (sel.infinibandGuid) rc.infinibandGUID = sel.infinibandGuid;
  if (sel.bandwidth) rc.bandwidth = sel.bandwidth;
  if (sel.portMappings?.length) rc.portMappings = sel.portMappings;
  if (sel.deviceID) rc.deviceID = sel.deviceID;
  return {
    ...(Object.keys(rc).length ? { runtimeConfig: rc } : {}),
    ...(extra.length ? { extraArgs: extra } : {}),
  };
}

class Builder {
  readonly requests: AttachmentRequest[] = [];
  constructor(private readonly netconf: NetConf) {}

  /** Naming in Kubernetes mode is by position; a stray `masterplugin` in a config does not count. */
  add(conf: JsonObject, path: string, parts: RequestParts = {}, masterplugin = false): void {
    const delegate = loadDelegate(conf, path, this.requests.length, { name: this.netconf.name, cniVersion: this.netconf.cniVersion });
    this.addDelegate(delegate, parts, masterplugin);
  }

  /** A delegate of the netconf, loaded already. */
  addDelegate(delegate: Delegate, parts: RequestParts = {}, masterplugin = false): void {
    this.requests.push({ delegate, ...parts, ...(masterplugin ? { masterplugin } : {}) });
  }
}

/** The request part saying that NAD namespace/name needs a device (from the object already read). */
async function nadDevice(src: NetworkSource, namespace: string, name: string): Promise<Pick<RequestParts, "device">> {
  const resourceName = await src.nadResourceName(namespace, name);
  return resourceName ? { device: { resourceName } } : {};
}

/** A network named in the netconf: a NAD in multusNamespace, a conf file by name, or a path. */
async function resolveNamed(
  src: NetworkSource,
  netconf: NetConf,
  name: string,
  multusNamespace: string,
): Promise<{ conf: JsonObject; statusName: string; device?: RequestParts["device"] }> {
  if (name.includes("/") && existsSync(name)) return { conf: loadConfPath(name), statusName: "" };
  const nad = await src.nadConfig(multusNamespace, name);
  if (nad) return { conf: nad, statusName: `${multusNamespace}/${name}`, ...(await nadDevice(src, multusNamespace, name)) };
  const file = findConfByName(netconf.confDir, name);
  if (file) return { conf: file, statusName: "" };
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `network "${name}" not found: no NetworkAttachmentDefinition ${multusNamespace}/${name}, no conf file named "${name}" in ${netconf.confDir}`,
  );
}

/** The pod's networks, through `client` (created and closed by the command). */
export async function resolveKubernetesNetworks(
  netconf: NetConf,
  client: KubeClient,
  ref: PodRef | undefined,
  opts: ResolveOptions = {},
): Promise<Resolution> {
  const r = await resolveRequests(netconf, client, ref, opts.onPod);
  if (opts.devices === false || !r.requests.some((q) => q.device)) return r;
  const { assignDevices } = await import("./devices.ts");
  // kubelet's UID first: its checkpoint knows a static pod by it, not by the mirror pod's.
  const pod = r.pod ? { namespace: r.pod.namespace, name: r.pod.name, uid: ref?.uid || r.pod.uid } : ref;
  return { ...r, requests: await assignDevices(r.requests, pod, netconf.devices, opts.log ?? NO_LOG) };
}

/** What every step of a resolution reads. */
interface Scope {
  netconf: NetConf;
  src: NetworkSource;
  pod?: Pod;
  annotations: Record<string, string>;
  b: Builder;
  runtimeConfig: RequestParts;
  /** The old `networks` annotation's entries, when the pod uses it instead of the NAD one. */
  legacy?: { name: string }[];
}

async function resolveRequests(
  netconf: NetConf,
  client: KubeClient,
  ref: PodRef | undefined,
  onPod?: (pod: Pod) => void,
): Promise<Resolution> {
  const pod = ref ? await getPod(client, ref) : undefined;
  if (pod) onPod?.(pod);
  const annotations = pod?.annotations ?? {};
  const legacyValue = annotations[LEGACY_NETWORKS_ANNOTATION];
  const useNad = (annotations[NETWORKS_ANNOTATION] ?? "").trim() !== "";
  const legacy = !useNad && legacyValue !== undefined && legacyValue.trim() !== "" ? parseLegacyNetworks(legacyValue) : undefined;
  const scope: Scope = {
    netconf,
    src: new NetworkSource(client, netconf.confDir),
    annotations,
    b: new Builder(netconf),
    runtimeConfig: netconf.runtimeConfig ? { runtimeConfig: netconf.runtimeConfig } : {},
    ...(pod ? { pod } : {}),
    ...(legacy ? { legacy } : {}),
  };
  if (legacy?.length && !netconf.kubernetes.alwaysUseDefault) {
    // Legacy `networks` annotation without always_use_default: its networks replace the config's.
    await addLegacyNetworks(scope, true);
  } else {
    await addClusterNetwork(scope);
    await addConfiguredNetworks(scope);
    if (legacy) await addLegacyNetworks(scope, false);
    else if (useNad && pod) await addPodSelections(scope, pod);
  }
  return { requests: scope.b.requests, ...(pod ? { pod } : {}) };
}

/** The old `Network` objects a pod names; as the only networks, the flagged (or first) one is the master. */
async function addLegacyNetworks({ src, pod, b, legacy }: Scope, replace: boolean): Promise<void> {
  const confs = await Promise.all(legacy!.map((n) => src.legacyNetwork(pod!.namespace, n.name)));
  const master = replace
    ? Math.max(
        confs.findIndex((c) => c.masterplugin === true),
        0,
      )
    : -1;
  for (const [i, c] of confs.entries()) b.add(c, `Network ${c.name}`, { statusName: String(c.name) }, i === master);
}

/** 1. The cluster network: the default-network annotation, else clusterNetwork, else delegates[0]. */
async function addClusterNetwork({ netconf, src, annotations, b, runtimeConfig, legacy }: Scope): Promise<void> {
  const k = netconf.kubernetes;
  const defaultAnno = annotations[DEFAULT_NETWORK_ANNOTATION];
  if (defaultAnno !== undefined && defaultAnno.trim() !== "") {
    const sel = parseDefaultNetworkAnnotation(defaultAnno, k.multusNamespace);
    const conf = await src.requireNad(sel.namespace, sel.name);
    const parts: RequestParts = {
      statusName: `${sel.namespace}/${sel.name}`,
      ...runtimeConfig,
      ...(sel.interface ? { ifnameRequest: sel.interface } : {}),
      ...(await nadDevice(src, sel.namespace, sel.name)),
    };
    b.add(conf, `${sel.namespace}/${sel.name}`, parts, !!legacy);
  } else if (k.clusterNetwork) {
    const name = k.clusterNetwork;
    const { conf, statusName, device } = await resolveNamed(src, netconf, name, k.multusNamespace);
    b.add(
      conf,
      `clusterNetwork ${name}`,
      { ...(statusName ? { statusName } : {}), ...runtimeConfig, ...(device ? { device } : {}) },
      !!legacy,
    );
  } else if (netconf.delegates.length) {
    const first = requestFromConfig(netconf.delegates[0]);
    b.addDelegate(first.delegate, { ...runtimeConfig, ...(first.ifnameRequest ? { ifnameRequest: first.ifnameRequest } : {}) }, !!legacy);
  } else {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `netconf: no cluster network: set "delegates" or "clusterNetwork"`);
  }
}

/** 2. The config's other delegates (not with clusterNetwork), then defaultNetworks (not for system namespaces). */
async function addConfiguredNetworks({ netconf, src, pod, b }: Scope): Promise<void> {
  const k = netconf.kubernetes;
  if (!k.clusterNetwork) {
    for (const d of netconf.delegates.slice(1)) {
      const r = requestFromConfig(d);
      b.addDelegate(d, r.ifnameRequest ? { ifnameRequest: r.ifnameRequest } : {});
    }
  }
  if (pod && k.systemNamespaces.includes(pod.namespace)) return;
  for (const name of k.defaultNetworks) {
    const { conf, statusName, device } = await resolveNamed(src, netconf, name, k.multusNamespace);
    b.add(conf, `defaultNetworks ${name}`, { ...(statusName ? { statusName } : {}), ...(device ? { device } : {}) });
  }
}

/** Namespace isolation: a pod may use the NADs of its own namespace and of globalNamespaces only. */
function checkIsolation(netconf: NetConf, pod: Pod, selections: readonly NetworkSelection[]): void {
  const k = netconf.kubernetes;
  if (!k.namespaceIsolation) return;
  const allowed = new Set([pod.namespace, ...k.globalNamespaces]);
  for (const s of selections) {
    if (!allowed.has(s.namespace)) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `namespace isolation: pod ${pod.namespace}/${pod.name} may not use NetworkAttachmentDefinition ${s.namespace}/${s.name}`,
        `allowed namespaces: ${[...allowed].join(", ")} (netconf "globalNamespaces")`,
      );
    }
  }
}

/** What a selection asks of its NAD: the pod's cni-args merged in, its runtime config, interface, default route, device. */
async function addSelection(b: Builder, src: NetworkSource, s: NetworkSelection, conf: JsonObject): Promise<void> {
  b.add(s.cniArgs ? withCniArgs(conf, s.cniArgs) : conf, `${s.namespace}/${s.name}`, {
    statusName: `${s.namespace}/${s.name}`,
    ...selectionRuntime(s),
    ...(s.interface ? { ifnameRequest: s.interface } : {}),
    ...(s.defaultRoute ? { defaultRoute: s.defaultRoute } : {}),
    ...(await nadDevice(src, s.namespace, s.name)),
  });
}

/** 3. The NADs of the pod's `k8s.v1.cni.cncf.io/networks` annotation, isolation checked first. */
async function addPodSelections({ netconf, src, annotations, b }: Scope, pod: Pod): Promise<void> {
  const selections = parseNetworkSelections(annotations[NETWORKS_ANNOTATION], pod.namespace);
  checkIsolation(netconf, pod, selections);
  // All distinct NADs are fetched together; each at most once.
  const confs = await Promise.all(selections.map((s) => src.requireNad(s.namespace, s.name)));
  for (const [i, s] of selections.entries()) await addSelection(b, src, s, confs[i]);
}

/**
 * One more network for a running pod (`multus attach`), by the rules of its
 * networks annotation: namespace isolation, the NAD read from the API, the
 * selection's cni-args, runtime config and interface. A NAD with a
 * resourceName asks for a device (given by the caller, lib/k8s/devices.ts).
 */
export async function resolveSelection(netconf: NetConf, client: KubeClient, pod: Pod, sel: NetworkSelection): Promise<AttachmentRequest> {
  checkIsolation(netconf, pod, [sel]);
  const src = new NetworkSource(client, netconf.confDir);
  const b = new Builder(netconf);
  await addSelection(b, src, sel, await src.requireNad(sel.namespace, sel.name));
  return b.requests[0];
}
