/** The API server through Bun's native fetch (see ./transport.ts). */
import type { PeerCertificate } from "node:tls";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { ApiError } from "./errors.ts";
import { type Answer, type Exchange, failureOf, MAX_ANSWER, retryAfterSeconds, type Transport } from "./exchange.ts";
import type { Credentials } from "./kubeconfig.ts";
import type { ApiEndpoint } from "./server-url.ts";

/** Bun's fetch options beyond the standard ones. */
interface BunTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized: boolean;
  /** Sent as SNI, and the name the certificate is checked against (tls-server-name). */
  serverName?: string;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}
type BunInit = RequestInit & { tls?: BunTls };

async function readCapped(res: Response, what: string): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size).toString("utf8");
    size += value.length;
    if (size > MAX_ANSWER) {
      await reader.cancel().catch(() => {});
      throw new CniError(ErrorCode.ApiFailure, `${what}: the answer is larger than ${MAX_ANSWER} bytes`);
    }
    chunks.push(value);
  }
}

/**
 * tls-server-name: the certificate must name it, not the address dialled;
 * said outright (with node:tls's check, loaded only then).
 */
async function tlsOf(creds: Credentials): Promise<BunTls> {
  const tls: BunTls = { ca: creds.ca, cert: creds.cert, key: creds.key, rejectUnauthorized: creds.rejectUnauthorized };
  const name = creds.servername;
  if (name === undefined) return tls;
  const { checkServerIdentity } = await import("node:tls");
  return { ...tls, serverName: name, checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert) };
}

export async function fetchTransport(creds: Credentials, endpoint: ApiEndpoint): Promise<Transport> {
  const tls = await tlsOf(creds);
  return {
    async send(x: Exchange): Promise<Answer> {
      let res: Response;
      const init: BunInit = {
        method: x.method,
        headers: x.headers,
        body: x.body,
        redirect: "manual",
        signal: AbortSignal.timeout(x.timeoutMs),
        tls,
      };
      try {
        res = await fetch(endpoint.origin + x.path, init);
      } catch (e) {
        throw new ApiError(x.what, 0, "", `no answer from ${endpoint.origin}: ${failureOf(e)}`);
      }
      let text: string;
      try {
        text = await readCapped(res, x.what);
      } catch (e) {
        if (e instanceof CniError) throw e;
        throw new ApiError(x.what, 0, "", `the answer from ${endpoint.origin} was cut off: ${failureOf(e)}`);
      }
      const retryAfter = retryAfterSeconds(res.headers.get("retry-after"));
      return { status: res.status, text, ...(retryAfter !== undefined ? { retryAfter } : {}) };
    },
    // Connections are the runtime's; the process exits right after.
    close: async () => {},
  };
}
