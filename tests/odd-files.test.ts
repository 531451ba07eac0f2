// What a crash, a bad tool or a person can leave where the plugin keeps a
// file: a FIFO, a directory, a device, a symlink (dangling or not) in place
// of the container's lock, its cache record or a validator memo. Nothing
// blocks, nothing spins: a lock that is not a lock file is set aside and the
// call goes on; a record that is not a regular file is reported as unusable
// (DEL falls back to the config and removes it); a memo is ignored.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import t, { type Test } from "tap";
import { VALID_MEMO_DIR } from "../lib/validate.ts";
import { fakeBin, recorder } from "./helpers/fake-plugins.ts";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { type CniCall, cniEnv, PLUGIN, ROOT, type RunResult } from "./helpers/run-plugin.ts";

/** Run the built plugin; killed after `ms` (a hang or a spin then shows as code null). */
function runBounded(call: CniCall, ms = 15_000): Promise<RunResult & { ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(call.bin ?? PLUGIN, call.argv ?? [], { env: cniEnv(call), timeout: ms, killSignal: "SIGKILL" });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr: "", json, ms: Date.now() - started });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(typeof call.stdin === "string" ? call.stdin : JSON.stringify(call.stdin));
  });
}

/** Kinds of entry that can sit where a file of ours should be, and how to make each. */
const ODD: [string, (path: string) => void][] = [
  ["a FIFO", (p) => execFileSync("mkfifo", [p])],
  [
    "a directory",
    (p) => {
      mkdirSync(p);
      writeFileSync(join(p, "x"), "");
    },
  ],
  ["a symlink to /dev/zero", (p) => symlinkSync("/dev/zero", p)],
  ["a dangling symlink", (p) => symlinkSync("/nonexistent/lock", p)],
];

function world(t: Test) {
  const dir = tempDir(t);
  const calls = join(dir, "calls");
  const path = fakeBin(t, { ok: recorder(calls) });
  const cniDir = join(dir, "cache");
  const conf = {
    cniVersion: "1.1.0",
    name: "odd",
    type: "multus",
    cniDir,
    delegates: [{ cniVersion: "1.0.0", name: "ok-net", type: "ok" }],
  };
  // A real netns: ADD checks it before any delegate runs.
  const netns = makeNetns(t).path;
  const call = (command: string, containerId: string, extra: Partial<CniCall> = {}): CniCall => ({
    command,
    containerId,
    netns,
    path,
    stdin: conf,
    ...extra,
  });
  return { dir, cniDir, conf, calls, call };
}

for (const [kind, make] of ODD) {
  t.test(`${kind} where the container's lock is: set aside, and ADD and DEL work`, async (t) => {
    const w = world(t);
    mkdirSync(join(w.cniDir, ".locks"), { recursive: true, mode: 0o700 });
    make(join(w.cniDir, ".locks", "odd-lock"));
    const add = await runBounded(w.call("ADD", "odd-lock"));
    t.equal(add.code, 0, `ADD answers, and succeeds: ${add.stdout}`);
    const del = await runBounded(w.call("DEL", "odd-lock"));
    t.equal(del.code, 0, del.stdout);
    t.same(readdirSync(join(w.cniDir, ".locks")), [], "nothing is left in the lock dir");
    t.same(readdirSync(w.cniDir), [".locks"], "nor in the cache dir");
  });

  t.test(`${kind} where the cache record is: reported, never read; DEL removes it, GC and status pass it by`, async (t) => {
    const w = world(t);
    mkdirSync(w.cniDir, { recursive: true, mode: 0o700 });
    const record = join(w.cniDir, "odd-rec");
    make(record);
    const check = await runBounded(w.call("CHECK", "odd-rec"));
    t.equal(check.code, 1);
    t.equal(check.json?.code, 101);
    t.match(String(check.json?.msg), `cache record unusable: ${record} `, "CHECK names the file");
    const gc = await runBounded({ ...w.call("GC", ""), stdin: { ...w.conf, "cni.dev/valid-attachments": [] } });
    t.equal(gc.code, 0, `GC answers: ${gc.stdout}`);
    const status = await runBounded({
      argv: ["status", "--cni-dir", w.cniDir],
      stdin: "",
      env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
    });
    t.equal(status.code, 0, "multus status answers");
    t.match(status.stdout, /odd-rec\s+corrupt\s+-\s+.*not a regular file|odd-rec\s+corrupt\s+-\s+.*symbolic link/, status.stdout);
    const del = await runBounded(w.call("DEL", "odd-rec"));
    t.equal(del.code, 0, `DEL answers and succeeds: ${del.stdout}`);
    t.match(readFileSync(w.calls, "utf8"), /^DEL eth0$/m, "it DELed the config's delegate instead");
    t.notOk(existsSync(record) || readdirSync(w.cniDir).includes("odd-rec"), "and removed the entry");
  });
}

t.test("a FIFO where the validator's memo of a config is: ignored, the config is validated and the memo rewritten", async (t) => {
  const w = world(t);
  // A config no other test has: its memo file is the only one holding this name.
  const name = `odd-memo-${process.pid}-${Date.now()}`;
  const conf = { ...w.conf, name };
  t.equal((await runBounded({ ...w.call("ADD", "memo-1"), stdin: conf })).code, 0);
  const memo = readdirSync(VALID_MEMO_DIR)
    .map((f) => join(VALID_MEMO_DIR, f))
    .find((f) => {
      try {
        return readFileSync(f, "utf8").includes(name);
      } catch {
        return false;
      }
    });
  if (!memo) throw new Error(`no memo in ${VALID_MEMO_DIR} names ${name}`);
  rmSync(memo);
  execFileSync("mkfifo", [memo]);
  t.teardown(() => rmSync(memo, { force: true }));
  const again = await runBounded({ ...w.call("ADD", "memo-2"), stdin: conf });
  t.equal(again.code, 0, `answers: ${again.stdout}`);
  t.ok(readFileSync(memo, "utf8").includes(name), "the memo is a file again");
  for (const id of ["memo-1", "memo-2"]) t.equal((await runBounded({ ...w.call("DEL", id), stdin: conf })).code, 0);
});

t.test("a FIFO, a device or an oversized file where a device-info file is: not used, never waited on, logged", async (t) => {
  const dir = tempDir(t);
  const files = { fifo: join(dir, "fifo"), zero: join(dir, "zero"), big: join(dir, "big"), ok: join(dir, "ok") };
  execFileSync("mkfifo", [files.fifo]);
  symlinkSync("/dev/zero", files.zero);
  writeFileSync(files.big, `{"a":"${"x".repeat(5 << 20)}"}`);
  writeFileSync(files.ok, '{"type":"pci","version":"1.1.0"}');
  // In a child process: a read that blocks would block the whole test otherwise.
  const lib = pathToFileURL(join(ROOT, "lib", "device-info.ts")).href;
  const code = `
    const { readDeviceInfo } = await import(${JSON.stringify(lib)});
    const problems = [];
    const log = { error: (msg, f) => problems.push(f.problem), info() {}, debug() {}, enabled: () => true, with() { return log; } };
    const files = ${JSON.stringify(files)};
    const got = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readDeviceInfo(f, log) ?? null]));
    console.log(JSON.stringify({ got, problems }));`;
  const r = spawnSync(process.execPath, ["--import=tsx", "--input-type=module", "-e", code], { encoding: "utf8", timeout: 20_000 });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { got: Record<string, unknown>; problems: string[] };
  t.same(out.got, { fifo: null, zero: null, big: null, ok: { type: "pci", version: "1.1.0" } });
  t.match(out.problems, [/fifo is a FIFO/, /zero is a character device/, /big is larger than/]);
});
