// `multus install`, `uninstall` and `status`, through the built file (and the
// re-run and ordering rules of install also in-process, through lib/cli), in temp dirs.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { cli } from "../lib/cli/index.ts";
import { calico, flannel, storage } from "./helpers/cluster-confs.ts";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { PLUGIN, ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
/** The same CLI, run in this process from the source (installs this test file as "the program"). */
async function inProcess(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const a = await cli(argv);
  if (!a) throw new Error("not a CLI invocation");
  return { code: a.exitCode, stdout: a.stdout, stderr: a.stderr ?? "" };
}
type Run = typeof inProcess;
/** The built file as a person runs it, killed if it takes longer than `ms` (a read that blocks or grows). */
function within(argv: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PLUGIN, argv, { env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => {
      stderr += `\n(killed: still running after ${ms} ms)`;
      child.kill("SIGKILL");
    }, ms);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const runners: [string, Run][] = [
  ["in-process", inProcess],
  ["built file", human],
];

function node(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t);
  const binDir = join(root, "bin");
  const confDir = join(root, "net.d");
  mkdirSync(confDir);
  mkdirSync(binDir);
  writeFileSync(join(confDir, "10-flannel.conflist"), JSON.stringify(flannel));
  writeFileSync(join(confDir, "99-loopback.conf"), JSON.stringify({ cniVersion: "0.4.0", name: "lo", type: "loopback" }));
  return { root, binDir, confDir, flannel };
}

t.test("install copies the file and writes 00-multus.conf delegating to the first config; again changes nothing", async (t) => {
  const n = node(t);
  const args = ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir];
  const r = await human(args);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`installed ${n.binDir}/multus`));
  t.match(r.stdout, /wrote .*00-multus.conf \(delegates to 10-flannel.conflist\)/);
  t.ok(readFileSync(join(n.binDir, "multus")).equals(readFileSync(PLUGIN)), "the very same file");
  t.equal(statSync(join(n.binDir, "multus")).mode & 0o777, 0o755);
  const conf = JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"));
  t.match(conf, { cniVersion: "0.4.0", name: "multus-cni-network", type: "multus", capabilities: { portMappings: true } });
  t.same(conf.delegates, [n.flannel]);
  t.notOk("kubeconfig" in conf);

  const again = await human(args);
  t.equal(again.code, 0);
  t.match(again.stdout, /multus: unchanged\n.*00-multus.conf: unchanged/);

  const installed = await runPlugin({ bin: join(n.binDir, "multus"), command: "VERSION", stdin: "" });
  t.equal(installed.code, 0, "the installed copy runs");
});

t.test("install --kubeconfig writes Kubernetes mode; --dry-run writes nothing", async (t) => {
  const n = node(t);
  const kc = join(n.root, "multus.kubeconfig");
  writeFileSync(kc, "apiVersion: v1\nkind: Config\n");
  const dry = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--kubeconfig", kc, "--dry-run"]);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /would copy .* to .*\/bin\/multus/);
  t.match(dry.stdout, /"kubeconfig": ".*multus.kubeconfig"/);
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")));
  t.notOk(existsSync(join(n.binDir, "multus")));
  const r = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--kubeconfig", kc]);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8")).kubeconfig, kc);
  t.match(r.stdout, /Kubernetes mode/);
});

const sriovA = { name: "sriov-a", type: "host-device", device: "eth2" };
const readConf = (n: { confDir: string }, name = "00-multus.conf") => JSON.parse(readFileSync(join(n.confDir, name), "utf8"));
/**
 * Our conf's cache dir in the test's own dir: uninstall refuses while the
 * cache dir holds records, and the default one is the machine's (other
 * tests' pods may be there at the time).
 */
function ownCache(n: { root: string; confDir: string }) {
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify({ ...readConf(n), cniDir: join(n.root, "cache") }));
}

for (const [how, run] of runners) {
  const dirs = (n: ReturnType<typeof node>) => ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir];

  t.test(`${how}: a re-run keeps the delegates and settings a user added, and rewrites nothing when nothing changed`, async (t) => {
    const n = node(t);
    t.equal((await run(dirs(n))).code, 0);
    // What the README tells a user to do: append secondary networks (and set options) in the file.
    const conf = readConf(n);
    conf.delegates.push(storage, sriovA);
    conf.logFile = "/var/log/multus.log";
    conf.logLevel = "debug";
    const edited = `${JSON.stringify(conf, null, 4)}\n`;
    writeFileSync(join(n.confDir, "00-multus.conf"), edited);
    const ino = statSync(join(n.confDir, "00-multus.conf")).ino;

    const r = await run(dirs(n));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /00-multus.conf: unchanged/);
    t.match(r.stdout, /kept 2 user delegates: storage, sriov-a/);
    t.match(r.stdout, /kept settings: logFile, logLevel/);
    t.equal(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"), edited, "the user's file, byte for byte");
    t.equal(statSync(join(n.confDir, "00-multus.conf")).ino, ino, "not even rewritten");

    // The cluster network's own conf changes: only delegates[0] follows it.
    const flannel = { ...n.flannel, plugins: [...n.flannel.plugins, { type: "bandwidth", capabilities: { bandwidth: true } }] };
    writeFileSync(join(n.confDir, "10-flannel.conflist"), JSON.stringify(flannel));
    const u = await run(dirs(n));
    t.equal(u.code, 0, u.stderr);
    t.match(u.stdout, /updated .*00-multus.conf \(delegates to 10-flannel.conflist\)/);
    t.match(u.stdout, /cluster network \(delegates\[0\]\) regenerated from 10-flannel.conflist/);
    t.match(u.stdout, /kept 2 user delegates: storage, sriov-a/);
    const after = readConf(n);
    t.same(after.delegates, [flannel, storage, sriovA]);
    t.match(after, {
      cniVersion: "0.4.0",
      type: "multus",
      logFile: "/var/log/multus.log",
      logLevel: "debug",
      capabilities: { portMappings: true, bandwidth: true },
    });
    t.equal(statSync(join(n.confDir, "00-multus.conf")).mode & 0o777, 0o644);

    const bytes = readFileSync(join(n.confDir, "00-multus.conf"));
    const again = await run(dirs(n));
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /00-multus.conf: unchanged/);
    t.ok(readFileSync(join(n.confDir, "00-multus.conf")).equals(bytes), "identical bytes");
  });

  t.test(`${how}: a re-run regenerates the cluster network when the cluster conf is replaced (flannel -> calico)`, async (t) => {
    const n = node(t);
    t.equal((await run(dirs(n))).code, 0);
    const conf = readConf(n);
    conf.delegates.push(storage);
    conf.logFile = "/var/log/multus.log";
    conf.capabilities.ips = true; // the user's delegate wants static IPs from the runtime
    writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(conf, null, 2));
    rmSync(join(n.confDir, "10-flannel.conflist"));
    writeFileSync(join(n.confDir, "10-calico.conflist"), JSON.stringify(calico));

    const r = await run(dirs(n));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /updated .*00-multus.conf \(delegates to 10-calico.conflist\)/);
    t.match(
      r.stdout,
      /cluster network \(delegates\[0\]\): "cbr0" from 10-flannel.conflist is now "k8s-pod-network" from 10-calico.conflist/,
    );
    t.match(r.stdout, /kept 1 user delegate: storage/);
    const after = readConf(n);
    t.same(after.delegates, [calico, storage]);
    t.equal(after.cniVersion, "1.0.0", "follows the cluster network");
    t.same(after.capabilities, { bandwidth: true, portMappings: true, ips: true }, "flannel's dropped, calico's added, the user's kept");
    t.equal(after.logFile, "/var/log/multus.log");
    t.match(after.multusInstall.delegatesTo, /10-calico.conflist$/);
  });

  t.test(
    `${how}: the DaemonSet's install on every restart (--kubeconfig) keeps user delegates; without --kubeconfig the kubeconfig stays`,
    async (t) => {
      const n = node(t);
      const kc = join(n.root, "multus.kubeconfig");
      writeFileSync(kc, "apiVersion: v1\nkind: Config\n");
      t.equal((await run([...dirs(n), "--kubeconfig", kc])).code, 0);
      const conf = readConf(n);
      conf.delegates.push(storage, sriovA);
      conf.namespaceIsolation = true;
      writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(conf, null, 2));
      for (const args of [[...dirs(n), "--kubeconfig", kc], dirs(n)]) {
        const r = await run(args);
        t.equal(r.code, 0, r.stderr);
        t.match(r.stdout, /00-multus.conf: unchanged.*kept 2 user delegates: storage, sriov-a/s);
        const after = readConf(n);
        t.equal(after.kubeconfig, kc);
        t.equal(after.namespaceIsolation, true);
        t.same(after.delegates, [n.flannel, storage, sriovA]);
      }
    },
  );

  t.test(`${how}: a hand-written multus conf (the README example) is adopted: its secondary delegates stay`, async (t) => {
    const n = node(t);
    const old = { cniVersion: "0.4.0", name: "cbr0", type: "flannel", delegate: { isDefaultGateway: true } };
    writeFileSync(
      join(n.confDir, "00-multus.conf"),
      JSON.stringify({ cniVersion: "0.4.0", name: "hand-made", type: "multus", delegates: [old, storage] }),
    );
    const r = await run(dirs(n));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /kept 1 user delegate: storage/);
    t.match(r.stdout, /updated: .*multusInstall \(adopting a multus config install did not write\)/);
    const after = readConf(n);
    t.equal(after.name, "hand-made");
    t.same(after.delegates, [n.flannel, storage]);
  });

  t.test(
    `${how}: an existing conf that is not JSON, or not multus, is refused; --force rewrites it from scratch, and merges a multus conf`,
    async (t) => {
      const n = node(t);
      const file = join(n.confDir, "00-multus.conf");
      for (const [content, why] of [
        ['{"type": "multus", "delegates": [', /is not valid JSON/],
        [JSON.stringify({ cniVersion: "0.4.0", name: "mine", type: "bridge" }), /is not a multus config \(type "bridge"\)/],
        [JSON.stringify({ type: "multus", delegates: { name: "x" } }), /"delegates" is not a list/],
      ] as const) {
        writeFileSync(file, content);
        const r = await run(dirs(n));
        t.equal(r.code, 1, content);
        t.match(r.stderr, why);
        t.match(r.stderr, new RegExp(`${file}.*use --force to overwrite it`));
        t.equal(readFileSync(file, "utf8"), content, "untouched");
        t.notOk(existsSync(join(n.binDir, "multus")), "nothing installed");
        const dry = await run([...dirs(n), "--dry-run"]);
        t.equal(dry.code, 1);
        t.match(dry.stderr, why);
      }
      const forced = await run([...dirs(n), "--force"]);
      t.equal(forced.code, 0, forced.stderr);
      t.match(forced.stdout, /wrote .*00-multus.conf from scratch \(--force\)/);
      t.same(readConf(n).delegates, [n.flannel]);

      // --force has no reason to drop what a readable multus conf holds: it is merged as without it.
      const conf = readConf(n);
      conf.delegates.push(storage);
      conf.logFile = "/x.log";
      writeFileSync(file, JSON.stringify(conf));
      const again = await run([...dirs(n), "--force"]);
      t.equal(again.code, 0, again.stderr);
      t.match(again.stdout, /kept 1 user delegate: storage/);
      t.match(again.stdout, /kept settings: logFile/);
      t.same(readConf(n).delegates, [n.flannel, storage]);
      t.equal(readConf(n).logFile, "/x.log");
    },
  );

  t.test(`${how}: a conf that sorts before ours is an error (--dry-run too); --force writes with a warning`, async (t) => {
    const n = node(t);
    const custom = { cniVersion: "0.4.0", name: "custom", plugins: [{ type: "bridge", bridge: "cni0" }] };
    writeFileSync(join(n.confDir, "00-custom.conflist"), JSON.stringify(custom));
    const problem = new RegExp(
      `${n.confDir}/00-custom.conflist sorts before 00-multus.conf: the runtime uses the first config by name, so it would never run multus\\. ` +
        "Rename it .*, or pass --conf-name .*, or --force to write 00-multus.conf anyway",
    );
    const r = await run(dirs(n));
    t.equal(r.code, 1, r.stdout);
    t.match(r.stderr, problem);
    t.notOk(existsSync(join(n.confDir, "00-multus.conf")), "nothing written");
    t.notOk(existsSync(join(n.binDir, "multus")), "nothing installed");

    const dry = await run([...dirs(n), "--dry-run"]);
    t.equal(dry.code, 1);
    t.match(dry.stderr, problem);

    // Already installed, then another conf shows up in front: a re-run says so.
    rmSync(join(n.confDir, "00-custom.conflist"));
    t.equal((await run(dirs(n))).code, 0);
    writeFileSync(join(n.confDir, "00-custom.conflist"), JSON.stringify(custom));
    const rerun = await run(dirs(n));
    t.equal(rerun.code, 1, "not 'unchanged'");
    t.match(rerun.stderr, problem);

    const forced = await run([...dirs(n), "--force"]);
    t.equal(forced.code, 0, forced.stderr);
    t.match(forced.stdout, /warning: .*00-custom.conflist sorts before 00-multus.conf: the runtime uses it, not multus/);
    t.ok(existsSync(join(n.confDir, "00-multus.conf")));
  });

  t.test(`${how}: only .conf, .conflist and .json files count for the order, not directories or other names`, async (t) => {
    const n = node(t);
    writeFileSync(join(n.confDir, "00-aaa.conf.bak"), "{}");
    writeFileSync(join(n.confDir, "00-notes.txt"), "hello");
    writeFileSync(join(n.confDir, "00-multus.conf.orig"), "{}");
    mkdirSync(join(n.confDir, "00-dir.conf"));
    mkdirSync(join(n.confDir, "00-multus.d"));
    const r = await run(dirs(n));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /delegates to 10-flannel.conflist/);
    writeFileSync(join(n.confDir, "00-a.json"), "not even JSON");
    const bad = await run(dirs(n));
    t.equal(bad.code, 1, "a .json file sorting first counts, whatever it holds");
    t.match(bad.stderr, /00-a.json sorts before 00-multus.conf/);
  });

  t.test(`${how}: --conf-name writes (and uninstall removes) a conf under another name`, async (t) => {
    const n = node(t);
    writeFileSync(
      join(n.confDir, "00-custom.conflist"),
      JSON.stringify({ cniVersion: "0.4.0", name: "custom", plugins: [{ type: "bridge" }] }),
    );
    for (const bad of ["x/00-multus.conf", "00-multus.yaml", "multus", ".00-multus.conf"]) {
      const r = await run([...dirs(n), "--conf-name", bad]);
      t.equal(r.code, 2, `${bad}: a usage mistake`);
      t.match(r.stderr, /--conf-name must be a file name ending in \.conf, \.conflist or \.json/);
    }
    const r = await run([...dirs(n), "--conf-name", "00-a-multus.conf"]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /wrote .*00-a-multus.conf \(delegates to 00-custom.conflist\)/);
    t.notOk(existsSync(join(n.confDir, "00-multus.conf")));
    t.equal(readConf(n, "00-a-multus.conf").delegates[0].name, "custom");
    t.match((await run([...dirs(n), "--conf-name", "00-a-multus.conf"])).stdout, /00-a-multus.conf: unchanged/);
    // (--force: in-process, the "program" installed is this test file)
    const u = await run(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--conf-name", "00-a-multus.conf", "--force"]);
    t.equal(u.code, 0, u.stderr);
    t.notOk(existsSync(join(n.confDir, "00-a-multus.conf")));
  });

  t.test(`${how}: --dry-run of a re-run says what it would keep and writes nothing`, async (t) => {
    const n = node(t);
    t.equal((await run(dirs(n))).code, 0);
    const conf = readConf(n);
    conf.delegates.push(storage);
    writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(conf));
    rmSync(join(n.confDir, "10-flannel.conflist"));
    writeFileSync(join(n.confDir, "10-calico.conflist"), JSON.stringify(calico));
    const before = readFileSync(join(n.confDir, "00-multus.conf"), "utf8");
    const dry = await run([...dirs(n), "--dry-run"]);
    t.equal(dry.code, 0, dry.stderr);
    t.match(dry.stdout, /would update .*00-multus.conf \(delegates to 10-calico.conflist\)/);
    t.match(dry.stdout, /would keep 1 user delegate: storage/);
    t.equal(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"), before);
  });
}

t.test("install without any network config says what to do", async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, "empty"));
  mkdirSync(join(root, "bin"));
  const r = await human(["install", "--bin-dir", join(root, "bin"), "--conf-dir", join(root, "empty")]);
  t.equal(r.code, 1);
  t.match(r.stderr, /no network config .* to delegate to: install the cluster network first/);
});

t.test("uninstall reverses install, and refuses foreign files", async (t) => {
  const n = node(t);
  t.equal((await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir])).code, 0);
  ownCache(n);
  const r = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")));
  t.notOk(existsSync(join(n.binDir, "multus")));
  t.ok(existsSync(join(n.confDir, "10-flannel.conflist")), "the delegated config stays");
  const again = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(again.code, 0);
  t.match(again.stdout, /not present/);
  mkdirSync(n.binDir, { recursive: true });
  writeFileSync(join(n.binDir, "multus"), "#!/bin/sh\necho other\n");
  const foreign = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(foreign.code, 1);
  t.match(foreign.stderr, /is not this program; use --force/);
});

t.test("status lists cached attachments", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "status-1", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const r = await human(["status", "--cni-dir", s.cniDir]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^CONTAINER\s+STATE\s+NETNS\s+INTERFACES\n/);
  t.match(r.stdout, new RegExp(`status-1\\s+attached\\s+${ns.path}\\s+eth0=br-net net1=ptp-net`));
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.match((await human(["status", "--cni-dir", s.cniDir])).stdout, /no cached attachments/);
});

t.test("every command has --help", async (t) => {
  for (const cmd of ["install", "uninstall", "status", "version"]) {
    const r = await human([cmd, "--help"]);
    t.equal(r.code, 0, cmd);
    t.match(r.stdout, new RegExp(`^usage: multus ${cmd}`));
  }
});

t.test(
  "--readiness-indicator-file without --watch: waits for it, then writes it into the conf (a re-run without the flag keeps it)",
  async (t) => {
    const n = node(t);
    const ready = join(n.root, "ready");
    const args = ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--readiness-indicator-file", ready];
    const dry = await human([...args, "--dry-run"]);
    t.equal(dry.code, 0, dry.stderr);
    t.match(dry.stdout, new RegExp(`"readinessindicatorfile": "${ready}"`), `--dry-run does not wait: ${dry.stdout}`);
    const pending = human(args);
    await new Promise((r) => setTimeout(r, 700));
    t.notOk(existsSync(join(n.confDir, "00-multus.conf")), "nothing written while the indicator is missing");
    t.notOk(existsSync(join(n.binDir, "multus")));
    writeFileSync(ready, "");
    const r = await pending;
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, new RegExp(`waiting for the readiness indicator ${ready}`), r.stderr);
    t.equal(readConf(n).readinessindicatorfile, ready);
    const again = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /00-multus.conf: unchanged/, again.stdout);
    t.equal(readConf(n).readinessindicatorfile, ready, "kept");
    const other = join(n.root, "other");
    writeFileSync(other, "");
    const moved = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--readiness-indicator-file", other]);
    t.match(moved.stdout, /updated: readinessindicatorfile/, moved.stdout);
    t.equal(readConf(n).readinessindicatorfile, other);
  },
);

t.test("--generate-kubeconfig without --watch: writes the kubeconfig and the token copy once; uninstall removes them", async (t) => {
  const n = node(t);
  const sa = join(n.root, "sa");
  mkdirSync(sa);
  writeFileSync(join(sa, "token"), "tok-1");
  writeFileSync(join(sa, "ca.crt"), "CA PEM\n");
  writeFileSync(join(sa, "namespace"), "kube-system");
  const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" };
  const args = ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--generate-kubeconfig", "--service-account-dir", sa];
  const kubeconfig = join(n.confDir, "multus.d", "multus.kubeconfig");
  const token = join(n.confDir, "multus.d", "token");
  // A refused install writes no kubeconfig either.
  writeFileSync(join(n.confDir, "00-aaa.conf"), JSON.stringify({ cniVersion: "0.4.0", name: "first", type: "bridge" }));
  const refused = await runPlugin({ argv: args, stdin: "", env });
  t.equal(refused.code, 1, "another conf sorts first");
  t.match(refused.stderr, /00-aaa\.conf sorts before 00-multus\.conf/);
  t.notOk(existsSync(join(n.confDir, "multus.d")), "no kubeconfig written for a refused install");
  rmSync(join(n.confDir, "00-aaa.conf"));
  const dry = await runPlugin({ argv: [...args, "--dry-run"], stdin: "", env });
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /would write .*multus\.kubeconfig/, dry.stdout);
  t.notOk(existsSync(join(n.confDir, "multus.d")), "--dry-run writes nothing");
  const r = await runPlugin({ argv: args, stdin: "", env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /wrote .*multus\.kubeconfig/, r.stdout);
  t.equal(readConf(n).kubeconfig, kubeconfig);
  const text = readFileSync(kubeconfig, "utf8");
  t.match(text, /server: "https:\/\/\[fd00::1\]:6443"/);
  t.match(text, new RegExp(`certificate-authority-data: "${Buffer.from("CA PEM\n").toString("base64")}"`));
  t.match(text, new RegExp(`tokenFile: "${token}"`));
  t.equal(readFileSync(token, "utf8"), "tok-1");
  t.equal(statSync(kubeconfig).mode & 0o777, 0o600);
  t.equal(statSync(token).mode & 0o777, 0o600);
  const again = await runPlugin({ argv: args, stdin: "", env });
  t.match(again.stdout, /multus\.kubeconfig: unchanged/, again.stdout);
  ownCache(n);
  const u = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(u.code, 0, u.stderr);
  t.match(u.stdout, /removed .*multus\.kubeconfig/, u.stdout);
  t.notOk(existsSync(kubeconfig));
  t.notOk(existsSync(token));
});

t.test("uninstall leaves a kubeconfig it did not generate", async (t) => {
  const n = node(t);
  t.equal((await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir])).code, 0);
  mkdirSync(join(n.confDir, "multus.d"));
  writeFileSync(join(n.confDir, "multus.d", "multus.kubeconfig"), "apiVersion: v1\nkind: Config\n");
  writeFileSync(join(n.confDir, "multus.d", "token"), "hand-made");
  ownCache(n);
  const u = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(u.code, 0, u.stderr);
  t.ok(existsSync(join(n.confDir, "multus.d", "multus.kubeconfig")));
  t.ok(existsSync(join(n.confDir, "multus.d", "token")));
});

t.test("install from dist/multus.mjs refuses: copied as bin/multus, the module would not run", async (t) => {
  const n = node(t);
  const r = await runPlugin({
    argv: ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir],
    stdin: "",
    bin: join(ROOT, "dist", "multus.mjs"),
    interpreter: [process.execPath],
    env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /multus\.mjs is an ES module for node or deno; installed as .*\/bin\/multus it would not run/);
  t.notOk(existsSync(join(n.binDir, "multus")), "nothing installed");
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")), "nothing written");
});

t.test(
  "the conf settings upstream's installer offers are flags: given, each replaces the conf's value; absent, the conf keeps it",
  async (t) => {
    const n = node(t);
    const dirs = ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir];
    const flags = [
      "--namespace-isolation",
      "--global-namespaces",
      "default,kube-system, tenants",
      "--log-level",
      "DEBUG",
      "--log-file",
      "/var/log/multus.log",
      "--log-to-stderr=false",
      "--additional-bin-dir",
      "/opt/multus/bin",
      "--cni-version",
      "1.0.0",
    ];
    const r = await human([...dirs, ...flags]);
    t.equal(r.code, 0, r.stderr);
    const want = {
      cniVersion: "1.0.0",
      namespaceIsolation: true,
      globalNamespaces: "default,kube-system,tenants",
      logLevel: "debug",
      logFile: "/var/log/multus.log",
      logToStderr: false,
      binDir: "/opt/multus/bin",
    };
    t.match(readConf(n), want);
    t.same(readConf(n).delegates, [n.flannel], "the delegate keeps its own cniVersion (0.4.0)");
    const v = await human(["validate", join(n.confDir, "00-multus.conf")]);
    t.equal(v.code, 0, v.stdout);

    // A re-run without the flags keeps them all; one given again replaces just its value.
    const again = await human(dirs);
    t.match(again.stdout, /00-multus\.conf: unchanged/, again.stdout);
    t.match(readConf(n), want);
    const off = await human([...dirs, "--namespace-isolation=false", "--log-level", "error"]);
    t.equal(off.code, 0, off.stderr);
    t.match(off.stdout, /updated: namespaceIsolation, logLevel/, off.stdout);
    t.match(readConf(n), { ...want, namespaceIsolation: false, logLevel: "error" });

    // The cluster network's file by name (upstream's --multus-master-cni-file-name), remembered until told otherwise.
    writeFileSync(join(n.confDir, "20-calico.conflist"), JSON.stringify(calico));
    const chosen = await human([...dirs, "--cluster-network-conf", "20-calico.conflist"]);
    t.equal(chosen.code, 0, chosen.stderr);
    t.match(chosen.stdout, /delegates to 20-calico\.conflist/);
    t.same(readConf(n).delegates, [calico]);
    t.match((await human(dirs)).stdout, /00-multus\.conf: unchanged \(delegates to 20-calico\.conflist\)/, "kept without the flag");
    const back = await human([...dirs, "--cluster-network-conf="]);
    t.match(back.stdout, /is now "cbr0" from 10-flannel\.conflist/, back.stdout);
    t.same(readConf(n).delegates, [n.flannel]);

    for (const [bad, re] of [
      [["--log-level", "loud"], /--log-level must be one of debug, verbose, info, error, panic/],
      [["--log-file", "multus.log"], /--log-file must be an absolute path/],
      [["--additional-bin-dir", "bin"], /--additional-bin-dir must be an absolute path/],
      [["--cni-version", "2.0.0"], /--cni-version must be one of 0\.1\.0, .*1\.1\.0/],
      [["--global-namespaces", "a,,b"], /--global-namespaces must be namespace names separated by commas/],
      [["--namespace-isolation=yes"], /option --namespace-isolation takes no value, or =true or =false/],
      [["--cluster-network-conf", "../x.conf"], /--cluster-network-conf must be the name of a \.conf, \.conflist or \.json file/],
      [["--cluster-network-conf", "30-none.conf"], /the cluster network's config 30-none\.conf is not in the conf dir/],
      [["--cluster-network-conf", "00-multus.conf"], /00-multus\.conf is a multus config, never a cluster network/],
    ] as const) {
      const e = await human([...dirs, ...bad]);
      // A malformed value is a usage mistake (2); a conf dir that does not allow it, a refusal (1).
      t.equal(e.code, bad[0] === "--cluster-network-conf" && bad[1] !== "../x.conf" ? 1 : 2, bad.join(" "));
      t.match(e.stderr, re, bad.join(" "));
    }
  },
);

t.test("every install flag is in install --help and in README.md", async (t) => {
  const help = (await human(["install", "--help"])).stdout;
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  for (const flag of [
    "--namespace-isolation",
    "--global-namespaces",
    "--log-level",
    "--log-file",
    "--log-to-stderr",
    "--additional-bin-dir",
    "--cni-version",
    "--cluster-network-conf",
  ]) {
    t.match(help, flag, `--help: ${flag}`);
    t.match(readme, `\`${flag}`, `README.md: ${flag}`);
  }
});

t.test("uninstall checks everything before it removes anything: a foreign bin/multus leaves the conf in place", async (t) => {
  const n = node(t);
  t.equal((await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir])).code, 0);
  ownCache(n);
  writeFileSync(join(n.binDir, "multus"), "#!/bin/sh\necho other\n");
  const before = readFileSync(join(n.confDir, "00-multus.conf"), "utf8");
  const r = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 1);
  t.match(r.stderr, /bin\/multus is not this program; use --force to remove it/);
  t.equal(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"), before, "the conf is still there, untouched");
});

t.test(
  "a FIFO or a /dev/zero link in the conf dir never blocks or grows install (--dry-run too): skipped with a warning, refused when first",
  async (t) => {
    const n = node(t);
    execFileSync("mkfifo", [join(n.confDir, "20-fifo.conf")]);
    symlinkSync("/dev/zero", join(n.confDir, "15-zero.conflist"));
    rmSync(join(n.confDir, "10-flannel.conflist"));
    writeFileSync(join(n.confDir, "30-flannel.conflist"), JSON.stringify(flannel));
    const dirs = ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir];
    for (const args of [[...dirs, "--dry-run"], dirs]) {
      const r = await within(args, 20_000);
      t.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      t.match(r.stdout, /warning: .*15-zero\.conflist is a character device, not a regular file: skipped/);
      t.match(r.stdout, /warning: .*20-fifo\.conf is a FIFO, not a regular file: skipped/);
      t.match(r.stdout, /delegat(es|ing) to \S*30-flannel\.conflist/);
    }
    t.same(readConf(n).delegates, [flannel]);
    execFileSync("mkfifo", [join(n.confDir, "0-fifo.conf")]);
    const first = await within(dirs, 20_000);
    t.equal(first.code, 1);
    t.match(first.stderr, /0-fifo\.conf sorts before 00-multus\.conf/);
    // Our conf's own path a FIFO: refused, naming it.
    rmSync(join(n.confDir, "0-fifo.conf"));
    rmSync(join(n.confDir, "00-multus.conf"));
    execFileSync("mkfifo", [join(n.confDir, "00-multus.conf")]);
    const ours = await within(dirs, 20_000);
    t.equal(ours.code, 1);
    t.match(ours.stderr, /00-multus\.conf is a FIFO, not a regular file, so install cannot keep/);
  },
);

t.test("a --bin-dir or --conf-dir that does not exist is an error naming the flag; nothing is created", async (t) => {
  for (const [how, run] of runners) {
    const n = node(t);
    const typo = join(n.root, "opt/cni/bni");
    const r = await run(["install", "--bin-dir", typo, "--conf-dir", n.confDir]);
    t.equal(r.code, 1, `${how}: ${r.stderr}`);
    t.match(r.stderr, `${typo} does not exist: --bin-dir must name the runtime's CNI plugin dir`, how);
    t.notOk(existsSync(join(n.root, "opt")), `${how}: no dir created`);
    t.notOk(existsSync(join(n.confDir, "00-multus.conf")), `${how}: no conf written`);
    const dry = await run(["install", "--bin-dir", typo, "--conf-dir", n.confDir, "--dry-run"]);
    t.equal(dry.code, 1, `${how}: --dry-run fails the same way`);
    const conf = await run(["install", "--bin-dir", n.binDir, "--conf-dir", join(n.root, "net.d.typo")]);
    t.equal(conf.code, 1);
    t.match(conf.stderr, /net\.d\.typo does not exist: --conf-dir must name the runtime's network config dir/);
    writeFileSync(join(n.root, "file"), "");
    const notDir = await run(["install", "--bin-dir", join(n.root, "file"), "--conf-dir", n.confDir]);
    t.match(notDir.stderr, /file is not a directory: --bin-dir must name/);
  }
});

t.test("--readiness-timeout: the wait says what it waits for every 5 s, and gives up with exit 1 having written nothing", async (t) => {
  const n = node(t);
  const ready = join(n.root, "flannel-subnet.env");
  const r = await human([
    "install",
    "--bin-dir",
    n.binDir,
    "--conf-dir",
    n.confDir,
    "--readiness-indicator-file",
    ready,
    "--readiness-timeout",
    "6",
  ]);
  t.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  t.match(lines, [
    `multus install: waiting for the readiness indicator ${ready} before writing anything (giving up after 6s)`,
    /^multus install: still waiting for .*flannel-subnet\.env \(5s\)$/,
    `multus install: the readiness indicator ${ready} did not appear within 6s (--readiness-timeout): nothing was written; is the cluster network's own pod running?`,
  ]);
  t.equal(lines.length, 3, r.stderr);
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")), "no conf");
  t.notOk(existsSync(join(n.binDir, "multus")), "no binary");
  // --watch waits the same way, and ends the same way (the pod restarts and shows it).
  const w = await human([
    "install",
    "--bin-dir",
    n.binDir,
    "--conf-dir",
    n.confDir,
    "--readiness-indicator-file",
    ready,
    "--readiness-timeout",
    "0.5",
    "--watch",
  ]);
  t.equal(w.code, 1, w.stderr);
  t.match(w.stderr, /waiting for the readiness indicator .* \(giving up after 0\.5s\)/);
  t.match(w.stderr, /did not appear within 0\.5s \(--readiness-timeout\): nothing was written/);
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")), "no conf");
});
