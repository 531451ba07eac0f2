/**
 * ADD: plan every attachment, record the plan, attach in order, and on any
 * failure undo what this ADD did (newest first) so nothing is left behind.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { convertResult } from "../cni/convert.ts";
import { type AnyResult, normaliseResult } from "../cni/result.ts";
import { type PlannedAttachment, planAttachments } from "../attachment.ts";
import { type CacheRecord, CACHE_KIND, readCache, removeCache, writeCache } from "../cache.ts";
import { addDelegate, delDelegate } from "../execute.ts";
import { findPlugin } from "../invoke.ts";
import { isJsonObject } from "../delegate.ts";
import { UndoStack } from "../undo.ts";
import { type CommandContext, pluginDirs, pluginEnv } from "./context.ts";

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

export async function add(ctx: CommandContext): Promise<AnyResult> {
  const { netconf, args } = ctx;
  if (netconf.mode === "crd") {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `netconf: "kubeconfig" is set, but Kubernetes (CRD) mode is not available in this build`,
      "remove \"kubeconfig\" to use the delegates list",
    );
  }
  const plan = planAttachments(netconf.delegates, args.ifName);
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
    attachments: plan.map((a) => ({
      network: a.delegate.name,
      ifName: a.ifName,
      isClusterNetwork: a.isClusterNetwork,
      config: a.delegate.config,
    })),
  };

  const undo = new UndoStack();
  // Recorded before the first delegate runs: a DEL after a crash still knows what to remove.
  writeCache(netconf.cniDir, record);
  // Attachments whose rollback DEL failed stay in the record for the runtime's DEL.
  const leftover = new Set<number>();
  undo.push("update cache record", () => {
    if (leftover.size === 0) return removeCache(netconf.cniDir, args.containerId);
    writeCache(netconf.cniDir, { ...record, attachments: record.attachments.filter((_, i) => leftover.has(i)) });
  });

  let clusterResult: AnyResult;
  try {
    for (const [i, a] of plan.entries()) {
      const o = { env: pluginEnv(ctx, a.ifName), timeoutMs: netconf.delegateTimeoutMs };
      // The failed delegate is DELed too: it may have reserved an address before failing.
      undo.push(`DEL network "${a.delegate.name}" (${a.ifName})`, async () => {
        try {
          await delDelegate(a.delegate, o, record.attachments[i].result);
        } catch (e) {
          if (record.attachments[i].result) leftover.add(i);
          throw e;
        }
      });
      try {
        record.attachments[i].result = await addDelegate(a.delegate, o);
      } catch (e) {
        const inner = e as CniError;
        throw new CniError(
          inner.code ?? ErrorCode.DelegateFailed,
          `cannot attach network "${a.delegate.name}" as ${a.ifName}: ${inner.message}`,
          inner.details,
        );
      }
    }
    const cluster = plan.findIndex((a) => a.isClusterNetwork);
    const raw = record.attachments[cluster].result!;
    clusterResult = convertResult(normaliseResult(raw, plan[cluster].delegate.cniVersion), netconf.cniVersion);
    record.complete = true;
    writeCache(netconf.cniDir, record);
  } catch (e) {
    const failures = await undo.unwind();
    if (failures.length && e instanceof CniError) {
      const details = [e.details, `rollback:\n${failures.join("\n")}`].filter(Boolean).join("\n");
      throw new CniError(e.code, e.message, details);
    }
    throw e;
  }
  undo.commit();
  return clusterResult;
}
