/**
 * What one HTTP exchange with the API server is, for both transports
 * (./transport.ts chooses one): the request, the answer, and how failures
 * are named.
 */

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
