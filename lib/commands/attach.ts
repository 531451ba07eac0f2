/**
 * One more network for a running pod (`multus attach`), or one less
 * (`multus detach`), on the node, through the container's cache record.
 *
 * attach holds the container's lock for the whole call, so a runtime DEL
 * either waits or finds the new attachment in the record and removes it.
 * It is ADD's transaction on the existing record (./transaction.ts): the
 * attachment is recorded (without a result) before its delegate runs in the
 * pod's netns, under addTimeout and with ADD's rollback; then network-status
 * (every attachment, one write) and an AddedInterface event. The network is
 * a NetworkAttachmentDefinition read by the rules of the pod's networks
 * annotation (Kubernetes mode), or a conf in confDir or a file (delegates
 * mode).
 *
 * detach DELs one attachment under the lock and takes it out of the record
 * (kept when its DEL fails, so the runtime's DEL retries it), then writes
 * network-status. The cluster network is refused unless forced.
 */
import { type Attachment, type AttachmentRequest, attachmentOf } from "../attachment.ts";
import type { CacheRecord } from "../cache.ts";
import { ifNameProblem } from "../cni/args.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { loadDelegate } from "../delegate.ts";
import type { KubeClient } from "../k8s/client.ts";
import { getPod, type Pod } from "../k8s/pod.ts";
import { liveNetns } from "../netns.ts";
import { type CommandContext, openKubeClient, readRecord, withContainerLock } from "./context.ts";
import { detachRecorded, stopOrphans } from "./del.ts";
import { preflight, refuseTakenNames } from "./preflight.ts";
import { addedInterfaces, announce, publishNetworkStatus } from "./publish.ts";
import { AttachTransaction, Deadline } from "./transaction.ts";

/** The network `multus attach` adds, and what the pod asks of it. */
export interface AttachRequest {
  /** Kubernetes mode: a NetworkAttachmentDefinition's name. Delegates mode: a conf's `name` in confDir, or a conf file. */
  network: string;
  /** Kubernetes mode: the NAD's namespace (default: the pod's). */
  namespace?: string;
  /** Default: the first free net<N>, counting from the number of attachments. */
  ifName?: string;
  ips?: string[];
  mac?: string;
}

export interface Changed {
  /** The attachment added (with its result) or removed. */
  attachment: Attachment;
  /** The record as it is now (undefined: removed, its last attachment gone). */
  record?: CacheRecord;
  /** Kubernetes mode: the pod whose network-status was written. */
  pod?: Pod;
}

/** The container's record, read under its lock. */
function lockedRecord(ctx: CommandContext): CacheRecord {
  const { containerId } = ctx.args;
  const read = readRecord(ctx);
  if (read.state === "missing") {
    throw new CniError(
      ErrorCode.CacheFailure,
      `container ${containerId} has no cache record in ${ctx.netconf.cniDir}: multus did not add it on this node, or it was deleted`,
    );
  }
  if (read.state === "corrupt") throw new CniError(ErrorCode.CacheFailure, `cache record unusable: ${read.problem}`);
  return read.record;
}

/** The pod's netns, which must still be one: attach never acts on a path that may name another process's namespace now. */
function podNetns(rec: CacheRecord): string {
  const where = `container ${rec.containerId}`;
  if (!rec.netns) throw new CniError(ErrorCode.SandboxFailure, `${where}: its cache record names no network namespace`);
  if (rec.netns.startsWith("/proc/")) {
    throw new CniError(
      ErrorCode.SandboxFailure,
      `${where}: its network namespace ${rec.netns} is a process's, which may be another process now: nothing is attached there`,
    );
  }
  if (!liveNetns(rec.netns)) throw new CniError(ErrorCode.SandboxFailure, `${where}: the pod's network namespace ${rec.netns} is gone`);
  return rec.netns;
}

/** Kubernetes mode: the pod the record names, as the API has it (a replaced pod is refused). */
async function recordedPod(ctx: CommandContext, client: KubeClient): Promise<Pod> {
  const ref = ctx.args.pod;
  if (!ref) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `container ${ctx.args.containerId}: its cache record names no pod (K8S_POD_NAMESPACE, K8S_POD_NAME in its CNI_ARGS)`,
    );
  }
  return getPod(client, ref);
}

export function attach(ctx: CommandContext, req: AttachRequest): Promise<Changed> {
  return withContainerLock(ctx, async () => {
    const rec = lockedRecord(ctx);
    if (!rec.complete) {
      throw new CniError(
        ErrorCode.CacheFailure,
        `container ${rec.containerId}: its ADD (or an attach since) did not complete: the runtime's DEL removes what it attached`,
      );
    }
    const inPod: CommandContext = { ...ctx, args: { ...ctx.args, netns: podNetns(rec) } };
    const client = ctx.netconf.mode === "crd" ? await openKubeClient(ctx) : undefined;
    let pod: Pod | undefined;
    try {
      pod = client ? await recordedPod(ctx, client) : undefined;
      return await attachTo(inPod, rec, req, client && pod ? { client, pod } : undefined);
    } catch (e) {
      if (client && pod) await announce(ctx, client, pod, { type: "Warning", reason: "ErrorAddingNetwork", message: (e as Error).message });
      throw e;
    } finally {
      await client?.close();
    }
  });
}

async function attachTo(
  ctx: CommandContext,
  rec: CacheRecord,
  req: AttachRequest,
  k8s?: { client: KubeClient; pod: Pod },
): Promise<Changed> {
  const deadline = new Deadline(ctx.netconf.timeouts.delegateMs, ctx.netconf.timeouts.addMs);
  const request = k8s ? await nadRequest(ctx, rec, req, k8s.client, k8s.pod) : await confRequest(ctx, req);
  const a = await planned(ctx, rec, request, req.ifName);
  await preflight(ctx, [a], { fromApi: true });
  await refuseTakenNames(ctx, [a]);
  const tx = new AttachTransaction("attach", ctx, rec, [a], deadline);
  const attachments = await tx.run(k8s ? { publish: (atts) => publishNetworkStatus(ctx, k8s.client, k8s.pod, atts) } : {});
  const made = attachments[attachments.length - 1];
  if (k8s) await announce(ctx, k8s.client, k8s.pod, { type: "Normal", reason: "AddedInterface", message: addedInterfaces(ctx, [made]) });
  return { attachment: made, record: tx.record, ...(k8s ? { pod: k8s.pod } : {}) };
}

/** Kubernetes mode: the NAD, by the networks annotation's rules; a resourceName gets a device no other attachment uses. */
async function nadRequest(
  ctx: CommandContext,
  rec: CacheRecord,
  req: AttachRequest,
  client: KubeClient,
  pod: Pod,
): Promise<AttachmentRequest> {
  const { resolveSelection } = await import("../k8s/resolve.ts");
  const sel = {
    name: req.network,
    namespace: req.namespace ?? pod.namespace,
    ...(req.ifName ? { interface: req.ifName } : {}),
    ...(req.ips?.length ? { ips: req.ips } : {}),
    ...(req.mac ? { mac: req.mac } : {}),
  };
  const request = await resolveSelection(ctx.netconf, client, pod, sel);
  if (!request.device) return request;
  const { assignDevices } = await import("../k8s/devices.ts");
  const taken = new Set(rec.attachments.flatMap((a) => (a.device?.deviceID ? [a.device.deviceID] : [])));
  // kubelet's UID first: its checkpoint knows a static pod by it, not by the mirror pod's.
  const identity = { namespace: pod.namespace, name: pod.name, uid: ctx.args.pod?.uid || pod.uid };
  const [assigned] = await assignDevices([request], identity, ctx.netconf.devices, ctx.log, taken);
  return assigned;
}

/** Delegates mode: a conf in confDir by its `name`, or a conf file by its path. */
async function confRequest(ctx: CommandContext, req: AttachRequest): Promise<AttachmentRequest> {
  const { findConfByName, loadConfPath } = await import("../k8s/networks.ts");
  const { confDir } = ctx.netconf;
  const conf = req.network.includes("/") ? loadConfPath(req.network) : findConfByName(confDir, req.network);
  if (!conf) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${req.network}" not found: no conf file in ${confDir} is named "${req.network}"`,
      "name a config of confDir by its name, or give the path of a conf file",
    );
  }
  const delegate = loadDelegate(conf, req.network, 0, { name: ctx.netconf.name, cniVersion: ctx.netconf.cniVersion });
  const { selectionRuntime } = await import("../k8s/resolve.ts");
  const runtime = selectionRuntime({
    name: delegate.name,
    namespace: "",
    ...(req.ips ? { ips: req.ips } : {}),
    ...(req.mac ? { mac: req.mac } : {}),
  });
  return { delegate, ...runtime };
}

/** The attachment on its interface: the one asked for, else the first free net<N>; a name the record has is refused. */
async function planned(ctx: CommandContext, rec: CacheRecord, r: AttachmentRequest, asked?: string): Promise<Attachment> {
  const recorded = new Map(rec.attachments.map((a) => [a.ifName, a]));
  let ifName = asked;
  if (!ifName) {
    // The first net<N> from the record's count on that neither the record nor the pod has.
    const { interfacesPresent } = await import("../netns.ts");
    const candidates = Array.from({ length: 64 }, (_, i) => `net${rec.attachments.length + i}`);
    const present = new Set([...recorded.keys(), ...((await interfacesPresent(ctx.args.netns, candidates)) ?? [])]);
    ifName = candidates.find((c) => !present.has(c));
    if (!ifName) throw new CniError(ErrorCode.InvalidNetworkConfig, "no free interface name net<N>: name one with NETWORK@IFNAME");
  }
  const problem = ifNameProblem(ifName);
  if (problem) throw new CniError(ErrorCode.InvalidNetworkConfig, `interface name "${ifName}" ${problem}`);
  const other = recorded.get(ifName);
  if (other) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `interface name "${ifName}" is taken: network "${other.statusName ?? other.network}" is attached as ${ifName}`,
      "give another interface name (NETWORK@IFNAME), or detach it first",
    );
  }
  const a = attachmentOf(r, ifName, false, ctx.args);
  if (!a.device) return a;
  const { withDeviceInfoFiles } = await import("../device-info.ts");
  return withDeviceInfoFiles([a], ctx.netconf.devices.deviceInfoDir, ctx.args.containerId)[0];
}

/** After a detach: a record whose every attachment is made is complete again (a killed attach's leftover removed). */
function settled(rec: CacheRecord): CacheRecord {
  if (rec.complete || !rec.attachments.every((a) => a.result)) return rec;
  const { running: _r, ...rest } = rec;
  return { ...rest, complete: true };
}

export function detach(ctx: CommandContext, ifName: string, { force = false } = {}): Promise<Changed> {
  return withContainerLock(ctx, async () => {
    const rec = lockedRecord(ctx);
    const a = rec.attachments.find((x) => x.ifName === ifName);
    if (!a) {
      const has = rec.attachments.map((x) => `${x.ifName} (${x.statusName ?? x.network})`).join(", ");
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `container ${rec.containerId} has no interface "${ifName}" attached by multus; it has ${has}`,
      );
    }
    if (a.isClusterNetwork && !force) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `${ifName} is the pod's cluster network (network "${a.statusName ?? a.network}"): detaching it cuts the pod off the cluster`,
        "--force detaches it anyway",
      );
    }
    const client = ctx.netconf.mode === "crd" ? await openKubeClient(ctx) : undefined;
    try {
      // Read before anything changes: with the API down, nothing is detached.
      const pod = client ? await recordedPod(ctx, client) : undefined;
      await stopOrphans(ctx, rec);
      // DEL in the pod's netns while it exists; without one the delegate frees what it reserved.
      const inPod: CommandContext = { ...ctx, args: { ...ctx.args, netns: liveNetns(rec.netns) } };
      const { record, failed } = await detachRecorded(inPod, rec, [a], { keepFailed: true, finish: settled });
      if (failed.length)
        throw new CniError(ErrorCode.DelegateFailed, failed[0].message, "it stays in the record: the runtime's DEL tries again");
      if (client && pod) {
        await publishNetworkStatus(ctx, client, pod, record?.attachments ?? []).catch((e: unknown) => {
          throw new CniError(ErrorCode.ApiFailure, `${ifName} was detached, but network-status was not written: ${(e as Error).message}`);
        });
      }
      return { attachment: a, ...(record ? { record } : {}), ...(pod ? { pod } : {}) };
    } finally {
      await client?.close();
    }
  });
}
