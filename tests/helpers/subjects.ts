/**
 * Black-box cases that pin down upstream Multus's behaviour run against our
 * built plugin and, when env UPSTREAM_MULTUS names an upstream Multus binary,
 * against that one too (a developer's machine; CI has ours only). Plus a spy
 * that records what each delegate was given.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CNI_BIN, PLUGIN } from "./run-plugin.ts";

export interface Subject {
  name: "ours" | "upstream";
  bin: string;
}

const upstream = process.env.UPSTREAM_MULTUS;
export const SUBJECTS: Subject[] = [{ name: "ours", bin: PLUGIN }, ...(upstream ? [{ name: "upstream" as const, bin: upstream }] : [])];

/** What one delegate call got: verb, interface, CNI_ARGS and its stdin config. */
export interface SpiedCall {
  command: string;
  ifName: string;
  args: string;
  config: Record<string, unknown>;
}

/**
 * Plugins `mtspy-<type>` in `dir` that record each call, then run the
 * reference plugin `<type>` with the same stdin. `dir` goes first in CNI_PATH.
 */
export function spyPlugins(dir: string, types: string[]): { calls: () => SpiedCall[] } {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "calls");
  for (const type of types) {
    const file = join(dir, `mtspy-${type}`);
    writeFileSync(
      file,
      `#!/bin/sh
in=$(cat)
printf '%s\\t%s\\t%s\\t%s\\n' "$CNI_COMMAND" "$CNI_IFNAME" "$CNI_ARGS" "$(printf '%s' "$in" | tr -d '\\n')" >> ${log}
printf '%s' "$in" | exec ${CNI_BIN}/${type}
`,
    );
    chmodSync(file, 0o755);
  }
  return {
    calls: () =>
      existsSync(log)
        ? readFileSync(log, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => {
              const [command, ifName, args, config] = l.split("\t");
              return { command, ifName, args, config: JSON.parse(config) as Record<string, unknown> };
            })
        : [],
  };
}
