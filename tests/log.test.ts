// Logging: structured lines, levels, secrets never written, and the file
// rotated by size without losing a line when many processes write it.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import t from "tap";
import type { JsonObject } from "../lib/json.ts";
import { createLogger, redact } from "../lib/log.ts";
import { type LogRotation, loadNetconf, readLogSection } from "../lib/netconf.ts";
import { startTime } from "../lib/proc.ts";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

t.test("redact() removes secrets by key and by shape", async (t) => {
  t.same(redact({ token: "abc", nested: { "client-key-data": "LS0t", password: "p", keep: "x" }, list: [{ secretName: "s" }] }), {
    token: "[redacted]",
    nested: { "client-key-data": "[redacted]", password: "[redacted]", keep: "x" },
    list: [{ secretName: "[redacted]" }],
  });
  t.equal(redact("401 with Authorization: Bearer eyJhbGciOi.abc.def"), "401 with Authorization: Bearer [redacted]");
  t.equal(redact('{"token":"t0k3n","name":"x"}'), '{"token":"[redacted]","name":"x"}');
  t.equal(redact("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"), "[redacted private key]");
});

t.test("levels: error < info < debug; nothing at all without a sink", async (t) => {
  const lines: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => {
    lines.push(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    const log = createLogger({ logToStderr: true, logLevel: "info" }).with({ verb: "ADD", containerID: "c1" });
    log.debug("hidden");
    log.info("shown", { network: "n" });
    createLogger({ logLevel: "debug" }).error("no sink");
  } finally {
    process.stderr.write = orig;
  }
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]), { level: "info", verb: "ADD", containerID: "c1", msg: "shown", network: "n" });
});

t.test("the plugin logs each verb with container, pod and network, and redacts the netconf", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const logFile = join(s.dir, "multus.log");
  const secretive = s.bridge({ kubernetes: { kubeconfig: "/etc/x", token: "s3cr3t-value" } });
  const conf = s.netconf([secretive, s.ptp()], { logFile, logLevel: "debug" });
  const call = { containerId: "log-1", netns: ns.path, args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web", stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  const text = readFileSync(logFile, "utf8");
  t.notMatch(text, /s3cr3t-value/, "the token is not in the log");
  const entries = text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  for (const e of entries)
    t.match(e, { ts: String, level: /^(error|info|debug)$/, verb: /^(ADD|DEL)$/, containerID: "log-1", pod: "ns1/web" });
  t.ok(entries.some((e) => e.verb === "ADD" && e.msg === "attached" && e.network === "ptp-net" && e.interface === "net1"));
  t.ok(entries.some((e) => e.verb === "DEL" && e.msg === "detached" && e.network === "br-net"));
  t.ok(entries.some((e) => e.msg === "ADD done" && typeof e.ms === "number"));
});

t.test("DEL with an invalid config still tears down, and logs the config's problems", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const logFile = join(s.dir, "del.log");
  const call = { containerId: "log-2", netns: ns.path, stdin: s.netconf([s.bridge()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const broken = s.netconf([s.bridge({ ipam: { type: "host-local", subnet: "10.1.0.0/33" } })], { logFile });
  const d = await runPlugin({ ...call, command: "DEL", stdin: broken });
  t.equal(d.code, 0, d.stdout);
  const entries = readFileSync(logFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  t.ok(
    entries.some(
      (e) => e.msg === "config problems (not blocking teardown)" && /10\.1\.0\.0\/33 is not a valid CIDR/.test(JSON.stringify(e.problems)),
    ),
  );
});

// ---------------------------------------------------------------------------
// Rotation (`logOptions`)

/** lumberjack's backup name for multus.log: multus-<UTC yyyy-mm-ddThh-mm-ss.mmm>.log[.gz]. */
const BACKUP = /^multus-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log(\.gz)?$/;

/** Every line of the log and its backups, oldest first (names sort by time), gzipped ones decompressed. */
function allLines(dir: string): string[] {
  const backups = readdirSync(dir)
    .filter((n) => BACKUP.test(n))
    .sort();
  const text = (n: string) => {
    const b = readFileSync(join(dir, n));
    return (n.endsWith(".gz") ? gunzipSync(b) : b).toString("utf8");
  };
  const current = existsSync(join(dir, "multus.log")) ? [text("multus.log")] : [];
  return [...backups.map(text), ...current].join("").split("\n").filter(Boolean);
}

const rotation = (o: Partial<LogRotation>): LogRotation => ({ maxBytes: 2000, maxBackups: 0, maxAgeMs: 0, compress: false, ...o });

/** `n` numbered info lines through a logger writing `dir/multus.log`. */
function logLines(dir: string, r: LogRotation, n: number, from = 0): void {
  const log = createLogger({ logFile: join(dir, "multus.log"), logLevel: "info", rotation: r });
  for (let i = from; i < from + n; i++) log.info("line", { i, pad: "x".repeat(60) });
}

t.test(
  "logOptions: the file is moved aside before it passes maxSize; backups are named as upstream's; maxBackups keeps the newest",
  async (t) => {
    const dir = tempDir(t);
    logLines(dir, rotation({ maxBackups: 2 }), 200);
    const names = readdirSync(dir).sort();
    const backups = names.filter((n) => BACKUP.test(n));
    t.same(names, [...backups, "multus.log"], "the log, its backups, nothing else (no lock or temp file left)");
    t.equal(backups.length, 2, "maxBackups: 2");
    for (const n of names) {
      const st = statSync(join(dir, n));
      t.ok(st.size <= 2000, `${n} is within maxSize (${st.size} bytes)`);
      t.equal(st.mode & 0o777, 0o600, `${n} is mode 0600`);
    }
    const kept = allLines(dir).map((l) => JSON.parse(l).i);
    t.equal(kept.at(-1), 199, "the newest line is in the current file");
    t.same(
      kept,
      kept.map((_, k) => 200 - kept.length + k),
      "the kept lines are the newest ones, each once, in order",
    );
  },
);

t.test("without logOptions the plugin's log is bounded as upstream's: moved aside at 100 MB, the backup gzipped", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const logFile = join(s.dir, "multus.log");
  // A log just under 100 MB (sparse: no disk used), as weeks of debug logging leave it.
  writeFileSync(logFile, "from before\n", { mode: 0o600 });
  execFileSync("truncate", ["-s", String(100 * 1024 * 1024 - 10), logFile]);
  const conf = s.netconf([s.bridge()], { logFile, logLevel: "debug" });
  const call = { containerId: "log-default", netns: ns.path, stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  const backups = readdirSync(s.dir).filter((n) => BACKUP.test(n));
  t.equal(backups.length, 1, `moved aside once: ${backups}`);
  if (!t.ok(statSync(logFile).size < 1024 * 1024, "the log starts again small")) return;
  t.match(readFileSync(logFile, "utf8"), /"verb":"ADD"/, "with the ADD's lines");
  t.notMatch(readFileSync(logFile, "utf8"), /from before/);
  const gz = join(s.dir, backups[0].replace(/(\.gz)?$/, ".gz"));
  for (let i = 0; i < 100 && !existsSync(gz); i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(existsSync(gz), "the backup is gzipped (compress is on by default)");
  t.ok(statSync(gz).size < 1024 * 1024, "and small");
});

t.test("logOptions.compress: backups are gzipped, every line is in exactly one file", async (t) => {
  const dir = tempDir(t);
  logLines(dir, rotation({ compress: true }), 200);
  const backups = readdirSync(dir).filter((n) => BACKUP.test(n));
  t.ok(backups.length >= 5, `rotated ${backups.length} times`);
  t.ok(
    backups.every((n) => n.endsWith(".log.gz")),
    "every backup is compressed",
  );
  execFileSync("gzip", ["-t", ...backups.map((n) => join(dir, n))]); // what operators' tools read
  t.same(
    allLines(dir).map((l) => JSON.parse(l).i),
    Array.from({ length: 200 }, (_, i) => i),
  );
});

t.test("logOptions.maxAge: old backups go at the next rotation; files that are not backups stay", async (t) => {
  const dir = tempDir(t);
  const old = ["multus-2001-02-03T04-05-06.007.log", "multus-2001-02-03T04-05-07.000.log.gz"];
  const foreign = ["multus.log.1", "multus-notes.log", "other-2001-02-03T04-05-06.007.log", "multus-2001-02-03T04-05-06.007.txt"];
  for (const n of [...old, ...foreign]) writeFileSync(join(dir, n), "kept?\n");
  logLines(dir, rotation({ maxAgeMs: 24 * 3600 * 1000 }), 20);
  const names = readdirSync(dir);
  for (const n of old) t.notOk(names.includes(n), `${n} (older than maxAge) is removed`);
  for (const n of foreign) t.ok(names.includes(n), `${n} is not a backup and stays`);
  t.ok(names.filter((n) => BACKUP.test(n)).length >= 1, "today's backups stay");
});

t.test("a backup that another process still has open is compressed only once it is closed", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "multus.log");
  const r = rotation({ compress: true });
  logLines(dir, r, 10); // about 1000 bytes: not rotated yet
  // Another writer has the file open (as a plugin between its check and its write would).
  const holder = spawn("sh", ["-c", 'exec 3>>"$0"; read _', file], { stdio: ["pipe", "ignore", "ignore"] });
  t.teardown(() => holder.kill());
  const holds = () => readdirSync(`/proc/${holder.pid}/fd`).some((fd) => readlinkSync(`/proc/${holder.pid}/fd/${fd}`) === file);
  for (let i = 0; i < 100 && !holds(); i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(holds(), "the other process has the log open");
  logLines(dir, r, 15, 10); // rotates once
  let backups = readdirSync(dir).filter((n) => BACKUP.test(n));
  t.same(
    backups.map((n) => n.endsWith(".gz")),
    [false],
    "the backup still open elsewhere is not compressed (a line written to it now is not lost)",
  );
  holder.stdin.end();
  await new Promise((r) => holder.on("exit", r));
  logLines(dir, r, 20, 25); // rotates again
  backups = readdirSync(dir).filter((n) => BACKUP.test(n));
  t.ok(backups.length >= 2 && backups.every((n) => n.endsWith(".gz")), "closed now: compressed by the next rotation");
  t.same(
    allLines(dir).map((l) => JSON.parse(l).i),
    Array.from({ length: 45 }, (_, i) => i),
  );
});

t.test("while a live process holds the rotation lock nobody else rotates; the lock of one that died is broken", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "multus.log");
  const holder = spawn("sleep", ["30"]);
  t.teardown(() => holder.kill());
  await once(holder, "spawn");
  writeFileSync(`${file}.rotating`, JSON.stringify({ pid: holder.pid, start: startTime(holder.pid!) }));
  const backups = () => readdirSync(dir).filter((n) => BACKUP.test(n));
  logLines(dir, rotation({}), 50);
  t.same(backups(), [], "not rotated while the lock's owner runs");
  t.ok(statSync(file).size > 2000, "meanwhile lines go on into the current file: none waits or is dropped");
  holder.kill("SIGKILL");
  await once(holder, "exit");
  logLines(dir, rotation({}), 1, 50);
  t.equal(backups().length, 1, "its owner dead, the lock is broken and the file rotated");
  t.notOk(existsSync(`${file}.rotating`), "and the lock released");
  t.same(
    allLines(dir).map((l) => JSON.parse(l).i),
    Array.from({ length: 51 }, (_, i) => i),
  );
});

t.test("many plugin processes logging at once: one rotation at a time, no line lost, torn or repeated", async (t) => {
  const s = scenario(t);
  const dir = join(s.dir, "log");
  mkdirSync(dir);
  const maxSize = 0.004; // MB: a rotation every eight processes or so
  const conf = s.netconf([s.bridge()], {
    logFile: join(dir, "multus.log"),
    logLevel: "debug",
    logOptions: { maxSize, maxBackups: 0, compress: true },
  });
  // Each CHECK of an unknown container logs two lines (the netconf, the error) naming its container.
  const ids = Array.from({ length: 160 }, (_, i) => `logc-${i}`);
  const width = 16;
  for (let i = 0; i < ids.length; i += width) {
    await Promise.all(
      ids.slice(i, i + width).map((id) => runPlugin({ command: "CHECK", containerId: id, netns: "/nonexistent", stdin: conf })),
    );
  }
  const lines = allLines(dir);
  const seen = new Map<string, number>();
  for (const l of lines) {
    const e = JSON.parse(l); // a torn or interleaved line would not parse
    seen.set(e.containerID, (seen.get(e.containerID) ?? 0) + 1);
  }
  t.same(
    ids.filter((id) => seen.get(id) !== 2),
    [],
    "every process's two lines, each exactly once",
  );
  t.equal(lines.length, 2 * ids.length);
  const backups = readdirSync(dir).filter((n) => BACKUP.test(n));
  t.ok(backups.length >= 10, `rotated ${backups.length} times`);
  t.ok(backups.filter((n) => n.endsWith(".gz")).length >= backups.length - width, "backups are compressed once no writer has them open");
  // Two processes rotating one after the other would leave a backup far below maxSize.
  const longest = Math.max(...lines.map((l) => l.length + 1));
  for (const n of backups) {
    const b = readFileSync(join(dir, n));
    const size = (n.endsWith(".gz") ? gunzipSync(b) : b).length;
    t.ok(size > maxSize * 1024 * 1024 - longest, `${n} was rotated full (${size} bytes)`);
  }
  t.same(
    readdirSync(dir).filter((n) => n !== "multus.log" && !BACKUP.test(n)),
    [],
    "no lock or temp file left",
  );
});

t.test("logOptions in the netconf: upstream's defaults; bad values are refused naming the field", async (t) => {
  const base = { name: "m", cniVersion: "1.0.0", delegates: [{ type: "bridge" }] };
  t.same(loadNetconf(base).log.rotation, {
    maxBytes: 100 * 1024 * 1024,
    maxBackups: 5,
    maxAgeMs: 5 * 24 * 3600 * 1000,
    compress: true,
  });
  t.same(loadNetconf({ ...base, logOptions: { maxSize: 1.5, maxBackups: 0, maxAge: 1, compress: false } }).log.rotation, {
    maxBytes: 1.5 * 1024 * 1024,
    maxBackups: 0,
    maxAgeMs: 24 * 3600 * 1000,
    compress: false,
  });
  t.equal(loadNetconf({ ...base, logOptions: { maxSize: 0 } }).log.rotation.maxBytes, 100 * 1024 * 1024, "maxSize 0 is 100 MB");
  const bad: [unknown, RegExp][] = [
    [7, /"logOptions" must be an object/],
    [{ maxSize: "100M" }, /"logOptions\.maxSize" must be a number of megabytes/],
    [{ maxSize: -1 }, /"logOptions\.maxSize"/],
    [{ maxBackups: 1.5 }, /"logOptions\.maxBackups" must be a whole number/],
    [{ maxAge: "5d" }, /"logOptions\.maxAge" must be a number of days/],
    [{ compress: "yes" }, /"logOptions\.compress" must be true or false/],
  ];
  for (const [logOptions, msg] of bad) t.throws(() => loadNetconf({ ...base, logOptions } as JsonObject), { code: 7, message: msg });
  // The logger itself never refuses: a bad value falls back to the default, so the refusal is logged.
  t.equal(readLogSection({ ...base, logOptions: { maxSize: "big", maxBackups: 2 } }).rotation.maxBackups, 2);
});
