/**
 * Convert a hub result (1.x shape) to the shape of any supported version.
 * Conversions copy; the input is never modified.
 */
import { CniError, ErrorCode } from "./errors.ts";
import type { AnyResult, IpConfig020, IpConfig040, Result020, Result040, Result100, Route020 } from "./result.ts";
import { isSupportedVersion } from "./version.ts";

/** "4" or "6" from an address such as "10.1.2.3/24" or "fd00::1/64". */
export function addressFamily(address: string): "4" | "6" {
  return address.includes(":") ? "6" : "4";
}

function routeFamily(dst: string): "4" | "6" {
  return addressFamily(dst);
}

function toV100(r: Result100, version: string): Result100 {
  const out: Result100 = { cniVersion: version };
  const oneOne = version === "1.1.0";
  if (r.interfaces?.length) {
    out.interfaces = r.interfaces.map((i) => {
      const c = { ...i };
      // mtu, socketPath and pciID were introduced in 1.1.0.
      if (!oneOne) {
        delete c.mtu;
        delete c.socketPath;
        delete c.pciID;
      }
      return c;
    });
  }
  if (r.ips?.length) out.ips = r.ips.map((ip) => ({ ...ip }));
  if (r.routes?.length) {
    out.routes = r.routes.map((rt) => (oneOne ? { ...rt } : rt.gw ? { dst: rt.dst, gw: rt.gw } : { dst: rt.dst }));
  }
  if (r.dns) out.dns = structuredClone(r.dns);
  return out;
}

function toV040(r: Result100, version: string): Result040 {
  const out: Result040 = { cniVersion: version };
  if (r.interfaces?.length) {
    out.interfaces = r.interfaces.map((i) => {
      const c: { name: string; mac?: string; sandbox?: string } = { name: i.name };
      if (i.mac !== undefined) c.mac = i.mac;
      if (i.sandbox !== undefined) c.sandbox = i.sandbox;
      return c;
    });
  }
  if (r.ips?.length) {
    out.ips = r.ips.map((ip) => {
      const c: IpConfig040 = {
        version: addressFamily(ip.address),
        address: ip.address,
      };
      if (ip.gateway !== undefined) c.gateway = ip.gateway;
      if (ip.interface !== undefined) c.interface = ip.interface;
      return c;
    });
  }
  if (r.routes?.length) out.routes = r.routes.map((rt) => (rt.gw ? { dst: rt.dst, gw: rt.gw } : { dst: rt.dst }));
  if (r.dns) out.dns = structuredClone(r.dns);
  return out;
}

function toV020(r: Result100, version: string): Result020 {
  const out: Result020 = { cniVersion: version };
  for (const family of ["4", "6"] as const) {
    const ip = r.ips?.find((x) => addressFamily(x.address) === family);
    if (!ip) continue;
    const cfg: IpConfig020 = { ip: ip.address };
    if (ip.gateway !== undefined) cfg.gateway = ip.gateway;
    const routes: Route020[] = (r.routes ?? [])
      .filter((rt) => routeFamily(rt.dst) === family)
      .map((rt) => (rt.gw ? { dst: rt.dst, gw: rt.gw } : { dst: rt.dst }));
    if (routes.length) cfg.routes = routes;
    if (family === "4") out.ip4 = cfg;
    else out.ip6 = cfg;
  }
  if (!out.ip4 && !out.ip6) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cannot convert result to CNI version ${version}: it has no IP address (0.1.0 and 0.2.0 results need one)`,
    );
  }
  if (r.dns) out.dns = structuredClone(r.dns);
  return out;
}

/** Convert the hub result to `version`, as a new object. */
export function convertResult(r: Result100, version: string): AnyResult {
  if (!isSupportedVersion(version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `no converter for CNI result version ${r.cniVersion} to ${version}`);
  }
  switch (version) {
    case "0.1.0":
    case "0.2.0":
      return toV020(r, version);
    case "0.3.0":
    case "0.3.1":
    case "0.4.0":
      return toV040(r, version);
    case "1.0.0":
    case "1.1.0":
      return toV100(r, version);
  }
}
