/**
 * Attachment planning: which delegate gets which interface, in which order.
 * Computed before any side effect, so a naming conflict fails fast.
 */
import { ifNameProblem } from "./cni/args.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import type { Delegate } from "./delegate.ts";

export interface PlannedAttachment {
  delegate: Delegate;
  ifName: string;
  /** The attachment whose result goes back to the runtime (on CNI_IFNAME). */
  isClusterNetwork: boolean;
}

/**
 * Legacy delegates mode naming.
 * - One delegate flagged `masterplugin`: it runs first on `clusterIfName`; the
 *   others get net0, net1 ... in list order, counting only non-masters.
 * - No flag: delegates[0] is the cluster network on `clusterIfName`; the
 *   others get `net<index>` (net1, net2 ...).
 * An `ifnameRequest` overrides the generated name.
 */
export function planAttachments(delegates: readonly Delegate[], clusterIfName: string): PlannedAttachment[] {
  if (delegates.length === 0) throw new CniError(ErrorCode.InvalidNetworkConfig, "no networks to attach");
  const masters = delegates.flatMap((d, i) => (d.masterplugin ? [i] : []));
  if (masters.length > 1) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `only one delegate can have "masterplugin": true (found ${masters.length}: ${masters.map((i) => `delegates[${i}] "${delegates[i].name}"`).join(", ")})`,
    );
  }

  let plan: PlannedAttachment[];
  if (masters.length === 1) {
    const m = masters[0];
    let counter = 0;
    plan = [{ delegate: delegates[m], ifName: delegates[m].ifnameRequest ?? clusterIfName, isClusterNetwork: true }];
    delegates.forEach((d, i) => {
      if (i === m) return;
      const generated = `net${counter++}`;
      plan.push({ delegate: d, ifName: d.ifnameRequest ?? generated, isClusterNetwork: false });
    });
  } else {
    plan = delegates.map((d, i) => ({
      delegate: d,
      ifName: d.ifnameRequest ?? (i === 0 ? clusterIfName : `net${i}`),
      isClusterNetwork: i === 0,
    }));
  }

  const seen = new Map<string, string>();
  for (const a of plan) {
    const problem = ifNameProblem(a.ifName);
    if (problem) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${a.delegate.name}": interface name ${problem}`);
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
