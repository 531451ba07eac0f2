/**
 * One HTTP exchange with the API server, by the runtime's best means: under
 * Bun (dist/multus) its native fetch (./transport-fetch.ts), which costs a
 * few milliseconds; elsewhere (dist/multus.mjs under node or deno), and for
 * what a URL cannot express (an IPv6 zone), undici's HTTP/1 client
 * (./transport-undici.ts), which under Bun would cost some 20 ms and 20 MiB
 * (its HTTP parser is WebAssembly). Both
 * keep the connection for the next request of the same call, time out each
 * request, and refuse an answer larger than MAX_ANSWER.
 */
import { bunRuntime } from "../runtime.ts";
import type { Credentials } from "./kubeconfig.ts";
import type { ApiEndpoint } from "./server-url.ts";

/** An answer larger than this is refused: objects are at most 1.5 MiB in etcd, and a server must not grow us. */
export const MAX_ANSWER = 8 << 20;

export interface Exchange {
  method: string;
  /** With the endpoint's base path. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Names the call in errors ("get pod ns/name"). */
  what: string;
}

export interface Answer {
  status: number;
  /** The Retry-After header in seconds, when the server sent one. */
  retryAfter?: number;
  text: string;
}

export interface Transport {
  /** The answer, whatever its status; an ApiError (status 0) when none came, a CniError when it is too large. */
  send(x: Exchange): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * A transport failure as "<code or name>: <message>". Only a string code
 * names one (ECONNREFUSED, UND_ERR_…, ConnectionRefused): a DOMException's
 * `code` is its legacy number (a timeout's is 23), which says nothing.
 */
export function failureOf(e: unknown): string {
  const err = e as Error & { code?: unknown };
  return `${typeof err.code === "string" ? err.code : err.name}: ${err.message}`;
}

export function retryAfterSeconds(v: string | null | undefined): number | undefined {
  const n = Number(v ?? Number.NaN);
  return v !== null && v !== undefined && v !== "" && Number.isFinite(n) ? n : undefined;
}

export async function openTransport(creds: Credentials, endpoint: ApiEndpoint, requestTimeoutMs: number): Promise<Transport> {
  const urlHost = new URL(endpoint.origin).hostname.replace(/^\[(.*)\]$/, "$1");
  if (bunRuntime() && endpoint.dialHost === urlHost) return (await import("./transport-fetch.ts")).fetchTransport(creds, endpoint);
  return (await import("./transport-undici.ts")).undiciTransport(creds, endpoint, requestTimeoutMs);
}
