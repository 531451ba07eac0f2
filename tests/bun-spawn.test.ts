// lib/spawn.ts under Bun (the path dist/multus takes: Bun.spawn), run by the
// bun binary from node_modules: the same semantics as under node
// (tests/plugin-exec.test.ts): own process group, onStart(pid) at once,
// done at the child's exit even when a background child holds stdout, a
// timeout SIGKILLs the whole group, stdin delivered, spawn errors carry .code.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { tempDir } from "./helpers/netns.ts";
import { ROOT } from "./helpers/run-plugin.ts";

const BUN = join(ROOT, "node_modules", ".bin", "bun");

function fake(dir: string, name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** Is a process with this pid still running (and not a zombie)? */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

if (!existsSync(BUN)) {
  t.fail("node_modules/.bin/bun is missing (npm ci)");
} else {
  t.test("spawnPlugin under Bun", async (t) => {
    const dir = tempDir(t);
    const bgPid = join(dir, "bg.pid");
    const pids = join(dir, "pids");
    fake(dir, "forks", `echo '{"cniVersion":"1.0.0"}'; sleep 20 & echo $! > ${bgPid}; exit 0`);
    fake(dir, "group", `ps -o pgid= -p $$ | tr -d ' '; cat; echo to-stderr >&2; exit 7`);
    fake(dir, "hangs-with-child", `sleep 30 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`);
    fake(dir, "ignores-stdin", `echo ok`);
    fake(dir, "crash", `kill -SEGV $$`);
    writeFileSync(join(dir, "not-executable"), "");
    const script = join(dir, "run.ts");
    writeFileSync(
      script,
      `import { spawnPlugin } from ${JSON.stringify(join(ROOT, "lib", "spawn.ts"))};
import { bunRuntime } from ${JSON.stringify(join(ROOT, "lib", "runtime.ts"))};
const dir = ${JSON.stringify(dir)};
const out: Record<string, unknown> = { bun: bunRuntime() !== undefined };
const run = async (name: string, input = "", timeoutMs = 5000) => {
  let started: number | undefined;
  const t0 = performance.now();
  try {
    const r = await spawnPlugin({ file: dir + "/" + name, env: { PATH: process.env.PATH! }, input, timeoutMs, onStart: (pid) => (started = pid) });
    return { ...r, started, ms: performance.now() - t0 };
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code, started };
  }
};
out.forks = await run("forks");
out.group = await run("group", "héllo");
out.hangs = await run("hangs-with-child", "", 400);
out.ignoresStdin = await run("ignores-stdin", "x".repeat(1 << 20));
out.crash = await run("crash");
out.missing = await run("no-such-file");
out.notExecutable = await run("not-executable");
console.log(JSON.stringify(out));
`,
    );
    const raw = execFileSync(BUN, [script], { cwd: dir, env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 60_000 });
    const r = JSON.parse(raw);
    t.teardown(() => {
      for (const f of [bgPid, pids]) {
        if (!existsSync(f)) continue;
        for (const p of readFileSync(f, "utf8").trim().split("\n").map(Number)) if (running(p)) process.kill(p, "SIGKILL");
      }
    });
    t.equal(r.bun, true, "the Bun.spawn path was taken");

    t.equal(r.forks.code, 0);
    t.equal(r.forks.stdout.trim(), '{"cniVersion":"1.0.0"}', "the result printed before the exit");
    t.ok(r.forks.ms < 2000, `returned at the exit, not when the background child ends (${Math.round(r.forks.ms)} ms)`);
    t.ok(running(Number(readFileSync(bgPid, "utf8"))), "the background child was left alone");

    t.equal(r.group.code, 7);
    const [pgid, input] = r.group.stdout.split("\n");
    t.equal(Number(pgid), r.group.started, "the child leads its own process group; onStart got its pid");
    t.equal(input, "héllo", "stdin delivered");
    t.equal(r.group.stderr, "to-stderr\n");

    t.equal(r.hangs.timedOut, true);
    t.equal(r.hangs.signal, "SIGKILL");
    t.equal(r.hangs.code, null);
    const [child, plugin] = readFileSync(pids, "utf8").trim().split("\n").map(Number);
    t.equal(plugin, r.hangs.started);
    await new Promise((res) => setTimeout(res, 100));
    t.notOk(running(plugin), "the plugin is gone");
    t.notOk(running(child), "its child is gone too");

    t.equal(r.ignoresStdin.code, 0, "a child that does not read a large stdin");
    t.equal(r.ignoresStdin.stdout, "ok\n");
    t.equal(r.crash.signal, "SIGSEGV");
    t.equal(r.crash.code, null);
    t.equal(r.missing.error, "ENOENT");
    t.equal(r.notExecutable.error, "EACCES");
  });
}
