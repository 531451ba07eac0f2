/** What every verb works with: the runtime's arguments and our netconf. */
import type { Attachment } from "../attachment.ts";
import { type CacheRead, readCache } from "../cache.ts";
import type { CniArgs } from "../cni/args.ts";
import type { ExecOptions } from "../delegate-exec.ts";
import type { KubeClient } from "../k8s/client.ts";
import { lockContainer } from "../lock.ts";
import type { Logger } from "../log.ts";
import type { NetConf } from "../netconf.ts";
import type { PluginEnv } from "../plugin-exec.ts";

export interface CommandContext {
  args: CniArgs;
  netconf: NetConf;
  log: Logger;
}

/**
 * A container's record (this call's, by default): ours, or one upstream
 * Multus wrote, whose interface names follow from `ifName` (the runtime's
 * CNI_IFNAME) and whose versions from our config.
 */
export function readRecord(ctx: CommandContext, containerId = ctx.args.containerId, ifName = ctx.args.ifName): CacheRead {
  const { netconf } = ctx;
  return readCache(netconf.cniDir, containerId, {
    ifName,
    cniVersion: netconf.cniVersion,
    deviceInfoDir: netconf.devices.deviceInfoDir,
  });
}

/** Plugin search dirs: CNI_PATH first, then the netconf's binDir. */
export function pluginDirs(ctx: CommandContext): string[] {
  return [...new Set([...ctx.args.path, ctx.netconf.binDir])];
}

export function pluginEnv(ctx: CommandContext, ifName: string, netns = ctx.args.netns, args = ctx.args.args): PluginEnv {
  return {
    containerId: ctx.args.containerId,
    netns,
    ifName,
    args,
    path: pluginDirs(ctx),
  };
}

/**
 * How a delegate runs for attachment `a` of this container: on its
 * interface, with its CNI_ARGS and runtime config, in `netns` (this call's,
 * by default).
 */
export function attachmentExec(
  ctx: CommandContext,
  a: Attachment,
  timeoutMs: number,
  { netns = ctx.args.netns, onStart }: { netns?: string; onStart?: (pid: number) => void } = {},
): ExecOptions {
  return {
    env: pluginEnv(ctx, a.ifName, netns, a.cniArgs),
    timeoutMs,
    ...(a.runtimeConfig ? { runtimeConfig: a.runtimeConfig } : {}),
    ...(onStart ? { onStart } : {}),
  };
}

/**
 * Longest a call waits for another call on the same container: as long as
 * an ADD may take (readiness wait, API calls, its delegates), and a little.
 */
export function lockWaitMs(netconf: NetConf): number {
  const api = netconf.mode === "crd" ? 2 * netconf.timeouts.apiDeadlineMs : 0;
  return netconf.timeouts.readinessMs + netconf.timeouts.addMs + api + 5000;
}

/**
 * The Kubernetes API client for this call (Kubernetes mode). The command
 * that opens it closes it; `deadlineMs` can only shorten the configured one.
 */
export async function openKubeClient(ctx: CommandContext, deadlineMs?: number): Promise<KubeClient> {
  const { createKubeClient } = await import("../k8s/client.ts");
  const t = ctx.netconf.timeouts;
  return createKubeClient({
    kubeconfig: ctx.netconf.kubernetes.kubeconfig,
    requestTimeoutMs: t.apiRequestMs,
    deadlineMs: Math.min(deadlineMs ?? t.apiDeadlineMs, t.apiDeadlineMs),
  });
}

/** Run `fn` holding the container's lock (one call per container at a time). */
export async function withContainerLock<T>(ctx: CommandContext, fn: () => Promise<T>): Promise<T> {
  const lock = await lockContainer(ctx.netconf.cniDir, ctx.args.containerId, lockWaitMs(ctx.netconf));
  if (lock.takenOver) ctx.log.info("took over the lock of a call that died", { pid: lock.takenOver.pid });
  if (lock.replaced) ctx.log.error("removed what stood where the container's lock belongs", { problem: lock.replaced });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
