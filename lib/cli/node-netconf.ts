/**
 * The netconf the plugin runs with on this node, for the commands that act
 * as it would (attach, detach, explain): `--conf FILE`, else the first
 * multus config of the conf dir (the one the runtime loads; a conflist
 * gives its plugins[0], as the runtime does).
 */
import { basename, dirname } from "node:path";
import type { JsonObject } from "../json.ts";
import { loadNetconf, type NetConf } from "../netconf.ts";
import { type ConfEntry, multusEntries, readConf, readConfDir, view } from "./conf-dir.ts";

export const DEFAULT_NODE_CONF_DIR = "/etc/cni/net.d";

export interface NodeNetconf {
  /** The file it was read from. */
  file: string;
  /** Our config as the plugin gets it on stdin. */
  raw: JsonObject;
  netconf: NetConf;
}

function fromEntry(e: ConfEntry): NodeNetconf {
  if (e.kind !== "json") throw new Error(`${e.file} ${e.why}`);
  const v = view(e.value);
  if (!v) throw new Error(`${e.file} is not a multus config`);
  if ("problem" in v) throw new Error(`${e.file} ${v.problem}`);
  if (v.conf.type !== "multus") {
    throw new Error(
      `${e.file} is upstream Multus's thick plugin config (type ${JSON.stringify(v.conf.type)}): run multus install to adopt it`,
    );
  }
  try {
    return { file: e.file, raw: v.conf, netconf: loadNetconf(v.conf) };
  } catch (err) {
    throw new Error(`${e.file}: ${(err as Error).message}`);
  }
}

/** `conf`: a file given; else the first multus config in `confDir`. */
export function nodeNetconf({ conf, confDir = DEFAULT_NODE_CONF_DIR }: { conf?: string; confDir?: string }): NodeNetconf {
  if (conf) {
    const e = readConf(dirname(conf), basename(conf));
    if (!e) throw new Error(`${conf} does not exist`);
    return fromEntry(e);
  }
  const [first] = multusEntries(readConfDir(confDir));
  if (!first) throw new Error(`no multus config in ${confDir}: give the netconf with --conf FILE (or the dir with --conf-dir)`);
  return fromEntry(first);
}
