/**
 * Stand-ins for plugins that are not installed here (calico, cilium-cni,
 * sriov ...): one executable per plugin type in a temp dir, each recording
 * its stdin and CNI_* environment and answering ADD with its prevResult, or
 * with a minimal result in the config's cniVersion.
 */
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Tap, tempDir } from "./netns.ts";

export interface PluginCall {
  type: string;
  command: string;
  env: Record<string, string>;
  /** The config the plugin was given, parsed. */
  stdin: Record<string, unknown>;
}

export interface RecordingPlugins {
  /** Put this dir first in CNI_PATH (or use it as binDir). */
  dir: string;
  /** Every call so far, in the order they started. */
  calls(): PluginCall[];
}

const script = (type: string, recordDir: string) => `#!${process.execPath}
const fs = require("node:fs");
const path = require("node:path");
const input = fs.readFileSync(0, "utf8");
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("CNI_")));
const name = String(process.hrtime.bigint()).padStart(24, "0") + "-" + process.pid + ".json";
fs.writeFileSync(path.join(${JSON.stringify(recordDir)}, name), JSON.stringify({ type: ${JSON.stringify(type)}, command: env.CNI_COMMAND, env, stdin: JSON.parse(input) }));
if (env.CNI_COMMAND === "ADD") {
  const conf = JSON.parse(input);
  const v = conf.cniVersion;
  const legacy = v === "0.1.0" || v === "0.2.0";
  const ip = { address: "10.199.0.2/24", ...(v.startsWith("0.") ? { version: "4" } : {}), interface: 0 };
  const minimal = legacy
    ? { cniVersion: v, ip4: { ip: "10.199.0.2/24" } }
    : { cniVersion: v, interfaces: [{ name: env.CNI_IFNAME, sandbox: env.CNI_NETNS }], ips: [ip] };
  process.stdout.write(JSON.stringify(conf.prevResult ?? minimal));
}
`;

/** One recording plugin per type, removed at teardown. */
export function recordingPlugins(t: Tap, types: Iterable<string>): RecordingPlugins {
  const dir = tempDir(t, "mtstub-");
  const records = tempDir(t, "mtstub-calls-");
  for (const type of new Set(types)) {
    const file = join(dir, type);
    writeFileSync(file, script(type, records));
    chmodSync(file, 0o755);
  }
  return {
    dir,
    calls: () =>
      readdirSync(records)
        .sort()
        .map((f) => JSON.parse(readFileSync(join(records, f), "utf8")) as PluginCall),
  };
}
