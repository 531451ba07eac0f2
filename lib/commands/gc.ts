/**
 * GC (CNI 1.1): the runtime lists the attachments that are still valid.
 *
 * 1. Every cached container not in that list is DELed from its record, as
 *    the runtime's DEL would, in its netns while that still exists: its
 *    interfaces go with its addresses, which could otherwise be handed to
 *    another pod while still up in this one. A container whose lock some
 *    call holds (an ADD in progress) is not garbage: it is left alone and
 *    its attachments count as valid.
 * 2. Every network the records name, and the networks every pod gets
 *    (./node-networks.ts), get one GC each (by network name) when their
 *    config speaks 1.1.0, with their attachments that remain. Not at all
 *    while a valid container's attachments are unknown (no readable
 *    record): told only part of what is valid, a delegate would free what
 *    that pod still uses.
 * The records of the containers the runtime lists are read only when some
 * network speaks 1.1.0 (lib/gc-index.ts knows the recorded ones): without
 * one, a GC over a thousand valid containers reads none of their records.
 */

import { delegateOf } from "../attachment.ts";
import { type CacheRecord, listCachedContainers } from "../cache.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { versionAllows } from "../cni/version.ts";
import type { Delegate } from "../delegate.ts";
import { gcDelegate, VALID_ATTACHMENTS_KEY as VALID_KEY } from "../delegate-exec.ts";
import { type GcNetwork, noteGcNetworks, readGcIndex, speaksGc, writeGcIndex } from "../gc-index.ts";
import { lockContainer } from "../lock.ts";
import type { ValidAttachment } from "../netconf.ts";
import { liveNetns } from "../netns.ts";
import { recorded } from "./attachments.ts";
import { type CommandContext, pluginEnv, readRecord } from "./context.ts";
import { delLocked } from "./del.ts";
import { nodeNetworks } from "./node-networks.ts";

/** What the sweep of the cache learns, for the delegates' GC. */
interface Sweep {
  /** One config per network name: the current one when there is one, else the first recorded. */
  networks: Map<string, Delegate>;
  /** The attachments that stay, per network name. */
  kept: Map<string, ValidAttachment[]>;
  /** Valid containers whose attachments are not known, and why. */
  unknown: Map<string, string>;
  /** The networks that speak GC that the records read name (for lib/gc-index.ts). */
  recorded: Map<string, GcNetwork>;
  problems: string[];
}

export async function gc(ctx: CommandContext): Promise<void> {
  const list = ctx.netconf.validAttachments;
  if (!list) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `"${VALID_KEY}" is missing`,
      "GC needs the runtime's list of valid attachments; nothing was torn down",
    );
  }
  const sweep: Sweep = { networks: new Map(), kept: new Map(), unknown: new Map(), recorded: new Map(), problems: [] };
  try {
    for (const d of await nodeNetworks(ctx)) sweep.networks.set(d.name, d);
  } catch (e) {
    // The networks the records name are still collected.
    ctx.log.error("GC cannot resolve the networks every pod gets", { problem: (e as Error).message });
  }
  const index = readGcIndex(ctx.netconf.cniDir);
  const readAll = index === undefined || index.length > 0 || [...sweep.networks.values()].some((d) => versionAllows(d.cniVersion, "GC"));
  await sweepContainers(ctx, list, sweep, readAll);
  await collectIfKnown(ctx, sweep, readAll);
  if (sweep.problems.length) {
    throw new CniError(ErrorCode.DelegateFailed, `garbage collection left ${sweep.problems.length} problem(s)`, sweep.problems.join("\n"));
  }
}

/**
 * 1. Tear down the cached containers the runtime does not list; learn what
 * stays (the records of listed ones are read only with `readAll`). A
 * container the runtime lists is valid, whatever interface it names.
 */
async function sweepContainers(ctx: CommandContext, list: ValidAttachment[], sweep: Sweep, readAll: boolean): Promise<void> {
  // An upstream record names no interface for its cluster network: the runtime's list does.
  const ifNames = new Map(list.map((a) => [a.containerID, a.ifname]));
  if (readAll) for (const a of list) sweep.unknown.set(a.containerID, "it has no cache record");
  for (const id of listCachedContainers(ctx.netconf.cniDir, readAll ? undefined : new Set(ifNames.keys()))) {
    const read = readRecord(ctx, id, ifNames.get(id) ?? "eth0");
    if (read.state !== "ok") {
      if (sweep.unknown.has(id)) sweep.unknown.set(id, read.state === "corrupt" ? read.problem : "it has no cache record");
      continue;
    }
    const rec = read.record;
    sweep.unknown.delete(id);
    rememberNetworks(ctx, rec, sweep);
    if (ifNames.has(id) || !(await tearDown(ctx, rec, sweep))) keep(rec, sweep);
  }
}

/** DEL a container no longer valid, holding its lock; false when some call holds it (an ADD in progress). */
async function tearDown(ctx: CommandContext, rec: CacheRecord, sweep: Sweep): Promise<boolean> {
  const id = rec.containerId;
  let lock: Awaited<ReturnType<typeof lockContainer>>;
  try {
    lock = await lockContainer(ctx.netconf.cniDir, id, 0);
  } catch (e) {
    ctx.log.info("GC skipped a container in use", { containerID: id, problem: (e as Error).message });
    return false;
  }
  try {
    const args = { ...ctx.args, containerId: id, ifName: rec.ifName, netns: liveNetns(rec.netns), args: rec.cniArgs };
    await delLocked({ ...ctx, args });
  } catch (e) {
    sweep.problems.push(`container ${id}: ${(e as Error).message}`);
  } finally {
    lock.release();
  }
  return true;
}

function rememberNetworks(ctx: CommandContext, rec: CacheRecord, sweep: Sweep): void {
  for (const a of recorded(rec)) {
    if (speaksGc(a.config) && !sweep.recorded.has(a.network)) sweep.recorded.set(a.network, { name: a.network, config: a.config });
    if (sweep.networks.has(a.network)) continue;
    try {
      sweep.networks.set(a.network, delegateOf(a, rec.cniVersion));
    } catch (e) {
      ctx.log.error("GC cannot read a recorded network", { containerID: rec.containerId, problem: (e as Error).message });
    }
  }
}

function keep(rec: CacheRecord, sweep: Sweep): void {
  for (const a of recorded(rec)) {
    const list = sweep.kept.get(a.network) ?? [];
    list.push({ containerID: rec.containerId, ifname: a.ifName });
    sweep.kept.set(a.network, list);
  }
}

/**
 * 2. The networks' own GC, when the sweep knows what stays: after reading
 * every record (whose networks that speak GC then are the index), and no
 * valid container's attachments unknown. A network that speaks GC found
 * only in a record torn down now, the others unread, waits for the next GC
 * (noted in the index, which makes that one read every record).
 */
async function collectIfKnown(ctx: CommandContext, sweep: Sweep, readAll: boolean): Promise<void> {
  const { cniDir } = ctx.netconf;
  if (!readAll) {
    if (sweep.recorded.size) noteGcNetworks(cniDir, [...sweep.recorded.values()]);
    return;
  }
  writeGcIndex(cniDir, [...sweep.recorded.values()]);
  if (!sweep.unknown.size) return collectNetworks(ctx, sweep);
  for (const [id, why] of sweep.unknown) {
    sweep.problems.push(`container ${id} is valid but its attachments are unknown (${why}): no network was given GC`);
  }
}

/** One GC per network that speaks 1.1.0, each plugin of a conflist in order. */
async function collectNetworks(ctx: CommandContext, sweep: Sweep): Promise<void> {
  for (const [name, d] of sweep.networks) {
    if (!versionAllows(d.cniVersion, "GC")) continue;
    const o = { env: pluginEnv(ctx, "", ""), timeoutMs: ctx.netconf.timeouts.delegateMs };
    await gcDelegate(d, o, sweep.kept.get(name) ?? []).catch((e: unknown) =>
      sweep.problems.push(`GC of network "${name}": ${(e as Error).message}`),
    );
  }
}
