/**
 * Parsers for the pod annotations that select extra networks.
 *
 * - `k8s.v1.cni.cncf.io/networks`: the networks to attach besides the cluster network, either as a comma
 *   list (`net-a, other-ns/net-b@eth5`) or as a JSON list of selection objects.
 * - `v1.multus-cni.io/default-network`: one network that replaces the cluster network.
 * - `networks`: the legacy (v1.x) annotation, a JSON list of `{"name": ...}` objects.
 *
 * Everything a pod author can get wrong is rejected here, before any API call or delegate runs, with a
 * message that names the annotation key and quotes the offending item. Errors are
 * `CniError(ErrorCode.InvalidNetworkConfig)`.
 */

import { isIP } from "node:net";
import { ifNameProblem } from "./cni/args.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { isJsonObject } from "./json.ts";
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_HINT, SUBDOMAIN_HINT } from "./k8s/names.ts";

/** The annotation listing the networks to attach besides the cluster network. */
export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
/** The annotation that replaces the cluster network for one pod. */
export const DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network";
/** The v1.x annotation: a JSON list of `{"name": ...}` objects naming legacy `Network` objects. */
export const LEGACY_NETWORKS_ANNOTATION = "networks";

/** Bandwidth limits requested for one attachment (the `bandwidth` capability). */
export interface BandwidthRequest {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
  [key: string]: unknown;
}

/** One port mapping requested for one attachment (the `portMappings` capability). */
export interface PortMappingRequest {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
  [key: string]: unknown;
}

/** One element of the networks annotation, after validation and defaulting. */
export interface NetworkSelection {
  /** Name of the NetworkAttachmentDefinition. */
  name: string;
  /** Its namespace; defaults to the pod's (or, for the default-network annotation, Multus') namespace. */
  namespace: string;
  /** Requested interface name inside the pod. */
  interface?: string;
  /** Requested addresses, each an IP or a CIDR, as written. */
  ips?: string[];
  mac?: string;
  infinibandGuid?: string;
  /** Gateways for the default route(s) via this attachment; `[]` is kept (it asks for no default route). */
  defaultRoute?: string[];
  /** Merged into the delegate config's `args.cni`. */
  cniArgs?: Record<string, unknown>;
  bandwidth?: BandwidthRequest;
  portMappings?: PortMappingRequest[];
  deviceID?: string;
}

const COMMA_FORM = "[namespace/]name[@interface]";
const JSON_EXAMPLE = '[{"name":"net1","namespace":"ns1","interface":"net1"}]';

function fail(key: string, msg: string): never {
  throw new CniError(ErrorCode.InvalidNetworkConfig, `${key}: ${msg}`);
}

function quote(s: string): string {
  return JSON.stringify(s);
}

const isPlainObject = isJsonObject;

/** The family (4 or 6) of a bare IP address, or 0 when it is not one. Zone suffixes are refused. */
function ipFamily(s: string): 0 | 4 | 6 {
  if (s.includes("%")) return 0;
  const f = isIP(s);
  if (f === 6 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(s)) return 4;
  return f === 4 || f === 6 ? f : 0;
}

/** Why `s` is neither an IP address nor a CIDR, or undefined when it is one. */
export function ipOrCidrProblem(s: string): string | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return ipFamily(s) === 0 ? "is not a valid IP address or CIDR" : undefined;
  const addr = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  const family = ipFamily(addr);
  if (family === 0) return `is not a valid CIDR: ${quote(addr)} is not an IP address`;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix)) return `is not a valid CIDR: prefix length ${quote(prefix)} is not a number`;
  const max = family === 4 && isIP(addr) === 4 ? 32 : 128;
  if (Number(prefix) > max) return `is not a valid CIDR: prefix length ${prefix} is out of range for IPv${max === 32 ? 4 : 6} (0-${max})`;
  return undefined;
}

/** True for hardware addresses of 6, 8 or 20 bytes written as hex pairs separated by ':' or '-'. */
export function isHardwareAddress(s: string): boolean {
  for (const sep of [":", "-"]) {
    const parts = s.split(sep);
    if ([6, 8, 20].includes(parts.length) && parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return true;
  }
  return false;
}

/** Parses one comma-list item `[ns/]name[@ifname]`; `pos` is 1-based. */
function parseCommaItem(key: string, raw: string, pos: number, defaultNamespace: string): NetworkSelection {
  const item = raw.trim();
  const bad: (why: string) => never = (why) => fail(key, `item ${pos} ${quote(item)} is not ${COMMA_FORM}: ${why}`);

  const slashParts = item.split("/");
  if (slashParts.length > 2) bad("it has more than one '/'");
  const atParts = slashParts[slashParts.length - 1].split("@");
  if (atParts.length > 2) bad("it has more than one '@'");
  let namespace = defaultNamespace;
  if (slashParts.length === 2) {
    namespace = slashParts[0].trim();
    if (namespace === "") bad("the namespace before '/' is empty");
    if (!DNS1123_LABEL.test(namespace)) bad(`namespace ${quote(namespace)} ${LABEL_HINT}`);
  }
  const name = atParts[0].trim();
  if (name === "") bad("the network name is empty");
  if (!DNS1123_LABEL.test(name)) bad(`name ${quote(name)} ${LABEL_HINT}`);
  const selection: NetworkSelection = { name, namespace };
  if (atParts.length === 2) {
    const ifname = atParts[1].trim();
    if (ifname !== "") {
      const problem = ifNameProblem(ifname);
      if (problem !== undefined) bad(`interface name ${quote(ifname)} ${problem}`);
      selection.interface = ifname;
    }
  }
  return selection;
}

function parseCommaList(key: string, value: string, defaultNamespace: string): NetworkSelection[] {
  const items = value.split(",");
  return items.map((raw, i) => {
    if (raw.trim() === "") {
      fail(key, `item ${i + 1} of ${items.length} is empty (check for a stray or doubled ','): ${quote(value)}`);
    }
    return parseCommaItem(key, raw, i + 1, defaultNamespace);
  });
}

/** Reads an optional field that must be a string when present (null counts as absent). */
function optString(el: Record<string, unknown>, field: string, bad: (why: string) => never): string | undefined {
  const v = el[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") bad(`${quote(field)} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads an optional field that must be a list of strings when present. */
function optStringList(el: Record<string, unknown>, field: string, bad: (why: string) => never): string[] | undefined {
  const v = el[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    bad(`${quote(field)} must be a list of strings, got ${JSON.stringify(v)}`);
  }
  return [...v];
}

function optObject(el: Record<string, unknown>, field: string, bad: (why: string) => never): Record<string, unknown> | undefined {
  const v = el[field];
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) bad(`${quote(field)} must be an object, got ${JSON.stringify(v)}`);
  return { ...v };
}

function parseBandwidth(el: Record<string, unknown>, bad: (why: string) => never): BandwidthRequest | undefined {
  const bw = optObject(el, "bandwidth", bad);
  if (bw === undefined) return undefined;
  for (const k of ["ingressRate", "ingressBurst", "egressRate", "egressBurst"]) {
    const v = bw[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) {
      bad(`"bandwidth.${k}" must be a non-negative integer, got ${JSON.stringify(v)}`);
    }
  }
  return bw;
}

function parsePortMappings(el: Record<string, unknown>, bad: (why: string) => never): PortMappingRequest[] | undefined {
  const v = el.portMappings;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) bad(`"portMappings" must be a list of objects, got ${JSON.stringify(v)}`);
  const out: PortMappingRequest[] = [];
  v.forEach((pm: unknown, i: number) => {
    const where = `portMappings[${i}]`;
    if (!isPlainObject(pm)) bad(`"${where}" must be an object, got ${JSON.stringify(pm)}`);
    for (const port of ["hostPort", "containerPort"]) {
      const p = pm[port];
      if (p === undefined) bad(`"${where}.${port}" is required: ${JSON.stringify(pm)}`);
      if (!(typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65535)) {
        bad(`"${where}.${port}" must be a port number (1-65535), got ${JSON.stringify(p)}`);
      }
    }
    if (pm.protocol !== undefined && typeof pm.protocol !== "string") {
      bad(`"${where}.protocol" must be a string, got ${JSON.stringify(pm.protocol)}`);
    }
    if (pm.hostIP !== undefined && pm.hostIP !== "" && !(typeof pm.hostIP === "string" && ipFamily(pm.hostIP) !== 0)) {
      bad(`"${where}.hostIP" must be an IP address, got ${JSON.stringify(pm.hostIP)}`);
    }
    out.push({ ...pm } as PortMappingRequest);
  });
  return out.length > 0 ? out : undefined;
}

/** The addresses an element asks for: `ips`, `mac`, `infiniband-guid`, `default-route`. */
function parseAddressing(el: Record<string, unknown>, bad: (why: string) => never): Partial<NetworkSelection> {
  const out: Partial<NetworkSelection> = {};
  const ips = optStringList(el, "ips", bad);
  ips?.forEach((ip, i) => {
    const problem = ipOrCidrProblem(ip);
    if (problem !== undefined) bad(`ips[${i}] ${quote(ip)} ${problem}`);
  });
  if (ips !== undefined && ips.length > 0) out.ips = ips;

  const mac = optString(el, "mac", bad);
  if (mac !== undefined && mac !== "") {
    if (!isHardwareAddress(mac)) bad(`mac ${quote(mac)} is not a MAC address such as "02:00:5e:10:00:01"`);
    out.mac = mac;
  }
  const guid = optString(el, "infiniband-guid", bad);
  if (guid !== undefined && guid !== "") {
    if (!isHardwareAddress(guid)) {
      bad(`infiniband-guid ${quote(guid)} is not a GUID such as "24:8a:07:03:00:8d:ae:2f"`);
    }
    out.infinibandGuid = guid;
  }

  const defaultRoute = optStringList(el, "default-route", bad);
  defaultRoute?.forEach((gw, i) => {
    if (ipFamily(gw) === 0) bad(`default-route[${i}] ${quote(gw)} is not an IP address`);
  });
  if (defaultRoute !== undefined) out.defaultRoute = defaultRoute;
  return out;
}

/** Validates one element of the JSON form; `pos` is 1-based. */
function parseJsonElement(key: string, el: unknown, pos: number, defaultNamespace: string): NetworkSelection {
  if (!isPlainObject(el)) {
    fail(key, `item ${pos} must be an object such as {"name":"net1"}, got ${JSON.stringify(el)}`);
  }
  const label = typeof el.name === "string" && el.name !== "" ? `item ${pos} (${quote(el.name)})` : `item ${pos}`;
  const bad: (why: string) => never = (why) => fail(key, `${label}: ${why}`);

  const name = optString(el, "name", bad);
  if (name === undefined || name.trim() === "") bad(`"name" is required: ${JSON.stringify(el)}`);
  if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) bad(`name ${quote(name)} ${SUBDOMAIN_HINT}`);

  let namespace = optString(el, "namespace", bad) ?? "";
  if (namespace === "") namespace = defaultNamespace;
  else if (!DNS1123_LABEL.test(namespace)) bad(`namespace ${quote(namespace)} ${LABEL_HINT}`);
  const selection: NetworkSelection = { name, namespace };

  const iface = optString(el, "interface", bad);
  const ifaceRequest = optString(el, "interfaceRequest", bad);
  const ifname = iface !== undefined && iface !== "" ? iface : ifaceRequest;
  if (ifname !== undefined && ifname !== "") {
    const problem = ifNameProblem(ifname);
    if (problem !== undefined) bad(`interface name ${quote(ifname)} ${problem}`);
    selection.interface = ifname;
  }

  Object.assign(selection, parseAddressing(el, bad));
  const cniArgs = optObject(el, "cni-args", bad);
  if (cniArgs !== undefined) selection.cniArgs = cniArgs;
  const bandwidth = parseBandwidth(el, bad);
  if (bandwidth !== undefined) selection.bandwidth = bandwidth;
  const portMappings = parsePortMappings(el, bad);
  if (portMappings !== undefined) selection.portMappings = portMappings;
  const deviceID = optString(el, "deviceID", bad);
  if (deviceID !== undefined && deviceID !== "") selection.deviceID = deviceID;
  return selection;
}

function parseJsonList(key: string, value: string, defaultNamespace: string): NetworkSelection[] {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    fail(key, `value looks like JSON but does not parse (${why}); expected a list such as ${JSON_EXAMPLE}: ${quote(value)}`);
  }
  if (!Array.isArray(doc)) {
    const got = isPlainObject(doc) ? "an object" : JSON.stringify(doc);
    fail(key, `JSON value must be a list such as ${JSON_EXAMPLE}, got ${got}: ${quote(value)}`);
  }
  return doc.map((el: unknown, i: number) => parseJsonElement(key, el, i + 1, defaultNamespace));
}

/** Rejects more than one default gateway per IP family across all selections. */
function checkDefaultRoutes(key: string, selections: NetworkSelection[]): void {
  for (const family of [4, 6] as const) {
    const found: string[] = [];
    selections.forEach((s, i) => {
      for (const gw of s.defaultRoute ?? []) {
        if (ipFamily(gw) === family) found.push(`${quote(gw)} (item ${i + 1} ${quote(s.name)})`);
      }
    });
    if (found.length > 1) {
      fail(key, `default-route: more than one IPv${family} default gateway requested (ECMP is not supported): ${found.join(", ")}`);
    }
  }
}

function parseSelections(key: string, value: string, defaultNamespace: string): NetworkSelection[] {
  if (value.trim() === "") return [];
  const selections = /[[{"]/.test(value) ? parseJsonList(key, value, defaultNamespace) : parseCommaList(key, value, defaultNamespace);
  checkDefaultRoutes(key, selections);
  return selections;
}

/**
 * Parses the `k8s.v1.cni.cncf.io/networks` annotation.
 *
 * The value is a JSON list when it contains `[`, `{` or `"`, else a comma list of `[ns/]name[@ifname]`.
 * An empty value selects nothing. Elements without a namespace get `defaultNamespace` (the pod's).
 *
 * @example
 * parseNetworkSelections("net-a, other/net-b@eth5", "ns1");
 * // [{name:"net-a",namespace:"ns1"}, {name:"net-b",namespace:"other",interface:"eth5"}]
 * @throws {CniError} code 7 (InvalidNetworkConfig) naming the annotation and the offending item
 */
export function parseNetworkSelections(value: string, defaultNamespace: string): NetworkSelection[] {
  return parseSelections(NETWORKS_ANNOTATION, value, defaultNamespace);
}

/**
 * Parses the `v1.multus-cni.io/default-network` annotation: the same grammar as the networks annotation,
 * with exactly one element; a missing namespace means `multusNamespace`.
 *
 * @example
 * parseDefaultNetworkAnnotation("calico-conf", "kube-system"); // {name:"calico-conf",namespace:"kube-system"}
 * @throws {CniError} code 7 when the value is invalid, empty or names more than one network
 */
export function parseDefaultNetworkAnnotation(value: string, multusNamespace: string): NetworkSelection {
  const selections = parseSelections(DEFAULT_NETWORK_ANNOTATION, value, multusNamespace);
  if (selections.length !== 1) {
    fail(DEFAULT_NETWORK_ANNOTATION, `exactly one network must be given, got ${selections.length}: ${quote(value)}`);
  }
  return selections[0];
}

/**
 * Parses the legacy `networks` annotation: a JSON list of `{"name": ...}` objects (other keys are ignored).
 * An empty value selects nothing.
 *
 * @example
 * parseLegacyNetworks('[{"name":"flannel-conf"},{"name":"sriov-conf"}]'); // [{name:"flannel-conf"},{name:"sriov-conf"}]
 * @throws {CniError} code 7 when the value is not such a list
 */
export function parseLegacyNetworks(value: string): { name: string }[] {
  const key = LEGACY_NETWORKS_ANNOTATION;
  const example = '[{"name":"flannel-conf"},{"name":"sriov-conf"}]';
  const hint = `A comma list of names is accepted only in ${NETWORKS_ANNOTATION}`;
  if (value.trim() === "") return [];
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    fail(key, `this legacy annotation must be a JSON list of objects such as ${example}; got ${quote(value)} (${why}). ${hint}`);
  }
  if (!Array.isArray(doc)) {
    fail(key, `this legacy annotation must be a JSON list of objects such as ${example}; got ${quote(value)}. ${hint}`);
  }
  return doc.map((el: unknown, i: number) => {
    if (!isPlainObject(el) || typeof el.name !== "string" || el.name.trim() === "") {
      fail(key, `item ${i + 1} must be an object with a non-empty "name" such as {"name":"flannel-conf"}, got ${JSON.stringify(el)}`);
    }
    if (!DNS1123_SUBDOMAIN.test(el.name) || el.name.length > 253) {
      fail(key, `item ${i + 1}: name ${quote(el.name)} ${SUBDOMAIN_HINT}`);
    }
    return { name: el.name };
  });
}
