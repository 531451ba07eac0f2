/**
 * `multus attach` and `multus detach`, the person's side: which container,
 * which network, checked before anything is locked (a mistake is a usage
 * error), then lib/commands/attach.ts does the work; what was done, as
 * lines or as one JSON object.
 */
import { existsSync } from "node:fs";
import type { Attachment } from "../attachment.ts";
import { ifNameProblem } from "../cni/args.ts";
import { normaliseResult } from "../cni/result.ts";
import type { AttachRequest, Changed } from "../commands/attach.ts";
import { labelProblem, subdomainProblem } from "../k8s/names.ts";
import { ipOrCidrProblem, isHardwareAddress } from "../selection.ts";
import { type ParsedArgs, UsageError } from "./args.ts";
import { contextFor, findRecord, type Which } from "./containers.ts";
import { nodeNetconf } from "./node-netconf.ts";

export const ATTACH_OPTIONS = {
  strings: ["pod", "container", "conf", "conf-dir", "mac"],
  lists: ["ip"],
  booleans: ["json"],
  positionals: true,
};
export const DETACH_OPTIONS = { strings: ["pod", "container", "conf", "conf-dir", "interface"], booleans: ["json", "force"] };

/** `--pod NS/NAME` or `--container ID`, exactly one. */
export function whichOf(f: ParsedArgs): Which {
  const pod = f.strings.get("pod");
  const container = f.strings.get("container");
  if ((pod === undefined) === (container === undefined)) throw new UsageError("give --pod NAMESPACE/NAME or --container ID (one of them)");
  if (container !== undefined) return { container };
  const [namespace, name, ...rest] = pod!.split("/");
  if (rest.length || name === undefined) throw new UsageError(`--pod must be NAMESPACE/NAME, got ${JSON.stringify(pod)}`);
  const problem = labelProblem(namespace) ?? subdomainProblem(name);
  if (problem) throw new UsageError(`--pod ${JSON.stringify(pod)}: a namespace and a pod name ${problem}`);
  return { pod: { namespace, name } };
}

/**
 * NETWORK[@IFNAME]: Kubernetes mode `[namespace/]name` of a
 * NetworkAttachmentDefinition; delegates mode a conf's name in confDir, or a
 * file (a path naming an existing file is taken whole).
 */
export function networkOf(arg: string, kubernetes: boolean): Pick<AttachRequest, "network" | "namespace" | "ifName"> {
  const at = arg.lastIndexOf("@");
  const whole = !kubernetes && existsSync(arg);
  const [target, ifName] = at < 0 || whole ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
  if (ifName !== undefined) {
    const problem = ifNameProblem(ifName);
    if (problem) throw new UsageError(`NETWORK ${JSON.stringify(arg)}: interface name ${JSON.stringify(ifName)} ${problem}`);
  }
  const withIf = ifName ? { ifName } : {};
  if (!kubernetes) {
    if (!target) throw new UsageError(`NETWORK ${JSON.stringify(arg)} names no network`);
    return { network: target, ...withIf };
  }
  const parts = target.split("/");
  const [namespace, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  const problem =
    parts.length > 2
      ? "has more than one '/'"
      : ((namespace !== undefined ? labelProblem(namespace) : undefined) ?? subdomainProblem(name));
  if (problem)
    throw new UsageError(`NETWORK ${JSON.stringify(arg)} is not [namespace/]name[@ifname] of a NetworkAttachmentDefinition: ${problem}`);
  return { network: name, ...(namespace ? { namespace } : {}), ...withIf };
}

/** The pod's addresses and MAC on the attachment's interface, as its result says. */
export function addressesOf(a: Attachment): { ips: string[]; mac?: string } {
  if (!a.result) return { ips: [] };
  const r = normaliseResult(a.result, String(a.config.cniVersion ?? "1.0.0"));
  const ifaces = r.interfaces ?? [];
  let idx = ifaces.findIndex((i) => i.name === a.ifName && i.sandbox);
  if (idx < 0) idx = ifaces.findIndex((i) => i.sandbox);
  const ips = (r.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx).map((ip) => ip.address);
  const mac = idx >= 0 ? ifaces[idx].mac : undefined;
  return { ips, ...(mac ? { mac } : {}) };
}

export interface Report {
  json: Record<string, unknown>;
  lines: string[];
}

const podName = (c: Changed): string | null => (c.pod ? `${c.pod.namespace}/${c.pod.name}` : null);
const networkName = (a: Attachment) => a.statusName ?? a.network;

export async function runAttach(f: ParsedArgs): Promise<Report> {
  const which = whichOf(f);
  if (f.positionals.length !== 1) throw new UsageError("name one NETWORK[@IFNAME] to attach (multus attach --help)");
  const ips = f.lists.get("ip") ?? [];
  for (const ip of ips) {
    const problem = ipOrCidrProblem(ip);
    if (problem) throw new UsageError(`--ip ${JSON.stringify(ip)} ${problem}`);
  }
  const mac = f.strings.get("mac");
  if (mac !== undefined && !isHardwareAddress(mac))
    throw new UsageError(`--mac ${JSON.stringify(mac)} is not a MAC address such as "02:00:5e:10:00:01"`);
  const node = nodeNetconf(confOptions(f));
  const req: AttachRequest = {
    ...networkOf(f.positionals[0], node.netconf.mode === "crd"),
    ...(ips.length ? { ips } : {}),
    ...(mac ? { mac } : {}),
  };
  const rec = findRecord(node.netconf, which);
  const { attach } = await import("../commands/attach.ts");
  const done = await attach(contextFor(node.netconf, rec, "attach"), req);
  const a = done.attachment;
  const { ips: got, mac: gotMac } = addressesOf(a);
  const who = done.pod ? `pod ${podName(done)}` : "container";
  const lines = [
    `attached network ${networkName(a)} as ${a.ifName} to ${who} ${done.pod ? `(container ${rec.containerId})` : rec.containerId}: ${got.join(", ") || "no address"}${gotMac ? `, mac ${gotMac}` : ""}`,
    ...(done.pod ? [`network-status of pod ${podName(done)} updated`] : []),
  ];
  const json = {
    ok: true,
    containerID: rec.containerId,
    pod: podName(done),
    interface: a.ifName,
    network: networkName(a),
    ips: got,
    mac: gotMac ?? null,
  };
  return { json, lines };
}

export async function runDetach(f: ParsedArgs): Promise<Report> {
  const which = whichOf(f);
  const ifName = f.strings.get("interface");
  if (!ifName) throw new UsageError("give the interface to detach: --interface IFNAME");
  const node = nodeNetconf(confOptions(f));
  const rec = findRecord(node.netconf, which);
  const { detach } = await import("../commands/attach.ts");
  const done = await detach(contextFor(node.netconf, rec, "detach"), ifName, { force: f.booleans.has("force") });
  const a = done.attachment;
  const left = done.record?.attachments.map((x) => x.ifName) ?? [];
  const lines = [
    `detached ${a.ifName} (network ${networkName(a)}) from ${done.pod ? `pod ${podName(done)} (container ${rec.containerId})` : `container ${rec.containerId}`}`,
    ...(done.pod ? [`network-status of pod ${podName(done)} updated`] : []),
    ...(left.length ? [] : ["its cache record is gone: no attachment is left"]),
  ];
  const json = { ok: true, containerID: rec.containerId, pod: podName(done), interface: a.ifName, network: networkName(a), left };
  return { json, lines };
}

export function confOptions(f: ParsedArgs): { conf?: string; confDir?: string } {
  const conf = f.strings.get("conf");
  const confDir = f.strings.get("conf-dir");
  if (conf && confDir) throw new UsageError("give --conf or --conf-dir, not both");
  return { ...(conf ? { conf } : {}), ...(confDir ? { confDir } : {}) };
}
