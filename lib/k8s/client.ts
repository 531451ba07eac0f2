/**
 * The few Kubernetes API calls we make. Credentials and TLS come from the
 * kubeconfig (kubeconfig.ts: certificates, tokens, token files, exec plugins,
 * auth providers, *-data fields, in-cluster); the HTTP goes through
 * undici with a per-request timeout, bounded retries with backoff on
 * 429/5xx/connection errors (honouring Retry-After) and a total deadline.
 * This module is loaded only in Kubernetes mode.
 */
// The HTTP/1 client alone: undici's index also loads fetch, WebSocket, caches
// and mocks, which this plugin never uses (and would pay for at start-up).

import request from "undici/lib/api/api-request.js";
import buildConnector from "undici/lib/core/connect.js";
import Client from "undici/lib/dispatcher/client.js";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { ApiError, apiErrorFromResponse } from "./errors.ts";
import { type Credentials, loadCredentials } from "./kubeconfig.ts";
import { parseServer } from "./server-url.ts";

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

/** An answer larger than this is refused: objects are at most 1.5 MiB in etcd, and a server must not grow us. */
const MAX_ANSWER = 8 << 20;

type Body = Awaited<ReturnType<typeof request>>["body"];

async function readAnswer(body: Body, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > MAX_ANSWER) {
      body.destroy();
      throw new CniError(ErrorCode.ApiFailure, `${what}: the answer is larger than ${MAX_ANSWER} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A transport failure as "<code or name>: <message>". Only a string code
 * names one (ECONNREFUSED, UND_ERR_…): a DOMException's `code` is its legacy
 * number (a timeout's is 23), which says nothing.
 */
function failureOf(e: unknown): string {
  const err = e as Error & { code?: unknown };
  return `${typeof err.code === "string" ? err.code : err.name}: ${err.message}`;
}

/** The JSON object of a 2xx answer; any other answer as an ApiError (Status body, Retry-After). */
async function decodeAnswer(res: Awaited<ReturnType<typeof request>>, what: string, origin: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readAnswer(res.body, what);
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw new ApiError(what, 0, "", `the answer from ${origin} was cut off: ${failureOf(e)}`);
  }
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

/** The HTTP/1 connection to the API server of `creds`, with its TLS settings and per-request timeout. */
function connection(creds: Credentials, requestTimeoutMs: number): { client: Client; origin: string; base: string } {
  const tlsConfigured = creds.ca !== undefined || creds.cert !== undefined || !creds.rejectUnauthorized;
  const endpoint = parseServer(creds.server, tlsConfigured);
  const dial = buildConnector({
    ca: creds.ca,
    cert: creds.cert,
    key: creds.key,
    rejectUnauthorized: creds.rejectUnauthorized,
    servername: creds.servername,
    timeout: requestTimeoutMs,
  });
  const client = new Client(endpoint.origin, {
    // The address dialled is the endpoint's: an IPv6 zone has no place in a WHATWG origin.
    connect: (o, cb) => dial({ ...o, hostname: endpoint.dialHost }, cb),
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });
  return { client, origin: endpoint.origin, base: endpoint.basePath };
}

export async function createKubeClient(opts: ClientOptions): Promise<KubeClient> {
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
  const deadlineMs = opts.deadlineMs ?? 20_000;
  const maxAttempts = opts.maxAttempts ?? 5;
  // An exec credential plugin gets what one API call may take, retries included.
  const creds = await loadCredentials(opts.kubeconfig, { execTimeoutMs: deadlineMs });
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "multus-cni", ...creds.headers };
  const { client, origin, base } = connection(creds, requestTimeoutMs);

  async function once(method: Method, path: string, what: string, body?: string, contentType?: string, timeoutMs = requestTimeoutMs) {
    assertPlainPath(path, what);
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request.call(client, {
        method,
        path: base + path,
        headers: contentType ? { ...headers, "content-type": contentType } : headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new ApiError(what, 0, "", `no answer from ${origin}: ${failureOf(e)}`);
    }
    return decodeAnswer(res, what, origin);
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
    // The process exits right after; a graceful close would wait for the server.
    close: () => client.destroy(),
  };
}
