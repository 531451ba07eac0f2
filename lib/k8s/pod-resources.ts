/**
 * The devices kubelet allocated to a pod, by device-plugin resource:
 * kubelet's pod-resources API (gRPC, v1 PodResourcesLister/List, on a unix
 * socket), else the device manager's checkpoint file. Loaded only when a
 * network of the pod names a resource.
 *
 * No gRPC library: the one unary call is made over node:http2 (Node and Bun
 * both implement its client), and the few protobuf messages of the answer
 * are decoded here. Fields we do not read (CPU IDs, memory, NUMA topology,
 * dynamic resources ...) are skipped by wire type.
 */
import type { IncomingHttpHeaders } from "node:http2";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { readRegularText } from "../files.ts";
import { isJsonObject } from "../json.ts";
import type { Logger } from "../log.ts";
import type { DevicesSection } from "../netconf.ts";

/** Who the pod is: namespace and name for the API, UID for the checkpoint. */
export interface PodIdentity {
  namespace: string;
  name: string;
  uid?: string;
}

export interface Allocation {
  source: "pod-resources API" | "checkpoint";
  /**
   * Device IDs per resource, sorted: kubelet's order comes from map walks and
   * varies; sorted, every consumer of the list (Multus, OVN-Kubernetes, which
   * takes the last device for a primary network) sees the same order.
   */
  byResource: Map<string, string[]>;
}

/** One call of the API, connection included. */
export const POD_RESOURCES_TIMEOUT_MS = 2000;
const LIST_PATH = "/v1.PodResourcesLister/List";
/** kubelet's own limit for this answer is 16 MiB. */
const MAX_ANSWER = 16 << 20;

// ---------------------------------------------------------------------------
// protobuf: just enough to read strings and nested messages

/** The length-delimited fields of one message (strings, bytes, messages), in order; the rest skipped. */
function lengthDelimited(buf: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error("truncated varint");
      const b = buf[pos++];
      value += (b & 0x7f) * scale; // exact up to 2^53: enough for lengths; other values are skipped
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new Error("field number 0");
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const n = varint();
      if (pos + n > buf.length) throw new Error(`field ${field} is longer than its message`);
      out.push([field, buf.subarray(pos, pos + n)]);
      pos += n;
    } else throw new Error(`unsupported wire type ${wire} (field ${field})`);
    if (pos > buf.length) throw new Error(`field ${field} is longer than its message`);
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const text = (b: Uint8Array): string => utf8.decode(b);

/**
 * The devices of pod namespace/name in a ListPodResourcesResponse:
 *   ListPodResourcesResponse { repeated PodResources pod_resources = 1 }
 *   PodResources { string name = 1; string namespace = 2; repeated ContainerResources containers = 3 }
 *   ContainerResources { string name = 1; repeated ContainerDevices devices = 2 }
 *   ContainerDevices { string resource_name = 1; repeated string device_ids = 2 }
 */
export function devicesInListResponse(buf: Uint8Array, namespace: string, name: string): Map<string, string[]> {
  const byResource = new Map<string, string[]>();
  for (const [f, podBytes] of lengthDelimited(buf)) {
    if (f !== 1) continue;
    const podFields = lengthDelimited(podBytes);
    const str = (n: number) => text(podFields.find(([g]) => g === n)?.[1] ?? new Uint8Array());
    if (str(1) !== name || str(2) !== namespace) continue;
    for (const [g, container] of podFields) {
      if (g !== 3) continue;
      for (const [h, devices] of lengthDelimited(container)) {
        if (h !== 2) continue;
        let resource = "";
        const ids: string[] = [];
        for (const [k, v] of lengthDelimited(devices)) {
          if (k === 1) resource = text(v);
          else if (k === 2) ids.push(text(v));
        }
        if (resource) byResource.set(resource, [...(byResource.get(resource) ?? []), ...ids]);
      }
    }
  }
  return byResource;
}

// ---------------------------------------------------------------------------
// gRPC over HTTP/2 on a unix socket: one unary call

/** The one length-prefixed gRPC message of an answer: compressed flag (we accept none), 4-byte big-endian length. */
function unframe(body: Buffer): Uint8Array | Error {
  if (body.length < 5) return new Error("the answer has no message");
  if (body[0] !== 0) return new Error("the answer is compressed, which was not asked for");
  const n = body.readUInt32BE(1);
  if (body.length !== 5 + n) return new Error(`the answer's message is ${body.length - 5} bytes, its prefix says ${n}`);
  return body.subarray(5);
}

/** grpc-status and grpc-message, from the headers of a trailers-only answer or from the trailers. */
function grpcStatusOf(h: IncomingHttpHeaders): { status: string; message: string } | undefined {
  if (h["grpc-status"] === undefined) return undefined;
  try {
    return { status: String(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
  } catch {
    return { status: String(h["grpc-status"]), message: String(h["grpc-message"]) };
  }
}

/** The answer of List (the protobuf message), or an error saying what went wrong. */
export async function callList(socket: string, timeoutMs: number): Promise<Uint8Array> {
  // Imported here: a bundle's static import of a builtin would load it at every start.
  const [{ default: http2 }, { default: net }] = await Promise.all([import("node:http2"), import("node:net")]);
  return new Promise((resolve, reject) => {
    let settled = false;
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socket) });
    const finish = (err: Error | undefined, body?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      if (err) reject(err);
      else resolve(body!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer: timed out after ${timeoutMs} ms`)), timeoutMs);
    session.on("error", (e: Error) => finish(e));

    const req = session.request({ ":method": "POST", ":path": LIST_PATH, "content-type": "application/grpc", te: "trailers" });
    let httpStatus: number | undefined;
    let grpc: { status: string; message: string } | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("response", (h) => {
      httpStatus = Number(h[":status"]);
      grpc = grpcStatusOf(h) ?? grpc; // a trailers-only answer (an error) has its status here
    });
    req.on("trailers", (h) => {
      grpc = grpcStatusOf(h) ?? grpc;
    });
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER) finish(new Error(`the answer is larger than ${MAX_ANSWER} bytes`));
      else chunks.push(c);
    });
    req.on("error", (e: Error) => finish(e));
    req.on("end", () => {
      if (httpStatus !== 200) return finish(new Error(`HTTP status ${httpStatus}`));
      if (grpc?.status !== "0")
        return finish(new Error(`grpc-status ${grpc?.status ?? "missing"}${grpc?.message ? `: ${grpc.message}` : ""}`));
      const message = unframe(Buffer.concat(chunks));
      if (message instanceof Error) finish(message);
      else finish(undefined, message);
    });
    // ListPodResourcesRequest is empty: one uncompressed message of length 0.
    req.end(Buffer.alloc(5));
  });
}

// ---------------------------------------------------------------------------
// The checkpoint: {"Data": {"PodDeviceEntries": [{PodUID, ContainerName, ResourceName, DeviceIDs}]}}

/** DeviceIDs is a NUMA node → IDs map since kubelet 1.20, a plain list before. */
function checkpointIds(v: unknown): string[] {
  const list = Array.isArray(v) ? v : isJsonObject(v) ? Object.values(v).flat() : [];
  return list.filter((x): x is string => typeof x === "string");
}

export function devicesInCheckpoint(file: string, uid: string): Map<string, string[]> {
  const v: unknown = JSON.parse(readRegularText(file));
  const data = isJsonObject(v) && isJsonObject(v.Data) ? v.Data : undefined;
  if (!data || !Array.isArray(data.PodDeviceEntries)) throw new Error("no Data.PodDeviceEntries in it");
  const byResource = new Map<string, string[]>();
  for (const e of data.PodDeviceEntries) {
    if (!isJsonObject(e) || e.PodUID !== uid || typeof e.ResourceName !== "string") continue;
    byResource.set(e.ResourceName, [...(byResource.get(e.ResourceName) ?? []), ...checkpointIds(e.DeviceIDs)]);
  }
  return byResource;
}

/** Each resource's device IDs in byte order (as upstream Multus sorts them since v4.3). */
function sorted(byResource: Map<string, string[]>): Map<string, string[]> {
  return new Map([...byResource].map(([k, ids]) => [k, [...ids].sort()]));
}

/**
 * The pod's devices: the API first (matched by namespace and name), the
 * checkpoint when the API cannot answer (matched by UID). Neither: code 11,
 * since kubelet may be restarting. The source used is logged.
 */
export async function allocatedDevices(
  pod: PodIdentity,
  d: DevicesSection,
  log: Logger,
  timeoutMs = POD_RESOURCES_TIMEOUT_MS,
): Promise<Allocation> {
  const summary = (m: Map<string, string[]>) => Object.fromEntries(m);
  let apiProblem: string;
  try {
    const byResource = sorted(devicesInListResponse(await callList(d.podResourcesSocket, timeoutMs), pod.namespace, pod.name));
    log.info("device-plugin devices", { source: "pod-resources API", socket: d.podResourcesSocket, devices: summary(byResource) });
    return { source: "pod-resources API", byResource };
  } catch (e) {
    apiProblem = (e as Error).message;
    log.info("pod-resources API unavailable; using the kubelet checkpoint", { socket: d.podResourcesSocket, problem: apiProblem });
  }
  const unavailable = (problem: string) =>
    new CniError(
      ErrorCode.TryAgainLater,
      `cannot find the devices allocated to pod ${pod.namespace}/${pod.name}`,
      `pod-resources API ${d.podResourcesSocket}: ${apiProblem}\nkubelet checkpoint ${d.kubeletCheckpoint}: ${problem}`,
    );
  if (!pod.uid) throw unavailable("the pod's UID is unknown (no K8S_POD_UID in CNI_ARGS, none from the API)");
  let byResource: Map<string, string[]>;
  try {
    byResource = sorted(devicesInCheckpoint(d.kubeletCheckpoint, pod.uid));
  } catch (e) {
    throw unavailable((e as Error).message);
  }
  log.info("device-plugin devices", { source: "checkpoint", checkpoint: d.kubeletCheckpoint, devices: summary(byResource) });
  return { source: "checkpoint", byResource };
}
