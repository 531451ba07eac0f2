/**
 * A fake kubelet for device-plugin tests:
 * - the pod-resources gRPC API (v1 PodResourcesLister/List) on a unix socket,
 *   served by @grpc/grpc-js from podresources.proto beside this file;
 * - the device manager's checkpoint file (kubelet_internal_checkpoint).
 */

import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO = join(dirname(fileURLToPath(import.meta.url)), "podresources.proto");

export interface ContainerDevices {
  resourceName: string;
  deviceIds: string[];
  /** NUMA nodes; sent so that the client must skip a field it does not read. */
  numaNodes?: number[];
}

export interface PodResources {
  name: string;
  namespace: string;
  containers: { name: string; devices: ContainerDevices[]; cpuIds?: number[] }[];
}

export interface FakePodResources {
  readonly socket: string;
  /** List calls received. */
  readonly calls: number;
  /** What List answers from now on. */
  setPods(pods: PodResources[]): void;
  /** Answer List with this gRPC status code (e.g. grpc.status.UNIMPLEMENTED); undefined answers normally again. */
  failWith(code: grpc.status | undefined): void;
  stop(): Promise<void>;
}

export { status as GrpcStatus } from "@grpc/grpc-js";

let service: grpc.ServiceDefinition | undefined;
function listerService(): grpc.ServiceDefinition {
  if (!service) {
    const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, defaults: true });
    const v1 = grpc.loadPackageDefinition(def).v1 as grpc.GrpcObject;
    service = (v1.PodResourcesLister as grpc.ServiceClientConstructor).service;
  }
  return service;
}

/** Serve pod-resources List on `socket` (a path; removed at stop). */
export async function startPodResources(socket: string, pods: PodResources[] = []): Promise<FakePodResources> {
  let current = pods;
  let failure: grpc.status | undefined;
  let calls = 0;
  const server = new grpc.Server();
  server.addService(listerService(), {
    List: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls++;
      if (failure !== undefined) {
        cb({ code: failure, details: "fake kubelet: List refused" });
        return;
      }
      cb(null, {
        podResources: current.map((p) => ({
          name: p.name,
          namespace: p.namespace,
          containers: p.containers.map((c) => ({
            name: c.name,
            cpuIds: c.cpuIds ?? [2, 3],
            memory: [{ memoryType: "memory", size: 1 << 30, topology: { nodes: [{ ID: 0 }] } }],
            devices: c.devices.map((d) => ({
              resourceName: d.resourceName,
              deviceIds: d.deviceIds,
              topology: { nodes: (d.numaNodes ?? [0]).map((ID) => ({ ID })) },
            })),
          })),
        })),
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  let stopped = false;
  return {
    socket,
    get calls() {
      return calls;
    },
    setPods: (p) => {
      current = p;
    },
    failWith: (code) => {
      failure = code;
    },
    stop: () => {
      if (stopped) return Promise.resolve();
      stopped = true;
      return new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          rmSync(socket, { force: true });
          resolve();
        });
      });
    },
  };
}

/** One entry of the device manager's checkpoint. */
export interface CheckpointEntry {
  podUID: string;
  containerName: string;
  resourceName: string;
  /** NUMA node → IDs (kubelet ≥ 1.20) or a plain list (older kubelets). */
  deviceIDs: Record<string, string[]> | string[];
}

/** Write `file` as kubelet does (the plugin reads Data.PodDeviceEntries). */
export function writeCheckpoint(file: string, entries: CheckpointEntry[]): void {
  const data = {
    Data: {
      PodDeviceEntries: entries.map((e) => ({
        PodUID: e.podUID,
        ContainerName: e.containerName,
        ResourceName: e.resourceName,
        DeviceIDs: e.deviceIDs,
        AllocResp: Buffer.from("opaque allocate response").toString("base64"),
      })),
      RegisteredDevices: Object.fromEntries(
        entries.map((e) => [e.resourceName, Array.isArray(e.deviceIDs) ? e.deviceIDs : Object.values(e.deviceIDs).flat()]),
      ),
    },
    Checksum: 1234567890,
  };
  writeFileSync(file, JSON.stringify(data));
}
