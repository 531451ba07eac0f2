/**
 * Process-wide tuning for a short-lived plugin process. WebAssembly (the
 * config validator, undici's HTTP parser) is compiled by the baseline
 * compiler only: an optimizing recompile in the background would make the
 * process wait for it at exit, tens of milliseconds on every ADD, for code
 * that runs a few times.
 */
import { setFlagsFromString } from "node:v8";

export function tuneRuntime(): void {
  try {
    setFlagsFromString("--liftoff-only");
  } catch {
    // a runtime without V8 flags (e.g. deno's node compatibility) keeps its defaults
  }
}
