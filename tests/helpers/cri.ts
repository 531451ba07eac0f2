/**
 * A small CRI v1 client (what kubelet speaks to containerd) over a unix socket:
 * @grpc/grpc-js with the trimmed cri.proto beside this file. Messages use the
 * proto's field names in camelCase; enums are strings, int64 are strings.
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO = join(dirname(fileURLToPath(import.meta.url)), "cri.proto");

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PortMapping {
  protocol?: "TCP" | "UDP" | "SCTP";
  containerPort: number;
  hostPort: number;
  hostIp?: string;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  logDirectory?: string;
  portMappings?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroupParent?: string; securityContext?: { namespaceOptions?: { network?: string; pid?: string; ipc?: string } } };
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  createdAt: string;
  network: { ip: string; additionalIps: { ip: string }[] } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PodSandboxStatusResponse {
  status: PodSandboxStatus;
  /** verbose only: containerd's sandbox info as JSON under "info" */
  info: Record<string, string>;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  labels: Record<string, string>;
}

export interface RuntimeCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export interface VersionResponse {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** A failed call: `code` is the gRPC status code, `details` the runtime's message. */
export interface CriError extends Error {
  code: number;
  details: string;
}

export function isCriError(e: unknown): e is CriError {
  return e instanceof Error && typeof (e as CriError).code === "number" && typeof (e as CriError).details === "string";
}

let pkgCache: grpc.GrpcObject | undefined;
function criPackage(): grpc.GrpcObject {
  if (!pkgCache) {
    const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
    pkgCache = (grpc.loadPackageDefinition(def).runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  }
  return pkgCache;
}

type Unary = (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly image: grpc.Client;

  /** `socket`: the runtime's unix socket path. */
  constructor(
    readonly socket: string,
    private readonly timeoutMs = 60_000,
  ) {
    const pkg = criPackage();
    const target = `unix://${socket}`;
    const creds = grpc.credentials.createInsecure();
    this.runtime = new (pkg.RuntimeService as grpc.ServiceClientConstructor)(target, creds);
    this.image = new (pkg.ImageService as grpc.ServiceClientConstructor)(target, creds);
  }

  private call<T>(client: grpc.Client, method: string, req: object, timeoutMs = this.timeoutMs): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
    return new Promise((resolve, reject) => {
      fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as T)));
    });
  }

  version(timeoutMs?: number): Promise<VersionResponse> {
    return this.call(this.runtime, "Version", { version: "v1" }, timeoutMs);
  }

  async runPodSandbox(config: PodSandboxConfig, timeoutMs?: number): Promise<string> {
    const r = await this.call<{ podSandboxId: string }>(this.runtime, "RunPodSandbox", { config }, timeoutMs);
    return r.podSandboxId;
  }

  async stopPodSandbox(id: string, timeoutMs?: number): Promise<void> {
    await this.call(this.runtime, "StopPodSandbox", { podSandboxId: id }, timeoutMs);
  }

  async removePodSandbox(id: string, timeoutMs?: number): Promise<void> {
    await this.call(this.runtime, "RemovePodSandbox", { podSandboxId: id }, timeoutMs);
  }

  podSandboxStatus(id: string, verbose = false): Promise<PodSandboxStatusResponse> {
    return this.call(this.runtime, "PodSandboxStatus", { podSandboxId: id, verbose });
  }

  async listPodSandbox(): Promise<PodSandbox[]> {
    const r = await this.call<{ items: PodSandbox[] }>(this.runtime, "ListPodSandbox", {});
    return r.items;
  }

  /** Runtime conditions (RuntimeReady, NetworkReady) and, verbose, info such as "cniconfig". */
  status(verbose = false, timeoutMs?: number): Promise<{ status: { conditions: RuntimeCondition[] }; info: Record<string, string> }> {
    return this.call(this.runtime, "Status", { verbose }, timeoutMs);
  }

  /** The image's id, or undefined when the runtime does not know it. */
  async imageId(image: string): Promise<string | undefined> {
    const r = await this.call<{ image: { id: string } | null }>(this.image, "ImageStatus", { image: { image } });
    return r.image?.id || undefined;
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}
