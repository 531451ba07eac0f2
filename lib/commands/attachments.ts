/**
 * Where a call's attachments come from:
 * - `planned(ctx)`, for ADD (and `multus explain`): what the netconf and the
 *   pod ask for, planned (interface names, CNI_ARGS, device-info files);
 * - `recorded(record)`: what the cache record says was attached;
 * - `fallback(ctx)`, for a DEL without a usable record: what the config
 *   names, so that addresses are still released.
 */
import { type Attachment, planAttachments, requestFromConfig } from "../attachment.ts";
import type { CacheRecord } from "../cache.ts";
import type { KubeClient } from "../k8s/client.ts";
import type { Pod } from "../k8s/pod.ts";
import { type CommandContext, openKubeClient } from "./context.ts";

export interface Planned {
  attachments: Attachment[];
  /** Kubernetes mode: the pod, as read from the API. */
  pod?: Pod;
}

/** Attachments with a device-plugin device get their device-info file. */
async function withDeviceFiles(ctx: CommandContext, plan: Attachment[]): Promise<Attachment[]> {
  if (!plan.some((a) => a.device)) return plan;
  const { withDeviceInfoFiles } = await import("../device-info.ts");
  return withDeviceInfoFiles(plan, ctx.netconf.devices.deviceInfoDir, ctx.args.containerId);
}

/** Delegates mode: the netconf's delegates; the runtime's capability args (portMappings ...) go to the cluster network. */
function delegatesPlan(ctx: CommandContext): Attachment[] {
  const plan = planAttachments(ctx.netconf.delegates.map(requestFromConfig), ctx.args.ifName, ctx.args);
  const rc = ctx.netconf.runtimeConfig;
  return rc ? plan.map((a) => (a.isClusterNetwork ? { ...a, runtimeConfig: rc } : a)) : plan;
}

/**
 * ADD's attachments: the netconf's delegates, or, in Kubernetes mode (with
 * `client`), the networks resolved from the pod and the API (code that loads
 * only then). `onPod` is told the pod as soon as it is read; `devices:
 * false` (`multus explain` without kubelet) leaves device-plugin networks
 * without their device.
 */
export async function planned(
  ctx: CommandContext,
  client: KubeClient | undefined,
  { onPod, devices = true }: { onPod?: (pod: Pod) => void; devices?: boolean } = {},
): Promise<Planned> {
  if (!client) return { attachments: await withDeviceFiles(ctx, delegatesPlan(ctx)) };
  const { resolveKubernetesNetworks } = await import("../k8s/resolve.ts");
  const r = await resolveKubernetesNetworks(ctx.netconf, client, ctx.args.pod, { log: ctx.log, devices, ...(onPod ? { onPod } : {}) });
  const attachments = await withDeviceFiles(ctx, planAttachments(r.requests, ctx.args.ifName, ctx.args));
  return { attachments, ...(r.pod ? { pod: r.pod } : {}) };
}

/** What a record (ours of any version, or upstream's) says is attached, in attach order. */
export const recorded = (rec: CacheRecord): readonly Attachment[] => rec.attachments;

/**
 * Without a record: in Kubernetes mode the pod's networks, if they resolve
 * quickly (the API may be down), else the config's delegates. Devices are
 * not looked up (kubelet may have released them already): a device-plugin
 * attachment's device-info file is the one its name gives.
 */
export async function fallback(ctx: CommandContext): Promise<Attachment[]> {
  if (ctx.netconf.mode === "crd") {
    let client: KubeClient | undefined;
    try {
      client = await openKubeClient(ctx, 3000);
      const { resolveKubernetesNetworks } = await import("../k8s/resolve.ts");
      const { requests } = await resolveKubernetesNetworks(ctx.netconf, client, ctx.args.pod, { devices: false });
      return requests.length ? await withDeviceFiles(ctx, planAttachments(requests, ctx.args.ifName, ctx.args)) : [];
    } catch (e) {
      ctx.log.error("DEL without a cache record could not resolve the pod's networks", { problem: (e as Error).message });
    } finally {
      await client?.close();
    }
  }
  return ctx.netconf.delegates.length ? delegatesPlan(ctx) : [];
}
