/**
 * Which container a person means (`--container ID`, or `--pod NS/NAME`: the
 * record on this node whose CNI_ARGS name that pod), and the call context
 * the commands then run with: the record's netns, CNI_ARGS and CNI_PATH, as
 * the runtime's call gave them.
 */
import { type CacheRecord, listCachedContainers, readCache } from "../cache.ts";
import { type CniArgs, readCniArgs } from "../cni/args.ts";
import type { CommandContext } from "../commands/context.ts";
import { createLogger } from "../log.ts";
import type { NetConf } from "../netconf.ts";
import { liveNetns } from "../netns.ts";

export type Which = { container: string } | { pod: { namespace: string; name: string } };

/** The pod a record's CNI_ARGS name, if they name one (and parse). */
function podOf(rec: CacheRecord): { namespace: string; name: string } | undefined {
  try {
    return argsOf(rec).pod;
  } catch {
    return undefined;
  }
}

/** The runtime's arguments as the ADD had them (CNI_IFNAME: the cluster network's). */
function argsOf(rec: CacheRecord): CniArgs {
  const env = {
    CNI_CONTAINERID: rec.containerId,
    CNI_NETNS: rec.netns,
    CNI_IFNAME: rec.ifName,
    CNI_ARGS: rec.cniArgs,
    CNI_PATH: (rec.cniPath ?? []).join(":"),
  };
  return readCniArgs(env, "DEL");
}

/** The container's record; throws an Error saying why there is none to use. */
export function findRecord(netconf: NetConf, which: Which): CacheRecord {
  const { cniDir } = netconf;
  if ("container" in which) {
    const r = readCache(cniDir, which.container);
    if (r.state === "missing")
      throw new Error(`container ${which.container} has no cache record in ${cniDir} (multus status lists those there)`);
    if (r.state === "corrupt") throw new Error(`cache record unusable: ${r.problem}`);
    return r.record;
  }
  const { namespace, name } = which.pod;
  const found = listCachedContainers(cniDir).flatMap((id) => {
    const r = readCache(cniDir, id);
    if (r.state !== "ok") return [];
    const p = podOf(r.record);
    return p?.namespace === namespace && p.name === name ? [r.record] : [];
  });
  if (found.length === 0) throw new Error(`pod ${namespace}/${name} has no container with a cache record in ${cniDir} on this node`);
  // A pod whose sandbox was recreated may have a stale record beside its live one.
  const live = found.length > 1 ? found.filter((r) => liveNetns(r.netns)) : found;
  if (live.length !== 1) {
    throw new Error(
      `pod ${namespace}/${name} has ${found.length} containers with a record: ${found.map((r) => r.containerId).join(", ")}; give --container ID`,
    );
  }
  return live[0];
}

/** The context a command runs with for this container: its record's arguments, our netconf, its log. */
export function contextFor(netconf: NetConf, rec: CacheRecord, verb: string): CommandContext {
  const args = argsOf(rec);
  const log = createLogger({
    logToStderr: netconf.log.toStderr,
    rotation: netconf.log.rotation,
    ...(netconf.log.file ? { logFile: netconf.log.file } : {}),
    ...(netconf.log.level ? { logLevel: netconf.log.level } : {}),
  });
  const pod = args.pod;
  return { args, netconf, log: log.with({ verb, containerID: rec.containerId, ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}) }) };
}
