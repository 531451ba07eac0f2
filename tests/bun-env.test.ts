// The executable takes nothing from the directory it runs in or from
// variables meant for its runtime: a CNI plugin inherits the container
// runtime's working directory and environment. Bun would otherwise read
// ./.env and ./bunfig.toml (off by build flags), BUN_OPTIONS (--preload …),
// BUN_INSPECT* (a debugger, a preload), BUN_BE_BUN (become the bun CLI) and
// BUN_BYTECODE_*_OUT (write files there) and BUN_JSC_* (JavaScriptCore's
// options: an unknown one exits 1, a tiny stack breaks calls);
// scripts/build.mjs makes the executables from a runtime that reads no
// BUN_* variable. NODE_OPTIONS is not read by Bun at all (checked here too).
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import t from "tap";
import { links, makeNetns, tempDir } from "./helpers/netns.ts";
import { PLUGIN } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const VERSION_REPLY = { cniVersion: "1.1.0", supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the plugin in `cwd` with exactly `env` (plus PATH), killed after 20 s. */
function run(cwd: string, env: Record<string, string>, stdin = "", argv: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(PLUGIN, argv, { cwd, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, timeout: 20_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - start }));
    child.stdin.on("error", () => {});
    child.stdin.end(stdin);
  });
}

/** A working directory full of runtime configuration, and a preload that leaves a marker when it runs. */
function hostileCwd(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const marker = join(dir, "MARKER");
  const preload = join(dir, "preload.js");
  writeFileSync(preload, `require("fs").appendFileSync(${JSON.stringify(marker)}, "preload ran\\n");\n`);
  const dotenv = "CNI_COMMAND=BOGUS\nCNI_IFNAME=dotenv0\nCNI_PATH=/nonexistent\nCNI_CONTAINERID=from-dotenv\n";
  for (const f of [".env", ".env.local", ".env.production"]) writeFileSync(join(dir, f), dotenv);
  const bunfig = join(dir, "bunfig.toml");
  writeFileSync(bunfig, `preload = [${JSON.stringify(preload)}]\n[run]\nnoOrphans = true\n`);
  const hostile = {
    BUN_OPTIONS: `--preload=${preload} --config=${bunfig}`,
    NODE_OPTIONS: `--require=${preload}`,
    BUN_INSPECT_PRELOAD: preload,
  };
  return { dir, marker, preload, bunfig, hostile };
}

t.test("VERSION in a directory with .env and bunfig.toml, with BUN_OPTIONS, NODE_OPTIONS and BUN_INSPECT_PRELOAD set", async (t) => {
  const h = hostileCwd(t);
  const r = await run(h.dir, { CNI_COMMAND: "VERSION", ...h.hostile });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(JSON.parse(r.stdout), VERSION_REPLY, "CNI_COMMAND from .env did not override the environment's");
  t.notOk(existsSync(h.marker), "no preload ran");
  for (const opts of [
    `--preload ${h.preload}`,
    `-r ${h.preload}`,
    `--require=${h.preload}`,
    `--import=${h.preload}`,
    `--config=${h.bunfig}`,
  ]) {
    const r2 = await run(h.dir, { CNI_COMMAND: "VERSION", BUN_OPTIONS: opts });
    t.equal(r2.code, 0, `BUN_OPTIONS=${opts}`);
  }
  t.notOk(existsSync(h.marker), "no preload ran for any form of BUN_OPTIONS");
});

t.test("a person running it (--help) gets the same: the options are not taken as Bun's", async (t) => {
  const h = hostileCwd(t);
  const r = await run(h.dir, { ...h.hostile }, "", ["--help"]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /meta CNI plugin/);
  t.notOk(existsSync(h.marker), "no preload ran");
});

t.test("BUN_BE_BUN=1 does not turn the plugin into the bun CLI", async (t) => {
  const h = hostileCwd(t);
  const r = await run(h.dir, { CNI_COMMAND: "VERSION", BUN_BE_BUN: "1", BUN_OPTIONS: "-e 1" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(JSON.parse(r.stdout), VERSION_REPLY);
  t.notOk(existsSync(h.marker), "bunfig.toml's preload did not run");
});

t.test("BUN_INSPECT does not start a debugger (with ?wait=1 it would wait for one)", async (t) => {
  const h = hostileCwd(t);
  const r = await run(h.dir, { CNI_COMMAND: "VERSION", BUN_INSPECT: "ws://127.0.0.1:1/x?wait=1" });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(JSON.parse(r.stdout), VERSION_REPLY);
  t.ok(r.ms < 10_000, `answered at once (${r.ms} ms)`);
});

t.test("BUN_INSPECT_CONNECT_TO does not connect a debugger", async (t) => {
  const h = hostileCwd(t);
  const sock = join(h.dir, "inspector.sock");
  let connections = 0;
  const server = createServer((c) => {
    connections++;
    c.destroy();
  });
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => void server.close());
  const r = await run(h.dir, { CNI_COMMAND: "VERSION", BUN_INSPECT_CONNECT_TO: `unix://${sock}` });
  t.equal(r.code, 0, r.stdout + r.stderr);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(connections, 0, "nothing connected to the socket");
});

t.test("BUN_BYTECODE_ORDER_OUT and BUN_BYTECODE_DIGEST_OUT do not make it write files", async (t) => {
  const h = hostileCwd(t);
  const files = ["order", "names", "digest"].map((f) => join(h.dir, f));
  const r = await run(h.dir, {
    CNI_COMMAND: "VERSION",
    BUN_BYTECODE_ORDER_OUT: files[0],
    BUN_BYTECODE_ORDER_NAMES_OUT: files[1],
    BUN_BYTECODE_DIGEST_OUT: files[2],
  });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.same(
    files.filter((f) => existsSync(f)),
    [],
    "no file written",
  );
});

t.test("ADD and DEL in that directory and environment: the runtime's CNI_* values count, no preload runs", async (t) => {
  const h = hostileCwd(t);
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = JSON.stringify(s.netconf([s.bridge()]));
  const env = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: "env-1",
    CNI_NETNS: ns.path,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/usr/lib/cni",
    ...h.hostile,
    BUN_BE_BUN: "1",
  });
  const add = await run(h.dir, env("ADD"), conf);
  t.equal(add.code, 0, add.stdout + add.stderr);
  t.same(links(ns.name), ["eth0"], "CNI_IFNAME from the environment, not dotenv0 from .env");
  const del = await run(h.dir, env("DEL"), conf);
  t.equal(del.code, 0, del.stdout + del.stderr);
  t.same(links(ns.name), []);
  t.notOk(existsSync(h.marker), "no preload ran");
});

t.test("BUN_JSC_* never reaches JavaScriptCore: an unknown option, a tiny stack, an options dump", async (t) => {
  const h = hostileCwd(t);
  const jsc = { BUN_JSC_bogus: "1", BUN_JSC_maxPerThreadStackUsage: "1000", BUN_JSC_dumpOptions: "1" };
  for (const [k, v] of Object.entries(jsc)) {
    const r = await run(h.dir, { CNI_COMMAND: "VERSION", [k]: v });
    t.equal(r.code, 0, `${k}=${v}: ${r.stdout}${r.stderr}`);
    t.same(JSON.parse(r.stdout), VERSION_REPLY, `${k}=${v}: the CNI answer`);
    t.equal(r.stderr, "", `${k}=${v}: nothing from the engine on stderr`);
  }
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = JSON.stringify(s.netconf([s.bridge()]));
  const env = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: "jsc-1",
    CNI_NETNS: ns.path,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/usr/lib/cni",
    ...jsc,
  });
  const add = await run(h.dir, env("ADD"), conf);
  t.equal(add.code, 0, add.stdout + add.stderr);
  t.same(links(ns.name), ["eth0"]);
  const del = await run(h.dir, env("DEL"), conf);
  t.equal(del.code, 0, del.stdout + del.stderr);
  t.same(links(ns.name), []);
});
