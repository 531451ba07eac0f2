/**
 * Where one call's time goes, for `npm run bench` (docs/performance.md):
 * with MULTUS_TRACE naming a file, the process appends one JSON line at
 * exit, `{"pid", "marks": [[what, ms since the process started], ...]}`.
 * Without it a mark costs one comparison. Labels name steps (the verb, a
 * plugin type, an API method and path), never values of a config.
 */
import { appendFileSync } from "node:fs";

const file = process.env.MULTUS_TRACE;
const marks: [string, number][] | undefined = file ? [] : undefined;

export function mark(what: string): void {
  marks?.push([what, performance.now()]);
}

/** Called once, just before the process exits. */
export function flushTrace(): void {
  if (!file || !marks) return;
  mark("exit");
  try {
    appendFileSync(file, `${JSON.stringify({ pid: process.pid, marks })}\n`, { mode: 0o600 });
  } catch {
    // a trace is never worth a failed call
  }
}
