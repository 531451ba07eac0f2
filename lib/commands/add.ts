/**
 * ADD, as a sequence of named steps:
 *   wait for readiness → lock → plan the attachments (./attachments.ts) →
 *   check them (./preflight.ts) → attach all as one transaction, recorded
 *   before any delegate runs (./transaction.ts) → default route → publish
 *   network-status → commit → the cluster network's result.
 * On any failure after the record, the transaction takes back what this
 * ADD did, so nothing is left behind.
 */

import type { Attachment } from "../attachment.ts";
import { convertResult } from "../cni/convert.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { type AnyResult, normaliseResult, withDefaultRoutes } from "../cni/result.ts";
import type { KubeClient } from "../k8s/client.ts";
import type { PodEvent } from "../k8s/events.ts";
import type { Pod } from "../k8s/pod.ts";
import { waitForReadiness } from "../readiness.ts";
import { planned } from "./attachments.ts";
import { type CommandContext, openKubeClient, readRecord, withContainerLock } from "./context.ts";
import { preflight, refuseTakenNames } from "./preflight.ts";
import { addedInterfaces, announce, publishNetworkStatus } from "./publish.ts";
import { AttachTransaction, Deadline, newRecord } from "./transaction.ts";

/**
 * An ADD answers within readinessTimeout + addTimeout (plus, in Kubernetes
 * mode, the API deadline of the network-status write).
 */
export async function add(ctx: CommandContext): Promise<AnyResult> {
  // Before the lock: a DEL of this container need not wait for it.
  await waitForReadiness(ctx.netconf.readinessFile, ctx.netconf.timeouts.readinessMs);
  return withContainerLock(ctx, async () => {
    const deadline = new Deadline(ctx.netconf.timeouts.delegateMs, ctx.netconf.timeouts.addMs);
    const client = ctx.netconf.mode === "crd" ? await openKubeClient(ctx) : undefined;
    let pod: Pod | undefined;
    try {
      const plan = await planned(ctx, client, {
        onPod: (p) => {
          pod = p;
        },
      });
      await preflight(ctx, plan.attachments, { fromApi: client !== undefined });
      refuseSecondAdd(ctx);
      await refuseTakenNames(ctx, plan.attachments);
      const tx = new AttachTransaction("ADD", ctx, newRecord(ctx, []), plan.attachments, deadline);
      const attached = await tx.run({
        adjust: (atts) => applyDefaultRoute(ctx, checkResults(atts)),
        ...(client && pod ? { publish: (atts: readonly Attachment[]) => publishNetworkStatus(ctx, client, pod!, atts) } : {}),
      });
      if (client && pod)
        await announce(ctx, client, pod, { type: "Normal", reason: "AddedInterface", message: addedInterfaces(ctx, attached) });
      return runtimeResult(ctx, attached);
    } catch (e) {
      if (client && pod) await announce(ctx, client, pod, failureEvent(e));
      throw e;
    } finally {
      await client?.close();
    }
  });
}

/** A Warning event for a failed ADD; a missing NAD is `NoNetworkFound`, as upstream names it. */
function failureEvent(e: unknown): PodEvent {
  const message = e instanceof Error ? e.message : String(e);
  const reason = /NetworkAttachmentDefinition \S+ not found/.test(message) ? "NoNetworkFound" : "ErrorAddingNetwork";
  return { type: "Warning", reason, message };
}

function refuseSecondAdd(ctx: CommandContext): void {
  const existing = readRecord(ctx);
  if (existing.state !== "ok") return;
  const names = existing.record.attachments.map((a) => `${a.ifName} (${a.network})`).join(", ");
  throw new CniError(
    ErrorCode.AlreadyAttached,
    `container ${ctx.args.containerId} already has networks attached by an earlier ADD: ${names}`,
    "the runtime must DEL the container before adding it again; its interfaces were left untouched",
  );
}

/** Every delegate's result can be read (a result version we cannot read fails the ADD, rolled back). */
function checkResults(attachments: Attachment[]): Attachment[] {
  for (const a of attachments) normaliseResult(a.result, String(a.config.cniVersion));
  return attachments;
}

/**
 * The cluster network's result in our cniVersion; as its delegate printed
 * it when our config names no cniVersion, or when that version cannot say
 * it (0.1.0/0.2.0 without an address): upstream Multus never converts, so
 * no ADD fails over a conversion.
 */
function runtimeResult(ctx: CommandContext, attached: readonly Attachment[]): AnyResult {
  const cluster = attached.find((a) => a.isClusterNetwork)!;
  const asPrinted = cluster.result as unknown as AnyResult;
  const { cniVersion, cniVersionGiven } = ctx.netconf;
  if (!cniVersionGiven) return asPrinted;
  try {
    return convertResult(normaliseResult(cluster.result, String(cluster.config.cniVersion)), cniVersion);
  } catch (e) {
    ctx.log.info("cluster network's result returned as its delegate printed it", { problem: (e as Error).message });
    return asPrinted;
  }
}

/**
 * `default-route`, as upstream Multus applies it: once any network asks,
 * every attachment whose plugin reported an interface or an IP loses its
 * default routes (both families) and the asking ones get theirs, per
 * attachment and per family. The recorded results say so too, so that
 * CHECK and DEL give each delegate a prevResult with the pod's real routes.
 * A network that reported neither takes no part (logged).
 */
async function applyDefaultRoute(ctx: CommandContext, attachments: Attachment[]): Promise<Attachment[]> {
  if (!attachments.some((a) => a.defaultRoute !== undefined)) return attachments;
  const targets: { i: number; ifName: string; gateways: readonly string[] }[] = [];
  for (const [i, a] of attachments.entries()) {
    const r = normaliseResult(a.result, String(a.config.cniVersion));
    if (r.interfaces?.length || r.ips?.length) targets.push({ i, ifName: a.ifName, gateways: a.defaultRoute ?? [] });
    else if (a.defaultRoute?.length) {
      ctx.log.info("default-route ignored: the network reported no interface and no IP", { network: a.statusName ?? a.network });
    }
  }
  const { applyDefaultRoutes } = await import("../netns.ts");
  await applyDefaultRoutes(ctx.args.netns, targets);
  const moved = [...attachments];
  for (const t of targets) moved[t.i] = { ...moved[t.i], result: withDefaultRoutes(moved[t.i].result!, t.gateways) };
  ctx.log.info("default routes moved", {
    to: targets.filter((t) => t.gateways.length).map((t) => `${t.ifName} via ${t.gateways.join(", ")}`),
  });
  return moved;
}
