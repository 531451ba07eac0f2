/**
 * ADD: resolve the networks, plan every attachment, record the plan, attach
 * in order, write the pod's network-status (Kubernetes mode), and on any
 * failure undo what this ADD did (newest first) so nothing is left behind.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { convertResult } from "../cni/convert.ts";
import { type AnyResult, normaliseResult } from "../cni/result.ts";
import { type PlannedAttachment, planAttachments } from "../attachment.ts";
import { type CacheRecord, CACHE_KIND, readCache, removeCache, writeCache } from "../cache.ts";
import { type Delegate, isJsonObject } from "../delegate.ts";
import { addDelegate, delDelegate } from "../execute.ts";
import { findPlugin } from "../invoke.ts";
import { buildNetworkStatus } from "../network-status.ts";
import { UndoStack } from "../undo.ts";
import { type CommandContext, attachmentArgs, pluginDirs, pluginEnv, withContainerLock } from "./context.ts";
import type { Resolution } from "../k8s/resolve.ts";
import { waitForReadiness } from "../readiness.ts";
import { startTime, thisProcess } from "../proc.ts";

/**
 * An ADD's time limits: the forward work must end by `attachBy`, leaving a
 * reserve so the rollback can still run before `rollbackBy`; each delegate
 * exec gets at most `delegateTimeout` of what is left.
 */
class Deadline {
  readonly attachBy: number;
  readonly rollbackBy: number;
  constructor(
    private readonly ctx: CommandContext,
    start: number,
  ) {
    const total = ctx.netconf.timeouts.addMs;
    this.rollbackBy = start + total;
    this.attachBy = this.rollbackBy - Math.min(15_000, total / 4);
  }
  /** Timeout for the next exec, or 0 when no time is left. */
  left(until: number): number {
    return Math.max(0, Math.min(this.ctx.netconf.timeouts.delegateMs, until - Date.now()));
  }
  private rollbackSteps = 0;
  /** A rollback DEL is registered (one per attempted attachment). */
  addRollbackStep(): void {
    this.rollbackSteps++;
  }
  /**
   * Timeout for the next rollback DEL: an equal share of what is left, so
   * one hung delegate cannot use up the time the others need.
   */
  rollbackShare(): number {
    const share = (this.rollbackBy - Date.now()) / Math.max(1, this.rollbackSteps--);
    return Math.max(0, Math.min(this.ctx.netconf.timeouts.delegateMs, share));
  }
}

/** Every plugin binary (and IPAM plugin) must exist before anything is attached. */
function resolvePlugins(plan: PlannedAttachment[], dirs: string[]): void {
  for (const a of plan) {
    const confs = a.delegate.kind === "conf" ? [a.delegate.config] : (a.delegate.config.plugins as unknown[]);
    for (const c of confs) {
      if (!isJsonObject(c)) continue;
      findPlugin(String(c.type), dirs);
      if (isJsonObject(c.ipam) && typeof c.ipam.type === "string") findPlugin(c.ipam.type, dirs);
    }
  }
}

function refuseSecondAdd(ctx: CommandContext): void {
  const existing = readCache(ctx.netconf.cniDir, ctx.args.containerId);
  if (existing.state !== "ok") return;
  const names = existing.record.attachments.map((a) => `${a.ifName} (${a.network})`).join(", ");
  throw new CniError(
    ErrorCode.AlreadyAttached,
    `container ${ctx.args.containerId} already has networks attached by an earlier ADD: ${names}`,
    "the runtime must DEL the container before adding it again; its interfaces were left untouched",
  );
}

/**
 * The delegates to attach: the netconf's (delegates mode), or those resolved
 * from the pod and the API (Kubernetes mode, whose code loads only then).
 */
async function resolveDelegates(ctx: CommandContext): Promise<{ delegates: Delegate[]; k8s?: Resolution }> {
  if (ctx.netconf.mode !== "crd") {
    // The runtime's capability args (portMappings, bandwidth ...) belong to the cluster network.
    const rc = ctx.netconf.runtimeConfig;
    if (!rc) return { delegates: ctx.netconf.delegates };
    const cluster = planAttachments(ctx.netconf.delegates, ctx.args.ifName).find((a) => a.isClusterNetwork)!.delegate;
    return { delegates: ctx.netconf.delegates.map((d) => (d === cluster ? { ...d, runtimeConfig: rc } : d)) };
  }
  const k = await import("../k8s/resolve.ts");
  const k8s = await k.resolveKubernetesNetworks(ctx.netconf, ctx.args.args);
  return { delegates: k8s.delegates, k8s };
}

/**
 * An ADD answers within readinessTimeout + addTimeout (plus, in Kubernetes
 * mode, the API deadline of the network-status write).
 */
export async function add(ctx: CommandContext): Promise<AnyResult> {
  // Before the lock: a DEL of this container need not wait for it.
  await waitForReadiness(ctx.netconf.readinessFile, ctx.netconf.timeouts.readinessMs);
  return withContainerLock(ctx, async () => {
    const deadline = new Deadline(ctx, Date.now());
    const { delegates, k8s } = await resolveDelegates(ctx);
    try {
      return await attach(ctx, delegates, k8s, deadline);
    } finally {
      await k8s?.client.close();
    }
  });
}

async function attach(ctx: CommandContext, delegates: Delegate[], k8s: Resolution | undefined, deadline: Deadline): Promise<AnyResult> {
  const { netconf, args } = ctx;
  const plan = planAttachments(delegates, args.ifName);
  if (k8s) {
    // What the API returned is checked like our own config: names, types, IPAM, overlaps.
    const { assertValid } = await import("../validate.ts");
    assertValid({
      attachments: plan.map((a) => ({ path: a.delegate.statusName || a.delegate.name, ifname: a.ifName, config: a.delegate.config })),
    });
  }
  resolvePlugins(plan, pluginDirs(ctx));
  refuseSecondAdd(ctx);

  const record: CacheRecord = {
    kind: CACHE_KIND,
    containerId: args.containerId,
    netns: args.netns,
    ifName: args.ifName,
    cniArgs: args.args,
    cniVersion: netconf.cniVersion,
    complete: false,
    owner: thisProcess(),
    attachments: plan.map((a) => {
      const cached: CacheRecord["attachments"][number] = {
        network: a.delegate.name,
        ifName: a.ifName,
        isClusterNetwork: a.isClusterNetwork,
        config: a.delegate.config,
      };
      if (a.delegate.runtimeConfig) cached.runtimeConfig = a.delegate.runtimeConfig;
      if (a.delegate.extraArgs) cached.cniArgs = attachmentArgs(args.args, a.delegate.extraArgs);
      if (a.delegate.statusName) cached.statusName = a.delegate.statusName;
      return cached;
    }),
  };

  const undo = new UndoStack();
  // Recorded before the first delegate runs: a DEL after a crash still knows what to remove.
  writeCache(netconf.cniDir, record);
  // Attachments whose rollback DEL failed stay in the record for the runtime's DEL.
  const leftover = new Set<number>();
  undo.push("update cache record", () => {
    if (leftover.size === 0) return removeCache(netconf.cniDir, args.containerId);
    const { owner: _o, running: _r, ...rest } = record;
    writeCache(netconf.cniDir, { ...rest, attachments: record.attachments.filter((_, i) => leftover.has(i)) });
  });

  let clusterResult: AnyResult;
  try {
    // Each delegate's process group goes into the record as it starts: if we
    // are killed, the runtime's DEL stops it before tearing down.
    const recordStart = (pid: number): void => {
      const start = startTime(pid);
      if (start === undefined) return; // already gone
      record.running = [...(record.running ?? []), { pid, start }];
      writeCache(netconf.cniDir, record, { durable: false });
    };
    const attachOne = async (a: PlannedAttachment, i: number): Promise<void> => {
      const cached = record.attachments[i];
      const env = pluginEnv(ctx, a.ifName, args.netns, cached.cniArgs ?? args.args);
      // The failed delegate is DELed too: it may have reserved an address before failing.
      deadline.addRollbackStep();
      undo.push(`DEL network "${a.delegate.name}" (${a.ifName})`, async () => {
        const timeoutMs = deadline.rollbackShare();
        try {
          if (timeoutMs < 1) {
            throw new CniError(ErrorCode.DelegateFailed, `no time left (addTimeout ${netconf.timeouts.addMs / 1000}s): left for the runtime's DEL`);
          }
          await delDelegate(a.delegate, { env, timeoutMs }, cached.result);
        } catch (e) {
          // Only an attachment that was made is kept: a delegate that failed
          // its ADD and its DEL must not block the pod's teardown forever.
          if (cached.result) leftover.add(i);
          throw e;
        }
      });
      const timeoutMs = deadline.left(deadline.attachBy);
      if (timeoutMs < 1) {
        throw new CniError(
          ErrorCode.TryAgainLater,
          `cannot attach network "${a.delegate.statusName ?? a.delegate.name}" as ${a.ifName}: this ADD is out of time (addTimeout ${netconf.timeouts.addMs / 1000}s)`,
        );
      }
      try {
        cached.result = await addDelegate(a.delegate, { env, timeoutMs, onStart: recordStart });
        ctx.log.info("attached", { network: a.delegate.statusName ?? a.delegate.name, interface: a.ifName });
      } catch (e) {
        const inner = e as CniError;
        throw new CniError(
          inner.code ?? ErrorCode.DelegateFailed,
          `cannot attach network "${a.delegate.statusName ?? a.delegate.name}" as ${a.ifName}: ${inner.message}`,
          inner.details,
        );
      }
    };
    if (netconf.parallel) {
      // All delegates at once; the first failure (in plan order) is reported once all have settled.
      const outcomes = await Promise.allSettled(plan.map(attachOne));
      const failed = outcomes.find((x): x is PromiseRejectedResult => x.status === "rejected");
      if (failed) throw failed.reason;
    } else {
      for (const [i, a] of plan.entries()) await attachOne(a, i);
    }
    const routed = plan.find((a) => a.delegate.defaultRoute !== undefined);
    if (routed) {
      const { applyDefaultRoutes } = await import("../netns.ts");
      await applyDefaultRoutes(args.netns, plan.map((a) => a.ifName), { ifName: routed.ifName, gateways: routed.delegate.defaultRoute! });
      ctx.log.info("default route moved", { interface: routed.ifName, gateways: routed.delegate.defaultRoute });
    }
    const results = plan.map((a, i) => normaliseResult(record.attachments[i].result, a.delegate.cniVersion));
    const cluster = plan.findIndex((a) => a.isClusterNetwork);
    clusterResult = convertResult(results[cluster], netconf.cniVersion);
    if (k8s?.pod) {
      const statuses = plan.map((a, i) =>
        buildNetworkStatus(a.delegate.statusName ?? a.delegate.name, a.ifName, a.isClusterNetwork, results[i]),
      );
      const { writeNetworkStatus } = await import("../k8s/status.ts");
      await writeNetworkStatus(k8s.client, k8s.pod, statuses);
    }
    record.complete = true;
    delete record.running;
    writeCache(netconf.cniDir, record);
  } catch (e) {
    const failures = await undo.unwind();
    ctx.log.info("rolled back", { problems: failures });
    if (failures.length && e instanceof CniError) {
      const details = [e.details, `rollback:\n${failures.join("\n")}`].filter(Boolean).join("\n");
      throw new CniError(e.code, e.message, details);
    }
    throw e;
  }
  undo.commit();
  return clusterResult;
}
