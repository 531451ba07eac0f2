/**
 * Options of the commands for a person, parsed by node:util's parseArgs in
 * strict mode (node, deno and bun all have it). A mistake is an Error whose
 * message names the option and points at the command's --help; the message
 * is ours, not the runtime's, so it is the same under every runtime.
 */
import { parseArgs } from "node:util";

/** A mistake in how a command was called (exit code 2), as opposed to a problem it found (1). */
export class UsageError extends Error {}

export interface ArgSpec {
  /** Options that take a value: --name VALUE or --name=VALUE. */
  strings?: readonly string[];
  /** Options that take a value and may be given more than once (--ip A --ip B). */
  lists?: readonly string[];
  /** Options that take none. */
  booleans?: readonly string[];
  /** Options that are true alone, or take an inline =true / =false (--namespace-isolation=false). */
  switches?: readonly string[];
  /** Whether arguments that are not options are allowed (validate's files). */
  positionals?: boolean;
}

export interface ParsedArgs {
  strings: Map<string, string>;
  /** Every value of each list option given, in order. */
  lists: Map<string, string[]>;
  booleans: Set<string>;
  switches: Map<string, boolean>;
  positionals: string[];
}

type Token =
  | { kind: "option"; name: string; rawName: string; value?: string; inlineValue?: boolean }
  | { kind: "positional"; value: string }
  | { kind: "option-terminator" };

/** Parse the arguments of `multus CMD`; throws a UsageError (message without the "multus CMD: " prefix) for a mistake. */
export function parseCommandArgs(cmd: string, args: readonly string[], spec: ArgSpec): ParsedArgs {
  const strings = spec.strings ?? [];
  const booleans = spec.booleans ?? [];
  const switches = spec.switches ?? [];
  const lists = spec.lists ?? [];
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const s of [...strings, ...switches]) options[s] = { type: "string" };
  for (const l of lists) options[l] = { type: "string", multiple: true };
  for (const b of booleans) options[b] = { type: "boolean" };
  // A switch alone means =true; given as a string option, its value is checked below.
  const end = args.indexOf("--");
  const argv = args.map((a, i) => ((end < 0 || i < end) && switches.some((s) => a === `--${s}`) ? `${a}=true` : a));
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals === true }) as {
      values: Record<string, string | boolean | string[] | undefined>;
      positionals: string[];
    });
  } catch (e) {
    throw new UsageError(
      `${explain(argv, options, spec.positionals === true) ?? (e as Error).message.split("\n")[0]}; see multus ${cmd} --help`,
    );
  }
  const out: ParsedArgs = { strings: new Map(), lists: new Map(), booleans: new Set(), switches: new Map(), positionals };
  for (const [k, v] of Object.entries(values)) {
    if (Array.isArray(v)) out.lists.set(k, v);
    else if (switches.includes(k)) {
      if (v !== "true" && v !== "false")
        throw new UsageError(`option --${k} takes no value, or =true or =false (got ${JSON.stringify(v)}); see multus ${cmd} --help`);
      out.switches.set(k, v === "true");
    } else if (typeof v === "string") out.strings.set(k, v);
    else if (v === true) out.booleans.add(k);
  }
  return out;
}

/** What is wrong with arguments strict parsing refused, from the tokens of a lenient parse. */
function explain(
  args: readonly string[],
  options: Record<string, { type: "string" | "boolean"; multiple?: boolean }>,
  allowPositionals: boolean,
): string | undefined {
  let tokens: Token[];
  try {
    tokens = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true }).tokens as Token[];
  } catch {
    return undefined;
  }
  for (const tok of tokens) {
    if (tok.kind === "positional") {
      if (!allowPositionals) return `unexpected argument ${tok.value}`;
      continue;
    }
    if (tok.kind !== "option") continue;
    const type = Object.hasOwn(options, tok.name) ? options[tok.name].type : undefined;
    if (type === undefined) return `unknown option ${tok.rawName}`;
    if (type === "boolean" && tok.value !== undefined) return `option ${tok.rawName} takes no value`;
    if (type === "string") {
      if (tok.value === undefined) return `option ${tok.rawName} needs a value`;
      if (!tok.inlineValue && tok.value.startsWith("-")) {
        return `option ${tok.rawName} needs a value (got ${tok.value}; write ${tok.rawName}=VALUE for a value that starts with "-")`;
      }
    }
  }
  return undefined;
}
