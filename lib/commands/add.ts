/**
 * ADD, as a sequence of named steps:
 *   wait for readiness → lock → resolve requests → plan → record the plan →
 *   attach all → default route → publish network-status → commit.
 * An attachment with a device-plugin device gets its device-info file
 * written just before its delegate runs (removed again on rollback).
 * On any failure after the record, the undo stack takes back what this ADD
 * did (newest first), within the time left, so nothing is left behind.
 */

import { type AttachmentRequest, attachmentName, type PlannedAttachment, planAttachments, requestFromConfig } from "../attachment.ts";
import { CACHE_KIND, type CacheRecord, removeCache, writeCache } from "../cache.ts";
import { withExtraArgs } from "../cni/args.ts";
import { convertResult } from "../cni/convert.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { type AnyResult, normaliseResult, type Result100, withDefaultRoutes } from "../cni/result.ts";
import { addDelegate, delDelegate, type ExecOptions, MAX_PARALLEL_DELEGATES } from "../delegate-exec.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import type { KubeClient } from "../k8s/client.ts";
import type { PodEvent } from "../k8s/events.ts";
import type { Pod } from "../k8s/pod.ts";
import { buildNetworkStatus } from "../network-status.ts";
import { findPlugin } from "../plugin-exec.ts";
import { settleBounded } from "../pool.ts";
import { startTime, thisProcess } from "../proc.ts";
import { waitForReadiness } from "../readiness.ts";
import { UndoStack } from "../undo.ts";
import { type CommandContext, openKubeClient, pluginDirs, pluginEnv, readRecord, withContainerLock } from "./context.ts";

/**
 * An ADD's time limits: the forward work must end by `attachBy`, leaving a
 * reserve so the rollback can still run before `rollbackBy`; each delegate
 * exec gets at most `delegateTimeout` of what is left, each rollback DEL an
 * equal share of the rest.
 */
class Deadline {
  readonly attachBy: number;
  readonly rollbackBy: number;
  private rollbackSteps = 0;

  constructor(
    private readonly delegateMs: number,
    totalMs: number,
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

/** Kubernetes mode: the API client (created here, closed by `add`) and the pod. */
interface KubernetesContext {
  client: KubeClient;
  pod?: Pod;
}

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
      const { requests, k8s } = await resolveRequests(ctx, client, (p) => {
        pod = p;
      });
      const plan = await planStep(ctx, requests, k8s !== undefined);
      const tx = new AddTransaction(ctx, plan, deadline, k8s);
      const result = await tx.run();
      if (client && pod) await announce(ctx, client, pod, { type: "Normal", reason: "AddedInterface", message: tx.addedInterfaces() });
      return result;
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

/** One pod event, best effort: never holds up or fails the ADD (see lib/k8s/events.ts). */
async function announce(ctx: CommandContext, client: KubeClient, pod: Pod, ev: PodEvent): Promise<void> {
  if (!ctx.netconf.kubernetes.podEvents) return;
  const { postPodEvent } = await import("../k8s/events.ts");
  const problem = await postPodEvent(client, pod, ev);
  if (problem) ctx.log.error("pod event not posted", { reason: ev.reason, problem });
}

/**
 * What to attach: the netconf's delegates (delegates mode), or the networks
 * resolved from the pod and the API (Kubernetes mode, whose code loads only then).
 */
async function resolveRequests(
  ctx: CommandContext,
  client: KubeClient | undefined,
  onPod: (pod: Pod) => void,
): Promise<{ requests: AttachmentRequest[]; k8s?: KubernetesContext }> {
  if (!client) {
    const requests = ctx.netconf.delegates.map(requestFromConfig);
    // The runtime's capability args (portMappings, bandwidth ...) belong to the cluster network.
    const rc = ctx.netconf.runtimeConfig;
    if (!rc) return { requests };
    const cluster = planAttachments(requests, ctx.args.ifName).find((a) => a.isClusterNetwork)!.delegate;
    return { requests: requests.map((r) => (r.delegate === cluster ? { ...r, runtimeConfig: rc } : r)) };
  }
  const { resolveKubernetesNetworks } = await import("../k8s/resolve.ts");
  const r = await resolveKubernetesNetworks(ctx.netconf, client, ctx.args.pod, { log: ctx.log, onPod });
  return { requests: r.requests, k8s: { client, ...(r.pod ? { pod: r.pod } : {}) } };
}

/**
 * Interface names, the API's configs checked like our own, every plugin
 * binary present, and no earlier ADD: all before anything is attached.
 */
async function planStep(ctx: CommandContext, requests: AttachmentRequest[], fromApi: boolean): Promise<PlannedAttachment[]> {
  let plan = planAttachments(requests, ctx.args.ifName);
  if (plan.some((a) => a.device)) {
    const { withDeviceInfoFiles } = await import("../device-info.ts");
    plan = withDeviceInfoFiles(plan, ctx.netconf.devices.deviceInfoDir, ctx.args.containerId);
  }
  if (fromApi) {
    const { assertValid } = await import("../validate.ts");
    assertValid(
      { attachments: plan.map((a) => ({ path: attachmentName(a), ifname: a.ifName, config: a.delegate.config })) },
      { log: ctx.log },
    );
  }
  const dirs = pluginDirs(ctx);
  for (const a of plan) {
    const confs = a.delegate.kind === "conf" ? [a.delegate.config] : (a.delegate.config.plugins as unknown[]);
    for (const c of confs) {
      if (!isJsonObject(c)) continue;
      findPlugin(String(c.type), dirs);
      if (isJsonObject(c.ipam) && typeof c.ipam.type === "string") findPlugin(c.ipam.type, dirs);
    }
  }
  refuseSecondAdd(ctx);
  await refuseTakenNames(ctx, plan);
  return plan;
}

/**
 * A CNI_NETNS that is not there, or an interface name the pod already has,
 * fails before any delegate runs: a delegate's failure would be rolled
 * back with its DEL, which deletes the pod's interface of that name.
 */
async function refuseTakenNames(ctx: CommandContext, plan: PlannedAttachment[]): Promise<void> {
  const { interfacesPresent } = await import("../netns.ts");
  const present = await interfacesPresent(
    ctx.args.netns,
    plan.map((a) => a.ifName),
  );
  if (!present) {
    ctx.log.info("interface names not checked: nsenter or ip is not installed");
    return;
  }
  const taken = plan.filter((a) => present.includes(a.ifName));
  if (!taken.length) return;
  throw new CniError(
    ErrorCode.SandboxFailure,
    `${taken.map((a) => `interface name "${a.ifName}" (network "${attachmentName(a)}")`).join(", ")} already exists in the pod's network namespace ${ctx.args.netns}`,
    "nothing was attached; the existing interface was left untouched",
  );
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

/** The side-effecting part of one ADD, undone as a whole on failure. */
class AddTransaction {
  private readonly undo = new UndoStack();
  private readonly record: CacheRecord;
  /** Attachments whose rollback DEL failed: they stay in the record for the runtime's DEL. */
  private readonly leftover = new Set<number>();
  /** Each attachment's device-info (device-plugin networks), for network-status. */
  private readonly deviceInfo: (JsonObject | undefined)[] = [];

  constructor(
    private readonly ctx: CommandContext,
    private readonly plan: PlannedAttachment[],
    private readonly deadline: Deadline,
    private readonly k8s: KubernetesContext | undefined,
  ) {
    this.record = newRecord(ctx, plan);
  }

  private results: Result100[] = [];

  /** "Add <if> [<ip/prefix>, ...] from <network>", a line per attachment (the AddedInterface event). */
  addedInterfaces(): string {
    return this.plan
      .map((a, i) => {
        const r = this.results[i];
        const ips = (r?.ips ?? [])
          .filter((ip) => ip.interface === undefined || r.interfaces?.[ip.interface]?.sandbox)
          .map((ip) => ip.address);
        return `Add ${a.ifName} [${ips.join(", ")}] from ${attachmentName(a)}`;
      })
      .join("\n");
  }

  async run(): Promise<AnyResult> {
    this.recordPlan();
    try {
      await this.attachAll();
      await this.applyDefaultRoute();
      const results = this.plan.map((a, i) => normaliseResult(this.record.attachments[i].result, a.delegate.cniVersion));
      this.results = results;
      await this.publishNetworkStatus(results);
      this.commit();
      return this.runtimeResult(results);
    } catch (e) {
      throw await this.rollBack(e);
    }
  }

  /**
   * The cluster network's result in our cniVersion; as its delegate printed
   * it when our config names no cniVersion, or when that version cannot say
   * it (0.1.0/0.2.0 without an address): upstream Multus never converts, so
   * no ADD fails over a conversion.
   */
  private runtimeResult(results: Result100[]): AnyResult {
    const cluster = this.plan.findIndex((a) => a.isClusterNetwork);
    const asPrinted = this.record.attachments[cluster].result as unknown as AnyResult;
    const { cniVersion, cniVersionGiven } = this.ctx.netconf;
    if (!cniVersionGiven) return asPrinted;
    try {
      return convertResult(results[cluster], cniVersion);
    } catch (e) {
      this.ctx.log.info("cluster network's result returned as its delegate printed it", { problem: (e as Error).message });
      return asPrinted;
    }
  }

  /** Written before the first delegate runs: a DEL after a crash still knows what to remove. */
  /**
   * Written, and synced, before the first delegate runs. The fsync is what
   * lets a DEL after a power loss find the attachments: without it the
   * rename may reach the disk before the data (an empty or missing record),
   * and that DEL would fall back to the config's delegates, leaking the
   * addresses of every network the pod got from elsewhere (NADs).
   */
  private recordPlan(): void {
    const { cniDir } = this.ctx.netconf;
    writeCache(cniDir, this.record);
    this.undo.push("update cache record", () => {
      if (this.leftover.size === 0) return removeCache(cniDir, this.record.containerId);
      const { owner: _o, running: _r, ...rest } = this.record;
      writeCache(cniDir, { ...rest, attachments: this.record.attachments.filter((_, i) => this.leftover.has(i)) });
    });
  }

  private async attachAll(): Promise<void> {
    const attachOne = (a: PlannedAttachment, i: number) => this.attachOne(a, i);
    if (this.ctx.netconf.parallel) {
      // All delegates, a bounded number at a time; the first failure (in plan order) is reported once all have settled.
      const outcomes = await settleBounded(this.plan, MAX_PARALLEL_DELEGATES, attachOne);
      const failed = outcomes.find((x): x is PromiseRejectedResult => x.status === "rejected");
      if (failed) throw failed.reason;
    } else {
      for (const [i, a] of this.plan.entries()) await attachOne(a, i);
    }
  }

  private async attachOne(a: PlannedAttachment, i: number): Promise<void> {
    const { ctx, deadline } = this;
    const cached = this.record.attachments[i];
    const env = pluginEnv(ctx, a.ifName, ctx.args.netns, cached.cniArgs ?? ctx.args.args);
    const exec: Omit<ExecOptions, "timeoutMs"> = { env, ...(a.runtimeConfig ? { runtimeConfig: a.runtimeConfig } : {}) };
    const addMs = ctx.netconf.timeouts.addMs / 1000;
    const infoFile = a.device?.infoFile;
    const devInfo = infoFile ? await import("../device-info.ts") : undefined;
    if (devInfo && infoFile) {
      // Pushed before the DEL's undo: a rollback DELs the delegate first, then removes the file.
      this.undo.push(`remove device-info file ${infoFile}`, () => devInfo.removeDeviceInfo(infoFile));
      devInfo.writeDeviceInfo(a.device!, ctx.netconf.devices.deviceInfoDir, ctx.log);
    }
    // The failed delegate is DELed too: it may have reserved an address before failing.
    deadline.addRollbackStep();
    this.undo.push(`DEL network "${a.delegate.name}" (${a.ifName})`, async () => {
      const timeoutMs = deadline.rollbackShare();
      try {
        if (timeoutMs < 1) throw new CniError(ErrorCode.DelegateFailed, `no time left (addTimeout ${addMs}s): left for the runtime's DEL`);
        await delDelegate(a.delegate, { ...exec, timeoutMs }, cached.result);
      } catch (e) {
        // Only an attachment that was made is kept: a delegate that failed
        // its ADD and its DEL must not block the pod's teardown forever.
        if (cached.result) this.leftover.add(i);
        throw e;
      }
    });
    const timeoutMs = deadline.attachShare();
    if (timeoutMs < 1) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `cannot attach network "${attachmentName(a)}" as ${a.ifName}: this ADD is out of time (addTimeout ${addMs}s)`,
      );
    }
    try {
      cached.result = await addDelegate(a.delegate, { ...exec, timeoutMs, onStart: (pid) => this.recordRunning(pid) });
      // Read back: the delegate may have written the file itself (it got it as CNIDeviceInfoFile).
      if (devInfo && infoFile) this.deviceInfo[i] = devInfo.readDeviceInfo(infoFile, ctx.log);
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

  /** Each delegate's process group goes into the record as it starts: if we are killed, the runtime's DEL stops it. */
  private recordRunning(pid: number): void {
    const start = startTime(pid);
    if (start === undefined) return; // already gone
    this.record.running = [...(this.record.running ?? []), { pid, start }];
    writeCache(this.ctx.netconf.cniDir, this.record, { durable: false });
  }

  /**
   * `default-route`, as upstream Multus applies it: once any network asks,
   * every attachment whose plugin reported an interface or an IP loses its
   * default routes (both families) and the asking ones get theirs, per
   * attachment and per family. The recorded results say so too, so that
   * CHECK and DEL give each delegate a prevResult with the pod's real routes.
   * A network that reported neither takes no part (logged).
   */
  private async applyDefaultRoute(): Promise<void> {
    if (!this.plan.some((a) => a.defaultRoute !== undefined)) return;
    const targets: { i: number; ifName: string; gateways: readonly string[] }[] = [];
    for (const [i, a] of this.plan.entries()) {
      const r = normaliseResult(this.record.attachments[i].result, a.delegate.cniVersion);
      if (r.interfaces?.length || r.ips?.length) targets.push({ i, ifName: a.ifName, gateways: a.defaultRoute ?? [] });
      else if (a.defaultRoute?.length) {
        this.ctx.log.info("default-route ignored: the network reported no interface and no IP", { network: attachmentName(a) });
      }
    }
    const { applyDefaultRoutes } = await import("../netns.ts");
    await applyDefaultRoutes(this.ctx.args.netns, targets);
    for (const t of targets) {
      const cached = this.record.attachments[t.i];
      cached.result = withDefaultRoutes(cached.result!, t.gateways);
    }
    this.ctx.log.info("default routes moved", {
      to: targets.filter((t) => t.gateways.length).map((t) => `${t.ifName} via ${t.gateways.join(", ")}`),
    });
  }

  private async publishNetworkStatus(results: ReturnType<typeof normaliseResult>[]): Promise<void> {
    if (!this.k8s?.pod) return;
    const statuses = this.plan.map((a, i) =>
      buildNetworkStatus(attachmentName(a), a.ifName, a.isClusterNetwork, results[i], this.deviceInfo[i]),
    );
    const { writeNetworkStatus } = await import("../k8s/publish-status.ts");
    await writeNetworkStatus(this.k8s.client, this.k8s.pod, statuses);
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

function newRecord(ctx: CommandContext, plan: PlannedAttachment[]): CacheRecord {
  const { netconf, args } = ctx;
  return {
    kind: CACHE_KIND,
    containerId: args.containerId,
    netns: args.netns,
    ifName: args.ifName,
    cniArgs: args.args,
    cniVersion: netconf.cniVersion,
    complete: false,
    owner: thisProcess(),
    attachments: plan.map((a) => ({
      network: a.delegate.name,
      ifName: a.ifName,
      isClusterNetwork: a.isClusterNetwork,
      config: a.delegate.config,
      ...(a.runtimeConfig ? { runtimeConfig: a.runtimeConfig } : {}),
      cniArgs: withExtraArgs(args, a.extraArgs),
      ...(a.statusName ? { statusName: a.statusName } : {}),
      ...(a.device ? { device: a.device } : {}),
    })),
  };
}
