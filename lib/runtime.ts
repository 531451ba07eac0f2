/**
 * What differs between the runtimes the single file runs on: Bun (the
 * compiled dist/multus), Node and Deno (dist/multus.mjs). Everything else in
 * the program uses node:* APIs that all three provide.
 */
import { existsSync, realpathSync } from "node:fs";
import type { BunSpawnApi } from "./spawn.ts";

/** Bun's global when running under Bun (compiled or `bun file`), else undefined. */
export function bunRuntime(): BunSpawnApi | undefined {
  return (globalThis as { Bun?: BunSpawnApi }).Bun;
}

/**
 * Process-wide tuning for a short-lived plugin process. Under V8 (node):
 * WebAssembly (the config validator, undici's HTTP parser) is compiled by the
 * baseline compiler only: an optimizing recompile in the background would
 * make the process wait for it at exit, tens of milliseconds on every ADD,
 * for code that runs a few times. Bun (JavaScriptCore) has no such flag and
 * needs none, nor node:v8 itself (loading it there costs ~6 MiB of RSS).
 */
export async function tuneRuntime(): Promise<void> {
  if (bunRuntime()) return;
  try {
    (await import("node:v8")).setFlagsFromString("--liftoff-only");
  } catch {
    // a runtime without V8 flags (e.g. deno's node compatibility) keeps its defaults
  }
}

/**
 * The path of the running program's file: the script run by node, deno or
 * `bun file.mjs`, or the executable itself. In a Bun-compiled executable
 * argv[1] names the code inside it (/$bunfs/root/<name>, which Bun's fs
 * functions also answer for); process.execPath is the real file there.
 */
export function selfPath(): string {
  const script = process.argv[1];
  if (script && !script.startsWith("/$bunfs/") && existsSync(script)) {
    const a = realpathSync(script);
    if (a !== realpathSync(process.execPath)) return a;
  }
  return process.execPath;
}
