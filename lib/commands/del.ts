/**
 * DEL: best effort and idempotent. Uses the cache record when there is one
 * (never the API or the current config), walks attachments in reverse, tries
 * every one, and keeps in the record only the attachments whose DEL failed,
 * so a retry redoes exactly those. An ADD (or attach) that was killed
 * mid-way may have left delegates running: they are stopped first, so none
 * finishes its ADD after this DEL. CNI_NETNS goes to delegates as the
 * runtime gave it: empty once the namespace is gone (after a reboot), as the
 * spec allows for DEL. The device-info file of a device-plugin attachment
 * goes with it: at the path in the record, or, without a record, at the one
 * its name gives.
 */

import { type Attachment, attachmentName, delegateOf } from "../attachment.ts";
import { type CacheRecord, removeCache, writeCache } from "../cache.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isMultusPluginType } from "../delegate.ts";
import { delDelegate, MAX_PARALLEL_DELEGATES } from "../delegate-exec.ts";
import { settleBounded } from "../pool.ts";
import { isRunning, killOrphans, waitGone } from "../proc.ts";
import { removeUpstreamResults } from "../upstream-record.ts";
import { fallback, recorded } from "./attachments.ts";
import { attachmentExec, type CommandContext, readRecord, withContainerLock } from "./context.ts";

export function del(ctx: CommandContext): Promise<void> {
  return withContainerLock(ctx, () => delLocked(ctx));
}

/** DEL for a caller that already holds the container's lock (GC). */
export async function delLocked(ctx: CommandContext): Promise<void> {
  const read = readRecord(ctx);
  if (read.state !== "ok") return delUnrecorded(ctx);
  await stopOrphans(ctx, read.record);
  const { failed } = await detachRecorded(ctx, read.record, recorded(read.record), { keepFailed: ctx.netconf.retryDeleteOnError });
  if (failed.length === 0) return;
  throw new CniError(
    ErrorCode.DelegateFailed,
    failed.length === 1 ? failed[0].message : `${failed.length} networks failed to detach`,
    failed.map((f) => f.message).join("\n"),
  );
}

/** An ADD (or attach) killed mid-way may have left delegates running: stop them before tearing down. */
export async function stopOrphans(ctx: CommandContext, rec: CacheRecord): Promise<void> {
  if (rec.complete || !rec.owner || isRunning(rec.owner)) return;
  const { killed, skipped, otherBoot } = killOrphans(rec.owner, rec.running ?? []);
  if (otherBoot) ctx.log.info("not stopping what a killed ADD left running", { reason: otherBoot });
  for (const s of skipped) ctx.log.error("not stopping a process the cache record lists", s);
  if (!killed.length) return;
  ctx.log.info("stopped delegates left running by a killed ADD", { pids: killed });
  await waitGone(killed);
}

export type Failure = { attachment: Attachment; message: string };

/**
 * DEL `chosen` attachments of `rec` (all of them for the runtime's DEL, one
 * for `multus detach`), in the namespace this call was given. The record
 * keeps the others, and the failed ones when `keepFailed`; it goes when
 * nothing is left; `finish` has the last word on what it says. Their
 * device-info files and upstream's results files go with the attachments
 * that leave the record. Returns the record as written (undefined: removed)
 * and the failures.
 */
export async function detachRecorded(
  ctx: CommandContext,
  rec: CacheRecord,
  chosen: readonly Attachment[],
  { keepFailed, finish = (r) => r }: { keepFailed: boolean; finish?: (r: CacheRecord) => CacheRecord },
): Promise<{ record?: CacheRecord; failed: Failure[] }> {
  const failed = await detachAll(ctx, chosen, rec.cniVersion);
  const kept = new Set(keepFailed ? failed.map((f) => f.attachment) : []);
  const leaving = chosen.filter((a) => !kept.has(a));
  await removeDeviceInfoFiles(ctx, leaving);
  const gone = new Set(leaving);
  const attachments = rec.attachments.filter((a) => !gone.has(a));
  const record = attachments.length ? finish({ ...rec, attachments }) : undefined;
  if (record) writeCache(ctx.netconf.cniDir, record);
  else removeCache(ctx.netconf.cniDir, ctx.args.containerId);
  removeUpstreamResults(ctx.netconf.cniDir, leaving);
  return { ...(record ? { record } : {}), failed };
}

/**
 * No (usable) record: DEL what the config names, so addresses are released.
 * Nothing proves these networks were ever attached (a rolled-back ADD, a
 * repeated DEL): their failures must not block the pod's teardown forever,
 * so they are only logged.
 */
async function delUnrecorded(ctx: CommandContext): Promise<void> {
  const attachments = await fallback(ctx);
  const failed = await detachAll(ctx, attachments, ctx.netconf.cniVersion);
  await removeDeviceInfoFiles(ctx, attachments);
  removeCache(ctx.netconf.cniDir, ctx.args.containerId);
  if (failed.length) ctx.log.error("DEL without a cache record: failures ignored", { problems: failed.map((f) => f.message) });
}

/** Every attachment is tried (reverse order, or all at once with "parallel"); the failures are returned. */
async function detachAll(ctx: CommandContext, attachments: readonly Attachment[], cniVersion: string): Promise<Failure[]> {
  const failed: Failure[] = [];
  const detach = async (a: Attachment): Promise<void> => {
    try {
      const d = delegateOf(a, cniVersion, { allowMultus: true });
      await delDelegate(d, attachmentExec(ctx, a, ctx.netconf.timeouts.delegateMs), a.result);
      const skipped = d.pluginTypes.filter(isMultusPluginType);
      if (skipped.length) ctx.log.info("not run: a Multus is never a delegate", { network: attachmentName(a), plugins: skipped });
      ctx.log.info("detached", { network: attachmentName(a), interface: a.ifName });
    } catch (e) {
      failed.push({ attachment: a, message: (e as Error).message });
    }
  };
  if (ctx.netconf.parallel) await settleBounded(attachments, MAX_PARALLEL_DELEGATES, detach);
  else for (const a of [...attachments].reverse()) await detach(a);
  return failed;
}

async function removeDeviceInfoFiles(ctx: CommandContext, attachments: readonly Attachment[]): Promise<void> {
  const files = attachments.flatMap((a) => (typeof a.device?.infoFile === "string" ? [a.device.infoFile] : []));
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
