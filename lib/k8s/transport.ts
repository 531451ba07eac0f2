/**
 * One HTTP exchange with the API server, by the runtime's best means: under
 * Bun (dist/multus) its native fetch (./transport-fetch.ts), which costs a
 * few milliseconds; elsewhere (dist/multus.mjs under node or deno), and for
 * what a URL cannot express (an IPv6 zone), undici's HTTP/1 client
 * (./transport-undici.ts), which under Bun would cost some 20 ms and 20 MiB
 * (its HTTP parser is WebAssembly). Both keep the connection for the next
 * request of the same call, time out each request, and refuse an answer
 * larger than MAX_ANSWER (./exchange.ts).
 */
import { bunRuntime } from "../runtime.ts";
import type { Transport } from "./exchange.ts";
import type { Credentials } from "./kubeconfig.ts";
import type { ApiEndpoint } from "./server-url.ts";

export async function openTransport(creds: Credentials, endpoint: ApiEndpoint, requestTimeoutMs: number): Promise<Transport> {
  const urlHost = new URL(endpoint.origin).hostname.replace(/^\[(.*)\]$/, "$1");
  if (bunRuntime() && endpoint.dialHost === urlHost) return (await import("./transport-fetch.ts")).fetchTransport(creds, endpoint);
  return (await import("./transport-undici.ts")).undiciTransport(creds, endpoint, requestTimeoutMs);
}
