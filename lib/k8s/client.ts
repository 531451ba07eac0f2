/**
 * The few Kubernetes API calls we make. Credentials and TLS come from the
 * kubeconfig through @kubernetes/client-node (certificates, tokens, token
 * files, exec plugins, *-data fields, in-cluster); the HTTP goes through
 * undici with a per-request timeout, bounded retries with backoff on
 * 429/5xx/connection errors (honouring Retry-After) and a total deadline.
 * This module is loaded only in Kubernetes mode.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { load as loadYaml } from "js-yaml";
import { Client } from "undici";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { ApiError, apiErrorFromResponse } from "./errors.ts";

export interface ClientOptions {
  /** Path of the kubeconfig; empty means in-cluster config. */
  kubeconfig?: string;
  /** One request, in ms. */
  requestTimeoutMs?: number;
  /** All attempts of one call together, in ms. */
  deadlineMs?: number;
  maxAttempts?: number;
}

type Method = "GET" | "PATCH" | "POST";

export type PatchType = "merge" | "strategic" | "json";

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
};

export interface KubeClient {
  /** GET a path; the decoded JSON object. */
  get(path: string, what: string): Promise<Record<string, unknown>>;
  patch(path: string, body: unknown, type: PatchType, what: string): Promise<Record<string, unknown>>;
  post(path: string, body: unknown, what: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else throw new Error("no kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)");
  } catch (e) {
    // The library's messages name the file and field, never the secret values.
    throw new CniError(ErrorCode.InvalidNetworkConfig, `cannot load kubeconfig${path ? ` ${path}` : ""}: ${(e as Error).message}`);
  }
  if (!kc.getCurrentCluster()) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `kubeconfig ${path ?? "(in-cluster)"} has no current cluster`);
  }
  return kc;
}

/**
 * The `tokenFile` of the current user, which the kubeconfig loader does not
 * read (it knows only `token-file`). Re-read on every start, so rotated
 * (projected, bound) tokens are picked up.
 */
function tokenFromFile(kc: KubeConfig, path: string | undefined): string | undefined {
  const user = kc.getCurrentUser();
  if (!path || !user || user.token || user.certFile || user.certData || user.exec || user.authProvider) return undefined;
  let file: unknown;
  try {
    const doc = loadYaml(readFileSync(path, "utf8")) as { users?: { name?: string; user?: { tokenFile?: unknown } }[] };
    file = doc.users?.find((u) => u.name === user.name)?.user?.tokenFile;
  } catch {
    return undefined;
  }
  if (typeof file !== "string" || file === "") return undefined;
  const abs = resolve(dirname(path), file);
  try {
    return readFileSync(abs, "utf8").trim();
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `cannot read the kubeconfig's tokenFile ${abs}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

export async function createKubeClient(opts: ClientOptions): Promise<KubeClient> {
  const kc = loadKubeConfig(opts.kubeconfig);
  const cluster = kc.getCurrentCluster()!;
  const https: {
    ca?: string | Buffer;
    cert?: string | Buffer;
    key?: string | Buffer;
    rejectUnauthorized?: boolean;
    auth?: string;
    headers?: Record<string, string | string[] | number>;
  } = {};
  try {
    await kc.applyToHTTPSOptions(https);
  } catch (e) {
    throw new CniError(ErrorCode.ApiFailure, `cannot get credentials for ${cluster.server}: ${(e as Error).message}`);
  }
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "multus-cni" };
  for (const [k, v] of Object.entries(https.headers ?? {})) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : String(v);
  if (https.auth) headers.authorization = `Basic ${Buffer.from(https.auth).toString("base64")}`;
  const fileToken = headers.authorization ? undefined : tokenFromFile(kc, opts.kubeconfig);
  if (fileToken) headers.authorization = `Bearer ${fileToken}`;

  const url = new URL(cluster.server);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
  const deadlineMs = opts.deadlineMs ?? 20_000;
  const maxAttempts = opts.maxAttempts ?? 5;
  const client = new Client(url.origin, {
    connect: {
      ca: https.ca,
      cert: https.cert,
      key: https.key,
      rejectUnauthorized: https.rejectUnauthorized ?? true,
      servername: cluster.tlsServerName,
      timeout: requestTimeoutMs,
    },
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });
  const base = url.pathname.replace(/\/$/, "");

  async function once(method: Method, path: string, what: string, body?: string, contentType?: string) {
    let res;
    try {
      res = await client.request({
        method,
        path: base + path,
        headers: contentType ? { ...headers, "content-type": contentType } : headers,
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (e) {
      const err = e as Error & { code?: string };
      throw new ApiError(what, 0, "", `no answer from ${url.origin}: ${err.code ?? err.name}: ${err.message}`);
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new ApiError(what, res.statusCode, "BadResponse", "the answer is not JSON");
      }
    }
    const ra = Number(res.headers["retry-after"]);
    throw apiErrorFromResponse(what, res.statusCode, text, Number.isFinite(ra) ? ra : undefined);
  }

  async function call(method: Method, path: string, what: string, body?: string, contentType?: string) {
    const deadline = Date.now() + deadlineMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(method, path, what, body, contentType);
      } catch (e) {
        if (!(e instanceof ApiError) || !e.retryable || attempt >= maxAttempts) throw e;
        const backoff = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
        const wait = e.retryAfter !== undefined ? Math.min(e.retryAfter * 1000, 5000) : backoff;
        if (Date.now() + wait >= deadline) throw e;
        await sleep(wait);
      }
    }
  }

  return {
    get: (path, what) => call("GET", path, what),
    patch: (path, body, type, what) => call("PATCH", path, what, JSON.stringify(body), PATCH_CONTENT_TYPE[type]),
    post: (path, body, what) => call("POST", path, what, JSON.stringify(body), "application/json"),
    close: () => client.close(),
  };
}
