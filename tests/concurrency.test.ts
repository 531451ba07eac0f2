// Calls for one container are serialised by a lock under cniDir: two ADDs at
// once, an ADD racing a DEL, and a lock left by a killed process.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { cniEnv, PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

t.test("two ADDs of one container at once: one attaches, the other is refused and destroys nothing", async (t) => {
  const s = scenario(t);
  const conf = s.netconf([s.bridge(), s.ptp()]);
  for (let round = 0; round < 10; round++) {
    const ns = makeNetns(t);
    const id = `twice-${round}`;
    const call = { command: "ADD", containerId: id, netns: ns.path, stdin: conf };
    const [a, b] = await Promise.all([runPlugin(call), runPlugin(call)]);
    const codes = [a.code, b.code].sort();
    t.same(codes, [0, 1], `round ${round}: one success, one failure`);
    const refused = a.code === 0 ? b : a;
    t.equal(refused.json?.code, 104, `round ${round}: the second is told the container is already attached`);
    t.same(links(ns.name).sort(), ["eth0", "net1"], `round ${round}: the winner's interfaces are intact`);
    t.equal(reservations(s.ipamDir).length, 2, `round ${round}: its two addresses are still reserved`);
    const rec = JSON.parse(readFileSync(join(s.cniDir, id), "utf8"));
    t.equal(rec.complete, true, `round ${round}: its record is complete`);
    const d = await runPlugin({ command: "DEL", containerId: id, netns: ns.path, stdin: conf });
    t.equal(d.code, 0, d.stdout);
  }
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), [], "no record and no lock left");
});

t.test("an ADD racing a DEL of the same container: the end state is all or nothing", async (t) => {
  const s = scenario(t);
  const conf = s.netconf([s.bridge(), s.ptp()]);
  for (let round = 0; round < 6; round++) {
    const ns = makeNetns(t);
    const id = `race-${round}`;
    const base = { containerId: id, netns: ns.path, stdin: conf };
    const [add, del] = await Promise.all([runPlugin({ ...base, command: "ADD" }), runPlugin({ ...base, command: "DEL" })]);
    t.equal(add.code, 0, add.stdout);
    t.equal(del.code, 0, del.stdout);
    const attached = existsSync(join(s.cniDir, id));
    const ifs = links(ns.name).length;
    const ips = reservations(s.ipamDir).length;
    t.ok(
      (attached && ifs === 2 && ips === 2) || (!attached && ifs === 0 && ips === 0),
      `round ${round}: consistent (${attached}, ${ifs} links, ${ips} addresses)`,
    );
    t.equal((await runPlugin({ ...base, command: "DEL" })).code, 0);
  }
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), []);
});

/** A process that has exited: its pid is free (start time unknown). */
async function deadPid(): Promise<number> {
  const p = spawn("true");
  await new Promise((r) => p.on("exit", r));
  return p.pid!;
}

t.test("a lock left by a killed call does not block the container", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  mkdirSync(join(s.cniDir, ".locks"), { recursive: true });
  writeFileSync(join(s.cniDir, ".locks", "stale-1"), JSON.stringify({ pid: await deadPid(), start: "1" }));
  const conf = s.netconf([s.bridge(), s.ptp()]);
  const add = await runPlugin({ command: "ADD", containerId: "stale-1", netns: ns.path, stdin: conf });
  t.equal(add.code, 0, add.stdout);
  t.same(cacheEntries(s.cniDir), ["stale-1"], "the stale lock was broken and ours released");
  t.equal((await runPlugin({ command: "DEL", containerId: "stale-1", netns: ns.path, stdin: conf })).code, 0);
});

t.test("a lock held by a live call: the next call waits, then gives up with try-again-later", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const holder = spawn("sleep", ["30"]);
  t.teardown(() => holder.kill("SIGKILL"));
  const start = readFileSync(`/proc/${holder.pid}/stat`, "utf8").split(") ")[1].split(" ")[19];
  mkdirSync(join(s.cniDir, ".locks"), { recursive: true });
  writeFileSync(join(s.cniDir, ".locks", "busy-1"), JSON.stringify({ pid: holder.pid, start }));
  // The wait is bounded by how long an ADD may take: keep that short here.
  const conf = s.netconf([s.bridge(), s.ptp()], { readinessTimeout: 0.1, addTimeout: 0.5 });
  const r = await runPlugin({ command: "ADD", containerId: "busy-1", netns: ns.path, stdin: conf });
  t.equal(r.code, 1);
  t.equal(r.json?.code, 11, "try again later");
  t.match(String(r.json?.msg), `another call for container busy-1 is still running (pid ${holder.pid})`);
  t.same(links(ns.name), [], "nothing attached");
  holder.kill("SIGKILL");
  await new Promise((r) => holder.on("exit", r));
  const again = await runPlugin({ command: "ADD", containerId: "busy-1", netns: ns.path, stdin: conf });
  t.equal(again.code, 0, again.stdout);
  t.equal((await runPlugin({ command: "DEL", containerId: "busy-1", netns: ns.path, stdin: conf })).code, 0);
});

t.test("temp files a killed call left in the lock dir are swept by the next call", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const locks = join(s.cniDir, ".locks");
  mkdirSync(locks, { recursive: true });
  const dead = await deadPid();
  const alive = spawn("sleep", ["30"]);
  t.teardown(() => alive.kill("SIGKILL"));
  writeFileSync(join(locks, `sweep-1.${dead}.tmp`), "{}");
  writeFileSync(join(locks, `sweep-1.stale.${dead}.tmp`), "{}"); // a stale lock set aside
  writeFileSync(join(locks, `sweep-1.${alive.pid}.tmp`), "{}"); // a live caller waiting for the lock
  const conf = s.netconf([s.bridge(), s.ptp()]);
  t.equal((await runPlugin({ command: "ADD", containerId: "sweep-1", netns: ns.path, stdin: conf })).code, 0);
  t.same(cacheEntries(s.cniDir), [`.locks/sweep-1.${alive.pid}.tmp`, "sweep-1"], "the dead callers' files are gone, the live one's kept");
  t.equal((await runPlugin({ command: "DEL", containerId: "sweep-1", netns: ns.path, stdin: conf })).code, 0);
});

t.test("a call killed while it waits for the lock leaves nothing in the lock dir", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const holder = spawn("sleep", ["30"]);
  t.teardown(() => holder.kill("SIGKILL"));
  const start = readFileSync(`/proc/${holder.pid}/stat`, "utf8").split(") ")[1].split(" ")[19];
  const locks = join(s.cniDir, ".locks");
  mkdirSync(locks, { recursive: true });
  writeFileSync(join(locks, "waiter-1"), JSON.stringify({ pid: holder.pid, start }));
  const conf = s.netconf([s.bridge(), s.ptp()]);
  const waiter = spawn(PLUGIN, [], {
    env: cniEnv({ command: "ADD", containerId: "waiter-1", netns: ns.path, stdin: "" }),
    stdio: ["pipe", "ignore", "ignore"],
  });
  waiter.stdin.end(JSON.stringify(conf));
  const exited = new Promise((r) => waiter.on("exit", r));
  await new Promise((r) => setTimeout(r, 1000)); // it is waiting now (the lock's holder lives on)
  t.equal(waiter.exitCode, null, "still waiting");
  t.same(readdirSync(locks), ["waiter-1"], "while it waits, only the lock is there");
  waiter.kill("SIGKILL");
  await exited;
  t.same(readdirSync(locks), ["waiter-1"], "and after the kill, nothing of the waiter's");
});
