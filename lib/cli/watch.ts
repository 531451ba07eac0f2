/**
 * `multus install --watch`: the DaemonSet's main process. It keeps our conf
 * in step with the cluster network's conf, which flannel or calico write at
 * start and rewrite on upgrade.
 *
 *   1. wait for the readiness indicator (--readiness-indicator-file), if
 *      any, before writing anything;
 *   2. write the generated kubeconfig and token copy (--generate-kubeconfig);
 *   3. run the same install as a one-shot `multus install` (binary + conf,
 *      merged: delegates[0] from the first non-multus conf, the user's
 *      delegates and settings kept);
 *   4. watch the conf dir (fs.watch, plus a re-scan every --rescan-interval
 *      seconds in case an event is missed; bursts of events are debounced)
 *      and re-run the conf part of step 3 when the first non-multus conf's
 *      name or content changed, or our conf went missing. A conf that is not
 *      valid JSON yet (half written) or no cluster conf at all leaves ours as
 *      it is, and says so. The service account dir is watched the same way,
 *      and the token copy rewritten when the projected token rotates;
 *   5. on SIGTERM/SIGINT: with --cleanup-on-exit remove our conf and the
 *      generated kubeconfig and token, then exit 0.
 *
 * One line on stderr per action.
 */
import { existsSync, type FSWatcher, watch as fsWatch, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { byName, confFiles } from "../files.ts";
import { isJsonObject } from "../json.ts";
import { confNameOf, type InstallOptions, install, MARKER } from "./install.ts";
import { removeGenerated, syncKubeconfig } from "./serviceaccount.ts";

export interface WatchOptions extends Omit<InstallOptions, "dryRun" | "confOnly" | "forceOrder"> {
  cleanupOnExit: boolean;
  /** --generate-kubeconfig: the service account dir to generate it from. */
  serviceAccountDir?: string;
  /** The safety-net re-scan. */
  rescanMs: number;
  /** Events closer together than this are one change. */
  debounceMs?: number;
  log?: (line: string) => void;
}

export const logLine = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
};

/** SIGTERM/SIGINT, turned into a value to wait for. */
class StopSignal {
  signal: NodeJS.Signals | undefined;
  private waiters: (() => void)[] = [];
  private readonly handlers: [NodeJS.Signals, () => void][] = [];

  constructor() {
    for (const s of ["SIGTERM", "SIGINT"] as const) {
      const h = () => this.trigger(s);
      process.on(s, h);
      this.handlers.push([s, h]);
    }
  }

  private trigger(s: NodeJS.Signals): void {
    this.signal ??= s;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves after `ms`, or at once when a signal comes. */
  sleep(ms: number): Promise<void> {
    if (this.signal) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.push(done);
    });
  }

  /** Resolves when a signal comes (something else must keep the event loop alive). */
  wait(): Promise<void> {
    return this.signal ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  dispose(): void {
    for (const [s, h] of this.handlers) process.off(s, h);
  }
}

/** Wait until `file` exists; false when a signal came first. */
async function waitForFile(file: string, stop: StopSignal, pollMs = 200): Promise<boolean> {
  while (!existsSync(file)) {
    if (stop.signal) return false;
    await stop.sleep(pollMs);
  }
  return !stop.signal;
}

/** One-shot install's readiness wait (no signal handling: the default, exit, is right there). */
export async function waitForReadiness(file: string, log: (line: string) => void): Promise<void> {
  if (existsSync(file)) return;
  log(`waiting for the readiness indicator ${file} before writing anything`);
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 200));
}

type ClusterState = { kind: "found"; file: string; text: string } | { kind: "unparsable"; file: string } | { kind: "none" };

/**
 * The cluster network's conf as install would pick it (the first
 * .conf/.conflist/.json by name that is not ours and not multus), except
 * that a candidate that is not a JSON object stops the search: it is most
 * likely being written (truncated, then filled), and the next conf in line
 * is not the cluster network.
 */
function clusterState(confDir: string, confName: string): ClusterState {
  for (const n of confFiles(confDir)) {
    if (n === confName) continue;
    const file = join(confDir, n);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // gone between the listing and the read
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return { kind: "unparsable", file };
    }
    if (!isJsonObject(v)) return { kind: "unparsable", file };
    if (v.type === "multus" || isJsonObject(v[MARKER])) continue;
    return { kind: "found", file, text };
  }
  return { kind: "none" };
}

/** install's output as log lines: a headline and its indented details make one line. */
function actions(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith("  ") && out.length) out[out.length - 1] += `; ${l.trim()}`;
    else out.push(l);
  }
  return out;
}

const isUnchanged = (action: string) => /^\S+: unchanged(\s|$)/.test(action);

function isOurs(file: string): boolean {
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    return isJsonObject(v) && isJsonObject(v[MARKER]);
  } catch {
    return false;
  }
}

/** Runs until SIGTERM/SIGINT; returns the exit code. Throws for what makes starting pointless (a service account that cannot be read). */
export async function watchInstall(o: WatchOptions): Promise<number> {
  const log = o.log ?? logLine;
  const confName = confNameOf(o);
  const confFile = join(o.confDir, confName);
  const debounceMs = o.debounceMs ?? 200;
  const stop = new StopSignal();
  const watchers = new Map<string, FSWatcher>();
  let debounce: NodeJS.Timeout | undefined;
  let rescan: NodeJS.Timeout | undefined;
  try {
    if (o.readinessFile && !existsSync(o.readinessFile)) {
      log(`waiting for the readiness indicator ${o.readinessFile} before writing anything`);
      if (!(await waitForFile(o.readinessFile, stop))) return finish();
      log(`readiness indicator ${o.readinessFile} exists`);
    }
    if (stop.signal) return finish();

    // Messages about a lasting state are said once, until the state changes.
    const said = new Map<string, string>();
    const once = (topic: string, msg: string) => {
      if (said.get(topic) !== msg) log(msg);
      said.set(topic, msg);
    };

    const syncSa = (first: boolean) => {
      if (!o.serviceAccountDir) return;
      try {
        for (const a of syncKubeconfig(o.confDir, o.serviceAccountDir).actions) if (first || !isUnchanged(a)) log(a);
        said.delete("sa");
      } catch (e) {
        if (first) throw e;
        once("sa", `error: ${(e as Error).message} (keeping the kubeconfig and token as they are)`);
      }
    };
    syncSa(true);

    let binInstalled = false;
    let lastSeen: string | undefined;
    let lastOk = false;
    const evaluate = (first = false) => {
      if (stop.signal) return;
      syncSa(false);
      const st = clusterState(o.confDir, confName);
      if (st.kind === "unparsable") {
        once("cluster", `${st.file} is not valid JSON (being written?): keeping ${confFile} as it is until it is`);
        return;
      }
      if (st.kind === "none") {
        once(
          "cluster",
          existsSync(confFile)
            ? `no cluster network config in ${o.confDir} any more: keeping ${confFile} as it is`
            : `no cluster network config in ${o.confDir} yet: waiting for the cluster network to write one`,
        );
        return;
      }
      said.delete("cluster");
      const before = confFiles(o.confDir).filter((n) => byName(n, confName) < 0);
      const seen = JSON.stringify([st.file, st.text, existsSync(confFile), before]);
      if (seen === lastSeen && lastOk) return;
      lastSeen = seen;
      try {
        const lines = install({
          ...o,
          dryRun: false,
          confOnly: binInstalled,
          // --force overwrites what is in the way once; later passes merge, so the user's delegates stay.
          force: binInstalled ? false : o.force,
          forceOrder: o.force,
        });
        const firstPass = !binInstalled;
        binInstalled = true;
        lastOk = true;
        said.delete("error");
        for (const a of actions(lines)) if (first || firstPass || !isUnchanged(a)) log(a);
      } catch (e) {
        lastOk = false;
        once("error", `error: ${(e as Error).message}`);
      }
    };
    const schedule = () => {
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        evaluate();
      }, debounceMs);
    };
    const watchDir = (dir: string) => {
      if (watchers.has(dir)) return;
      try {
        const w = fsWatch(dir, { persistent: true }, schedule);
        w.on("error", (e) => {
          once(`watch ${dir}`, `cannot watch ${dir} any more (${e.message}): relying on the re-scan until it can`);
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
        said.delete(`watch ${dir}`);
      } catch (e) {
        once(
          `watch ${dir}`,
          `cannot watch ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): relying on the re-scan until it can`,
        );
      }
    };
    const dirs = [o.confDir, ...(o.serviceAccountDir ? [o.serviceAccountDir] : [])];
    for (const d of dirs) watchDir(d);
    evaluate(true);
    log(
      `watching ${o.confDir} for the cluster network's config${o.serviceAccountDir ? ` and ${o.serviceAccountDir} for token rotation` : ""} (re-scan every ${o.rescanMs / 1000}s)`,
    );
    rescan = setInterval(() => {
      for (const d of dirs) watchDir(d);
      evaluate();
    }, o.rescanMs);
    await stop.wait();
    return finish();
  } finally {
    if (debounce) clearTimeout(debounce);
    if (rescan) clearInterval(rescan);
    for (const w of watchers.values()) w.close();
    stop.dispose();
  }

  function finish(): number {
    const sig = stop.signal ?? "a stop";
    if (!o.cleanupOnExit) {
      log(`received ${sig}: leaving ${confFile}${o.serviceAccountDir ? " and the generated kubeconfig" : ""} in place; exiting`);
      return 0;
    }
    const removed: string[] = [];
    const kept: string[] = [];
    if (existsSync(confFile)) {
      if (isOurs(confFile)) {
        rmSync(confFile, { force: true });
        removed.push(confFile);
      } else kept.push(`${confFile} (not written by multus install)`);
    }
    if (o.serviceAccountDir) removed.push(...removeGenerated(o.confDir));
    log(
      `received ${sig}: ${removed.length ? `removed ${removed.join(", ")}` : "nothing to remove"}${kept.length ? `; left ${kept.join(", ")}` : ""}; exiting`,
    );
    return 0;
  }
}
