/**
 * Structured one-line log entries (JSON) to `logFile` and/or stderr, at
 * `logLevel` (error, info, debug). Every entry carries the verb, container
 * ID and pod; secrets are redacted here, in the one place that writes.
 * With no sink configured nothing is formatted at all. The file is rotated
 * by size (`logOptions`, ./log-file.ts).
 */
import { LogFile } from "./log-file.ts";
import { DEFAULT_LOG_ROTATION, type LogRotation } from "./netconf.ts";
import { scrub } from "./secrets.ts";

export type Level = "error" | "info" | "debug";

const RANK: Record<Level, number> = { error: 0, info: 1, debug: 2 };

export interface LogContext {
  verb?: string;
  containerID?: string;
  pod?: string;
}

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Is this level written? Lets callers skip building costly fields. */
  enabled(level: Level): boolean;
  with(ctx: LogContext): Logger;
}

export interface LogOptions {
  logFile?: string;
  logLevel?: string;
  logToStderr?: boolean;
  /** Of `logFile`; upstream's bound when absent. */
  rotation?: LogRotation;
}

const SECRET_KEY =
  /token|password|passwd|secret|credential|authorization|private|^key$|-key$|keydata|key-data|certificate-data|cert-data|client-key/i;
const SECRET_TEXT: [RegExp, string][] = [
  [/(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[redacted private key]"],
  [/("(?:token|password|client-key-data|client-certificate-data)"\s*:\s*)"[^"]*"/gi, '$1"[redacted]"'],
  [/((?:token|password)=)[^;&\s]+/gi, "$1[redacted]"],
];

/** Redact secrets from any value before it is written: the credentials we hold (lib/secrets.ts), and anything shaped like one. */
export function redact(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return SECRET_TEXT.reduce((s, [re, to]) => s.replace(re, to), scrub(v));
  if (depth > 8 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) && x !== "" ? "[redacted]" : redact(x, depth + 1);
  return out;
}

export function parseLevel(v: unknown): Level {
  switch (v) {
    case "debug":
    case "verbose":
      return "debug";
    case "info":
      return "info";
    default:
      // "error", "panic" (upstream's default) and anything unknown
      return "error";
  }
}

const silent: Logger = {
  error() {},
  info() {},
  debug() {},
  enabled: () => false,
  with: () => silent,
};

export function createLogger(o: LogOptions): Logger {
  if (!o.logFile && !o.logToStderr) return silent;
  const level = parseLevel(o.logLevel);
  const file = o.logFile ? new LogFile(o.logFile, o.rotation ?? DEFAULT_LOG_ROTATION) : undefined;
  const make = (ctx: LogContext): Logger => {
    const write = (lv: Level, msg: string, fields?: Record<string, unknown>) => {
      if (RANK[lv] > RANK[level]) return;
      const entry = redact({ ts: new Date().toISOString(), level: lv, ...ctx, msg, ...fields });
      const line = `${JSON.stringify(entry)}\n`;
      if (file) {
        try {
          file.write(line);
        } catch {
          // a broken log file must never fail the pod's networking
        }
      }
      if (o.logToStderr) process.stderr.write(line);
    };
    return {
      error: (m, f) => write("error", m, f),
      info: (m, f) => write("info", m, f),
      debug: (m, f) => write("debug", m, f),
      enabled: (lv) => RANK[lv] <= RANK[level],
      with: (more) => make({ ...ctx, ...more }),
    };
  };
  return make({});
}

export const NO_LOG = silent;
