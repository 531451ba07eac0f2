/**
 * The few Kubernetes API calls we make. Credentials and TLS come from the
 * kubeconfig (kubeconfig.ts: certificates, tokens, token files, exec plugins,
 * auth providers, *-data fields, in-cluster); each exchange goes through the
 * runtime's transport (transport.ts) with a per-request timeout, and calls
 * get bounded retries with backoff on 429/5xx/connection errors (honouring
 * Retry-After) within a total deadline. This module is loaded only in
 * Kubernetes mode.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { mark } from "../trace.ts";
import { ApiError, apiErrorFromResponse } from "./errors.ts";
import type { Answer } from "./exchange.ts";
import { loadCredentials } from "./kubeconfig.ts";
import { parseServer } from "./server-url.ts";
import { openTransport } from "./transport.ts";

export interface ClientOptions {
  /** Path of the kubeconfig; empty means in-cluster config. */
  kubeconfig?: string;
  /** One request, in ms. */
  requestTimeoutMs?: number;
  /** All attempts of one call together, in ms. */
  deadlineMs?: number;
  maxAttempts?: number;
}

type Method = "GET" | "PATCH" | "POST" | "PUT";

export interface KubeClient {
  /** GET a path; the decoded JSON object. */
  get(path: string, what: string): Promise<Record<string, unknown>>;
  /** A JSON merge patch (RFC 7386): all the plugin writes. */
  mergePatch(path: string, body: unknown, what: string): Promise<Record<string, unknown>>;
  post(path: string, body: unknown, what: string): Promise<Record<string, unknown>>;
  /** Replace an object (update): for servers whose RBAC grants update but not patch. */
  put(path: string, body: unknown, what: string): Promise<Record<string, unknown>>;
  /** One attempt, bounded by `timeoutMs`: for what must never hold up a pod (events). */
  postOnce(path: string, body: unknown, what: string, timeoutMs: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The JSON object of a 2xx answer; any other answer as an ApiError (Status body, Retry-After). */
function decodeAnswer(a: Answer, what: string): Record<string, unknown> {
  if (a.status >= 200 && a.status < 300) {
    try {
      return JSON.parse(a.text) as Record<string, unknown>;
    } catch {
      throw new ApiError(what, a.status, "BadResponse", "the answer is not JSON");
    }
  }
  throw apiErrorFromResponse(what, a.status, a.text, a.retryAfter);
}

/** A path segment "." or ".." would address another object than the one named (a namespace ".." from CNI_ARGS). */
function assertPlainPath(path: string, what: string): void {
  const decode = (p: string) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  };
  const segments = path.split("?")[0].split("/").map(decode);
  if (segments.some((p) => p === "." || p === "..")) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${what}: the request path ${JSON.stringify(path)} has a "." or ".." segment`);
  }
}

export async function createKubeClient(opts: ClientOptions): Promise<KubeClient> {
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
  const deadlineMs = opts.deadlineMs ?? 20_000;
  const maxAttempts = opts.maxAttempts ?? 5;
  // An exec credential plugin gets what one API call may take, retries included.
  const creds = await loadCredentials(opts.kubeconfig, { execTimeoutMs: deadlineMs });
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "multus-cni", ...creds.headers };
  const tlsConfigured = creds.ca !== undefined || creds.cert !== undefined || !creds.rejectUnauthorized;
  const endpoint = parseServer(creds.server, tlsConfigured);
  mark("api credentials");
  const transport = await openTransport(creds, endpoint, requestTimeoutMs);

  async function once(method: Method, path: string, what: string, body?: string, contentType?: string, timeoutMs = requestTimeoutMs) {
    assertPlainPath(path, what);
    const h = contentType ? { ...headers, "content-type": contentType } : headers;
    mark(`api ${method} ${path}`);
    const answer = await transport.send({ method, path: endpoint.basePath + path, headers: h, body, timeoutMs, what });
    mark(`api answered ${answer.status}`);
    return decodeAnswer(answer, what);
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
    mergePatch: (path, body, what) => call("PATCH", path, what, JSON.stringify(body), "application/merge-patch+json"),
    post: (path, body, what) => call("POST", path, what, JSON.stringify(body), "application/json"),
    put: (path, body, what) => call("PUT", path, what, JSON.stringify(body), "application/json"),
    postOnce: (path, body, what, timeoutMs) => once("POST", path, what, JSON.stringify(body), "application/json", timeoutMs),
    close: () => transport.close(),
  };
}
