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
import { existsSync, type FSWatcher, watch as fsWatch, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { awaitIndicator } from "../readiness.ts";
import { isOurs as isOursConf, readConf, sortingBefore } from "./conf-dir.ts";
import { clusterNetworkIn, confNameOf, type InstallOptions, installPlanned, planConfDir } from "./install.ts";
import { removeGenerated, syncKubeconfig } from "./serviceaccount.ts";

export interface WatchOptions extends Omit<InstallOptions, "dryRun" | "confOnly" | "forceOrder"> {
  cleanupOnExit: boolean;
  /** --generate-kubeconfig: the service account dir to generate it from. */
  serviceAccountDir?: string;
  /** The safety-net re-scan. */
  rescanMs: number;
  /** --readiness-timeout: how long to wait for the readiness indicator (default: as long as it takes). */
  readinessTimeoutMs?: number;
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
  /** Ended by the program itself (an install that failed), not by a signal. */
  aborted = false;
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

  abort(): void {
    this.aborted = true;
    for (const w of this.waiters.splice(0)) w();
  }

  get ended(): boolean {
    return this.signal !== undefined || this.aborted;
  }

  /** Resolves after `ms`, or at once when a signal comes. */
  sleep(ms: number): Promise<void> {
    if (this.ended) return Promise.resolve();
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
    return this.ended ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  dispose(): void {
    for (const [s, h] of this.handlers) process.off(s, h);
  }
}

/** One-shot install's readiness wait (no signal handling: the default, exit, is right there). */
export async function waitForReadiness(file: string, log: (line: string) => void, o: { readinessTimeoutMs?: number } = {}): Promise<void> {
  await awaitIndicator(file, { progress: log, ...(o.readinessTimeoutMs !== undefined ? { timeoutMs: o.readinessTimeoutMs } : {}) });
}

/**
 * The cluster network's conf as install would pick it, and the file our
 * conf is (fixed once written, else install's choice), except that a
 * candidate that is not a JSON object stops the search: it is most likely
 * being written (truncated, then filled), and the next conf in line is not
 * the cluster network.
 */
function clusterState(o: WatchOptions, confName: string | undefined) {
  const plan = planConfDir({ ...o, ...(confName ? { confName } : {}) });
  return { plan, ...clusterNetworkIn(plan.entries, plan.target, plan.chosen, true) };
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

function isOurs(confDir: string, name: string): boolean {
  const e = readConf(confDir, name);
  return e?.kind === "json" && isOursConf(e.value);
}

/** Runs until SIGTERM/SIGINT; returns the exit code. Throws for what makes starting pointless (a service account that cannot be read). */
export async function watchInstall(o: WatchOptions): Promise<number> {
  const w = new ConfWatcher(o);
  try {
    return await w.run();
  } finally {
    w.dispose();
  }
}

/**
 * The watch loop's state and its steps: wait for readiness, keep the
 * generated kubeconfig in step with the service account, re-merge our conf
 * when the cluster network's changes (debounced events plus a periodic
 * re-scan), and clean up on the way out.
 */
class ConfWatcher {
  private readonly log: (line: string) => void;
  /** Our conf's name: given, or fixed by the first install (which may adopt an existing multus config in place). */
  private confName: string | undefined;
  private readonly stop = new StopSignal();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly dirs: string[];
  private debounce: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  /** Messages about a lasting state are said once, until the state changes. */
  private readonly said = new Map<string, string>();
  private binInstalled = false;
  private lastSeen: string | undefined;
  private error: string | undefined;

  constructor(private readonly o: WatchOptions) {
    this.log = o.log ?? logLine;
    this.confName = confNameOf(o);
    this.dirs = [o.confDir, ...(o.serviceAccountDir ? [o.serviceAccountDir] : [])];
  }

  async run(): Promise<number> {
    const { o } = this;
    if (o.readinessFile && !existsSync(o.readinessFile)) {
      const ready = await awaitIndicator(o.readinessFile, {
        progress: this.log,
        sleep: (ms) => this.stop.sleep(ms),
        stopped: () => this.stop.signal !== undefined,
        ...(o.readinessTimeoutMs !== undefined ? { timeoutMs: o.readinessTimeoutMs } : {}),
      });
      if (!ready) return this.finish();
      this.log(`readiness indicator ${o.readinessFile} exists`);
    }
    if (this.stop.ended) return this.finish();
    this.syncServiceAccount(true);
    for (const d of this.dirs) this.watchDir(d);
    this.evaluate(true);
    this.log(
      `watching ${o.confDir} for the cluster network's config${o.serviceAccountDir ? ` and ${o.serviceAccountDir} for token rotation` : ""} (re-scan every ${o.rescanMs / 1000}s)`,
    );
    this.rescan = setInterval(() => {
      for (const d of this.dirs) this.watchDir(d);
      this.evaluate();
    }, o.rescanMs);
    await this.stop.wait();
    return this.finish();
  }

  dispose(): void {
    if (this.debounce) clearTimeout(this.debounce);
    if (this.rescan) clearInterval(this.rescan);
    for (const w of this.watchers.values()) w.close();
    this.stop.dispose();
  }

  private once(topic: string, msg: string): void {
    if (this.said.get(topic) !== msg) this.log(msg);
    this.said.set(topic, msg);
  }

  /** The generated kubeconfig and token copy; a failure at start is fatal, later it is reported once. */
  private syncServiceAccount(first: boolean): void {
    if (!this.o.serviceAccountDir) return;
    try {
      for (const a of syncKubeconfig(this.o.confDir, this.o.serviceAccountDir).actions) if (first || !isUnchanged(a)) this.log(a);
      this.said.delete("sa");
    } catch (e) {
      if (first) throw e;
      this.once("sa", `error: ${(e as Error).message} (keeping the kubeconfig and token as they are)`);
    }
  }

  /** Re-merge our conf if what it depends on changed (the cluster conf, ours being there, what sorts first). */
  private evaluate(first = false): void {
    const { o } = this;
    if (this.stop.ended) return;
    this.syncServiceAccount(false);
    const { plan, state: st, skipped } = clusterState(o, this.confName);
    const confFile = join(o.confDir, plan.target);
    for (const w of skipped) this.once(`skipped ${w}`, `warning: ${w}`);
    if (st.kind === "unparsable") {
      this.once("cluster", `${st.file} is not valid JSON (being written?): keeping ${confFile} as it is until it is`);
      return;
    }
    if (st.kind === "problem" && plan.chosen && !plan.entries.some((e) => e.name === plan.chosen)) {
      this.once("cluster", `${st.why}: waiting for it, keeping ${confFile} as it is`);
      return;
    }
    if (st.kind === "none") {
      this.once(
        "cluster",
        existsSync(confFile)
          ? `no cluster network config in ${o.confDir} any more: keeping ${confFile} as it is`
          : `no cluster network config in ${o.confDir} yet: waiting for the cluster network to write one`,
      );
      return;
    }
    this.said.delete("cluster");
    const before = sortingBefore(plan.entries, plan.target).map((e) => e.name);
    const others = plan.aside.map((e) => e.name);
    const seen = JSON.stringify([st.kind === "found" ? [st.file, st.text] : st.why, existsSync(confFile), before, others]);
    if (seen === this.lastSeen) return;
    this.lastSeen = seen;
    try {
      const r = installPlanned({
        ...o,
        ...(this.confName ? { confName: this.confName } : {}),
        dryRun: false,
        confOnly: this.binInstalled,
        // --force overwrites what is in the way once; later passes merge, so the user's delegates stay.
        force: this.binInstalled ? false : o.force,
        forceOrder: o.force,
      });
      const firstPass = !this.binInstalled;
      this.binInstalled = true;
      this.confName = basename(r.confFile);
      for (const a of actions(r.lines)) if (first || firstPass || !isUnchanged(a)) this.log(a);
    } catch (e) {
      // Not installed is not healthy: exit, so that the pod restarts (and shows it) and the next start tries again.
      this.error = (e as Error).message;
      this.stop.abort();
    }
  }

  /** A burst of events is one evaluation. */
  private readonly schedule = (): void => {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.evaluate();
    }, this.o.debounceMs ?? 200);
  };

  private watchDir(dir: string): void {
    if (this.watchers.has(dir)) return;
    try {
      const w = fsWatch(dir, { persistent: true }, this.schedule);
      w.on("error", (e) => {
        this.once(`watch ${dir}`, `cannot watch ${dir} any more (${e.message}): relying on the re-scan until it can`);
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
      this.said.delete(`watch ${dir}`);
    } catch (e) {
      this.once(
        `watch ${dir}`,
        `cannot watch ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): relying on the re-scan until it can`,
      );
    }
  }

  /** On the way out: with --cleanup-on-exit, remove what install wrote (never someone else's conf). */
  private finish(): number {
    const { o } = this;
    if (this.error !== undefined) {
      this.log(`error: ${this.error}; exiting with code 1 (nothing is installed until this is fixed)`);
      return 1;
    }
    const name = this.confName ?? planConfDir(o).target;
    const confFile = join(o.confDir, name);
    const sig = this.stop.signal ?? "a stop";
    if (!o.cleanupOnExit) {
      this.log(`received ${sig}: leaving ${confFile}${o.serviceAccountDir ? " and the generated kubeconfig" : ""} in place; exiting`);
      return 0;
    }
    const removed: string[] = [];
    const kept: string[] = [];
    if (existsSync(confFile)) {
      if (isOurs(o.confDir, name)) {
        rmSync(confFile, { force: true });
        removed.push(confFile);
      } else kept.push(`${confFile} (not written by multus install)`);
    }
    if (o.serviceAccountDir) removed.push(...removeGenerated(o.confDir));
    this.log(
      `received ${sig}: ${removed.length ? `removed ${removed.join(", ")}` : "nothing to remove"}${kept.length ? `; left ${kept.join(", ")}` : ""}; exiting`,
    );
    return 0;
  }
}
