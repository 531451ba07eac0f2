// What a DEL (or GC) stops after an ADD was killed mid-way: only that ADD's
// own delegates. The cache record says which process groups it started, but
// a record is a file: whatever it lists is signalled only when the process
// carries the dead ADD's mark in its environment, in this same boot, and is
// neither pid 1 nor our own group. Everything else is logged and left alone.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { CACHE_KIND, CACHE_VERSION, type CacheRecord, writeCache } from "../lib/cache.ts";
import { DELEGATE_MARK, killOrphans, markValue, type ProcessId, startTime } from "../lib/proc.ts";
import { links, makeNetns, reservations, tempDir } from "./helpers/netns.ts";
import { unavailable } from "./helpers/prerequisite.ts";
import { CNI_BIN, cniEnv, PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

const BOOT_ID = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
/** An owner that is not running (the killed ADD): no process has start time "-1". */
const DEAD_OWNER: ProcessId = { pid: 2, start: "-1", boot: BOOT_ID };

/** Is this process still running (not a zombie)? */
function alive(pid: number): boolean {
  return startTime(pid) !== undefined;
}

/** A process that is none of ours, in a session and group of its own (as `setsid sleep` makes one). */
function bystander(t: Test, env: Record<string, string> = {}): { child: ChildProcess; id: ProcessId } {
  const child = spawn("sleep", ["60"], { detached: true, stdio: "ignore", env: { PATH: process.env.PATH, ...env } });
  t.teardown(() => {
    if (alive(child.pid!)) process.kill(child.pid!, "SIGKILL");
  });
  // Set at fork: the same before and after its exec.
  return { child, id: { pid: child.pid!, start: startTime(child.pid!)! } };
}

/** The record an ADD killed mid-way leaves: incomplete, its owner dead, listing `running`. */
function plantRecord(cniDir: string, containerId: string, running: ProcessId[], owner: ProcessId = DEAD_OWNER): void {
  const rec: CacheRecord = {
    kind: CACHE_KIND,
    version: CACHE_VERSION,
    containerId,
    netns: "",
    ifName: "eth0",
    cniArgs: "",
    cniVersion: "1.1.0",
    complete: false,
    owner,
    running,
    attachments: [],
  };
  writeCache(cniDir, rec);
}

function netconf(t: Test) {
  const dir = tempDir(t);
  const logFile = join(dir, "multus.log");
  const conf = {
    cniVersion: "1.1.0",
    name: "orphans",
    type: "multus",
    cniDir: join(dir, "cache"),
    logFile,
    logLevel: "info",
    delegates: [{ cniVersion: "1.0.0", name: "n", type: "bridge" }],
  };
  return { conf, cniDir: conf.cniDir, log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "") };
}

t.test("a process listed as running that is none of ours survives DEL and GC", async (t) => {
  const n = netconf(t);
  const b = bystander(t);
  plantRecord(n.cniDir, "listed-1", [b.id]);
  const d = await runPlugin({ command: "DEL", containerId: "listed-1", stdin: n.conf });
  t.equal(d.code, 0, d.stdout);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(alive(b.id.pid), "DEL did not kill it");
  t.match(n.log(), new RegExp(`"pid":${b.id.pid}[^\\n]*does not carry`), "the skip is logged, with the reason");
  t.same(cacheEntries(n.cniDir), [], "the record is gone all the same");

  plantRecord(n.cniDir, "listed-2", [b.id]);
  const g = await runPlugin({ command: "GC", stdin: { ...n.conf, "cni.dev/valid-attachments": [] } });
  t.equal(g.code, 0, g.stdout);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(alive(b.id.pid), "GC did not kill it");
  t.same(cacheEntries(n.cniDir), []);
});

t.test("a record from another boot stops nothing, not even a process that carries its mark", async (t) => {
  const n = netconf(t);
  const owner = { pid: 3, start: "-1", boot: "00000000-0000-0000-0000-000000000000" };
  const b = bystander(t, { [DELEGATE_MARK]: markValue(owner) });
  plantRecord(n.cniDir, "reboot-1", [b.id], owner);
  const d = await runPlugin({ command: "DEL", containerId: "reboot-1", stdin: n.conf });
  t.equal(d.code, 0, d.stdout);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(alive(b.id.pid), "not killed: its pid and start time may be another process's since the reboot");
  t.match(n.log(), /another boot/);

  // The same, of this boot: it is the dead ADD's delegate, and is stopped.
  const b2 = bystander(t, { [DELEGATE_MARK]: markValue(DEAD_OWNER) });
  plantRecord(n.cniDir, "reboot-2", [b2.id], DEAD_OWNER);
  const d2 = await runPlugin({ command: "DEL", containerId: "reboot-2", stdin: n.conf });
  t.equal(d2.code, 0, d2.stdout);
  t.notOk(alive(b2.id.pid), "a marked delegate of this boot is stopped");
  t.ok(alive(b.id.pid), "one carrying another boot's mark still is not");
});

t.test("a record naming pid 1 never makes DEL signal every process (in a pid namespace)", async (t) => {
  try {
    execFileSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]);
  } catch (e) {
    unavailable(`unshare --pid --fork --mount-proc does not work here: ${(e as Error).message}`);
    return;
  }
  const n = netconf(t);
  const conf = join(tempDir(t), "conf.json");
  writeFileSync(conf, JSON.stringify(n.conf));
  const template = join(tempDir(t), "record");
  writeFileSync(
    template,
    JSON.stringify({
      kind: CACHE_KIND,
      containerId: "pid1",
      netns: "",
      ifName: "eth0",
      cniArgs: "",
      cniVersion: "1.1.0",
      complete: false,
      owner: DEAD_OWNER,
      running: [{ pid: 1, start: "START" }],
      attachments: [],
    }),
  );
  // Inside the namespace: pid 1 is this shell, and it even carries the dead
  // owner's mark; a bystander runs beside it. The record lists pid 1 with its
  // real start time: kill(-1) would kill everything but the caller and init.
  const script = [
    "sleep 60 & b=$!",
    `start=$(cut -d' ' -f22 /proc/1/stat)`,
    `mkdir -p ${n.cniDir} && sed "s/START/$start/" ${template} > ${n.cniDir}/pid1`,
    // The runtime's DEL itself carries no mark (one that did would be a Multus called by a Multus).
    `env -u ${DELEGATE_MARK} ${PLUGIN} < ${conf}; echo "rc=$?"`,
    `if kill -0 $b 2>/dev/null; then echo bystander=alive; else echo bystander=dead; fi`,
    "kill $b 2>/dev/null || true",
  ].join("\n");
  const env = { ...cniEnv({ command: "DEL", containerId: "pid1", stdin: "" }), [DELEGATE_MARK]: markValue(DEAD_OWNER) };
  const out = execFileSync("unshare", ["--pid", "--fork", "--mount-proc", "sh", "-c", script], { env, encoding: "utf8", timeout: 30_000 });
  t.match(out, /rc=0/, out);
  t.match(out, /bystander=alive/, "nothing else in the namespace was killed");
  t.match(n.log(), /"pid":1[^\n]*pid 1/, "the refusal is logged");
});

/** Start an ADD of the built plugin and SIGKILL it once `marker` exists. */
async function addKilledAt(marker: string, env: Record<string, string>, stdin: object): Promise<void> {
  const child = spawn(PLUGIN, [], { env, stdio: ["pipe", "ignore", "ignore"] });
  child.stdin.end(JSON.stringify(stdin));
  const exited = new Promise((r) => child.on("exit", r));
  while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGKILL");
  await exited;
}

t.test("a killed ADD's delegate whose child left its process group: DEL stops that child too", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const dir = tempDir(t);
  const pidFile = join(dir, "escaped.pid");
  const finished = join(dir, "escaped-finished");
  const marker = join(dir, "started");
  // The delegate starts a helper in a session of its own (as a daemonising
  // IPAM helper would), then waits; the helper would finish the ADD later.
  const script = `[ "$CNI_COMMAND" = ADD ] || exec ${CNI_BIN}/ptp
setsid sh -c 'echo $$ > ${pidFile}; sleep 3; touch ${finished}' </dev/null >/dev/null 2>&1 &
while [ ! -s ${pidFile} ]; do sleep 0.05; done; touch ${marker}; sleep 30`;
  writeFileSync(join(dir, "escapes"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  const conf = s.netconf([s.bridge(), s.ptp({ type: "escapes" })]);
  const env = cniEnv({ command: "ADD", containerId: "escaped-1", netns: ns.path, path: `${dir}:${CNI_BIN}`, stdin: "" });
  await addKilledAt(marker, env, conf);
  const escaped = Number(readFileSync(pidFile, "utf8"));
  t.teardown(() => {
    if (alive(escaped)) process.kill(escaped, "SIGKILL");
  });
  t.ok(alive(escaped), "the helper outlived the plugin");
  const d = await runPlugin({ command: "DEL", containerId: "escaped-1", netns: ns.path, path: `${dir}:${CNI_BIN}`, stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.notOk(alive(escaped), "DEL found it by its mark and stopped it");
  await new Promise((r) => setTimeout(r, 3500));
  t.notOk(existsSync(finished), "it never finished");
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), []);
});

t.test("a marked process in the caller's own process group is left alone", async (t) => {
  // In this test process, as a DEL would run it: a child in our group (not
  // detached) that carries the dead owner's mark, as if we were ourselves
  // started by that owner. Killing it would be killing our own kind.
  const child = spawn("sleep", ["60"], { stdio: "ignore", env: { PATH: process.env.PATH, [DELEGATE_MARK]: markValue(DEAD_OWNER) } });
  t.teardown(() => child.kill("SIGKILL"));
  await new Promise((r) => setTimeout(r, 200)); // exec'd: its environment is sleep's now
  const sweep = killOrphans(DEAD_OWNER, [{ pid: child.pid!, start: startTime(child.pid!)! }]);
  t.same(sweep.killed, [], "nothing killed");
  t.ok(alive(child.pid!));
  t.match(sweep.skipped, [{ pid: child.pid, reason: /own group/ }]);
});
