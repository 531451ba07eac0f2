// Delegate execution with small fake plugins: env, stdin, errors, timeouts.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { findPlugin, invokePlugin } from "../lib/plugin-exec.ts";
import { tempDir } from "./helpers/netns.ts";

function fake(dir: string, name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

const env = (dir: string) => ({ containerId: "c1", netns: "/run/netns/x", ifName: "net1", args: "A=1;B=2", path: [dir] });

t.test("the plugin gets the CNI env, CNI_PATH and its config on stdin", async (t) => {
  const dir = tempDir(t);
  const out = join(dir, "seen");
  fake(dir, "echo-env", `env | grep ^CNI_ | sort > ${out}; cat > ${out}.stdin; echo '{"cniVersion":"1.0.0"}'`);
  const stdout = await invokePlugin({ pluginType: "echo-env", verb: "ADD", env: env(dir), config: { name: "n", x: 1 }, timeoutMs: 5000 });
  t.equal(stdout.trim(), '{"cniVersion":"1.0.0"}');
  t.same(readFileSync(out, "utf8").trim().split("\n"), [
    "CNI_ARGS=A=1;B=2",
    "CNI_COMMAND=ADD",
    "CNI_CONTAINERID=c1",
    "CNI_IFNAME=net1",
    "CNI_NETNS=/run/netns/x",
    `CNI_PATH=${dir}`,
  ]);
  t.same(JSON.parse(readFileSync(`${out}.stdin`, "utf8")), { name: "n", x: 1 });
});

t.test("a plugin's CNI error is kept: message, its code, details", async (t) => {
  const dir = tempDir(t);
  fake(dir, "fails", `echo '{"code":11,"msg":"try later","details":"busy"}'; exit 1`);
  await t.rejects(invokePlugin({ pluginType: "fails", verb: "ADD", env: env(dir), config: {}, timeoutMs: 5000 }), {
    code: 100,
    message: 'plugin "fails" failed: try later',
    details: "busy",
    pluginCode: 11,
  });
});

t.test("garbage output and crashes become readable errors", async (t) => {
  const dir = tempDir(t);
  fake(dir, "garbage", `echo 'segfault or so' >&2; echo 'xx'; exit 3`);
  await t.rejects(invokePlugin({ pluginType: "garbage", verb: "DEL", env: env(dir), config: {}, timeoutMs: 5000 }), {
    message: 'plugin "garbage" failed: exited with code 3: segfault or so',
  });
  fake(dir, "crash", `kill -SEGV $$`);
  await t.rejects(invokePlugin({ pluginType: "crash", verb: "DEL", env: env(dir), config: {}, timeoutMs: 5000 }), {
    message: /killed by SIGSEGV/,
  });
});

t.test("a plugin that hangs is killed at the timeout", async (t) => {
  const dir = tempDir(t);
  fake(dir, "hangs", `exec sleep 30`);
  const start = Date.now();
  await t.rejects(invokePlugin({ pluginType: "hangs", verb: "ADD", env: env(dir), config: {}, timeoutMs: 300 }), {
    message: /timed out after 0.3s; it and its child processes were killed/,
  });
  t.ok(Date.now() - start < 10_000);
});

/** Is a process with this pid still running (and not a zombie)? */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

t.test("done means exited: a background child holding stdout does not make a success a timeout", async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, "bg.pid");
  fake(dir, "forks", `echo '{"cniVersion":"1.0.0"}'; sleep 20 & echo $! > ${pidFile}; exit 0`);
  t.teardown(() => process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL"));
  const start = Date.now();
  const stdout = await invokePlugin({ pluginType: "forks", verb: "ADD", env: env(dir), config: {}, timeoutMs: 3000 });
  t.equal(stdout.trim(), '{"cniVersion":"1.0.0"}', "the result printed before the exit");
  t.ok(Date.now() - start < 2000, `returned at the exit, not at the timeout or the child's end (${Date.now() - start} ms)`);
});

t.test("a timeout kills the plugin's whole process group, children included", async (t) => {
  const dir = tempDir(t);
  const pids = join(dir, "pids");
  // The plugin's own child keeps running (as an IPAM plugin or a helper would).
  fake(dir, "hangs-with-child", `sleep 30 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`);
  await t.rejects(invokePlugin({ pluginType: "hangs-with-child", verb: "ADD", env: env(dir), config: {}, timeoutMs: 500 }), {
    message: /timed out after 0.5s; it and its child processes were killed/,
  });
  const [child, plugin] = readFileSync(pids, "utf8").trim().split("\n").map(Number);
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(running(plugin), "the plugin is gone");
  t.notOk(running(child), "its child is gone too");
  t.teardown(() => {
    for (const p of [child, plugin]) if (running(p)) process.kill(p, "SIGKILL");
  });
});

t.test("findPlugin searches dirs in order and refuses paths", async (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  const inB = fake(b, "p", "true");
  t.equal(findPlugin("p", [a, b]), inB);
  fake(a, "p", "true");
  t.equal(findPlugin("p", [a, b]), join(a, "p"));
  writeFileSync(join(a, "notexec"), "");
  t.throws(() => findPlugin("notexec", [a]), { code: 7, message: /failed to find plugin "notexec"/ });
  t.throws(() => findPlugin("../p", [a]), { code: 7, message: /is a path/ });
});

t.test("runtimeConfig reaches only plugins that declare the capability, and only the cluster network", async (t) => {
  const { runPlugin } = await import("./helpers/run-plugin.ts");
  const { makeNetns } = await import("./helpers/netns.ts");
  const dir = tempDir(t);
  const ns = makeNetns(t);
  const rec = (name: string) =>
    fake(dir, name, `cat > ${dir}/${name}.$CNI_COMMAND.json; echo '{"cniVersion":"1.0.0","ips":[{"address":"10.3.0.2/24"}]}'`);
  rec("capable");
  rec("plain");
  rec("other");
  const conf = {
    cniVersion: "1.0.0",
    name: "m",
    type: "multus",
    cniDir: join(dir, "cache"),
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
    delegates: [
      { name: "cluster", plugins: [{ type: "plain" }, { type: "capable", capabilities: { portMappings: true } }] },
      { name: "second", type: "other", capabilities: { portMappings: true } },
    ],
  };
  const r = await runPlugin({ command: "ADD", containerId: "rc-1", netns: ns.path, path: dir, stdin: conf });
  t.equal(r.code, 0, r.stdout);
  const seen = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
  t.same(seen("capable.ADD.json").runtimeConfig, conf.runtimeConfig, "the cluster network's capable plugin gets it");
  t.notOk("runtimeConfig" in seen("plain.ADD.json"), "a plugin without the capability does not");
  t.notOk("runtimeConfig" in seen("other.ADD.json"), "a secondary network does not get the runtime's args");
  t.equal((await runPlugin({ command: "DEL", containerId: "rc-1", netns: ns.path, path: dir, stdin: conf })).code, 0);
  t.same(seen("capable.DEL.json").runtimeConfig, conf.runtimeConfig, "DEL passes it too (from the cache record)");
});
