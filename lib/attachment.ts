/**
 * Attachments: what one pod asks of a delegate (a request), and planning,
 * which request gets which interface, in which order. Computed before any
 * side effect, so a naming conflict fails fast.
 */
import { ifNameProblem } from "./cni/args.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import type { Delegate } from "./delegate.ts";
import type { JsonObject } from "./json.ts";

/** A device-plugin device for an attachment (its NAD's `k8s.v1.cni.cncf.io/resourceName`). */
export interface AttachmentDevice {
  readonly resourceName: string;
  /** The device kubelet allocated to the pod, injected into the delegate's config; absent until assigned. */
  readonly deviceID?: string;
  /** This attachment's device-info file (set once the interface name is known). */
  readonly infoFile?: string;
}

/** One network for one pod: the delegate, and what this pod asks of it. */
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

export interface PlannedAttachment extends AttachmentRequest {
  readonly ifName: string;
  /** The attachment whose result goes back to the runtime (on CNI_IFNAME). */
  readonly isClusterNetwork: boolean;
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

/** The name an attachment has in logs and errors: its network-status name, else the network's. */
export const attachmentName = (a: AttachmentRequest): string => a.statusName ?? a.delegate.name;

/**
 * Legacy delegates mode naming.
 * - One delegate flagged `masterplugin`: it runs first on `clusterIfName`; the
 *   others get net0, net1 ... in list order, counting only non-masters.
 * - No flag: delegates[0] is the cluster network on `clusterIfName`; the
 *   others get `net<index>` (net1, net2 ...).
 * An `ifnameRequest` overrides the generated name.
 */
export function planAttachments(requests: readonly AttachmentRequest[], clusterIfName: string): PlannedAttachment[] {
  if (requests.length === 0) throw new CniError(ErrorCode.InvalidNetworkConfig, "no networks to attach");
  const masters = requests.flatMap((r, i) => (r.masterplugin ? [i] : []));
  if (masters.length > 1) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `only one delegate can have "masterplugin": true (found ${masters.length}: ${masters.map((i) => `delegates[${i}] "${requests[i].delegate.name}"`).join(", ")})`,
    );
  }

  let plan: PlannedAttachment[];
  if (masters.length === 1) {
    const m = masters[0];
    let counter = 0;
    plan = [{ ...requests[m], ifName: requests[m].ifnameRequest ?? clusterIfName, isClusterNetwork: true }];
    requests.forEach((r, i) => {
      if (i === m) return;
      const generated = `net${counter++}`;
      plan.push({ ...r, ifName: r.ifnameRequest ?? generated, isClusterNetwork: false });
    });
  } else {
    plan = requests.map((r, i) => ({
      ...r,
      ifName: r.ifnameRequest ?? (i === 0 ? clusterIfName : `net${i}`),
      isClusterNetwork: i === 0,
    }));
  }

  const seen = new Map<string, string>();
  for (const a of plan) {
    const problem = ifNameProblem(a.ifName);
    if (problem) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${a.delegate.name}": interface name "${a.ifName}" ${problem}`);
    }
    const other = seen.get(a.ifName);
    if (other !== undefined) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `interface name "${a.ifName}" is used by both network "${other}" and network "${a.delegate.name}"`,
        "give one of them a different ifnameRequest",
      );
    }
    seen.set(a.ifName, a.delegate.name);
  }
  return plan;
}
