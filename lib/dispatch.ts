/**
 * The CNI skeleton: verb → command, version gates, one place where any error
 * becomes the spec's error object.
 */
import { type CniArgs, readCniArgs, readVerb, type Verb } from "./cni/args.ts";
import { CniError, ErrorCode, toCniError } from "./cni/errors.ts";
import { CURRENT_VERSION, versionAllows } from "./cni/version.ts";
import type { CommandContext } from "./commands/context.ts";
import { readStream } from "./files.ts";
import type { JsonObject } from "./json.ts";
import { createLogger, type Logger, NO_LOG } from "./log.ts";
import { checkVersion, decodeNetconf, loadNetconf, peekVersion, readLogSection } from "./netconf.ts";
import { DELEGATE_MARK } from "./proc.ts";
import { scrub } from "./secrets.ts";
import { mark } from "./trace.ts";

export interface Reply {
  /** What goes to stdout ("" for none). */
  stdout: string;
  exitCode: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** What goes to stdout: never a credential we hold, even one an API server repeated in an error. */
function json(v: unknown): string {
  return scrub(`${JSON.stringify(v, null, 2)}\n`);
}

function loggerFor(raw: JsonObject, env: Env, verb: Verb, args: CniArgs | undefined): Logger {
  const section = readLogSection(raw);
  const log = createLogger({
    logFile: section.file,
    logLevel: section.level,
    logToStderr: section.toStderr,
    rotation: section.rotation,
  });
  if (!log.enabled("error")) return log;
  const pod = args?.pod;
  return log.with({ verb, containerID: env.CNI_CONTAINERID, ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}) });
}

/** A verb's module, marked for the trace once loaded (its chunk is compiled code read from the executable). */
const loaded = <T>(module: T): T => {
  mark("verb's code loaded");
  return module;
};

async function run(verb: Verb, args: CniArgs, raw: JsonObject, text: string, log: Logger): Promise<unknown> {
  checkVersion(raw);
  // Every problem of the config at once, before anything runs; an ADD logs
  // its warnings. A DEL or GC is never blocked by it (the cache record says
  // what to remove): there its findings only go to the log, so it runs only
  // when there is a log.
  if (verb !== "DEL" && verb !== "GC") {
    (await import("./validate.ts")).assertValid({ netconf: raw }, { netconfText: text, ...(verb === "ADD" ? { log } : {}) });
  } else if (log.enabled("error")) {
    const { validateInput, problemLine } = await import("./validate.ts");
    const a = validateInput({ netconf: raw });
    if (a.type === "invalid") log.error("config problems (not blocking teardown)", { problems: a.errors.map(problemLine) });
  }
  mark("validated");
  const netconf = loadNetconf(raw, { teardown: verb === "DEL" || verb === "GC" });
  mark("netconf read");
  if (log.enabled("debug")) log.debug("netconf", { netconf: raw, ifName: args.ifName, netns: args.netns });
  if (verb === "CHECK" || verb === "GC" || verb === "STATUS") {
    if (!versionAllows(netconf.cniVersion, verb)) {
      throw new CniError(ErrorCode.IncompatibleVersion, `config version does not allow ${verb}`, `config is "${netconf.cniVersion}"`);
    }
  }
  const ctx: CommandContext = { args, netconf, log };
  // Each verb is loaded on demand so a DEL does not pay for ADD's code paths.
  switch (verb) {
    case "ADD":
      return loaded(await import("./commands/add.ts")).add(ctx);
    case "DEL":
      return loaded(await import("./commands/del.ts")).del(ctx);
    case "CHECK":
      return loaded(await import("./commands/check.ts")).check(ctx);
    case "STATUS":
      return loaded(await import("./commands/status.ts")).status(ctx);
    case "GC":
      return loaded(await import("./commands/gc.ts")).gc(ctx);
    case "VERSION":
      throw new Error("unreachable");
  }
}

/** The netconf on stdin, capped like every file we read: a bigger (or endless) stdin is a decoding error. */
export function readStdin(): Uint8Array {
  try {
    return readStream(0, "stdin");
  } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, `cannot read the network config: ${(e as Error).message}`);
  }
}

/**
 * A call from inside one of our own calls (the delegate mark it inherited
 * says so): a Multus reached as a delegate, under any name. Answered at
 * once, before the config is read or the container's lock (which the
 * parent holds) is waited for. An ADD, CHECK or STATUS is refused; a DEL or
 * GC does nothing and succeeds, so that a teardown never loops.
 */
function calledByMultus(verb: Verb, parent: string, log: Logger): Reply {
  const pid = parent.split(":")[0];
  const what = `multus was called as a delegate of multus (pid ${pid})`;
  if (verb === "DEL" || verb === "GC") {
    log.info(`${what}: ${verb} does nothing, so that no teardown recurses`);
    return { stdout: "", exitCode: 0 };
  }
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `${what}: a Multus is never a delegate`,
    "remove the network whose plugin is a Multus",
  );
}

/**
 * Answer one CNI invocation. `readStdin` is called only for verbs that take a
 * config.
 */
export async function dispatch(env: Env, readStdin: () => Uint8Array): Promise<Reply> {
  let raw: JsonObject | undefined;
  let log: Logger = NO_LOG;
  try {
    const verb = readVerb(env);
    if (verb === undefined) {
      throw new CniError(ErrorCode.InvalidEnvironment, "required env variables [CNI_COMMAND] missing", "run with --help for usage");
    }
    if (verb === "VERSION") {
      const { version } = await import("./commands/version.ts");
      return { stdout: json(version()), exitCode: 0 };
    }
    // The spec checks the environment before the config; CNI_ARGS is parsed here, once.
    let args: CniArgs | undefined;
    let envError: unknown;
    try {
      args = readCniArgs(env, verb);
    } catch (e) {
      envError = e;
    }
    const text = Buffer.from(readStdin()).toString("utf8");
    try {
      raw = decodeNetconf(text);
    } catch (e) {
      throw envError ?? e;
    }
    log = loggerFor(raw, env, verb, args);
    if (!args) throw envError;
    const parent = env[DELEGATE_MARK];
    if (parent) return calledByMultus(verb, parent, log);
    mark(`${verb} parsed`);
    const started = Date.now();
    const result = await run(verb, args, raw, text, log);
    mark(`${verb} done`);
    log.info(`${verb} done`, { ms: Date.now() - started });
    return { stdout: result === undefined ? "" : json(result), exitCode: 0 };
  } catch (e) {
    const err = toCniError(e);
    log.error(err.message, { code: err.code, ...(err.details ? { details: err.details } : {}) });
    return { stdout: json(err.toJSON(peekVersion(raw) ?? CURRENT_VERSION)), exitCode: 1 };
  }
}
