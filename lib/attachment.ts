/**
 * One network of one pod, as one serialisable value (`Attachment`): what
 * ADD plans, what the cache record stores, what DEL, CHECK and GC act on,
 * and what `multus attach` and `multus detach` add and remove. Its sources
 * are in lib/commands/attachments.ts.
 *
 * Before interface names are known, a source of networks (the netconf's
 * delegates, the pod's annotations) says what it asks of each network (an
 * `AttachmentRequest`); planning names the interfaces, computed before any
 * side effect so that a naming conflict fails fast.
 */
import { type CniArgs, ifNameProblem, withExtraArgs } from "./cni/args.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { type Delegate, loadDelegate } from "./delegate.ts";
import type { JsonObject } from "./json.ts";

/** A device-plugin device for an attachment (its NAD's `k8s.v1.cni.cncf.io/resourceName`). */
export interface AttachmentDevice {
  readonly resourceName: string;
  /** The device kubelet allocated to the pod, injected into the delegate's config; absent until assigned. */
  readonly deviceID?: string;
  /** This attachment's device-info file (set once the interface name is known). */
  readonly infoFile?: string;
}

/** One network of one pod: the delegate's config, the interface, the pod's requests, the device, the result. */
export interface Attachment {
  /** The network's name (`name` of its config). */
  readonly network: string;
  /** The pod's interface. */
  readonly ifName: string;
  /** The attachment whose result goes back to the runtime (on CNI_IFNAME). */
  readonly isClusterNetwork: boolean;
  /** The delegate config exactly as executed (conf or conflist; a device-plugin device filled in). */
  readonly config: JsonObject;
  /** CNI_ARGS its plugins get: the runtime's, with the pod's own pairs (IP=, MAC=). */
  readonly cniArgs: string;
  /** Its name in network-status: `namespace/name` for a NetworkAttachmentDefinition. */
  readonly statusName?: string;
  /** Runtime config; each plugin gets the keys its `capabilities` declare. */
  readonly runtimeConfig?: JsonObject;
  /** The pod asked for its default route(s) through this attachment (`default-route`). */
  readonly defaultRoute?: readonly string[];
  /** Kubernetes mode: the device-plugin device it needs, and its device-info file. */
  readonly device?: AttachmentDevice;
  /** The delegate's result as it printed it; absent until its ADD succeeded. */
  readonly result?: JsonObject;
  /** An attachment upstream Multus made: its libcni results file, removed with it (lib/upstream-record.ts). */
  readonly resultsFile?: string;
}

/** What a source of networks asks of one network for one pod, before interfaces are named. */
export interface AttachmentRequest {
  readonly delegate: Delegate;
  /** Old Multus: this one is the cluster network (legacy naming). */
  readonly masterplugin?: boolean;
  /** The interface name asked for. */
  readonly ifnameRequest?: string;
  /** Name recorded in network-status: `namespace/name` for a NetworkAttachmentDefinition. */
  readonly statusName?: string;
  /** Runtime config; each plugin gets the keys its `capabilities` declare. */
  readonly runtimeConfig?: JsonObject;
  /** CNI_ARGS pairs for this attachment only (e.g. IP=, MAC= requested by the pod). */
  readonly extraArgs?: readonly (readonly [string, string])[];
  /** The pod asked for its default route(s) through this attachment (`default-route`). */
  readonly defaultRoute?: readonly string[];
  /** Kubernetes mode: the network needs one of the pod's devices of a device-plugin resource (SR-IOV ...). */
  readonly device?: AttachmentDevice;
}

/** A request from a delegate's own config: delegates mode's `masterplugin` and `ifnameRequest`. */
export function requestFromConfig(delegate: Delegate): AttachmentRequest {
  const { masterplugin, ifnameRequest } = delegate.config;
  return {
    delegate,
    ...(masterplugin === true ? { masterplugin: true } : {}),
    ...(typeof ifnameRequest === "string" && ifnameRequest ? { ifnameRequest } : {}),
  };
}

/** The name an attachment (or a request) has in logs and errors: its network-status name, else the network's. */
export const attachmentName = (a: Attachment | AttachmentRequest): string => a.statusName ?? ("network" in a ? a.network : a.delegate.name);

/** The attachment of `r` on `ifName`; its CNI_ARGS are the runtime's with the request's own pairs. */
export function attachmentOf(r: AttachmentRequest, ifName: string, isClusterNetwork: boolean, args?: CniArgs): Attachment {
  return {
    network: r.delegate.name,
    ifName,
    isClusterNetwork,
    config: r.delegate.config,
    cniArgs: args ? withExtraArgs(args, r.extraArgs) : "",
    ...(r.statusName ? { statusName: r.statusName } : {}),
    ...(r.runtimeConfig ? { runtimeConfig: r.runtimeConfig } : {}),
    ...(r.defaultRoute ? { defaultRoute: r.defaultRoute } : {}),
    ...(r.device ? { device: r.device } : {}),
  };
}

/**
 * The delegate that runs for `a`: its config, read as it was executed.
 * `cniVersion` is for a config without one (a record of upstream's);
 * `allowMultus` (DEL): a record of an older release naming a Multus plugin
 * is still read.
 */
export function delegateOf(a: Attachment, cniVersion: string, { allowMultus = false } = {}): Delegate {
  return loadDelegate(a.config, `recorded attachment "${a.network}" (${a.ifName})`, 0, { name: a.network, cniVersion }, { allowMultus });
}

/** Which request is which interface: the cluster network's index, and each request's name. */
function interfaceNames(requests: readonly AttachmentRequest[], clusterIfName: string): { cluster: number; names: string[] } {
  const masters = requests.flatMap((r, i) => (r.masterplugin ? [i] : []));
  if (masters.length > 1) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `only one delegate can have "masterplugin": true (found ${masters.length}: ${masters.map((i) => `delegates[${i}] "${requests[i].delegate.name}"`).join(", ")})`,
    );
  }
  if (masters.length === 0) {
    return { cluster: 0, names: requests.map((r, i) => r.ifnameRequest ?? (i === 0 ? clusterIfName : `net${i}`)) };
  }
  const m = masters[0];
  let counter = 0;
  const names = requests.map((r, i) => (i === m ? (r.ifnameRequest ?? clusterIfName) : (r.ifnameRequest ?? `net${counter++}`)));
  return { cluster: m, names };
}

/**
 * Legacy delegates mode naming.
 * - One delegate flagged `masterplugin`: it runs first on `clusterIfName`; the
 *   others get net0, net1 ... in list order, counting only non-masters.
 * - No flag: delegates[0] is the cluster network on `clusterIfName`; the
 *   others get `net<index>` (net1, net2 ...).
 * An `ifnameRequest` overrides the generated name. `args`: the runtime's
 * CNI_ARGS, which every attachment gets with its own pairs.
 */
export function planAttachments(requests: readonly AttachmentRequest[], clusterIfName: string, args?: CniArgs): Attachment[] {
  if (requests.length === 0) throw new CniError(ErrorCode.InvalidNetworkConfig, "no networks to attach");
  const { cluster, names } = interfaceNames(requests, clusterIfName);
  const plan = requests.map((r, i) => attachmentOf(r, names[i], i === cluster, args));
  // The cluster network runs first.
  if (cluster > 0) plan.unshift(...plan.splice(cluster, 1));
  const seen = new Map<string, string>();
  for (const a of plan) {
    const problem = ifNameProblem(a.ifName);
    if (problem) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${a.network}": interface name "${a.ifName}" ${problem}`);
    }
    const other = seen.get(a.ifName);
    if (other !== undefined) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `interface name "${a.ifName}" is used by both network "${other}" and network "${a.network}"`,
        "give one of them a different ifnameRequest",
      );
    }
    seen.set(a.ifName, a.network);
  }
  return plan;
}
