#!/usr/bin/env node
/** Entry point: read env, argv and stdin, dispatch, print. */
import { writeSync } from "node:fs";
import { CniError, ErrorCode, toCniError } from "./lib/cni/errors.ts";
import { CURRENT_VERSION } from "./lib/cni/version.ts";
import { dispatch, readStdin } from "./lib/dispatch.ts";
import { tuneRuntime } from "./lib/runtime.ts";
import { scrub } from "./lib/secrets.ts";
import { flushTrace, mark } from "./lib/trace.ts";

/** Everything we print passes the credential scrubber (the CLI's answers too: doctor reports API errors). */
function print(fd: number, text: string | undefined): void {
  if (text) writeSync(fd, scrub(text));
}

async function main(): Promise<number> {
  mark("main");
  await tuneRuntime();
  if (!process.env.CNI_COMMAND) {
    // The CLI for people (and node:util's parseArgs) loads only when there is no CNI call.
    const { cli } = await import("./lib/cli/index.ts");
    const human = await cli(process.argv.slice(2));
    if (human) {
      print(1, human.stdout);
      print(2, human.stderr);
      return human.exitCode;
    }
  }
  const reply = await dispatch(process.env, readStdin);
  print(1, reply.stdout);
  return reply.exitCode;
}

// Reached only when nothing is left to wait for and no answer was given (a
// library that lost track of a failed connection): an exit code 0 with no
// result would tell the runtime that the call succeeded.
process.on("beforeExit", () => {
  print(1, `${JSON.stringify(new CniError(ErrorCode.Internal, "the plugin stopped before it had an answer").toJSON(CURRENT_VERSION))}\n`);
  process.exit(1);
});

main().then(
  (code) => {
    flushTrace();
    process.exit(code);
  },
  (e: unknown) => {
    // Outside dispatch (which answers every CNI call itself): still the spec's error shape.
    print(1, `${JSON.stringify(toCniError(e).toJSON(CURRENT_VERSION))}\n`);
    process.exit(1);
  },
);
