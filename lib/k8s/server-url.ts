/**
 * The API server address of a kubeconfig `server`, read the way client-go
 * reads it (rest.DefaultServerURL, Go's url.Parse, net.Dial):
 * - a URL `scheme://host[:port][/prefix]` (http or https; the path is a
 *   prefix of every request; query, fragment and user info are ignored);
 * - or `host` / `host:port` alone: https when TLS is configured (a CA, a
 *   client certificate or insecure-skip-tls-verify), else http;
 * - a bracketed host is dialled as what is inside, whatever it is: upstream
 *   Multus' installer writes `https://[10.96.0.1]:443` (IPv4 in brackets),
 *   and an IPv6 address may carry a zone (`[fe80::1%25eth0]`).
 * WHATWG's URL parser accepts neither of the last two, hence this module.
 */
import { isIPv6 } from "node:net";
import { CniError, ErrorCode } from "../cni/errors.ts";

export interface ApiEndpoint {
  /** `scheme://host:port` as undici takes it (a valid WHATWG origin). */
  origin: string;
  /** The address to connect to: the origin's host, or an IPv6 address with its zone. */
  dialHost: string;
  /** Prefix of every request path: "" or "/a/b" (no trailing slash). */
  basePath: string;
}

const WITH_AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/;
const HOST_PORT = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/;

function invalid(server: string, why: string): CniError {
  const shown = server.replace(/\/\/[^/?#]*@/, "//"); // never a password from user info
  return new CniError(ErrorCode.InvalidNetworkConfig, `kubeconfig: server ${JSON.stringify(shown)} ${why}`);
}

/** scheme, host (brackets kept), port and path of a URL with an authority; undefined when it has none. */
function split(url: string): { scheme: string; host: string; port: string; path: string } | undefined {
  const m = WITH_AUTHORITY.exec(url);
  if (!m) return undefined;
  const authority = m[2].slice(m[2].lastIndexOf("@") + 1);
  const hp = HOST_PORT.exec(authority);
  if (!hp || hp[1] === "") return undefined;
  return { scheme: m[1].toLowerCase(), host: hp[1], port: hp[2] ?? "", path: m[3] };
}

/** The host for the origin, and the zone of an IPv6 address, from a URL's host part. */
function originHost(server: string, host: string): { host: string; zone?: string } {
  if (!host.startsWith("[")) return { host };
  const inner = host.slice(1, -1);
  const zone = inner.indexOf("%25");
  if (zone > 0 && isIPv6(inner.slice(0, zone)))
    return { host: `[${inner.slice(0, zone)}]`, zone: decodeURIComponent(inner.slice(zone + 3)) };
  if (isIPv6(inner)) return { host };
  if (inner === "" || inner.includes("%")) throw invalid(server, "has an invalid host in brackets");
  // An IPv4 address or a name in brackets: Go dials what is inside.
  return { host: inner };
}

export function parseServer(server: string, tlsConfigured: boolean): ApiEndpoint {
  const s = server.trim();
  if (s === "") throw invalid(server, "is empty");
  let parts = split(s);
  if (!parts) {
    parts = split(`${tlsConfigured ? "https" : "http"}://${s}`);
    if (!parts || (parts.path !== "" && parts.path !== "/")) throw invalid(server, "is not a URL or a host:port pair");
  }
  const { scheme, port, path } = parts;
  if (scheme !== "https" && scheme !== "http") throw invalid(server, `has scheme "${scheme}": only https and http are supported`);
  if (port !== "" && Number(port) > 65535) throw invalid(server, `has port ${port}, which is out of range`);
  const { host, zone } = originHost(server, parts.host);
  let origin: URL;
  try {
    origin = new URL(`${scheme}://${host}${port === "" ? "" : `:${port}`}`);
  } catch {
    throw invalid(server, "has an invalid host");
  }
  const hostname = origin.hostname.replace(/^\[(.*)\]$/, "$1");
  return { origin: origin.origin, dialHost: zone ? `${hostname}%${zone}` : hostname, basePath: path.replace(/\/+$/, "") };
}
