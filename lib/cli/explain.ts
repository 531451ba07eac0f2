/**
 * `multus explain`: what an ADD would do for a pod, attaching nothing. The
 * pod's attachments are planned by ADD's own source (lib/commands/
 * attachments.ts `planned`): its networks in order with their interfaces,
 * what each plugin would read on stdin (the device and the runtime config
 * injected as they would be; secrets redacted), the default route, and every
 * problem and warning the ADD would meet (the resolution, the validator on
 * the netconf and on the pod's networks together, a plugin not installed, a
 * device not known or not requested).
 *
 * `--pod NS/NAME` reads the pod and its NADs from the API with the node's
 * netconf (its kubeconfig), and its devices from kubelet. FILE... reads them
 * from manifests instead, as `multus validate` resolves pods
 * (./validate-pods.ts): no cluster needed.
 */
import { existsSync } from "node:fs";
import { type Attachment, delegateOf } from "../attachment.ts";
import { type CniArgs, readCniArgs } from "../cni/args.ts";
import { planned } from "../commands/attachments.ts";
import { type CommandContext, openKubeClient, pluginDirs } from "../commands/context.ts";
import { pluginConfig } from "../delegate.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import type { KubeClient } from "../k8s/client.ts";
import { NO_LOG, redact } from "../log.ts";
import { loadNetconf, type NetConf } from "../netconf.ts";
import { findPlugin } from "../plugin-exec.ts";
import type { Problem } from "../validate.ts";
import { type ParsedArgs, UsageError } from "./args.ts";
import { confOptions, whichOf } from "./attach.ts";
import { findRecord } from "./containers.ts";
import { nodeNetconf } from "./node-netconf.ts";
import type { ManifestObject } from "./validate.ts";

/** Stands for the container ID a pod does not have yet (in device-info file names). */
export const NO_CONTAINER = "CONTAINERID";

export interface ExplainedProblem {
  severity: "error" | "warning";
  /** The field (a network's name first), or "" for the pod as a whole. */
  path: string;
  message: string;
}

export interface ExplainedNetwork {
  interface: string;
  /** `namespace/name` for a NetworkAttachmentDefinition, else the config's name. */
  network: string;
  clusterNetwork: boolean;
  /** CNI_ARGS its plugins get. */
  cniArgs: string;
  /** What each plugin reads on stdin for ADD, in order (secrets redacted). */
  stdin: JsonObject[];
  device?: { resourceName: string; deviceID?: string; infoFile?: string };
  /** The gateways the pod asked for through it (`default-route`). */
  defaultRoute?: readonly string[];
}

export interface Explanation {
  pod: string;
  mode: "kubernetes" | "delegates";
  /** Where the netconf came from (a file, or "stand-in" when none was given or found). */
  netconf: string;
  networks: ExplainedNetwork[];
  /** The interfaces that get a default route the pod asked for; empty: the cluster network's plugin sets it. */
  defaultRoute: { interface: string; gateways: readonly string[] }[];
  problems: ExplainedProblem[];
}

export interface ExplainInput {
  pod: { namespace: string; name: string; uid?: string };
  netconf: NetConf;
  /** The netconf as given, for the validator (undefined for a stand-in). */
  raw?: JsonObject;
  netconfFile: string;
  /** Kubernetes mode: where the pod and NADs are read (the API, or the files). */
  client?: KubeClient;
  /** The pod's container, when a record on this node names it. */
  record?: { containerId: string; cniArgs: string; ifName: string; cniPath?: string[] };
  /** Devices can be looked up (on the node, from kubelet). */
  devices: boolean;
  /** The netconf is this node's: its plugins must be installed here. */
  onNode: boolean;
  /** The pod object (from a file): its containers' resource requests are checked against device-plugin networks. */
  manifest?: ManifestObject;
  /** Said of the pod whatever else is found. */
  notes?: string[];
}

function argsOf(input: ExplainInput): CniArgs {
  const { pod, record } = input;
  const podArgs = `K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name}${pod.uid ? `;K8S_POD_UID=${pod.uid}` : ""}`;
  return readCniArgs(
    {
      CNI_CONTAINERID: record?.containerId ?? NO_CONTAINER,
      CNI_IFNAME: record?.ifName ?? "eth0",
      CNI_ARGS: record?.cniArgs ?? `IgnoreUnknown=1;${podArgs}`,
      CNI_PATH: (record?.cniPath ?? []).join(":"),
    },
    "GC",
  );
}

const problemOf = (severity: ExplainedProblem["severity"], p: Problem): ExplainedProblem => ({
  severity,
  path: p.path,
  message: p.message,
});

/** What each plugin of `a` reads on stdin for ADD (runtime config as its capabilities take it). */
function stdinOf(a: Attachment, cniVersion: string): JsonObject[] {
  const d = delegateOf(a, cniVersion);
  return d.pluginTypes.map((_, i) => redact(pluginConfig(d, i, undefined, a.runtimeConfig)) as JsonObject);
}

function networkOf(a: Attachment, cniVersion: string): ExplainedNetwork {
  return {
    interface: a.ifName,
    network: a.statusName ?? a.network,
    clusterNetwork: a.isClusterNetwork,
    cniArgs: a.cniArgs,
    stdin: stdinOf(a, cniVersion),
    ...(a.device ? { device: { ...a.device } } : {}),
    ...(a.defaultRoute ? { defaultRoute: a.defaultRoute } : {}),
  };
}

/** The pod's attachments as ADD plans them; a resolution that fails on its devices is planned again without. */
async function plan(ctx: CommandContext, input: ExplainInput, problems: ExplainedProblem[]): Promise<Attachment[]> {
  try {
    return (await planned(ctx, input.client, { devices: input.devices })).attachments;
  } catch (e) {
    problems.push({ severity: "error", path: "", message: (e as Error).message });
  }
  if (!input.devices || !input.client) return [];
  try {
    const again = (await planned(ctx, input.client, { devices: false })).attachments;
    problems.push({ severity: "warning", path: "", message: "the networks below are shown without their devices" });
    return again;
  } catch {
    return [];
  }
}

/** The validator on the netconf, then on the pod's networks together (as ADD runs it). */
async function validatorProblems(input: ExplainInput, attachments: readonly Attachment[]): Promise<ExplainedProblem[]> {
  const { validateInput } = await import("../validate.ts");
  const out: ExplainedProblem[] = [];
  const inputs = [
    ...(input.raw ? [{ netconf: input.raw }] : []),
    ...(attachments.length
      ? [{ attachments: attachments.map((a) => ({ path: a.statusName ?? a.network, ifname: a.ifName, config: a.config })) }]
      : []),
  ];
  for (const v of inputs) {
    const answer = validateInput(v);
    if (answer.type === "invalid") out.push(...answer.errors.map((p) => problemOf("error", p)));
    out.push(...answer.warnings.map((p) => problemOf("warning", p)));
  }
  return out;
}

/** Every plugin binary there, as ADD finds them (on this machine: a bin dir that is not here is one warning). */
function pluginProblems(ctx: CommandContext, attachments: readonly Attachment[]): ExplainedProblem[] {
  const dirs = pluginDirs(ctx).filter((d) => existsSync(d));
  if (!dirs.length)
    return [{ severity: "warning", path: "", message: `plugins not checked: ${pluginDirs(ctx).join(", ")} is not on this machine` }];
  const out: ExplainedProblem[] = [];
  for (const a of attachments) {
    const confs = a.config.type === undefined && Array.isArray(a.config.plugins) ? a.config.plugins : [a.config];
    const types = confs.flatMap((c) => (isJsonObject(c) ? [c.type, isJsonObject(c.ipam) ? c.ipam.type : undefined] : []));
    for (const t of new Set(types.filter((x): x is string => typeof x === "string"))) {
      try {
        findPlugin(t, dirs);
      } catch (e) {
        out.push({ severity: "error", path: `${a.statusName ?? a.network}.type`, message: (e as Error).message });
      }
    }
  }
  return out;
}

/** A pod from a file: a device-plugin network whose resource no container requests gets no device, and its ADD fails. */
async function resourceProblems(input: ExplainInput, attachments: readonly Attachment[]): Promise<ExplainedProblem[]> {
  if (!input.manifest || !attachments.some((a) => a.device)) return [];
  const { requestedResources } = await import("./validate-pods.ts");
  const asked = requestedResources(input.manifest.value);
  return attachments.flatMap((a) => {
    const r = a.device?.resourceName;
    if (!r || asked.has(r)) return [];
    const message = `network ${a.statusName ?? a.network} (interface ${a.ifName}) needs a device of resource "${r}", but no container of the pod requests one: its ADD fails`;
    return [{ severity: "error" as const, path: "spec.containers[].resources", message }];
  });
}

export async function explain(input: ExplainInput): Promise<Explanation> {
  const ctx: CommandContext = { args: argsOf(input), netconf: input.netconf, log: NO_LOG };
  const problems: ExplainedProblem[] = (input.notes ?? []).map((message) => ({ severity: "warning", path: "", message }));
  const attachments = await plan(ctx, input, problems);
  problems.push(...(await validatorProblems(input, attachments)));
  if (input.onNode) problems.push(...pluginProblems(ctx, attachments));
  problems.push(...(await resourceProblems(input, attachments)));
  const cniVersion = input.netconf.cniVersion;
  return {
    pod: `${input.pod.namespace}/${input.pod.name}`,
    mode: input.netconf.mode === "crd" ? "kubernetes" : "delegates",
    netconf: input.netconfFile,
    networks: attachments.map((a) => networkOf(a, cniVersion)),
    defaultRoute: attachments.flatMap((a) => (a.defaultRoute?.length ? [{ interface: a.ifName, gateways: a.defaultRoute }] : [])),
    problems,
  };
}

/** `--pod NS/NAME` on the node: the API client of the node's netconf (Kubernetes mode). */
export async function withNodeClient<T>(netconf: NetConf, fn: (client: KubeClient | undefined) => Promise<T>): Promise<T> {
  if (netconf.mode !== "crd") return fn(undefined);
  const ctx: CommandContext = { args: readCniArgs({}, "GC"), netconf, log: NO_LOG };
  const client = await openKubeClient(ctx);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The lines `multus explain` prints for one pod. */
export function explanationLines(x: Explanation): string[] {
  const lines = [`pod ${x.pod}: ${x.mode === "kubernetes" ? "Kubernetes" : "delegates"} mode, netconf ${x.netconf}`];
  const width = Math.max(9, ...x.networks.map((n) => n.interface.length + 2));
  const nameWidth = Math.max(8, ...x.networks.map((n) => n.network.length + 2));
  for (const n of x.networks) {
    const notes = [
      n.clusterNetwork ? "cluster network" : "",
      n.device ? `device ${n.device.resourceName}${n.device.deviceID ? ` ${n.device.deviceID}` : " (none assigned)"}` : "",
    ].filter(Boolean);
    lines.push(`  ${n.interface.padEnd(width)}${n.network.padEnd(nameWidth)}${notes.join(", ")}`.trimEnd());
  }
  if (!x.networks.length) lines.push("  no network: the ADD would fail");
  const cluster = x.networks.find((n) => n.clusterNetwork);
  lines.push(
    x.defaultRoute.length
      ? `default route: ${x.defaultRoute.map((d) => `via ${d.gateways.join(", ")} on ${d.interface}`).join("; ")}; the other interfaces' default routes are removed`
      : `default route: as the cluster network's plugin sets it${cluster ? ` (${cluster.interface})` : ""}`,
  );
  for (const n of x.networks) {
    lines.push(`${n.interface} (${n.network}), CNI_ARGS ${n.cniArgs}:`);
    for (const s of n.stdin)
      lines.push(
        ...JSON.stringify(s, null, 2)
          .split("\n")
          .map((l) => `  ${l}`),
      );
  }
  for (const p of x.problems) lines.push(`${p.severity}: ${p.path ? `${p.path}: ` : ""}${p.message}`);
  return lines;
}

export const EXPLAIN_OPTIONS = { strings: ["pod", "conf", "conf-dir"], booleans: ["json"], positionals: true };

/** `--pod NS/NAME`: the node's netconf, the pod's record on this node if it has one, the API, kubelet. */
async function explainPod(f: ParsedArgs, pod: { namespace: string; name: string }): Promise<Explanation> {
  const node = nodeNetconf(confOptions(f));
  let record: ExplainInput["record"];
  try {
    const r = findRecord(node.netconf, { pod });
    record = { containerId: r.containerId, cniArgs: r.cniArgs, ifName: r.ifName, ...(r.cniPath ? { cniPath: r.cniPath } : {}) };
  } catch {
    record = undefined; // not on this node (yet): planned as for a new sandbox
  }
  const base = {
    pod,
    netconf: node.netconf,
    raw: node.raw,
    netconfFile: node.file,
    devices: true,
    onNode: true,
    ...(record ? { record } : {}),
  };
  return withNodeClient(node.netconf, (client) => explain({ ...base, ...(client ? { client } : {}) }));
}

/** FILE...: the pods among the manifests, with the NADs there; the netconf given (--conf), among the files, the node's, or a stand-in. */
async function explainFiles(f: ParsedArgs): Promise<Explanation[]> {
  const { validateFile } = await import("./validate.ts");
  const { FilesClient, netconfFor } = await import("./validate-pods.ts");
  const results = f.positionals.map(validateFile);
  const unreadable = results.flatMap((r) =>
    r.objects || r.netconf ? [] : r.findings.filter((x) => x.path === "" && x.severity === "error"),
  );
  if (unreadable.length) throw new Error(unreadable.map((x) => `${x.file}: ${x.message}`).join("; "));
  const objects = results.flatMap((r) => r.objects ?? []);
  const pods = objects.filter((o) => o.kind === "Pod");
  if (!pods.length) throw new Error(`no Pod among ${f.positionals.join(", ")}: explain needs the pod's manifest`);
  const given = results.find((r) => r.netconf)?.netconf;
  const explicit = f.strings.has("conf") || f.strings.has("conf-dir");
  let chosen: { netconf: NetConf; raw?: JsonObject; file: string; note?: string; onNode?: boolean };
  if (explicit || !given) {
    try {
      chosen = { ...nodeNetconf(confOptions(f)), onNode: true };
    } catch (e) {
      if (explicit) throw e;
      chosen = { ...netconfFor(undefined, []), file: "stand-in (no multus config on this machine: a cluster network on eth0)" };
    }
  } else {
    const nads = objects.filter((o) => o.kind === "NetworkAttachmentDefinition");
    const r = netconfFor(given, nads);
    // A delegates-mode netconf is what its ADD runs; validate's stand-in would only say so.
    chosen = r.note
      ? { netconf: loadNetconf(given.conf), note: r.note, raw: given.conf, file: given.file }
      : { ...r, raw: given.conf, file: given.file };
  }
  const client = new FilesClient(objects);
  const out: Explanation[] = [];
  for (const pod of pods) {
    const uid = isJsonObject(pod.value.metadata) && typeof pod.value.metadata.uid === "string" ? pod.value.metadata.uid : undefined;
    out.push(
      await explain({
        pod: { namespace: pod.namespace, name: pod.name, ...(uid ? { uid } : {}) },
        netconf: chosen.netconf,
        ...(chosen.raw ? { raw: chosen.raw } : {}),
        netconfFile: chosen.file,
        ...(chosen.netconf.mode === "crd" ? { client } : {}),
        devices: false,
        onNode: chosen.onNode === true,
        manifest: pod,
        ...(chosen.note ? { notes: [chosen.note] } : {}),
      }),
    );
  }
  return out;
}

/** `multus explain`: one pod (--pod) or the pods of the files; exit code 1 when an ADD would fail. */
export async function runExplain(f: ParsedArgs): Promise<{ json: Record<string, unknown>; lines: string[]; exitCode: number }> {
  if (f.strings.has("pod") === f.positionals.length > 0) throw new UsageError("give --pod NAMESPACE/NAME or FILE... (one of them)");
  const pods = f.strings.has("pod")
    ? [await explainPod(f, (whichOf(f) as { pod: { namespace: string; name: string } }).pod)]
    : await explainFiles(f);
  const ok = pods.every((p) => !p.problems.some((x) => x.severity === "error"));
  const lines = pods.flatMap((p, i) => [...(i ? [""] : []), ...explanationLines(p)]);
  return { json: { ok, pods }, lines, exitCode: ok ? 0 : 1 };
}
