/**
 * The API server through undici's HTTP/1 client (see ./transport.ts). The
 * client alone: undici's index also loads fetch, WebSocket, caches and mocks,
 * which this plugin never uses (and would pay for at start-up).
 */
import request from "undici/lib/api/api-request.js";
import buildConnector from "undici/lib/core/connect.js";
import Client from "undici/lib/dispatcher/client.js";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { ApiError } from "./errors.ts";
import { type Answer, type Exchange, failureOf, MAX_ANSWER, retryAfterSeconds, type Transport } from "./exchange.ts";
import type { Credentials } from "./kubeconfig.ts";
import type { ApiEndpoint } from "./server-url.ts";

type Body = Awaited<ReturnType<typeof request>>["body"];

async function readCapped(body: Body, what: string): Promise<string> {
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

export function undiciTransport(creds: Credentials, endpoint: ApiEndpoint, requestTimeoutMs: number): Transport {
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
  return {
    async send(x: Exchange): Promise<Answer> {
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request.call(client, {
          method: x.method as "GET",
          path: x.path,
          headers: x.headers,
          body: x.body,
          signal: AbortSignal.timeout(x.timeoutMs),
        });
      } catch (e) {
        throw new ApiError(x.what, 0, "", `no answer from ${endpoint.origin}: ${failureOf(e)}`);
      }
      let text: string;
      try {
        text = await readCapped(res.body, x.what);
      } catch (e) {
        if (e instanceof CniError) throw e;
        throw new ApiError(x.what, 0, "", `the answer from ${endpoint.origin} was cut off: ${failureOf(e)}`);
      }
      const ra = res.headers["retry-after"];
      const retryAfter = retryAfterSeconds(Array.isArray(ra) ? ra[0] : ra);
      return { status: res.statusCode, text, ...(retryAfter !== undefined ? { retryAfter } : {}) };
    },
    // The process exits right after; a graceful close would wait for the server.
    close: () => client.destroy(),
  };
}
