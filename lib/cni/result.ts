/**
 * CNI result shapes, one type per spec generation, and the parser that turns
 * whatever a delegate printed into the 1.x hub shape (`Result100`).
 */
import { isJsonObject, type JsonObject } from "../json.ts";
import { CniError, ErrorCode } from "./errors.ts";
import { isSupportedVersion } from "./version.ts";

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** 0.1.0 / 0.2.0 */
export interface Route020 {
  dst: string;
  gw?: string;
}
export interface IpConfig020 {
  ip: string;
  gateway?: string;
  routes?: Route020[];
}
export interface Result020 {
  cniVersion: string;
  ip4?: IpConfig020;
  ip6?: IpConfig020;
  dns?: Dns;
}

/** 0.3.0 / 0.3.1 / 0.4.0 */
export interface Interface040 {
  name: string;
  mac?: string;
  sandbox?: string;
}
export interface IpConfig040 {
  version: "4" | "6";
  address: string;
  gateway?: string;
  interface?: number;
}
export interface Route040 {
  dst: string;
  gw?: string;
}
export interface Result040 {
  cniVersion: string;
  interfaces?: Interface040[];
  ips?: IpConfig040[];
  routes?: Route040[];
  dns?: Dns;
}

/** 1.0.0 / 1.1.0 (1.1.0 only adds optional fields). */
export interface Interface100 {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
export interface IpConfig100 {
  address: string;
  gateway?: string;
  interface?: number;
}
export interface Route100 {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface Result100 {
  cniVersion: string;
  interfaces?: Interface100[];
  ips?: IpConfig100[];
  routes?: Route100[];
  dns?: Dns;
}

export type AnyResult = Result020 | Result040 | Result100;

const isObject = isJsonObject;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function strList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}

/** Copy only the keys that are set, so converted results carry no `undefined`. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function parseDns(v: unknown): Dns | undefined {
  if (!isObject(v)) return undefined;
  const d = compact<Dns>({
    nameservers: strList(v.nameservers),
    domain: str(v.domain),
    search: strList(v.search),
    options: strList(v.options),
  });
  return Object.keys(d).length ? d : undefined;
}

function parseRoutes(v: unknown): Route100[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).flatMap((r) => {
    const dst = str(r.dst);
    if (!dst) return [];
    return [
      compact<Route100>({
        dst,
        gw: str(r.gw),
        mtu: num(r.mtu),
        advmss: num(r.advmss),
        priority: num(r.priority),
        table: num(r.table),
        scope: num(r.scope),
      }),
    ];
  });
}

/** Is the result a 0.1.0/0.2.0 shape (ip4/ip6 keys)? */
function isLegacyShape(version: string): boolean {
  return version === "0.1.0" || version === "0.2.0";
}

/** Turn an already-decoded result object of any version into the hub shape. */
export function normaliseResult(raw: unknown, configVersion: string): Result100 {
  if (!isObject(raw)) throw new CniError(ErrorCode.DecodeFailure, "result is not a JSON object");
  const version = str(raw.cniVersion) ?? configVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `unsupported CNI result version "${version}"`);
  }
  const out: Result100 = { cniVersion: version, interfaces: [], ips: [], routes: [] };
  if (isLegacyShape(version)) {
    for (const key of ["ip4", "ip6"] as const) {
      const ipc = raw[key];
      if (!isObject(ipc) || !str(ipc.ip)) continue;
      out.ips!.push(compact<IpConfig100>({ address: str(ipc.ip)!, gateway: str(ipc.gateway) }));
      out.routes!.push(...parseRoutes(ipc.routes));
    }
  } else {
    if (Array.isArray(raw.interfaces)) {
      for (const i of raw.interfaces.filter(isObject)) {
        out.interfaces!.push(
          compact<Interface100>({
            name: str(i.name) ?? "",
            mac: str(i.mac),
            mtu: num(i.mtu),
            sandbox: str(i.sandbox),
            socketPath: str(i.socketPath),
            pciID: str(i.pciID),
          }),
        );
      }
    }
    if (Array.isArray(raw.ips)) {
      for (const ip of raw.ips.filter(isObject)) {
        const address = str(ip.address);
        if (!address) continue;
        out.ips!.push(compact<IpConfig100>({ address, gateway: str(ip.gateway), interface: num(ip.interface) }));
      }
    }
    out.routes = parseRoutes(raw.routes);
  }
  const dns = parseDns(raw.dns);
  if (dns) out.dns = dns;
  return out;
}

const isDefaultDst = (dst: unknown): boolean => typeof dst === "string" && /\/0+$/.test(dst.trim());
const defaultDst = (gw: string): string => (gw.includes(":") ? "::/0" : "0.0.0.0/0");

/**
 * A delegate's result (any version, as printed) after `default-route`
 * changed its interface: its default routes gone, one per gateway added.
 * A copy; unknown keys are kept.
 */
export function withDefaultRoutes(raw: JsonObject, gateways: readonly string[]): JsonObject {
  const out = structuredClone(raw);
  const rewrite = (routes: unknown, add: readonly string[]): unknown[] => [
    ...(Array.isArray(routes) ? routes.filter((r) => !(isObject(r) && isDefaultDst(r.dst))) : []),
    ...add.map((gw) => ({ dst: defaultDst(gw), gw })),
  ];
  if (isLegacyShape(str(out.cniVersion) ?? "")) {
    // 0.1.0/0.2.0: routes live in ip4 / ip6.
    for (const [key, v6] of [
      ["ip4", false],
      ["ip6", true],
    ] as const) {
      const block = out[key];
      if (!isObject(block)) continue;
      const routes = rewrite(
        block.routes,
        gateways.filter((gw) => gw.includes(":") === v6),
      );
      if (routes.length) block.routes = routes;
      else delete block.routes;
    }
    return out;
  }
  const routes = rewrite(out.routes, gateways);
  if (routes.length) out.routes = routes;
  else delete out.routes;
  return out;
}
