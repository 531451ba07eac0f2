/** The plugin's log file as the entries it holds: one JSON object a line; none when there is no file yet. */
import { existsSync, readFileSync } from "node:fs";

export type LogEntry = Record<string, unknown> & { msg?: string; containerID?: string };

export function logEntries(file: string): LogEntry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogEntry);
}
