/**
 * A CNI plugin that speaks 1.1.0 and only records: every call (verb, env,
 * the config it got on stdin) becomes one line of a file the test reads.
 * The reference plugins stop at 1.0.0, so STATUS and GC never reach them;
 * this one shows what a delegate is sent. ADD answers an empty result; DEL
 * and GC do nothing; STATUS fails with the code `failStatus` sets.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Tap, tempDir } from "./netns.ts";
import { CNI_BIN } from "./run-plugin.ts";

export interface RecordedCall {
  command: string;
  containerID: string;
  ifname: string;
  netns: string;
  /** The config on stdin. */
  config: Record<string, unknown>;
}

export interface Recorder {
  /** CNI_PATH with the recorder first, then the reference plugins. */
  path: string;
  /** The plugin's type (its file name). */
  type: string;
  /** A delegate config of this plugin. */
  conf(name: string, cniVersion?: string, extra?: Record<string, unknown>): Record<string, unknown>;
  calls(command?: string): RecordedCall[];
  /** From now on STATUS answers this CNI error (undefined: success again). */
  failStatus(code: number | undefined, msg?: string): void;
}

export function recorder(t: Tap, type = "mtrecorder"): Recorder {
  const dir = tempDir(t);
  const log = join(dir, "calls");
  const status = join(dir, "status-error");
  const script = `#!/bin/sh
conf=$(cat)
printf '{"command":"%s","containerID":"%s","ifname":"%s","netns":"%s","config":%s}\\n' \\
  "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "$CNI_NETNS" "$conf" >> ${log}
case "$CNI_COMMAND" in
  ADD) echo '{"cniVersion":"1.1.0","interfaces":[],"ips":[]}' ;;
  STATUS) if [ -e ${status} ]; then cat ${status}; exit 1; fi ;;
esac
exit 0
`;
  writeFileSync(join(dir, type), script);
  chmodSync(join(dir, type), 0o755);
  return {
    path: `${dir}:${CNI_BIN}`,
    type,
    conf: (name, cniVersion = "1.1.0", extra = {}) => ({ cniVersion, name, type, ...extra }),
    calls: (command) => {
      if (!existsSync(log)) return [];
      const all = readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as RecordedCall);
      return command ? all.filter((c) => c.command === command) : all;
    },
    failStatus: (code, msg = "not ready") => {
      if (code === undefined) rmSync(status, { force: true });
      else writeFileSync(status, JSON.stringify({ cniVersion: "1.1.0", code, msg }));
    },
  };
}
