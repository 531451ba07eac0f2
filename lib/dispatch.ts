/**
 * The CNI skeleton: verb → command, version gates, one place where any error
 * becomes the spec's error object.
 */
import { type Verb, readCniArgs, readVerb } from "./cni/args.ts";
import { CniError, ErrorCode, toCniError } from "./cni/errors.ts";
import { CURRENT_VERSION, versionAllows } from "./cni/version.ts";
import { decodeNetconf, loadNetconf, peekVersion } from "./netconf.ts";
import type { JsonObject } from "./delegate.ts";
import type { CommandContext } from "./commands/context.ts";

export interface Reply {
  /** What goes to stdout ("" for none). */
  stdout: string;
  exitCode: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

async function run(verb: Verb, env: Env, raw: JsonObject): Promise<unknown> {
  const args = readCniArgs(env, verb);
  const netconf = loadNetconf(raw);
  if (verb === "CHECK" || verb === "GC" || verb === "STATUS") {
    if (!versionAllows(netconf.cniVersion, verb)) {
      throw new CniError(ErrorCode.IncompatibleVersion, `config version does not allow ${verb}`, `config is "${netconf.cniVersion}"`);
    }
  }
  const ctx: CommandContext = { args, netconf };
  // Each verb is loaded on demand so a DEL does not pay for ADD's code paths.
  switch (verb) {
    case "ADD":
      return (await import("./commands/add.ts")).add(ctx);
    case "DEL":
      return (await import("./commands/del.ts")).del(ctx);
    case "CHECK":
      return (await import("./commands/check.ts")).check(ctx);
    case "STATUS":
      return (await import("./commands/status.ts")).status(ctx);
    case "GC":
      return (await import("./commands/gc.ts")).gc(ctx);
    case "VERSION":
      throw new Error("unreachable");
  }
}

/**
 * Answer one CNI invocation. `readStdin` is called only for verbs that take a
 * config.
 */
export async function dispatch(env: Env, readStdin: () => Uint8Array): Promise<Reply> {
  let raw: JsonObject | undefined;
  try {
    const verb = readVerb(env);
    if (verb === undefined) {
      throw new CniError(ErrorCode.InvalidEnvironment, "required env variables [CNI_COMMAND] missing", "run with --help for usage");
    }
    if (verb === "VERSION") {
      const { version } = await import("./commands/version.ts");
      return { stdout: json(version()), exitCode: 0 };
    }
    const bytes = readStdin();
    try {
      raw = decodeNetconf(bytes);
    } catch (e) {
      // The spec checks the environment before the config.
      readCniArgs(env, verb);
      throw e;
    }
    const result = await run(verb, env, raw);
    return { stdout: result === undefined ? "" : json(result), exitCode: 0 };
  } catch (e) {
    const err = toCniError(e);
    return { stdout: json(err.toJSON(peekVersion(raw) ?? CURRENT_VERSION)), exitCode: 1 };
  }
}
