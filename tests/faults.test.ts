// Faults injected into delegates, the process itself and the API server:
// every failure is a clean CNI error and nothing is left behind.

import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { fakeBin } from "./helpers/fake-plugins.ts";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { CNI_BIN, type CniCall, cniEnv, PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { cacheEntries, scenario } from "./helpers/scenario.ts";

const faults: [string, string, RegExp][] = [
  ["hangs", "exec sleep 30", /timed out after 1s; it and its child processes were killed/],
  ["crashes", "kill -SEGV $$", /killed by SIGSEGV/],
  ["prints garbage", "echo 'this is not JSON'; exit 0", /succeeded but printed no valid result/],
  ["fails without a CNI error", "echo 'panic: runtime error' >&2; exit 2", /exited with code 2: panic: runtime error/],
];

for (const [what, body, msg] of faults) {
  t.test(`a delegate that ${what}: ADD fails cleanly and the first delegate is rolled back`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const path = fakeBin(t, { faulty: body });
    const conf = s.netconf([s.bridge(), { cniVersion: "1.0.0", name: "faulty-net", type: "faulty" }], { delegateTimeout: 1 });
    const r = await runPlugin({ command: "ADD", containerId: "fault-1", netns: ns.path, path, stdin: conf });
    t.equal(r.code, 1);
    t.equal(r.json!.code, 100);
    t.match(r.json!.msg, /cannot attach network "faulty-net" as net1: plugin "faulty" failed: /);
    t.match(r.json!.msg, msg);
    t.same(links(ns.name), []);
    t.same(reservations(s.ipamDir), []);
    t.notOk(existsSync(join(s.cniDir, "fault-1")));
  });
}

t.test("a delegate that hangs on every verb: the ADD answers within addTimeout, rollback included", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const path = fakeBin(t, { stuck: "exec sleep 30" });
  // delegateTimeout alone would allow 10 s for its ADD and 10 s more for its rollback DEL.
  const conf = s.netconf([s.bridge(), { cniVersion: "1.0.0", name: "stuck-net", type: "stuck" }], { delegateTimeout: 10, addTimeout: 4 });
  const started = Date.now();
  const r = await runPlugin({ command: "ADD", containerId: "bound-1", netns: ns.path, path, stdin: conf });
  const took = Date.now() - started;
  t.equal(r.code, 1);
  t.match(
    String(r.json?.msg),
    /cannot attach network "stuck-net" as net1: plugin "stuck" failed: timed out after [0-9.]+s; it and its child processes were killed/,
  );
  t.ok(took < 6000, `answered in ${took} ms (addTimeout 4 s)`);
  t.same(links(ns.name), [], "the bridge attachment was rolled back in the time left");
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), []);
});

/** Start an ADD of the built plugin and SIGKILL it once `marker` exists (as containerd does when kubelet's deadline passes). */
async function addKilledAt(marker: string, call: CniCall & { stdin: object }): Promise<number> {
  const child = spawn(PLUGIN, [], { env: cniEnv({ ...call, command: "ADD" }), stdio: ["pipe", "ignore", "ignore"] });
  child.stdin.end(JSON.stringify(call.stdin));
  const exited = new Promise((r) => child.on("exit", r));
  while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGKILL");
  await exited;
  return child.pid!;
}

t.test("the plugin killed with SIGKILL mid-ADD, then DEL: nothing is left", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const marker = join(s.dir, "slow-started");
  // ptp, but only after a pause, so the kill lands between two delegates.
  const path = fakeBin(t, { slowptp: `touch ${marker}; sleep 1; exec ${CNI_BIN}/ptp` });
  const conf = s.netconf([s.bridge(), s.ptp({ type: "slowptp" })]);
  await addKilledAt(marker, { containerId: "killed-1", netns: ns.path, path, stdin: conf });
  // The orphaned delegate may still finish its ADD; the runtime's DEL comes after.
  await new Promise((r) => setTimeout(r, 1500));
  t.ok(existsSync(join(s.cniDir, "killed-1")), "the record written before the first delegate survives the kill");
  const d = await runPlugin({ command: "DEL", containerId: "killed-1", netns: ns.path, path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), []);
});

t.test("killed between writing its record's temp file and the rename: the call that takes its lock over removes that file", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const marker = join(s.dir, "slow-started");
  const path = fakeBin(t, { slowptp: `[ "$CNI_COMMAND" = ADD ] || exec ${CNI_BIN}/ptp; touch ${marker}; sleep 1; exec ${CNI_BIN}/ptp` });
  const conf = s.netconf([s.bridge(), s.ptp({ type: "slowptp" })]);
  const pid = await addKilledAt(marker, { containerId: "killed-5", netns: ns.path, path, stdin: conf });
  // What the kill leaves when it lands between the write and the rename (the lock still names the dead ADD).
  writeFileSync(join(s.cniDir, `killed-5.${pid}.tmp`), "{");
  t.ok(existsSync(join(s.cniDir, ".locks", "killed-5")), "the dead ADD still holds the lock");
  await new Promise((r) => setTimeout(r, 1500));
  const d = await runPlugin({ command: "DEL", containerId: "killed-5", netns: ns.path, path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.same(cacheEntries(s.cniDir), [], "no record, no lock, no temp file");
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

t.test("CHECK of a container whose ADD was killed mid-way fails: the ADD never completed", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const marker = join(s.dir, "slow-started");
  const path = fakeBin(t, { slowptp: `[ "$CNI_COMMAND" = ADD ] || exec ${CNI_BIN}/ptp; touch ${marker}; sleep 1; exec ${CNI_BIN}/ptp` });
  const conf = s.netconf([s.bridge(), s.ptp({ type: "slowptp" })]);
  await addKilledAt(marker, { containerId: "killed-3", netns: ns.path, path, stdin: conf });
  await new Promise((r) => setTimeout(r, 1500)); // the orphan finishes its ADD: both interfaces exist
  const check = await runPlugin({ command: "CHECK", containerId: "killed-3", netns: ns.path, path, stdin: conf });
  t.equal(check.code, 1, "CHECK fails");
  t.equal(check.json?.code, 101);
  t.match(String(check.json?.msg), "the ADD of container killed-3 did not complete");
  t.equal((await runPlugin({ command: "DEL", containerId: "killed-3", netns: ns.path, path, stdin: conf })).code, 0);
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
});

/** Pids of running processes whose environment names this container. */
function processesOf(containerId: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const env = readFileSync(`/proc/${n}/environ`, "latin1").split("\0");
      const stat = readFileSync(`/proc/${n}/stat`, "utf8");
      if (env.includes(`CNI_CONTAINERID=${containerId}`) && !/\) Z/.test(stat)) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}

t.test("the plugin killed during a slow delegate, DEL at once: the orphan is stopped, not left to finish", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const marker = join(s.dir, "slow-started");
  const finished = join(s.dir, "slow-finished");
  // ptp after a 2 s pause, in a child process (as an IPAM call would be); it
  // would add net1 and reserve an address long after the runtime's DEL.
  const path = fakeBin(t, {
    slowptp: `[ "$CNI_COMMAND" = ADD ] || exec ${CNI_BIN}/ptp; touch ${marker}; sleep 2; ${CNI_BIN}/ptp; rc=$?; touch ${finished}; exit $rc`,
  });
  const conf = s.netconf([s.bridge(), s.ptp({ type: "slowptp" })]);
  await addKilledAt(marker, { containerId: "killed-2", netns: ns.path, path, stdin: conf });
  t.teardown(() => {
    for (const pid of processesOf("killed-2")) process.kill(pid, "SIGKILL");
  });
  t.ok(processesOf("killed-2").length > 0, "the slow delegate outlived the plugin");
  const d = await runPlugin({ command: "DEL", containerId: "killed-2", netns: ns.path, path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
  t.same(processesOf("killed-2"), [], "DEL stopped the orphaned delegate and its children");
  await new Promise((r) => setTimeout(r, 2500)); // past the moment it would have finished
  t.notOk(existsSync(finished), "the orphan never finished its ADD");
  t.same(links(ns.name), []);
  t.same(reservations(s.ipamDir), []);
  t.same(cacheEntries(s.cniDir), []);
});

t.test("API faults: slow beyond the timeout, down, a 429 storm, persistent 409 on the status write", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const s = scenario(t);
  const ns = makeNetns(t);
  const stored = api.putPod({ metadata: { name: "p", namespace: "ns1" } });
  const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p;K8S_POD_UID=${stored.metadata.uid}`;
  const conf = s.netconf([s.bridge()], { kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }), apiTimeout: 0.3, apiDeadline: 1.5 });
  const call = { command: "ADD", containerId: "api-fault", netns: ns.path, args, stdin: conf };
  const clean = () => {
    t.same(links(ns.name), [], "nothing attached");
    t.same(reservations(s.ipamDir), []);
    t.notOk(existsSync(join(s.cniDir, "api-fault")));
  };

  api.delay(2000, "/api/v1/");
  let started = Date.now();
  let r = await runPlugin(call);
  t.equal(r.json!.code, 11, "slow API: try again later");
  t.match(r.json!.msg, /get pod ns1\/p: no answer from https:\/\/127\.0\.0\.1:\d+: TimeoutError: /);
  t.notMatch(r.json!.msg, /: \d+: /, "the failure is named, not a runtime's legacy number for it");
  t.ok(Date.now() - started < 6000, "bounded by the deadline");
  clean();
  api.clearFaults();

  api.failNext(1000, 429, { retryAfter: 0 });
  r = await runPlugin(call);
  t.equal(r.json!.code, 11, "429 storm");
  t.match(r.json!.msg, /429 TooManyRequests/);
  clean();
  api.clearFaults();

  api.failNext(1000, 409, { method: "PATCH" });
  r = await runPlugin(call);
  t.equal(r.code, 1, "persistent conflict on the status write");
  t.match(r.json!.msg, /write network-status of pod ns1\/p: 409 Conflict/);
  clean();
  api.clearFaults();

  await api.stop();
  started = Date.now();
  r = await runPlugin(call);
  t.equal(r.json!.code, 11, "API down");
  t.match(r.json!.msg, /no answer from/);
  t.ok(Date.now() - started < 6000);
  clean();
});
