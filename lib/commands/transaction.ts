/**
 * Attaching as one transaction, for ADD (every attachment of a new record)
 * and `multus attach` (one more attachment of a record): record the plan
 * before any delegate runs, attach, (ADD: move the default route), publish
 * network-status, commit. An attachment with a device-plugin device gets its
 * device-info file written just before its delegate runs. On any failure
 * the undo stack takes back what was done (newest first), within the time
 * left, so nothing is left behind; an attachment whose rollback DEL failed
 * stays in the record for the runtime's DEL.
 */
import { type Attachment, attachmentName, delegateOf } from "../attachment.ts";
import { CACHE_KIND, CACHE_VERSION, type CacheRecord, removeCache, writeCache } from "../cache.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { addDelegate, delDelegate, MAX_PARALLEL_DELEGATES } from "../delegate-exec.ts";
import { noteGcNetworks } from "../gc-index.ts";
import { settleBounded } from "../pool.ts";
import { startTime, thisProcess } from "../proc.ts";
import { UndoStack } from "../undo.ts";
import { attachmentExec, type CommandContext } from "./context.ts";

/**
 * Time limits of one attaching call: the forward work must end by
 * `attachBy`, leaving a reserve so the rollback can still run before
 * `rollbackBy`; each delegate exec gets at most `delegateTimeout` of what is
 * left, each rollback DEL an equal share of the rest.
 */
export class Deadline {
  readonly attachBy: number;
  readonly rollbackBy: number;
  private rollbackSteps = 0;

  constructor(
    private readonly delegateMs: number,
    readonly totalMs: number,
  ) {
    this.rollbackBy = Date.now() + totalMs;
    this.attachBy = this.rollbackBy - Math.min(15_000, totalMs / 4);
  }

  /** Timeout for the next forward exec, or 0 when no time is left. */
  attachShare(): number {
    return Math.max(0, Math.min(this.delegateMs, this.attachBy - Date.now()));
  }

  /** A rollback DEL is registered (one per attempted attachment). */
  addRollbackStep(): void {
    this.rollbackSteps++;
  }

  /** Timeout for the next rollback DEL: one hung delegate cannot use up the others' time. */
  rollbackShare(): number {
    const share = (this.rollbackBy - Date.now()) / Math.max(1, this.rollbackSteps--);
    return Math.max(0, Math.min(this.delegateMs, share));
  }
}

/** A new record for this call's container, holding `attachments` (not complete, owned by this process). */
export function newRecord(ctx: CommandContext, attachments: Attachment[]): CacheRecord {
  const { netconf, args } = ctx;
  return {
    kind: CACHE_KIND,
    version: CACHE_VERSION,
    containerId: args.containerId,
    netns: args.netns,
    ifName: args.ifName,
    cniArgs: args.args,
    cniVersion: netconf.cniVersion,
    ...(args.path.length ? { cniPath: args.path } : {}),
    complete: false,
    attachments,
  };
}

/** The steps after the delegates ran, inside the transaction (a failure rolls everything back). */
export interface AfterAttach {
  /** Rewrites the record's attachments once all are attached (ADD's default route). */
  adjust?: (attachments: Attachment[]) => Promise<Attachment[]>;
  /** Publishes the record's attachments (network-status). */
  publish?: (attachments: readonly Attachment[]) => Promise<void>;
}

export class AttachTransaction {
  private readonly undo = new UndoStack();
  /** The record as it is being written: the base's attachments, then the added ones. */
  readonly record: CacheRecord;
  private readonly first: number;
  /** Added attachments (by record index) whose rollback DEL failed: they stay in the record for the runtime's DEL. */
  private readonly leftover = new Set<number>();

  /** `base`: the record to add to (`multus attach`), or a new one (ADD); `call` names the call in errors. */
  constructor(
    private readonly call: "ADD" | "attach",
    private readonly ctx: CommandContext,
    private readonly base: CacheRecord,
    added: readonly Attachment[],
    private readonly deadline: Deadline,
  ) {
    this.first = base.attachments.length;
    this.record = { ...base, complete: false, owner: thisProcess(), attachments: [...base.attachments, ...added] };
    delete this.record.running;
  }

  /** Attach the added attachments (all at once with "parallel"), then `after`; commits, or undoes it all. */
  async run(after: AfterAttach = {}): Promise<Attachment[]> {
    this.recordPlan();
    try {
      await this.attachAll();
      if (after.adjust) this.record.attachments = await after.adjust(this.record.attachments);
      await after.publish?.(this.record.attachments);
      this.commit();
      return this.record.attachments;
    } catch (e) {
      throw await this.rollBack(e);
    }
  }

  /**
   * Written, and synced, before the first delegate runs. The fsync is what
   * lets a DEL after a power loss find the attachments: without it the
   * rename may reach the disk before the data (an empty or missing record),
   * and that DEL would fall back to the config's delegates, leaking the
   * addresses of every network the pod got from elsewhere (NADs, attach).
   */
  private recordPlan(): void {
    const { cniDir } = this.ctx.netconf;
    writeCache(cniDir, this.record);
    noteGcNetworks(
      cniDir,
      this.record.attachments.slice(this.first).map((a) => ({ name: a.network, config: a.config })),
    );
    this.undo.push("update cache record", () => {
      const kept = this.record.attachments.filter((_, i) => this.leftover.has(i));
      if (this.first === 0 && kept.length === 0) return removeCache(cniDir, this.record.containerId);
      // The record as it was, with the attachments that must stay for the runtime's DEL.
      writeCache(cniDir, kept.length ? { ...this.base, attachments: [...this.base.attachments, ...kept] } : this.base);
    });
  }

  private async attachAll(): Promise<void> {
    const indices = this.record.attachments.map((_, i) => i).slice(this.first);
    const attachOne = (i: number) => this.attachOne(i);
    if (this.ctx.netconf.parallel) {
      // All delegates, a bounded number at a time; the first failure (in plan order) is reported once all have settled.
      const outcomes = await settleBounded(indices, MAX_PARALLEL_DELEGATES, attachOne);
      const failed = outcomes.find((x): x is PromiseRejectedResult => x.status === "rejected");
      if (failed) throw failed.reason;
    } else {
      for (const i of indices) await attachOne(i);
    }
  }

  private async attachOne(i: number): Promise<void> {
    const { ctx, deadline } = this;
    const a = this.record.attachments[i];
    const d = delegateOf(a, this.record.cniVersion);
    await this.writeDeviceInfo(a);
    // The failed delegate is DELed too: it may have reserved an address before failing.
    deadline.addRollbackStep();
    this.undo.push(`DEL network "${a.network}" (${a.ifName})`, async () => {
      const timeoutMs = deadline.rollbackShare();
      const made = this.record.attachments[i].result;
      try {
        if (timeoutMs < 1)
          throw new CniError(ErrorCode.DelegateFailed, `no time left (addTimeout ${deadline.totalMs / 1000}s): left for the runtime's DEL`);
        await delDelegate(d, attachmentExec(ctx, a, timeoutMs), made);
      } catch (e) {
        // Only an attachment that was made is kept: a delegate that failed
        // its ADD and its DEL must not block the pod's teardown forever.
        if (made) this.leftover.add(i);
        throw e;
      }
    });
    const timeoutMs = deadline.attachShare();
    if (timeoutMs < 1) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `cannot attach network "${attachmentName(a)}" as ${a.ifName}: this ${this.call} is out of time (addTimeout ${deadline.totalMs / 1000}s)`,
      );
    }
    try {
      const result = await addDelegate(d, attachmentExec(ctx, a, timeoutMs, { onStart: (pid) => this.recordRunning(pid) }));
      this.record.attachments[i] = { ...this.record.attachments[i], result };
      ctx.log.info("attached", { network: attachmentName(a), interface: a.ifName });
    } catch (e) {
      const inner = e as CniError;
      throw new CniError(
        inner.code ?? ErrorCode.DelegateFailed,
        `cannot attach network "${attachmentName(a)}" as ${a.ifName}: ${inner.message}`,
        inner.details,
      );
    }
  }

  /** Before its delegate runs (which gets it as CNIDeviceInfoFile); removed after the rollback DEL (pushed before it). */
  private async writeDeviceInfo(a: Attachment): Promise<void> {
    const infoFile = a.device?.infoFile;
    if (!infoFile) return;
    const devInfo = await import("../device-info.ts");
    this.undo.push(`remove device-info file ${infoFile}`, () => devInfo.removeDeviceInfo(infoFile));
    devInfo.writeDeviceInfo(a.device!, this.ctx.netconf.devices.deviceInfoDir, this.ctx.log);
  }

  /** Each delegate's process group goes into the record as it starts: if we are killed, the runtime's DEL stops it. */
  private recordRunning(pid: number): void {
    const start = startTime(pid);
    if (start === undefined) return; // already gone
    this.record.running = [...(this.record.running ?? []), { pid, start }];
    writeCache(this.ctx.netconf.cniDir, this.record, { durable: false });
  }

  /**
   * Not synced: lost to a power loss, the record falls back to the synced
   * plan, which names the same attachments (a DEL after the reboot releases
   * them all; only the results it would give as prevResult are missing, and
   * the pod is gone with the reboot anyway). The rename is still atomic.
   */
  private commit(): void {
    this.record.complete = true;
    delete this.record.running;
    writeCache(this.ctx.netconf.cniDir, this.record, { durable: false });
    this.undo.commit();
  }

  /** Undo everything; the error to report names what could not be undone. */
  private async rollBack(e: unknown): Promise<unknown> {
    const failures = await this.undo.unwind();
    this.ctx.log.info("rolled back", { problems: failures });
    if (failures.length && e instanceof CniError) {
      const details = [e.details, `rollback:\n${failures.join("\n")}`].filter(Boolean).join("\n");
      return new CniError(e.code, e.message, details);
    }
    return e;
  }
}
