/**
 * What a pod's attachments tell the cluster (Kubernetes mode): the
 * network-status annotation, one entry per attachment of the record, and
 * pod events. Used by ADD, `multus attach` and `multus detach`.
 */
import { type Attachment, attachmentName } from "../attachment.ts";
import { normaliseResult } from "../cni/result.ts";
import type { KubeClient } from "../k8s/client.ts";
import type { PodEvent } from "../k8s/events.ts";
import type { Pod } from "../k8s/pod.ts";
import { buildNetworkStatus, type NetworkStatus } from "../network-status.ts";
import type { CommandContext } from "./context.ts";

const versionOf = (a: Attachment, fallback: string): string => (typeof a.config.cniVersion === "string" ? a.config.cniVersion : fallback);

/** The network-status of `attachments` (made ones: each has its result), with each device's device-info file. */
export async function networkStatuses(ctx: CommandContext, attachments: readonly Attachment[]): Promise<NetworkStatus[]> {
  const devInfo = attachments.some((a) => a.device?.infoFile) ? await import("../device-info.ts") : undefined;
  return attachments.map((a) => {
    const r = normaliseResult(a.result, versionOf(a, ctx.netconf.cniVersion));
    const info = a.device?.infoFile ? devInfo?.readDeviceInfo(a.device.infoFile, ctx.log) : undefined;
    return buildNetworkStatus(attachmentName(a), a.ifName, a.isClusterNetwork, r, info);
  });
}

/** Write the pod's network-status: every attachment, in order (one write, lib/k8s/publish-status.ts). */
export async function publishNetworkStatus(ctx: CommandContext, client: KubeClient, pod: Pod, attachments: readonly Attachment[]) {
  const statuses = await networkStatuses(ctx, attachments);
  const { writeNetworkStatus } = await import("../k8s/publish-status.ts");
  await writeNetworkStatus(client, pod, statuses);
}

/** "Add <if> [<ip/prefix>, ...] from <network>", a line per attachment (the AddedInterface event). */
export function addedInterfaces(ctx: CommandContext, attachments: readonly Attachment[]): string {
  return attachments
    .map((a) => {
      const r = normaliseResult(a.result, versionOf(a, ctx.netconf.cniVersion));
      const ips = (r.ips ?? []).filter((ip) => ip.interface === undefined || r.interfaces?.[ip.interface]?.sandbox).map((ip) => ip.address);
      return `Add ${a.ifName} [${ips.join(", ")}] from ${attachmentName(a)}`;
    })
    .join("\n");
}

/** One pod event, best effort: never holds up or fails the call (see lib/k8s/events.ts). */
export async function announce(ctx: CommandContext, client: KubeClient, pod: Pod, ev: PodEvent): Promise<void> {
  if (!ctx.netconf.kubernetes.podEvents) return;
  const { postPodEvent } = await import("../k8s/events.ts");
  const problem = await postPodEvent(client, pod, ev);
  if (problem) ctx.log.error("pod event not posted", { reason: ev.reason, problem });
}
