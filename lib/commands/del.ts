/**
 * DEL: best effort and idempotent. Uses the cache record when there is one
 * (never the API or the current config), walks attachments in reverse, tries
 * every one, and keeps in the record only the attachments whose DEL failed,
 * so a retry redoes exactly those. An ADD that was killed mid-way may have
 * left delegates running: they are stopped first, so none finishes its ADD
 * after this DEL. CNI_NETNS goes to delegates as the runtime gave it: empty
 * once the namespace is gone (after a reboot), as the spec allows for DEL.
 * The device-info file of a device-plugin attachment goes with it: at the
 * path in the record, or, without a record, at the one its name gives.
 */

import { type AttachmentRequest, attachmentName, planAttachments, requestFromConfig } from "../attachment.ts";
import { type CachedAttachment, type CacheRecord, cachedRequest, removeCache, writeCache } from "../cache.ts";
import { withExtraArgs } from "../cni/args.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isMultusPluginType } from "../delegate.ts";
import { delDelegate, MAX_PARALLEL_DELEGATES } from "../delegate-exec.ts";
import type { KubeClient } from "../k8s/client.ts";
import { settleBounded } from "../pool.ts";
import { isRunning, killOrphans, waitGone } from "../proc.ts";
import { removeUpstreamResults } from "../upstream-record.ts";
import { type CommandContext, openKubeClient, pluginEnv, readRecord, withContainerLock } from "./context.ts";

interface DelTarget {
  request: AttachmentRequest;
  ifName: string;
  netns: string;
  cniArgs: string;
  prevResult?: CachedAttachment["result"];
  cached?: CachedAttachment;
}

/**
 * Without a record: in Kubernetes mode try to resolve the pod's networks
 * (briefly; the API may be down), else the config's delegates. Devices are
 * not looked up: kubelet may have released them already.
 */
async function fallbackRequests(ctx: CommandContext): Promise<AttachmentRequest[]> {
  if (ctx.netconf.mode === "crd") {
    let client: KubeClient | undefined;
    try {
      client = await openKubeClient(ctx, 3000);
      const { resolveKubernetesNetworks } = await import("../k8s/resolve.ts");
      return (await resolveKubernetesNetworks(ctx.netconf, client, ctx.args.pod, { devices: false })).requests;
    } catch (e) {
      ctx.log.error("DEL without a cache record could not resolve the pod's networks", { problem: (e as Error).message });
    } finally {
      await client?.close();
    }
  }
  return ctx.netconf.delegates.map(requestFromConfig);
}

export function del(ctx: CommandContext): Promise<void> {
  return withContainerLock(ctx, () => delLocked(ctx));
}

/** DEL for a caller that already holds the container's lock (GC): targets, detach all, then the record. */
export async function delLocked(ctx: CommandContext): Promise<void> {
  const read = readRecord(ctx);
  if (read.state === "ok") await stopOrphans(ctx, read.record);
  const targets = read.state === "ok" ? recordedTargets(ctx, read.record) : await fallbackTargets(ctx);
  const failed = await detachAll(ctx, targets);
  // The device-info files of the attachments that leave the record.
  const kept = new Set(read.state === "ok" && ctx.netconf.retryDeleteOnError ? failed.map((f) => f.target) : []);
  await removeDeviceInfoFiles(
    ctx,
    targets.filter((t) => !kept.has(t)),
  );
  if (read.state === "ok") updateRecord(ctx, read.record, failed);
  else forgetUnrecorded(ctx, failed);
}

/** An ADD killed mid-way may have left delegates running: stop them before tearing down. */
async function stopOrphans(ctx: CommandContext, rec: CacheRecord): Promise<void> {
  if (rec.complete || !rec.owner || isRunning(rec.owner)) return;
  const { killed, skipped, otherBoot } = killOrphans(rec.owner, rec.running ?? []);
  if (otherBoot) ctx.log.info("not stopping what a killed ADD left running", { reason: otherBoot });
  for (const s of skipped) ctx.log.error("not stopping a process the cache record lists", s);
  if (!killed.length) return;
  ctx.log.info("stopped delegates left running by a killed ADD", { pids: killed });
  await waitGone(killed);
}

function recordedTargets(ctx: CommandContext, rec: CacheRecord): DelTarget[] {
  return rec.attachments.map((a, i) => ({
    request: cachedRequest(rec, i, ctx.netconf.name, { allowMultus: true }),
    ifName: a.ifName,
    netns: ctx.args.netns,
    cniArgs: a.cniArgs ?? rec.cniArgs,
    prevResult: a.result,
    cached: a,
  }));
}

/** No (usable) record: DEL what the config names, so addresses are released. */
async function fallbackTargets(ctx: CommandContext): Promise<DelTarget[]> {
  const { netconf, args } = ctx;
  const requests = await fallbackRequests(ctx);
  let plan = requests.length ? planAttachments(requests, args.ifName) : [];
  if (plan.some((a) => a.device)) {
    const { withDeviceInfoFiles } = await import("../device-info.ts");
    plan = withDeviceInfoFiles(plan, netconf.devices.deviceInfoDir, args.containerId);
  }
  return plan.map((a) => ({ request: a, ifName: a.ifName, netns: args.netns, cniArgs: withExtraArgs(args, a.extraArgs) }));
}

type Failure = { target: DelTarget; message: string };

/** Every target is tried (reverse order, or all at once with "parallel"); the failures are returned. */
async function detachAll(ctx: CommandContext, targets: DelTarget[]): Promise<Failure[]> {
  const failed: Failure[] = [];
  const detach = async (t: DelTarget): Promise<void> => {
    try {
      const { delegate, runtimeConfig } = t.request;
      const env = pluginEnv(ctx, t.ifName, t.netns, t.cniArgs);
      const o = { env, timeoutMs: ctx.netconf.timeouts.delegateMs, ...(runtimeConfig ? { runtimeConfig } : {}) };
      await delDelegate(delegate, o, t.prevResult);
      const skipped = delegate.pluginTypes.filter(isMultusPluginType);
      if (skipped.length) ctx.log.info("not run: a Multus is never a delegate", { network: attachmentName(t.request), plugins: skipped });
      ctx.log.info("detached", { network: attachmentName(t.request), interface: t.ifName });
    } catch (e) {
      failed.push({ target: t, message: (e as Error).message });
    }
  };
  if (ctx.netconf.parallel) await settleBounded(targets, MAX_PARALLEL_DELEGATES, detach);
  else for (const t of [...targets].reverse()) await detach(t);
  return failed;
}

/**
 * All detached: the record goes. Failures: only they stay (retryDeleteOnError),
 * and the DEL fails. The results files of upstream's attachments go with them.
 */
function updateRecord(ctx: CommandContext, rec: CacheRecord, failed: Failure[]): void {
  const { netconf, args } = ctx;
  // "retryDeleteOnError": false: the record goes anyway.
  const keep = new Set(netconf.retryDeleteOnError ? failed.map((f) => f.target.cached) : []);
  const kept = rec.attachments.filter((a) => keep.has(a));
  if (kept.length) writeCache(netconf.cniDir, { ...rec, attachments: kept });
  else removeCache(netconf.cniDir, args.containerId);
  removeUpstreamResults(
    netconf.cniDir,
    rec.attachments.filter((a) => !keep.has(a)),
  );
  if (failed.length === 0) return;
  throw new CniError(
    ErrorCode.DelegateFailed,
    failed.length === 1 ? failed[0].message : `${failed.length} networks failed to detach`,
    failed.map((f) => f.message).join("\n"),
  );
}

/**
 * Without a record nothing proves these networks were ever attached (a
 * rolled-back ADD, a repeated DEL): their failures must not block the pod's
 * teardown forever, so they are only logged.
 */
function forgetUnrecorded(ctx: CommandContext, failed: Failure[]): void {
  removeCache(ctx.netconf.cniDir, ctx.args.containerId);
  if (failed.length) ctx.log.error("DEL without a cache record: failures ignored", { problems: failed.map((f) => f.message) });
}

async function removeDeviceInfoFiles(ctx: CommandContext, targets: DelTarget[]): Promise<void> {
  const files = targets.flatMap((t) => (typeof t.request.device?.infoFile === "string" ? [t.request.device.infoFile] : []));
  if (!files.length) return;
  const { removeDeviceInfo } = await import("../device-info.ts");
  for (const f of files) {
    try {
      removeDeviceInfo(f);
    } catch (e) {
      ctx.log.error("cannot remove a device-info file", { file: f, problem: (e as Error).message });
    }
  }
}
