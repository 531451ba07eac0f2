/**
 * The `k8s.v1.cni.cncf.io/network-status` annotation: one entry per
 * attachment, in attachment order, built from the delegates' results.
 */
import type { Result100 } from "./cni/result.ts";
import type { JsonObject } from "./json.ts";

export interface NetworkStatus {
  name: string;
  interface: string;
  ips?: string[];
  mac?: string;
  /** The pod interface's MTU, when the result reports it. */
  mtu?: number;
  default?: boolean;
  dns: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  gateway?: string[];
  /** The attachment's device (Network Plumbing WG device-info), for device-plugin networks. */
  "device-info"?: JsonObject;
}

export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** The older, misspelt key some tools still read. */
export const OLD_NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/networks-status";

const bare = (cidr: string) => cidr.split("/")[0];

export function buildNetworkStatus(name: string, ifName: string, isDefault: boolean, r: Result100, deviceInfo?: JsonObject): NetworkStatus {
  const ifaces = r.interfaces ?? [];
  // The pod-side interface: the one named ifName in the sandbox, else any in a sandbox.
  let idx = ifaces.findIndex((i) => i.name === ifName && i.sandbox);
  if (idx < 0) idx = ifaces.findIndex((i) => i.sandbox);
  const ips = (r.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx).map((ip) => bare(ip.address));
  const gateways = (r.routes ?? []).filter((rt) => (rt.dst === "0.0.0.0/0" || rt.dst === "::/0") && rt.gw).map((rt) => rt.gw!);
  const st: NetworkStatus = { name, interface: ifName, dns: {} };
  if (ips.length) st.ips = ips;
  if (idx >= 0 && ifaces[idx].mac) st.mac = ifaces[idx].mac;
  if (idx >= 0 && ifaces[idx].mtu) st.mtu = ifaces[idx].mtu;
  if (isDefault) st.default = true;
  if (r.dns) {
    if (r.dns.nameservers?.length) st.dns.nameservers = [...r.dns.nameservers];
    if (r.dns.domain) st.dns.domain = r.dns.domain;
    if (r.dns.search?.length) st.dns.search = [...r.dns.search];
    if (r.dns.options?.length) st.dns.options = [...r.dns.options];
  }
  if (gateways.length) st.gateway = gateways;
  if (deviceInfo) st["device-info"] = deviceInfo;
  return st;
}
