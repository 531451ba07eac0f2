// Nothing the plugin reads can grow it without bound: its stdin (the
// netconf) and each delegate's stdout are capped at 4 MiB, and of a
// delegate's stderr only the first 64 KiB are kept. A bigger stdin is a
// decoding error (code 6); a delegate that prints more is killed and fails.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { invokePlugin } from "../lib/plugin-exec.ts";
import { fakeBin, recorder } from "./helpers/fake-plugins.ts";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { unavailable } from "./helpers/prerequisite.ts";
import { cniEnv, PLUGIN, ROOT, runPlugin } from "./helpers/run-plugin.ts";

const MiB = 1 << 20;

function world(t: Test, plugins: Record<string, string> = {}) {
  const dir = tempDir(t);
  const calls = join(dir, "calls");
  const path = fakeBin(t, { ok: recorder(calls), ...plugins });
  const cniDir = join(dir, "cache");
  const netconf = (delegates: object[]) => ({ cniVersion: "1.0.0", name: "limits", type: "multus", cniDir, delegates });
  // A real netns: ADD checks it before any delegate runs.
  const netns = makeNetns(t).path;
  return { dir, calls, path, cniDir, netconf, netns };
}

t.test("a netconf larger than 4 MiB on stdin is refused with code 6 before anything runs", async (t) => {
  const w = world(t);
  const conf = w.netconf([{ cniVersion: "1.0.0", name: "ok-net", type: "ok", pad: "x".repeat(5 * MiB) }]);
  const r = await runPlugin({ command: "ADD", containerId: "big-1", netns: w.netns, path: w.path, stdin: conf });
  t.equal(r.code, 1);
  t.equal(r.json?.code, 6);
  t.match(String(r.json?.msg), /cannot read the network config: stdin is larger than 4194304 bytes/);
  t.notOk(existsSync(w.calls), "no delegate ran");
  t.notOk(existsSync(w.cniDir), "no record");
});

t.test("stdin that never ends (/dev/zero) is refused with code 6 once past the cap", async (t) => {
  const w = world(t);
  const zero = openSync("/dev/zero", "r");
  t.teardown(() => closeSync(zero));
  const child = spawn(PLUGIN, [], {
    env: cniEnv({ command: "ADD", containerId: "zero-1", netns: w.netns, path: w.path, stdin: "" }),
    stdio: [zero, "pipe", "ignore"],
    timeout: 20_000,
    killSignal: "SIGKILL",
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b));
  const code = await new Promise((r) => child.on("close", r));
  t.equal(code, 1, "it answered (not killed by the test's timeout)");
  t.equal(JSON.parse(out).code, 6);
  t.match(JSON.parse(out).msg, /stdin is larger than 4194304 bytes/);
});

t.test("a delegate that prints more than 4 MiB before its result: killed, the ADD fails and rolls back", async (t) => {
  const w = world(t, {
    loud: `cat >/dev/null; [ "$CNI_COMMAND" = ADD ] || exit 0; head -c ${5 * MiB} /dev/zero | tr '\\0' ' '; echo '{"cniVersion":"1.0.0"}'`,
  });
  const conf = w.netconf([
    { cniVersion: "1.0.0", name: "ok-net", type: "ok" },
    { cniVersion: "1.0.0", name: "loud-net", type: "loud" },
  ]);
  const call = { containerId: "loud-1", netns: w.netns, path: w.path, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 1);
  t.equal(r.json?.code, 100);
  t.match(String(r.json?.msg), /plugin "loud" failed: printed more than 4194304 bytes on stdout; it and its child processes were killed/);
  t.same(
    readdirSync(w.cniDir).filter((f) => f !== ".locks"),
    [],
    "rolled back: no record",
  );
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a delegate's stderr is read to the end but only its start is kept", async (t) => {
  const dir = tempDir(t);
  const path = fakeBin(t, {
    chatty: `head -c ${8 * MiB} /dev/zero | tr '\\0' 'e' >&2; echo '{"cniVersion":"1.0.0"}'`,
    failing: `head -c ${8 * MiB} /dev/zero | tr '\\0' 'e' >&2; exit 3`,
  }).split(":")[0];
  const env = { containerId: "c1", netns: "/run/netns/x", ifName: "net1", args: "", path: [path, dir] };
  const ok = await invokePlugin({ pluginType: "chatty", verb: "ADD", env, config: {}, timeoutMs: 20_000 });
  t.equal(ok.trim(), '{"cniVersion":"1.0.0"}', "a plugin that writes 8 MiB to stderr still succeeds (it was never blocked on a full pipe)");
  await t.rejects(invokePlugin({ pluginType: "failing", verb: "ADD", env, config: {}, timeoutMs: 20_000 }), {
    message: /exited with code 3: e{2000}…$/,
  });
});

t.test("the same caps in this process's own spawn path (node:child_process)", async (t) => {
  const path = fakeBin(t, { loud: `head -c ${5 * MiB} /dev/zero | tr '\\0' ' '; echo '{}'` }).split(":")[0];
  const env = { containerId: "c1", netns: "/run/netns/x", ifName: "net1", args: "", path: [path] };
  await t.rejects(invokePlugin({ pluginType: "loud", verb: "ADD", env, config: {}, timeoutMs: 20_000 }), {
    code: 100,
    message: 'plugin "loud" failed: printed more than 4194304 bytes on stdout; it and its child processes were killed',
  });
});

/** A probe that runs one plugin call and reports its exit code and peak RSS (KiB), as wait4 gives them; `stdin` is a file. */
function peakRssProbe(t: Test): ((env: Record<string, string>, stdin: string) => { code: number; kib: number }) | undefined {
  const bin = join(tempDir(t), "peak-rss");
  try {
    execFileSync("gcc", ["-O2", "-o", bin, join(ROOT, "tests/helpers/peak-rss.c")], { stdio: "pipe" });
  } catch {
    unavailable("gcc, to build the peak-RSS probe");
    return undefined;
  }
  return (env, stdin) => {
    const [code, kib] = execFileSync(bin, [stdin, PLUGIN], { env, encoding: "utf8" }).trim().split(" ").map(Number);
    return { code, kib };
  };
}

// Far below what the inputs would take if they were held: a bound, not a benchmark.
const RSS_BOUND_KIB = 160 * 1024;

t.test("memory stays bounded: a 52 MB netconf and a delegate printing 200 MB leave the plugin's peak RSS far below either", async (t) => {
  const w = world(t, {
    flood: `cat >/dev/null; [ "$CNI_COMMAND" = ADD ] || exit 0; head -c ${200 * MiB} /dev/zero | tr '\\0' ' '; echo '{"cniVersion":"1.0.0"}'`,
  });
  const big = join(w.dir, "big.json");
  writeFileSync(big, JSON.stringify(w.netconf([{ cniVersion: "1.0.0", name: "ok-net", type: "ok", pad: "x".repeat(52 * 1000 * 1000) }])));
  const peakRss = peakRssProbe(t);
  if (!peakRss) return;
  const a = peakRss(cniEnv({ command: "ADD", containerId: "rss-1", netns: w.netns, path: w.path, stdin: "" }), big);
  t.equal(a.code, 1, "refused");
  t.ok(a.kib < RSS_BOUND_KIB, `52 MB on stdin: peak RSS ${Math.round(a.kib / 1024)} MiB`);

  const conf = join(w.dir, "flood.json");
  writeFileSync(conf, JSON.stringify(w.netconf([{ cniVersion: "1.0.0", name: "flood-net", type: "flood" }])));
  const b = peakRss(cniEnv({ command: "ADD", containerId: "rss-2", netns: w.netns, path: w.path, stdin: "" }), conf);
  t.equal(b.code, 1, "the delegate is killed and the ADD fails");
  t.ok(b.kib < RSS_BOUND_KIB, `a delegate printing 200 MB: peak RSS ${Math.round(b!.kib / 1024)} MiB`);
  t.equal(
    (await runPlugin({ command: "DEL", containerId: "rss-2", netns: w.netns, path: w.path, stdin: JSON.parse(readFileSync(conf, "utf8")) }))
      .code,
    0,
  );
});
